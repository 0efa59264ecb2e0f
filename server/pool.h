/* A small pool of worker threads for the work that would block the event loop
 * (getaddrinfo, crypt(3) of a slow hash). Jobs go to the workers through a queue;
 * finished jobs come back to the loop through an eventfd and run their done() there. */
#ifndef SOCKSIFYD_POOL_H
#define SOCKSIFYD_POOL_H

#include <stdbool.h>

#include "ev.h"

struct pool_job;
typedef void (*pool_fn)(struct pool_job *job);

struct pool_job {
	struct pool_job *next;
	pool_fn work;  /* runs on a worker thread: must touch only the job */
	pool_fn done;  /* runs on the loop thread; owns and frees the job */
	void *owner;   /* NULL once the owner went away (done() then just frees) */
};

/* threads: how many workers at most (started lazily, on the first job). */
bool pool_init(struct ev_loop *loop, unsigned threads);
/* Queues a job; false (and nothing queued) if a worker cannot be started. */
bool pool_submit(struct pool_job *job);
void pool_shutdown(void);

#endif

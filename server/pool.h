/* A small pool of worker threads for the work that would block the event loop
 * (getaddrinfo, crypt(3) of a slow hash), in two lanes with their own threads and
 * bounded queues, so a flood of logins never delays a name lookup. Finished jobs
 * come back to the loop through an eventfd and run their done() there. */
#ifndef SOCKSIFYD_POOL_H
#define SOCKSIFYD_POOL_H

#include <stdbool.h>

#include "ev.h"

enum pool_lane {
	POOL_RESOLVE, /* getaddrinfo: waits on the network, cheap in CPU */
	POOL_AUTH,    /* crypt(3): CPU only, a thread per spare core at most */
	POOL_LANES,
};

struct pool_job;
typedef void (*pool_fn)(struct pool_job *job);

struct pool_job {
	struct pool_job *prev, *next; /* the pool's lists */
	pool_fn work;  /* runs on a worker thread: must touch only the job */
	pool_fn done;  /* runs on the loop thread; owns and frees the job */
	void *owner;   /* NULL once the owner went away (done() then just frees) */
	int state;     /* the pool's: queued, running, done; under its lock */
	enum pool_lane lane;
};

/* threads: workers of the resolver lane at most; the auth lane gets as many, but
 * no more than the CPUs less one. Workers start lazily, on the first job. */
bool pool_init(struct ev_loop *loop, unsigned threads);
/* Queues a job on a lane. False (nothing queued, nothing called) when that lane's
 * queue is full (counted) or no worker can be started. */
bool pool_submit(struct pool_job *job, enum pool_lane lane);
/* On the loop, for an owner that no longer wants the result: a job still queued is
 * taken out unrun (counted as dropped) and its done() called now; one running or
 * finished has its owner cleared and is freed by done() when it comes back. */
void pool_cancel(struct pool_job *job);
/* How many jobs a lane's queue holds, for callers that share it out. */
unsigned pool_queue_max(enum pool_lane lane);
/* Counts a job the caller refused for a lane (a client over its share) with the
 * lane's queue-full refusals. */
void pool_count_refused(enum pool_lane lane);
/* One log line per lane (threads, queue, refusals, drops), for SIGUSR1. */
void pool_log_counters(void);
void pool_shutdown(void);

#endif

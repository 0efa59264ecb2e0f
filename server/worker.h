/* Workers: N event loops, one per thread (worker 0 is the main thread, which also
 * owns the signals, the metrics and the resolver pool). Each worker has its own
 * sessions, its own listening sockets (SO_REUSEPORT, so the kernel spreads new
 * connections) or a share of inherited ones (EPOLLEXCLUSIVE: one idle worker is
 * woken per connection), and a mailbox (an eventfd) through which the others reach
 * it: a new users table or ACL after SIGHUP, the results of resolver/crypt jobs it
 * submitted, "print your counters", "stop". Nothing on the data path is shared. */
#ifndef SOCKSIFYD_WORKER_H
#define SOCKSIFYD_WORKER_H

#include <stdbool.h>

#include "pool.h"
#include "server.h"
#include "session.h"

#define WORKERS_MAX 256
#define MAX_LISTENERS 16

enum listener_kind { LISTEN_SOCKS, LISTEN_PROXY };

struct listener {
	union sa46 addr;
	bool loopback;
	bool proxy;  /* a PROXY protocol header comes first */
	bool shared; /* one inherited socket that every worker waits on */
	int *fds;    /* per worker (all equal when shared) */
};

extern struct listener listeners[MAX_LISTENERS];
extern unsigned nlisteners;

/* Sets up n workers from the calling thread's srv (options, users, ACL), which
 * becomes worker 0's. */
bool workers_init(unsigned n);
/* A listener on addr: one SO_REUSEPORT socket per worker, or, with fd >= 0, that
 * inherited socket shared by all. Writes the readiness line. */
bool workers_listen(union sa46 *addr, bool proxy, int fd);
/* A listening TCP socket on *addr, which becomes the address bound (port 0: the
 * one chosen); reuseport lets the other workers bind it too. -1 and errno. */
int listen_socket(union sa46 *addr, bool reuseport);
/* The readiness line tests and scripts wait for, whatever the log level:
 * "socksifyd[PID]: WHAT on ADDR:PORT" (what: "listening", "metrics"). */
void say_listening(const char *what, const union sa46 *a);
/* Starts the threads of workers 1..n-1 (they inherit the blocked signal mask). */
bool workers_start(void);
/* From worker 0: every worker stops accepting, closes its sessions, ends its loop. */
void workers_stop(const char *why);
/* From worker 0: every worker stops accepting and ends once its sessions are done. */
void workers_drain(void);
/* Waits for the other workers' threads to end. */
void workers_join(void);
/* After the pool stopped: frees what the workers held (or, without workers, the
 * users and ACL loaded at start). */
void workers_free(void);

/* A new users table (replace_users) and/or ACL for every worker; takes ownership. */
void workers_publish(bool replace_users, struct users *u, struct acl *acl);
/* SIGUSR1: each worker counts its sessions; the last one logs the total. */
void workers_print_counters(void);
/* The counters of every worker added up (read while they run: a moment stale). */
void workers_sum_stats(struct srv_stats *out);
unsigned workers_alive(void);
/* Per worker, for the metrics. */
unsigned workers_count(void);
void worker_stats(unsigned i, uint64_t *sessions, uint64_t *reloads, bool *alive);

/* pool_submit for a session of the calling worker: done() runs on that worker (and
 * pool_cancel works from it). */
bool worker_submit(struct pool_job *job, enum pool_lane lane);

/* The listening sockets, for handing them to a new binary (upgrade). */
unsigned workers_listen_fds(int *fds, const char **names, unsigned cap);

#endif

/* Prometheus metrics over HTTP (--metrics ADDR:PORT), served by the event loop
 * without blocking it, and the hooks that feed the counters only it reads. */
#ifndef SOCKSIFYD_METRICS_H
#define SOCKSIFYD_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "server.h"

/* Starts serving GET /metrics on a listening socket (non-blocking, owned from now). */
bool metrics_start(int fd);
void metrics_stop(void);
/* The listening socket, -1 without --metrics (handed over on upgrade). */
int metrics_fd(void);

/* stats.c: the hooks, kept apart so the session fuzzer links them alone. */
extern const unsigned hist_le_ms[SRV_HIST_BUCKETS];
void metrics_observe(struct srv_hist *h, uint64_t ms);
struct session;
/* Its request parsed: the handshake time, and the command it now counts under. */
void metrics_session_dispatched(const struct session *s);
/* A session ended: counted by command and result, and its reply code. */
void metrics_session_ended(const struct session *s);

#endif

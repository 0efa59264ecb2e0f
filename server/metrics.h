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

void metrics_observe(struct srv_hist *h, uint64_t ms);
/* A session ended: counted by command and result, and its reply code. */
void metrics_session_ended(uint8_t cmd, uint8_t ver, bool replied, uint8_t rep);

#endif

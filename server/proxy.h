/* PROXY protocol listeners: the header from a trusted balancer names the client
 * that the session (ACLs, per-client limits, logs, UDP pinning) then serves. */
#ifndef SOCKSIFYD_PROXY_H
#define SOCKSIFYD_PROXY_H

#include <stdbool.h>

#include "session.h"

/* A connection accepted on a --proxy-listen listener; peer is the balancer. */
void proxy_accept(int fd, const union sa46 *peer, bool strict);
/* Whether peer is one of the --proxy-protocol CIDRs. */
bool proxy_trusted(const union sa46 *peer);
/* Closes the connections still waiting for their header. */
void proxy_close_all(void);

#endif

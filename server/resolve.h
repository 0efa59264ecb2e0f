/* Name resolution off the event loop: getaddrinfo on a pool worker, the result
 * posted back to the loop. Names under .invalid fail at once (RFC 6761 6.4). */
#ifndef SOCKSIFYD_RESOLVE_H
#define SOCKSIFYD_RESOLVE_H

#include <stdint.h>

#include "pool.h"
#include "session.h"

#define RESOLVE_MAX_ADDRS 16

struct resolve_job {
	struct pool_job job;
	void (*cb)(struct resolve_job *rj); /* on the loop; job.owner says for whom */
	char name[SOCKS_NAME_MAX + 1];
	uint16_t port;
	int family;  /* AF_UNSPEC, or one family (UDP to a known socket) */
	int socktype;
	int eai;     /* getaddrinfo result */
	unsigned n;
	union sa46 addrs[RESOLVE_MAX_ADDRS];
	void *data;  /* caller's payload (a queued datagram), freed with the job */
	uint32_t datalen;
};

/* Starts a lookup on the resolver lane of the pool (never behind a crypt(3)); cb
 * runs on the loop later unless this returns false (the lane's queue is full, or
 * no worker could start). The caller keeps rj->job.owner pointing at itself, and
 * cancels with pool_cancel(&rj->job). cb must free the job with resolve_free(). */
bool resolve_submit(struct resolve_job *rj);
void resolve_free(struct resolve_job *rj);
/* "1.2.3.4" or "::1" in a name field (curl#8216 sends literals as names). */
bool resolve_literal(const char *name, uint16_t port, union sa46 *out);
/* Orders addresses for Happy Eyeballs (RFC 8305 4): IPv6 first, then families
 * interleaved. */
void resolve_interleave(union sa46 *addrs, unsigned n);

#endif

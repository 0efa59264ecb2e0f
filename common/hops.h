/* The hop list built from the configuration, in one place: the library's chain (TCP),
 * its UDP associations and `socksify --check` all ask a proxy for the next one the
 * same way. A hop is named as the hop before it can take it: a literal as itself, a
 * name as the name (the hop before resolves it, where it may only mean something),
 * except after a socks4 hop, which carries no names (then an IPv4 address resolved
 * here). The first hop is reached directly, at an address resolved here. Resolution
 * is the caller's (the library must use libc's own getaddrinfo, past its hooks). */
#ifndef SOCKSIFY_HOPS_H
#define SOCKSIFY_HOPS_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "dial.h"

#define HOPS_ADDRS_MAX 8

/* Resolves proxy i (c->proxies[i]) to up to cap addresses with its port set.
 * Returns how many, or 0 with *gai an EAI_* code. */
struct hops_resolver {
	size_t (*resolve)(void *ctx, size_t i, struct socks_addr *out, size_t cap, int *gai);
	void *ctx;
};

/* The first hop, proxy i, for a socket of `family` (AF_UNSPEC: the first address
 * whatever its family; an IPv4 proxy is reached from AF_INET6 as ::ffff:a.b.c.d
 * unless v6only). Returns 0, or EHOSTUNREACH (does not resolve) / ENETUNREACH (no
 * address for that socket) with msg naming the hop. */
int hops_first(const struct socksify_conf *c, size_t i, int family, bool v6only,
	       const struct hops_resolver *r, struct dial_hop *h, char *msg, size_t msglen);

/* Hop number k (k >= 1) of a chain, proxy i, after proxy prev. Returns 0, or
 * EHOSTUNREACH when a socks4 hop before it needs an IPv4 address it has not. */
int hops_next(const struct socksify_conf *c, size_t prev, size_t i, size_t k,
	      const struct hops_resolver *r, struct dial_hop *h, char *msg, size_t msglen);

/* The whole list for proxies path[0..n-1] in order. Returns 0, or the errno of the
 * first hop that cannot be built (*bad: its position) with msg set. */
int hops_build(const struct socksify_conf *c, const size_t *path, size_t n, int family,
	       bool v6only, const struct hops_resolver *r, struct dial_hop *hops, size_t *bad,
	       char *msg, size_t msglen);

#endif

/* The hop list from the configuration (see hops.h). */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "hops.h"
#include "util.h"

int hops_first(const struct socksify_conf *c, size_t i, int family, bool v6only,
	       const struct hops_resolver *r, struct dial_hop *h, char *msg, size_t msglen)
{
	const struct proxy *p = &c->proxies[i];
	struct socks_addr addrs[HOPS_ADDRS_MAX];
	int gai = 0;
	size_t n;

	memset(h, 0, sizeof(*h));
	h->proxy = p;
	if (addr_parse_ip(p->host, &addrs[0])) {
		addrs[0].port = p->port;
		n = 1;
	} else {
		n = r->resolve(r->ctx, i, addrs, HOPS_ADDRS_MAX, &gai);
	}
	if (n == 0) {
		snprintf(msg, msglen, "hop 1 (%s %s:%u): %s", proxy_type_name(p->type), p->host,
			 (unsigned)p->port, gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return EHOSTUNREACH;
	}
	for (size_t k = 0; k < n; k++) {
		const struct socks_addr *a = &addrs[k];
		int fam = family != AF_UNSPEC ? family
			  : a->atyp == SOCKS5_ATYP_IPV6 ? AF_INET6 : AF_INET;
		if (fam == AF_INET6 && a->atyp == SOCKS5_ATYP_IPV4 && v6only)
			continue;
		h->salen = addr_to_sockaddr_family(a, fam, &h->sa);
		if (h->salen == 0)
			continue;
		h->addr = *a;
		return 0;
	}
	snprintf(msg, msglen, "hop 1 (%s %s:%u): no address in the socket's family",
		 proxy_type_name(p->type), p->host, (unsigned)p->port);
	return ENETUNREACH;
}

int hops_next(const struct socksify_conf *c, size_t prev, size_t i, size_t k,
	      const struct hops_resolver *r, struct dial_hop *h, char *msg, size_t msglen)
{
	const struct proxy *p = &c->proxies[i];
	struct socks_addr addrs[HOPS_ADDRS_MAX];
	int gai = 0;

	memset(h, 0, sizeof(*h));
	h->proxy = p;
	if (addr_parse_ip(p->host, &h->addr)) {
		h->addr.port = p->port;
		return 0;
	}
	if (c->proxies[prev].type != PROXY_SOCKS4) {
		/* The hop before resolves it: the name may only mean something there. */
		h->addr.atyp = SOCKS5_ATYP_DOMAINNAME;
		str_copy(h->addr.u.name, p->host, sizeof(h->addr.u.name));
		h->addr.port = p->port;
		return 0;
	}
	/* SOCKS4 carries no names: resolve this hop here. */
	size_t n = r->resolve(r->ctx, i, addrs, HOPS_ADDRS_MAX, &gai);
	for (size_t v = 0; v < n; v++) {
		if (addrs[v].atyp == SOCKS5_ATYP_IPV4) {
			h->addr = addrs[v];
			h->addr.port = p->port;
			return 0;
		}
	}
	snprintf(msg, msglen, "hop %zu (%s): no IPv4 address for a socks4 hop", k + 1, p->host);
	return EHOSTUNREACH;
}

int hops_build(const struct socksify_conf *c, const size_t *path, size_t n, int family,
	       bool v6only, const struct hops_resolver *r, struct dial_hop *hops, size_t *bad,
	       char *msg, size_t msglen)
{
	for (size_t k = 0; k < n; k++) {
		int err = k == 0 ? hops_first(c, path[0], family, v6only, r, &hops[0], msg, msglen)
				 : hops_next(c, path[k - 1], path[k], k, r, &hops[k], msg, msglen);
		if (err != 0) {
			*bad = k;
			return err;
		}
	}
	return 0;
}

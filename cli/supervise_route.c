/* The routing decision and the chain for a supervised program's socket, with the
 * library's rules in the library's order: a query to a system name server is ours to
 * answer; loopback and the unspecified address stay local; a fake address stands for
 * its name (and with no name, the host does not exist); block, then direct rules,
 * checked against the address and the name; the proxy's own address passes; the rest
 * goes through the chain, the last hop getting the name.
 * When common/route.h lands (the one decision the library uses too), sv_route becomes
 * a call to it; this file keeps only what is the supervisor's own (the name servers,
 * the jail's relay ports). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dial.h"
#include "supervise.h"
#include "util.h"

static bool same_addr(const struct socks_addr *a, const struct socks_addr *b, bool port)
{
	if (a->atyp != b->atyp || (port && a->port != b->port))
		return false;
	if (a->atyp == SOCKS5_ATYP_IPV4)
		return memcmp(a->u.v4, b->u.v4, 4) == 0;
	if (a->atyp == SOCKS5_ATYP_IPV6)
		return memcmp(a->u.v6, b->u.v6, 16) == 0;
	return false;
}

static bool is_unspecified(const struct socks_addr *a)
{
	static const uint8_t zero[16];
	if (a->atyp == SOCKS5_ATYP_IPV4)
		return memcmp(a->u.v4, zero, 4) == 0;
	return a->atyp == SOCKS5_ATYP_IPV6 && memcmp(a->u.v6, zero, 16) == 0;
}

static bool is_name_server(const struct sv *s, const struct socks_addr *dst)
{
	if (dst->port != 53)
		return false;
	for (int i = 0; i < s->nns; i++)
		if (same_addr(&s->ns[i], dst, false))
			return true;
	return false;
}

/* port false: any port of the proxy's host (its UDP relay, which the library in a
 * --supervise'd dynamic program sends to itself). */
static bool is_proxy(const struct sv *s, const struct socks_addr *dst, bool port)
{
	struct socks_addr a;
	for (size_t i = 0; i < s->conf->nproxies; i++)
		if (s->px[i].salen &&
		    addr_from_sockaddr(&a, (const struct sockaddr *)&s->px[i].sa, s->px[i].salen) &&
		    same_addr(&a, dst, port))
			return true;
	return false;
}

/* The name behind a fake address: 1 named, 0 not fake, -1 fake with no name. */
static int fake_name(const struct sv *s, const struct socks_addr *dst, struct socks_addr *name)
{
	struct sockaddr_storage ss;
	uint32_t idx;
	socklen_t len;

	struct nametable *nt;

	if (!s->nt_on || (len = addr_to_sockaddr(dst, &ss)) == 0 ||
	    !nt_params_is_fake(&s->ntp, (struct sockaddr *)&ss, len, &idx))
		return 0;
	memset(name, 0, sizeof(*name));
	/* Not there yet: nobody resolved a name, so this address stands for none. */
	if ((nt = sv_nt(s, false)) == NULL ||
	    nt_name(nt, idx, name->u.name, sizeof(name->u.name)) <= 0)
		return -1;
	name->atyp = SOCKS5_ATYP_DOMAINNAME;
	name->port = dst->port;
	return 1;
}

enum sv_verdict sv_route(const struct sv *s, bool stream, struct socks_addr *dst, int *err)
{
	const struct socksify_conf *c = s->conf;
	struct socks_addr name;

	if (c->dns == DNS_REMOTE && is_name_server(s, dst))
		return SV_DNS;
	if (addr_is_loopback(dst) || is_unspecified(dst))
		return SV_PASS;
	int named = fake_name(s, dst, &name);
	if (named < 0) {
		*err = EHOSTUNREACH;
		return SV_REFUSE;
	}
	if (rules_match(c->block, c->nblock, dst) ||
	    (named && rules_match(c->block, c->nblock, &name))) {
		*err = EACCES;
		return SV_REFUSE;
	}
	if (rules_match(c->direct, c->ndirect, dst) ||
	    (named && rules_match(c->direct, c->ndirect, &name))) {
		if (named)
			*dst = name; /* the caller resolves it for real */
		return SV_PASS;
	}
	if (is_proxy(s, dst, stream))
		return SV_PASS;
	if (!stream) {
		if (c->udp == UDP_DIRECT && !named)
			return SV_PASS;
		/* UDP ASSOCIATE through one SOCKS5 proxy (supervise_udp.c); anything else is refused, never sent direct, with
		 * the library's errno for a proxy that cannot relay. */
		if (c->udp == UDP_BLOCK || c->nproxies != 1 ||
		    c->proxies[0].type != PROXY_SOCKS5) {
			*err = c->udp == UDP_BLOCK ? EPERM : ENETUNREACH;
			return SV_REFUSE;
		}
	}
	if (named)
		*dst = name;
	return SV_PROXY;
}

/* ---- the chain ---- */

/* hop 0's sockaddr in the socket's family: the proxy itself, or for a socket inside
 * the jail (jailed) the relay port on the jail's loopback. */
static bool hop0_sockaddr(const struct sv *s, size_t i, int fd, int family, bool jailed,
			  struct dial_hop *h)
{
	const struct sv_proxy_addr *p = &s->px[i];
	int v6only = 0;
	socklen_t ol = sizeof(v6only);

	memset(&h->sa, 0, sizeof(h->sa));
	if (family == AF_INET6)
		getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol);
	if (jailed) {
		if (!p->relay_port)
			return false;
		if (family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&h->sa;
			in->sin_family = AF_INET;
			in->sin_port = htons(p->relay_port);
			in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			h->salen = sizeof(*in);
		} else {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&h->sa;
			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons(p->relay_port);
			in6->sin6_addr = in6addr_loopback;
			h->salen = sizeof(*in6);
		}
		return true;
	}
	if (!p->salen)
		return false;
	if (p->sa.ss_family == family) {
		memcpy(&h->sa, &p->sa, p->salen);
		h->salen = p->salen;
		return true;
	}
	if (family == AF_INET6 && p->sa.ss_family == AF_INET && !v6only) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&p->sa;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&h->sa;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = in->sin_port;
		in6->sin6_addr.s6_addr[10] = 0xff;
		in6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&in6->sin6_addr.s6_addr[12], &in->sin_addr, 4);
		h->salen = sizeof(*in6);
		return true;
	}
	return false;
}

bool sv_jail_proxy(const struct sv *s, const struct socks_addr *dst, int fd, int family,
		   struct sockaddr_storage *ss, socklen_t *len)
{
	struct socks_addr a;
	struct dial_hop h;

	if (!s->jail)
		return false;
	for (size_t i = 0; i < s->conf->nproxies; i++) {
		if (s->px[i].salen &&
		    addr_from_sockaddr(&a, (const struct sockaddr *)&s->px[i].sa, s->px[i].salen) &&
		    same_addr(&a, dst, true) && hop0_sockaddr(s, i, fd, family, true, &h)) {
			memcpy(ss, &h.sa, h.salen);
			*len = h.salen;
			return true;
		}
	}
	return false;
}

/* hops for proxies first..n-1 of the configuration. */
static bool build_hops(const struct sv *s, size_t first, int fd, int family, bool jailed,
		       struct dial_hop *hops, size_t *nhops)
{
	const struct socksify_conf *c = s->conf;
	size_t n = 0;

	memset(hops, 0, sizeof(*hops) * DIAL_MAX_HOPS);
	for (size_t i = first; i < c->nproxies; i++, n++) {
		const struct proxy *p = &c->proxies[i];
		struct dial_hop *h = &hops[n];
		h->proxy = p;
		if (n == 0 && !hop0_sockaddr(s, i, fd, family, jailed, h))
			return false;
		if (addr_parse_ip(p->host, &h->addr)) {
			h->addr.port = p->port;
		} else if (n > 0 && hops[n - 1].proxy->type == PROXY_SOCKS4 && s->px[i].salen) {
			addr_from_sockaddr(&h->addr, (struct sockaddr *)&s->px[i].sa, s->px[i].salen);
		} else {
			h->addr.atyp = SOCKS5_ATYP_DOMAINNAME;
			str_copy(h->addr.u.name, p->host, sizeof(h->addr.u.name));
			h->addr.port = p->port;
		}
	}
	*nhops = n;
	return n > 0;
}

int sv_chain_connect(const struct sv *s, int fd, int family, const struct socks_addr *dst)
{
	const struct socksify_conf *c = s->conf;
	struct dial_hop hops[DIAL_MAX_HOPS];
	struct dial d;
	size_t n;
	int err = ENETUNREACH;
	uint64_t deadline = dial_now_ms(NULL) + c->connect_timeout_ms;

	/* strict: the whole chain; dynamic: a dead first hop is skipped for the next.
	 * random and round_robin take the chain in configured order here (a
	 * supervised program's chain is the strict one until the common hop-list
	 * builder lands). */
	for (size_t first = 0; first < c->nproxies; first++) {
		if (!build_hops(s, first, fd, family, s->jail, hops, &n)) {
			err = ENETUNREACH;
			if (c->chain == CHAIN_STRICT)
				break;
			continue;
		}
		dial_init(&d, fd, hops, n, dst, SOCKS_CMD_CONNECT, NULL, 0);
		if (dial_run(&d, deadline) == 0)
			return 0;
		err = d.err ? d.err : ECONNREFUSED;
		if (c->log_level >= LOG_INFO)
			fprintf(stderr, "socksify: supervisor: %s\n", d.msg);
		/* Undo the half-made connection so the next try can reuse the socket. */
		struct sockaddr un = {.sa_family = AF_UNSPEC};
		connect(fd, &un, sizeof(un));
		if (c->chain != CHAIN_DYNAMIC || d.fail_hop != 0 || dial_now_ms(NULL) >= deadline)
			break;
	}
	return err;
}

int sv_udp_associate(const struct sv *s, int *ctrl, struct sockaddr_storage *relay,
		     socklen_t *rlen)
{
	const struct sv_proxy_addr *p = &s->px[0];
	struct socks_addr any = {.atyp = SOCKS5_ATYP_IPV4}, bound;
	struct dial_hop hops[DIAL_MAX_HOPS];
	struct dial d;
	size_t n;
	int fd;

	if (!p->salen)
		return EHOSTUNREACH;
	fd = socket(p->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	/* Our own socket, outside any jail: straight to the proxy. */
	if (!build_hops(s, 0, fd, p->sa.ss_family, false, hops, &n)) {
		close(fd);
		return ENETUNREACH;
	}
	dial_init(&d, fd, hops, n, &any, SOCKS_CMD_UDP_ASSOCIATE, NULL, 0);
	if (dial_run(&d, dial_now_ms(NULL) + s->conf->connect_timeout_ms) != 0) {
		close(fd);
		return d.err ? d.err : ECONNREFUSED;
	}
	/* An unspecified relay address means the proxy's own. */
	bound = d.bound;
	if (is_unspecified(&bound) || bound.atyp == SOCKS5_ATYP_DOMAINNAME) {
		uint16_t port = bound.port;
		addr_from_sockaddr(&bound, (const struct sockaddr *)&p->sa, p->salen);
		bound.port = port;
	}
	*rlen = addr_to_sockaddr(&bound, relay);
	if (*rlen == 0) {
		close(fd);
		return ENETUNREACH;
	}
	*ctrl = fd;
	return 0;
}

int sv_connect_name(const struct sv *s, int fd, int family, const struct socks_addr *name)
{
	struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM}, *res, *ai;
	char port[8];
	int err = EHOSTUNREACH;

	snprintf(port, sizeof(port), "%u", (unsigned)name->port);
	if (getaddrinfo(name->u.name, port, &hints, &res) != 0)
		return EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			err = 0;
			break;
		}
		err = errno;
		if (err == EINPROGRESS)
			break;
	}
	freeaddrinfo(res);
	return err;
}

void sv_read_resolv(struct sv *s)
{
	char line[512];
	FILE *f = fopen("/etc/resolv.conf", "re");

	s->nns = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && s->nns < SV_MAX_NS) {
		char *p = line + strspn(line, " \t");
		if (strncmp(p, "nameserver", 10) != 0 || (p[10] != ' ' && p[10] != '\t'))
			continue;
		p += 10;
		p += strspn(p, " \t");
		p[strcspn(p, " \t\r\n%")] = '\0';
		if (addr_parse_ip(p, &s->ns[s->nns])) {
			s->ns[s->nns].port = 53;
			s->nns++;
		}
	}
	fclose(f);
}

void sv_resolve_proxies(struct sv *s)
{
	for (size_t i = 0; i < s->conf->nproxies; i++) {
		const struct proxy *p = &s->conf->proxies[i];
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
		char port[8];

		snprintf(port, sizeof(port), "%u", (unsigned)p->port);
		s->px[i].salen = 0;
		if (getaddrinfo(p->host, port, &hints, &res) != 0)
			continue;
		memcpy(&s->px[i].sa, res->ai_addr, res->ai_addrlen);
		s->px[i].salen = res->ai_addrlen;
		freeaddrinfo(res);
	}
}

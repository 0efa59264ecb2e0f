/* A supervised program's socket, routed by the library's one decision
 * (common/route.c) through the library's hop list (common/hops.c). What is the
 * supervisor's own stays here: a query to a system name server is ours to answer; a
 * fake address's name comes from the shared name table; the proxies' addresses are
 * the ones resolved once, from outside any jail; a jailed socket reaches the first
 * proxy through the jail's relay; a datagram is relayed only by one SOCKS5 proxy. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dial.h"
#include "hops.h"
#include "route.h"
#include "supervise.h"
#include "util.h"

static bool is_name_server(const struct sv *s, const struct socks_addr *dst)
{
	if (dst->port != 53)
		return false;
	for (int i = 0; i < s->nns; i++)
		if (addr_same_ip(&s->ns[i], dst))
			return true;
	return false;
}

/* Proxy i's address as resolved at start, or false. */
static bool proxy_addr(const struct sv *s, size_t i, struct socks_addr *a)
{
	return s->px[i].salen &&
	       addr_from_sockaddr(a, (const struct sockaddr *)&s->px[i].sa, s->px[i].salen);
}

/* port false: any port of the proxy's host (its UDP relay, which the library in a
 * --supervise'd dynamic program sends to itself). */
static bool is_proxy(const struct sv *s, const struct socks_addr *dst, bool port)
{
	struct socks_addr a;
	for (size_t i = 0; i < s->conf->nproxies; i++)
		if (proxy_addr(s, i, &a) && (port ? addr_equal(&a, dst) : addr_same_ip(&a, dst)))
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

/* route_decide asks whether dst is a proxy with no way to reach our resolved
 * addresses: sv_route answers before it asks. */
static bool proxy_yes(const struct socksify_conf *c, const struct socks_addr *a)
{
	return true;
}

static bool proxy_no(const struct socksify_conf *c, const struct socks_addr *a)
{
	return false;
}

enum sv_verdict sv_route(const struct sv *s, bool stream, struct socks_addr *dst, int *err)
{
	const struct socksify_conf *c = s->conf;
	struct route_query q = {.dst = *dst, .proto = stream ? ROUTE_TCP : ROUTE_UDP};
	struct socks_addr name;
	struct route r;

	if (c->dns == DNS_REMOTE && is_name_server(s, dst))
		return SV_DNS;
	int named = fake_name(s, dst, &name);
	if (named > 0) {
		q.name = &name;
		q.name_remote = true;
	}
	q.stale_fake = named < 0;
	q.is_proxy = is_proxy(s, dst, stream) ? proxy_yes : proxy_no;
	route_decide(c, &q, &r);
	switch (r.verdict) {
	case ROUTE_PASS:
		if (r.reason == ROUTE_R_DIRECT && named > 0)
			*dst = name; /* the caller resolves it for real */
		return SV_PASS;
	case ROUTE_REFUSE:
		*err = r.err;
		return SV_REFUSE;
	case ROUTE_PROXY:
		break;
	}
	/* UDP ASSOCIATE through one SOCKS5 proxy (supervise_udp.c); anything else is
	 * refused, never sent direct, with the library's errno for a proxy that cannot
	 * relay. */
	if (!stream && (c->nproxies != 1 || c->proxies[0].type != PROXY_SOCKS5)) {
		*err = ENETUNREACH;
		return SV_REFUSE;
	}
	*dst = r.dst;
	return SV_PROXY;
}

/* ---- the chain ---- */

/* --jail: proxy i's relay port on the jail's loopback, as a sockaddr of family;
 * 0 when it has none. */
static socklen_t relay_sockaddr(const struct sv *s, size_t i, int family,
				struct sockaddr_storage *ss)
{
	struct socks_addr lo = {.port = s->px[i].relay_port};

	if (!lo.port)
		return 0;
	if (family == AF_INET) {
		lo.atyp = SOCKS5_ATYP_IPV4;
		lo.u.v4[0] = 127;
		lo.u.v4[3] = 1;
	} else {
		lo.atyp = SOCKS5_ATYP_IPV6;
		lo.u.v6[15] = 1;
	}
	return addr_to_sockaddr(&lo, ss);
}

bool sv_jail_proxy(const struct sv *s, const struct socks_addr *dst, int fd, int family,
		   struct sockaddr_storage *ss, socklen_t *len)
{
	struct socks_addr a;

	if (!s->jail)
		return false;
	for (size_t i = 0; i < s->conf->nproxies; i++)
		if (proxy_addr(s, i, &a) && addr_equal(&a, dst) &&
		    (*len = relay_sockaddr(s, i, family, ss)) != 0)
			return true;
	return false;
}

/* The hop list's resolver: the address resolved at start (sv_resolve_proxies). */
static size_t resolved_proxy(void *ctx, size_t i, struct socks_addr *out, size_t cap, int *gai)
{
	if (!proxy_addr(ctx, i, out)) {
		*gai = EAI_NONAME;
		return 0;
	}
	return 1;
}

/* The hops for proxies first..n-1 of the configuration, on fd of family; jailed:
 * hop 0 is its relay on the jail's loopback, whatever the proxy's family. 0 or an
 * errno, with msg. */
static int build_hops(const struct sv *s, size_t first, int fd, int family, bool jailed,
		      struct dial_hop *hops, size_t *nhops, char *msg, size_t msglen)
{
	const struct socksify_conf *c = s->conf;
	struct hops_resolver r = {.resolve = resolved_proxy, .ctx = (void *)s};
	size_t path[DIAL_MAX_HOPS], n = 0, bad;
	int v6only = 0;
	socklen_t ol = sizeof(v6only);
	int err;

	for (size_t i = first; i < c->nproxies; i++)
		path[n++] = i;
	if (family == AF_INET6 && !jailed)
		getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol);
	err = hops_build(c, path, n, jailed ? AF_UNSPEC : family, v6only != 0, &r, hops, &bad,
			 msg, msglen);
	if (err == 0 && jailed &&
	    (hops[0].salen = relay_sockaddr(s, first, family, &hops[0].sa)) == 0) {
		snprintf(msg, msglen, "hop 1 (%s): no relay out of the jail", c->proxies[first].host);
		err = ENETUNREACH;
	}
	*nhops = n;
	return n == 0 ? ENETUNREACH : err;
}

int sv_chain_connect(const struct sv *s, int fd, int family, const struct socks_addr *dst)
{
	const struct socksify_conf *c = s->conf;
	struct dial_hop hops[DIAL_MAX_HOPS];
	struct dial d;
	char msg[256];
	size_t n;
	int err = ENETUNREACH;
	uint64_t deadline = dial_now_ms(NULL) + c->connect_timeout_ms;

	/* strict: the whole chain; dynamic: a dead first hop is skipped for the next.
	 * random and round_robin take the chain in configured order here. */
	for (size_t first = 0; first < c->nproxies; first++) {
		if (build_hops(s, first, fd, family, s->jail, hops, &n, msg, sizeof(msg)) != 0) {
			if (c->log_level >= LOG_INFO)
				fprintf(stderr, "socksify: supervisor: %s\n", msg);
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
	char msg[256];
	size_t n;
	int fd;

	if (!p->salen)
		return EHOSTUNREACH;
	fd = socket(p->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	/* Our own socket, outside any jail: straight to the proxy. */
	if (build_hops(s, 0, fd, p->sa.ss_family, false, hops, &n, msg, sizeof(msg)) != 0) {
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
	if (addr_is_unspecified(&bound) || bound.atyp == SOCKS5_ATYP_DOMAINNAME) {
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

/* The one routing decision (see route.h). Every rule is matched against the
 * destination's address and, when the caller knows one, the name it stands for: a
 * fake address's name, or the name the program resolved on this host, so a host or
 * *.suffix rule holds however the program resolved it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "route.h"
#include "util.h"

static const struct rule *route_rule(const struct rule *rules, size_t n,
				     const struct route_query *q)
{
	const struct rule *r = rules_first(rules, n, &q->dst);

	if (r == NULL && q->name != NULL)
		r = rules_first(rules, n, q->name);
	return r;
}

static void route_set(struct route *out, enum route_verdict v, enum route_reason why, int err)
{
	out->verdict = v;
	out->reason = why;
	out->err = err;
}

void route_decide(const struct socksify_conf *c, const struct route_query *q, struct route *out)
{
	bool udp = q->proto == ROUTE_UDP;
	const struct rule *r;

	memset(out, 0, sizeof(*out));
	out->dst = q->dst;
	if (addr_is_loopback(&q->dst) || addr_is_unspecified(&q->dst)) {
		route_set(out, ROUTE_PASS, ROUTE_R_LOCAL, 0);
		return;
	}
	if (c == NULL) {
		/* A connection that would be proxied must fail, not leak direct. */
		route_set(out, ROUTE_REFUSE, ROUTE_R_BAD_CONF, udp ? ENETUNREACH : ECONNREFUSED);
		return;
	}
	if (udp && c->udp == UDP_DIRECT) {
		route_set(out, ROUTE_PASS, ROUTE_R_UDP_DIRECT, 0);
		return;
	}
	if (q->stale_fake) {
		/* It would only reach the proxy as a bogus IP: as if the host did not
		 * exist. */
		route_set(out, ROUTE_REFUSE, ROUTE_R_STALE_FAKE, EHOSTUNREACH);
		return;
	}
	if ((r = route_rule(c->block, c->nblock, q)) != NULL) {
		route_set(out, ROUTE_REFUSE, ROUTE_R_BLOCK, EACCES);
		out->rule = r;
		return;
	}
	if ((r = route_rule(c->direct, c->ndirect, q)) != NULL) {
		route_set(out, ROUTE_PASS, ROUTE_R_DIRECT, 0);
		out->rule = r;
		return;
	}
	if ((q->is_proxy != NULL ? q->is_proxy : route_is_proxy_literal)(c, &q->dst)) {
		route_set(out, ROUTE_PASS, ROUTE_R_IS_PROXY, 0);
		return;
	}
	if (udp && c->udp == UDP_BLOCK) {
		route_set(out, ROUTE_REFUSE, ROUTE_R_UDP_BLOCK, EPERM);
		return;
	}
	route_set(out, ROUTE_PROXY, ROUTE_R_CHAIN, 0);
	if (q->name != NULL && q->name_remote)
		out->dst = *q->name;
	out->remote_dns = out->dst.atyp == SOCKS5_ATYP_DOMAINNAME;
}

bool route_is_proxy_literal(const struct socksify_conf *c, const struct socks_addr *a)
{
	struct socks_addr lit;

	for (size_t i = 0; i < c->nproxies; i++) {
		if (!addr_parse_ip(c->proxies[i].host, &lit))
			continue;
		lit.port = c->proxies[i].port;
		if (addr_equal(&lit, a))
			return true;
	}
	return false;
}

const char *route_reason_str(enum route_reason r)
{
	switch (r) {
	case ROUTE_R_LOCAL:
		return "this host (loopback or unspecified)";
	case ROUTE_R_BAD_CONF:
		return "the socksify configuration is invalid";
	case ROUTE_R_UDP_DIRECT:
		return "udp = direct";
	case ROUTE_R_STALE_FAKE:
		return "a fake DNS address with no name";
	case ROUTE_R_BLOCK:
		return "a block rule matches";
	case ROUTE_R_DIRECT:
		return "a direct rule matches";
	case ROUTE_R_IS_PROXY:
		return "one of the proxies itself";
	case ROUTE_R_UDP_BLOCK:
		return "udp = block";
	case ROUTE_R_CHAIN:
		return "through the chain";
	}
	return "?";
}

/* The errnos a refusal can carry, by name. */
static const char *route_errno_name(int err)
{
	switch (err) {
	case EACCES:
		return "EACCES";
	case EPERM:
		return "EPERM";
	case EHOSTUNREACH:
		return "EHOSTUNREACH";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case ENETUNREACH:
		return "ENETUNREACH";
	}
	return "an error";
}

const char *route_describe(const struct socksify_conf *c, const struct route *r, char *buf,
			   size_t cap)
{
	char rule[SOCKS_NAME_MAX + 64] = "", d[ADDR_STR_MAX];

	if (r->rule != NULL)
		rule_str(r->rule, rule, sizeof(rule));
	switch (r->verdict) {
	case ROUTE_PASS:
		if (r->reason == ROUTE_R_DIRECT)
			snprintf(buf, cap, "direct: rule %s", rule);
		else
			snprintf(buf, cap, "direct: %s", route_reason_str(r->reason));
		break;
	case ROUTE_REFUSE:
		if (r->reason == ROUTE_R_BLOCK)
			snprintf(buf, cap, "blocked: rule %s (%s)", rule, route_errno_name(r->err));
		else
			snprintf(buf, cap, "refused: %s (%s)", route_reason_str(r->reason),
				 route_errno_name(r->err));
		break;
	case ROUTE_PROXY:
		snprintf(buf, cap, "proxy: %s chain, the last hop asked for %s, %s",
			 c != NULL ? conf_chain_name(c->chain) : "?", addr_str(&r->dst, d, sizeof(d)),
			 r->remote_dns ? "the name resolved by the last hop (remote DNS)"
				       : "no name sent (resolved on this host)");
		break;
	}
	return buf;
}

/* The shim's side of the one routing decision (common/route.c): it gathers what the
 * pure function needs about a destination: the name behind a fake address
 * (resolver.c), the name the program resolved on this host (localnames.c), the
 * addresses proxies' names resolved to (chain.c). */
#include "addr.h"
#include "fakedns.h"
#include "route.h"
#include "shim.h"

static bool policy_is_proxy(const struct socksify_conf *c, const struct socks_addr *a)
{
	return chain_is_proxy_addr(c, a);
}

void shim_route(const struct socks_addr *dst, enum route_proto proto, struct route *out)
{
	struct socks_addr name;
	struct route_query q = { .dst = *dst, .proto = proto, .is_proxy = policy_is_proxy };

	/* This host needs no configuration, nor a look at the name tables. */
	if (addr_is_loopback(dst) || addr_is_unspecified(dst)) {
		route_decide(NULL, &q, out);
		return;
	}
	if (fakedns_name(dst, &name)) {
		q.name = &name;
		q.name_remote = true;
	} else if (fakedns_is_fake(dst)) {
		q.stale_fake = true;
	} else if (localnames_find(dst, &name)) {
		q.name = &name;
	}
	route_decide(shim_conf(), &q, out);
}

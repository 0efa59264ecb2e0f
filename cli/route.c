/* socksify --route HOST:PORT: what the library would do with a connection to HOST:PORT
 * under this configuration, from the same function the library decides with
 * (common/route.c): direct and by which rule, blocked and by which rule, or through
 * which hops, with the name resolved by the last hop (remote DNS) or here. */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "cli.h"
#include "route.h"
#include "util.h"

/* Under dns=local the program resolves the name here first: the first address, with
 * the name kept so name rules still apply (as the library does, localnames.c). */
static bool route_resolve(const char *name, uint16_t port, struct socks_addr *out)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	bool ok;

	if (getaddrinfo(name, NULL, &hints, &res) != 0 || res == NULL)
		return false;
	ok = addr_from_sockaddr(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	out->port = port;
	return ok;
}

static void route_print_hops(const struct socksify_conf *c)
{
	size_t n = c->nproxies, want = c->chain_len ? c->chain_len : 1;
	char url[URL_MAX];

	if (c->chain == CHAIN_RANDOM || c->chain == CHAIN_ROUND_ROBIN)
		printf("  %zu of these %zu proxies per connection (%s chain):\n", want < n ? want : n,
		       n, conf_chain_name(c->chain));
	else if (c->chain == CHAIN_DYNAMIC)
		printf("  these hops in order, a dead one skipped (dynamic chain):\n");
	for (size_t i = 0; i < n; i++)
		printf("  hop %zu: %s\n", i + 1, proxy_url_str(&c->proxies[i], url, sizeof(url)));
}

int route_run(const struct socksify_conf *c, const char *dest)
{
	struct socks_addr dst, name;
	struct route_query q = {.proto = ROUTE_TCP};
	struct route r;
	char err[CLI_ERR_MAX], line[SOCKS_NAME_MAX * 2 + 128], a[ADDR_STR_MAX];

	if (!addr_parse_hostport(dest, &dst, err, sizeof(err))) {
		cli_err("--route=%s: %s (expected HOST:PORT)", dest, err);
		return CLI_EXIT_FAIL;
	}
	q.dst = dst;
	if (dst.atyp == SOCKS5_ATYP_DOMAINNAME && c->dns == DNS_LOCAL && !addr_is_loopback(&dst)) {
		name = dst;
		if (!route_resolve(dst.u.name, dst.port, &q.dst)) {
			cli_err("--route: %s does not resolve here (dns = local)", dst.u.name);
			return 1;
		}
		q.name = &name;
	}
	route_decide(c, &q, &r);
	printf("%s: %s\n", addr_str(&dst, a, sizeof(a)), route_describe(c, &r, line, sizeof(line)));
	if (r.verdict == ROUTE_PROXY)
		route_print_hops(c);
	return fflush(stdout) == 0 ? 0 : CLI_EXIT_FAIL;
}

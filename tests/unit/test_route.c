/* Unit tests of the one routing decision (common/route.c): its order (this host ->
 * configuration -> udp = direct -> stale fake -> block -> direct -> a proxy itself ->
 * udp = block -> proxy), rules matched by address and by the name behind it, and what
 * the last hop is asked for. Also the hop list (common/hops.c). */
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "addr.h"
#include "conf.h"
#include "hops.h"
#include "route.h"
#include "tap.h"

static struct socksify_conf conf;

static void set(const char *key, const char *value)
{
	char err[256];

	if (!conf_set(&conf, key, value, "test:1", err, sizeof(err)))
		printf("# conf_set %s: %s\n", key, err);
}

static struct socks_addr ip(const char *s, uint16_t port)
{
	struct socks_addr a;

	memset(&a, 0, sizeof(a));
	addr_parse_ip(s, &a);
	a.port = port;
	return a;
}

static struct socks_addr name(const char *s, uint16_t port)
{
	struct socks_addr a = { .atyp = SOCKS5_ATYP_DOMAINNAME, .port = port };

	strcpy(a.u.name, s);
	return a;
}

static struct route decide(const struct socksify_conf *c, struct socks_addr dst,
			   const struct socks_addr *nm, bool remote, enum route_proto proto)
{
	struct route_query q = { .dst = dst, .name = nm, .name_remote = remote, .proto = proto };
	struct route r;

	route_decide(c, &q, &r);
	return r;
}

static void test_order(void)
{
	struct route r;
	struct socks_addr n;
	char buf[512];

	conf_defaults(&conf);
	set("proxy", "socks5://198.18.1.2:1080");
	set("direct", "*.direct.test");
	set("direct", "10.0.0.0/8");
	set("block", "bad.test");
	set("block", "192.0.2.0/24");

	r = decide(&conf, ip("127.0.0.1", 80), NULL, false, ROUTE_TCP);
	ok(r.verdict == ROUTE_PASS && r.reason == ROUTE_R_LOCAL, "loopback is direct");
	r = decide(NULL, ip("0.0.0.0", 80), NULL, false, ROUTE_TCP);
	ok(r.verdict == ROUTE_PASS && r.reason == ROUTE_R_LOCAL,
	   "unspecified is direct, even with a bad configuration");
	r = decide(NULL, ip("203.0.113.1", 80), NULL, false, ROUTE_TCP);
	ok(r.verdict == ROUTE_REFUSE && r.err == ECONNREFUSED && r.reason == ROUTE_R_BAD_CONF,
	   "a bad configuration refuses TCP with ECONNREFUSED");
	r = decide(NULL, ip("203.0.113.1", 80), NULL, false, ROUTE_UDP);
	ok(r.verdict == ROUTE_REFUSE && r.err == ENETUNREACH, "... and UDP with ENETUNREACH");

	r = decide(&conf, ip("192.0.2.7", 80), NULL, false, ROUTE_TCP);
	ok(r.verdict == ROUTE_REFUSE && r.err == EACCES && r.rule == &conf.block[1],
	   "a block CIDR refuses with EACCES and names its rule");
	r = decide(&conf, ip("10.1.2.3", 80), NULL, false, ROUTE_TCP);
	ok(r.verdict == ROUTE_PASS && r.reason == ROUTE_R_DIRECT && r.rule == &conf.direct[1],
	   "a direct CIDR passes and names its rule");
	r = decide(&conf, ip("198.18.1.2", 1080), NULL, false, ROUTE_TCP);
	ok(r.verdict == ROUTE_PASS && r.reason == ROUTE_R_IS_PROXY, "the proxy itself is direct");
	r = decide(&conf, ip("198.18.1.2", 1081), NULL, false, ROUTE_TCP);
	ok(r.verdict == ROUTE_PROXY, "... on its port only");

	/* A name behind a fake address: rules match it, the last hop gets it. */
	n = name("www.example.test", 443);
	r = decide(&conf, ip("240.0.0.5", 443), &n, true, ROUTE_TCP);
	ok(r.verdict == ROUTE_PROXY && r.remote_dns && r.dst.atyp == SOCKS5_ATYP_DOMAINNAME &&
		   strcmp(r.dst.u.name, "www.example.test") == 0 && r.dst.port == 443,
	   "a fake address: the proxy is asked for the name (remote DNS)");
	route_describe(&conf, &r, buf, sizeof(buf));
	ok(strstr(buf, "www.example.test:443") != NULL && strstr(buf, "remote DNS") != NULL,
	   "described: %s", buf);
	n = name("bad.test", 443);
	r = decide(&conf, ip("240.0.0.6", 443), &n, true, ROUTE_TCP);
	ok(r.verdict == ROUTE_REFUSE && r.rule == &conf.block[0], "a block rule by the fake's name");
	route_describe(&conf, &r, buf, sizeof(buf));
	ok(strcmp(buf, "blocked: rule bad.test (EACCES)") == 0, "described: %s", buf);

	/* Issue 8: a name resolved on this host, under a direct rule. */
	n = name("web.direct.test", 8282);
	r = decide(&conf, ip("198.18.1.1", 8282), &n, false, ROUTE_TCP);
	ok(r.verdict == ROUTE_PASS && r.reason == ROUTE_R_DIRECT && r.rule == &conf.direct[0],
	   "a locally resolved name under a *.suffix direct rule goes direct");
	route_describe(&conf, &r, buf, sizeof(buf));
	ok(strcmp(buf, "direct: rule *.direct.test") == 0, "described: %s", buf);
	r = decide(&conf, ip("198.18.1.1", 8282), NULL, false, ROUTE_TCP);
	ok(r.verdict == ROUTE_PROXY && !r.remote_dns, "the same address without the name: proxied");
	n = name("www.local.test", 80);
	r = decide(&conf, ip("203.0.113.9", 80), &n, false, ROUTE_TCP);
	ok(r.verdict == ROUTE_PROXY && r.dst.atyp == SOCKS5_ATYP_IPV4 && !r.remote_dns,
	   "a local name no rule names: the proxy gets the address, not the name");

	struct route_query q = { .dst = ip("240.0.0.9", 80), .stale_fake = true };
	route_decide(&conf, &q, &r);
	ok(r.verdict == ROUTE_REFUSE && r.err == EHOSTUNREACH, "a stale fake: EHOSTUNREACH");
}

static void test_udp(void)
{
	struct route r;

	conf_defaults(&conf);
	set("proxy", "socks5://198.18.1.2:1080");
	set("direct", "10.0.0.0/8");
	set("udp", "block");
	r = decide(&conf, ip("203.0.113.1", 53), NULL, false, ROUTE_UDP);
	ok(r.verdict == ROUTE_REFUSE && r.err == EPERM && r.reason == ROUTE_R_UDP_BLOCK,
	   "udp = block: EPERM");
	r = decide(&conf, ip("10.0.0.1", 53), NULL, false, ROUTE_UDP);
	ok(r.verdict == ROUTE_PASS, "udp = block: a direct rule still goes direct");
	r = decide(&conf, ip("203.0.113.1", 53), NULL, false, ROUTE_TCP);
	ok(r.verdict == ROUTE_PROXY, "udp = block leaves TCP alone");
	set("udp", "direct");
	set("block", "203.0.113.0/24");
	r = decide(&conf, ip("203.0.113.1", 53), NULL, false, ROUTE_UDP);
	ok(r.verdict == ROUTE_PASS && r.reason == ROUTE_R_UDP_DIRECT,
	   "udp = direct: every datagram direct, block rules included (as before)");
}

/* ---- hops ---- */

static size_t fake_resolve(void *ctx, size_t i, struct socks_addr *out, size_t cap, int *gai)
{
	const char *host = conf.proxies[i].host;

	if (strcmp(host, "v6only.test") == 0) {
		out[0] = ip("fd00::5", conf.proxies[i].port);
		return 1;
	}
	if (strcmp(host, "both.test") == 0) {
		out[0] = ip("fd00::6", conf.proxies[i].port);
		out[1] = ip("198.18.9.6", conf.proxies[i].port);
		return 2;
	}
	*gai = EAI_NONAME;
	return 0;
}

static void test_hops(void)
{
	struct hops_resolver r = { fake_resolve, NULL };
	struct dial_hop h[DIAL_MAX_HOPS];
	size_t path[] = { 0, 1, 2, 3 }, bad = 99;
	char msg[256] = "";
	int err;

	conf_defaults(&conf);
	set("proxy", "socks5://both.test:1080");
	set("proxy", "socks4://198.18.3.3:1080");
	set("proxy", "socks5://both.test:1081");
	set("proxy", "http://nowhere.test:3128");
	err = hops_build(&conf, path, 3, AF_INET, false, &r, h, &bad, msg, sizeof(msg));
	ok(err == 0, "a 3-hop list builds: %s", msg);
	ok(h[0].sa.ss_family == AF_INET && h[0].addr.atyp == SOCKS5_ATYP_IPV4,
	   "hop 1: the address in the socket's family");
	ok(h[1].addr.atyp == SOCKS5_ATYP_IPV4 && h[1].addr.port == 1080, "hop 2: a literal");
	ok(h[2].addr.atyp == SOCKS5_ATYP_IPV4 && h[2].addr.port == 1081,
	   "hop 3, after a socks4 hop: an IPv4 address resolved here");
	err = hops_build(&conf, path, 1, AF_INET6, false, &r, h, &bad, msg, sizeof(msg));
	ok(err == 0 && h[0].sa.ss_family == AF_INET6 && h[0].addr.atyp == SOCKS5_ATYP_IPV6,
	   "AF_INET6: the first address");
	err = hops_build(&conf, path, 1, AF_UNSPEC, false, &r, h, &bad, msg, sizeof(msg));
	ok(err == 0 && h[0].sa.ss_family == AF_INET6, "AF_UNSPEC: the first address as it is");
	size_t p2[] = { 0, 3 };
	err = hops_build(&conf, p2, 2, AF_INET, false, &r, h, &bad, msg, sizeof(msg));
	ok(err == 0 && h[1].addr.atyp == SOCKS5_ATYP_DOMAINNAME &&
		   strcmp(h[1].addr.u.name, "nowhere.test") == 0,
	   "a name after a socks5 hop stays a name (that hop resolves it)");
	size_t p3[] = { 3 };
	err = hops_build(&conf, p3, 1, AF_INET, false, &r, h, &bad, msg, sizeof(msg));
	ok(err == EHOSTUNREACH && bad == 0 && strstr(msg, "hop 1 (http nowhere.test:3128)") != NULL,
	   "a first hop that does not resolve: EHOSTUNREACH, named: %s", msg);
	size_t p4[] = { 1, 3 };
	err = hops_build(&conf, p4, 2, AF_INET, false, &r, h, &bad, msg, sizeof(msg));
	ok(err == EHOSTUNREACH && bad == 1 && strstr(msg, "socks4") != NULL,
	   "a name after socks4 that does not resolve: %s", msg);
	conf_defaults(&conf);
	set("proxy", "socks5://v6only.test:1080");
	err = hops_build(&conf, path, 1, AF_INET, false, &r, h, &bad, msg, sizeof(msg));
	ok(err == ENETUNREACH, "an AF_INET socket and an IPv6-only proxy: ENETUNREACH");
	conf_defaults(&conf);
	set("proxy", "socks5://198.18.1.2:1080");
	err = hops_build(&conf, path, 1, AF_INET6, true, &r, h, &bad, msg, sizeof(msg));
	ok(err == ENETUNREACH, "an IPv4 proxy from a v6only socket: ENETUNREACH");
	err = hops_build(&conf, path, 1, AF_INET6, false, &r, h, &bad, msg, sizeof(msg));
	ok(err == 0 && h[0].salen == sizeof(struct sockaddr_in6) &&
		   ((struct sockaddr_in6 *)&h[0].sa)->sin6_addr.s6_addr[10] == 0xff,
	   "... and as ::ffff:a.b.c.d from a dual-stack one");
}

int main(void)
{
	test_order();
	test_udp();
	test_hops();
	return tap_done();
}

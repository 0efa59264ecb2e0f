/* Unit tests for common/addr.c: sockaddr conversions (v4, v6, v4-mapped), printing,
 * host:port parsing, CIDR parsing and matching, destination rules (CIDR, host,
 * *.suffix, :port) as tables, and the loopback / link-local classifiers. */
#include <arpa/inet.h>
#include <string.h>

#include "addr.h"
#include "tap.h"

/* "1.2.3.4", "::1" or a name, with a port: a destination for the tables below. */
static struct socks_addr dst(const char *host, uint16_t port)
{
	struct socks_addr a;

	memset(&a, 0, sizeof(a));
	if (!addr_parse_ip(host, &a)) {
		a.atyp = SOCKS5_ATYP_DOMAINNAME;
		strncpy(a.u.name, host, SOCKS_NAME_MAX);
	}
	a.port = port;
	return a;
}

static void test_sockaddr(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(80) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
	struct sockaddr_storage ss;
	struct socks_addr a;
	char buf[ADDR_STR_MAX];
	socklen_t len;

	inet_pton(AF_INET, "10.1.2.3", &sin.sin_addr);
	ok(addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof(sin)) &&
	   a.atyp == SOCKS5_ATYP_IPV4 && a.port == 80, "sockaddr_in -> IPV4");
	ok(strcmp(addr_str(&a, buf, sizeof(buf)), "10.1.2.3:80") == 0, "addr_str v4");
	ok(!addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof(sin) - 1), "short sockaddr_in");

	inet_pton(AF_INET6, "fd00:2::2", &sin6.sin6_addr);
	ok(addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin6)) &&
	   a.atyp == SOCKS5_ATYP_IPV6 && a.port == 443, "sockaddr_in6 -> IPV6");
	ok(strcmp(addr_str(&a, buf, sizeof(buf)), "[fd00:2::2]:443") == 0, "addr_str v6");
	ok(!addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin6) - 1),
	   "short sockaddr_in6");

	inet_pton(AF_INET6, "::ffff:198.18.2.2", &sin6.sin6_addr);
	ok(addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin6)) &&
	   a.atyp == SOCKS5_ATYP_IPV4 && memcmp(a.u.v4, "\xc6\x12\x02\x02", 4) == 0,
	   "v4-mapped -> IPV4");
	ok(strcmp(sockaddr_str((struct sockaddr *)&sin6, sizeof(sin6), buf, sizeof(buf)),
		  "198.18.2.2:443") == 0, "sockaddr_str of mapped");

	{
		struct sockaddr un = { .sa_family = AF_UNIX };
		ok(!addr_from_sockaddr(&a, &un, sizeof(un)), "AF_UNIX refused");
		ok(strcmp(sockaddr_str(&un, sizeof(un), buf, sizeof(buf)), "(family 1)") == 0,
		   "sockaddr_str of AF_UNIX");
		ok(!addr_from_sockaddr(&a, NULL, 0), "NULL sockaddr");
	}

	a = dst("1.2.3.4", 8080);
	len = addr_to_sockaddr(&a, &ss);
	ok(len == sizeof(struct sockaddr_in) && ss.ss_family == AF_INET &&
	   ((struct sockaddr_in *)&ss)->sin_port == htons(8080), "IPV4 -> sockaddr_in");
	a = dst("::1", 53);
	len = addr_to_sockaddr(&a, &ss);
	ok(len == sizeof(struct sockaddr_in6) && ss.ss_family == AF_INET6, "IPV6 -> sockaddr_in6");
	a = dst("example.com", 80);
	ok(addr_to_sockaddr(&a, &ss) == 0, "DOMAINNAME -> 0");
	ok(strcmp(addr_str(&a, buf, sizeof(buf)), "example.com:80") == 0, "addr_str name");
	ok(strcmp(addr_str(&a, buf, 5), "exam") == 0, "addr_str truncates");
}

static void test_hostport(void)
{
	static const struct {
		const char *s;
		bool ok;
		uint8_t atyp;
		uint16_t port;
	} t[] = {
		{ "127.0.0.1:1080", true, SOCKS5_ATYP_IPV4, 1080 },
		{ "[::1]:1080", true, SOCKS5_ATYP_IPV6, 1080 },
		{ "[::]:0", true, SOCKS5_ATYP_IPV6, 0 },
		{ "example.com:443", true, SOCKS5_ATYP_DOMAINNAME, 443 },
		{ "0.0.0.0:65535", true, SOCKS5_ATYP_IPV4, 65535 },
		{ "127.0.0.1", false, 0, 0 },
		{ "127.0.0.1:", false, 0, 0 },
		{ "127.0.0.1:65536", false, 0, 0 },
		{ "127.0.0.1:-1", false, 0, 0 },
		{ ":80", false, 0, 0 },
		{ "::1:80", false, 0, 0 },
		{ "[::1:80", false, 0, 0 },
		{ "[::1]80", false, 0, 0 },
		{ "[1.2.3.4]:80", false, 0, 0 },
		{ "[]:80", false, 0, 0 },
		{ "bad host:80", false, 0, 0 },
		{ "a..b:80", false, 0, 0 },
	};
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct socks_addr a;
		err[0] = '\0';
		bool r = addr_parse_hostport(t[i].s, &a, err, sizeof(err));
		ok(r == t[i].ok && (!r || (a.atyp == t[i].atyp && a.port == t[i].port)),
		   "hostport '%s' -> %s %s", t[i].s, t[i].ok ? "ok" : "error", err);
		if (!r)
			ok(err[0] != '\0', "hostport '%s' explains: %s", t[i].s, err);
	}
}

static void test_names(void)
{
	char long_name[300];

	ok(addr_valid_name("example.com"), "valid name");
	ok(addr_valid_name("example.com."), "valid FQDN with dot");
	ok(addr_valid_name("_srv.x-y.Z9"), "underscore, dash, digits");
	ok(!addr_valid_name(""), "empty name");
	ok(!addr_valid_name(".example.com"), "leading dot");
	ok(!addr_valid_name("a..b"), "empty label");
	ok(!addr_valid_name("a b"), "space");
	ok(!addr_valid_name("a/b"), "slash");
	ok(!addr_valid_name("a:b"), "colon");
	ok(!addr_valid_name("caf\xc3\xa9"), "non-ASCII");
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	ok(!addr_valid_name(long_name), "300 bytes is too long");
	long_name[255] = '\0';
	ok(addr_valid_name(long_name), "255 bytes is fine");
}

static void test_cidr(void)
{
	static const struct {
		const char *cidr, *addr;
		bool match;
	} t[] = {
		{ "10.0.0.0/8", "10.255.1.2", true },
		{ "10.0.0.0/8", "11.0.0.1", false },
		{ "10.1.2.3/8", "10.9.9.9", true }, /* host bits masked away */
		{ "192.168.1.0/24", "192.168.1.255", true },
		{ "192.168.1.0/24", "192.168.2.0", false },
		{ "172.16.0.0/12", "172.31.255.255", true },
		{ "172.16.0.0/12", "172.32.0.0", false },
		{ "1.2.3.4", "1.2.3.4", true },
		{ "1.2.3.4", "1.2.3.5", false },
		{ "1.2.3.4/32", "1.2.3.4", true },
		{ "0.0.0.0/0", "203.0.113.9", true },
		{ "0.0.0.0/0", "::1", false }, /* v4 net never claims a v6 host */
		{ "10.0.0.0/8", "::ffff:10.0.0.1", true }, /* mapped host */
		{ "10.0.0.0/8", "::ffff:11.0.0.1", false },
		{ "fd00::/8", "fd00:2::2", true },
		{ "fd00::/8", "fe80::1", false },
		{ "fe80::/10", "febf::1", true },
		{ "fe80::/10", "fec0::1", false },
		{ "::1", "::1", true },
		{ "::1/128", "::2", false },
		{ "::/0", "2001:db8::1", true },
		{ "::/0", "1.2.3.4", false }, /* v6 net never claims a v4 host */
		{ "2001:db8::/33", "2001:db8:7fff::1", true },
		{ "2001:db8::/33", "2001:db8:8000::1", false },
		{ "::ffff:10.0.0.0/104", "10.1.1.1", true }, /* mapped CIDR is IPv4 */
		{ "::ffff:10.0.0.0/104", "::ffff:10.1.1.1", true },
		{ "::ffff:10.0.0.0/104", "11.1.1.1", false },
		{ "10.0.0.0/8", "example.com", false },
	};
	static const char *const bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0/8",
		"10.0.0.0/ 8", "fd00::/129", "fd00::/", "example.com/8", "[fd00::]/8", "1.2.3.4 ",
		"10.0.0.0/08x", "256.0.0.0/8",
	};
	struct cidr c;
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct socks_addr a = dst(t[i].addr, 0);
		ok(cidr_parse(t[i].cidr, &c) && cidr_match(&c, &a) == t[i].match, "cidr %s %s %s",
		   t[i].cidr, t[i].match ? "matches" : "does not match", t[i].addr);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!cidr_parse(bad[i], &c), "cidr '%s' refused", bad[i]);

	ok(cidr_parse("10.1.2.3/8", &c) && strcmp(cidr_str(&c, buf, sizeof(buf)), "10.0.0.0/8") == 0,
	   "cidr_str masks");
	ok(cidr_parse("fd00:1:2::/16", &c) && strcmp(cidr_str(&c, buf, sizeof(buf)), "fd00::/16") == 0,
	   "cidr_str v6");
	ok(cidr_parse("::ffff:10.0.0.0/104", &c) && c.family == AF_INET && c.prefix == 8,
	   "mapped CIDR stored as 10.0.0.0/8");
	ok(cidr_parse("10.0.0.0/0", &c) && c.prefix == 0, "prefix 0");

	{
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
		struct sockaddr_in sin = { .sin_family = AF_INET };
		inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr);
		inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
		ok(cidr_parse("127.0.0.0/8", &c) && cidr_match_sockaddr(&c, (struct sockaddr *)&sin6),
		   "cidr_match_sockaddr mapped");
		ok(cidr_match_sockaddr(&c, (struct sockaddr *)&sin), "cidr_match_sockaddr v4");
		ok(!cidr_match_sockaddr(&c, NULL), "cidr_match_sockaddr NULL");
	}
}

static void test_rules(void)
{
	static const struct {
		const char *rule, *host;
		uint16_t port;
		bool match;
	} t[] = {
		/* CIDR, with and without port */
		{ "10.0.0.0/8", "10.1.1.1", 80, true },
		{ "10.0.0.0/8", "192.168.0.1", 80, false },
		{ "10.0.0.0/8:443", "10.1.1.1", 443, true },
		{ "10.0.0.0/8:443", "10.1.1.1", 80, false },
		{ "1.2.3.4", "1.2.3.4", 1, true },
		{ "1.2.3.4:22", "1.2.3.4", 22, true },
		{ "1.2.3.4:22", "1.2.3.4", 23, false },
		{ "fd00::/8", "fd00:2::2", 7, true },
		{ "fd00::/8", "fe80::1", 7, false },
		{ "[fd00::/8]:443", "fd00::1", 443, true },
		{ "[fd00::/8]:443", "fd00::1", 444, false },
		{ "[::1]:53", "::1", 53, true },
		{ "[::1]", "::1", 9, true },
		{ "::1", "::1", 9, true },
		{ "10.0.0.0/8", "::ffff:10.2.3.4", 1, true },
		{ "10.0.0.0/8", "example.com", 80, false }, /* CIDR never matches a name */
		/* host */
		{ "example.com", "example.com", 80, true },
		{ "example.com", "EXAMPLE.Com", 80, true },
		{ "Example.COM", "example.com", 80, true },
		{ "example.com", "example.com.", 80, true },
		{ "example.com.", "example.com", 80, true },
		{ "example.com", "www.example.com", 80, false },
		{ "example.com", "example.co", 80, false },
		{ "example.com", "xexample.com", 80, false },
		{ "example.com", "93.184.216.34", 80, false }, /* a name never matches an IP */
		{ "example.com:443", "example.com", 443, true },
		{ "example.com:443", "example.com", 80, false },
		{ "localhost", "localhost", 1, true },
		/* *.suffix */
		{ "*.example.com", "example.com", 80, true },
		{ "*.example.com", "www.example.com", 80, true },
		{ "*.example.com", "a.b.EXAMPLE.com", 80, true },
		{ "*.example.com", "a.b.example.com.", 80, true },
		{ "*.example.com", "badexample.com", 80, false },
		{ "*.example.com", "example.com.evil", 80, false },
		{ "*.example.com", "com", 80, false },
		{ "*.example.com:8080", "x.example.com", 8080, true },
		{ "*.example.com:8080", "x.example.com", 80, false },
		{ ".example.com", "x.example.com", 1, true },
		{ "*.test", "target.test", 80, true },
		/* :port */
		{ ":443", "1.2.3.4", 443, true },
		{ ":443", "fd00::1", 443, true },
		{ ":443", "example.com", 443, true },
		{ ":443", "example.com", 80, false },
	};
	static const char *const bad[] = {
		"", ":", ":0", ":65536", ":x", "10.0.0.0/33", "10.0.0.0/8:", "10.0.0.0/8:0",
		"10.0.0.0/8:99999", "[fd00::/8", "[fd00::/8]443", "[fd00::/8]:", "[example.com]:80",
		"*.", "*", "*.exa mple.com", "a..b", "host:", "host:port", "fd00::/200",
		"1.2.3.4/8/8", "bad_char!", "*.a:b:c", "[1.2.3.4]", "1.2.3.4.",
	};
	char err[256], buf[300];
	struct rule r;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct socks_addr a = dst(t[i].host, t[i].port);
		err[0] = '\0';
		ok(rule_parse(t[i].rule, &r, err, sizeof(err)) && rule_match(&r, &a) == t[i].match,
		   "rule %s %s %s port %u %s", t[i].rule, t[i].match ? "matches" : "does not match",
		   t[i].host, t[i].port, err);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ok(!rule_parse(bad[i], &r, err, sizeof(err)) && err[0] != '\0', "rule '%s' refused: %s",
		   bad[i], err);
	}

	ok(rule_parse("*.Example.COM:443", &r, err, sizeof(err)) && r.kind == RULE_SUFFIX &&
	   strcmp(r.name, "example.com") == 0 && r.port == 443, "suffix stored lower-case");
	ok(strcmp(rule_str(&r, buf, sizeof(buf)), "*.example.com:443") == 0, "rule_str suffix");
	ok(rule_parse("[fd00::/8]:443", &r, err, sizeof(err)) &&
	   strcmp(rule_str(&r, buf, sizeof(buf)), "[fd00::/8]:443") == 0, "rule_str v6 port");
	ok(rule_parse(":53", &r, err, sizeof(err)) && r.kind == RULE_PORT &&
	   strcmp(rule_str(&r, buf, sizeof(buf)), ":53") == 0, "rule_str port");
	ok(rule_parse("10.0.0.0/8", &r, err, sizeof(err)) && r.kind == RULE_CIDR &&
	   strcmp(rule_str(&r, buf, sizeof(buf)), "10.0.0.0/8") == 0, "rule_str cidr");

	{
		struct rule rs[3];
		struct socks_addr a;
		ok(rule_parse("10.0.0.0/8", &rs[0], err, sizeof(err)) &&
		   rule_parse("*.corp", &rs[1], err, sizeof(err)) &&
		   rule_parse(":25", &rs[2], err, sizeof(err)), "three rules");
		a = dst("git.corp", 443);
		ok(rules_match(rs, 3, &a), "rules_match hits the suffix");
		a = dst("8.8.8.8", 25);
		ok(rules_match(rs, 3, &a), "rules_match hits the port");
		a = dst("8.8.8.8", 53);
		ok(!rules_match(rs, 3, &a), "rules_match misses");
		ok(!rules_match(rs, 0, &a), "no rules never match");
	}
}

static void test_classes(void)
{
	static const struct {
		const char *host;
		bool loop, link;
	} t[] = {
		{ "127.0.0.1", true, false },
		{ "127.255.255.254", true, false },
		{ "128.0.0.1", false, false },
		{ "::1", true, false },
		{ "::2", false, false },
		{ "::ffff:127.0.0.1", true, false },
		{ "::ffff:127.9.9.9", true, false },
		{ "::ffff:128.0.0.1", false, false },
		{ "localhost", true, false },
		{ "LOCALHOST", true, false },
		{ "localhost.", true, false },
		{ "foo.localhost", true, false },
		{ "a.b.localhost.", true, false },
		{ "notlocalhost", false, false },
		{ "localhost.com", false, false },
		{ "xlocalhost", false, false },
		{ "169.254.169.254", false, true },
		{ "169.254.0.1", false, true },
		{ "169.255.0.1", false, false },
		{ "0.0.0.0", false, true },
		{ "0.1.2.3", false, true },
		{ "::", false, true },
		{ "fe80::1", false, true },
		{ "febf:ffff::1", false, true },
		{ "fec0::1", false, false },
		{ "fd00:ec2::254", false, true },
		{ "fd00:ec2::253", false, false },
		{ "::ffff:169.254.169.254", false, true },
		{ "198.18.2.2", false, false },
		{ "example.com", false, false },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct socks_addr a = dst(t[i].host, 80);
		ok(addr_is_loopback(&a) == t[i].loop, "%s is %sloopback", t[i].host,
		   t[i].loop ? "" : "not ");
		ok(addr_is_link_local(&a) == t[i].link, "%s is %slink-local", t[i].host,
		   t[i].link ? "" : "not ");
	}
}

int main(void)
{
	test_sockaddr();
	test_hostport();
	test_names();
	test_cidr();
	test_rules();
	test_classes();
	return tap_done();
}

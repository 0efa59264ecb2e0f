/* libFuzzer target for destination rules and CIDRs: any bytes go to rule_parse,
 * cidr_parse and addr_parse_hostport. A parsed rule must print (rule_str) as text
 * that parses back to the same rule, and matching must never misbehave. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fuzz.h"

static bool rule_eq(const struct rule *a, const struct rule *b)
{
	if (a->kind != b->kind || a->port != b->port)
		return false;
	if (a->kind == RULE_CIDR)
		return a->cidr.family == b->cidr.family && a->cidr.prefix == b->cidr.prefix &&
		       memcmp(a->cidr.addr, b->cidr.addr, sizeof(a->cidr.addr)) == 0;
	return strcmp(a->name, b->name) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char s[600], buf[600], err[300];
	static struct rule r, r2;
	static struct cidr c;
	static struct socks_addr a;
	static const char *const probes[] = { "10.1.2.3", "::1", "::ffff:10.1.2.3", "fd00::1",
					      "example.com", "www.example.com.", "localhost" };
	size_t i;

	if (size >= sizeof(s))
		size = sizeof(s) - 1;
	memcpy(s, data, size);
	s[size] = '\0';

	if (rule_parse(s, &r, err, sizeof(err))) {
		rule_str(&r, buf, sizeof(buf));
		CHECK(rule_parse(buf, &r2, err, sizeof(err)));
		CHECK(rule_eq(&r, &r2));
		for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
			memset(&a, 0, sizeof(a));
			if (!addr_parse_ip(probes[i], &a)) {
				a.atyp = SOCKS5_ATYP_DOMAINNAME;
				memcpy(a.u.name, probes[i], strlen(probes[i]) + 1);
			}
			a.port = r.port;
			(void)rule_match(&r, &a);
		}
	} else {
		CHECK(err[0] != '\0');
	}
	if (cidr_parse(s, &c)) {
		CHECK(c.family == AF_INET ? c.prefix <= 32 : c.prefix <= 128);
		cidr_str(&c, buf, sizeof(buf));
		CHECK(cidr_parse(buf, &c));
	}
	memset(&a, 0, sizeof(a));
	if (addr_parse_hostport(s, &a, err, sizeof(err))) {
		addr_str(&a, buf, sizeof(buf));
		(void)addr_is_loopback(&a);
		(void)addr_is_link_local(&a);
		if (r.kind == RULE_CIDR || r.kind == RULE_HOST)
			(void)rule_match(&r, &a);
	}
	return 0;
}

/* Addresses as the rest of socksify sees them: sockaddr <-> socks_addr, printing,
 * CIDR parsing and matching, and the destination rules behind `direct`, `block` and
 * --deny-dest. Pure functions: no allocation, no locale, no resolver. */
#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static const uint8_t addr_v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool addr_is_v4mapped(const uint8_t v6[16])
{
	return memcmp(v6, addr_v4mapped_prefix, sizeof(addr_v4mapped_prefix)) == 0;
}

/* ASCII-only, because tolower() and strcasecmp() follow the host program's locale. */
static char addr_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool addr_from_sockaddr(struct socks_addr *out, const struct sockaddr *sa, socklen_t len)
{
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		out->atyp = SOCKS5_ATYP_IPV4;
		memcpy(out->u.v4, &sin->sin_addr, 4);
		out->port = ntohs(sin->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *b = sin6->sin6_addr.s6_addr;
		/* A v4-mapped destination is an IPv4 host: rules and the proxy see it so. */
		if (addr_is_v4mapped(b)) {
			out->atyp = SOCKS5_ATYP_IPV4;
			memcpy(out->u.v4, b + 12, 4);
		} else {
			out->atyp = SOCKS5_ATYP_IPV6;
			memcpy(out->u.v6, b, 16);
		}
		out->port = ntohs(sin6->sin6_port);
		return true;
	}
	return false;
}

socklen_t addr_to_sockaddr(const struct socks_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->atyp == SOCKS5_ATYP_IPV4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->u.v4, 4);
		return sizeof(*sin);
	}
	if (a->atyp == SOCKS5_ATYP_IPV6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(a->port);
		memcpy(&sin6->sin6_addr, a->u.v6, 16);
		return sizeof(*sin6);
	}
	return 0;
}

const char *addr_str(const struct socks_addr *a, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (cap == 0)
		return buf;
	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4:
		inet_ntop(AF_INET, a->u.v4, ip, sizeof(ip));
		snprintf(buf, cap, "%s:%u", ip, (unsigned)a->port);
		break;
	case SOCKS5_ATYP_IPV6:
		inet_ntop(AF_INET6, a->u.v6, ip, sizeof(ip));
		snprintf(buf, cap, "[%s]:%u", ip, (unsigned)a->port);
		break;
	case SOCKS5_ATYP_DOMAINNAME:
		snprintf(buf, cap, "%.*s:%u", SOCKS_NAME_MAX, a->u.name, (unsigned)a->port);
		break;
	default:
		snprintf(buf, cap, "(atyp %u)", (unsigned)a->atyp);
		break;
	}
	return buf;
}

const char *sockaddr_str(const struct sockaddr *sa, socklen_t len, char *buf, size_t cap)
{
	struct socks_addr a;

	if (cap == 0)
		return buf;
	if (!addr_from_sockaddr(&a, sa, len)) {
		snprintf(buf, cap, "(family %d)", sa != NULL ? (int)sa->sa_family : -1);
		return buf;
	}
	return addr_str(&a, buf, cap);
}

bool addr_parse_ip(const char *s, struct socks_addr *out)
{
	uint8_t b[16];

	if (inet_pton(AF_INET, s, b) == 1) {
		out->atyp = SOCKS5_ATYP_IPV4;
		memcpy(out->u.v4, b, 4);
		return true;
	}
	if (inet_pton(AF_INET6, s, b) == 1) {
		out->atyp = SOCKS5_ATYP_IPV6;
		memcpy(out->u.v6, b, 16);
		return true;
	}
	return false;
}

bool addr_valid_name(const char *s)
{
	size_t i, len = strlen(s), label = 0;

	if (len == 0 || len > SOCKS_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			/* Empty labels (".a", "a..b") are typos; one trailing dot is FQDN. */
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
		label++;
	}
	return true;
}

/* Splits "[v6]rest", "v4:port", "name:port" style text into host and port parts.
 * host gets the text without brackets, *port_s points into s after the ':' (or NULL
 * when there is none). */
static bool addr_split_hostport(const char *s, char *host, size_t hostcap, const char **port_s,
				bool *bracketed, char *err, size_t errlen)
{
	const char *end, *colon;
	size_t hlen;

	*port_s = NULL;
	*bracketed = false;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL) {
			snprintf(err, errlen, "missing ']' after IPv6 address");
			return false;
		}
		hlen = (size_t)(end - s - 1);
		*bracketed = true;
		s++;
		if (end[1] == ':')
			*port_s = end + 2;
		else if (end[1] != '\0') {
			snprintf(err, errlen, "unexpected text after ']'");
			return false;
		}
	} else {
		colon = strrchr(s, ':');
		if (colon != NULL && memchr(s, ':', (size_t)(colon - s)) != NULL) {
			snprintf(err, errlen, "an IPv6 address needs brackets: [ADDR]:PORT");
			return false;
		}
		hlen = colon != NULL ? (size_t)(colon - s) : strlen(s);
		if (colon != NULL)
			*port_s = colon + 1;
	}
	if (hlen >= hostcap) {
		snprintf(err, errlen, "host too long");
		return false;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	return true;
}

bool addr_parse_hostport(const char *s, struct socks_addr *out, char *err, size_t errlen)
{
	char host[SOCKS_NAME_MAX + 1];
	const char *port_s;
	unsigned long port;
	bool bracketed;

	if (!addr_split_hostport(s, host, sizeof(host), &port_s, &bracketed, err, errlen))
		return false;
	if (host[0] == '\0') {
		snprintf(err, errlen, "missing host");
		return false;
	}
	if (port_s == NULL || *port_s == '\0') {
		snprintf(err, errlen, "missing port");
		return false;
	}
	if (!parse_ulong(port_s, 0, 65535, &port)) {
		snprintf(err, errlen, "bad port '%.16s'", port_s);
		return false;
	}
	if (bracketed) {
		uint8_t b[16];
		if (inet_pton(AF_INET6, host, b) != 1) {
			snprintf(err, errlen, "bad IPv6 address '%s'", host);
			return false;
		}
		out->atyp = SOCKS5_ATYP_IPV6;
		memcpy(out->u.v6, b, 16);
	} else if (!addr_parse_ip(host, out)) {
		if (!addr_valid_name(host)) {
			snprintf(err, errlen, "bad host name '%s'", host);
			return false;
		}
		out->atyp = SOCKS5_ATYP_DOMAINNAME;
		str_copy(out->u.name, host, sizeof(out->u.name));
	}
	out->port = (uint16_t)port;
	return true;
}

/* ---- CIDR ---- */

static void cidr_mask(struct cidr *c)
{
	size_t nbytes = c->family == AF_INET ? 4 : 16;
	size_t i;

	for (i = 0; i < nbytes; i++) {
		unsigned bits = i * 8 >= c->prefix ? 0 : c->prefix - i * 8;
		if (bits < 8)
			c->addr[i] &= (uint8_t)(0xff00u >> bits);
	}
	for (i = nbytes; i < sizeof(c->addr); i++)
		c->addr[i] = 0;
}

bool cidr_parse(const char *s, struct cidr *out)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t iplen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned long prefix;
	uint8_t b[16];

	if (iplen == 0 || iplen >= sizeof(ip))
		return false;
	memcpy(ip, s, iplen);
	ip[iplen] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, ip, b) == 1) {
		out->family = AF_INET;
		memcpy(out->addr, b, 4);
	} else if (inet_pton(AF_INET6, ip, b) == 1) {
		out->family = AF_INET6;
		memcpy(out->addr, b, 16);
	} else {
		return false;
	}
	if (slash == NULL)
		prefix = out->family == AF_INET ? 32 : 128;
	else if (!parse_ulong(slash + 1, 0, out->family == AF_INET ? 32 : 128, &prefix))
		return false;
	/* ::ffff:10.0.0.0/104 is 10.0.0.0/8: store it as IPv4 so one family compares. */
	if (out->family == AF_INET6 && prefix >= 96 && addr_is_v4mapped(out->addr)) {
		memmove(out->addr, out->addr + 12, 4);
		out->family = AF_INET;
		prefix -= 96;
	}
	out->prefix = (uint8_t)prefix;
	cidr_mask(out);
	return true;
}

static bool cidr_bits_match(const uint8_t *net, const uint8_t *a, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(net, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((net[full] ^ a[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

bool cidr_match(const struct cidr *c, const struct socks_addr *a)
{
	if (c->family == AF_INET) {
		if (a->atyp == SOCKS5_ATYP_IPV4)
			return cidr_bits_match(c->addr, a->u.v4, c->prefix);
		if (a->atyp == SOCKS5_ATYP_IPV6 && addr_is_v4mapped(a->u.v6))
			return cidr_bits_match(c->addr, a->u.v6 + 12, c->prefix);
		return false;
	}
	/* An IPv6 network never claims IPv4 hosts: "::/0" means every IPv6 address. */
	if (c->family == AF_INET6 && a->atyp == SOCKS5_ATYP_IPV6)
		return cidr_bits_match(c->addr, a->u.v6, c->prefix);
	return false;
}

bool cidr_match_sockaddr(const struct cidr *c, const struct sockaddr *sa)
{
	struct socks_addr a;
	socklen_t len;

	if (sa == NULL)
		return false;
	len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	return addr_from_sockaddr(&a, sa, len) && cidr_match(c, &a);
}

const char *cidr_str(const struct cidr *c, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (cap == 0)
		return buf;
	if (inet_ntop(c->family, c->addr, ip, sizeof(ip)) == NULL)
		str_copy(ip, "?", sizeof(ip));
	snprintf(buf, cap, "%s/%u", ip, (unsigned)c->prefix);
	return buf;
}

/* ---- destination rules ---- */

static bool rule_port(const char *s, uint16_t *port, char *err, size_t errlen)
{
	unsigned long v;

	if (!parse_ulong(s, 1, 65535, &v)) {
		snprintf(err, errlen, "bad port '%.16s' (1..65535)", s);
		return false;
	}
	*port = (uint16_t)v;
	return true;
}

static bool rule_name(const char *s, struct rule *out, char *err, size_t errlen)
{
	size_t i, len = strlen(s);

	if (len > 0 && s[len - 1] == '.')
		len--; /* "example.com." is example.com */
	if (len == 0 || len > SOCKS_NAME_MAX || !addr_valid_name(s)) {
		snprintf(err, errlen, "bad host name '%.*s'", SOCKS_NAME_MAX, s);
		return false;
	}
	for (i = 0; i < len; i++)
		out->name[i] = addr_lower(s[i]);
	out->name[len] = '\0';
	return true;
}

bool rule_parse(const char *s, struct rule *out, char *err, size_t errlen)
{
	char host[SOCKS_NAME_MAX + 1];
	const char *port_s = NULL, *colon;
	bool bracketed = false, suffix = false;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (s[0] == '\0') {
		snprintf(err, errlen, "empty rule");
		return false;
	}
	if (s[0] == ':' && s[1] != ':') { /* "::1" is an address, not a port */
		out->kind = RULE_PORT;
		return rule_port(s + 1, &out->port, err, errlen);
	}
	if (s[0] == '*' && s[1] == '.') {
		suffix = true;
		s += 2;
	} else if (s[0] == '.') { /* ".example.com", as in no_proxy and Dante */
		suffix = true;
		s += 1;
	}
	if (!suffix && s[0] == '[') {
		if (!addr_split_hostport(s, host, sizeof(host), &port_s, &bracketed, err, errlen))
			return false;
	} else {
		colon = strrchr(s, ':');
		/* Two colons or more without brackets: an IPv6 CIDR, and it has no port. */
		if (colon != NULL && memchr(s, ':', (size_t)(colon - s)) == NULL) {
			hlen = (size_t)(colon - s);
			port_s = colon + 1;
		} else {
			hlen = strlen(s);
		}
		if (hlen >= sizeof(host)) {
			snprintf(err, errlen, "rule too long");
			return false;
		}
		memcpy(host, s, hlen);
		host[hlen] = '\0';
	}
	if (port_s != NULL && !rule_port(port_s, &out->port, err, errlen))
		return false;
	if (suffix) {
		out->kind = RULE_SUFFIX;
		return rule_name(host, out, err, errlen);
	}
	if (cidr_parse(host, &out->cidr) && (!bracketed || strchr(host, ':') != NULL)) {
		out->kind = RULE_CIDR;
		return true;
	}
	if (bracketed || strchr(host, '/') != NULL || strchr(host, ':') != NULL) {
		snprintf(err, errlen, "bad CIDR '%s'", host);
		return false;
	}
	out->kind = RULE_HOST;
	if (!rule_name(host, out, err, errlen))
		return false;
	/* "1.2.3.4." would be a name that no destination ever carries. */
	if (cidr_parse(out->name, &out->cidr)) {
		snprintf(err, errlen, "'%s' is an address with a trailing dot", host);
		return false;
	}
	return true;
}

/* Compares a destination name to a lower-case rule name, ignoring one trailing dot. */
static bool rule_name_eq(const char *name, size_t len, const char *rname)
{
	size_t i;

	if (len > 0 && name[len - 1] == '.')
		len--;
	for (i = 0; i < len; i++)
		if (rname[i] == '\0' || addr_lower(name[i]) != rname[i])
			return false;
	return rname[len] == '\0';
}

static bool rule_name_match(const struct rule *r, const char *name)
{
	size_t len = strnlen(name, SOCKS_NAME_MAX + 1);
	size_t rlen = strlen(r->name);

	if (rule_name_eq(name, len, r->name))
		return true;
	if (r->kind != RULE_SUFFIX)
		return false;
	if (len > 0 && name[len - 1] == '.')
		len--;
	/* "sub.example.com" ends in ".example.com": compare the tail with its dot. */
	if (len <= rlen + 1 || name[len - rlen - 1] != '.')
		return false;
	return rule_name_eq(name + len - rlen, rlen, r->name);
}

bool rule_match(const struct rule *r, const struct socks_addr *dst)
{
	if (r->port != 0 && r->port != dst->port)
		return false;
	switch (r->kind) {
	case RULE_PORT:
		return true;
	case RULE_CIDR:
		return cidr_match(&r->cidr, dst);
	case RULE_HOST:
	case RULE_SUFFIX:
		return dst->atyp == SOCKS5_ATYP_DOMAINNAME && rule_name_match(r, dst->u.name);
	}
	return false;
}

const struct rule *rules_first(const struct rule *rules, size_t n, const struct socks_addr *dst)
{
	for (size_t i = 0; i < n; i++)
		if (rule_match(&rules[i], dst))
			return &rules[i];
	return NULL;
}

bool rules_match(const struct rule *rules, size_t n, const struct socks_addr *dst)
{
	return rules_first(rules, n, dst) != NULL;
}

const char *rule_str(const struct rule *r, char *buf, size_t cap)
{
	char what[SOCKS_NAME_MAX + 64], port[8] = "";

	if (cap == 0)
		return buf;
	if (r->port != 0)
		snprintf(port, sizeof(port), ":%u", (unsigned)r->port);
	switch (r->kind) {
	case RULE_PORT:
		what[0] = '\0';
		break;
	case RULE_CIDR:
		cidr_str(&r->cidr, what, sizeof(what));
		if (r->cidr.family == AF_INET6 && r->port != 0) {
			snprintf(buf, cap, "[%s]%s", what, port);
			return buf;
		}
		break;
	case RULE_HOST:
		str_copy(what, r->name, sizeof(what));
		break;
	case RULE_SUFFIX:
		snprintf(what, sizeof(what), "*.%s", r->name);
		break;
	}
	snprintf(buf, cap, "%s%s", what, port);
	return buf;
}

static const struct socks_addr *addr_as_v4(const struct socks_addr *a, struct socks_addr *tmp)
{
	if (a->atyp == SOCKS5_ATYP_IPV6 && addr_is_v4mapped(a->u.v6)) {
		tmp->atyp = SOCKS5_ATYP_IPV4;
		tmp->port = a->port;
		memcpy(tmp->u.v4, a->u.v6 + 12, 4);
		return tmp;
	}
	return a;
}

bool addr_is_loopback(const struct socks_addr *a)
{
	static const uint8_t v6_loop[16] = { [15] = 1 };
	struct socks_addr tmp;
	size_t len;

	a = addr_as_v4(a, &tmp);
	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4:
		return a->u.v4[0] == 127;
	case SOCKS5_ATYP_IPV6:
		return memcmp(a->u.v6, v6_loop, 16) == 0;
	case SOCKS5_ATYP_DOMAINNAME:
		len = strnlen(a->u.name, SOCKS_NAME_MAX + 1);
		if (rule_name_eq(a->u.name, len, "localhost"))
			return true;
		/* RFC 6761: every name under .localhost is loopback too. */
		if (len > 0 && a->u.name[len - 1] == '.')
			len--;
		return len > 10 && a->u.name[len - 10] == '.' &&
		       rule_name_eq(a->u.name + len - 9, 9, "localhost");
	}
	return false;
}

bool addr_is_link_local(const struct socks_addr *a)
{
	/* fd00:ec2::254 is the EC2 instance metadata service over IPv6. */
	static const uint8_t aws_md[16] = { 0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54 };
	static const uint8_t unspec[16] = { 0 };
	struct socks_addr tmp;

	a = addr_as_v4(a, &tmp);
	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4:
		return (a->u.v4[0] == 169 && a->u.v4[1] == 254) || a->u.v4[0] == 0;
	case SOCKS5_ATYP_IPV6:
		return (a->u.v6[0] == 0xfe && (a->u.v6[1] & 0xc0) == 0x80) ||
		       memcmp(a->u.v6, unspec, 16) == 0 || memcmp(a->u.v6, aws_md, 16) == 0;
	}
	return false;
}

bool addr_is_unspecified(const struct socks_addr *a)
{
	static const uint8_t zero[16];

	if (a->atyp == SOCKS5_ATYP_IPV4)
		return memcmp(a->u.v4, zero, 4) == 0;
	return a->atyp == SOCKS5_ATYP_IPV6 && memcmp(a->u.v6, zero, 16) == 0;
}

socklen_t addr_to_sockaddr_family(const struct socks_addr *a, int family,
				  struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6 && a->atyp == SOCKS5_ATYP_IPV4) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], a->u.v4, 4);
		return sizeof(*s6);
	}
	if ((family == AF_INET && a->atyp == SOCKS5_ATYP_IPV4) ||
	    (family == AF_INET6 && a->atyp == SOCKS5_ATYP_IPV6))
		return addr_to_sockaddr(a, ss);
	return 0;
}

bool addr_same_ip(const struct socks_addr *a, const struct socks_addr *b)
{
	if (a->atyp != b->atyp)
		return false;
	if (a->atyp == SOCKS5_ATYP_IPV4)
		return memcmp(a->u.v4, b->u.v4, 4) == 0;
	return a->atyp == SOCKS5_ATYP_IPV6 && memcmp(a->u.v6, b->u.v6, 16) == 0;
}

bool addr_equal(const struct socks_addr *a, const struct socks_addr *b)
{
	return a->port == b->port && addr_same_ip(a, b);
}

/* Address helpers shared by the shim, the launcher and the server: sockaddr <->
 * socks_addr, printing, CIDR parsing and matching, and destination rules
 * (CIDR, host, *.suffix, :port) as used by `direct`, `block` and --deny-dest. */
#ifndef SOCKSIFY_ADDR_H
#define SOCKSIFY_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "socks.h"

/* "1.2.3.4:80", "[::1]:80", "name:80": enough for any of them. */
#define ADDR_STR_MAX (SOCKS_NAME_MAX + 16)

/* sockaddr (AF_INET / AF_INET6) -> socks_addr. An IPv4-mapped IPv6 address becomes
 * IPV4. Returns false for other families or a short len. */
bool addr_from_sockaddr(struct socks_addr *out, const struct sockaddr *sa, socklen_t len);
/* socks_addr (IPV4/IPV6) -> sockaddr; returns its length, 0 for DOMAINNAME. */
socklen_t addr_to_sockaddr(const struct socks_addr *a, struct sockaddr_storage *ss);
/* a as a sockaddr of the given socket family: an IPv4 address on an AF_INET6 socket
 * as IPv4-mapped (::ffff:a.b.c.d). Returns 0 when a cannot be expressed there (IPv6
 * on AF_INET, a name). */
socklen_t addr_to_sockaddr_family(const struct socks_addr *a, int family,
				  struct sockaddr_storage *ss);
/* The same IPv4 or IPv6 address (names never compare equal), and the same port too. */
bool addr_same_ip(const struct socks_addr *a, const struct socks_addr *b);
bool addr_equal(const struct socks_addr *a, const struct socks_addr *b);
/* 0.0.0.0 or :: (which Linux takes to mean this host, like loopback). */
bool addr_is_unspecified(const struct socks_addr *a);
/* Writes "ip:port" / "[ip6]:port" / "name:port" into buf (always NUL-terminated). */
const char *addr_str(const struct socks_addr *a, char *buf, size_t cap);
const char *sockaddr_str(const struct sockaddr *sa, socklen_t len, char *buf, size_t cap);

/* Parses an IPv4 / IPv6 literal (no brackets) into a socks_addr (port untouched). */
bool addr_parse_ip(const char *s, struct socks_addr *out);
/* Parses "HOST:PORT", "[IPv6]:PORT" or "IPv4:PORT"; HOST may be a name. */
bool addr_parse_hostport(const char *s, struct socks_addr *out, char *err, size_t errlen);
/* A host name we accept in URLs and rules: 1..255 of [A-Za-z0-9-_.], no empty label
 * (one trailing dot allowed). */
bool addr_valid_name(const char *s);

/* ---- CIDR ---- */
struct cidr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix;
	uint8_t addr[16]; /* masked network address */
};
/* "10.0.0.0/8", "fd00::/8", a bare address (a /32 or /128). */
bool cidr_parse(const char *s, struct cidr *out);
/* Matches an IPV4 or IPV6 socks_addr; an IPv4 cidr also matches ::ffff:a.b.c.d. */
bool cidr_match(const struct cidr *c, const struct socks_addr *a);
bool cidr_match_sockaddr(const struct cidr *c, const struct sockaddr *sa);
/* "10.0.0.0/8", "fd00::/8". An IPv4-mapped CIDR (prefix >= 96) is parsed as IPv4. */
const char *cidr_str(const struct cidr *c, char *buf, size_t cap);

/* ---- destination rules ---- */
enum rule_kind {
	RULE_CIDR,   /* 10.0.0.0/8, ::1, 1.2.3.4 (optionally with :port) */
	RULE_HOST,   /* example.com: that exact name, case-insensitive */
	RULE_SUFFIX, /* *.example.com: the name and every name under it */
	RULE_PORT,   /* :443 alone: any destination on that port */
};
struct rule {
	enum rule_kind kind;
	uint16_t port; /* 0: any port */
	struct cidr cidr;
	char name[SOCKS_NAME_MAX + 1]; /* lower-case; for SUFFIX without the "*." */
};
/* Accepts "CIDR", "CIDR:PORT" ("[v6/len]:port" for IPv6 with a port), "host",
 * "host:port", "*.suffix", "*.suffix:port", ":port". */
bool rule_parse(const char *s, struct rule *out, char *err, size_t errlen);
/* Matches a destination: a name rule only matches a DOMAINNAME destination and a
 * CIDR rule only an address, so callers that know both (a fake address's name)
 * test each. */
bool rule_match(const struct rule *r, const struct socks_addr *dst);
bool rules_match(const struct rule *rules, size_t n, const struct socks_addr *dst);
/* The first of rules that matches dst, or NULL. */
const struct rule *rules_first(const struct rule *rules, size_t n, const struct socks_addr *dst);
/* Formats a rule back as rule_parse accepts it ("*.example.com:443", "[fd00::/8]:443"). */
const char *rule_str(const struct rule *r, char *buf, size_t cap);

/* Loopback: 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104, and the name "localhost"
 * (and *.localhost). */
bool addr_is_loopback(const struct socks_addr *a);
/* Link-local (169.254/16, fe80::/10) including cloud metadata, and unspecified. */
bool addr_is_link_local(const struct socks_addr *a);

#endif

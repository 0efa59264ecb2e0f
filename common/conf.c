/* Proxy URLs and the socksify configuration: the file, the SOCKSIFY_* environment and
 * the final checks. Runs inside the shim, so it never allocates or exits, reads the
 * file with open/read/close only, and reports every problem as a message in err. */
#include "conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "nametable.h"
#include "util.h"

#define CONF_URL_SHOW 200 /* URLs in messages are cut here */

static char conf_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive ASCII equality of s[0..len) and a lower-case word. */
static bool conf_word_eq(const char *s, size_t len, const char *word)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (word[i] == '\0' || conf_lower(s[i]) != word[i])
			return false;
	return word[len] == '\0';
}

const char *proxy_type_name(enum proxy_type t)
{
	switch (t) {
	case PROXY_SOCKS5:
		return "socks5";
	case PROXY_SOCKS4:
		return "socks4";
	case PROXY_SOCKS4A:
		return "socks4a";
	case PROXY_HTTP:
		return "http";
	}
	return "?";
}

/* ---- proxy URLs ---- */

/* Copies url into buf for messages with everything between the first ':' of the
 * userinfo and the last '@' replaced by "***". The last '@', not the first, so a
 * password holding a raw '@' is still hidden whole. Control bytes become '?' and
 * long URLs are cut. */
static void url_mask(const char *url, char *buf, size_t cap)
{
	const char *auth = strstr(url, "://");
	const char *at, *colon;
	size_t o = 0, i, len = strlen(url);

	auth = auth != NULL ? auth + 3 : url;
	at = strrchr(auth, '@');
	colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (at == NULL) {
		/* "socks5://bob:secret" (the '@host' forgotten) reads as host "bob" with a
		 * bad port: a port that is not a number is masked too. */
		const char *rb = strrchr(auth, ']');
		const char *c2 = strrchr(rb != NULL ? rb : auth, ':');
		if (c2 != NULL) {
			const char *e2 = c2 + 1 + strcspn(c2 + 1, "/?#");
			const char *q;
			for (q = c2 + 1; q < e2; q++)
				if (*q < '0' || *q > '9') {
					colon = c2;
					at = e2;
					break;
				}
		}
	}
	for (i = 0; i < len && o + 1 < cap; i++) {
		const char *p = url + i;
		unsigned char c = (unsigned char)*p;

		if (colon != NULL && p == colon + 1) {
			size_t k;
			for (k = 0; k < 3 && o + 1 < cap; k++)
				buf[o++] = '*';
			/* Resume at the '@'; clear colon so an empty password cannot loop. */
			i = (size_t)(at - url) - 1;
			colon = NULL;
			continue;
		}
		if (o >= CONF_URL_SHOW) {
			for (; o + 1 < cap && o < CONF_URL_SHOW + 3; o++)
				buf[o] = '.';
			break;
		}
		buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	buf[o < cap ? o : cap - 1] = '\0';
}

__attribute__((format(printf, 4, 5))) static bool url_fail(const char *url, char *err,
							    size_t errlen, const char *fmt, ...)
{
	char shown[CONF_URL_SHOW + 8], why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	url_mask(url, shown, sizeof(shown));
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "invalid proxy URL '%s': %s", shown, why);
	return false;
}

static bool url_scheme(const char *s, size_t len, struct proxy *out)
{
	if (conf_word_eq(s, len, "socks5")) {
		out->type = PROXY_SOCKS5;
	} else if (conf_word_eq(s, len, "socks5h")) {
		out->type = PROXY_SOCKS5;
		out->socks5h = true;
	} else if (conf_word_eq(s, len, "socks4")) {
		out->type = PROXY_SOCKS4;
	} else if (conf_word_eq(s, len, "socks4a")) {
		out->type = PROXY_SOCKS4A;
	} else if (conf_word_eq(s, len, "http")) {
		out->type = PROXY_HTTP;
	} else {
		return false;
	}
	return true;
}

/* True when every '%' in [s, s+len) starts a valid escape, so a failing pct_decode
 * can be reported as "too long" rather than "bad escape" without a scratch copy. */
static bool url_escapes_ok(const char *s, size_t len)
{
	char one[2];
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == '%') {
			if (len - i < 3 || !pct_decode(s + i, 3, one, sizeof(one)))
				return false;
			i += 2;
		}
	return true;
}

/* USER[:PASSWORD] from [s, s+len): percent-decoded into out. */
static bool url_userinfo(const char *url, const char *s, size_t len, struct proxy *out,
			 char *err, size_t errlen)
{
	const char *colon = memchr(s, ':', len);
	size_t ulen = colon != NULL ? (size_t)(colon - s) : len;
	size_t plen = colon != NULL ? len - ulen - 1 : 0;

	if (ulen == 0)
		return url_fail(url, err, errlen, "empty user name before '@'");
	if (!url_escapes_ok(s, ulen))
		return url_fail(url, err, errlen, "bad percent escape in user name");
	if (!pct_decode(s, ulen, out->user, sizeof(out->user)))
		return url_fail(url, err, errlen, "user name too long (max %d bytes)",
				SOCKS_USER_MAX);
	if (colon == NULL) {
		out->has_auth = true;
		return true;
	}
	/* SOCKS4 has a USERID field and nowhere to put a password: refuse rather than
	 * silently drop it. */
	if (out->type == PROXY_SOCKS4 || out->type == PROXY_SOCKS4A)
		return url_fail(url, err, errlen, "%s carries a user id but no password",
				proxy_type_name(out->type));
	if (!url_escapes_ok(colon + 1, plen))
		return url_fail(url, err, errlen, "bad percent escape in password");
	if (!pct_decode(colon + 1, plen, out->pass, sizeof(out->pass)))
		return url_fail(url, err, errlen, "password too long (max %d bytes)",
				SOCKS_USER_MAX);
	out->has_auth = true;
	return true;
}

/* HOST[:PORT] from [s, s+len). */
static bool url_hostport(const char *url, const char *s, size_t len, struct proxy *out,
			 char *err, size_t errlen)
{
	const char *hend, *port_s = NULL, *end = s + len;
	size_t hlen, plen = 0;
	char portbuf[16];
	unsigned long port = 1080;

	if (len > 0 && s[0] == '[') {
		uint8_t b[16];
		hend = memchr(s, ']', len);
		if (hend == NULL)
			return url_fail(url, err, errlen, "bad IPv6 brackets: missing ']'");
		hlen = (size_t)(hend - s - 1);
		if (hlen == 0 || hlen >= sizeof(out->host))
			return url_fail(url, err, errlen, "bad IPv6 brackets: empty or too long");
		memcpy(out->host, s + 1, hlen);
		out->host[hlen] = '\0';
		if (inet_pton(AF_INET6, out->host, b) != 1)
			return url_fail(url, err, errlen, "bad IPv6 address in brackets");
		hend++;
		if (hend < end && *hend != ':')
			return url_fail(url, err, errlen, "bad IPv6 brackets: text after ']'");
	} else {
		hend = memchr(s, ':', len);
		if (hend == NULL)
			hend = end;
		hlen = (size_t)(hend - s);
		if (memchr(s, '[', len) != NULL || memchr(s, ']', len) != NULL)
			return url_fail(url, err, errlen, "bad IPv6 brackets");
		if (hend < end && memchr(hend + 1, ':', (size_t)(end - hend - 1)) != NULL)
			return url_fail(url, err, errlen,
					"an IPv6 address needs brackets: [ADDR]:PORT");
		if (hlen == 0)
			return url_fail(url, err, errlen, "missing host");
		if (hlen >= sizeof(out->host))
			return url_fail(url, err, errlen, "host name too long");
		memcpy(out->host, s, hlen);
		out->host[hlen] = '\0';
		if (!addr_valid_name(out->host))
			return url_fail(url, err, errlen, "bad host name");
	}
	if (out->host[0] == '\0')
		return url_fail(url, err, errlen, "missing host");
	if (hend < end) { /* *hend == ':' */
		port_s = hend + 1;
		plen = (size_t)(end - port_s);
		if (plen == 0)
			return url_fail(url, err, errlen, "missing port after ':'");
		if (plen >= sizeof(portbuf)) {
			size_t i;
			for (i = 0; i < plen; i++)
				if (port_s[i] < '0' || port_s[i] > '9')
					return url_fail(url, err, errlen, "bad port");
			return url_fail(url, err, errlen, "port out of range");
		}
		memcpy(portbuf, port_s, plen);
		portbuf[plen] = '\0';
		if (!parse_ulong(portbuf, 0, ULONG_MAX, &port))
			return url_fail(url, err, errlen, "bad port");
		if (port < 1 || port > 65535)
			return url_fail(url, err, errlen, "port out of range");
	}
	out->port = (uint16_t)port;
	return true;
}

bool proxy_url_parse(const char *url, struct proxy *out, char *err, size_t errlen)
{
	const char *sep, *auth, *end, *at;
	size_t len;
	bool ok = false;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	len = strnlen(url, URL_MAX + 1);
	if (len == 0) {
		url_fail(url, err, errlen, "empty URL");
		goto out;
	}
	if (len > URL_MAX) {
		url_fail(url, err, errlen, "URL too long (max %d bytes)", URL_MAX);
		goto out;
	}
	sep = strstr(url, "://");
	if (sep == NULL) {
		url_fail(url, err, errlen,
			 "missing scheme (expected socks5://, socks5h://, socks4://, socks4a:// "
			 "or http://)");
		goto out;
	}
	if (!url_scheme(url, (size_t)(sep - url), out)) {
		url_fail(url, err, errlen,
			 "unknown scheme '%.*s' (expected socks5, socks5h, socks4, socks4a or http)",
			 (int)((size_t)(sep - url) < 16 ? sep - url : 16), url);
		goto out;
	}
	auth = sep + 3;
	end = url + len;
	at = NULL;
	/* The last '@' ends the userinfo: a raw '@' in a password is an easy mistake and
	 * taking the first one would send the tail of the password as the host name. */
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	{
		const char *hoststart = at != NULL ? at + 1 : auth;
		const char *slash = memchr(hoststart, '/', (size_t)(end - hoststart));
		const char *q = strpbrk(hoststart, "?#");

		if (q != NULL && (slash == NULL || q < slash))
			slash = q;
		if (slash != NULL) {
			/* A lone trailing '/' is how many tools print a proxy URL; anything
			 * more is a path a proxy URL cannot have. */
			if (!(slash[0] == '/' && slash + 1 == end)) {
				url_fail(url, err, errlen, "unexpected path after the host");
				goto out;
			}
			end = slash;
		}
		if (at != NULL &&
		    !url_userinfo(url, auth, (size_t)(at - auth), out, err, errlen))
			goto out;
		if (!url_hostport(url, hoststart, (size_t)(end - hoststart), out, err, errlen))
			goto out;
	}
	ok = true;
out:
	if (!ok)
		explicit_bzero(out, sizeof(*out));
	return ok;
}

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static void url_pct_encode(const char *s, char *buf, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s && o + 1 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			buf[o++] = (char)c;
		} else {
			if (o + 4 > cap)
				break;
			buf[o++] = '%';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
}

const char *proxy_url_str(const struct proxy *p, char *buf, size_t cap)
{
	char user[3 * SOCKS_USER_MAX + 1] = "";
	const char *scheme = p->socks5h ? "socks5h" : proxy_type_name(p->type);
	bool v6 = strchr(p->host, ':') != NULL;
	bool show_pass = p->has_auth && p->type != PROXY_SOCKS4 && p->type != PROXY_SOCKS4A;

	if (cap == 0)
		return buf;
	if (p->has_auth)
		url_pct_encode(p->user, user, sizeof(user));
	snprintf(buf, cap, "%s://%s%s%s%s%s%s:%u", scheme, user, show_pass ? ":***" : "",
		 p->has_auth ? "@" : "", v6 ? "[" : "", p->host, v6 ? "]" : "",
		 (unsigned)p->port);
	return buf;
}

/* ---- configuration ---- */

void conf_defaults(struct socksify_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->chain = CHAIN_STRICT;
	c->dns = DNS_REMOTE;
	c->udp = UDP_PROXY;
	c->connect_timeout_ms = CONF_DEFAULT_TIMEOUT_MS;
	c->pipeline = PIPELINE_AUTO;
	c->log_level = LOG_WARN;
	str_copy(c->fake_net4, NT_DEFAULT_NET4, sizeof(c->fake_net4));
	str_copy(c->fake_net6, NT_DEFAULT_NET6, sizeof(c->fake_net6));
	c->fake_grace_s = NT_DEFAULT_GRACE_S;
	c->dns_unspec = DNS_UNSPEC_BOTH;
	str_copy(c->hosts_file, CONF_DEFAULT_HOSTS, sizeof(c->hosts_file));
}

const char *conf_chain_name(enum chain_type t)
{
	static const char *const names[] = { "strict", "dynamic", "random", "round_robin" };
	return (unsigned)t < 4 ? names[t] : "?";
}

const char *conf_dns_name(enum dns_mode m)
{
	return m == DNS_LOCAL ? "local" : "remote";
}

const char *conf_udp_name(enum udp_mode m)
{
	static const char *const names[] = { "proxy", "block", "direct" };
	return (unsigned)m < 3 ? names[m] : "?";
}

const char *conf_unspec_name(enum dns_unspec u)
{
	static const char *const names[] = { "both", "ipv4", "ipv6" };
	return (unsigned)u < 3 ? names[u] : "?";
}

const char *conf_dns_summary(const struct socksify_conf *c, char *buf, size_t cap)
{
	snprintf(buf, cap, "remote DNS: fake_net4=%s, fake_net6=%s, fake_grace=%u s, "
		 "dns_unspec=%s, hosts_file=%s", c->fake_net4, c->fake_net6, c->fake_grace_s,
		 conf_unspec_name(c->dns_unspec), c->hosts_file[0] ? c->hosts_file : "none");
	return buf;
}

bool conf_parse_level(const char *s, enum log_level *out)
{
	size_t len = strlen(s);

	if (conf_word_eq(s, len, "error") || conf_word_eq(s, len, "0"))
		*out = LOG_ERROR;
	else if (conf_word_eq(s, len, "warn") || conf_word_eq(s, len, "warning") ||
		 conf_word_eq(s, len, "1"))
		*out = LOG_WARN;
	else if (conf_word_eq(s, len, "info") || conf_word_eq(s, len, "2"))
		*out = LOG_INFO;
	else if (conf_word_eq(s, len, "debug") || conf_word_eq(s, len, "3"))
		*out = LOG_DEBUG;
	else
		return false;
	return true;
}

/* A config key or keyword: [A-Za-z0-9_-]+. Anything else is not echoed in messages,
 * since a stray line may well be a proxy URL with its password. */
static bool conf_is_word(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return false;
	return len > 0;
}

/* Picks value from a NULL-terminated list of lower-case words; returns its index. */
static int conf_pick(const char *value, const char *const *words)
{
	size_t len = strlen(value);
	int i;

	for (i = 0; words[i] != NULL; i++)
		if (conf_word_eq(value, len, words[i]))
			return i;
	return -1;
}

bool conf_parse_dns(const char *s, enum dns_mode *out)
{
	static const char *const dnss[] = { "remote", "local", NULL };
	int i = conf_pick(s, dnss);

	if (i < 0)
		return false;
	*out = (enum dns_mode)i;
	return true;
}

/* fake_net4: a CIDR the name table accepts, wide enough for every name it holds (the
 * network and last addresses are never handed out). */
static bool conf_fake_net4(struct socksify_conf *c, const char *value, char *expect, size_t cap)
{
	uint64_t names = (uint64_t)NT_DEFAULT_NSMALL + NT_DEFAULT_NLONG;
	unsigned widest = 32;
	struct nt_params p;

	while (widest > 1 && (1ull << (32 - widest)) < names + 2)
		widest--;
	snprintf(expect, cap, "an IPv4 CIDR of /%u or wider (the table holds %llu names)", widest,
		 (unsigned long long)names);
	nt_params_default(&p);
	if (!nt_params_set_net4(&p, value) || p.prefix4 > widest ||
	    str_copy(c->fake_net4, value, sizeof(c->fake_net4)) >= sizeof(c->fake_net4)) {
		str_copy(c->fake_net4, NT_DEFAULT_NET4, sizeof(c->fake_net4));
		return false;
	}
	return true;
}

static bool conf_fake_net6(struct socksify_conf *c, const char *value)
{
	struct nt_params p;

	nt_params_default(&p);
	if (!nt_params_set_net6(&p, value) ||
	    str_copy(c->fake_net6, value, sizeof(c->fake_net6)) >= sizeof(c->fake_net6)) {
		str_copy(c->fake_net6, NT_DEFAULT_NET6, sizeof(c->fake_net6));
		return false;
	}
	return true;
}

/* hosts_file: an absolute path (the program may chdir), or none. */
static bool conf_hosts_file(struct socksify_conf *c, const char *value)
{
	size_t len = strlen(value);

	if (conf_word_eq(value, len, "none")) {
		c->hosts_file[0] = '\0';
		return true;
	}
	if (value[0] != '/' || len >= sizeof(c->hosts_file))
		return false;
	memcpy(c->hosts_file, value, len + 1);
	return true;
}

/* "WHERE: " or nothing, so messages read the same from files and variables. */
static const char *conf_where_sep(const char *where)
{
	return where != NULL && where[0] != '\0' ? ": " : "";
}

#define WHERE(w) ((w) != NULL ? (w) : ""), conf_where_sep(w)

static bool conf_add_proxy(struct socksify_conf *c, const char *url, const char *where,
			   char *err, size_t errlen)
{
	char why[512]; /* url_fail's message: a cut URL and a short reason */

	if (c->nproxies >= CONF_MAX_PROXIES) {
		snprintf(err, errlen, "%s%stoo many proxies (at most %d)", WHERE(where),
			 CONF_MAX_PROXIES);
		return false;
	}
	if (!proxy_url_parse(url, &c->proxies[c->nproxies], why, sizeof(why))) {
		snprintf(err, errlen, "%s%s%s", WHERE(where), why);
		return false;
	}
	c->nproxies++;
	return true;
}

static bool conf_add_rule(struct rule *rules, size_t *n, const char *key, const char *value,
			  const char *where, char *err, size_t errlen)
{
	char why[SOCKS_NAME_MAX + 64];

	if (*n >= CONF_MAX_RULES) {
		snprintf(err, errlen, "%s%stoo many %s rules (at most %d)", WHERE(where), key,
			 CONF_MAX_RULES);
		return false;
	}
	if (!rule_parse(value, &rules[*n], why, sizeof(why))) {
		snprintf(err, errlen, "%s%sbad %s rule '%.*s': %s", WHERE(where), key,
			 SOCKS_NAME_MAX, value, why);
		return false;
	}
	(*n)++;
	return true;
}

bool conf_set(struct socksify_conf *c, const char *key, const char *value, const char *where,
	      char *err, size_t errlen)
{
	static const char *const chains[] = { "strict", "dynamic", "random", "round_robin", NULL };
	static const char *const udps[] = { "proxy", "block", "direct", NULL };
	static const char *const unspecs[] = { "both", "ipv4", "ipv6", NULL };
	static const char *const pipes[] = { "auto", "on", "off", NULL };
	const char *expect = NULL;
	char expect_buf[96];
	unsigned long n;
	int i;

	if (value == NULL || value[0] == '\0') {
		snprintf(err, errlen, "%s%smissing value for '%.64s'", WHERE(where), key);
		return false;
	}
	if (strcmp(key, "proxy") == 0)
		return conf_add_proxy(c, value, where, err, errlen);
	if (strcmp(key, "direct") == 0)
		return conf_add_rule(c->direct, &c->ndirect, key, value, where, err, errlen);
	if (strcmp(key, "block") == 0)
		return conf_add_rule(c->block, &c->nblock, key, value, where, err, errlen);
	if (strcmp(key, "chain") == 0) {
		if ((i = conf_pick(value, chains)) >= 0) {
			c->chain = (enum chain_type)i;
			return true;
		}
		expect = "strict, dynamic, random or round_robin";
	} else if (strcmp(key, "chain_len") == 0) {
		if (parse_ulong(value, 1, CONF_MAX_PROXIES, &n)) {
			c->chain_len = (unsigned)n;
			return true;
		}
		expect = "a number from 1 to 16";
	} else if (strcmp(key, "dns") == 0) {
		if (conf_parse_dns(value, &c->dns))
			return true;
		expect = "remote or local";
	} else if (strcmp(key, "fake_net4") == 0) {
		if (conf_fake_net4(c, value, expect_buf, sizeof(expect_buf)))
			return true;
		expect = expect_buf;
	} else if (strcmp(key, "fake_net6") == 0) {
		if (conf_fake_net6(c, value))
			return true;
		expect = "an IPv6 /96, ADDR/96";
	} else if (strcmp(key, "fake_grace") == 0) {
		if (parse_ulong(value, 1, 365ul * 86400, &n)) {
			c->fake_grace_s = (unsigned)n;
			return true;
		}
		expect = "seconds, 1 to 31536000";
	} else if (strcmp(key, "dns_unspec") == 0) {
		if ((i = conf_pick(value, unspecs)) >= 0) {
			c->dns_unspec = (enum dns_unspec)i;
			return true;
		}
		expect = "both, ipv4 or ipv6";
	} else if (strcmp(key, "hosts_file") == 0) {
		if (conf_hosts_file(c, value))
			return true;
		expect = "an absolute path or none";
	} else if (strcmp(key, "udp") == 0) {
		if ((i = conf_pick(value, udps)) >= 0) {
			c->udp = (enum udp_mode)i;
			return true;
		}
		expect = "proxy, block or direct";
	} else if (strcmp(key, "connect_timeout") == 0) {
		if (parse_ulong(value, 1, 3600000, &n)) {
			c->connect_timeout_ms = (unsigned)n;
			return true;
		}
		expect = "milliseconds, 1 to 3600000";
	} else if (strcmp(key, "pipeline") == 0) {
		if ((i = conf_pick(value, pipes)) >= 0) {
			c->pipeline = (enum pipeline_mode)i;
			return true;
		}
		expect = "auto, on or off";
	} else if (strcmp(key, "log") == 0) {
		if (conf_parse_level(value, &c->log_level))
			return true;
		expect = "error, warn, info or debug";
	} else if (strcmp(key, "exclude_program") == 0) {
		if (c->nexclude >= CONF_MAX_EXCLUDES) {
			snprintf(err, errlen, "%s%stoo many exclude_program patterns (at most %d)",
				 WHERE(where), CONF_MAX_EXCLUDES);
			return false;
		}
		if (str_copy(c->exclude[c->nexclude], value, CONF_PATH_MAX) < CONF_PATH_MAX) {
			c->nexclude++;
			return true;
		}
		c->exclude[c->nexclude][0] = '\0';
		expect = "a pattern shorter than 512 bytes";
	} else if (strcmp(key, "log_file") == 0) {
		if (str_copy(c->log_file, value, sizeof(c->log_file)) < sizeof(c->log_file))
			return true;
		c->log_file[0] = '\0';
		expect = "a path shorter than 512 bytes";
	} else {
		if (conf_is_word(key, strlen(key)))
			snprintf(err, errlen, "%s%sunknown key '%.64s'", WHERE(where), key);
		else
			snprintf(err, errlen, "%s%sunknown key (not a name)", WHERE(where));
		return false;
	}
	snprintf(err, errlen, "%s%sbad value '%.128s' for %s (expected %s)", WHERE(where), value,
		 key, expect);
	return false;
}

/* ---- the file ---- */

static bool conf_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* One line, NUL-terminated and without its '\n'. Cuts comments, splits at the first
 * '=', trims both sides and applies it. */
static bool conf_line(struct socksify_conf *c, char *line, const char *path, unsigned lineno,
		      char *err, size_t errlen)
{
	char where[CONF_PATH_MAX + 24];
	char *key, *value, *eq, *p, *end;

	snprintf(where, sizeof(where), "%s:%u", path != NULL ? path : "(config)", lineno);
	/* '#' starts a comment at the line start or after blank space, so a '#' inside
	 * a value (a password, a path) survives. */
	for (p = line; *p; p++)
		if (*p == '#' && (p == line || conf_is_space(p[-1]))) {
			*p = '\0';
			break;
		}
	for (key = line; conf_is_space(*key); key++)
		;
	if (*key == '\0')
		return true;
	eq = strchr(key, '=');
	if (eq == NULL) {
		/* Echo only a leading word: the rest may be a URL with a password. */
		size_t n = strcspn(key, " \t\r");
		if (n > 0 && n <= 32 && conf_is_word(key, n))
			snprintf(err, errlen, "%s: expected 'key = value' after '%.*s'", where,
				 (int)n, key);
		else
			snprintf(err, errlen, "%s: expected 'key = value'", where);
		return false;
	}
	value = eq + 1;
	for (end = eq; end > key && conf_is_space(end[-1]); end--)
		;
	*end = '\0';
	if (*key == '\0') {
		snprintf(err, errlen, "%s: missing key before '='", where);
		return false;
	}
	while (conf_is_space(*value))
		value++;
	for (end = value + strlen(value); end > value && conf_is_space(end[-1]); end--)
		;
	*end = '\0';
	return conf_set(c, key, value, where, err, errlen);
}

/* Cuts a stream of bytes into lines, so the buffer and the file paths share one
 * parser with one set of limits. */
struct conf_reader {
	struct socksify_conf *c;
	const char *path;
	char line[CONF_LINE_MAX + 1];
	size_t len;
	unsigned lineno;
	bool too_long;
	bool nul;
};

static bool conf_reader_end_line(struct conf_reader *r, char *err, size_t errlen)
{
	r->lineno++;
	if (r->nul) {
		snprintf(err, errlen, "%s:%u: NUL byte in line", r->path, r->lineno);
		return false;
	}
	if (r->too_long) {
		snprintf(err, errlen, "%s:%u: line too long (max %d bytes)", r->path, r->lineno,
			 CONF_LINE_MAX);
		return false;
	}
	r->line[r->len] = '\0';
	r->len = 0;
	return conf_line(r->c, r->line, r->path, r->lineno, err, errlen);
}

static bool conf_reader_feed(struct conf_reader *r, const char *buf, size_t n, char *err,
			     size_t errlen)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			if (!conf_reader_end_line(r, err, errlen))
				return false;
			continue;
		}
		if (buf[i] == '\0')
			r->nul = true;
		if (r->len < CONF_LINE_MAX)
			r->line[r->len++] = buf[i];
		else
			r->too_long = true;
	}
	return true;
}

static bool conf_reader_finish(struct conf_reader *r, char *err, size_t errlen)
{
	if (r->len == 0 && !r->too_long && !r->nul)
		return true;
	return conf_reader_end_line(r, err, errlen);
}

static void conf_reader_init(struct conf_reader *r, struct socksify_conf *c, const char *path)
{
	r->c = c;
	r->path = path != NULL ? path : "(config)";
	r->len = 0;
	r->lineno = 0;
	r->too_long = r->nul = false;
	str_copy(c->source, path != NULL ? path : "", sizeof(c->source));
}

/* The byte past the limit is on the line being read: name it, like every other error. */
static bool conf_too_large(const struct conf_reader *r, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s:%u: file too large (max %d bytes)", r->path, r->lineno + 1,
		 CONF_FILE_MAX);
	return false;
}

bool conf_load_buf(struct socksify_conf *c, const char *buf, size_t len, const char *path,
		   char *err, size_t errlen)
{
	struct conf_reader r;

	conf_reader_init(&r, c, path);
	if (len > CONF_FILE_MAX) {
		conf_reader_feed(&r, buf, CONF_FILE_MAX, err, errlen);
		return conf_too_large(&r, err, errlen);
	}
	return conf_reader_feed(&r, buf, len, err, errlen) && conf_reader_finish(&r, err, errlen);
}

/* A set, non-empty variable, from getenv or a stand-in for it. */
static const char *conf_getenv(const char *(*get)(const char *), const char *name)
{
	const char *v = get != NULL ? get(name) : getenv(name);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* strerror() may translate, and translating may allocate: use the C text. */
static const char *conf_strerror(int e)
{
	const char *s = strerrordesc_np(e);
	return s != NULL ? s : "unknown error";
}

/* Why an open config file is not one to read, or NULL. Checked on the fd, so what is
 * checked is what gets read. */
static const char *conf_bad_kind(const struct stat *st)
{
	if (S_ISREG(st->st_mode))
		return NULL;
	if (S_ISDIR(st->st_mode))
		return "not a regular file (a directory)";
	if (S_ISFIFO(st->st_mode))
		return "not a regular file (a FIFO)";
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		return "not a regular file (a device)";
	if (S_ISSOCK(st->st_mode))
		return "not a regular file (a socket)";
	return "not a regular file";
}

static bool conf_read_fd(struct socksify_conf *c, int fd, const char *path, char *err,
			 size_t errlen, int *e)
{
	struct conf_reader r;
	char chunk[1024]; /* small: this may run on a host program's thread stack */
	size_t total = 0;

	conf_reader_init(&r, c, path);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*e = errno;
			snprintf(err, errlen, "cannot read config file %s: %s", path,
				 conf_strerror(*e));
			return false;
		}
		if (n == 0)
			break;
		if (total + (size_t)n > CONF_FILE_MAX) {
			*e = EFBIG;
			conf_reader_feed(&r, chunk, CONF_FILE_MAX - total, err, errlen);
			return conf_too_large(&r, err, errlen);
		}
		total += (size_t)n;
		if (!conf_reader_feed(&r, chunk, (size_t)n, err, errlen)) {
			*e = EINVAL;
			return false;
		}
	}
	if (!conf_reader_finish(&r, err, errlen)) {
		*e = EINVAL;
		return false;
	}
	return true;
}

/* Opens non-blocking (a FIFO nobody writes to cannot hang the program), checks the
 * type (and for trusted, the owner and mode) on the fd, then reads. */
static bool conf_load(struct socksify_conf *c, const char *path, bool trusted, char *err,
		      size_t errlen)
{
	struct stat st;
	const char *why;
	bool ok = false;
	int fd, e = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (trusted ? O_NOFOLLOW : 0));
	if (fd < 0) {
		e = errno;
		if (trusted && e == ELOOP)
			snprintf(err, errlen, "%s: a symbolic link, not trusted", path);
		else
			snprintf(err, errlen, "cannot open config file %s: %s", path,
				 conf_strerror(e));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		e = errno;
		snprintf(err, errlen, "cannot read config file %s: %s", path, conf_strerror(e));
		goto out;
	}
	if ((why = conf_bad_kind(&st)) != NULL) {
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		snprintf(err, errlen, "%s: %s", path, why);
		goto out;
	}
	/* A set-user-ID program must not take its proxy from a file another user could
	 * have written: refused, and the caller fails closed. */
	if (trusted && (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)) {
		e = EPERM;
		snprintf(err, errlen,
			 "%s: not trusted (owner uid %u, mode %04o; needs root and no group or "
			 "other write permission)",
			 path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	ok = conf_read_fd(c, fd, path, err, errlen, &e);
out:
	if (fd >= 0)
		close(fd);
	/* The caller tells "no such file" (fine) from "bad file" (fatal) by errno. */
	if (!ok)
		errno = e;
	return ok;
}

bool conf_load_file(struct socksify_conf *c, const char *path, char *err, size_t errlen)
{
	return conf_load(c, path, false, err, errlen);
}

bool conf_load_trusted(struct socksify_conf *c, const char *path, char *err, size_t errlen)
{
	return conf_load(c, path, true, err, errlen);
}

static bool conf_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static bool conf_put_path(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
	if (str_copy(out, path, cap) < cap)
		return true;
	out[0] = '\0';
	snprintf(err, errlen, "config file path too long: %.64s...", path);
	return false;
}

bool conf_find(const char *named, bool secure, const char *(*get)(const char *), char *out,
	       size_t cap, char *err, size_t errlen)
{
	char path[CONF_PATH_MAX];
	const char *home;
	int n;

	out[0] = '\0';
	if (!secure) {
		if (named == NULL || named[0] == '\0')
			named = conf_getenv(get, "SOCKSIFY_CONF");
		if (named != NULL) {
			if (!conf_exists(named)) {
				snprintf(err, errlen, "config file %s: %s", named,
					 conf_strerror(errno));
				return false;
			}
			return conf_put_path(named, out, cap, err, errlen);
		}
		home = conf_getenv(get, "HOME");
		if (home != NULL) {
			n = snprintf(path, sizeof(path), "%s/.config/socksify/socksify.conf", home);
			if (n > 0 && (size_t)n < sizeof(path) && conf_exists(path))
				return conf_put_path(path, out, cap, err, errlen);
		}
	}
	if (conf_exists(CONF_SYSTEM_PATH))
		return conf_put_path(CONF_SYSTEM_PATH, out, cap, err, errlen);
	return true;
}

bool conf_excludes(const struct socksify_conf *c, const char *exe)
{
	const char *base = strrchr(exe, '/');

	base = base != NULL ? base + 1 : exe;
	for (size_t i = 0; i < c->nexclude; i++) {
		const char *pat = c->exclude[i];
		if (fnmatch(pat, strchr(pat, '/') != NULL ? exe : base, 0) == 0)
			return true;
	}
	return false;
}

/* ---- environment ---- */

/* Calls fn on each trimmed comma-separated element of list. */
static bool conf_each_item(struct socksify_conf *c, const char *list, const char *var,
			   bool (*fn)(struct socksify_conf *, const char *, const char *, char *,
				      size_t),
			   char *err, size_t errlen)
{
	char item[URL_MAX + 1];
	const char *p = list;

	for (;;) {
		const char *comma = strchr(p, ',');
		const char *e = comma != NULL ? comma : p + strlen(p);
		const char *s = p;

		while (s < e && conf_is_space(*s))
			s++;
		while (e > s && conf_is_space(e[-1]))
			e--;
		if (e == s) {
			snprintf(err, errlen, "%s: empty element in comma-separated list", var);
			return false;
		}
		if ((size_t)(e - s) > URL_MAX) {
			snprintf(err, errlen, "%s: element too long (max %d bytes)", var, URL_MAX);
			return false;
		}
		memcpy(item, s, (size_t)(e - s));
		item[e - s] = '\0';
		if (!fn(c, item, var, err, errlen)) {
			explicit_bzero(item, sizeof(item));
			return false;
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	explicit_bzero(item, sizeof(item));
	return true;
}

static bool conf_env_proxy(struct socksify_conf *c, const char *v, const char *var, char *err,
			   size_t errlen)
{
	return conf_add_proxy(c, v, var, err, errlen);
}

static bool conf_env_direct(struct socksify_conf *c, const char *v, const char *var, char *err,
			    size_t errlen)
{
	return conf_add_rule(c->direct, &c->ndirect, "direct", v, var, err, errlen);
}


bool conf_apply_env(struct socksify_conf *c, const char *(*get)(const char *), char *err,
		    size_t errlen)
{
	static const struct {
		const char *var, *key;
	} simple[] = {
		{ "SOCKSIFY_DNS", "dns" },
		{ "SOCKSIFY_UDP", "udp" },
		{ "SOCKSIFY_LOG", "log" },
		{ "SOCKSIFY_LOG_FILE", "log_file" },
		{ "SOCKSIFY_FAKE_NET4", "fake_net4" },
		{ "SOCKSIFY_FAKE_NET6", "fake_net6" },
		{ "SOCKSIFY_FAKE_GRACE", "fake_grace" },
		{ "SOCKSIFY_DNS_UNSPEC", "dns_unspec" },
		{ "SOCKSIFY_HOSTS_FILE", "hosts_file" },
	};
	const char *v;
	size_t i;

	if ((v = conf_getenv(get, "SOCKSIFY_PROXY")) != NULL) {
		/* The variable is the whole chain: it replaces the file's proxies. */
		c->nproxies = 0;
		explicit_bzero(c->proxies, sizeof(c->proxies));
		if (!conf_each_item(c, v, "SOCKSIFY_PROXY", conf_env_proxy, err, errlen))
			return false;
	}
	if ((v = conf_getenv(get, "SOCKSIFY_DIRECT")) != NULL &&
	    !conf_each_item(c, v, "SOCKSIFY_DIRECT", conf_env_direct, err, errlen))
		return false;
	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if ((v = conf_getenv(get, simple[i].var)) != NULL &&
		    !conf_set(c, simple[i].key, v, simple[i].var, err, errlen))
			return false;
	/* Set but empty: no hosts file (every name is remote), as before it had a key. */
	v = get != NULL ? get("SOCKSIFY_HOSTS_FILE") : getenv("SOCKSIFY_HOSTS_FILE");
	if (v != NULL && v[0] == '\0')
		c->hosts_file[0] = '\0';
	return true;
}

bool conf_finish(struct socksify_conf *c, char *err, size_t errlen)
{
	char url[URL_MAX];
	const struct proxy *last;

	if (c->nproxies == 0 && !conf_add_proxy(c, CONF_DEFAULT_PROXY, "default", err, errlen))
		return false;
	last = &c->proxies[c->nproxies - 1];
	/* The last hop receives the destination; socks4 can only carry an address. */
	if (c->dns == DNS_REMOTE && last->type == PROXY_SOCKS4) {
		snprintf(err, errlen,
			 "dns=remote needs a last hop that resolves names, but %s is socks4: "
			 "use socks4a:// (or dns = local)",
			 proxy_url_str(last, url, sizeof(url)));
		return false;
	}
	if (c->chain_len > c->nproxies) {
		snprintf(err, errlen, "chain_len %u is more than the %zu configured prox%s",
			 c->chain_len, c->nproxies, c->nproxies == 1 ? "y" : "ies");
		return false;
	}
	return true;
}

/* SOCKS4/4a, SOCKS5 (RFC 1928 + RFC 1929) and HTTP CONNECT wire codecs over plain
 * buffers. No I/O and no allocation: parsers read a view of the caller's receive buffer
 * and consume nothing until a whole message is there, so segmentation and pipelining
 * are handled by construction (see socks.h for the return-value contract). */
#include "socks.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"

const char *codec_strerror(int rc)
{
	switch (rc) {
	case CODEC_DONE: return "done";
	case CODEC_NEED_MORE: return "need more bytes";
	case CODEC_EVERSION: return "wrong protocol version";
	case CODEC_ELENGTH: return "bad length field";
	case CODEC_EATYP: return "unknown address type";
	case CODEC_EFIELD: return "oversize or malformed field";
	case CODEC_ENOSPC: return "output buffer too small";
	case CODEC_ESYNTAX: return "HTTP syntax error";
	case CODEC_ECMD: return "unsupported command or method";
	}
	return "unknown codec error";
}

/* ---- shared address helpers ---- */

/* Length of a domain name held in a socks_addr, or 0 when it is empty or does not
 * fit the one-byte wire length (the array may be unterminated in a bad struct). */
static size_t name_len(const struct socks_addr *a)
{
	size_t n = strnlen(a->u.name, sizeof(a->u.name));
	return n > SOCKS_NAME_MAX ? 0 : n;
}

size_t socks_addr_wire_len(const struct socks_addr *a)
{
	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4: return 1 + 4 + 2;
	case SOCKS5_ATYP_IPV6: return 1 + 16 + 2;
	case SOCKS5_ATYP_DOMAINNAME: return 1 + 1 + name_len(a) + 2;
	}
	return 0; /* unknown ATYP: nothing can be written */
}

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Whether an address can go on the wire at all: a known ATYP, and a name of
 * 1..255 bytes. Builders check this before the buffer size, so a caller learns the
 * real problem whatever its buffer. */
static int addr_check(const struct socks_addr *a)
{
	if (socks_addr_wire_len(a) == 0)
		return CODEC_EATYP;
	if (a->atyp == SOCKS5_ATYP_DOMAINNAME && name_len(a) == 0)
		return CODEC_EFIELD;
	return 0;
}

/* Writes three header bytes then ATYP ADDR PORT: the layout of SOCKS5 requests,
 * replies (VER CMD/REP RSV) and UDP headers (RSV RSV FRAG). */
static ssize_t put_hdr_addr(uint8_t *p, size_t cap, uint8_t b0, uint8_t b1, uint8_t b2,
			    const struct socks_addr *a)
{
	size_t n = 3 + socks_addr_wire_len(a);
	int rc = addr_check(a);

	if (rc)
		return rc;
	if (cap < n)
		return CODEC_ENOSPC;
	p[0] = b0;
	p[1] = b1;
	p[2] = b2;
	p[3] = a->atyp;
	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4: memcpy(p + 4, a->u.v4, 4); break;
	case SOCKS5_ATYP_IPV6: memcpy(p + 4, a->u.v6, 16); break;
	default:
		p[4] = (uint8_t)name_len(a);
		memcpy(p + 5, a->u.name, p[4]);
		break;
	}
	put_u16(p + n - 2, a->port);
	return (ssize_t)n;
}

/* Reads ATYP ADDR PORT from p[0..len). On DONE *used is its wire length. A name of
 * length 0 or holding a NUL byte is EFIELD: it could not be passed on as a C string
 * without changing meaning. */
static int get_addr(const uint8_t *p, size_t len, size_t *used, struct socks_addr *out)
{
	size_t n;

	if (len < 1)
		return CODEC_NEED_MORE;
	switch (p[0]) {
	case SOCKS5_ATYP_IPV4: n = 1 + 4 + 2; break;
	case SOCKS5_ATYP_IPV6: n = 1 + 16 + 2; break;
	case SOCKS5_ATYP_DOMAINNAME:
		if (len < 2)
			return CODEC_NEED_MORE;
		if (p[1] == 0)
			return CODEC_EFIELD;
		n = 1 + 1 + (size_t)p[1] + 2;
		break;
	default: return CODEC_EATYP;
	}
	if (len < n)
		return CODEC_NEED_MORE;
	if (p[0] == SOCKS5_ATYP_DOMAINNAME && memchr(p + 2, 0, p[1]))
		return CODEC_EFIELD;
	memset(out, 0, sizeof(*out));
	out->atyp = p[0];
	switch (p[0]) {
	case SOCKS5_ATYP_IPV4: memcpy(out->u.v4, p + 1, 4); break;
	case SOCKS5_ATYP_IPV6: memcpy(out->u.v6, p + 1, 16); break;
	default: memcpy(out->u.name, p + 2, p[1]); break;
	}
	out->port = get_u16(p + n - 2);
	*used = n;
	return CODEC_DONE;
}

/* ---- SOCKS5 method negotiation ---- */

ssize_t s5_build_greeting(uint8_t *buf, size_t cap, const uint8_t *methods, size_t n)
{
	if (n == 0 || n > 255)
		return CODEC_EFIELD;
	if (cap < 2 + n)
		return CODEC_ENOSPC;
	buf[0] = SOCKS5_VERSION;
	buf[1] = (uint8_t)n;
	memcpy(buf + 2, methods, n);
	return (ssize_t)(2 + n);
}

int s5_parse_greeting(const uint8_t *buf, size_t len, size_t *used, struct s5_greeting *out)
{
	/* Each check happens as soon as its byte is there, so a server can answer a
	 * wrong first byte without waiting for more. */
	if (len < 1)
		return CODEC_NEED_MORE;
	if (buf[0] != SOCKS5_VERSION)
		return CODEC_EVERSION;
	if (len < 2)
		return CODEC_NEED_MORE;
	if (buf[1] == 0)
		return CODEC_ELENGTH;
	if (len < 2 + (size_t)buf[1])
		return CODEC_NEED_MORE;
	out->nmethods = buf[1];
	memcpy(out->methods, buf + 2, buf[1]);
	*used = 2 + (size_t)buf[1];
	return CODEC_DONE;
}

bool s5_greeting_has(const struct s5_greeting *g, uint8_t method)
{
	return memchr(g->methods, method, g->nmethods) != NULL;
}

/* The two-byte messages (method selection, RFC 1929 status): VER, then one value. */
static ssize_t put_pair(uint8_t *buf, size_t cap, uint8_t ver, uint8_t value)
{
	if (cap < 2)
		return CODEC_ENOSPC;
	buf[0] = ver;
	buf[1] = value;
	return 2;
}

/* VER must be ver or alt; the version is judged as soon as its byte is in. */
static int get_pair(const uint8_t *buf, size_t len, size_t *used, uint8_t ver, uint8_t alt,
		    uint8_t *value)
{
	if (len < 1)
		return CODEC_NEED_MORE;
	if (buf[0] != ver && buf[0] != alt)
		return CODEC_EVERSION;
	if (len < 2)
		return CODEC_NEED_MORE;
	*value = buf[1];
	*used = 2;
	return CODEC_DONE;
}

ssize_t s5_build_method_reply(uint8_t *buf, size_t cap, uint8_t method)
{
	return put_pair(buf, cap, SOCKS5_VERSION, method);
}

int s5_parse_method_reply(const uint8_t *buf, size_t len, size_t *used, uint8_t *method)
{
	return get_pair(buf, len, used, SOCKS5_VERSION, SOCKS5_VERSION, method);
}

/* ---- RFC 1929 username/password ---- */

ssize_t s5_build_auth(uint8_t *buf, size_t cap, const char *user, const char *pass)
{
	size_t ulen, plen;

	/* NULL means empty: RFC 1929 allows ULEN/PLEN 0 on the wire, and we accept it. */
	if (!user)
		user = "";
	if (!pass)
		pass = "";
	ulen = strnlen(user, SOCKS_USER_MAX + 1);
	plen = strnlen(pass, SOCKS_USER_MAX + 1);
	if (ulen > SOCKS_USER_MAX || plen > SOCKS_USER_MAX)
		return CODEC_EFIELD;
	if (cap < 3 + ulen + plen)
		return CODEC_ENOSPC;
	buf[0] = SOCKS5_AUTH_VERSION;
	buf[1] = (uint8_t)ulen;
	memcpy(buf + 2, user, ulen);
	buf[2 + ulen] = (uint8_t)plen;
	memcpy(buf + 3 + ulen, pass, plen);
	return (ssize_t)(3 + ulen + plen);
}

int s5_parse_auth(const uint8_t *buf, size_t len, size_t *used, struct s5_auth *out)
{
	size_t ulen, plen;

	if (len < 1)
		return CODEC_NEED_MORE;
	if (buf[0] != SOCKS5_AUTH_VERSION)
		return CODEC_EVERSION;
	if (len < 2)
		return CODEC_NEED_MORE;
	ulen = buf[1];
	if (len < 3 + ulen)
		return CODEC_NEED_MORE;
	plen = buf[2 + ulen];
	if (len < 3 + ulen + plen)
		return CODEC_NEED_MORE;
	/* A NUL inside either field would truncate it as a C string: "alice\0x" must not
	 * authenticate as "alice". */
	if (memchr(buf + 2, 0, ulen) || memchr(buf + 3 + ulen, 0, plen))
		return CODEC_EFIELD;
	memset(out, 0, sizeof(*out));
	memcpy(out->user, buf + 2, ulen);
	memcpy(out->pass, buf + 3 + ulen, plen);
	out->ulen = (uint8_t)ulen;
	out->plen = (uint8_t)plen;
	*used = 3 + ulen + plen;
	return CODEC_DONE;
}

ssize_t s5_build_auth_reply(uint8_t *buf, size_t cap, uint8_t status)
{
	return put_pair(buf, cap, SOCKS5_AUTH_VERSION, status);
}

int s5_parse_auth_reply(const uint8_t *buf, size_t len, size_t *used, uint8_t *status)
{
	/* Some servers answer the sub-negotiation with VER 5 instead of 1; the status
	 * byte still means the same, so accept both rather than fail a working proxy. */
	return get_pair(buf, len, used, SOCKS5_AUTH_VERSION, SOCKS5_VERSION, status);
}

/* ---- SOCKS5 request / reply ---- */

/* A NULL address is 0.0.0.0:0, what replies and UDP ASSOCIATE requests carry when
 * there is nothing to say. */
static const struct socks_addr zero_v4 = { .atyp = SOCKS5_ATYP_IPV4 };

/* RSV is not checked: RFC 1928 says it is 0, but nothing depends on it and strict
 * checking would only break sloppy peers; the code byte is returned as sent because
 * an unknown CMD must be answered (REP 7), not dropped as a parse error. */
static int s5_parse_msg(const uint8_t *buf, size_t len, size_t *used, struct s5_request *out)
{
	size_t alen;
	int rc;

	if (len < 1)
		return CODEC_NEED_MORE;
	if (buf[0] != SOCKS5_VERSION)
		return CODEC_EVERSION;
	if (len < 2)
		return CODEC_NEED_MORE;
	/* Set early so a caller that gets EATYP/EFIELD still sees the CMD/REP byte
	 * (a failure reply from a sloppy server may carry a bogus address). */
	out->cmd = buf[1];
	if (len < 3)
		return CODEC_NEED_MORE;
	rc = get_addr(buf + 3, len - 3, &alen, &out->addr);
	if (rc != CODEC_DONE)
		return rc;
	*used = 3 + alen;
	return CODEC_DONE;
}

ssize_t s5_build_request(uint8_t *buf, size_t cap, uint8_t cmd, const struct socks_addr *dst)
{
	return put_hdr_addr(buf, cap, SOCKS5_VERSION, cmd, 0, dst ? dst : &zero_v4);
}

int s5_parse_request(const uint8_t *buf, size_t len, size_t *used, struct s5_request *out)
{
	return s5_parse_msg(buf, len, used, out);
}

ssize_t s5_build_reply(uint8_t *buf, size_t cap, uint8_t rep, const struct socks_addr *bnd)
{
	return put_hdr_addr(buf, cap, SOCKS5_VERSION, rep, 0, bnd ? bnd : &zero_v4);
}

int s5_parse_reply(const uint8_t *buf, size_t len, size_t *used, struct s5_request *out)
{
	return s5_parse_msg(buf, len, used, out);
}

/* ---- SOCKS5 UDP header ---- */

ssize_t s5_build_udp_header(uint8_t *buf, size_t cap, uint8_t frag, const struct socks_addr *a)
{
	return put_hdr_addr(buf, cap, 0, 0, frag, a ? a : &zero_v4);
}

int s5_parse_udp_header(const uint8_t *buf, size_t len, size_t *used, uint8_t *frag,
			struct socks_addr *out)
{
	size_t alen;
	int rc;

	/* RSV is ignored as in requests. A datagram is whole, so anything short is
	 * a length error, never NEED_MORE. */
	if (len < 4)
		return CODEC_ELENGTH;
	rc = get_addr(buf + 3, len - 3, &alen, out);
	if (rc == CODEC_NEED_MORE)
		return CODEC_ELENGTH;
	if (rc != CODEC_DONE)
		return rc;
	*frag = buf[2];
	*used = 3 + alen;
	return CODEC_DONE;
}

/* ---- SOCKS4 / SOCKS4a ---- */

/* SOCKS4a marks a request carrying a host name with DSTIP 0.0.0.x, x != 0. */
static bool s4a_marker(const uint8_t ip[4])
{
	return ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0;
}

ssize_t s4_build_request(uint8_t *buf, size_t cap, uint8_t cmd, const struct socks_addr *dst,
			 const char *userid)
{
	static const uint8_t marker[4] = { 0, 0, 0, 1 };
	size_t ulen, hlen = 0, n;

	if (!userid)
		userid = "";
	ulen = strnlen(userid, SOCKS_USER_MAX + 1);
	if (ulen > SOCKS_USER_MAX)
		return CODEC_EFIELD;
	switch (dst->atyp) {
	case SOCKS5_ATYP_IPV4:
		/* 0.0.0.x would be read back as a 4a request with a missing name. */
		if (s4a_marker(dst->u.v4))
			return CODEC_EFIELD;
		break;
	case SOCKS5_ATYP_DOMAINNAME:
		hlen = name_len(dst);
		if (hlen == 0)
			return CODEC_EFIELD;
		break;
	default: return CODEC_EATYP;
	}
	n = 8 + ulen + 1 + (hlen ? hlen + 1 : 0);
	if (cap < n)
		return CODEC_ENOSPC;
	buf[0] = SOCKS4_VERSION;
	buf[1] = cmd;
	put_u16(buf + 2, dst->port);
	memcpy(buf + 4, hlen ? marker : dst->u.v4, 4);
	memcpy(buf + 8, userid, ulen);
	buf[8 + ulen] = 0;
	if (hlen) {
		memcpy(buf + 9 + ulen, dst->u.name, hlen);
		buf[9 + ulen + hlen] = 0;
	}
	return (ssize_t)n;
}

/* Finds the NUL ending a string of at most max bytes starting at p[0..len).
 * DONE with *slen, NEED_MORE while it may still come, EFIELD once max+1 bytes
 * went by without it. */
static int s4_cstring(const uint8_t *p, size_t len, size_t max, size_t *slen)
{
	size_t look = len < max + 1 ? len : max + 1;
	const uint8_t *nul = memchr(p, 0, look);

	if (nul) {
		*slen = (size_t)(nul - p);
		return CODEC_DONE;
	}
	return len > max ? CODEC_EFIELD : CODEC_NEED_MORE;
}

int s4_parse_request(const uint8_t *buf, size_t len, size_t *used, struct s4_request *out)
{
	size_t ulen, hlen = 0, n;
	int rc;

	if (len < 1)
		return CODEC_NEED_MORE;
	if (buf[0] != SOCKS4_VERSION)
		return CODEC_EVERSION;
	if (len < 8)
		return CODEC_NEED_MORE;
	rc = s4_cstring(buf + 8, len - 8, SOCKS_USER_MAX, &ulen);
	if (rc != CODEC_DONE)
		return rc;
	n = 8 + ulen + 1;
	if (s4a_marker(buf + 4)) {
		rc = s4_cstring(buf + n, len - n, SOCKS_NAME_MAX, &hlen);
		if (rc != CODEC_DONE)
			return rc;
		if (hlen == 0)
			return CODEC_EFIELD;
	}
	/* CMD is returned as sent, as for SOCKS5: the server answers 91 to anything
	 * it does not serve. */
	memset(out, 0, sizeof(*out));
	out->cmd = buf[1];
	out->addr.port = get_u16(buf + 2);
	memcpy(out->userid, buf + 8, ulen);
	if (hlen) {
		out->addr.atyp = SOCKS5_ATYP_DOMAINNAME;
		memcpy(out->addr.u.name, buf + n, hlen);
		n += hlen + 1;
	} else {
		out->addr.atyp = SOCKS5_ATYP_IPV4;
		memcpy(out->addr.u.v4, buf + 4, 4);
	}
	*used = n;
	return CODEC_DONE;
}

ssize_t s4_build_reply(uint8_t *buf, size_t cap, uint8_t cd, uint16_t port, const uint8_t v4[4])
{
	static const uint8_t zero[4];

	if (cap < 8)
		return CODEC_ENOSPC;
	buf[0] = 0; /* the reply's VN is 0, not 4 */
	buf[1] = cd;
	put_u16(buf + 2, port);
	memcpy(buf + 4, v4 ? v4 : zero, 4);
	return 8;
}

int s4_parse_reply(const uint8_t *buf, size_t len, size_t *used, struct s4_reply *out)
{
	if (len < 1)
		return CODEC_NEED_MORE;
	/* VN is 0 by the protocol; some servers echo 4. */
	if (buf[0] != 0 && buf[0] != SOCKS4_VERSION)
		return CODEC_EVERSION;
	if (len < 8)
		return CODEC_NEED_MORE;
	out->cd = buf[1];
	out->port = get_u16(buf + 2);
	memcpy(out->v4, buf + 4, 4);
	*used = 8;
	return CODEC_DONE;
}

/* ---- HTTP CONNECT ---- */

/* "user:pass" before base64: both fields at their RFC 1929 maximum. */
#define HTTP_AUTH_MAX (2 * SOCKS_USER_MAX + 1)

/* A host name we are willing to put in a request line: visible ASCII without the
 * characters that would change how the authority or the line is read. */
static bool http_name_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("/?#@[]:\\\"", c))
			return false;
	}
	return n > 0;
}

/* "host:port" as it appears in the request line and the Host header. */
static int http_authority(const struct socks_addr *a, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN];
	int n;

	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4:
		inet_ntop(AF_INET, a->u.v4, host, sizeof(host));
		n = snprintf(out, cap, "%s:%u", host, a->port);
		break;
	case SOCKS5_ATYP_IPV6:
		inet_ntop(AF_INET6, a->u.v6, host, sizeof(host));
		n = snprintf(out, cap, "[%s]:%u", host, a->port);
		break;
	case SOCKS5_ATYP_DOMAINNAME:
		if (!http_name_ok(a->u.name, name_len(a)))
			return CODEC_EFIELD;
		n = snprintf(out, cap, "%.*s:%u", (int)name_len(a), a->u.name, a->port);
		break;
	default: return CODEC_EATYP;
	}
	return n < 0 || (size_t)n >= cap ? CODEC_EFIELD : n;
}

/* Heads are formatted on the stack and copied out, so that a head of exactly cap
 * bytes fits (snprintf straight into buf would want room for a NUL). */
#define HTTP_OUT_MAX 1536

static ssize_t http_emit(uint8_t *buf, size_t cap, const char *head, int n)
{
	if (n < 0 || n >= HTTP_OUT_MAX)
		return CODEC_EFIELD;
	if ((size_t)n > cap)
		return CODEC_ENOSPC;
	memcpy(buf, head, (size_t)n);
	return n;
}

ssize_t http_build_connect(uint8_t *buf, size_t cap, const struct socks_addr *dst,
			   const char *user, const char *pass)
{
	char auth[HTTP_AUTH_MAX], auth64[(HTTP_AUTH_MAX + 2) / 3 * 4 + 1];
	char hp[SOCKS_NAME_MAX + 16], head[HTTP_OUT_MAX];
	size_t ulen, plen;
	int n = http_authority(dst, hp, sizeof(hp));

	if (n < 0)
		return n;
	if (user) {
		if (!pass)
			pass = "";
		ulen = strnlen(user, SOCKS_USER_MAX + 1);
		plen = strnlen(pass, SOCKS_USER_MAX + 1);
		/* RFC 7617: the user-id cannot hold ':' (it ends at the first one). */
		if (ulen > SOCKS_USER_MAX || plen > SOCKS_USER_MAX || memchr(user, ':', ulen))
			return CODEC_EFIELD;
		memcpy(auth, user, ulen);
		auth[ulen] = ':';
		memcpy(auth + ulen + 1, pass, plen);
		if (b64_encode((const unsigned char *)auth, ulen + 1 + plen, auth64,
				     sizeof(auth64)) < 0)
			return CODEC_EFIELD;
	}
	n = snprintf(head, sizeof(head), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n", hp, hp,
		     user ? "Proxy-Authorization: Basic " : "", user ? auth64 : "",
		     user ? "\r\n" : "");
	return http_emit(buf, cap, head, n);
}

/* Finds the end of an HTTP head: the byte after the empty line that closes it
 * (CRLF CRLF, or bare LF LF and mixes of the two). DONE with *end, NEED_MORE while
 * it may still come, EFIELD when HTTP_HEAD_MAX bytes went by without it. */
static int http_head_end(const uint8_t *buf, size_t len, size_t *end)
{
	size_t look = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;

	for (size_t i = 0; i < look; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < look && buf[i + 1] == '\n') {
			*end = i + 2;
			return CODEC_DONE;
		}
		if (i + 2 < look && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
			*end = i + 3;
			return CODEC_DONE;
		}
	}
	return len >= HTTP_HEAD_MAX ? CODEC_EFIELD : CODEC_NEED_MORE;
}

/* One line of a head: [p, p+n) without its CR LF; *next is where the next begins. */
static size_t http_line(const uint8_t *p, size_t len, size_t *next)
{
	const uint8_t *nl = memchr(p, '\n', len);
	size_t n = nl ? (size_t)(nl - p) : len;

	*next = nl ? n + 1 : len;
	if (n && p[n - 1] == '\r')
		n--;
	return n;
}

/* "HTTP/1.x" at p; anything else is the wrong protocol version. */
static int http_version(const uint8_t *p, size_t n)
{
	if (n != 8 || memcmp(p, "HTTP/1.", 7) || p[7] < '0' || p[7] > '9')
		return CODEC_EVERSION;
	return CODEC_DONE;
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

int http_parse_connect_reply(const uint8_t *buf, size_t len, size_t *used, int *status)
{
	size_t end, n, next, i;
	const uint8_t *sp;
	int rc;

	/* Reject a non-HTTP answer (a SOCKS reply, say) from its first bytes. */
	n = len < 5 ? len : 5;
	if (memcmp(buf, "HTTP/", n))
		return CODEC_ESYNTAX;
	rc = http_head_end(buf, len, &end);
	if (rc != CODEC_DONE)
		return rc;
	n = http_line(buf, end, &next);
	sp = memchr(buf, ' ', n);
	if (!sp)
		return CODEC_ESYNTAX;
	rc = http_version(buf, (size_t)(sp - buf));
	if (rc != CODEC_DONE)
		return rc;
	/* " NNN" then the end of the line or " reason". */
	i = (size_t)(sp - buf) + 1;
	if (n - i < 3 || !is_digit(buf[i]) || !is_digit(buf[i + 1]) || !is_digit(buf[i + 2]) ||
	    (n - i > 3 && buf[i + 3] != ' ') || buf[i] < '1' || buf[i] > '5')
		return CODEC_ESYNTAX;
	if (memchr(buf, 0, end))
		return CODEC_ESYNTAX;
	*status = (buf[i] - '0') * 100 + (buf[i + 1] - '0') * 10 + (buf[i + 2] - '0');
	*used = end;
	return CODEC_DONE;
}

/* Port of an authority: 1..65535, decimal, no sign. */
static int http_port(const uint8_t *p, size_t n, uint16_t *port)
{
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return CODEC_ESYNTAX;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return CODEC_ESYNTAX;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return CODEC_EFIELD;
	*port = (uint16_t)v;
	return CODEC_DONE;
}

/* "host:port", "[v6]:port" or "v4:port" into a socks_addr. */
static int http_parse_authority(const uint8_t *p, size_t n, struct socks_addr *out)
{
	char host[SOCKS_NAME_MAX + 1];
	const uint8_t *colon;
	size_t hlen;
	int rc;

	memset(out, 0, sizeof(*out));
	if (n && p[0] == '[') {
		const uint8_t *rb = memchr(p, ']', n);
		if (!rb || (size_t)(rb - p) + 1 >= n || rb[1] != ':')
			return CODEC_ESYNTAX;
		hlen = (size_t)(rb - p) - 1;
		if (hlen >= INET6_ADDRSTRLEN)
			return CODEC_EFIELD;
		memcpy(host, p + 1, hlen);
		host[hlen] = 0;
		if (inet_pton(AF_INET6, host, out->u.v6) != 1)
			return CODEC_EFIELD;
		out->atyp = SOCKS5_ATYP_IPV6;
		colon = rb + 1;
	} else {
		colon = memrchr(p, ':', n);
		if (!colon)
			return CODEC_ESYNTAX;
		hlen = (size_t)(colon - p);
		if (hlen > SOCKS_NAME_MAX || !http_name_ok((const char *)p, hlen))
			return CODEC_EFIELD;
		memcpy(host, p, hlen);
		host[hlen] = 0;
		if (inet_pton(AF_INET, host, out->u.v4) == 1) {
			out->atyp = SOCKS5_ATYP_IPV4;
		} else {
			out->atyp = SOCKS5_ATYP_DOMAINNAME;
			memcpy(out->u.name, host, hlen + 1);
		}
	}
	rc = http_port(colon + 1, n - (size_t)(colon - p) - 1, &out->port);
	return rc;
}

/* Case-insensitive "Name:" at the start of a header line; returns the value's
 * offset with leading blanks skipped, or 0 when the line is another header. */
static size_t http_header_value(const uint8_t *p, size_t n, const char *name)
{
	size_t k = strlen(name), i;

	if (n <= k || strncasecmp((const char *)p, name, k) || p[k] != ':')
		return 0;
	for (i = k + 1; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	return i;
}

/* "Basic <base64 of user:pass>"; other schemes are left for the server to refuse
 * (has_auth stays 0), a broken Basic credential is EFIELD. */
static int http_basic_auth(const uint8_t *p, size_t n, struct http_connect_req *out)
{
	uint8_t dec[2 * SOCKS_USER_MAX + 2];
	const uint8_t *colon;
	size_t ulen, plen;
	long dlen;

	if (n < 6 || strncasecmp((const char *)p, "Basic ", 6))
		return CODEC_DONE;
	p += 6;
	n -= 6;
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	dlen = b64_decode((const char *)p, n, dec, sizeof(dec));
	if (dlen < 0)
		return CODEC_EFIELD;
	colon = memchr(dec, ':', (size_t)dlen);
	if (!colon || memchr(dec, 0, (size_t)dlen))
		return CODEC_EFIELD;
	ulen = (size_t)(colon - dec);
	plen = (size_t)dlen - ulen - 1;
	if (ulen > SOCKS_USER_MAX || plen > SOCKS_USER_MAX)
		return CODEC_EFIELD;
	memcpy(out->user, dec, ulen);
	out->user[ulen] = 0;
	memcpy(out->pass, colon + 1, plen);
	out->pass[plen] = 0;
	out->has_auth = 1;
	return CODEC_DONE;
}

/* Request line "CONNECT authority HTTP/1.x". A method other than CONNECT is
 * CODEC_ECMD so the server can answer 405 rather than 400. */
static int http_request_line(const uint8_t *p, size_t n, struct socks_addr *addr)
{
	const uint8_t *sp1 = memchr(p, ' ', n), *sp2;
	int rc;

	if (!sp1 || sp1 == p)
		return CODEC_ESYNTAX;
	if ((size_t)(sp1 - p) != 7 || memcmp(p, "CONNECT", 7))
		return CODEC_ECMD;
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - p));
	if (!sp2)
		return CODEC_ESYNTAX;
	rc = http_version(sp2 + 1, n - (size_t)(sp2 + 1 - p));
	if (rc != CODEC_DONE)
		return rc;
	return http_parse_authority(sp1 + 1, (size_t)(sp2 - sp1) - 1, addr);
}

int http_parse_connect_request(const uint8_t *buf, size_t len, size_t *used,
			       struct http_connect_req *out)
{
	size_t end, off, next, n, v;
	int rc;

	rc = http_head_end(buf, len, &end);
	if (rc != CODEC_DONE)
		return rc;
	if (memchr(buf, 0, end))
		return CODEC_ESYNTAX;
	memset(out, 0, sizeof(*out));
	n = http_line(buf, end, &next);
	rc = http_request_line(buf, n, &out->addr);
	if (rc != CODEC_DONE)
		return rc;
	for (off = next; off < end; off += next) {
		const uint8_t *p = buf + off;
		n = http_line(p, end - off, &next);
		if (n == 0)
			break; /* the blank line */
		if (p[0] == ' ' || p[0] == '\t')
			continue; /* obsolete line folding: part of a header we ignore */
		if (!memchr(p, ':', n) || p[0] == ':')
			return CODEC_ESYNTAX;
		v = http_header_value(p, n, "Proxy-Authorization");
		if (v && !out->has_auth) {
			rc = http_basic_auth(p + v, n - v, out);
			if (rc != CODEC_DONE)
				return rc;
		}
	}
	*used = end;
	return CODEC_DONE;
}

static const char *http_reason(int status)
{
	switch (status) {
	case 200: return "Connection established";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 407: return "Proxy Authentication Required";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return status < 300 ? "OK" : "Error";
}

ssize_t http_build_connect_reply(uint8_t *buf, size_t cap, int status, const char *reason)
{
	char head[HTTP_OUT_MAX];
	int n;

	if (status < 100 || status > 599)
		return CODEC_EFIELD;
	if (!reason)
		reason = http_reason(status);
	/* A CR or LF in the reason would let a caller's string forge headers. */
	for (const char *r = reason; *r; r++)
		if ((unsigned char)*r < 0x20 && *r != '\t')
			return CODEC_EFIELD;
	/* A 407 must say which scheme to use (RFC 7235); a failure carries no body and
	 * ends the connection, which a 2xx to CONNECT must not announce. */
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n%s%s\r\n", status, reason,
		     status == 407 ? "Proxy-Authenticate: Basic realm=\"socksify\"\r\n" : "",
		     status < 200 || status > 299 ? "Content-Length: 0\r\nConnection: close\r\n"
						  : "");
	return http_emit(buf, cap, head, n);
}

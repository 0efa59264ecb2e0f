/* SOCKS4, SOCKS4a, SOCKS5 (RFC 1928), username/password (RFC 1929) and HTTP CONNECT
 * wire codecs. Pure functions over buffers: no I/O, no allocation. Both directions:
 * the client builds requests and parses replies; the server parses requests and
 * builds replies.
 *
 * Parsers take (buf, len) and return CODEC_DONE with *used set to the bytes of one
 * whole message, CODEC_NEED_MORE (nothing consumed, call again with more bytes) or a
 * negative CODEC_E* error. Input is never modified, so a caller can parse straight
 * out of its receive buffer and pipelined messages simply follow *used.
 * Builders return the number of bytes written, or a negative CODEC_E* error
 * (CODEC_ENOSPC when cap is too small, CODEC_EFIELD for an oversize field). */
#ifndef SOCKSIFY_SOCKS_H
#define SOCKSIFY_SOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum codec_rc {
	CODEC_DONE = 0,
	CODEC_NEED_MORE = 1,
	CODEC_EVERSION = -1, /* wrong protocol version byte */
	CODEC_ELENGTH = -2,  /* a length field that cannot be right (e.g. NMETHODS 0) */
	CODEC_EATYP = -3,    /* unknown address type */
	CODEC_EFIELD = -4,   /* oversize or malformed field (name, user id, header) */
	CODEC_ENOSPC = -5,   /* output buffer too small (builders) */
	CODEC_ESYNTAX = -6,  /* HTTP syntax error */
	CODEC_ECMD = -7,     /* a command we do not parse (HTTP: a method other than CONNECT) */
};
const char *codec_strerror(int rc);

/* RFC 1928 constants, named as in the RFC. */
#define SOCKS5_VERSION 0x05
#define SOCKS4_VERSION 0x04
#define SOCKS5_AUTH_VERSION 0x01 /* RFC 1929 sub-negotiation version */

#define SOCKS5_METHOD_NOAUTH 0x00
#define SOCKS5_METHOD_GSSAPI 0x01
#define SOCKS5_METHOD_USERPASS 0x02
#define SOCKS5_METHOD_NONE_ACCEPTABLE 0xFF

#define SOCKS_CMD_CONNECT 0x01
#define SOCKS_CMD_BIND 0x02
#define SOCKS_CMD_UDP_ASSOCIATE 0x03

#define SOCKS5_ATYP_IPV4 0x01
#define SOCKS5_ATYP_DOMAINNAME 0x03
#define SOCKS5_ATYP_IPV6 0x04

enum s5_rep {
	S5_REP_SUCCEEDED = 0x00,
	S5_REP_GENERAL_FAILURE = 0x01,
	S5_REP_NOT_ALLOWED = 0x02,
	S5_REP_NET_UNREACHABLE = 0x03,
	S5_REP_HOST_UNREACHABLE = 0x04,
	S5_REP_CONN_REFUSED = 0x05,
	S5_REP_TTL_EXPIRED = 0x06,
	S5_REP_CMD_NOT_SUPPORTED = 0x07,
	S5_REP_ATYP_NOT_SUPPORTED = 0x08,
};

/* SOCKS4 reply codes (CD field). */
enum s4_rep {
	S4_REP_GRANTED = 90,
	S4_REP_REJECTED = 91,
	S4_REP_NO_IDENTD = 92,
	S4_REP_IDENT_MISMATCH = 93,
};

#define SOCKS_NAME_MAX 255 /* a domain name on the wire: one length byte */
#define SOCKS_USER_MAX 255 /* RFC 1929 ULEN / PLEN, and our cap on SOCKS4 USERID */

/* A destination or bound address as it travels on the wire. */
struct socks_addr {
	uint8_t atyp; /* SOCKS5_ATYP_* */
	uint16_t port; /* host byte order */
	union {
		uint8_t v4[4];
		uint8_t v6[16];
		char name[SOCKS_NAME_MAX + 1]; /* NUL-terminated, 1..255 bytes */
	} u;
};

/* ---- SOCKS5 ---- */
struct s5_greeting {
	uint8_t nmethods;
	uint8_t methods[255];
};
struct s5_auth {
	char user[SOCKS_USER_MAX + 1]; /* NUL-terminated; wire bytes may not hold NUL */
	char pass[SOCKS_USER_MAX + 1];
	uint8_t ulen, plen;
};
struct s5_request { /* also a reply: cmd holds REP */
	uint8_t cmd;
	struct socks_addr addr;
};

ssize_t s5_build_greeting(uint8_t *buf, size_t cap, const uint8_t *methods, size_t n);
int s5_parse_greeting(const uint8_t *buf, size_t len, size_t *used, struct s5_greeting *out);
/* Whether a parsed greeting offers method. */
bool s5_greeting_has(const struct s5_greeting *g, uint8_t method);
ssize_t s5_build_method_reply(uint8_t *buf, size_t cap, uint8_t method);
int s5_parse_method_reply(const uint8_t *buf, size_t len, size_t *used, uint8_t *method);

ssize_t s5_build_auth(uint8_t *buf, size_t cap, const char *user, const char *pass);
int s5_parse_auth(const uint8_t *buf, size_t len, size_t *used, struct s5_auth *out);
ssize_t s5_build_auth_reply(uint8_t *buf, size_t cap, uint8_t status);
int s5_parse_auth_reply(const uint8_t *buf, size_t len, size_t *used, uint8_t *status);

ssize_t s5_build_request(uint8_t *buf, size_t cap, uint8_t cmd, const struct socks_addr *dst);
int s5_parse_request(const uint8_t *buf, size_t len, size_t *used, struct s5_request *out);
ssize_t s5_build_reply(uint8_t *buf, size_t cap, uint8_t rep, const struct socks_addr *bnd);
int s5_parse_reply(const uint8_t *buf, size_t len, size_t *used, struct s5_request *out);
/* Request and reply parsing: RSV is not checked (RFC 1928 says 0; we are lenient);
 * an unknown CMD is DONE with cmd as sent (the server answers REP 7); an unknown ATYP
 * is CODEC_EATYP, a zero-length name or one holding NUL is CODEC_EFIELD. Once two
 * bytes are there out->cmd holds CMD/REP even on an error, so a client can still
 * report a failure reply that carries a bogus address. */

/* UDP request header: RSV(2) FRAG(1) ATYP DST.ADDR DST.PORT, then data. */
ssize_t s5_build_udp_header(uint8_t *buf, size_t cap, uint8_t frag, const struct socks_addr *a);
/* NEED_MORE is never returned: a datagram is whole, so short means CODEC_ELENGTH. */
int s5_parse_udp_header(const uint8_t *buf, size_t len, size_t *used, uint8_t *frag,
			struct socks_addr *out);

/* Size of the wire form of an address (ATYP + addr + port). */
size_t socks_addr_wire_len(const struct socks_addr *a);

/* ---- SOCKS4 / SOCKS4a ---- */
struct s4_request {
	uint8_t cmd;
	struct socks_addr addr; /* IPV4, or DOMAINNAME for 4a (0.0.0.x, x != 0) */
	char userid[SOCKS_USER_MAX + 1];
};
struct s4_reply {
	uint8_t cd;
	uint16_t port;
	uint8_t v4[4];
};
/* dst->atyp DOMAINNAME builds SOCKS4a; IPV6 is CODEC_EATYP; an IPV4 0.0.0.x (x != 0)
 * is CODEC_EFIELD (it would read as a 4a marker). Parsing: USERID and the 4a name are
 * NUL-terminated, at most 255 bytes (CODEC_EFIELD after 256 without a NUL); an unknown
 * CD is DONE with cmd as sent (the server answers 91); a reply's VN may be 0 or 4. */
ssize_t s4_build_request(uint8_t *buf, size_t cap, uint8_t cmd, const struct socks_addr *dst,
			 const char *userid);
int s4_parse_request(const uint8_t *buf, size_t len, size_t *used, struct s4_request *out);
ssize_t s4_build_reply(uint8_t *buf, size_t cap, uint8_t cd, uint16_t port, const uint8_t v4[4]);
int s4_parse_reply(const uint8_t *buf, size_t len, size_t *used, struct s4_reply *out);

/* ---- HTTP CONNECT ---- */
#define HTTP_HEAD_MAX 8192 /* a reply/request head longer than this is CODEC_EFIELD */
struct http_connect_req {
	struct socks_addr addr; /* IPV4 / IPV6 / DOMAINNAME */
	char user[SOCKS_USER_MAX + 1]; /* from Proxy-Authorization: Basic, if any */
	char pass[SOCKS_USER_MAX + 1];
	int has_auth;
};
/* user may be NULL (no Proxy-Authorization). */
ssize_t http_build_connect(uint8_t *buf, size_t cap, const struct socks_addr *dst,
			   const char *user, const char *pass);
/* Parses the status line and skips headers through the blank line. */
int http_parse_connect_reply(const uint8_t *buf, size_t len, size_t *used, int *status);
/* Server side: "CONNECT host:port HTTP/1.x", headers, blank line (CRLF or bare LF).
 * A method other than CONNECT is CODEC_ECMD (answer 405); a bad request line or header
 * is CODEC_ESYNTAX (400); a bad host or port, or a malformed Basic credential, is
 * CODEC_EFIELD (400). A non-Basic Proxy-Authorization leaves has_auth 0. */
int http_parse_connect_request(const uint8_t *buf, size_t len, size_t *used,
			       struct http_connect_req *out);
/* reason NULL: the standard phrase. A 407 carries Proxy-Authenticate: Basic; any
 * non-2xx carries Content-Length: 0 and Connection: close. */
ssize_t http_build_connect_reply(uint8_t *buf, size_t cap, int status, const char *reason);

#endif

/* Unit tests for the common/ wire codecs: round trips for every message, every
 * malformed case we know of, truncation at every byte, pipelining, a bit-flip sweep
 * and too-small builder buffers. Inputs are copied into exact-size heap buffers so
 * the ASan build catches any read or write past the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socks.h"
#include "tap.h"

/* ---- a uniform view over every parser ---- */

enum kind {
	K_GREETING,
	K_METHOD_REPLY,
	K_AUTH,
	K_AUTH_REPLY,
	K_REQUEST,
	K_REPLY,
	K_UDP,
	K_S4_REQ,
	K_S4_REP,
	K_HTTP_REQ,
	K_HTTP_REP,
};

static const char *kind_name[] = {
	"s5 greeting", "s5 method reply", "s5 auth", "s5 auth reply", "s5 request",
	"s5 reply", "s5 udp header", "s4 request", "s4 reply", "http request", "http reply",
};

union parsed {
	struct s5_greeting greeting;
	uint8_t byte;
	struct s5_auth auth;
	struct s5_request req;
	struct {
		uint8_t frag;
		struct socks_addr addr;
	} udp;
	struct s4_request s4req;
	struct s4_reply s4rep;
	struct http_connect_req http;
	int status;
};

static int parse_any(enum kind k, const uint8_t *buf, size_t len, size_t *used, union parsed *p)
{
	switch (k) {
	case K_GREETING: return s5_parse_greeting(buf, len, used, &p->greeting);
	case K_METHOD_REPLY: return s5_parse_method_reply(buf, len, used, &p->byte);
	case K_AUTH: return s5_parse_auth(buf, len, used, &p->auth);
	case K_AUTH_REPLY: return s5_parse_auth_reply(buf, len, used, &p->byte);
	case K_REQUEST: return s5_parse_request(buf, len, used, &p->req);
	case K_REPLY: return s5_parse_reply(buf, len, used, &p->req);
	case K_UDP: return s5_parse_udp_header(buf, len, used, &p->udp.frag, &p->udp.addr);
	case K_S4_REQ: return s4_parse_request(buf, len, used, &p->s4req);
	case K_S4_REP: return s4_parse_reply(buf, len, used, &p->s4rep);
	case K_HTTP_REQ: return http_parse_connect_request(buf, len, used, &p->http);
	case K_HTTP_REP: return http_parse_connect_reply(buf, len, used, &p->status);
	}
	return -100;
}

/* Parses a heap copy of exactly len bytes, so any over-read is an ASan report, and
 * checks the parser left its input alone. */
static int parse_exact(enum kind k, const uint8_t *src, size_t len, size_t *used, union parsed *p)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	if (!copy)
		abort();
	memcpy(copy, src, len);
	rc = parse_any(k, copy, len, used, p);
	if (memcmp(copy, src, len))
		rc = -101; /* reported as an invalid code */
	free(copy);
	return rc;
}

static int valid_rc(int rc)
{
	return rc >= CODEC_ECMD && rc <= CODEC_NEED_MORE;
}

/* ---- the valid messages every sweep runs over ---- */

#define MSG_MAX 1600
struct msg {
	enum kind kind;
	char name[48];
	uint8_t b[MSG_MAX];
	size_t n;
};
static struct msg msgs[64];
static size_t nmsgs;

static void add(enum kind k, const char *name, const void *b, ssize_t n)
{
	struct msg *m = &msgs[nmsgs++];

	if (n <= 0 || n > MSG_MAX || nmsgs > sizeof(msgs) / sizeof(msgs[0])) {
		printf("Bail out! cannot build %s (%zd)\n", name, n);
		exit(1);
	}
	m->kind = k;
	snprintf(m->name, sizeof(m->name), "%s", name);
	memcpy(m->b, b, (size_t)n);
	m->n = (size_t)n;
}

static struct socks_addr a_v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	struct socks_addr x = { .atyp = SOCKS5_ATYP_IPV4, .port = port };
	x.u.v4[0] = a, x.u.v4[1] = b, x.u.v4[2] = c, x.u.v4[3] = d;
	return x;
}

static struct socks_addr a_v6(uint16_t port)
{
	struct socks_addr x = { .atyp = SOCKS5_ATYP_IPV6, .port = port };
	static const uint8_t v6[16] = { 0xfd, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
	memcpy(x.u.v6, v6, 16);
	return x;
}

static struct socks_addr a_name(const char *name, uint16_t port)
{
	struct socks_addr x = { .atyp = SOCKS5_ATYP_DOMAINNAME, .port = port };
	snprintf(x.u.name, sizeof(x.u.name), "%s", name);
	return x;
}

static char long_name[SOCKS_NAME_MAX + 1], long_user[SOCKS_USER_MAX + 1],
	long_pass[SOCKS_USER_MAX + 1];

static void build_msgs(void)
{
	uint8_t b[MSG_MAX], methods[255];
	struct socks_addr v4 = a_v4(198, 18, 2, 2, 80), v6 = a_v6(7),
			  nm = a_name("target.test", 443), ln = a_name(long_name, 65535),
			  zero = a_v4(0, 0, 0, 0, 0);
	static const uint8_t ip[4] = { 198, 18, 1, 2 };

	for (size_t i = 0; i < sizeof(methods); i++)
		methods[i] = (uint8_t)i;
	add(K_GREETING, "greeting noauth", b, s5_build_greeting(b, sizeof(b), methods, 1));
	add(K_GREETING, "greeting 3 methods", b, s5_build_greeting(b, sizeof(b), methods, 3));
	add(K_GREETING, "greeting 255 methods", b, s5_build_greeting(b, sizeof(b), methods, 255));
	add(K_METHOD_REPLY, "method reply", b, s5_build_method_reply(b, sizeof(b), 2));
	add(K_AUTH, "auth alice", b, s5_build_auth(b, sizeof(b), "alice", "s3cr:et"));
	add(K_AUTH, "auth empty", b, s5_build_auth(b, sizeof(b), "", ""));
	add(K_AUTH, "auth 255/255", b, s5_build_auth(b, sizeof(b), long_user, long_pass));
	add(K_AUTH_REPLY, "auth reply", b, s5_build_auth_reply(b, sizeof(b), 0));
	add(K_REQUEST, "request v4", b, s5_build_request(b, sizeof(b), SOCKS_CMD_CONNECT, &v4));
	add(K_REQUEST, "request v6", b, s5_build_request(b, sizeof(b), SOCKS_CMD_BIND, &v6));
	add(K_REQUEST, "request name", b, s5_build_request(b, sizeof(b), SOCKS_CMD_CONNECT, &nm));
	add(K_REQUEST, "request 255 name", b, s5_build_request(b, sizeof(b), 1, &ln));
	add(K_REQUEST, "request udp", b, s5_build_request(b, sizeof(b), 3, &zero));
	add(K_REPLY, "reply v4", b, s5_build_reply(b, sizeof(b), S5_REP_SUCCEEDED, &v4));
	add(K_REPLY, "reply v6", b, s5_build_reply(b, sizeof(b), S5_REP_SUCCEEDED, &v6));
	add(K_REPLY, "reply name", b, s5_build_reply(b, sizeof(b), S5_REP_SUCCEEDED, &nm));
	add(K_REPLY, "reply failure", b, s5_build_reply(b, sizeof(b), 4, NULL));
	add(K_UDP, "udp v4", b, s5_build_udp_header(b, sizeof(b), 0, &v4));
	add(K_UDP, "udp v6", b, s5_build_udp_header(b, sizeof(b), 0, &v6));
	add(K_UDP, "udp name frag", b, s5_build_udp_header(b, sizeof(b), 1, &nm));
	add(K_S4_REQ, "s4 request", b, s4_build_request(b, sizeof(b), 1, &v4, "bob"));
	add(K_S4_REQ, "s4 request no user", b, s4_build_request(b, sizeof(b), 2, &v4, NULL));
	add(K_S4_REQ, "s4 request 255 user", b, s4_build_request(b, sizeof(b), 1, &v4, long_user));
	add(K_S4_REQ, "s4a request", b, s4_build_request(b, sizeof(b), 1, &nm, "bob"));
	add(K_S4_REQ, "s4a 255/255", b, s4_build_request(b, sizeof(b), 1, &ln, long_user));
	add(K_S4_REP, "s4 reply", b, s4_build_reply(b, sizeof(b), 90, 1080, ip));
	add(K_HTTP_REQ, "http req v4", b, http_build_connect(b, sizeof(b), &v4, NULL, NULL));
	add(K_HTTP_REQ, "http req v6 auth", b, http_build_connect(b, sizeof(b), &v6, "al", "p:w"));
	add(K_HTTP_REQ, "http req name", b, http_build_connect(b, sizeof(b), &nm, "alice", ""));
	add(K_HTTP_REQ, "http req 255 auth", b,
	    http_build_connect(b, sizeof(b), &ln, long_user, long_pass));
	{
		static const char lf[] = "CONNECT target.test:80 HTTP/1.0\nHost: target.test:80\n"
					 "User-Agent: x\n\n";
		add(K_HTTP_REQ, "http req bare LF", lf, sizeof(lf) - 1);
	}
	add(K_HTTP_REP, "http reply 200", b, http_build_connect_reply(b, sizeof(b), 200, NULL));
	add(K_HTTP_REP, "http reply 407", b, http_build_connect_reply(b, sizeof(b), 407, NULL));
	{
		static const char r[] = "HTTP/1.0 200 Connection established\r\n"
					"Proxy-agent: squid\r\n\r\n";
		add(K_HTTP_REP, "http reply headers", r, sizeof(r) - 1);
		static const char lf[] = "HTTP/1.1 502\n\n";
		add(K_HTTP_REP, "http reply bare LF", lf, sizeof(lf) - 1);
	}
}

/* ---- round trips ---- */

static int addr_eq(const struct socks_addr *a, const struct socks_addr *b)
{
	if (a->atyp != b->atyp || a->port != b->port)
		return 0;
	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4: return !memcmp(a->u.v4, b->u.v4, 4);
	case SOCKS5_ATYP_IPV6: return !memcmp(a->u.v6, b->u.v6, 16);
	default: return !strcmp(a->u.name, b->u.name);
	}
}

static void test_round_trips(void)
{
	uint8_t b[MSG_MAX];
	size_t used;
	union parsed p;
	ssize_t n;
	struct socks_addr v4 = a_v4(10, 1, 2, 3, 8080), v6 = a_v6(1), nm = a_name("a.example", 53),
			  ln = a_name(long_name, 1);
	const struct socks_addr *addrs[] = { &v4, &v6, &nm, &ln };
	static const uint8_t methods[] = { 0, 2, 0x80 };

	n = s5_build_greeting(b, sizeof(b), methods, 3);
	is_int(parse_exact(K_GREETING, b, (size_t)n, &used, &p), CODEC_DONE, "greeting parses");
	ok(used == 5 && p.greeting.nmethods == 3 && !memcmp(p.greeting.methods, methods, 3),
	   "greeting fields");
	ok(s5_greeting_has(&p.greeting, 2) && !s5_greeting_has(&p.greeting, 1),
	   "s5_greeting_has");

	n = s5_build_method_reply(b, sizeof(b), SOCKS5_METHOD_NONE_ACCEPTABLE);
	ok(n == 2 && parse_exact(K_METHOD_REPLY, b, 2, &used, &p) == CODEC_DONE &&
		   p.byte == 0xff && used == 2,
	   "method reply round trip");

	n = s5_build_auth(b, sizeof(b), "alice", "pa:ss word");
	ok(n == 3 + 5 + 10 && parse_exact(K_AUTH, b, (size_t)n, &used, &p) == CODEC_DONE &&
		   used == (size_t)n && !strcmp(p.auth.user, "alice") &&
		   !strcmp(p.auth.pass, "pa:ss word") && p.auth.ulen == 5 && p.auth.plen == 10,
	   "auth round trip");
	n = s5_build_auth(b, sizeof(b), long_user, long_pass);
	ok(n == 3 + 255 + 255 && parse_exact(K_AUTH, b, (size_t)n, &used, &p) == CODEC_DONE &&
		   !strcmp(p.auth.user, long_user) && !strcmp(p.auth.pass, long_pass),
	   "auth 255/255 round trip");
	n = s5_build_auth(b, sizeof(b), NULL, NULL);
	ok(n == 3 && parse_exact(K_AUTH, b, 3, &used, &p) == CODEC_DONE && p.auth.user[0] == 0,
	   "auth NULL user/pass is empty");

	n = s5_build_auth_reply(b, sizeof(b), 1);
	ok(n == 2 && b[0] == 1 && parse_exact(K_AUTH_REPLY, b, 2, &used, &p) == CODEC_DONE &&
		   p.byte == 1,
	   "auth reply round trip");

	for (size_t i = 0; i < 4; i++) {
		n = s5_build_request(b, sizeof(b), SOCKS_CMD_CONNECT, addrs[i]);
		ok(n == (ssize_t)(3 + socks_addr_wire_len(addrs[i])) &&
			   parse_exact(K_REQUEST, b, (size_t)n, &used, &p) == CODEC_DONE &&
			   used == (size_t)n && p.req.cmd == 1 && addr_eq(&p.req.addr, addrs[i]),
		   "request round trip atyp %u", addrs[i]->atyp);
		n = s5_build_reply(b, sizeof(b), S5_REP_CONN_REFUSED, addrs[i]);
		ok(n > 0 && parse_exact(K_REPLY, b, (size_t)n, &used, &p) == CODEC_DONE &&
			   p.req.cmd == 5 && addr_eq(&p.req.addr, addrs[i]),
		   "reply round trip atyp %u", addrs[i]->atyp);
		n = s5_build_udp_header(b, sizeof(b), 0, addrs[i]);
		memcpy(b + n, "payload", 7);
		ok(n > 0 && parse_exact(K_UDP, b, (size_t)n + 7, &used, &p) == CODEC_DONE &&
			   used == (size_t)n && p.udp.frag == 0 && addr_eq(&p.udp.addr, addrs[i]),
		   "udp header round trip atyp %u, payload follows *used", addrs[i]->atyp);
	}
	n = s5_build_reply(b, sizeof(b), 0, NULL);
	ok(n == 10 && !memcmp(b, "\5\0\0\1\0\0\0\0\0\0", 10), "reply NULL bnd is 0.0.0.0:0");
	n = s5_build_udp_header(b, sizeof(b), 0, &v4);
	ok(n == 10 && b[0] == 0 && b[1] == 0 && b[3] == 1 && b[8] == 0x1f && b[9] == 0x90,
	   "udp header wire bytes");

	n = s4_build_request(b, sizeof(b), SOCKS_CMD_CONNECT, &v4, "bob");
	ok(n == 12 && !memcmp(b, "\4\1\x1f\x90\12\1\2\3bob\0", 12), "s4 request wire bytes");
	ok(parse_exact(K_S4_REQ, b, 12, &used, &p) == CODEC_DONE && used == 12 &&
		   p.s4req.cmd == 1 && addr_eq(&p.s4req.addr, &v4) && !strcmp(p.s4req.userid, "bob"),
	   "s4 request round trip");
	n = s4_build_request(b, sizeof(b), SOCKS_CMD_BIND, &nm, "");
	ok(n == 8 + 1 + 10 && !memcmp(b + 4, "\0\0\0\1", 4) && b[8] == 0 &&
		   !memcmp(b + 9, "a.example", 10),
	   "s4a request wire bytes");
	ok(parse_exact(K_S4_REQ, b, (size_t)n, &used, &p) == CODEC_DONE && used == (size_t)n &&
		   p.s4req.cmd == 2 && addr_eq(&p.s4req.addr, &nm) && p.s4req.userid[0] == 0,
	   "s4a request round trip");
	n = s4_build_request(b, sizeof(b), 1, &ln, long_user);
	ok(n > 0 && parse_exact(K_S4_REQ, b, (size_t)n, &used, &p) == CODEC_DONE &&
		   addr_eq(&p.s4req.addr, &ln) && !strcmp(p.s4req.userid, long_user),
	   "s4a 255 name + 255 userid round trip");
	n = s4_build_reply(b, sizeof(b), S4_REP_REJECTED, 4242, v4.u.v4);
	ok(n == 8 && b[0] == 0 && parse_exact(K_S4_REP, b, 8, &used, &p) == CODEC_DONE &&
		   p.s4rep.cd == 91 && p.s4rep.port == 4242 && !memcmp(p.s4rep.v4, v4.u.v4, 4),
	   "s4 reply round trip, VN 0");
	b[0] = 4;
	ok(parse_exact(K_S4_REP, b, 8, &used, &p) == CODEC_DONE, "s4 reply VN 4 accepted");
	n = s4_build_reply(b, sizeof(b), 90, 0, NULL);
	ok(n == 8 && !memcmp(b, "\0\x5a\0\0\0\0\0\0", 8), "s4 reply NULL address is zeros");
}

static void test_http_round_trips(void)
{
	uint8_t b[MSG_MAX];
	size_t used;
	union parsed p;
	ssize_t n;
	struct socks_addr v4 = a_v4(198, 18, 2, 2, 80), v6 = a_v6(443), nm = a_name("target.test", 8080);
	static const char want_v6[] = "CONNECT [fd00:2::2]:443 HTTP/1.1\r\nHost: [fd00:2::2]:443\r\n"
				      "Proxy-Authorization: Basic YWxpY2U6cGE6c3M=\r\n\r\n";
	static const char want_v4[] = "CONNECT 198.18.2.2:80 HTTP/1.1\r\nHost: 198.18.2.2:80\r\n\r\n";

	n = http_build_connect(b, sizeof(b), &v4, NULL, "ignored");
	ok(n == (ssize_t)strlen(want_v4) && !memcmp(b, want_v4, (size_t)n),
	   "http CONNECT v4 bytes");
	ok(parse_exact(K_HTTP_REQ, b, (size_t)n, &used, &p) == CODEC_DONE && used == (size_t)n &&
		   addr_eq(&p.http.addr, &v4) && !p.http.has_auth,
	   "http CONNECT v4 parses back");
	n = http_build_connect(b, sizeof(b), &v6, "alice", "pa:ss");
	ok(n == (ssize_t)strlen(want_v6) && !memcmp(b, want_v6, (size_t)n),
	   "http CONNECT v6 in brackets with Basic auth");
	ok(parse_exact(K_HTTP_REQ, b, (size_t)n, &used, &p) == CODEC_DONE &&
		   addr_eq(&p.http.addr, &v6) && p.http.has_auth && !strcmp(p.http.user, "alice") &&
		   !strcmp(p.http.pass, "pa:ss"),
	   "http CONNECT v6 + auth parses back");
	n = http_build_connect(b, sizeof(b), &nm, long_user, long_pass);
	ok(n > 0 && parse_exact(K_HTTP_REQ, b, (size_t)n, &used, &p) == CODEC_DONE &&
		   addr_eq(&p.http.addr, &nm) && !strcmp(p.http.user, long_user) &&
		   !strcmp(p.http.pass, long_pass),
	   "http CONNECT name + 255/255 auth round trip");
	n = http_build_connect(b, sizeof(b), &nm, "u", NULL);
	ok(n > 0 && parse_exact(K_HTTP_REQ, b, (size_t)n, &used, &p) == CODEC_DONE &&
		   p.http.has_auth && !strcmp(p.http.user, "u") && p.http.pass[0] == 0,
	   "http CONNECT NULL password is empty");

	for (int st = 100; st <= 599; st += 1) {
		n = http_build_connect_reply(b, sizeof(b), st, NULL);
		if (n <= 0 || parse_exact(K_HTTP_REP, b, (size_t)n, &used, &p) != CODEC_DONE ||
		    p.status != st || used != (size_t)n) {
			ok(0, "http reply round trip status %d", st);
			goto replies_done;
		}
	}
	ok(1, "http reply round trip, every status 100..599");
replies_done:
	n = http_build_connect_reply(b, sizeof(b), 200, NULL);
	ok(n > 0 && !memcmp(b, "HTTP/1.1 200 Connection established\r\n\r\n", (size_t)n),
	   "http 200 reply bytes");
	n = http_build_connect_reply(b, sizeof(b), 407, NULL);
	ok(n > 0 && memmem(b, (size_t)n, "Proxy-Authenticate: Basic", 25) &&
		   memmem(b, (size_t)n, "Connection: close", 17),
	   "http 407 reply asks for Basic and closes");
	n = http_build_connect_reply(b, sizeof(b), 502, "No way");
	ok(n > 0 && !memcmp(b, "HTTP/1.1 502 No way\r\n", 21), "http reply custom reason");
	is_int(http_build_connect_reply(b, sizeof(b), 99, NULL), CODEC_EFIELD, "http status 99");
	is_int(http_build_connect_reply(b, sizeof(b), 600, NULL), CODEC_EFIELD, "http status 600");
	is_int(http_build_connect_reply(b, sizeof(b), 400, "a\r\nX: y"), CODEC_EFIELD,
	       "http reason with CRLF");
	{
		char reason[2000];
		memset(reason, 'r', sizeof(reason) - 1);
		reason[sizeof(reason) - 1] = 0;
		is_int(http_build_connect_reply(b, sizeof(b), 400, reason), CODEC_EFIELD,
		       "http reason too long for a head");
	}
}

/* ---- malformed input, byte for byte ---- */

struct bad {
	enum kind kind;
	const char *name;
	const char *b;
	size_t n;
	int want;
};
#define BAD(k, name, lit, want) { k, name, lit, sizeof(lit) - 1, want }

static const struct bad bads[] = {
	BAD(K_GREETING, "greeting version 4", "\4\1\0", CODEC_EVERSION),
	BAD(K_GREETING, "greeting version 0 on 1 byte", "\0", CODEC_EVERSION),
	BAD(K_GREETING, "greeting NMETHODS 0", "\5\0", CODEC_ELENGTH),
	BAD(K_METHOD_REPLY, "method reply version 4", "\4\0", CODEC_EVERSION),
	BAD(K_AUTH, "auth version 5", "\5\1a\1b", CODEC_EVERSION),
	BAD(K_AUTH, "auth NUL in user", "\1\3a\0b\1p", CODEC_EFIELD),
	BAD(K_AUTH, "auth NUL in password", "\1\1a\2p\0", CODEC_EFIELD),
	BAD(K_AUTH, "auth ULEN beyond data", "\1\5ab", CODEC_NEED_MORE),
	BAD(K_AUTH_REPLY, "auth reply version 2", "\2\0", CODEC_EVERSION),
	BAD(K_AUTH_REPLY, "auth reply version 5 (lenient)", "\5\0", CODEC_DONE),
	BAD(K_REQUEST, "request version 4", "\4\1\0\1\1\2\3\4\0\120", CODEC_EVERSION),
	BAD(K_REQUEST, "request ATYP 0", "\5\1\0\0\1\2\3\4\0\120", CODEC_EATYP),
	BAD(K_REQUEST, "request ATYP 2", "\5\1\0\2", CODEC_EATYP),
	BAD(K_REQUEST, "request ATYP 5", "\5\1\0\5", CODEC_EATYP),
	BAD(K_REQUEST, "request name length 0", "\5\1\0\3\0\0\120", CODEC_EFIELD),
	BAD(K_REQUEST, "request NUL in name", "\5\1\0\3\3a\0b\0\120", CODEC_EFIELD),
	BAD(K_REQUEST, "request unknown CMD is DONE", "\5\x09\0\1\1\2\3\4\0\120", CODEC_DONE),
	BAD(K_REQUEST, "request RSV 0xff is DONE", "\5\1\xff\1\1\2\3\4\0\120", CODEC_DONE),
	BAD(K_REQUEST, "request CMD 0 is DONE", "\5\0\0\1\1\2\3\4\0\120", CODEC_DONE),
	BAD(K_REPLY, "reply version 0", "\0\0\0\1\0\0\0\0\0\0", CODEC_EVERSION),
	BAD(K_REPLY, "reply ATYP 0", "\5\1\0\0\0\0\0\0\0\0", CODEC_EATYP),
	BAD(K_UDP, "udp short", "\0\0\0", CODEC_ELENGTH),
	BAD(K_UDP, "udp empty", "", CODEC_ELENGTH),
	BAD(K_UDP, "udp truncated v4", "\0\0\0\1\1\2\3", CODEC_ELENGTH),
	BAD(K_UDP, "udp truncated name", "\0\0\0\3\5abc", CODEC_ELENGTH),
	BAD(K_UDP, "udp ATYP 7", "\0\0\0\7\1\2\3\4\0\1", CODEC_EATYP),
	BAD(K_UDP, "udp name length 0", "\0\0\0\3\0\0\1", CODEC_EFIELD),
	BAD(K_UDP, "udp NUL in name", "\0\0\0\3\2a\0\0\1", CODEC_EFIELD),
	BAD(K_UDP, "udp RSV nonzero (lenient)", "\1\1\0\1\1\2\3\4\0\1", CODEC_DONE),
	BAD(K_S4_REQ, "s4 version 5", "\5\1\0\120\1\2\3\4\0", CODEC_EVERSION),
	BAD(K_S4_REQ, "s4 unknown CD is DONE", "\4\x09\0\120\1\2\3\4\0", CODEC_DONE),
	BAD(K_S4_REQ, "s4a empty name", "\4\1\0\120\0\0\0\1u\0\0", CODEC_EFIELD),
	BAD(K_S4_REQ, "s4a name not yet ended", "\4\1\0\120\0\0\0\1u\0abc", CODEC_NEED_MORE),
	BAD(K_S4_REQ, "s4 DSTIP 0.0.0.0 is plain v4", "\4\1\0\120\0\0\0\0\0", CODEC_DONE),
	BAD(K_S4_REP, "s4 reply VN 5", "\5\x5a\0\0\0\0\0\0", CODEC_EVERSION),
	BAD(K_HTTP_REP, "http reply not HTTP", "\5\0", CODEC_ESYNTAX),
	BAD(K_HTTP_REP, "http reply lower case", "http/1.1 200 OK\r\n\r\n", CODEC_ESYNTAX),
	BAD(K_HTTP_REP, "http reply HTTP/2", "HTTP/2 200\r\n\r\n", CODEC_EVERSION),
	BAD(K_HTTP_REP, "http reply HTTP/1.10", "HTTP/1.10 200 OK\r\n\r\n", CODEC_EVERSION),
	BAD(K_HTTP_REP, "http reply no status", "HTTP/1.1\r\n\r\n", CODEC_ESYNTAX),
	BAD(K_HTTP_REP, "http reply 2-digit status", "HTTP/1.1 20 OK\r\n\r\n", CODEC_ESYNTAX),
	BAD(K_HTTP_REP, "http reply 4-digit status", "HTTP/1.1 2000 OK\r\n\r\n", CODEC_ESYNTAX),
	BAD(K_HTTP_REP, "http reply status 600", "HTTP/1.1 600 X\r\n\r\n", CODEC_ESYNTAX),
	BAD(K_HTTP_REP, "http reply NUL in header", "HTTP/1.1 200 OK\r\nX: \0\r\n\r\n",
	    CODEC_ESYNTAX),
	BAD(K_HTTP_REP, "http reply mixed CRLF/LF end", "HTTP/1.1 200 OK\r\n\n", CODEC_DONE),
	BAD(K_HTTP_REQ, "http GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", CODEC_ECMD),
	BAD(K_HTTP_REQ, "http lower-case connect", "connect a:1 HTTP/1.1\r\n\r\n", CODEC_ECMD),
	BAD(K_HTTP_REQ, "http empty method", " a:1 HTTP/1.1\r\n\r\n", CODEC_ESYNTAX),
	BAD(K_HTTP_REQ, "http no version", "CONNECT a:1\r\n\r\n", CODEC_ESYNTAX),
	BAD(K_HTTP_REQ, "http HTTP/2.0", "CONNECT a:1 HTTP/2.0\r\n\r\n", CODEC_EVERSION),
	BAD(K_HTTP_REQ, "http no port", "CONNECT host HTTP/1.1\r\n\r\n", CODEC_ESYNTAX),
	BAD(K_HTTP_REQ, "http empty port", "CONNECT host: HTTP/1.1\r\n\r\n", CODEC_ESYNTAX),
	BAD(K_HTTP_REQ, "http port 0", "CONNECT host:0 HTTP/1.1\r\n\r\n", CODEC_EFIELD),
	BAD(K_HTTP_REQ, "http port 65536", "CONNECT host:65536 HTTP/1.1\r\n\r\n", CODEC_EFIELD),
	BAD(K_HTTP_REQ, "http port +80", "CONNECT host:+80 HTTP/1.1\r\n\r\n", CODEC_ESYNTAX),
	BAD(K_HTTP_REQ, "http port 6 digits", "CONNECT host:000080 HTTP/1.1\r\n\r\n",
	    CODEC_ESYNTAX),
	BAD(K_HTTP_REQ, "http empty host", "CONNECT :80 HTTP/1.1\r\n\r\n", CODEC_EFIELD),
	BAD(K_HTTP_REQ, "http host with slash", "CONNECT a/b:80 HTTP/1.1\r\n\r\n", CODEC_EFIELD),
	BAD(K_HTTP_REQ, "http userinfo in authority", "CONNECT u@a:80 HTTP/1.1\r\n\r\n",
	    CODEC_EFIELD),
	BAD(K_HTTP_REQ, "http bare IPv6", "CONNECT ::1:80 HTTP/1.1\r\n\r\n", CODEC_EFIELD),
	BAD(K_HTTP_REQ, "http bad IPv6 literal", "CONNECT [fd00::zz]:80 HTTP/1.1\r\n\r\n",
	    CODEC_EFIELD),
	BAD(K_HTTP_REQ, "http unclosed bracket", "CONNECT [::1:80 HTTP/1.1\r\n\r\n",
	    CODEC_ESYNTAX),
	BAD(K_HTTP_REQ, "http bracket without port", "CONNECT [::1] HTTP/1.1\r\n\r\n",
	    CODEC_ESYNTAX),
	BAD(K_HTTP_REQ, "http header without colon", "CONNECT a:1 HTTP/1.1\r\nBogus\r\n\r\n",
	    CODEC_ESYNTAX),
	BAD(K_HTTP_REQ, "http NUL in head", "CONNECT a:1 HTTP/1.1\r\nX: \0\r\n\r\n",
	    CODEC_ESYNTAX),
	BAD(K_HTTP_REQ, "http folded header is skipped",
	    "CONNECT a:1 HTTP/1.1\r\nX: y\r\n  z\r\n\r\n", CODEC_DONE),
	BAD(K_HTTP_REQ, "http Basic bad base64",
	    "CONNECT a:1 HTTP/1.1\r\nProxy-Authorization: Basic !!!!\r\n\r\n", CODEC_EFIELD),
	BAD(K_HTTP_REQ, "http Basic bad padding",
	    "CONNECT a:1 HTTP/1.1\r\nProxy-Authorization: Basic YQ=a\r\n\r\n", CODEC_EFIELD),
	BAD(K_HTTP_REQ, "http Basic without colon",
	    "CONNECT a:1 HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U=\r\n\r\n", CODEC_EFIELD),
	BAD(K_HTTP_REQ, "http Basic with NUL",
	    "CONNECT a:1 HTTP/1.1\r\nProxy-Authorization: Basic YQBiOmM=\r\n\r\n", CODEC_EFIELD),
	BAD(K_HTTP_REQ, "http Digest is ignored",
	    "CONNECT a:1 HTTP/1.1\r\nProxy-Authorization: Digest x=y\r\n\r\n", CODEC_DONE),
	BAD(K_HTTP_REQ, "http header case-insensitive",
	    "CONNECT a:1 HTTP/1.1\r\nproxy-authorization: basic YTpi\r\n\r\n", CODEC_DONE),
};

static void test_malformed(void)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *t = &bads[i];
		size_t used = 0;
		union parsed p;
		int rc = parse_exact(t->kind, (const uint8_t *)t->b, t->n, &used, &p);

		is_int(rc, t->want, "%s: %s -> %s", kind_name[t->kind], t->name,
		       codec_strerror(t->want));
	}
}

static void test_http_specifics(void)
{
	static const char auth[] = "CONNECT a:1 HTTP/1.1\r\nproxy-authorization: basic YTpi\r\n"
				   "Proxy-Authorization: Basic Yzpk\r\n\r\n";
	static uint8_t big[HTTP_HEAD_MAX + 16];
	size_t used, n;
	union parsed p;
	int rc;

	rc = parse_exact(K_HTTP_REQ, (const uint8_t *)auth, sizeof(auth) - 1, &used, &p);
	ok(rc == CODEC_DONE && p.http.has_auth && !strcmp(p.http.user, "a") &&
		   !strcmp(p.http.pass, "b"),
	   "http: first Proxy-Authorization wins, names and scheme case-insensitive");

	/* A head of exactly HTTP_HEAD_MAX bytes parses; one byte more is EFIELD. */
	n = (size_t)snprintf((char *)big, sizeof(big), "CONNECT a:1 HTTP/1.1\r\nX: ");
	memset(big + n, 'x', HTTP_HEAD_MAX - n - 4);
	memcpy(big + HTTP_HEAD_MAX - 4, "\r\n\r\n", 4);
	rc = parse_exact(K_HTTP_REQ, big, HTTP_HEAD_MAX, &used, &p);
	ok(rc == CODEC_DONE && used == HTTP_HEAD_MAX, "http request head of HTTP_HEAD_MAX");
	memmove(big + n + 1, big + n, HTTP_HEAD_MAX - n);
	rc = parse_exact(K_HTTP_REQ, big, HTTP_HEAD_MAX + 1, &used, &p);
	is_int(rc, CODEC_EFIELD, "http request head of HTTP_HEAD_MAX + 1");
	rc = parse_exact(K_HTTP_REQ, big, HTTP_HEAD_MAX - 1, &used, &p);
	is_int(rc, CODEC_NEED_MORE, "http unterminated head below the cap");
	rc = parse_exact(K_HTTP_REQ, big, HTTP_HEAD_MAX, &used, &p);
	is_int(rc, CODEC_EFIELD, "http unterminated head at the cap");
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	rc = parse_exact(K_HTTP_REP, big, HTTP_HEAD_MAX + 1, &used, &p);
	is_int(rc, CODEC_EFIELD, "http reply head over the cap");
	rc = parse_exact(K_HTTP_REP, big, 100, &used, &p);
	is_int(rc, CODEC_NEED_MORE, "http reply head not ended yet");

	/* Data the server sends right after a 200 belongs to the tunnel. */
	{
		static const char r[] = "HTTP/1.1 200 OK\r\n\r\nSSH-2.0-x\r\n";
		rc = parse_exact(K_HTTP_REP, (const uint8_t *)r, sizeof(r) - 1, &used, &p);
		ok(rc == CODEC_DONE && used == 19 && p.status == 200,
		   "http reply: tunnel bytes after the head are not consumed");
	}
}

/* ---- builders: field errors and too-small buffers ---- */

static void test_builders(void)
{
	uint8_t b[MSG_MAX], methods[256] = { 0 };
	char user256[SOCKS_USER_MAX + 2];
	struct socks_addr v4 = a_v4(1, 2, 3, 4, 5), bad = v4, empty = a_name("", 1),
			  marker = a_v4(0, 0, 0, 7, 80), v6 = a_v6(1), nm = a_name("x.y", 1),
			  crlf = a_name("a\r\nX: y", 1), full = a_name("x", 1);

	memset(user256, 'u', sizeof(user256) - 1);
	user256[sizeof(user256) - 1] = 0;
	/* A name field filled to the last byte with no NUL: must not be read past. */
	memset(full.u.name, 'n', sizeof(full.u.name));
	bad.atyp = 9;

	is_int(s5_build_greeting(b, sizeof(b), methods, 0), CODEC_EFIELD, "greeting 0 methods");
	is_int(s5_build_greeting(b, sizeof(b), methods, 256), CODEC_EFIELD, "greeting 256 methods");
	is_int(s5_build_auth(b, sizeof(b), user256, "p"), CODEC_EFIELD, "auth user 256 bytes");
	is_int(s5_build_auth(b, sizeof(b), "u", user256), CODEC_EFIELD, "auth pass 256 bytes");
	is_int(s5_build_request(b, sizeof(b), 1, &bad), CODEC_EATYP, "request ATYP 9");
	is_int(s5_build_request(b, sizeof(b), 1, &empty), CODEC_EFIELD, "request empty name");
	is_int(s5_build_request(b, sizeof(b), 1, &full), CODEC_EFIELD, "request unterminated name");
	is_int(s5_build_request(b, 2, 1, &empty), CODEC_EFIELD, "request empty name, tiny cap");
	is_int(s5_build_reply(b, sizeof(b), 0, &bad), CODEC_EATYP, "reply ATYP 9");
	is_int(s5_build_udp_header(b, sizeof(b), 0, &bad), CODEC_EATYP, "udp ATYP 9");
	is_int(s5_build_udp_header(b, sizeof(b), 0, &empty), CODEC_EFIELD, "udp empty name");
	is_int(s4_build_request(b, sizeof(b), 1, &v6, ""), CODEC_EATYP, "s4 IPv6");
	is_int(s4_build_request(b, sizeof(b), 1, &bad, ""), CODEC_EATYP, "s4 ATYP 9");
	is_int(s4_build_request(b, sizeof(b), 1, &v4, user256), CODEC_EFIELD, "s4 userid 256");
	is_int(s4_build_request(b, sizeof(b), 1, &empty, ""), CODEC_EFIELD, "s4a empty name");
	is_int(s4_build_request(b, sizeof(b), 1, &marker, ""), CODEC_EFIELD, "s4 0.0.0.7");
	is_int(http_build_connect(b, sizeof(b), &bad, NULL, NULL), CODEC_EATYP, "http ATYP 9");
	is_int(http_build_connect(b, sizeof(b), &empty, NULL, NULL), CODEC_EFIELD,
	       "http empty name");
	is_int(http_build_connect(b, sizeof(b), &crlf, NULL, NULL), CODEC_EFIELD,
	       "http name with CRLF (header injection)");
	is_int(http_build_connect(b, sizeof(b), &nm, "a:b", "p"), CODEC_EFIELD,
	       "http user with colon");
	is_int(http_build_connect(b, sizeof(b), &nm, user256, "p"), CODEC_EFIELD, "http user 256");
	is_int(socks_addr_wire_len(&bad), 0, "wire len of ATYP 9 is 0");

	/* Every builder with every cap below its size: ENOSPC and no write past cap
	 * (exact-size heap buffer). */
	for (size_t i = 0; i < nmsgs; i++) {
		const struct msg *m = &msgs[i];
		size_t used, bad_cap = SIZE_MAX;
		union parsed p;

		if (parse_any(m->kind, m->b, m->n, &used, &p) != CODEC_DONE) {
			ok(0, "%s: reparse for the builder sweep", m->name);
			continue;
		}
		if (!strcmp(m->name, "http req bare LF") || !strcmp(m->name, "http reply headers") ||
		    !strcmp(m->name, "http reply bare LF"))
			continue; /* hand-written, no builder */
		/* cap == n must succeed and write exactly the message. */
		for (size_t cap = 0; cap <= m->n && bad_cap == SIZE_MAX; cap++) {
			uint8_t *o = malloc(cap ? cap : 1);
			ssize_t r = -100;

			if (!o)
				abort();
			switch (m->kind) {
			case K_GREETING:
				r = s5_build_greeting(o, cap, p.greeting.methods, p.greeting.nmethods);
				break;
			case K_METHOD_REPLY: r = s5_build_method_reply(o, cap, p.byte); break;
			case K_AUTH: r = s5_build_auth(o, cap, p.auth.user, p.auth.pass); break;
			case K_AUTH_REPLY: r = s5_build_auth_reply(o, cap, p.byte); break;
			case K_REQUEST: r = s5_build_request(o, cap, p.req.cmd, &p.req.addr); break;
			case K_REPLY: r = s5_build_reply(o, cap, p.req.cmd, &p.req.addr); break;
			case K_UDP: r = s5_build_udp_header(o, cap, p.udp.frag, &p.udp.addr); break;
			case K_S4_REQ:
				r = s4_build_request(o, cap, p.s4req.cmd, &p.s4req.addr, p.s4req.userid);
				break;
			case K_S4_REP:
				r = s4_build_reply(o, cap, p.s4rep.cd, p.s4rep.port, p.s4rep.v4);
				break;
			case K_HTTP_REQ:
				r = http_build_connect(o, cap, &p.http.addr,
						       p.http.has_auth ? p.http.user : NULL,
						       p.http.pass);
				break;
			case K_HTTP_REP: r = http_build_connect_reply(o, cap, p.status, NULL); break;
			}
			if (cap < m->n ? r != CODEC_ENOSPC
				       : r != (ssize_t)m->n || memcmp(o, m->b, m->n))
				bad_cap = cap;
			free(o);
		}
		ok(bad_cap == SIZE_MAX, "%s: every cap below %zu bytes is ENOSPC, exactly %zu builds it",
		   m->name, m->n, m->n);
	}
}

/* ---- sweeps over every valid message ---- */

static void test_truncation(void)
{
	for (size_t i = 0; i < nmsgs; i++) {
		const struct msg *m = &msgs[i];
		int want = m->kind == K_UDP ? CODEC_ELENGTH : CODEC_NEED_MORE;
		size_t used, bad = SIZE_MAX;
		union parsed p;
		int rc;

		for (size_t k = 0; k < m->n && bad == SIZE_MAX; k++) {
			used = 12345;
			rc = parse_exact(m->kind, m->b, k, &used, &p);
			if (rc != want || used != 12345)
				bad = k;
		}
		ok(bad == SIZE_MAX, "%s: every prefix (0..%zu) is %s and consumes nothing", m->name,
		   m->n - 1, codec_strerror(want));
		rc = parse_exact(m->kind, m->b, m->n, &used, &p);
		ok(rc == CODEC_DONE && used == m->n, "%s: whole message (%zu bytes) is DONE",
		   m->name, m->n);
	}
}

static void test_bitflips(void)
{
	uint8_t b[MSG_MAX];
	size_t total = 0, bad = 0, done = 0;

	for (size_t i = 0; i < nmsgs; i++) {
		const struct msg *m = &msgs[i];
		for (size_t byte = 0; byte < m->n; byte++) {
			for (int bit = 0; bit < 8; bit++) {
				size_t used = SIZE_MAX;
				union parsed p;
				int rc;

				memcpy(b, m->b, m->n);
				b[byte] ^= (uint8_t)(1u << bit);
				rc = parse_exact(m->kind, b, m->n, &used, &p);
				total++;
				if (!valid_rc(rc) || (m->kind == K_UDP && rc == CODEC_NEED_MORE) ||
				    (rc == CODEC_DONE && (used == 0 || used > m->n))) {
					if (bad++ < 5)
						printf("# %s: flip byte %zu bit %d -> %d used %zu\n",
						       m->name, byte, bit, rc, used);
				}
				done += rc == CODEC_DONE;
			}
		}
	}
	ok(bad == 0, "bit-flip sweep: %zu flips, all valid codes, DONE within len (%zu DONE)",
	   total, done);
}

/* Deterministic pseudo-random input for every parser: only valid codes. */
static void test_random(void)
{
	uint32_t x = 0x12345678;
	uint8_t b[600];
	size_t bad = 0, runs = 0;

	for (int k = K_GREETING; k <= K_HTTP_REP; k++) {
		for (int r = 0; r < 3000; r++) {
			size_t n, used = SIZE_MAX;
			union parsed p;
			int rc;

			x = x * 1103515245u + 12345u;
			n = (x >> 8) % sizeof(b);
			for (size_t j = 0; j < n; j++) {
				x = x * 1103515245u + 12345u;
				b[j] = (uint8_t)(x >> 16);
			}
			/* Half the time start with the right version byte to get deeper. */
			if (n && (r & 1)) {
				static const uint8_t first[] = { 5, 5, 1, 1, 5, 5, 0, 4, 0, 'C', 'H' };
				b[0] = first[k];
			}
			rc = parse_exact((enum kind)k, b, n, &used, &p);
			runs++;
			if (!valid_rc(rc) || (rc == CODEC_DONE && used > n))
				bad++;
		}
	}
	ok(bad == 0, "random inputs: %zu runs, all valid codes", runs);
}

static void test_pipelined(void)
{
	uint8_t b[1024];
	static const uint8_t methods[] = { SOCKS5_METHOD_NOAUTH, SOCKS5_METHOD_USERPASS };
	struct socks_addr nm = a_name("target.test", 80);
	size_t off = 0, used;
	union parsed p;
	ssize_t n;
	int rc;

	n = s5_build_greeting(b, sizeof(b), methods, 2);
	off += (size_t)n;
	n = s5_build_auth(b + off, sizeof(b) - off, "alice", "pw");
	off += (size_t)n;
	n = s5_build_request(b + off, sizeof(b) - off, SOCKS_CMD_CONNECT, &nm);
	off += (size_t)n;
	memcpy(b + off, "GET / HTTP/1.0\r\n\r\n", 18);
	off += 18;

	rc = parse_exact(K_GREETING, b, off, &used, &p);
	ok(rc == CODEC_DONE && used == 4 && p.greeting.nmethods == 2, "pipelined: greeting");
	off -= used;
	memmove(b, b + used, off);
	rc = parse_exact(K_AUTH, b, off, &used, &p);
	ok(rc == CODEC_DONE && !strcmp(p.auth.user, "alice") && !strcmp(p.auth.pass, "pw"),
	   "pipelined: auth");
	off -= used;
	memmove(b, b + used, off);
	rc = parse_exact(K_REQUEST, b, off, &used, &p);
	ok(rc == CODEC_DONE && p.req.cmd == 1 && !strcmp(p.req.addr.u.name, "target.test"),
	   "pipelined: request");
	ok(off - used == 18 && !memcmp(b + used, "GET /", 5),
	   "pipelined: application data left after the request");

	/* Client side: method reply + auth reply + reply + tunnel data in one read. */
	off = 0;
	off += (size_t)s5_build_method_reply(b, sizeof(b), SOCKS5_METHOD_USERPASS);
	off += (size_t)s5_build_auth_reply(b + off, sizeof(b) - off, 0);
	off += (size_t)s5_build_reply(b + off, sizeof(b) - off, 0, &nm);
	memcpy(b + off, "SSH-2.0", 7);
	off += 7;
	{
		size_t pos = 0;
		int ok1 = parse_exact(K_METHOD_REPLY, b, off, &used, &p) == CODEC_DONE && p.byte == 2;
		pos += used;
		ok1 = ok1 && parse_exact(K_AUTH_REPLY, b + pos, off - pos, &used, &p) == CODEC_DONE;
		pos += used;
		ok1 = ok1 && parse_exact(K_REPLY, b + pos, off - pos, &used, &p) == CODEC_DONE &&
		      p.req.cmd == 0;
		pos += used;
		ok(ok1 && off - pos == 7, "pipelined: client-side replies then tunnel data");
	}

	/* SOCKS4a request followed by data. */
	n = s4_build_request(b, sizeof(b), 1, &nm, "u");
	memcpy(b + n, "\0\0data", 6);
	rc = parse_exact(K_S4_REQ, b, (size_t)n + 6, &used, &p);
	ok(rc == CODEC_DONE && used == (size_t)n, "pipelined: s4a request then data");

	/* HTTP request followed by tunnel bytes (a TLS ClientHello, say). */
	n = http_build_connect(b, sizeof(b), &nm, NULL, NULL);
	memcpy(b + n, "\x16\x03\x01", 3);
	rc = parse_exact(K_HTTP_REQ, b, (size_t)n + 3, &used, &p);
	ok(rc == CODEC_DONE && used == (size_t)n, "pipelined: http request then tunnel bytes");
}

static void test_s4_limits(void)
{
	uint8_t b[600];
	size_t used;
	union parsed p;
	int rc;

	/* USERID: 255 bytes + NUL is fine, 256 bytes without a NUL is EFIELD, and so is
	 * anything longer, even when the NUL comes later. */
	memcpy(b, "\4\1\0\120\1\2\3\4", 8);
	memset(b + 8, 'u', 300);
	b[8 + 255] = 0;
	rc = parse_exact(K_S4_REQ, b, 8 + 256, &used, &p);
	ok(rc == CODEC_DONE && used == 264 && strlen(p.s4req.userid) == 255, "s4 userid 255");
	b[8 + 255] = 'u';
	is_int(parse_exact(K_S4_REQ, b, 8 + 255, &used, &p), CODEC_NEED_MORE,
	       "s4 userid 255 bytes, NUL not yet here");
	is_int(parse_exact(K_S4_REQ, b, 8 + 256, &used, &p), CODEC_EFIELD,
	       "s4 userid 256 bytes without NUL");
	b[8 + 256] = 0;
	is_int(parse_exact(K_S4_REQ, b, 8 + 257, &used, &p), CODEC_EFIELD,
	       "s4 userid 256 bytes then NUL");

	/* SOCKS4a name: same cap. */
	memcpy(b, "\4\1\0\120\0\0\0\x2a\0", 9);
	memset(b + 9, 'h', 300);
	b[9 + 255] = 0;
	rc = parse_exact(K_S4_REQ, b, 9 + 256, &used, &p);
	ok(rc == CODEC_DONE && p.s4req.addr.atyp == SOCKS5_ATYP_DOMAINNAME &&
		   strlen(p.s4req.addr.u.name) == 255 && p.s4req.addr.port == 80,
	   "s4a name 255, any 0.0.0.x marker");
	b[9 + 255] = 'h';
	is_int(parse_exact(K_S4_REQ, b, 9 + 255, &used, &p), CODEC_NEED_MORE,
	       "s4a name 255 bytes, NUL not yet here");
	is_int(parse_exact(K_S4_REQ, b, 9 + 256, &used, &p), CODEC_EFIELD,
	       "s4a name 256 bytes without NUL");
}

/* ---- early errors: the server can answer before the whole message arrives ---- */

static void test_early_errors(void)
{
	size_t used;
	union parsed p;

	is_int(parse_exact(K_GREETING, (const uint8_t *)"\4", 1, &used, &p), CODEC_EVERSION,
	       "greeting: version error on the first byte");
	is_int(parse_exact(K_REQUEST, (const uint8_t *)"\5\1\0\7", 4, &used, &p), CODEC_EATYP,
	       "request: ATYP error as soon as ATYP arrives");
	is_int(parse_exact(K_REPLY, (const uint8_t *)"\5\4\0\0", 4, &used, &p), CODEC_EATYP,
	       "reply with bogus ATYP is EATYP...");
	is_int(p.req.cmd, 4, "...but REP is still reported");
	is_int(parse_exact(K_HTTP_REP, (const uint8_t *)"\5\0", 2, &used, &p), CODEC_ESYNTAX,
	       "http reply: SOCKS bytes rejected at once");
}

int main(void)
{
	memset(long_name, 'n', SOCKS_NAME_MAX);
	for (size_t i = 0; i < SOCKS_NAME_MAX; i += 10)
		long_name[i] = '.';
	long_name[0] = 'a';
	memset(long_user, 'u', SOCKS_USER_MAX);
	memset(long_pass, 'p', SOCKS_USER_MAX);
	long_pass[7] = ':';

	build_msgs();
	test_round_trips();
	test_http_round_trips();
	test_malformed();
	test_http_specifics();
	test_s4_limits();
	test_early_errors();
	test_builders();
	test_truncation();
	test_bitflips();
	test_random();
	test_pipelined();
	return tap_done();
}

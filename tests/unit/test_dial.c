/* Unit tests of common/dial.c without sockets: a scripted peer behind struct dial_io
 * feeds replies in chunks of any size, with EAGAIN between them, EOF, bad bytes and a
 * clock that runs out, and records what the dialler sent. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>

#include "addr.h"
#include "conf.h"
#include "dial.h"
#include "errmap.h"
#include "log.h"
#include "tap.h"
#include "util.h"

struct fake {
	uint8_t rx[4096]; /* what the proxies answer, in order */
	size_t rxlen, rxoff;
	size_t chunk;     /* at most this many bytes per recv (0: all) */
	bool eagain;      /* an EAGAIN before every recv that would return data */
	bool toggle;
	bool eof;         /* once rx is drained: EOF (else EAGAIN forever) */
	uint8_t tx[4096];
	size_t txlen;
	size_t send_chunk;
	int sends;
	int connect_err;  /* connect(): 0 = connected at once, EINPROGRESS, or an error */
	int so_err;       /* how an EINPROGRESS connect ends (0: connected) */
	int so_err_calls;
	int send_err;     /* what send says before the connect is through (else so_err/EAGAIN) */
	bool connected;
	int fl, setfl_calls, last_setfl;
	uint64_t now;
	bool stall;       /* wait() never ready: time runs out */
};

static ssize_t fake_send(void *ctx, int fd, const void *buf, size_t len, int flags)
{
	struct fake *f = ctx;
	if (!f->connected) {
		/* Like TCP: EAGAIN while connecting, the connect's error once it failed. */
		errno = f->send_err ? f->send_err : f->so_err ? f->so_err : EAGAIN;
		return -1;
	}
	if (f->send_chunk && len > f->send_chunk)
		len = f->send_chunk;
	if (f->txlen + len > sizeof(f->tx)) {
		errno = EPIPE;
		return -1;
	}
	memcpy(f->tx + f->txlen, buf, len);
	f->txlen += len;
	f->sends++;
	return (ssize_t)len;
}

static ssize_t fake_recv(void *ctx, int fd, void *buf, size_t len, int flags)
{
	struct fake *f = ctx;
	size_t avail = f->rxlen - f->rxoff;

	if (avail == 0) {
		if (f->eof)
			return 0;
		errno = EAGAIN;
		return -1;
	}
	if (f->eagain && !(flags & MSG_PEEK)) {
		f->toggle = !f->toggle;
		if (f->toggle) {
			errno = EAGAIN;
			return -1;
		}
	}
	if (len > avail)
		len = avail;
	if (f->chunk && len > f->chunk)
		len = f->chunk;
	memcpy(buf, f->rx + f->rxoff, len);
	if (!(flags & MSG_PEEK))
		f->rxoff += len;
	return (ssize_t)len;
}

static int fake_wait(void *ctx, int fd, short events, int timeout_ms)
{
	struct fake *f = ctx;
	if (f->stall) {
		f->now += (uint64_t)timeout_ms;
		return 0;
	}
	f->now += 1;
	if (events & POLLOUT)
		f->connected = true; /* the handshake (or its failure) is through */
	/* Like poll: what was asked for, plus POLLERR for a failed connect. */
	return events | (f->so_err ? POLLERR : 0);
}

static int fake_connect(void *ctx, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct fake *f = ctx;
	if (f->connect_err == 0) {
		f->connected = true;
		return 0;
	}
	errno = f->connect_err;
	return -1;
}

static int fake_sock_error(void *ctx, int fd)
{
	struct fake *f = ctx;
	f->so_err_calls++;
	return f->so_err;
}

static int fake_getfl(void *ctx, int fd)
{
	return ((struct fake *)ctx)->fl;
}

static int fake_setfl(void *ctx, int fd, int fl)
{
	struct fake *f = ctx;
	f->setfl_calls++;
	f->last_setfl = fl;
	return 0;
}

static uint64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static struct fake F;
static struct dial_io fake_io = {
	.send = fake_send,
	.recv = fake_recv,
	.wait = fake_wait,
	.connect = fake_connect,
	.sock_error = fake_sock_error,
	.getfl = fake_getfl,
	.setfl = fake_setfl,
	.now_ms = fake_now,
	.ctx = &F,
};

static void fake_reset(void)
{
	memset(&F, 0, sizeof(F));
	F.connect_err = EINPROGRESS;
	F.fl = O_RDWR;
	F.now = 1000;
}

static void rx_add(const void *p, size_t n)
{
	memcpy(F.rx + F.rxlen, p, n);
	F.rxlen += n;
}

#define RX(...)                                                                           \
	do {                                                                                \
		static const uint8_t b_[] = { __VA_ARGS__ };                                \
		rx_add(b_, sizeof(b_));                                                     \
	} while (0)

static struct proxy P[4];
static struct dial_hop H[4];

static void hop_set(size_t i, const char *url)
{
	char err[256];
	if (!proxy_url_parse(url, &P[i], err, sizeof(err)))
		printf("# bad url %s: %s\n", url, err);
	memset(&H[i], 0, sizeof(H[i]));
	H[i].proxy = &P[i];
	if (!addr_parse_ip(P[i].host, &H[i].addr)) {
		H[i].addr.atyp = SOCKS5_ATYP_DOMAINNAME;
		str_copy(H[i].addr.u.name, P[i].host, sizeof(H[i].addr.u.name));
	}
	H[i].addr.port = P[i].port;
	if (H[i].addr.atyp != SOCKS5_ATYP_DOMAINNAME)
		H[i].salen = addr_to_sockaddr(&H[i].addr, &H[i].sa);
}

static struct socks_addr dst4(void)
{
	struct socks_addr a = { .atyp = SOCKS5_ATYP_IPV4, .port = 80 };
	static const uint8_t ip[4] = { 198, 18, 2, 2 };
	memcpy(a.u.v4, ip, 4);
	return a;
}

static int run(struct dial *d, size_t nhops, const struct socks_addr *dst, unsigned flags)
{
	dial_init(d, 7, H, nhops, dst, SOCKS_CMD_CONNECT, &fake_io, flags);
	return dial_run(d, F.now + 5000);
}

/* What a no-auth SOCKS5 server answers to one CONNECT, with a 198.18.1.2:1234 bind. */
static void rx_s5_ok(void)
{
	RX(0x05, 0x00);
	RX(0x05, 0x00, 0x00, 0x01, 198, 18, 1, 2, 0x04, 0xd2);
}

static void test_s5_noauth(void)
{
	static const uint8_t want[] = { 0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x01,
					198,  18,   2,    2,    0x00, 0x50 };
	struct socks_addr dst = dst4();
	struct dial d;

	for (size_t chunk = 0; chunk <= 3; chunk++) {
		fake_reset();
		F.chunk = chunk;
		F.eagain = chunk != 0;
		hop_set(0, "socks5://198.18.1.2:1080");
		rx_s5_ok();
		RX('S', 'S', 'H', '-');
		is_int(run(&d, 1, &dst, 0), 0, "socks5 no-auth, chunks of %zu: done", chunk);
		ok(F.txlen == sizeof(want) && memcmp(F.tx, want, sizeof(want)) == 0,
		   "socks5 no-auth, chunks of %zu: greeting then request on the wire", chunk);
		is_int(F.rxlen - F.rxoff, 4, "chunks of %zu: the destination's first bytes stay unread",
		       chunk);
		ok(d.bound.port == 1234 && d.bound.atyp == SOCKS5_ATYP_IPV4,
		   "chunks of %zu: bound address from the reply", chunk);
	}
	ok(F.setfl_calls == 2 && F.last_setfl == O_RDWR,
	   "a blocking socket gets O_NONBLOCK for the connect only, flags restored exactly");
}

static void test_s5_nonblocking_untouched(void)
{
	struct socks_addr dst = dst4();
	struct dial d;

	fake_reset();
	F.fl = O_RDWR | O_NONBLOCK | O_APPEND;
	hop_set(0, "socks5://198.18.1.2:1080");
	rx_s5_ok();
	is_int(run(&d, 1, &dst, 0), 0, "non-blocking socket: done");
	is_int(F.setfl_calls, 0, "non-blocking socket: its flags are never written");
}

static void test_s5_auth(void)
{
	struct socks_addr dst = dst4();
	struct dial d;
	static const uint8_t auth[] = { 0x01, 5, 'a', 'l', 'i', 'c', 'e', 2, 'p', 'w' };

	fake_reset();
	hop_set(0, "socks5://alice:pw@198.18.1.2:1080");
	RX(0x05, 0x02);
	RX(0x01, 0x00);
	RX(0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0);
	is_int(run(&d, 1, &dst, 0), 0, "socks5 user/pass: done");
	ok(F.tx[1] == 2 && F.tx[2] == 0x00 && F.tx[3] == 0x02,
	   "user/pass: offers no-auth and username/password");
	ok(memcmp(F.tx + 4, auth, sizeof(auth)) == 0, "user/pass: RFC 1929 request follows");

	fake_reset();
	hop_set(0, "socks5://alice:bad@198.18.1.2:1080");
	RX(0x05, 0x02);
	RX(0x01, 0x01);
	is_int(run(&d, 1, &dst, 0), -1, "wrong password fails");
	is_int(d.err, EACCES, "wrong password: EACCES");
	is_int(d.fail_hop, 0, "wrong password: blames hop 1");
	ok(strstr(d.msg, "hop 1 (socks5 198.18.1.2:1080)") && strstr(d.msg, "authentication"),
	   "message names the hop and the reason: %s", d.msg);

	fake_reset();
	hop_set(0, "socks5://198.18.1.2:1080");
	RX(0x05, 0xff);
	is_int(run(&d, 1, &dst, 0), -1, "no acceptable method fails");
	is_int(d.err, EACCES, "no acceptable method: EACCES");

	fake_reset();
	hop_set(0, "socks5://198.18.1.2:1080");
	RX(0x05, 0x02);
	is_int(run(&d, 1, &dst, 0), -1, "a method we did not offer fails");
	is_int(d.err, EACCES, "a method we did not offer: EACCES");
}

static void test_s5_pipeline(void)
{
	struct socks_addr dst = dst4();
	struct dial d;

	fake_reset();
	hop_set(0, "socks5://alice:pw@198.18.1.2:1080");
	RX(0x05, 0x02);
	RX(0x01, 0x00);
	RX(0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0);
	is_int(run(&d, 1, &dst, DIAL_F_PIPELINE), 0, "pipelined user/pass: done");
	is_int(F.sends, 1, "pipelined: greeting + auth + request in one write");
	ok(F.tx[1] == 1 && F.tx[2] == 0x02, "pipelined: offers only the method whose bytes follow");
	is_int(F.txlen, 3 + 10 + 10, "pipelined: all three messages");

	fake_reset();
	hop_set(0, "socks5://alice:pw@198.18.1.2:1080");
	RX(0x05, 0x00);
	is_int(run(&d, 1, &dst, DIAL_F_PIPELINE), -1,
	       "pipelined: a server choosing no-auth after our auth bytes is refused");
}

/* microsocks: answers the pipelined greeting, then waits for a request it swallowed. */
static void test_s5_pipeline_stall(void)
{
	struct socks_addr dst = dst4();
	struct dial d;

	fake_reset();
	F.connect_err = 0;
	F.now = 1000;
	hop_set(0, "socks5://198.18.1.2:1080");
	dial_init(&d, 7, H, 1, &dst, SOCKS_CMD_CONNECT, &fake_io, DIAL_F_PIPELINE);
	is_int(dial_step(&d), S5_RECV_METHOD, "pipelined: all sent, waiting for the method");
	is_int((int)dial_pipeline_stall(&d), 0, "no stall before the method reply");
	F.now = 1080; /* 80 ms round trip */
	RX(0x05, 0x00);
	is_int(dial_step(&d), S5_RECV_REPLY, "method in, waiting for the reply");
	is_int((int)dial_pipeline_stall(&d), 1080 + 600, "a stall: 600 ms at least after the method");
	F.now = 1500;
	RX(0x05, 0x00, 0x00);
	is_int(dial_step(&d), S5_RECV_REPLY, "part of the reply");
	is_int((int)dial_pipeline_stall(&d), 0, "reply bytes: no stall");

	fake_reset();
	F.connect_err = 0;
	F.now = 1000;
	dial_init(&d, 7, H, 1, &dst, SOCKS_CMD_CONNECT, &fake_io, DIAL_F_PIPELINE);
	dial_step(&d);
	F.now = 1400; /* a far proxy: 400 ms round trip */
	RX(0x05, 0x00);
	dial_step(&d);
	is_int((int)dial_pipeline_stall(&d), 1400 + 2 * 400 + 300, "twice the round trip + 300 ms");

	fake_reset();
	F.connect_err = 0;
	H[0].nopipe = true;
	dial_init(&d, 7, H, 1, &dst, SOCKS_CMD_CONNECT, &fake_io, DIAL_F_PIPELINE);
	dial_step(&d);
	is_int(F.txlen, 3, "a hop known to stall: the greeting alone");
	RX(0x05, 0x00);
	is_int(dial_step(&d), S5_RECV_REPLY, "then the request, step by step");
	is_int(F.txlen, 3 + 10, "request sent after the method");
	is_int((int)dial_pipeline_stall(&d), 0, "not pipelined: never a stall");
	H[0].nopipe = false;
}

static void test_s5_replies(void)
{
	static const struct {
		uint8_t rep;
		int err;
	} cases[] = {
		{ S5_REP_GENERAL_FAILURE, ECONNREFUSED }, { S5_REP_NOT_ALLOWED, EACCES },
		{ S5_REP_NET_UNREACHABLE, ENETUNREACH },  { S5_REP_HOST_UNREACHABLE, EHOSTUNREACH },
		{ S5_REP_CONN_REFUSED, ECONNREFUSED },    { S5_REP_TTL_EXPIRED, ETIMEDOUT },
	};
	struct socks_addr dst = dst4();
	struct dial d;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_reset();
		hop_set(0, "socks5://198.18.1.2:1080");
		RX(0x05, 0x00);
		uint8_t rep[] = { 0x05, cases[i].rep, 0x00, 0x01, 0, 0, 0, 0, 0, 0 };
		rx_add(rep, sizeof(rep));
		run(&d, 1, &dst, 0);
		is_int(d.err, cases[i].err, "REP %u -> errno %d", cases[i].rep, cases[i].err);
		is_int(d.fail_hop, 1, "REP %u blames the destination", cases[i].rep);
	}
	ok(strstr(d.msg, "198.18.2.2:80") != NULL, "a destination failure names it: %s", d.msg);
}

static void test_s5_domain_and_v6_replies(void)
{
	struct socks_addr dst = { .atyp = SOCKS5_ATYP_DOMAINNAME, .port = 443 };
	struct dial d;

	str_copy(dst.u.name, "target.test", sizeof(dst.u.name));
	fake_reset();
	F.chunk = 1;
	hop_set(0, "socks5://198.18.1.2:1080");
	RX(0x05, 0x00);
	RX(0x05, 0x00, 0x00, 0x03, 3, 'a', 'b', 'c', 0x01, 0xbb);
	RX('X');
	is_int(run(&d, 1, &dst, 0), 0, "a name destination with a name bound address");
	ok(F.tx[3 + 3] == SOCKS5_ATYP_DOMAINNAME && F.tx[3 + 4] == 11, "name sent as DOMAINNAME");
	is_int(F.rxlen - F.rxoff, 1, "name reply read exactly to its end");

	fake_reset();
	hop_set(0, "socks5://198.18.1.2:1080");
	dst = dst4();
	RX(0x05, 0x00);
	RX(0x05, 0x00, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80);
	RX('Y', 'Z');
	is_int(run(&d, 1, &dst, 0), 0, "an IPv6 bound address");
	is_int(F.rxlen - F.rxoff, 2, "IPv6 reply read exactly to its end");
}

static void test_s4(void)
{
	struct socks_addr dst = dst4();
	struct dial d;

	fake_reset();
	F.chunk = 3;
	hop_set(0, "socks4://198.18.1.2:1080");
	RX(0x00, 90, 0, 0, 0, 0, 0, 0);
	RX('!');
	is_int(run(&d, 1, &dst, 0), 0, "socks4 granted");
	ok(F.tx[0] == 4 && F.tx[1] == 1 && F.tx[4] == 198 && F.txlen == 9,
	   "socks4 request with an empty user id");
	is_int(F.rxlen - F.rxoff, 1, "socks4 reply read exactly");

	fake_reset();
	hop_set(0, "socks4://198.18.1.2:1080");
	RX(0x00, 91, 0, 0, 0, 0, 0, 0);
	run(&d, 1, &dst, 0);
	is_int(d.err, ECONNREFUSED, "socks4 rejected: ECONNREFUSED");

	fake_reset();
	hop_set(0, "socks4://198.18.1.2:1080");
	dst.atyp = SOCKS5_ATYP_IPV6;
	memset(dst.u.v6, 0, 16);
	run(&d, 1, &dst, 0);
	is_int(d.err, ENETUNREACH, "socks4 cannot carry IPv6: ENETUNREACH");

	fake_reset();
	hop_set(0, "socks4://198.18.1.2:1080");
	dst.atyp = SOCKS5_ATYP_DOMAINNAME;
	str_copy(dst.u.name, "target.test", sizeof(dst.u.name));
	run(&d, 1, &dst, 0);
	is_int(d.err, EHOSTUNREACH, "socks4 cannot carry a name");

	fake_reset();
	hop_set(0, "socks4a://198.18.1.2:1080");
	RX(0x00, 90, 0, 0, 0, 0, 0, 0);
	is_int(run(&d, 1, &dst, 0), 0, "socks4a carries the name");
	ok(F.tx[4] == 0 && F.tx[7] != 0 && memcmp(F.tx + 9, "target.test", 12) == 0,
	   "socks4a: 0.0.0.x then the name");
}

static void test_http(void)
{
	static const char ok200[] = "HTTP/1.1 200 Connection established\r\nX-A: b\r\n\r\nSSH-2.0";
	static const char e407[] = "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n";
	static const char e502[] = "HTTP/1.0 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
	struct socks_addr dst = dst4();
	struct dial d;

	for (size_t chunk = 0; chunk <= 2; chunk++) {
		fake_reset();
		F.chunk = chunk ? chunk * 5 - 4 : 0; /* all, 1, 6 */
		F.eagain = chunk != 0;
		hop_set(0, "http://u:p@198.18.1.2:3128");
		rx_add(ok200, sizeof(ok200) - 1);
		is_int(run(&d, 1, &dst, 0), 0, "http CONNECT 200, chunking %zu", chunk);
		is_int(F.rxlen - F.rxoff, 7, "http: bytes after the head stay unread (%zu)", chunk);
	}
	ok(memmem(F.tx, F.txlen, "CONNECT 198.18.2.2:80 HTTP/1.1\r\n", 32) != NULL,
	   "http: CONNECT line");
	ok(memmem(F.tx, F.txlen, "Proxy-Authorization: Basic dTpw", 31) != NULL,
	   "http: Basic credentials");

	/* The longest credentials and name there can be still fit the request. */
	{
		static char url[1024];
		char u[256], pw[256];
		memset(u, 'u', 255);
		u[255] = '\0';
		memset(pw, 'p', 255);
		pw[255] = '\0';
		snprintf(url, sizeof(url), "http://%s:%s@198.18.1.2:3128", u, pw);
		fake_reset();
		hop_set(0, url);
		struct socks_addr name = { .atyp = SOCKS5_ATYP_DOMAINNAME, .port = 443 };
		memset(name.u.name, 'n', 255);
		rx_add(ok200, sizeof(ok200) - 1);
		is_int(run(&d, 1, &name, 0), 0, "http: 255-byte user, password and name fit");
		ok(P[0].has_auth && strlen(P[0].user) == 255, "... with the long user parsed");
	}

	fake_reset();
	hop_set(0, "http://198.18.1.2:3128");
	rx_add(e407, sizeof(e407) - 1);
	run(&d, 1, &dst, 0);
	is_int(d.err, EACCES, "http 407: EACCES");
	is_int(d.fail_hop, 0, "http 407 blames the proxy");

	fake_reset();
	hop_set(0, "http://198.18.1.2:3128");
	rx_add(e502, sizeof(e502) - 1);
	run(&d, 1, &dst, 0);
	is_int(d.err, http_status_to_errno(502), "http 502: the errmap's errno");

	fake_reset();
	F.eof = true;
	hop_set(0, "http://198.18.1.2:3128");
	rx_add(ok200, 20);
	run(&d, 1, &dst, 0);
	is_int(d.err, ECONNREFUSED, "http: EOF inside the head is a refusal");
}

static void test_chain(void)
{
	struct socks_addr dst = dst4();
	struct dial d;

	fake_reset();
	hop_set(0, "socks5://198.18.1.2:1080");
	hop_set(1, "socks4a://proxy2.test:1081");
	hop_set(2, "http://198.18.1.3:3128");
	RX(0x05, 0x00);
	RX(0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0);
	RX(0x00, 90, 0, 0, 0, 0, 0, 0);
	{
		static const char r[] = "HTTP/1.1 200 OK\r\n\r\n";
		rx_add(r, sizeof(r) - 1);
	}
	is_int(run(&d, 3, &dst, 0), 0, "3-hop socks5 -> socks4a -> http: done");
	ok(F.tx[6] == SOCKS5_ATYP_DOMAINNAME && memcmp(F.tx + 8, "proxy2.test", 11) == 0,
	   "hop 1 is asked for hop 2 by name");
	ok(memmem(F.tx, F.txlen, "CONNECT 198.18.2.2:80", 21) != NULL,
	   "the last hop is asked for the destination");

	fake_reset();
	hop_set(1, "socks5://198.18.1.3:1081");
	RX(0x05, 0x00);
	RX(0x05, S5_REP_CONN_REFUSED, 0x00, 0x01, 0, 0, 0, 0, 0, 0);
	run(&d, 2, &dst, 0);
	is_int(d.err, ECONNREFUSED, "2-hop, hop 2 down: ECONNREFUSED");
	is_int(d.fail_hop, 1, "2-hop, hop 2 down: blames hop 2 (dynamic chains skip it)");
	ok(strstr(d.msg, "hop 2 (socks5 198.18.1.3:1081)") != NULL, "names hop 2: %s", d.msg);
}

static void test_connect_and_time(void)
{
	struct socks_addr dst = dst4();
	struct dial d;

	fake_reset();
	F.connect_err = ECONNREFUSED;
	hop_set(0, "socks5://198.18.1.2:1080");
	run(&d, 1, &dst, 0);
	is_int(d.err, ECONNREFUSED, "first hop refuses the TCP connect: ECONNREFUSED");
	is_int(d.fail_hop, 0, "... and it is blamed");
	is_int(F.last_setfl, O_RDWR, "flags restored after a failed connect");

	fake_reset();
	F.so_err = EHOSTUNREACH;
	run(&d, 1, &dst, 0);
	is_int(d.err, EHOSTUNREACH, "async connect error, told by the first send");
	ok(strstr(d.msg, "connect: ") != NULL, "... and named a connect failure: %s", d.msg);

	fake_reset();
	F.send_err = EPIPE;
	F.so_err = ECONNREFUSED;
	run(&d, 1, &dst, 0);
	is_int(d.err, ECONNREFUSED, "a bare EPIPE from the first send: the cause from SO_ERROR");
	is_int(F.so_err_calls, 1, "... asked once");

	fake_reset();
	rx_s5_ok();
	is_int(run(&d, 1, &dst, 0), 0, "async connect, clean POLLOUT");
	is_int(F.so_err_calls, 0, "a clean POLLOUT needs no SO_ERROR query");

	fake_reset();
	F.connect_err = 0;
	rx_s5_ok();
	is_int(run(&d, 1, &dst, 0), 0, "a connect that completes at once");

	fake_reset();
	F.stall = true;
	run(&d, 1, &dst, 0);
	is_int(d.err, ETIMEDOUT, "a first hop that never accepts: ETIMEDOUT");

	fake_reset();
	F.stall = true;
	dial_init(&d, 7, H, 1, &dst, SOCKS_CMD_CONNECT, &fake_io, 0);
	d.connect_deadline_ms = F.now + 300;
	dial_run(&d, F.now + 5000);
	ok(d.err == ETIMEDOUT && F.now <= 1000 + 300 + 1,
	   "connect_deadline_ms bounds the TCP connect alone (at %llu)",
	   (unsigned long long)F.now);

	fake_reset();
	RX(0x05, 0x00);
	run(&d, 1, &dst, 0); /* the request reply never comes (no EOF): the clock runs */
	is_int(d.err, ETIMEDOUT, "a proxy that never answers: ETIMEDOUT");
	ok(strstr(d.msg, "S5_RECV_REPLY") != NULL, "the timeout names the state: %s", d.msg);

	fake_reset();
	F.send_chunk = 1;
	rx_s5_ok();
	is_int(run(&d, 1, &dst, 0), 0, "1-byte writes");
	is_int(F.txlen, 13, "... all bytes went out");
}

/* Every truncation of a good reply stream ends in FAILED (never DONE, never a hang),
 * and every bit flip in it ends in DONE or FAILED. */
static void test_sweeps(void)
{
	struct socks_addr dst = dst4();
	struct dial d;
	uint8_t good[64];
	size_t glen;
	int bad = 0;

	fake_reset();
	hop_set(0, "socks5://u:p@198.18.1.2:1080");
	RX(0x05, 0x02);
	RX(0x01, 0x00);
	RX(0x05, 0x00, 0x00, 0x03, 4, 'h', 'o', 's', 't', 0x00, 0x50);
	glen = F.rxlen;
	memcpy(good, F.rx, glen);
	for (size_t cut = 0; cut < glen; cut++) {
		fake_reset();
		F.eof = true;
		rx_add(good, cut);
		if (run(&d, 1, &dst, 0) != -1 || d.err != ECONNREFUSED)
			bad++;
	}
	is_int(bad, 0, "truncated at every byte: ECONNREFUSED every time");

	bad = 0;
	for (size_t i = 0; i < glen * 8; i++) {
		fake_reset();
		F.eof = true;
		rx_add(good, glen);
		F.rx[i / 8] ^= (uint8_t)(1u << (i % 8));
		int rc = run(&d, 1, &dst, 0);
		if (!((rc == 0 && d.state == DIAL_DONE) || (rc == -1 && d.state == DIAL_FAILED)))
			bad++;
	}
	is_int(bad, 0, "every bit flip ends in DONE or FAILED");
}

static void test_names(void)
{
	ok(strcmp(dial_state_name(S5_RECV_METHOD), "S5_RECV_METHOD") == 0, "state names");
	ok(strcmp(dial_state_name((enum dial_state)99), "?") == 0, "unknown state name");
	struct dial d;
	struct socks_addr dst = dst4();
	hop_set(0, "socks5://198.18.1.2:1080");
	dial_init(&d, 7, H, 1, &dst, SOCKS_CMD_CONNECT, &fake_io, 0);
	is_int(dial_events(&d), POLLOUT, "START waits for writability");
	d.state = S5_RECV_REPLY;
	is_int(dial_events(&d), POLLIN, "a RECV state waits for readability");
	d.state = DIAL_DONE;
	is_int(dial_events(&d), 0, "DONE waits for nothing");
}

int main(void)
{
	log_setup("test_dial", LOG_ERROR, 2, 0);
	test_names();
	test_s5_noauth();
	test_s5_nonblocking_untouched();
	test_s5_auth();
	test_s5_pipeline();
	test_s5_pipeline_stall();
	test_s5_replies();
	test_s5_domain_and_v6_replies();
	test_s4();
	test_http();
	test_chain();
	test_connect_and_time();
	test_sweeps();
	return tap_done();
}

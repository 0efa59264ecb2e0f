/* The chain handshake as a non-blocking state machine (see dial.h). Each state does
 * one kind of I/O; replies are read exactly to their end (never past it), so bytes
 * the destination sends right after the tunnel is up stay in the socket for the
 * program. Every transition goes through dial_set_state(), which logs it at debug. */
#include "dial.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "errmap.h"
#include "log.h"
#include "util.h"

/* ---- the default, libc-backed seam ---- */

static ssize_t dial_libc_send(void *ctx, int fd, const void *buf, size_t len, int flags)
{
	return send(fd, buf, len, flags);
}

static ssize_t dial_libc_recv(void *ctx, int fd, void *buf, size_t len, int flags)
{
	return recv(fd, buf, len, flags);
}

static int dial_libc_wait(void *ctx, int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r = poll(&p, 1, timeout_ms);
	return r > 0 ? p.revents : r;
}

static int dial_libc_connect(void *ctx, int fd, const struct sockaddr *sa, socklen_t len)
{
	return connect(fd, sa, len);
}

static int dial_libc_sock_error(void *ctx, int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

static int dial_libc_getfl(void *ctx, int fd)
{
	return fcntl(fd, F_GETFL);
}

static int dial_libc_setfl(void *ctx, int fd, int flags)
{
	return fcntl(fd, F_SETFL, flags);
}

static uint64_t dial_libc_now_ms(void *ctx)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#define IO(d, m) ((d)->io && (d)->io->m ? (d)->io->m : dial_libc_##m)
#define IOCTX(d) ((d)->io ? (d)->io->ctx : NULL)

uint64_t dial_now_ms(const struct dial_io *io)
{
	if (io && io->now_ms)
		return io->now_ms(io->ctx);
	return dial_libc_now_ms(NULL);
}

/* ---- states ---- */

static const char *const dial_state_names[] = {
	[DIAL_START] = "DIAL_START",
	[DIAL_TCP_CONNECT] = "DIAL_TCP_CONNECT",
	[S5_SEND_GREETING] = "S5_SEND_GREETING",
	[S5_RECV_METHOD] = "S5_RECV_METHOD",
	[S5_SEND_AUTH] = "S5_SEND_AUTH",
	[S5_RECV_AUTH] = "S5_RECV_AUTH",
	[S5_SEND_REQUEST] = "S5_SEND_REQUEST",
	[S5_RECV_REPLY] = "S5_RECV_REPLY",
	[S4_SEND_REQUEST] = "S4_SEND_REQUEST",
	[S4_RECV_REPLY] = "S4_RECV_REPLY",
	[HTTP_SEND_CONNECT] = "HTTP_SEND_CONNECT",
	[HTTP_RECV_REPLY] = "HTTP_RECV_REPLY",
	[DIAL_DONE] = "DIAL_DONE",
	[DIAL_FAILED] = "DIAL_FAILED",
};

const char *dial_state_name(enum dial_state s)
{
	if ((size_t)s < sizeof(dial_state_names) / sizeof(dial_state_names[0]) &&
	    dial_state_names[s])
		return dial_state_names[s];
	return "?";
}

static void dial_set_state(struct dial *d, enum dial_state s)
{
	LOG_DEBUG("fd %d hop %zu: %s -> %s", d->fd, d->hop + 1, dial_state_name(d->state),
		  dial_state_name(s));
	d->state = s;
}

/* "hop 2 (socks5 proxy.corp:1080)": who failed, without credentials. */
static void dial_hop_label(const struct dial *d, size_t hop, char *buf, size_t cap)
{
	if (hop >= d->nhops || !d->hops[hop].proxy) {
		char a[ADDR_STR_MAX];
		snprintf(buf, cap, "destination %s", addr_str(&d->dst, a, sizeof(a)));
		return;
	}
	const struct proxy *p = d->hops[hop].proxy;
	const char *h = p->host;
	bool v6 = strchr(h, ':') != NULL;
	snprintf(buf, cap, "hop %zu (%s %s%s%s:%u)", hop + 1, proxy_type_name(p->type),
		 v6 ? "[" : "", h, v6 ? "]" : "", (unsigned)p->port);
}

/* Appends to d->msg, cutting at DIAL_MSG_MAX: the hop comes first, so it survives. */
static void dial_msg_add(struct dial *d, const char *s)
{
	size_t have = strlen(d->msg);
	if (have + 1 < sizeof(d->msg))
		str_copy(d->msg + have, s, sizeof(d->msg) - have);
}

/* Records the failure: err is the errno connect() will report, hop who is blamed. */
__attribute__((format(printf, 4, 5)))
static enum dial_state dial_fail(struct dial *d, size_t hop, int err, const char *fmt, ...)
{
	char label[SOCKS_NAME_MAX + 64];
	char why[DIAL_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	dial_hop_label(d, hop < d->nhops ? hop : d->hop, label, sizeof(label));
	d->msg[0] = '\0';
	dial_msg_add(d, label);
	if (hop >= d->nhops) {
		/* The last hop answered for the destination: name both. */
		char a[ADDR_STR_MAX];
		dial_msg_add(d, ": ");
		dial_msg_add(d, addr_str(&d->dst, a, sizeof(a)));
	}
	dial_msg_add(d, ": ");
	dial_msg_add(d, why);
	d->err = err ? err : ECONNREFUSED;
	d->fail_hop = hop;
	dial_set_state(d, DIAL_FAILED);
	return DIAL_FAILED;
}

/* A reply this hop sent that does not parse: the hop itself is at fault. */
static enum dial_state dial_bad_reply(struct dial *d, int rc)
{
	return dial_fail(d, d->hop, ECONNREFUSED, "bad reply: %s", codec_strerror(rc));
}

/* What hop d->hop is asked to reach: the next hop, or the destination. */
static const struct socks_addr *dial_target(const struct dial *d)
{
	return d->hop + 1 < d->nhops ? &d->hops[d->hop + 1].addr : &d->dst;
}

static uint8_t dial_cmd(const struct dial *d)
{
	return d->hop + 1 < d->nhops ? SOCKS_CMD_CONNECT : d->cmd;
}

/* Appends a built message to the output buffer; false when a builder refused it. */
static bool dial_out_add(struct dial *d, ssize_t n)
{
	if (n < 0)
		return false;
	d->outlen += (size_t)n;
	return true;
}

static uint8_t *dial_out_tail(struct dial *d, size_t *cap)
{
	*cap = sizeof(d->out) - d->outlen;
	return d->out + d->outlen;
}

static bool dial_build_s5_request(struct dial *d)
{
	size_t cap;
	uint8_t *p = dial_out_tail(d, &cap);
	return dial_out_add(d, s5_build_request(p, cap, dial_cmd(d), dial_target(d)));
}

static bool dial_build_s5_auth(struct dial *d)
{
	const struct proxy *px = d->hops[d->hop].proxy;
	size_t cap;
	uint8_t *p = dial_out_tail(d, &cap);
	return dial_out_add(d, s5_build_auth(p, cap, px->user, px->pass));
}

/* Starts hop d->hop's protocol: builds its first message. */
static enum dial_state dial_hop_begin(struct dial *d)
{
	const struct proxy *px = d->hops[d->hop].proxy;
	const struct socks_addr *t = dial_target(d);
	size_t cap;
	uint8_t *p;

	d->outlen = d->outoff = d->inlen = 0;
	d->pipelined = false;
	p = dial_out_tail(d, &cap);

	switch (px->type) {
	case PROXY_SOCKS5: {
		uint8_t methods[2];
		size_t n = 0;
		d->pipelined = (d->flags & DIAL_F_PIPELINE) != 0 && !d->hops[d->hop].nopipe;
		d->s5_sent_ms = d->s5_method_ms = 0;
		/* Pipelined, the server must pick the one method whose bytes follow. */
		if (!px->has_auth || !d->pipelined)
			methods[n++] = SOCKS5_METHOD_NOAUTH;
		if (px->has_auth)
			methods[n++] = SOCKS5_METHOD_USERPASS;
		if (!dial_out_add(d, s5_build_greeting(p, cap, methods, n)))
			return dial_fail(d, d->hop, EINVAL, "cannot build greeting");
		if (d->pipelined && ((px->has_auth && !dial_build_s5_auth(d)) ||
				     !dial_build_s5_request(d)))
			return dial_fail(d, d->hop, EINVAL, "cannot build request");
		dial_set_state(d, S5_SEND_GREETING);
		return d->state;
	}
	case PROXY_SOCKS4:
	case PROXY_SOCKS4A:
		/* Why these errnos: the chain cannot carry this destination at all, as a
		 * network without IPv6 or a name that does not resolve would behave. */
		if (t->atyp == SOCKS5_ATYP_IPV6)
			return dial_fail(d, d->hop, ENETUNREACH, "SOCKS4 cannot carry IPv6");
		if (t->atyp == SOCKS5_ATYP_DOMAINNAME && px->type == PROXY_SOCKS4)
			return dial_fail(d, d->hop, EHOSTUNREACH,
					 "socks4 cannot carry a name (use socks4a)");
		if (dial_cmd(d) != SOCKS_CMD_CONNECT)
			return dial_fail(d, d->hop, EOPNOTSUPP, "SOCKS4 has no UDP ASSOCIATE");
		if (!dial_out_add(d, s4_build_request(p, cap, SOCKS_CMD_CONNECT, t,
						      px->has_auth ? px->user : "")))
			return dial_fail(d, d->hop, EINVAL, "cannot build request");
		dial_set_state(d, S4_SEND_REQUEST);
		return d->state;
	case PROXY_HTTP:
		if (dial_cmd(d) != SOCKS_CMD_CONNECT)
			return dial_fail(d, d->hop, EOPNOTSUPP, "HTTP CONNECT has no UDP");
		if (!dial_out_add(d, http_build_connect(p, cap, t, px->has_auth ? px->user : NULL,
							px->has_auth ? px->pass : NULL)))
			return dial_fail(d, d->hop, EINVAL, "cannot build CONNECT request");
		dial_set_state(d, HTTP_SEND_CONNECT);
		return d->state;
	}
	return dial_fail(d, d->hop, EINVAL, "unknown proxy type");
}

/* The hop's tunnel is up: on to the next hop, or done. */
static enum dial_state dial_hop_done(struct dial *d)
{
	if (d->hop + 1 >= d->nhops) {
		dial_set_state(d, DIAL_DONE);
		return DIAL_DONE;
	}
	d->hop++;
	return dial_hop_begin(d);
}

/* Connects to the first hop without ever blocking: a blocking socket gets
 * O_NONBLOCK for this one call and its flags back exactly as they were. */
static enum dial_state dial_tcp_connect(struct dial *d)
{
	const struct dial_hop *h = &d->hops[0];
	int fl = IO(d, getfl)(IOCTX(d), d->fd);
	int rc, err;

	if (fl < 0)
		return dial_fail(d, 0, errno, "fcntl: %s", strerror(errno));
	if (!(fl & O_NONBLOCK) && IO(d, setfl)(IOCTX(d), d->fd, fl | O_NONBLOCK) < 0)
		return dial_fail(d, 0, errno, "fcntl: %s", strerror(errno));
	rc = IO(d, connect)(IOCTX(d), d->fd, (const struct sockaddr *)&h->sa, h->salen);
	err = rc < 0 ? errno : 0;
	if (!(fl & O_NONBLOCK))
		IO(d, setfl)(IOCTX(d), d->fd, fl);
	if (rc == 0)
		return dial_hop_begin(d);
	if (err == EINPROGRESS || err == EINTR || err == EAGAIN) {
		/* EINTR: the connect goes on in the kernel, as for a direct connect.
		 * No poll for it: the first send confirms it (see tcp_pending). */
		dial_set_state(d, DIAL_TCP_CONNECT);
		d->tcp_pending = true;
		return dial_hop_begin(d);
	}
	return dial_fail(d, 0, err, "connect: %s", strerror(err));
}

/* The proxy went away mid-handshake: a reset or EOF is a refusal to the program. */
static int dial_io_errno(int err)
{
	if (err == ECONNRESET || err == EPIPE || err == 0)
		return ECONNREFUSED;
	return err;
}

/* Sends what is pending; true when all of it went out. */
static bool dial_flush(struct dial *d, enum dial_state *st)
{
	while (d->outoff < d->outlen) {
		ssize_t n = IO(d, send)(IOCTX(d), d->fd, d->out + d->outoff, d->outlen - d->outoff,
					MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EINPROGRESS: a TCP_FASTOPEN_CONNECT socket still in its
			 * handshake; the bytes were not taken, send again when writable. */
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINPROGRESS) {
				*st = d->state;
				return false;
			}
			int e = errno;
			if (d->tcp_pending) {
				/* The first send says how the connect went; EPIPE alone
				 * hides the cause, which SO_ERROR may still hold. */
				if (e == EPIPE || e == ENOTCONN) {
					int so = IO(d, sock_error)(IOCTX(d), d->fd);
					e = so ? so : ECONNREFUSED;
				}
				*st = dial_fail(d, 0, e, "connect: %s", strerror(e));
				return false;
			}
			*st = dial_fail(d, d->hop, dial_io_errno(e), "send in %s: %s",
					dial_state_name(d->state), strerror(e));
			return false;
		}
		d->tcp_pending = false;
		d->outoff += (size_t)n;
	}
	d->outoff = d->outlen = 0;
	return true;
}

/* Bytes the reply being read needs in all, as far as the bytes so far tell. */
static size_t dial_need(const struct dial *d)
{
	switch (d->state) {
	case S5_RECV_METHOD:
	case S5_RECV_AUTH:
		return 2;
	case S4_RECV_REPLY:
		return 8;
	case S5_RECV_REPLY:
		if (d->inlen < 5)
			return 5;
		switch (d->in[3]) {
		case SOCKS5_ATYP_IPV4:
			return 4 + 4 + 2;
		case SOCKS5_ATYP_IPV6:
			return 4 + 16 + 2;
		case SOCKS5_ATYP_DOMAINNAME:
			return 4 + 1 + (size_t)d->in[4] + 2;
		default:
			return 5; /* the parser reports the bad ATYP */
		}
	default:
		return 0;
	}
}

/* Reads exactly up to the end of a fixed-layout reply; true when it is all in. */
static bool dial_fill(struct dial *d, enum dial_state *st)
{
	size_t need;

	while ((need = dial_need(d)) > d->inlen) {
		ssize_t n = IO(d, recv)(IOCTX(d), d->fd, d->in + d->inlen, need - d->inlen,
					MSG_DONTWAIT);
		if (n > 0) {
			d->inlen += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			*st = d->state;
			return false;
		}
		int e = n < 0 ? errno : 0;
		*st = dial_fail(d, d->hop, dial_io_errno(e), "%s in %s",
				n == 0 ? "connection closed by the proxy" : strerror(e),
				dial_state_name(d->state));
		return false;
	}
	return true;
}

/* HTTP heads have no length: peek, find the blank line, consume only the head. */
static bool dial_fill_http(struct dial *d, enum dial_state *st, int *status)
{
	for (;;) {
		size_t room = sizeof(d->in) - d->inlen;
		size_t used = 0;
		ssize_t n;
		int rc;

		if (room == 0) {
			*st = dial_fail(d, d->hop, ECONNREFUSED, "reply head too long");
			return false;
		}
		n = IO(d, recv)(IOCTX(d), d->fd, d->in + d->inlen, room, MSG_DONTWAIT | MSG_PEEK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			*st = d->state;
			return false;
		}
		if (n <= 0) {
			int e = n < 0 ? errno : 0;
			*st = dial_fail(d, d->hop, dial_io_errno(e), "%s in %s",
					n == 0 ? "connection closed by the proxy" : strerror(e),
					dial_state_name(d->state));
			return false;
		}
		rc = http_parse_connect_reply(d->in, d->inlen + (size_t)n, &used, status);
		if (rc < 0) {
			*st = dial_bad_reply(d, rc);
			return false;
		}
		/* Consume what we peeked, but on DONE only through the end of the head. */
		size_t take = rc == CODEC_DONE ? used - d->inlen : (size_t)n;
		while (take > 0) {
			ssize_t m = IO(d, recv)(IOCTX(d), d->fd, d->in + d->inlen, take, MSG_DONTWAIT);
			if (m < 0 && errno == EINTR)
				continue;
			if (m < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				/* Only head bytes were taken: the next peek starts after them. */
				*st = d->state;
				return false;
			}
			if (m <= 0) {
				int e = m < 0 ? errno : 0;
				*st = dial_fail(d, d->hop, dial_io_errno(e), "recv: %s",
						m == 0 ? "connection closed" : strerror(e));
				return false;
			}
			d->inlen += (size_t)m;
			take -= (size_t)m;
		}
		if (rc == CODEC_DONE)
			return true;
	}
}

static enum dial_state dial_s5_method(struct dial *d)
{
	const struct proxy *px = d->hops[d->hop].proxy;
	size_t used;
	int rc = s5_parse_method_reply(d->in, d->inlen, &used, &d->method);

	if (rc != CODEC_DONE)
		return dial_fail(d, d->hop, ECONNREFUSED, "bad method reply: %s", codec_strerror(rc));
	d->inlen = 0;
	d->s5_method_ms = dial_now_ms(d->io);
	if (d->method == SOCKS5_METHOD_NONE_ACCEPTABLE)
		return dial_fail(d, d->hop, EACCES, "no acceptable authentication method%s",
				 px->has_auth ? "" : " (the proxy wants a username)");
	if (d->method == SOCKS5_METHOD_USERPASS && px->has_auth) {
		if (d->pipelined) {
			dial_set_state(d, S5_RECV_AUTH);
			return d->state;
		}
		if (!dial_build_s5_auth(d))
			return dial_fail(d, d->hop, EINVAL, "cannot build auth");
		dial_set_state(d, S5_SEND_AUTH);
		return d->state;
	}
	if (d->method == SOCKS5_METHOD_NOAUTH && !(d->pipelined && px->has_auth)) {
		if (d->pipelined) {
			dial_set_state(d, S5_RECV_REPLY);
			return d->state;
		}
		if (!dial_build_s5_request(d))
			return dial_fail(d, d->hop, EINVAL, "cannot build request");
		dial_set_state(d, S5_SEND_REQUEST);
		return d->state;
	}
	return dial_fail(d, d->hop, EACCES, "proxy chose method 0x%02x, which we did not offer",
			 d->method);
}

static enum dial_state dial_s5_auth(struct dial *d)
{
	size_t used;
	uint8_t status;
	int rc = s5_parse_auth_reply(d->in, d->inlen, &used, &status);

	if (rc != CODEC_DONE)
		return dial_fail(d, d->hop, ECONNREFUSED, "bad auth reply: %s", codec_strerror(rc));
	d->inlen = 0;
	if (status != 0)
		return dial_fail(d, d->hop, EACCES, "authentication failed (user \"%s\")",
				 d->hops[d->hop].proxy->user);
	if (d->pipelined) {
		dial_set_state(d, S5_RECV_REPLY);
		return d->state;
	}
	if (!dial_build_s5_request(d))
		return dial_fail(d, d->hop, EINVAL, "cannot build request");
	dial_set_state(d, S5_SEND_REQUEST);
	return d->state;
}

/* Who a refusal of the target blames: the next hop, or the destination. */
static size_t dial_target_hop(const struct dial *d)
{
	return d->hop + 1 < d->nhops ? d->hop + 1 : d->nhops;
}

/* A refusal of the next hop is told by the hop before it: say which one. The
 * destination's refusal needs no such note (the label names the last hop). */
static const char *dial_via(const struct dial *d, char *buf, size_t cap)
{
	if (d->hop + 1 >= d->nhops)
		return "";
	snprintf(buf, cap, "hop %zu answered: ", d->hop + 1);
	return buf;
}

/* A hop refused the request (the next hop or the destination, as `who` says). */
static enum dial_state dial_refused(struct dial *d, size_t who, int err, const char *why)
{
	char via[48];

	return dial_fail(d, who, err, "%s%s", dial_via(d, via, sizeof(via)), why);
}

/* A parsed SOCKS reply: the code is kept for the caller; a refusal names the hop it
 * is about; success records the bound address the proxy gave. */
static enum dial_state dial_socks_reply(struct dial *d, uint8_t code, bool ok, int err,
					const char *why, const struct socks_addr *bound)
{
	d->inlen = 0;
	d->reply = code;
	if (!ok)
		return dial_refused(d, dial_target_hop(d), err, why);
	d->bound = *bound;
	return dial_hop_done(d);
}

static enum dial_state dial_s5_reply(struct dial *d)
{
	struct s5_request rep;
	size_t used;
	int rc = s5_parse_reply(d->in, d->inlen, &used, &rep);

	if (rc != CODEC_DONE)
		return dial_bad_reply(d, rc);
	return dial_socks_reply(d, rep.cmd, rep.cmd == S5_REP_SUCCEEDED, s5_rep_to_errno(rep.cmd),
				s5_rep_str(rep.cmd), &rep.addr);
}

static enum dial_state dial_s4_reply(struct dial *d)
{
	struct s4_reply rep;
	struct socks_addr bound = { .atyp = SOCKS5_ATYP_IPV4 };
	size_t used;
	int rc = s4_parse_reply(d->in, d->inlen, &used, &rep);

	if (rc != CODEC_DONE)
		return dial_bad_reply(d, rc);
	bound.port = rep.port;
	memcpy(bound.u.v4, rep.v4, 4);
	return dial_socks_reply(d, rep.cd, rep.cd == S4_REP_GRANTED, s4_rep_to_errno(rep.cd),
				s4_rep_str(rep.cd), &bound);
}

static enum dial_state dial_http_reply(struct dial *d, int status)
{
	char why[16];

	d->inlen = 0;
	d->http_status = status;
	if (status < 200 || status > 299) {
		/* 407: this hop wants other credentials; anything else is about the target. */
		size_t who = status == 407 ? d->hop : dial_target_hop(d);
		snprintf(why, sizeof(why), "HTTP %d", status);
		return dial_refused(d, who, http_status_to_errno(status), why);
	}
	return dial_hop_done(d);
}

void dial_init(struct dial *d, int fd, const struct dial_hop *hops, size_t nhops,
	       const struct socks_addr *dst, uint8_t cmd, const struct dial_io *io,
	       unsigned flags)
{
	d->state = DIAL_START;
	d->fd = fd;
	d->flags = flags;
	d->io = io;
	d->hops = hops;
	d->nhops = nhops;
	d->hop = 0;
	d->dst = *dst;
	d->cmd = cmd;
	d->outlen = d->outoff = d->inlen = 0;
	d->pipelined = false;
	d->tcp_pending = false;
	d->s5_sent_ms = d->s5_method_ms = 0;
	d->method = 0;
	d->reply = 0;
	d->http_status = 0;
	memset(&d->bound, 0, sizeof(d->bound));
	d->connect_deadline_ms = 0;
	d->err = 0;
	d->fail_hop = 0;
	d->msg[0] = '\0';
}

enum dial_state dial_step(struct dial *d)
{
	enum dial_state st;
	int status = 0;

	for (;;) {
		switch (d->state) {
		case DIAL_START:
			if (d->nhops == 0)
				return dial_fail(d, 0, EINVAL, "no proxy configured");
			if (d->flags & DIAL_F_CONNECTED)
				st = dial_hop_begin(d);
			else
				st = dial_tcp_connect(d);
			break;
		case DIAL_TCP_CONNECT:
			/* Only passed through (dial_tcp_connect goes on to the hop). */
			d->tcp_pending = true;
			st = dial_hop_begin(d);
			break;
		case S5_SEND_GREETING:
		case S5_SEND_AUTH:
		case S5_SEND_REQUEST:
		case S4_SEND_REQUEST:
		case HTTP_SEND_CONNECT: {
			static const enum dial_state next[] = {
				[S5_SEND_GREETING] = S5_RECV_METHOD,
				[S5_SEND_AUTH] = S5_RECV_AUTH,
				[S5_SEND_REQUEST] = S5_RECV_REPLY,
				[S4_SEND_REQUEST] = S4_RECV_REPLY,
				[HTTP_SEND_CONNECT] = HTTP_RECV_REPLY,
			};
			if (!dial_flush(d, &st))
				return st;
			if (d->state == S5_SEND_GREETING)
				d->s5_sent_ms = dial_now_ms(d->io);
			/* The answer to what just left cannot be here yet: wait for it
			 * rather than spend a recv() on EAGAIN. */
			dial_set_state(d, next[d->state]);
			return d->state;
		}
		case S5_RECV_METHOD:
			if (!dial_fill(d, &st))
				return st;
			st = dial_s5_method(d);
			break;
		case S5_RECV_AUTH:
			if (!dial_fill(d, &st))
				return st;
			st = dial_s5_auth(d);
			break;
		case S5_RECV_REPLY:
			if (!dial_fill(d, &st))
				return st;
			st = dial_s5_reply(d);
			break;
		case S4_RECV_REPLY:
			if (!dial_fill(d, &st))
				return st;
			st = dial_s4_reply(d);
			break;
		case HTTP_RECV_REPLY:
			if (!dial_fill_http(d, &st, &status))
				return st;
			st = dial_http_reply(d, status);
			break;
		case DIAL_DONE:
		case DIAL_FAILED:
		default:
			return d->state;
		}
		if (st == DIAL_DONE || st == DIAL_FAILED)
			return st;
	}
}

short dial_events(const struct dial *d)
{
	switch (d->state) {
	case DIAL_START:
	case DIAL_TCP_CONNECT:
	case S5_SEND_GREETING:
	case S5_SEND_AUTH:
	case S5_SEND_REQUEST:
	case S4_SEND_REQUEST:
	case HTTP_SEND_CONNECT:
		return POLLOUT;
	case S5_RECV_METHOD:
	case S5_RECV_AUTH:
	case S5_RECV_REPLY:
	case S4_RECV_REPLY:
	case HTTP_RECV_REPLY:
		return POLLIN;
	case DIAL_DONE:
	case DIAL_FAILED:
		break;
	}
	return 0;
}

uint64_t dial_pipeline_stall(const struct dial *d)
{
	if (!d->pipelined || d->hops[d->hop].nostall || d->s5_method_ms == 0 || d->inlen != 0 ||
	    (d->state != S5_RECV_AUTH && d->state != S5_RECV_REPLY))
		return 0;
	uint64_t rtt = d->s5_method_ms - d->s5_sent_ms, wait = 2 * rtt + 300;
	return d->s5_method_ms + (wait < 600 ? 600 : wait);
}

void dial_timeout(struct dial *d)
{
	if (d->tcp_pending)
		dial_fail(d, 0, ETIMEDOUT, "connect: timed out");
	else
		dial_fail(d, d->hop, ETIMEDOUT, "timed out in %s", dial_state_name(d->state));
}

int dial_run(struct dial *d, uint64_t deadline_ms)
{
	for (;;) {
		enum dial_state st = dial_step(d);
		if (st == DIAL_DONE)
			return 0;
		if (st == DIAL_FAILED)
			return -1;

		uint64_t now = dial_now_ms(d->io), until = deadline_ms;
		if (d->tcp_pending && d->connect_deadline_ms != 0 && d->connect_deadline_ms < until)
			until = d->connect_deadline_ms;
		if (now >= until) {
			dial_timeout(d);
			return -1;
		}
		uint64_t left = until - now;
		short ev = dial_events(d);
		int r = IO(d, wait)(IOCTX(d), d->fd, ev, left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (r < 0 && errno != EINTR) {
			int e = errno;
			dial_fail(d, d->hop, e, "poll: %s", strerror(e));
			return -1;
		}
		/* POLLERR/POLLHUP surface through the next send/recv. */
	}
}

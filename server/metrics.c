/* --metrics ADDR:PORT: GET /metrics in the Prometheus text format (0.0.4), served by
 * the event loop itself. Nothing here may block it: sockets are non-blocking, a
 * request head is at most METRICS_REQ_MAX bytes and must arrive within
 * METRICS_TIMEOUT_MS, the answer is built in memory and written as the socket
 * takes it, and at most METRICS_MAX_CONNS scrapes run at once (more are closed).
 * The numbers are the counters in srv.st, the sessions open now, and the process's
 * fds; building them is a walk over the sessions and one over /proc/self/fd. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "server.h"
#include "session.h"

#define METRICS_REQ_MAX 2048
#define METRICS_TIMEOUT_MS 5000
#define METRICS_MAX_CONNS 16

/* Histogram bucket bounds in ms (the last one, +Inf, is implicit). */
static const unsigned hist_le_ms[SRV_HIST_BUCKETS] = { 1,   2,   5,    10,   25,   50,   100,
							250, 500, 1000, 2500, 5000, 10000, 30000 };

struct mconn {
	struct ev_io io;
	struct ev_timer timer;
	size_t in_len;
	char in[METRICS_REQ_MAX];
	char *out;
	size_t out_len, out_off;
};

static struct ev_io listen_io = { .fd = -1 };
static unsigned nconns;

void metrics_observe(struct srv_hist *h, uint64_t ms)
{
	unsigned i = 0;

	while (i < SRV_HIST_BUCKETS && ms > hist_le_ms[i])
		i++;
	h->bucket[i]++;
	h->sum_ms += ms;
	h->count++;
}

void metrics_session_ended(uint8_t cmd, uint8_t ver, bool replied, uint8_t rep)
{
	enum sess_result r = !replied ? RESULT_NO_REPLY : rep ? RESULT_FAILED : RESULT_SUCCEEDED;

	srv.st.ended[cmd <= SOCKS_CMD_UDP_ASSOCIATE ? cmd : 0][r]++;
	if (!replied)
		return;
	if (ver == 4)
		srv.st.rep4[rep ? 1 : 0]++;
	else
		srv.st.rep5[rep < 9 ? rep : 9]++;
}

/* ---- the text ---- */

struct out {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = true;
			return;
		}
		if ((size_t)n < o->cap - o->len)
			break;
		char *nb = realloc(o->buf, o->cap * 2 + (size_t)n);

		if (!nb) {
			o->oom = true;
			return;
		}
		o->buf = nb;
		o->cap = o->cap * 2 + (size_t)n;
	}
	o->len += (size_t)n;
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
	out_printf(o, "# HELP socksifyd_%s %s\n# TYPE socksifyd_%s %s\n", name, help, name, type);
}

static void counter(struct out *o, const char *name, const char *help, uint64_t v)
{
	head(o, name, "counter", help);
	out_printf(o, "socksifyd_%s %llu\n", name, (unsigned long long)v);
}

static void gauge(struct out *o, const char *name, const char *help, uint64_t v)
{
	head(o, name, "gauge", help);
	out_printf(o, "socksifyd_%s %llu\n", name, (unsigned long long)v);
}

static void histogram(struct out *o, const char *name, const char *help,
		      const struct srv_hist *h)
{
	uint64_t cum = 0;

	head(o, name, "histogram", help);
	for (unsigned i = 0; i < SRV_HIST_BUCKETS; i++) {
		cum += h->bucket[i];
		out_printf(o, "socksifyd_%s_bucket{le=\"%g\"} %llu\n", name, hist_le_ms[i] / 1000.0,
			   (unsigned long long)cum);
	}
	out_printf(o, "socksifyd_%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
	out_printf(o, "socksifyd_%s_sum %.3f\n", name, h->sum_ms / 1000.0);
	out_printf(o, "socksifyd_%s_count %llu\n", name, (unsigned long long)h->count);
}

static const char *const cmd_label[4] = { "none", "connect", "bind", "udp" };

static unsigned long fds_in_use(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned long n = 0;
	struct dirent *e;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0; /* not the directory's own fd */
}

static void metrics_text(struct out *o)
{
	static const char *const result_label[RESULT_N] = { "succeeded", "failed", "no_reply" };
	static const char *const drop_label[UDP_DROP_N] = {
		[UDP_DROP_POLICY] = "policy",     [UDP_DROP_STRANGER] = "stranger",
		[UDP_DROP_PORT] = "port",         [UDP_DROP_MALFORMED] = "malformed",
		[UDP_DROP_FRAGMENT] = "fragment", [UDP_DROP_RESOLVE] = "resolve",
		[UDP_DROP_BUSY] = "busy",         [UDP_DROP_SEND] = "send",
		[UDP_DROP_UNPINNED] = "unpinned",
	};
	const struct srv_stats *st = &srv.st;
	unsigned long open[4];
	struct rlimit rl;

	session_count_cmds(open);
	head(o, "sessions_open", "gauge",
	     "Sessions open now, by command (none: still in the handshake).");
	for (unsigned c = 0; c < 4; c++)
		out_printf(o, "socksifyd_sessions_open{command=\"%s\"} %lu\n", cmd_label[c], open[c]);
	head(o, "sessions_total", "counter",
	     "Sessions ended, by command and result (no_reply: closed before any reply).");
	for (unsigned c = 0; c < 4; c++)
		for (unsigned r = 0; r < RESULT_N; r++)
			out_printf(o, "socksifyd_sessions_total{command=\"%s\",result=\"%s\"} %llu\n",
				   cmd_label[c], result_label[r], (unsigned long long)st->ended[c][r]);
	head(o, "replies_total", "counter", "Replies sent, by SOCKS version and reply code.");
	for (unsigned r = 0; r < 9; r++)
		out_printf(o, "socksifyd_replies_total{version=\"5\",code=\"%u\"} %llu\n", r,
			   (unsigned long long)st->rep5[r]);
	out_printf(o, "socksifyd_replies_total{version=\"5\",code=\"other\"} %llu\n",
		   (unsigned long long)st->rep5[9]);
	out_printf(o, "socksifyd_replies_total{version=\"4\",code=\"90\"} %llu\n",
		   (unsigned long long)st->rep4[0]);
	out_printf(o, "socksifyd_replies_total{version=\"4\",code=\"91\"} %llu\n",
		   (unsigned long long)st->rep4[1]);
	head(o, "bytes_total", "counter",
	     "Payload bytes relayed (TCP and UDP), up: client to target, down: back.");
	out_printf(o, "socksifyd_bytes_total{direction=\"up\"} %llu\n",
		   (unsigned long long)st->bytes_up);
	out_printf(o, "socksifyd_bytes_total{direction=\"down\"} %llu\n",
		   (unsigned long long)st->bytes_down);
	histogram(o, "handshake_seconds",
		  "From accept to a whole SOCKS request (greeting, authentication, request).",
		  &st->handshake);
	histogram(o, "connect_seconds",
		  "From the request to the target connected (name resolution included).",
		  &st->connect);
	counter(o, "auth_failures_total", "Username/password authentications refused.",
		st->auth_failed);
	head(o, "refused_total", "counter",
	     "Clients or requests turned away, by reason: acl (client allow-list), limit "
	     "(session caps, fds), policy (destination denied), proxy_protocol (untrusted "
	     "source, malformed or missing header).");
	out_printf(o, "socksifyd_refused_total{reason=\"acl\"} %llu\n",
		   (unsigned long long)st->refused_acl);
	out_printf(o, "socksifyd_refused_total{reason=\"limit\"} %llu\n",
		   (unsigned long long)st->rejected);
	out_printf(o, "socksifyd_refused_total{reason=\"policy\"} %llu\n",
		   (unsigned long long)(st->denied - st->refused_acl));
	out_printf(o, "socksifyd_refused_total{reason=\"proxy_protocol\"} %llu\n",
		   (unsigned long long)st->refused_proxy);
	head(o, "udp_datagrams_total", "counter", "UDP datagrams relayed, by direction.");
	out_printf(o, "socksifyd_udp_datagrams_total{direction=\"up\"} %llu\n",
		   (unsigned long long)st->udp_up);
	out_printf(o, "socksifyd_udp_datagrams_total{direction=\"down\"} %llu\n",
		   (unsigned long long)st->udp_down);
	head(o, "udp_dropped_total", "counter", "UDP datagrams dropped, by reason.");
	for (unsigned r = 0; r < UDP_DROP_N; r++)
		out_printf(o, "socksifyd_udp_dropped_total{reason=\"%s\"} %llu\n", drop_label[r],
			   (unsigned long long)st->udp_dropped[r]);
	gauge(o, "fds_open", "File descriptors open in the process.", fds_in_use());
	gauge(o, "fds_limit", "The process's file descriptor limit (RLIMIT_NOFILE).",
	      getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint64_t)rl.rlim_cur : 0);
	gauge(o, "sessions_limit", "The --max-sessions cap.", srv.o.max_sessions);
	gauge(o, "workers", "Event loops serving clients.", srv.workers ? srv.workers : 1);
}

/* ---- HTTP ---- */

static void mconn_free(struct mconn *c)
{
	ev_io_close(srv.loop, &c->io);
	ev_timer_stop(srv.loop, &c->timer);
	free(c->out);
	c->out = NULL;
	nconns--;
	ev_defer_free(srv.loop, c);
}

static void mconn_write(struct mconn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->io.fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			ev_io_set(srv.loop, &c->io, EPOLLOUT);
			return;
		}
		if (n <= 0)
			break;
		c->out_off += (size_t)n;
	}
	mconn_free(c);
}

static void mconn_answer(struct mconn *c, const char *status, struct out *body)
{
	struct out o = { .cap = 256 };
	const char *text = body ? body->buf : status;
	size_t len = body ? body->len : strlen(status);

	o.buf = malloc(o.cap);
	if (o.buf)
		out_printf(&o,
			   "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
			   "Content-Length: %zu\r\nConnection: close\r\n\r\n%.*s%s",
			   status, len + (body ? 0 : 1), (int)len, text, body ? "" : "\n");
	if (!o.buf || o.oom) {
		free(o.buf);
		mconn_free(c);
		return;
	}
	c->out = o.buf;
	c->out_len = o.len;
	mconn_write(c);
}

static void mconn_request(struct mconn *c)
{
	struct out body = { .cap = 16384 };
	const char *sp;

	if (strncmp(c->in, "GET ", 4) != 0) {
		mconn_answer(c, "405 Method Not Allowed", NULL);
		return;
	}
	sp = strchr(c->in + 4, ' ');
	if (!sp || !((sp - c->in == 12 && !strncmp(c->in + 4, "/metrics", 8)))) {
		mconn_answer(c, "404 Not Found", NULL);
		return;
	}
	body.buf = malloc(body.cap);
	if (body.buf)
		metrics_text(&body);
	if (!body.buf || body.oom) {
		free(body.buf);
		mconn_answer(c, "500 Internal Server Error", NULL);
		return;
	}
	mconn_answer(c, "200 OK", &body);
	free(body.buf);
}

static void mconn_on_io(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	struct mconn *c = container_of(io, struct mconn, io);
	ssize_t n;

	(void)loop;
	if (c->out) {
		mconn_write(c);
		return;
	}
	n = recv(io->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		mconn_free(c);
		return;
	}
	c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	if (strstr(c->in, "\r\n\r\n") || strstr(c->in, "\n\n")) {
		ev_io_set(srv.loop, io, 0);
		mconn_request(c);
	} else if (c->in_len == sizeof(c->in) - 1) {
		mconn_answer(c, "431 Request Header Fields Too Large", NULL);
	}
}

static void mconn_on_timer(struct ev_loop *loop, struct ev_timer *t)
{
	(void)loop;
	mconn_free(container_of(t, struct mconn, timer));
}

static void metrics_on_accept(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	(void)loop;
	(void)revents;
	for (int i = 0; i < 16; i++) {
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct mconn *c;

		if (fd < 0)
			return;
		if (nconns >= METRICS_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		nconns++;
		ev_io_init(&c->io, fd, mconn_on_io);
		ev_timer_init(&c->timer, mconn_on_timer);
		ev_timer_start(srv.loop, &c->timer, METRICS_TIMEOUT_MS);
		if (ev_io_set(srv.loop, &c->io, EPOLLIN) < 0)
			mconn_free(c);
	}
}

bool metrics_start(int fd)
{
	ev_io_init(&listen_io, fd, metrics_on_accept);
	return ev_io_set(srv.loop, &listen_io, EPOLLIN) == 0;
}

void metrics_stop(void)
{
	ev_io_close(srv.loop, &listen_io);
}

/* The TCP relay. Each direction moves bytes with splice(2) through a pipe borrowed
 * from a small pool only while bytes are in flight (an idle session holds just its
 * two sockets), and falls back to a copy buffer when splice is refused. Reading a
 * side stops while its peer cannot take more (EPOLLOUT is watched only then); EOF
 * on one side becomes shutdown(SHUT_WR) on the other once everything is flushed. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "session.h"

/* The copy buffer starts small (most sessions are short) and doubles each time a
 * read fills it, up to 1 MiB: per system call a bulk stream then moves what a pipe
 * moves. With 16 KiB the copying relay took 1.3 GB per server CPU-second; with
 * 1 MiB 3.5, and the endpoints' CPU per byte fell too (see the commit). */
#define RELAY_BUF_MIN (16 * 1024)
#define RELAY_BUF_MAX (1 << 20)
#define RELAY_SPLICE_MAX (1 << 20)
#define RELAY_ROUNDS 8        /* reads per event and direction, for fairness */
#define PIPE_POOL_MAX 32      /* idle pipes kept for reuse */
/* 1 MiB pipes: 256 KiB cost about 1.5x the server CPU per byte and 2-4 MiB about
 * 1.7x (measured on loopback). The kernel's TCP path is nearly all of it: about one
 * 1 MiB splice per direction and wakeup, so system calls are not the lever. Left
 * alone on purpose: a bigger SO_SNDBUF (4 MiB) raised bytes per server CPU-second
 * by 15-20% only by moving receive work onto the peers (their CPU per byte rose as
 * much, and one pinned stream got 20% slower); TCP_NODELAY off and SPLICE_F_MORE
 * changed nothing measurable. */
#ifndef RELAY_PIPE_SIZE
#define RELAY_PIPE_SIZE (1 << 20)
#endif

struct relay_pipe {
	int rd, wr;
	struct relay_pipe *next;
};

struct relay_buf {
	uint32_t off, len, cap;
	uint8_t data[];
};

static __thread struct relay_pipe *pipe_pool; /* per worker: no lock */
static __thread unsigned pipe_pool_n;
/* SOCKSIFYD_NO_SPLICE=1 (read once) forces the copy path, so tests cover the fallback
 * that otherwise only runs where splice is refused. */
static __thread int relay_no_splice = -1;

static struct relay_pipe *pipe_get(void)
{
	struct relay_pipe *p = pipe_pool;
	int fds[2];

	if (p) {
		pipe_pool = p->next;
		pipe_pool_n--;
		return p;
	}
	p = malloc(sizeof(*p));
	if (!p)
		return NULL;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
		free(p);
		return NULL;
	}
	/* A bigger pipe moves more per splice and per wakeup. Past the per-user pipe
	 * budget the kernel refuses; the default size then serves. */
	fcntl(fds[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
	p->rd = fds[0];
	p->wr = fds[1];
	return p;
}

/* Only an empty pipe goes back to the pool. */
static void pipe_put(struct relay_pipe *p)
{
	if (pipe_pool_n < PIPE_POOL_MAX) {
		p->next = pipe_pool;
		pipe_pool = p;
		pipe_pool_n++;
		return;
	}
	close(p->rd);
	close(p->wr);
	free(p);
}

static void pipe_discard(struct relay_pipe *p)
{
	close(p->rd);
	close(p->wr);
	free(p);
}

void relay_pool_drain(void)
{
	while (pipe_pool) {
		struct relay_pipe *p = pipe_pool;

		pipe_pool = p->next;
		pipe_discard(p);
	}
	pipe_pool_n = 0;
}

static void relay_dir_free(struct relay_dir *d)
{
	if (d->pipe) {
		/* Bytes still inside cannot go back to the pool. */
		if (d->pending)
			pipe_discard(d->pipe);
		else
			pipe_put(d->pipe);
		d->pipe = NULL;
		d->pending = 0;
	}
	free(d->buf);
	d->buf = NULL;
}

void relay_free(struct session *s)
{
	relay_dir_free(&s->up);
	relay_dir_free(&s->down);
}

enum pump_rc { PUMP_OK, PUMP_ERR };

static struct relay_buf *relay_buf_new(uint32_t cap)
{
	struct relay_buf *b = malloc(sizeof(*b) + cap);

	if (!b)
		return NULL;
	b->off = b->len = 0;
	b->cap = cap;
	return b;
}

/* Writes out what the direction holds; *blocked when the output is full. */
static enum pump_rc relay_flush(struct relay_dir *d, int out, bool *blocked)
{
	while (d->buf && d->buf->len) {
		ssize_t n = send(out, d->buf->data + d->buf->off, d->buf->len,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				*blocked = errno == EAGAIN;
				if (*blocked)
					return PUMP_OK;
				continue;
			}
			return PUMP_ERR;
		}
		d->buf->off += (uint32_t)n;
		d->buf->len -= (uint32_t)n;
	}
	if (d->buf) {
		free(d->buf);
		d->buf = NULL;
	}
	while (d->pending) {
		ssize_t n = splice(d->pipe->rd, NULL, out, NULL, d->pending,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				*blocked = true;
				return PUMP_OK;
			}
			return PUMP_ERR;
		}
		if (n == 0)
			return PUMP_ERR; /* cannot happen with bytes pending; never spin on it */
		d->pending -= (uint32_t)n;
	}
	if (d->pipe) {
		pipe_put(d->pipe);
		d->pipe = NULL;
	}
	return PUMP_OK;
}

/* One read from in into the direction: spliced into a pipe, or copied. Returns the
 * bytes read, 0 on EOF, -1 on EAGAIN, -2 on error. */
static ssize_t relay_fill(struct relay_dir *d, int in)
{
	ssize_t n;

	if (relay_no_splice < 0) {
		const char *e = getenv("SOCKSIFYD_NO_SPLICE");

		relay_no_splice = e && e[0] == '1';
	}
	if (relay_no_splice)
		d->copy = true;
	if (!d->copy) {
		if (!d->pipe)
			d->pipe = pipe_get();
		if (d->pipe) {
			n = splice(in, NULL, d->pipe->wr, NULL, RELAY_SPLICE_MAX,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				d->pending += (uint32_t)n;
				return n;
			}
			if (n == 0)
				return 0;
			if (errno == EAGAIN || errno == EINTR)
				return -1;
			if (errno != EINVAL)
				return -2;
			/* This pair of fds cannot splice: copy from now on. */
			d->copy = true;
		}
		/* No pipe (fd limit): copy this time, try splice again later. */
	}
	if (!d->buf) {
		d->buf = relay_buf_new(d->copy_cap ? d->copy_cap : RELAY_BUF_MIN);
		if (!d->buf)
			return -1;
	}
	n = recv(in, d->buf->data, d->buf->cap, MSG_DONTWAIT);
	if (n > 0) {
		d->buf->off = 0;
		d->buf->len = (uint32_t)n;
		/* A full read: this direction streams, so its next buffer is bigger. */
		if ((size_t)n == d->buf->cap && d->buf->cap < RELAY_BUF_MAX)
			d->copy_cap = d->buf->cap * 2;
		return n;
	}
	if (n == 0)
		return 0;
	return errno == EAGAIN || errno == EINTR ? -1 : -2;
}

/* Moves what it can from in to out; returns PUMP_ERR when the session must end. */
static enum pump_rc relay_pump(struct session *s, struct relay_dir *d, int in, int out)
{
	bool blocked = false;

	for (int round = 0; round < RELAY_ROUNDS; round++) {
		ssize_t n;

		if (relay_flush(d, out, &blocked) != PUMP_OK)
			return PUMP_ERR;
		if (blocked || d->eof)
			break;
		n = relay_fill(d, in);
		if (n == -2)
			return PUMP_ERR;
		if (n == -1)
			break;
		if (n == 0) {
			d->eof = true;
			continue; /* flush, then the half-close below */
		}
		d->bytes += (uint64_t)n;
		if (d == &s->up)
			srv.st.bytes_up += (uint64_t)n;
		else
			srv.st.bytes_down += (uint64_t)n;
		session_touch(s);
		/* Less than asked for: the socket is drained for now. Flush and wait
		 * for epoll (level-triggered, so nothing is missed) instead of a read
		 * that would only say EAGAIN. */
		if (n < (d->buf ? (ssize_t)d->buf->cap : RELAY_SPLICE_MAX)) {
			if (relay_flush(d, out, &blocked) != PUMP_OK)
				return PUMP_ERR;
			break;
		}
	}
	if (d->pipe && !d->pending) {
		pipe_put(d->pipe);
		d->pipe = NULL;
	}
	if (d->buf && !d->buf->len) {
		free(d->buf); /* an idle session keeps no buffer */
		d->buf = NULL;
	}
	if (d->eof && !d->shut && !d->pending && !(d->buf && d->buf->len)) {
		shutdown(out, SHUT_WR);
		d->shut = true;
		session_touch(s);
		session_arm_timer(s); /* the linger timeout applies from now */
	}
	return PUMP_OK;
}

static bool relay_has_data(const struct relay_dir *d)
{
	return d->pending || (d->buf && d->buf->len);
}

/* Watch a side for input while its direction is empty and open, for output while
 * the other direction holds bytes for it. */
static void relay_update(struct session *s)
{
	uint32_t cev = 0, tev = 0;

	if (!s->up.eof && !relay_has_data(&s->up))
		cev |= EPOLLIN;
	if (relay_has_data(&s->down))
		cev |= EPOLLOUT;
	if (!s->down.eof && !relay_has_data(&s->down))
		tev |= EPOLLIN;
	if (relay_has_data(&s->up))
		tev |= EPOLLOUT;
	ev_io_set(srv.loop, &s->cio, cev);
	ev_io_set(srv.loop, &s->tio, tev);
}

static void relay_run(struct session *s, bool up, bool down, uint32_t revents)
{
	uint64_t before = s->up.bytes + s->down.bytes;
	bool shut_before = s->up.shut && s->down.shut;

	if (up && relay_pump(s, &s->up, s->cio.fd, s->tio.fd) != PUMP_OK) {
		session_close(s, "connection reset");
		return;
	}
	if (down && relay_pump(s, &s->down, s->tio.fd, s->cio.fd) != PUMP_OK) {
		session_close(s, "connection reset");
		return;
	}
	if (s->up.shut && s->down.shut) {
		session_close(s, "done");
		return;
	}
	/* An error or hangup that moved nothing would be reported again at once. */
	if ((revents & (EPOLLERR | EPOLLHUP)) && before == s->up.bytes + s->down.bytes &&
	    shut_before == (s->up.shut && s->down.shut)) {
		session_close(s, "connection hangup");
		return;
	}
	relay_update(s);
}

static void relay_on_client(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	struct session *s = container_of(io, struct session, cio);
	bool err = revents & (EPOLLERR | EPOLLHUP);

	(void)loop;
	relay_run(s, err || (revents & EPOLLIN), err || (revents & EPOLLOUT), revents);
}

static void relay_on_target(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	struct session *s = container_of(io, struct session, tio);
	bool err = revents & (EPOLLERR | EPOLLHUP);

	(void)loop;
	relay_run(s, err || (revents & EPOLLOUT), err || (revents & EPOLLIN), revents);
}

void relay_start(struct session *s)
{
	/* tio keeps its registration (connect and BIND hand it over watched). */
	s->tio.cb = relay_on_target;
	s->cio.cb = relay_on_client;
	/* Bytes the client sent right behind its request go first. */
	if (s->hs && s->hs->len) {
		s->up.buf = relay_buf_new(s->hs->len);
		if (!s->up.buf) {
			session_close(s, "out of memory");
			return;
		}
		memcpy(s->up.buf->data, s->hs->data, s->hs->len);
		s->up.buf->len = s->hs->len;
		s->up.bytes += s->hs->len;
		srv.st.bytes_up += s->hs->len;
	}
	free(s->hs);
	s->hs = NULL;
	s->up.eof = s->client_eof;
	session_touch(s);
	session_set_state(s, SESS_RELAY);
	relay_run(s, true, true, 0);
}

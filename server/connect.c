/* Outbound connects with Happy Eyeballs (RFC 8305): addresses ordered IPv6 first and
 * interleaved by family, the next attempt started 250 ms after the previous one (or
 * at once when it fails), the first to connect wins and the others are closed. An
 * attempt is abandoned after half the connect timeout while other addresses are
 * left; the last one runs to the session's connect deadline. */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "errmap.h"
#include "log.h"
#include "metrics.h"
#include "resolve.h"
#include "server.h"
#include "session.h"

#define HE_DELAY_MS 250 /* RFC 8305 "Connection Attempt Delay" */

struct he_attempt {
	struct ev_io io;
	struct he *he;
	uint64_t deadline;
	uint8_t idx;
	bool live;
};

struct he {
	struct session *s;
	union sa46 addrs[RESOLVE_MAX_ADDRS];
	struct he_attempt att[RESOLVE_MAX_ADDRS];
	unsigned n, next, live;
	uint64_t next_start;
	struct ev_timer timer;
	int err; /* the most telling failure so far */
};

static void he_on_io(struct ev_loop *loop, struct ev_io *io, uint32_t revents);
static void he_on_timer(struct ev_loop *loop, struct ev_timer *t);

static void he_note_err(struct he *he, int err)
{
	/* A timeout says less than a refusal or an unreachable route: keep those. */
	if (err == ETIMEDOUT && he->err)
		return;
	he->err = err;
}

static void he_close_attempt(struct he_attempt *a)
{
	if (!a->live)
		return;
	ev_io_close(srv.loop, &a->io);
	a->live = false;
	a->he->live--;
}

static void he_free(struct he *he)
{
	for (unsigned i = 0; i < he->n; i++)
		he_close_attempt(&he->att[i]);
	ev_timer_stop(srv.loop, &he->timer);
	he->s->he = NULL;
	/* An attempt's event may still be queued in this batch. */
	ev_defer_free(srv.loop, he);
}

void connect_cancel(struct session *s)
{
	if (s->he)
		he_free(s->he);
}

static void he_fail(struct he *he)
{
	struct session *s = he->s;
	int err = he->err ? he->err : ETIMEDOUT;

	he_free(he);
	session_fail(s, errno_to_s5_rep(err), strerror(err));
}

static void he_win(struct he *he, struct he_attempt *a)
{
	struct session *s = he->s;
	int fd = a->io.fd;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct socks_addr bnd;

	/* The fd moves to the session, already watched for what the relay wants
	 * first (the target's first bytes). */
	ev_io_move(srv.loop, &a->io, &s->tio, EPOLLIN);
	a->live = false;
	he->live--;
	s->dest = he->addrs[a->idx];
	he_free(he);
	/* The real bound address: what the target sees as our side. */
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    !addr_from_sockaddr(&bnd, (struct sockaddr *)&ss, len)) {
		session_fail(s, S5_REP_GENERAL_FAILURE, "getsockname failed");
		return;
	}
	metrics_observe(&srv.st.connect,
			ev_now(srv.loop) - (s->connect_deadline - srv.o.connect_ms));
	if (!session_reply(s, S5_REP_SUCCEEDED, &bnd)) {
		session_close(s, "client gone before the reply");
		return;
	}
	relay_start(s);
}

static uint64_t he_attempt_timeout(const struct he *he)
{
	uint64_t half = srv.o.connect_ms / 2;

	return half < HE_DELAY_MS ? HE_DELAY_MS : half;
}

/* Starts attempts until one is in flight (or connected at once); false when
 * every address is used up. */
static bool he_start_next(struct he *he)
{
	uint64_t now = ev_now(srv.loop);

	while (he->next < he->n) {
		unsigned idx = he->next++;
		struct he_attempt *a = &he->att[idx];
		const union sa46 *addr = &he->addrs[idx];
		int one = 1;
		int fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			he_note_err(he, errno);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (log_enabled(LOG_DEBUG)) {
			char as[ADDR_STR_MAX];

			LOG_DEBUG("attempt %u: connecting to %s", idx,
				  sockaddr_str(&addr->sa, sa46_len(addr), as, sizeof(as)));
		}
		a->he = he;
		a->idx = (uint8_t)idx;
		ev_io_init(&a->io, fd, he_on_io);
		if (connect(fd, &addr->sa, sa46_len(addr)) == 0) {
			a->live = true;
			he->live++;
			he_win(he, a);
			return true;
		}
		if (errno != EINPROGRESS) {
			he_note_err(he, errno);
			close(fd);
			continue;
		}
		if (ev_io_set(srv.loop, &a->io, EPOLLOUT) < 0) {
			he_note_err(he, EMFILE);
			close(fd);
			continue;
		}
		a->live = true;
		he->live++;
		/* The last address has nothing to fall back to: it gets the session's
		 * whole connect deadline (that timer ends it). */
		a->deadline = he->next < he->n ? now + he_attempt_timeout(he) : UINT64_MAX;
		he->next_start = now + HE_DELAY_MS;
		return true;
	}
	return false;
}

static void he_rearm(struct he *he)
{
	uint64_t at = UINT64_MAX;

	if (he->next < he->n)
		at = he->next_start;
	for (unsigned i = 0; i < he->next; i++)
		if (he->att[i].live && he->att[i].deadline < at)
			at = he->att[i].deadline;
	if (at == UINT64_MAX)
		ev_timer_stop(srv.loop, &he->timer);
	else
		ev_timer_at(srv.loop, &he->timer, at);
}

/* After an attempt ended: start another, fail, or wait. Returns false when the he
 * is gone (won or failed). */
static void he_progress(struct he *he, bool start_now)
{
	struct session *s = he->s;

	if (start_now || he->live == 0) {
		if (he_start_next(he) && s->he != he)
			return; /* connected at once: he is freed */
	}
	if (he->live == 0 && he->next >= he->n) {
		he_fail(he);
		return;
	}
	he_rearm(he);
}

static void he_on_io(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	struct he_attempt *a = container_of(io, struct he_attempt, io);
	struct he *he = a->he;
	int err = 0;
	socklen_t len = sizeof(err);

	(void)loop;
	(void)revents;
	if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		he_win(he, a);
		return;
	}
	if (err == EINPROGRESS || err == EALREADY)
		return;
	LOG_DEBUG("attempt %u failed: %s", a->idx, strerror(err));
	he_note_err(he, err);
	he_close_attempt(a);
	/* RFC 8305 5: a failed attempt starts the next one without waiting. */
	he_progress(he, true);
}

static void he_on_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct he *he = container_of(t, struct he, timer);
	uint64_t now = ev_now(loop);
	bool start = he->next < he->n && now >= he->next_start;

	for (unsigned i = 0; i < he->next; i++) {
		if (he->att[i].live && he->att[i].deadline <= now) {
			he_note_err(he, ETIMEDOUT);
			he_close_attempt(&he->att[i]);
		}
	}
	he_progress(he, start);
}

void connect_start(struct session *s, const union sa46 *addrs, unsigned n)
{
	struct he *he = calloc(1, sizeof(*he));

	if (!he) {
		session_fail(s, S5_REP_GENERAL_FAILURE, "out of memory");
		return;
	}
	if (n > RESOLVE_MAX_ADDRS)
		n = RESOLVE_MAX_ADDRS;
	memcpy(he->addrs, addrs, n * sizeof(*addrs));
	resolve_interleave(he->addrs, n);
	he->n = n;
	he->s = s;
	ev_timer_init(&he->timer, he_on_timer);
	s->he = he;
	session_set_state(s, SESS_CONNECT);
	he_progress(he, true);
}

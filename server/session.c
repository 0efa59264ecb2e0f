/* The session state machine: accept, the SOCKS4/4a/5 handshake parsed as a byte
 * stream from a per-session buffer (only whole messages are consumed, so 1-byte
 * segments and pipelined greeting+auth+request+data all work), the dispatch to
 * CONNECT / BIND / UDP ASSOCIATE, replies, timers and the close log line. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <uthash.h>

#include "errmap.h"
#include "log.h"
#include "resolve.h"
#include "server.h"
#include "session.h"
#include "users.h"
#include "util.h"

/* How long a failed session keeps draining the client so the reply is not lost
 * to a TCP reset (closing with unread input resets the connection). */
#define FAIL_LINGER_MS 2000
/* Sessions answering "over the limit" at once; beyond this a new one is closed. */
#define MAX_REJECTING 64

/* Per client address: sessions, for --max-per-client, and hash checks waiting or
 * running, for the client's share of the auth queue. */
struct client_slot {
	UT_hash_handle hh;
	uint8_t key[16]; /* IPv6, or IPv4-mapped */
	unsigned n;
	unsigned auth;
};

static struct session *sess_list;
static struct client_slot *client_slots;

static const char *const state_names[] = {
	[SESS_GREETING] = "GREETING", [SESS_AUTH] = "AUTH",
	[SESS_AUTH_CHECK] = "AUTH_CHECK", [SESS_REQUEST] = "REQUEST",
	[SESS_RESOLVE] = "RESOLVE", [SESS_CONNECT] = "CONNECT",
	[SESS_BIND_WAIT] = "BIND_WAIT", [SESS_UDP] = "UDP", [SESS_RELAY] = "RELAY",
	[SESS_FAILED] = "FAILED", [SESS_DONE] = "DONE",
};

const char *sess_state_name(enum sess_state st)
{
	return st <= SESS_DONE ? state_names[st] : "?";
}

socklen_t sa46_len(const union sa46 *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in);
}

static void session_on_client(struct ev_loop *loop, struct ev_io *io, uint32_t revents);
static void session_on_timer(struct ev_loop *loop, struct ev_timer *t);
static void session_parse(struct session *s);
static void auth_done(struct session *s, bool ok);

void session_set_state(struct session *s, enum sess_state st)
{
	if (log_enabled(LOG_DEBUG)) {
		char cs[ADDR_STR_MAX];

		LOG_DEBUG("%s: %s -> %s", sockaddr_str(&s->client.sa, sa46_len(&s->client), cs,
							sizeof(cs)),
			  sess_state_name(s->state), sess_state_name(st));
	}
	/* Resolving and connecting share one deadline, started by whichever comes
	 * first. */
	if (st == SESS_RESOLVE || (st == SESS_CONNECT && s->state != SESS_RESOLVE))
		s->connect_deadline = ev_now(srv.loop) + srv.o.connect_ms;
	s->state = st;
	session_arm_timer(s);
}

void session_touch(struct session *s)
{
	s->last_ms = ev_now(srv.loop);
}

/* ---- per-client slots ---- */

static void client_key(const union sa46 *a, uint8_t key[16])
{
	if (a->sa.sa_family == AF_INET6) {
		memcpy(key, &a->in6.sin6_addr, 16);
		return;
	}
	memset(key, 0, 10);
	key[10] = key[11] = 0xff;
	memcpy(key + 12, &a->in.sin_addr, 4);
}

static struct client_slot *client_find(const union sa46 *a)
{
	uint8_t key[16];
	struct client_slot *c;

	client_key(a, key);
	HASH_FIND(hh, client_slots, key, sizeof(key), c);
	return c;
}

static struct client_slot *client_get(const union sa46 *a)
{
	struct client_slot *c = client_find(a);

	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		client_key(a, c->key);
		HASH_ADD(hh, client_slots, key, sizeof(c->key), c);
	}
	return c;
}

static void client_put(struct client_slot *c)
{
	if (c->n == 0 && c->auth == 0) {
		HASH_DEL(client_slots, c);
		free(c);
	}
}

static bool client_acquire(struct session *s)
{
	struct client_slot *c = client_get(&s->client);

	if (!c)
		return false;
	c->n++;
	s->counted = true;
	return true;
}

static void client_release(struct session *s)
{
	struct client_slot *c;

	if (!s->counted)
		return;
	s->counted = false;
	c = client_find(&s->client);
	if (c) {
		c->n--;
		client_put(c);
	}
}

/* One address's hash checks may hold at most a quarter of the auth queue: a flood
 * of logins from one client then leaves room for everyone else's. */
static bool auth_share_take(struct session *s)
{
	struct client_slot *c = client_get(&s->client);
	unsigned share = pool_queue_max(POOL_AUTH) / 4;

	if (!c)
		return false;
	if (c->auth >= (share ? share : 1)) {
		client_put(c);
		return false;
	}
	c->auth++;
	s->auth_share = true;
	return true;
}

static void auth_share_give(struct session *s)
{
	struct client_slot *c;

	if (!s->auth_share)
		return;
	s->auth_share = false;
	c = client_find(&s->client);
	if (c) {
		c->auth--;
		client_put(c);
	}
}

/* ---- replies ---- */

/* more: the client already sent the next message, so another reply follows for
 * sure; MSG_MORE lets a pipelining client get all its replies in one segment. */
static bool session_send(struct session *s, const uint8_t *buf, size_t len, bool more)
{
	/* Replies go out on a socket whose send buffer holds nothing else yet, so a
	 * short write means the client is gone, not that we should wait. */
	ssize_t n = send(s->cio.fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0));

	return n == (ssize_t)len;
}

bool session_reply(struct session *s, uint8_t rep, const struct socks_addr *bnd)
{
	uint8_t buf[4 + 1 + SOCKS_NAME_MAX + 2];
	static const struct socks_addr zero4 = { .atyp = SOCKS5_ATYP_IPV4 };
	ssize_t n;

	s->rep = rep;
	s->replied = true;
	if (!bnd)
		bnd = &zero4;
	if (s->ver == 4) {
		static const uint8_t zero[4];
		const uint8_t *ip = bnd->atyp == SOCKS5_ATYP_IPV4 ? bnd->u.v4 : zero;

		n = s4_build_reply(buf, sizeof(buf), rep == 0 ? S4_REP_GRANTED : S4_REP_REJECTED,
				   bnd->atyp == SOCKS5_ATYP_IPV4 ? bnd->port : 0, ip);
	} else {
		n = s5_build_reply(buf, sizeof(buf), rep, bnd);
	}
	return n > 0 && session_send(s, buf, (size_t)n, false);
}

/* A worker job of a session that no longer wants it: dropped unrun if still queued,
 * its result discarded if running. */
static void session_drop_job(struct session *s)
{
	struct pool_job *job = s->job;

	s->job = NULL;
	auth_share_give(s);
	if (job)
		pool_cancel(job);
}

static void session_drain_mode(struct session *s, const char *why)
{
	s->why = why;
	/* Whatever was in progress must not come back to a finished session. */
	session_drop_job(s);
	connect_cancel(s);
	/* Our side is finished: FIN now, then read until the client's EOF (or a short
	 * timer) so that unread input cannot turn the close into a reset that would
	 * destroy the reply in flight. */
	shutdown(s->cio.fd, SHUT_WR);
	ev_io_close(srv.loop, &s->tio);
	s->cio.cb = session_on_client;
	ev_io_set(srv.loop, &s->cio, EPOLLIN);
	session_set_state(s, SESS_FAILED);
}

void session_fail(struct session *s, uint8_t rep, const char *why)
{
	if (s->state == SESS_DONE || s->state == SESS_FAILED)
		return;
	srv.st.failed++;
	if (!session_reply(s, rep, NULL)) {
		session_close(s, why);
		return;
	}
	session_drain_mode(s, why);
}

/* ---- close ---- */

static const char *cmd_name(uint8_t cmd)
{
	switch (cmd) {
	case SOCKS_CMD_CONNECT: return "connect";
	case SOCKS_CMD_BIND: return "bind";
	case SOCKS_CMD_UDP_ASSOCIATE: return "udp";
	}
	return "-";
}

static void session_log_close(struct session *s)
{
	char cs[ADDR_STR_MAX], ds[ADDR_STR_MAX] = "-";
	/* The user and the name asked for come from the client: quoted when needed. */
	char us[LOG_FIELD_SIZE(SOCKS_USER_MAX)], as[LOG_FIELD_SIZE(ADDR_STR_MAX)];
	uint64_t dur = ev_now(srv.loop) - s->start_ms;
	const char *result;

	if (!log_enabled(LOG_INFO))
		return;
	if (s->dest.sa.sa_family)
		sockaddr_str(&s->dest.sa, sa46_len(&s->dest), ds, sizeof(ds));
	if (s->replied)
		result = s->ver == 4 ? (s->rep ? "rejected(91)" : "granted(90)")
				     : s5_rep_str(s->rep);
	else
		result = "no reply";
	LOG_INFO("session client=%s user=%s ver=%u cmd=%s asked=%s dest=%s up=%llu "
		 "down=%llu dur=%llu.%03llus rep=%u result=\"%s\" end=\"%s\"",
		 sockaddr_str(&s->client.sa, sa46_len(&s->client), cs, sizeof(cs)),
		 s->user ? log_field(s->user, us, sizeof(us)) : "-", s->ver, cmd_name(s->cmd),
		 s->asked ? log_field(s->asked, as, sizeof(as)) : "-",
		 ds, (unsigned long long)s->up.bytes, (unsigned long long)s->down.bytes,
		 (unsigned long long)(dur / 1000), (unsigned long long)(dur % 1000),
		 s->replied ? s->rep : 255, result, s->why ? s->why : "closed");
}

void session_close(struct session *s, const char *why)
{
	if (s->state == SESS_DONE)
		return;
	if (why)
		s->why = why;
	session_drop_job(s);
	connect_cancel(s);
	udp_free(s);
	relay_free(s);
	session_log_close(s);
	session_set_state(s, SESS_DONE); /* stops the timer too */
	ev_timer_stop(srv.loop, &s->timer);
	ev_io_close(srv.loop, &s->cio);
	ev_io_close(srv.loop, &s->tio);
	srv.st.closed++;
	if (s->reject)
		srv.st.rejecting--;
	else
		srv.st.active--;
	client_release(s);
	if (s->prev)
		s->prev->next = s->next;
	else
		sess_list = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s->hs);
	s->hs = NULL;
	free(s->user);
	free(s->asked);
	ev_defer_free(srv.loop, s);
}

void session_count_states(unsigned long counts[SESS_DONE + 1])
{
	memset(counts, 0, sizeof(unsigned long) * (SESS_DONE + 1));
	for (struct session *s = sess_list; s; s = s->next)
		counts[s->state <= SESS_DONE ? s->state : SESS_DONE]++;
}

void session_close_all(const char *why)
{
	while (sess_list)
		session_close(sess_list, why);
}

/* ---- timers ---- */

void session_arm_timer(struct session *s)
{
	uint64_t at;

	switch (s->state) {
	case SESS_GREETING:
	case SESS_AUTH:
	case SESS_AUTH_CHECK:
	case SESS_REQUEST:
		at = s->start_ms + srv.o.handshake_ms; /* one deadline for the whole handshake */
		break;
	case SESS_RESOLVE:
	case SESS_CONNECT:
		at = s->connect_deadline;
		break;
	case SESS_BIND_WAIT:
	case SESS_UDP:
	case SESS_RELAY:
		at = s->last_ms + srv.o.idle_ms;
		if (s->state == SESS_RELAY && (s->up.shut || s->down.shut) &&
		    srv.o.linger_ms < srv.o.idle_ms)
			at = s->last_ms + srv.o.linger_ms;
		break;
	case SESS_FAILED:
		at = ev_now(srv.loop) + FAIL_LINGER_MS;
		break;
	default:
		ev_timer_stop(srv.loop, &s->timer);
		return;
	}
	ev_timer_at(srv.loop, &s->timer, at);
}

static void session_on_timer(struct ev_loop *loop, struct ev_timer *t)
{
	struct session *s = container_of(t, struct session, timer);
	uint64_t now = ev_now(loop);

	switch (s->state) {
	case SESS_AUTH_CHECK:
		/* The client waits for a verdict: a slow check is a failed one. */
		session_drop_job(s);
		auth_done(s, false);
		s->why = "handshake timeout";
		return;
	case SESS_REQUEST:
		/* A method was agreed, so the client understands a reply. */
		session_fail(s, S5_REP_GENERAL_FAILURE, "handshake timeout");
		return;
	case SESS_GREETING:
	case SESS_AUTH:
		session_close(s, "handshake timeout");
		return;
	case SESS_RESOLVE:
		session_fail(s, S5_REP_HOST_UNREACHABLE, "resolve timeout");
		return;
	case SESS_CONNECT:
		connect_cancel(s);
		session_fail(s, S5_REP_TTL_EXPIRED, "connect timeout");
		return;
	case SESS_BIND_WAIT:
		session_fail(s, S5_REP_TTL_EXPIRED, "bind timeout");
		return;
	case SESS_UDP:
	case SESS_RELAY: {
		bool half = s->state == SESS_RELAY && (s->up.shut || s->down.shut);
		uint64_t limit = half && srv.o.linger_ms < srv.o.idle_ms ? srv.o.linger_ms
									 : srv.o.idle_ms;

		if (now - s->last_ms >= limit) {
			session_close(s, half ? "linger timeout" : "idle timeout");
			return;
		}
		ev_timer_at(loop, t, s->last_ms + limit);
		return;
	}
	case SESS_FAILED:
	case SESS_DONE:
		session_close(s, NULL);
		return;
	}
}

/* ---- accept ---- */

void session_accept(int fd, const union sa46 *client, bool strict)
{
	struct session *s;
	bool reject = false;
	int one = 1;
	char cs[ADDR_STR_MAX];

	if (!acl_client_allowed(&srv.acl, &client->sa)) {
		srv.st.denied++;
		LOG_INFO("client %s not in the allow-list: closed",
			 sockaddr_str(&client->sa, sa46_len(client), cs, sizeof(cs)));
		close(fd);
		return;
	}
	if (srv.st.active >= srv.o.max_sessions) {
		reject = true;
	} else if (srv.o.max_per_client) {
		struct client_slot *c = client_find(client);

		reject = c && c->n >= srv.o.max_per_client;
	}
	if (reject) {
		srv.st.rejected++;
		if (srv.st.rejecting >= MAX_REJECTING) {
			/* Nothing can be said without spending more: a close it is. */
			LOG_INFO("client %s over the session limit: closed without a reply",
				 sockaddr_str(&client->sa, sa46_len(client), cs, sizeof(cs)));
			close(fd);
			return;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		LOG_ERR("out of memory for a session");
		close(fd);
		return;
	}
	s->hs = malloc(sizeof(*s->hs));
	if (!s->hs) {
		free(s);
		close(fd);
		return;
	}
	s->hs->len = 0;
	s->client = *client;
	s->strict = strict;
	s->reject = reject;
	s->start_ms = s->last_ms = ev_now(srv.loop);
	ev_io_init(&s->cio, fd, session_on_client);
	ev_io_init(&s->tio, -1, NULL);
	ev_timer_init(&s->timer, session_on_timer);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->next = sess_list;
	if (sess_list)
		sess_list->prev = s;
	sess_list = s;
	if (reject) {
		srv.st.rejecting++;
	} else {
		srv.st.active++;
		srv.st.total++;
		if (srv.o.max_per_client)
			client_acquire(s);
	}
	if (ev_io_set(srv.loop, &s->cio, EPOLLIN) < 0) {
		session_close(s, "epoll failed");
		return;
	}
	session_set_state(s, SESS_GREETING);
}

/* ---- the handshake ---- */

static void session_consume(struct session *s, size_t used)
{
	struct hs_buf *hs = s->hs;

	memmove(hs->data, hs->data + used, hs->len - used);
	hs->len -= (uint32_t)used;
}

static void session_on_client(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	struct session *s = container_of(io, struct session, cio);
	ssize_t n;

	(void)loop;
	if ((revents & (EPOLLERR | EPOLLHUP)) &&
	    (s->state == SESS_AUTH_CHECK || s->state == SESS_RESOLVE || s->state == SESS_CONNECT)) {
		/* The client is not read in these states (its fd is out of the set), but
		 * an error reported before that, in this batch, still ends it. */
		session_close(s, "client reset");
		return;
	}
	if (s->state == SESS_FAILED) {
		uint8_t sink[4096];

		n = recv(io->fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			session_close(s, NULL);
		return;
	}
	if (!s->hs || s->hs->len >= HS_CAP) {
		ev_io_set(srv.loop, io, 0);
		return;
	}
	n = recv(io->fd, s->hs->data + s->hs->len, HS_CAP - s->hs->len, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		session_close(s, "client error during handshake");
		return;
	}
	if (n == 0) {
		s->client_eof = true;
		ev_io_set(srv.loop, io, 0);
	}
	s->hs->len += (uint32_t)n;
	session_parse(s);
}

/* Whether the whole next message (for state st) already sits in the buffer after
 * offset: then its reply follows at once, and the current one may wait for it. */
static bool next_msg_here(const struct session *s, size_t offset, enum sess_state st)
{
	const uint8_t *p = s->hs->data + offset;
	size_t len = s->hs->len - offset, used;
	struct s5_request req;
	struct s5_auth a;
	int rc;

	if (len == 0)
		return false;
	if (st == SESS_AUTH) {
		rc = s5_parse_auth(p, len, &used, &a);
		explicit_bzero(&a, sizeof(a));
	} else {
		rc = s5_parse_request(p, len, &used, &req);
	}
	return rc != CODEC_NEED_MORE;
}

static void auth_done(struct session *s, bool ok)
{
	uint8_t rep[2];

	s5_build_auth_reply(rep, sizeof(rep), ok ? 0x00 : 0x01);
	if (!ok) {
		srv.st.failed++;
		if (session_send(s, rep, sizeof(rep), false))
			session_drain_mode(s, "authentication failed");
		else
			session_close(s, "authentication failed");
		return;
	}
	if (!session_send(s, rep, sizeof(rep), s->hs && next_msg_here(s, 0, SESS_REQUEST))) {
		session_close(s, "client gone");
		return;
	}
	session_set_state(s, SESS_REQUEST);
	if (!s->client_eof)
		ev_io_set(srv.loop, &s->cio, EPOLLIN);
	session_parse(s); /* a request pipelined behind the auth is already here */
}

struct auth_job {
	struct pool_job job;
	bool ok;
	struct users_check check;
	char pass[SOCKS_USER_MAX + 1];
};

static void auth_job_work(struct pool_job *job)
{
	struct auth_job *aj = (struct auth_job *)job;

	aj->ok = users_verify(&aj->check, aj->pass);
}

static void auth_job_done(struct pool_job *job)
{
	struct auth_job *aj = (struct auth_job *)job;
	struct session *s = aj->job.owner;
	bool ok = aj->ok;

	explicit_bzero(aj, sizeof(*aj));
	free(aj);
	if (!s)
		return;
	s->job = NULL;
	auth_share_give(s);
	auth_done(s, ok);
}

static void session_auth(struct session *s, const struct s5_auth *a)
{
	struct auth_job *aj;
	enum users_verdict v;

	free(s->user);
	s->user = strdup(a->user);
	if (!srv.users) {
		/* No users file: the client chose username/password on its own, so any
		 * credentials are fine, as with no authentication. */
		auth_done(s, true);
		return;
	}
	aj = calloc(1, sizeof(*aj));
	if (!aj) {
		auth_done(s, false);
		return;
	}
	v = users_begin(srv.users, a->user, a->pass, &aj->check);
	if (v != USERS_SLOW) {
		explicit_bzero(aj, sizeof(*aj));
		free(aj);
		auth_done(s, v == USERS_OK);
		return;
	}
	/* crypt(3) takes milliseconds on purpose: not on the loop. A full queue, or
	 * a client over its share of it, fails the login at once (counted) rather
	 * than keep it waiting. */
	str_copy(aj->pass, a->pass, sizeof(aj->pass));
	aj->job.work = auth_job_work;
	aj->job.done = auth_job_done;
	aj->job.owner = s;
	if (!auth_share_take(s)) {
		pool_count_refused(POOL_AUTH);
		explicit_bzero(aj, sizeof(*aj));
		free(aj);
		auth_done(s, false);
		return;
	}
	if (!pool_submit(&aj->job, POOL_AUTH)) {
		auth_share_give(s);
		explicit_bzero(aj, sizeof(*aj));
		free(aj);
		auth_done(s, false);
		return;
	}
	s->job = &aj->job;
	session_set_state(s, SESS_AUTH_CHECK);
	/* Keep reading: a client that leaves while its check waits is seen at once,
	 * and its job is dropped before a worker spends a crypt on it. */
	if (!s->client_eof)
		ev_io_set(srv.loop, &s->cio, EPOLLIN);
}

static uint8_t session_pick_method(const struct session *s, const struct s5_greeting *g)
{
	if (s->reject)
		return s5_greeting_has(g, SOCKS5_METHOD_NOAUTH) ? SOCKS5_METHOD_NOAUTH
								: SOCKS5_METHOD_NONE_ACCEPTABLE;
	if (srv.users)
		return s5_greeting_has(g, SOCKS5_METHOD_USERPASS) ? SOCKS5_METHOD_USERPASS
								  : SOCKS5_METHOD_NONE_ACCEPTABLE;
	if (s5_greeting_has(g, SOCKS5_METHOD_NOAUTH))
		return SOCKS5_METHOD_NOAUTH;
	if (s5_greeting_has(g, SOCKS5_METHOD_USERPASS))
		return SOCKS5_METHOD_USERPASS;
	return SOCKS5_METHOD_NONE_ACCEPTABLE;
}

static void session_resolved(struct resolve_job *rj);
static void session_go(struct session *s, union sa46 *addrs, unsigned n);

static void session_dispatch(struct session *s, const struct socks_addr *dst)
{
	char as[ADDR_STR_MAX];
	union sa46 a;
	struct sockaddr_storage ss;
	socklen_t len;

	free(s->asked);
	s->asked = strdup(addr_str(dst, as, sizeof(as)));
	if (s->reject) {
		session_fail(s, S5_REP_GENERAL_FAILURE, "over the session limit");
		return;
	}
	if (s->cmd == SOCKS_CMD_UDP_ASSOCIATE) {
		udp_start(s, dst);
		return;
	}
	if (s->cmd != SOCKS_CMD_CONNECT && s->cmd != SOCKS_CMD_BIND) {
		session_fail(s, S5_REP_CMD_NOT_SUPPORTED, "unknown command");
		return;
	}
	if (acl_dest_asked_denied(&srv.acl, dst)) {
		srv.st.denied++;
		session_fail(s, S5_REP_NOT_ALLOWED, "destination denied by rule");
		return;
	}
	memset(&a, 0, sizeof(a));
	if (dst->atyp == SOCKS5_ATYP_DOMAINNAME) {
		struct resolve_job *rj;

		if (resolve_literal(dst->u.name, dst->port, &a)) {
			session_go(s, &a, 1);
			return;
		}
		rj = calloc(1, sizeof(*rj));
		if (!rj) {
			session_fail(s, S5_REP_GENERAL_FAILURE, "out of memory");
			return;
		}
		str_copy(rj->name, dst->u.name, sizeof(rj->name));
		rj->port = dst->port;
		rj->family = AF_UNSPEC;
		rj->cb = session_resolved;
		rj->job.owner = s;
		if (!resolve_submit(rj)) {
			resolve_free(rj);
			session_fail(s, S5_REP_GENERAL_FAILURE, "resolver unavailable");
			return;
		}
		s->job = &rj->job;
		session_set_state(s, SESS_RESOLVE);
		return;
	}
	len = addr_to_sockaddr(dst, &ss);
	if (len == 0 || len > sizeof(a)) {
		session_fail(s, S5_REP_ATYP_NOT_SUPPORTED, "bad address");
		return;
	}
	memcpy(&a, &ss, len);
	session_go(s, &a, 1);
}

static void session_resolved(struct resolve_job *rj)
{
	struct session *s = rj->job.owner;

	s->job = NULL;
	if (rj->eai) {
		char ns[LOG_FIELD_SIZE(SOCKS_NAME_MAX)];

		LOG_DEBUG("resolving %s: %s", log_field(rj->name, ns, sizeof(ns)),
			  gai_strerror(rj->eai));
		session_fail(s, eai_to_s5_rep(rj->eai), gai_strerror(rj->eai));
	} else {
		session_go(s, rj->addrs, rj->n);
	}
	resolve_free(rj);
}

static bool session_addr_denied(const struct session *s, const union sa46 *a)
{
	struct socks_addr sa;

	if (!addr_from_sockaddr(&sa, &a->sa, sa46_len(a)))
		return true;
	return acl_dest_addr_denied(&srv.acl, &sa, s->strict);
}

/* Drops every address the policy refuses, then connects or binds. */
static void session_go(struct session *s, union sa46 *addrs, unsigned n)
{
	unsigned k = 0;

	if (s->cmd == SOCKS_CMD_BIND && n >= 1) {
		struct socks_addr sa;

		static const uint8_t zero[16];
		bool any;

		/* BIND names the peer expected to connect in; 0.0.0.0 (or ::) means
		 * anyone, which is not a destination to check. */
		if (!addr_from_sockaddr(&sa, &addrs[0].sa, sa46_len(&addrs[0])))
			any = false;
		else
			any = !memcmp(sa.u.v6, zero, sa.atyp == SOCKS5_ATYP_IPV4 ? 4 : 16);
		if (!any && session_addr_denied(s, &addrs[0])) {
			srv.st.denied++;
			session_fail(s, S5_REP_NOT_ALLOWED, "bind peer denied by policy");
			return;
		}
		bind_start(s, &addrs[0]);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		if (!session_addr_denied(s, &addrs[i]))
			addrs[k++] = addrs[i];
	if (k == 0) {
		srv.st.denied++;
		session_fail(s, S5_REP_NOT_ALLOWED, "destination denied by policy");
		return;
	}
	connect_start(s, addrs, k);
}

static void session_socks4(struct session *s, const struct s4_request *req)
{
	s->ver = 4;
	s->cmd = req->cmd;
	if (req->userid[0])
		s->user = strdup(req->userid);
	if (srv.users) {
		/* SOCKS4 has no password: with a users file it would bypass auth. */
		session_fail(s, S5_REP_NOT_ALLOWED, "SOCKS4 refused: authentication required");
		return;
	}
	if (req->cmd != SOCKS_CMD_CONNECT && req->cmd != SOCKS_CMD_BIND) {
		session_fail(s, S5_REP_CMD_NOT_SUPPORTED, "unknown SOCKS4 command");
		return;
	}
	session_dispatch(s, &req->addr);
}

static uint8_t codec_to_rep(int rc)
{
	switch (rc) {
	case CODEC_EATYP: return S5_REP_ATYP_NOT_SUPPORTED;
	case CODEC_ECMD: return S5_REP_CMD_NOT_SUPPORTED;
	}
	return S5_REP_GENERAL_FAILURE;
}

/* One step of the handshake; returns true when it consumed a message and the
 * caller should try the next one. */
static bool session_step(struct session *s)
{
	struct hs_buf *hs = s->hs;
	size_t used = 0;
	int rc;

	switch (s->state) {
	case SESS_GREETING: {
		if (hs->len == 0)
			return false;
		if (hs->data[0] == SOCKS4_VERSION) {
			struct s4_request req;

			rc = s4_parse_request(hs->data, hs->len, &used, &req);
			if (rc == CODEC_NEED_MORE)
				return false;
			s->ver = 4;
			if (rc != CODEC_DONE) {
				session_fail(s, S5_REP_GENERAL_FAILURE, codec_strerror(rc));
				return false;
			}
			session_consume(s, used);
			session_socks4(s, &req);
			return false;
		}
		if (hs->data[0] != SOCKS5_VERSION) {
			session_close(s, "not a SOCKS request");
			return false;
		}
		struct s5_greeting g;
		uint8_t rep[2], m;

		s->ver = 5;
		rc = s5_parse_greeting(hs->data, hs->len, &used, &g);
		if (rc == CODEC_NEED_MORE)
			return false;
		m = rc == CODEC_DONE ? session_pick_method(s, &g) : SOCKS5_METHOD_NONE_ACCEPTABLE;
		s5_build_method_reply(rep, sizeof(rep), m);
		if (!session_send(s, rep, sizeof(rep),
				  m != SOCKS5_METHOD_NONE_ACCEPTABLE &&
					  next_msg_here(s, used, m == SOCKS5_METHOD_USERPASS
									 ? SESS_AUTH
									 : SESS_REQUEST))) {
			session_close(s, "client gone");
			return false;
		}
		if (m == SOCKS5_METHOD_NONE_ACCEPTABLE) {
			srv.st.failed++;
			session_drain_mode(s, rc == CODEC_DONE ? "no acceptable auth method"
							       : codec_strerror(rc));
			return false;
		}
		session_consume(s, used);
		session_set_state(s, m == SOCKS5_METHOD_USERPASS ? SESS_AUTH : SESS_REQUEST);
		return true;
	}
	case SESS_AUTH: {
		struct s5_auth a;

		rc = s5_parse_auth(hs->data, hs->len, &used, &a);
		if (rc == CODEC_NEED_MORE)
			return false;
		if (rc != CODEC_DONE) {
			auth_done(s, false);
			return false;
		}
		session_consume(s, used);
		session_auth(s, &a);
		explicit_bzero(&a, sizeof(a));
		return false; /* auth_done() continues the parse itself */
	}
	case SESS_REQUEST: {
		struct s5_request req;

		memset(&req, 0, sizeof(req));
		rc = s5_parse_request(hs->data, hs->len, &used, &req);
		if (rc == CODEC_NEED_MORE)
			return false;
		s->cmd = req.cmd;
		if (rc != CODEC_DONE) {
			session_fail(s, codec_to_rep(rc), codec_strerror(rc));
			return false;
		}
		session_consume(s, used);
		ev_io_set(srv.loop, &s->cio, 0); /* the rest is data, read by the relay */
		session_dispatch(s, &req.addr);
		return false;
	}
	default:
		return false;
	}
}

static void session_parse(struct session *s)
{
	while (s->state != SESS_DONE && s->hs && session_step(s))
		;
	if (s->state == SESS_DONE)
		return;
	if (!s->client_eof)
		return;
	/* A client that ends its side before its request is whole cannot be served;
	 * one that pipelined the request and then half-closed can. */
	if (s->state == SESS_GREETING || s->state == SESS_AUTH || s->state == SESS_REQUEST ||
	    (s->state == SESS_AUTH_CHECK && !next_msg_here(s, 0, SESS_REQUEST)))
		session_close(s, "client closed during handshake");
}

/* The workers (see worker.h): their threads, listeners and accept path, and the
 * mailbox through which worker 0 reaches them.
 *
 * Configuration after SIGHUP travels as reference-counted objects: worker 0 builds
 * one, gives each worker a reference in its `pending` slot (an atomic exchange, so a
 * reference never published is dropped by whoever replaced it), and each worker,
 * woken by its eventfd, swaps it in and drops the one it used before. The last
 * worker to let go frees it. Sessions only look at the table in force when they
 * check, so no session ever sees a table freed under it. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"
#include "users.h"
#include "util.h"
#include "worker.h"

#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 100 /* after EMFILE: let sessions end before trying again */
#define HOUSEKEEPING_MS 1000
#define TRIM_AFTER_CLOSED 128

enum { CONF_USERS, CONF_ACL, CONF_N };

/* A users table or an ACL shared by the workers that use it. */
struct conf {
	atomic_uint refs;
	unsigned kind;
	struct users *users; /* CONF_USERS */
	struct acl acl;      /* CONF_ACL */
};

/* A pool job of worker i > 0, wrapped so its done() runs on worker i again. */
struct fwd_job {
	struct pool_job job;
	struct pool_job *inner;
	struct worker *w;
	struct fwd_job *next;
};

enum { WF_STOP = 1, WF_COUNT = 2, WF_DRAIN = 4 };

struct wlisten {
	struct ev_io io;
	struct listener *l;
	uint32_t events; /* EPOLLIN, with EPOLLEXCLUSIVE on a shared socket */
};

struct worker {
	unsigned id;
	pthread_t tid;
	bool started;
	struct server server; /* this worker's: loop, counters, users/ACL in force */
	int efd;
	struct ev_io mbox;
	atomic_uint flags;
	_Atomic(struct conf *) pending[CONF_N];
	struct conf *cur[CONF_N];
	pthread_mutex_t fwd_mu; /* the results of pool jobs, handed over by worker 0 */
	struct fwd_job *fwd_head;
	struct wlisten lio[MAX_LISTENERS];
	struct ev_timer accept_pause, housekeeping;
	int reserve_fd;
	uint64_t closed_at_trim;
	bool draining;
	atomic_bool alive;
	atomic_ullong reloads;
};

struct listener listeners[MAX_LISTENERS];
unsigned nlisteners;

static struct worker *W;
static unsigned nworkers;
static struct server boot_srv;
__thread struct server *srv_tls = &boot_srv;
static __thread struct worker *self;
static const char *stop_why;

/* SIGUSR1: what each worker adds before the last one logs the sum. */
static atomic_ulong count_states[SESS_DONE + 1];
static atomic_uint count_left;

static void worker_poke(struct worker *w, unsigned flags)
{
	uint64_t one = 1;

	if (flags)
		atomic_fetch_or(&w->flags, flags);
	/* Cannot fail short of a counter overflow; the flag waits for the next poke. */
	if (write(w->efd, &one, sizeof(one)) < 0)
		LOG_WARN("worker %u: eventfd write: %s", w->id, strerror(errno));
}

/* ---- configuration ---- */

static void conf_unref(struct conf *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	if (c->kind == CONF_USERS)
		users_free(c->users);
	else
		acl_free(&c->acl);
	free(c);
}

static void conf_apply(struct worker *w, struct conf *c)
{
	if (c->kind == CONF_USERS)
		w->server.users = c->users;
	else
		w->server.acl = c->acl; /* a copy of the arrays' pointers; c owns them */
	conf_unref(w->cur[c->kind]);
	w->cur[c->kind] = c;
}

static struct conf *conf_new(unsigned kind)
{
	struct conf *c = calloc(1, sizeof(*c));

	if (c) {
		c->kind = kind;
		atomic_init(&c->refs, nworkers);
	}
	return c;
}

static void publish(struct conf *c)
{
	for (unsigned i = 0; i < nworkers; i++) {
		struct conf *old = atomic_exchange(&W[i].pending[c->kind], c);

		conf_unref(old); /* never picked up: replaced before its worker woke */
	}
}

void workers_publish(bool replace_users, struct users *u, struct acl *acl)
{
	struct conf *cu = replace_users ? conf_new(CONF_USERS) : NULL;
	struct conf *ca = acl ? conf_new(CONF_ACL) : NULL;

	if ((replace_users && !cu) || (acl && !ca)) {
		LOG_ERR("reload: out of memory; keeping the configuration in force");
		free(cu);
		free(ca);
		users_free(u);
		if (acl)
			acl_free(acl);
		return;
	}
	if (cu) {
		cu->users = u;
		publish(cu);
	}
	if (ca) {
		ca->acl = *acl;
		publish(ca);
	}
	/* One wake-up after both are in place: a worker woken between the two would
	 * apply a reload in two halves (and count two reloads). */
	for (unsigned i = 0; i < nworkers; i++)
		worker_poke(&W[i], 0);
}

/* ---- accepting ---- */

static void set_accepting(struct worker *w, bool on)
{
	for (unsigned i = 0; i < nlisteners; i++)
		if (w->lio[i].io.fd >= 0)
			ev_io_set(w->server.loop, &w->lio[i].io, on ? w->lio[i].events : 0);
}

static void on_accept_pause(struct ev_loop *loop, struct ev_timer *t)
{
	(void)loop;
	(void)t;
	if (self->reserve_fd < 0)
		self->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	set_accepting(self, !self->draining && !srv.stopping);
}

/* Out of fds: spend the reserve fd to take the connection off the backlog and
 * close it (nothing can be said without an fd), then pause accepting briefly
 * instead of spinning on a listener that stays readable. */
static void accept_exhausted(int lfd, int err)
{
	if (self->reserve_fd >= 0) {
		int fd;

		close(self->reserve_fd);
		self->reserve_fd = -1;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
	}
	srv.st.rejected++;
	LOG_WARN("accept: %s: closing new connections for %d ms", strerror(err), ACCEPT_PAUSE_MS);
	set_accepting(self, false);
	ev_timer_start(srv.loop, &self->accept_pause, ACCEPT_PAUSE_MS);
}

static void on_accept(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	struct listener *l = container_of(io, struct wlisten, io)->l;
	bool strict = !l->loopback && !srv.o.allow_local_dest;

	(void)loop;
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH && !srv.stopping && !self->draining; i++) {
		union sa46 peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(io->fd, &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				accept_exhausted(io->fd, errno);
			else if (errno == EINTR || errno == ECONNABORTED)
				continue;
			else if (errno != EAGAIN)
				LOG_WARN("accept: %s", strerror(errno));
			return;
		}
		if (l->proxy)
			proxy_accept(fd, &peer, strict);
		else
			session_accept(fd, &peer, strict);
	}
}

/* Stops accepting for good: the worker's own sockets are closed (the kernel then
 * spreads their new connections over the others), shared ones only unwatched. */
static void stop_listening(struct worker *w)
{
	for (unsigned i = 0; i < nlisteners; i++) {
		struct wlisten *wl = &w->lio[i];

		if (wl->io.fd < 0)
			continue;
		if (wl->l->shared) {
			ev_io_stop(w->server.loop, &wl->io); /* closed once, at the end */
		} else {
			ev_io_close(w->server.loop, &wl->io);
			wl->l->fds[w->id] = -1;
		}
	}
	ev_timer_stop(w->server.loop, &w->accept_pause);
}

/* After a burst of sessions ended, hand the freed heap back to the system: glibc
 * keeps it otherwise, and a flood would leave the server at its peak size. */
static void on_housekeeping(struct ev_loop *loop, struct ev_timer *t)
{
	if (srv.st.closed - self->closed_at_trim >= TRIM_AFTER_CLOSED) {
		malloc_trim(0);
		self->closed_at_trim = srv.st.closed;
	}
	/* Draining (upgrade): done when its sessions are, and for worker 0, which owns
	 * the resolver pool the others' lookups come back through, when they are. */
	if (self->draining && srv.st.active + srv.st.rejecting + proxy_pending() == 0 &&
	    (self->id != 0 || workers_alive() == 1)) {
		LOG_INFO("worker %u: drained", self->id);
		ev_break(loop);
		return;
	}
	ev_timer_start(loop, t, HOUSEKEEPING_MS);
}

/* ---- the mailbox ---- */

static void count_and_maybe_print(void)
{
	unsigned long st[SESS_DONE + 1];

	session_count_states(st);
	for (unsigned i = 0; i <= SESS_DONE; i++)
		atomic_fetch_add(&count_states[i], st[i]);
	if (atomic_fetch_sub(&count_left, 1) != 1)
		return;
	for (unsigned i = 0; i <= SESS_DONE; i++)
		st[i] = atomic_exchange(&count_states[i], 0);

	struct srv_stats sum;
	enum log_level lvl = log_get_level();

	workers_sum_stats(&sum);
	/* Asked for explicitly, so shown whatever the log level. */
	if (lvl < LOG_INFO)
		log_set_level(LOG_INFO);
	LOG_INFO("counters: sessions active=%llu total=%llu rejected=%llu failed=%llu "
		 "denied=%llu bytes up=%llu down=%llu udp datagrams up=%llu down=%llu; now "
		 "handshaking=%lu connecting=%lu relaying=%lu udp=%lu bind=%lu closing=%lu; "
		 "workers %u of %u",
		 (unsigned long long)sum.active, (unsigned long long)sum.total,
		 (unsigned long long)sum.rejected, (unsigned long long)sum.failed,
		 (unsigned long long)sum.denied, (unsigned long long)sum.bytes_up,
		 (unsigned long long)sum.bytes_down, (unsigned long long)sum.udp_up,
		 (unsigned long long)sum.udp_down,
		 st[SESS_GREETING] + st[SESS_AUTH] + st[SESS_AUTH_CHECK] + st[SESS_REQUEST],
		 st[SESS_RESOLVE] + st[SESS_CONNECT], st[SESS_RELAY], st[SESS_UDP],
		 st[SESS_BIND_WAIT], st[SESS_FAILED], workers_alive(), nworkers);
	pool_log_counters();
	log_set_level(lvl);
}

static void worker_shutdown(struct worker *w, const char *why)
{
	srv.stopping = true;
	stop_listening(w);
	ev_timer_stop(w->server.loop, &w->housekeeping);
	proxy_close_all();
	session_close_all(why);
	ev_break(w->server.loop);
}

/* The forwarded pool results: the job's own done() on the worker that owns it. */
static void run_forwarded(struct worker *w, bool owners_gone)
{
	struct fwd_job *list;

	pthread_mutex_lock(&w->fwd_mu);
	list = w->fwd_head;
	w->fwd_head = NULL;
	pthread_mutex_unlock(&w->fwd_mu);
	while (list) {
		struct fwd_job *next = list->next;

		if (owners_gone)
			list->inner->owner = NULL;
		list->inner->done(list->inner);
		free(list);
		list = next;
	}
}

static void on_mailbox(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	struct worker *w = container_of(io, struct worker, mbox);
	uint64_t n;
	unsigned flags;
	bool reloaded = false;

	(void)loop;
	(void)revents;
	if (read(io->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		LOG_WARN("worker %u: eventfd read: %s", w->id, strerror(errno));
	flags = atomic_exchange(&w->flags, 0);
	for (unsigned k = 0; k < CONF_N; k++) {
		struct conf *c = atomic_exchange(&w->pending[k], NULL);

		if (c) {
			conf_apply(w, c);
			reloaded = true;
		}
	}
	if (reloaded) {
		atomic_fetch_add(&w->reloads, 1);
		LOG_INFO("worker %u: reloaded users and ACL in force", w->id);
	}
	run_forwarded(w, false);
	if (flags & WF_COUNT)
		count_and_maybe_print();
	if (flags & WF_STOP)
		worker_shutdown(w, stop_why ? stop_why : "server shutdown");
	else if ((flags & WF_DRAIN) && !w->draining) {
		w->draining = true;
		stop_listening(w);
		/* Checked each second, and at once. */
		ev_timer_start(w->server.loop, &w->housekeeping, 0);
	}
}

static void fwd_work(struct pool_job *job)
{
	struct fwd_job *f = (struct fwd_job *)job;

	f->inner->work(f->inner);
}

/* On worker 0, which owns the pool: hand the result to the worker that asked. */
static void fwd_done(struct pool_job *job)
{
	struct fwd_job *f = (struct fwd_job *)job;
	struct worker *w = f->w;

	pthread_mutex_lock(&w->fwd_mu);
	f->next = w->fwd_head;
	w->fwd_head = f;
	pthread_mutex_unlock(&w->fwd_mu);
	worker_poke(w, 0);
}

bool worker_submit(struct pool_job *job, enum pool_lane lane)
{
	struct fwd_job *f;

	job->carrier = NULL;
	if (!self || self->id == 0)
		return pool_submit(job, lane);
	f = calloc(1, sizeof(*f));
	if (!f)
		return false;
	f->inner = job;
	f->w = self;
	f->job.work = fwd_work;
	f->job.done = fwd_done;
	f->job.owner = f;
	f->job.carrier = NULL;
	if (!pool_submit(&f->job, lane)) {
		free(f);
		return false;
	}
	job->carrier = &f->job;
	return true;
}

/* ---- stats ---- */

_Static_assert(sizeof(struct srv_stats) % sizeof(uint64_t) == 0, "srv_stats: uint64_t only");

void workers_sum_stats(struct srv_stats *out)
{
	uint64_t *o = (uint64_t *)out;
	size_t n = sizeof(*out) / sizeof(uint64_t);

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < nworkers; i++) {
		const volatile uint64_t *s = (const volatile uint64_t *)&W[i].server.st;

		for (size_t k = 0; k < n; k++)
			o[k] += s[k];
	}
}

unsigned workers_alive(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nworkers; i++)
		n += atomic_load(&W[i].alive);
	return n;
}

unsigned workers_count(void)
{
	return nworkers;
}

void worker_stats(unsigned i, uint64_t *sessions, uint64_t *reloads, bool *alive)
{
	*sessions = ((const volatile struct srv_stats *)&W[i].server.st)->total;
	*reloads = atomic_load(&W[i].reloads);
	*alive = atomic_load(&W[i].alive);
}

void workers_print_counters(void)
{
	atomic_store(&count_left, workers_alive());
	for (unsigned i = 0; i < nworkers; i++)
		if (atomic_load(&W[i].alive))
			worker_poke(&W[i], WF_COUNT);
}

void workers_stop(const char *why)
{
	if (!W)
		return;
	stop_why = why;
	for (unsigned i = 1; i < nworkers; i++)
		if (W[i].started)
			worker_poke(&W[i], WF_STOP);
	if (W[0].server.loop)
		worker_shutdown(&W[0], why);
}

void workers_drain(void)
{
	for (unsigned i = 0; i < nworkers; i++)
		worker_poke(&W[i], WF_DRAIN);
}

/* ---- set-up ---- */

bool workers_init(unsigned n)
{
	struct conf *cu, *ca;

	nworkers = n;
	W = calloc(n, sizeof(*W));
	cu = conf_new(CONF_USERS);
	ca = conf_new(CONF_ACL);
	if (!W || !cu || !ca) {
		free(cu);
		free(ca);
		return false;
	}
	cu->users = boot_srv.users;
	ca->acl = boot_srv.acl;
	boot_srv.workers = n;
	for (unsigned i = 0; i < n; i++) {
		struct worker *w = &W[i];

		w->id = i;
		w->server = boot_srv;
		w->server.worker_id = i;
		w->server.loop = ev_new();
		w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		w->cur[CONF_USERS] = cu;
		w->cur[CONF_ACL] = ca;
		pthread_mutex_init(&w->fwd_mu, NULL);
		atomic_init(&w->alive, true);
		for (unsigned k = 0; k < MAX_LISTENERS; k++)
			w->lio[k].io.fd = -1;
		if (!w->server.loop || w->efd < 0)
			return false;
		ev_io_init(&w->mbox, w->efd, on_mailbox);
		ev_timer_init(&w->accept_pause, on_accept_pause);
		ev_timer_init(&w->housekeeping, on_housekeeping);
		ev_timer_start(w->server.loop, &w->housekeeping, HOUSEKEEPING_MS);
		if (ev_io_set(w->server.loop, &w->mbox, EPOLLIN) < 0)
			return false;
	}
	srv_tls = &W[0].server;
	self = &W[0];
	return true;
}

void say_listening(const char *what, const union sa46 *a)
{
	char as[ADDR_STR_MAX], line[ADDR_STR_MAX + 64];
	int n = snprintf(line, sizeof(line), "socksifyd[%ld]: %s on %s\n", (long)getpid(), what,
			 sockaddr_str(&a->sa, sa46_len(a), as, sizeof(as)));

	/* The readiness line tests and scripts wait for, whatever the log level; nothing
	 * useful to do if stderr is gone: the listener works regardless. */
	if (n > 0 && write(2, line, (size_t)n) != n)
		LOG_WARN("cannot write the readiness line: %s", strerror(errno));
}

int listen_socket(union sa46 *addr, bool reuseport)
{
	int one = 1, fd;
	union sa46 bound;
	socklen_t len = sizeof(bound);

	fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	/* [::] means IPv6 only; list 0.0.0.0 too for both (no surprise dual-stack). */
	if (addr->sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &addr->sa, sa46_len(addr)) < 0 || listen(fd, 1024) < 0 ||
	    getsockname(fd, &bound.sa, &len) < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	*addr = bound; /* port 0: the next worker's socket takes the same port */
	return fd;
}

bool workers_listen(union sa46 *addr, bool proxy, int fd)
{
	struct listener *l = &listeners[nlisteners];
	unsigned idx = nlisteners;
	struct socks_addr sa;

	if (nlisteners == MAX_LISTENERS) {
		errno = EMFILE;
		return false;
	}
	l->fds = calloc(nworkers, sizeof(int));
	if (!l->fds)
		return false;
	if (fd >= 0) {
		socklen_t len = sizeof(l->addr);

		if (getsockname(fd, &l->addr.sa, &len) < 0)
			return false;
		l->shared = true;
		for (unsigned i = 0; i < nworkers; i++)
			l->fds[i] = fd;
	} else {
		l->addr = *addr;
		for (unsigned i = 0; i < nworkers; i++) {
			l->fds[i] = listen_socket(&l->addr, nworkers > 1);
			if (l->fds[i] < 0) {
				while (i-- > 0)
					close(l->fds[i]);
				return false;
			}
		}
	}
	*addr = l->addr;
	l->proxy = proxy;
	l->loopback = addr_from_sockaddr(&sa, &l->addr.sa, sa46_len(&l->addr)) &&
		      addr_is_loopback(&sa);
	/* A shared socket wakes one waiting worker per connection, the first that
	 * registered: each listener starts its round at another worker. */
	for (unsigned k = 0; k < nworkers; k++) {
		struct worker *w = &W[(idx + k) % nworkers];
		struct wlisten *wl = &w->lio[idx];

		wl->l = l;
		wl->events = l->shared && nworkers > 1 ? EPOLLIN | EPOLLEXCLUSIVE : EPOLLIN;
		ev_io_init(&wl->io, l->fds[w->id], on_accept);
		if (ev_io_set(w->server.loop, &wl->io, wl->events) < 0)
			return false;
	}
	nlisteners++;
	say_listening("listening", &l->addr);
	return true;
}

unsigned workers_listen_fds(int *fds, const char **names, unsigned cap)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nlisteners; i++) {
		for (unsigned k = 0; k < nworkers && n < cap; k++) {
			int fd = listeners[i].fds[k];

			if (fd < 0 || (listeners[i].shared && k > 0))
				continue;
			fds[n] = fd;
			names[n++] = listeners[i].proxy ? "proxy" : "socks";
		}
	}
	return n;
}

/* SOCKSIFYD_FAIL_WORKER=N (tests): worker N's loop ends, unasked, after 300 ms. */
static void on_test_failure(struct ev_loop *loop, struct ev_timer *t)
{
	(void)t;
	ev_break(loop);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct ev_timer fail;
	const char *f = getenv("SOCKSIFYD_FAIL_WORKER");
	unsigned long fid;
	int rc;

	srv_tls = &w->server;
	self = w;
	ev_timer_init(&fail, on_test_failure);
	if (f && parse_ulong(f, 1, WORKERS_MAX, &fid) && fid == w->id)
		ev_timer_start(w->server.loop, &fail, 300);
	rc = ev_run(w->server.loop);
	ev_timer_stop(w->server.loop, &fail);
	if (rc != 0 || (!w->server.stopping && !w->draining)) {
		/* Not asked to end: say so loudly, and leave its connections to the others. */
		LOG_ERR("worker %u stopped: %s; %u of %u workers left", w->id,
			rc != 0 ? strerror(errno) : "its loop ended", workers_alive() - 1, nworkers);
		worker_shutdown(w, "worker failure");
	}
	session_close_all("server exit");
	relay_pool_drain();
	atomic_store(&w->alive, false);
	return NULL;
}

bool workers_start(void)
{
	for (unsigned i = 1; i < nworkers; i++) {
		int rc = pthread_create(&W[i].tid, NULL, worker_main, &W[i]);

		if (rc != 0) {
			errno = rc;
			return false;
		}
		W[i].started = true;
	}
	return true;
}

void workers_join(void)
{
	if (!W)
		return;
	for (unsigned i = 1; i < nworkers; i++)
		if (W[i].started)
			pthread_join(W[i].tid, NULL);
	/* Worker 0 is the calling thread. */
	proxy_close_all();
	session_close_all("server exit");
	relay_pool_drain();
	atomic_store(&W[0].alive, false);
}

void workers_free(void)
{
	if (!W) {
		users_free(boot_srv.users);
		acl_free(&boot_srv.acl);
		return;
	}
	for (unsigned i = 0; i < nworkers; i++) {
		struct worker *w = &W[i];

		srv_tls = &w->server;
		self = w;
		run_forwarded(w, true);
		stop_listening(w);
		for (unsigned k = 0; k < CONF_N; k++) {
			conf_unref(atomic_exchange(&w->pending[k], NULL));
			conf_unref(w->cur[k]);
		}
		if (w->efd >= 0)
			close(w->efd);
		if (w->reserve_fd >= 0)
			close(w->reserve_fd);
		if (w->server.loop)
			ev_free(w->server.loop);
		pthread_mutex_destroy(&w->fwd_mu);
	}
	for (unsigned i = 0; i < nlisteners; i++) {
		if (listeners[i].shared && listeners[i].fds[0] >= 0)
			close(listeners[i].fds[0]);
		free(listeners[i].fds);
	}
	srv_tls = &boot_srv;
	self = NULL;
	free(W);
	W = NULL;
}

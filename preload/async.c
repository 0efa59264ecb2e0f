/* The asynchronous connect: a non-blocking connect() to a tunnelled destination
 * returns -1/EINPROGRESS at once and the chain handshake runs on a helper thread,
 * started on the first such connect (a process that never makes one starts none).
 * The program sees the fd as a connecting socket until the tunnel is up:
 *   - its epoll registrations of the fd (found at connect time in /proc/self/fdinfo of
 *     the epolls it created, or made later through epoll_ctl) are taken out of the
 *     kernel and kept here; when the handshake ends they are made again
 *     (EPOLL_CTL_ADD), so the kernel itself delivers EPOLLOUT (or EPOLLERR), level- or
 *     edge-triggered or one-shot, to whichever thread waits (readiness.c);
 *   - poll/select leave the fd out while it is pending (readiness.c);
 *   - a failed handshake leaves the socket disconnected (EPOLLERR/POLLERR where the
 *     proxy connection was up) and SO_ERROR reads the errno the blocking connect
 *     would have returned.
 * One mutex guards the records; every hook gets past this file with one relaxed load
 * of async_live while no handshake is pending. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "async.h"
#include "log.h"
#include "shim.h"

#define ASYNC_MAX 4096   /* handshakes pending at once; beyond: the blocking path */
#define ASYNC_REGS 4     /* epoll registrations remembered per pending fd */
#define ASYNC_EPOLLS 32  /* epoll instances the program made, remembered */

enum async_state {
	ASYNC_PENDING,  /* the handshake runs */
	ASYNC_FAILED,   /* over; err waits for the program's SO_ERROR */
};

struct async_reg {
	int epfd;
	struct epoll_event ev; /* the program's own events and data */
};

struct async_rec {
	int fd;
	enum async_state state;
	int err;
	dev_t dev;
	ino_t ino; /* the socket, to tell it from a number reused behind our back */
	struct sockaddr_storage sa; /* the destination as the program gave it */
	socklen_t salen;
	struct async_reg regs[ASYNC_REGS];
	size_t nregs;
	struct chain_job job;
};

_Atomic unsigned async_live; /* records alive (pending or failed-unreported) */
static pthread_mutex_t async_mu = PTHREAD_MUTEX_INITIALIZER;
static struct async_rec *async_recs[ASYNC_MAX];
static size_t async_n;
static int async_ep = -1; /* the helper's epoll */
static bool async_thread_up;
static _Atomic int async_epolls[ASYNC_EPOLLS]; /* +1: 0 is an empty slot */
static _Atomic unsigned async_epoll_next;

static struct async_rec *async_find(int fd)
{
	for (size_t i = 0; i < async_n; i++)
		if (async_recs[i]->fd == fd)
			return async_recs[i];
	return NULL;
}

static void async_free(struct async_rec *r)
{
	for (size_t i = 0; i < async_n; i++) {
		if (async_recs[i] == r) {
			async_recs[i] = async_recs[--async_n];
			break;
		}
	}
	atomic_fetch_sub_explicit(&async_live, 1, memory_order_relaxed);
	if (fdreg_kind(r->fd) == FD_CONNECTING)
		fdreg_clear(r->fd);
	free(r);
}

static bool async_same_socket(const struct async_rec *r)
{
	struct stat st;
	return fstat(r->fd, &st) == 0 && st.st_dev == r->dev && st.st_ino == r->ino;
}

/* ---- the program's epoll registrations ---- */

void async_note_epoll(int epfd)
{
	if (epfd < 0 || shim_inside)
		return;
	/* The number again (an epoll closed and another made), or a free slot, before
	 * the oldest one goes. */
	for (size_t k = 0; k < ASYNC_EPOLLS; k++) {
		int e = 0, have = atomic_load_explicit(&async_epolls[k], memory_order_relaxed);
		if (have == epfd + 1 ||
		    (have == 0 && atomic_compare_exchange_strong(&async_epolls[k], &e, epfd + 1)))
			return;
	}
	unsigned i = atomic_fetch_add_explicit(&async_epoll_next, 1, memory_order_relaxed);
	atomic_store_explicit(&async_epolls[i % ASYNC_EPOLLS], epfd + 1, memory_order_relaxed);
}

/* Reads, from /proc/self/fdinfo/EPFD, how fd is registered there; true if it is. */
static bool async_fdinfo_reg(int epfd, int fd, struct epoll_event *ev)
{
	char path[64], line[256];
	FILE *f;
	bool found = false;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	f = fopen(path, "re");
	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		int tfd;
		unsigned events;
		unsigned long long data;
		if (sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &events, &data) == 3 &&
		    tfd == fd) {
			ev->events = events;
			ev->data.u64 = data;
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* The epolls fd was already registered in (before connect, as nginx does): taken
 * out of them for the handshake (even a registration for no event would report the
 * EPOLLHUP of a chain that disconnects to fail over), remembered to be put back. */
static void async_adopt_regs(struct async_rec *r)
{
	for (size_t i = 0; i < ASYNC_EPOLLS && r->nregs < ASYNC_REGS; i++) {
		int epfd = atomic_load_explicit(&async_epolls[i], memory_order_relaxed) - 1;
		struct epoll_event ev;
		bool dup = false;
		if (epfd < 0)
			continue;
		for (size_t k = 0; k < r->nregs; k++)
			dup |= r->regs[k].epfd == epfd;
		if (dup || !async_fdinfo_reg(epfd, r->fd, &ev))
			continue;
		if (real()->epoll_ctl(epfd, EPOLL_CTL_DEL, r->fd, NULL) == 0)
			r->regs[r->nregs++] = (struct async_reg){ .epfd = epfd, .ev = ev };
	}
}

/* The handshake is over: the program's registrations are made again with its own
 * events, and the kernel reports the socket as it is now (EPOLL_CTL_ADD checks
 * readiness at once, so an edge-triggered or one-shot registration gets its edge). */
static void async_restore_regs(struct async_rec *r)
{
	for (size_t i = 0; i < r->nregs; i++)
		real()->epoll_ctl(r->regs[i].epfd, EPOLL_CTL_ADD, r->fd, &r->regs[i].ev);
	r->nregs = 0;
}

/* The program's epoll_ctl on a pending fd, answered as the kernel would, with the
 * registration kept here until the handshake ends. */
int async_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev, bool *handled)
{
	struct async_rec *r;
	struct epoll_event none = { 0 };
	int rc = 0;

	*handled = false;
	pthread_mutex_lock(&async_mu);
	r = async_find(fd);
	if (r == NULL || r->state != ASYNC_PENDING || epfd == async_ep) {
		pthread_mutex_unlock(&async_mu);
		return 0;
	}
	size_t k = 0;
	while (k < r->nregs && r->regs[k].epfd != epfd)
		k++;
	*handled = true;
	if (op == EPOLL_CTL_DEL && k < r->nregs) {
		r->regs[k] = r->regs[--r->nregs];
	} else if (op == EPOLL_CTL_DEL) {
		*handled = false; /* not ours to know: the kernel answers */
	} else if (ev == NULL) {
		errno = EFAULT;
		rc = -1;
	} else if (op == EPOLL_CTL_ADD && k < r->nregs) {
		errno = EEXIST;
		rc = -1;
	} else if (op == EPOLL_CTL_MOD && k < r->nregs) {
		r->regs[k].ev = *ev;
	} else if (r->nregs >= ASYNC_REGS) {
		*handled = false; /* no room to remember it: it sees the truth */
	} else {
		/* A new ADD, or a MOD of a registration made where we did not look: the
		 * kernel says whether it is valid (EBADF, EINVAL, ENOENT...), then it
		 * waits here. */
		none.data = ev->data;
		rc = real()->epoll_ctl(epfd, op, fd, &none);
		if (rc == 0) {
			real()->epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
			r->regs[r->nregs++] = (struct async_reg){ .epfd = epfd, .ev = *ev };
		}
	}
	pthread_mutex_unlock(&async_mu);
	return rc;
}

/* ---- the end of a handshake (under async_mu) ---- */

static void async_done(struct async_rec *r)
{
	struct sockaddr_storage via;
	socklen_t vialen = chain_job_via(&r->job, &via);

	real()->epoll_ctl(async_ep, EPOLL_CTL_DEL, r->fd, NULL);
	fdreg_set_tunnel(r->fd, (struct sockaddr *)&r->sa, r->salen, (struct sockaddr *)&via,
			 vialen);
	async_restore_regs(r);
	async_free(r);
}

static void async_failed(struct async_rec *r)
{
	real()->epoll_ctl(async_ep, EPOLL_CTL_DEL, r->fd, NULL);
	r->state = ASYNC_FAILED;
	r->err = r->job.err;
	async_restore_regs(r);
}

static void async_rearm(struct async_rec *r)
{
	struct epoll_event ev = { .events = EPOLLONESHOT, .data.u64 = (uint64_t)r->fd };

	ev.events |= dial_events(&r->job.d) & POLLIN ? EPOLLIN : EPOLLOUT;
	real()->epoll_ctl(async_ep, EPOLL_CTL_MOD, r->fd, &ev);
}

static void async_after_step(struct async_rec *r, enum dial_state st)
{
	if (st == DIAL_DONE)
		async_done(r);
	else if (st == DIAL_FAILED)
		async_failed(r);
	else
		async_rearm(r);
}

/* ---- the helper thread ---- */

static void *async_helper(void *arg)
{
	struct epoll_event evs[64];

	shim_inside++;
	for (;;) {
		uint64_t now = dial_now_ms(NULL), wake = now + 250;
		pthread_mutex_lock(&async_mu);
		for (size_t i = 0; i < async_n; i++) {
			struct async_rec *r = async_recs[i];
			if (r->state == ASYNC_PENDING && chain_job_wake(&r->job) < wake)
				wake = chain_job_wake(&r->job);
		}
		pthread_mutex_unlock(&async_mu);
		int n = epoll_wait(async_ep, evs, 64, wake > now ? (int)(wake - now) : 0);
		pthread_mutex_lock(&async_mu);
		for (int i = 0; i < n; i++) {
			struct async_rec *r = async_find((int)evs[i].data.u64);
			if (r != NULL && r->state == ASYNC_PENDING && async_same_socket(r))
				async_after_step(r, chain_job_step(&r->job));
		}
		now = dial_now_ms(NULL);
		for (size_t i = 0; i < async_n; i++) {
			struct async_rec *r = async_recs[i];
			if (r->state != ASYNC_PENDING || chain_job_wake(&r->job) > now)
				continue;
			if (!async_same_socket(r)) {
				/* Closed where we do not look, and maybe reused: not ours. */
				async_free(r);
				i--;
				continue;
			}
			enum dial_state st = chain_job_tick(&r->job, now);
			size_t before = async_n;
			async_after_step(r, st);
			if (async_n < before)
				i--;
		}
		pthread_mutex_unlock(&async_mu);
	}
	return NULL;
}

/* Under async_mu. The helper's epoll, and the thread, on first use. */
static bool async_start_helper(void)
{
	pthread_attr_t at;
	pthread_t t;
	sigset_t all, old;
	int rc;

	if (async_thread_up)
		return true;
	if (async_ep < 0) {
		shim_inside++;
		async_ep = real()->epoll_create1(EPOLL_CLOEXEC);
		shim_inside--;
		if (async_ep < 0)
			return false;
		fdreg_set_internal(async_ep);
	}
	/* No signal of the program's may land on our thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 64 * 1024);
	rc = pthread_create(&t, &at, async_helper, NULL);
	pthread_attr_destroy(&at);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return false;
	async_thread_up = true;
	return true;
}

/* ---- the connect side ---- */

static struct async_rec *async_new(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct async_rec *r;
	struct stat st;

	if (fstat(fd, &st) != 0 || (r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->fd = fd;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	memcpy(&r->sa, sa, len < sizeof(r->sa) ? len : sizeof(r->sa));
	r->salen = len;
	return r;
}

/* Under async_mu: r joins the table, with the helper thread up; false when it cannot
 * (too many, no thread). The program's epoll registrations are masked before the
 * handshake sends anything, so no event can say "connected" early. */
static bool async_register(struct async_rec *r)
{
	if (async_n >= ASYNC_MAX || !async_start_helper())
		return false;
	async_recs[async_n++] = r;
	atomic_fetch_add_explicit(&async_live, 1, memory_order_relaxed);
	fdreg_set_connecting(r->fd);
	async_adopt_regs(r);
	struct epoll_event ev = { .events = EPOLLONESHOT | EPOLLOUT, .data.u64 = (uint64_t)r->fd };
	real()->epoll_ctl(async_ep, EPOLL_CTL_ADD, r->fd, &ev);
	return true;
}

int async_connect(int fd, const struct sockaddr *sa, socklen_t len, int family,
		  const struct socks_addr *dst, bool *handled)
{
	struct async_rec *r = async_new(fd, sa, len);
	int saved = errno;

	*handled = false;
	if (r == NULL)
		return 0;
	pthread_mutex_lock(&async_mu);
	if (!async_register(r)) {
		pthread_mutex_unlock(&async_mu);
		free(r);
		return 0; /* the blocking path, as before */
	}
	*handled = true;
	shim_inside++;
	enum dial_state s = chain_job_start(&r->job, fd, family, dst, shim_dial_flags());
	shim_inside--;
	if (s == DIAL_DONE) {
		async_done(r);
		pthread_mutex_unlock(&async_mu);
		errno = saved;
		return 0;
	}
	if (s == DIAL_FAILED) {
		/* Failed before anything was sent (no proxy to reach): as the blocking
		 * path says it, at once. */
		int err = r->job.err;
		real()->epoll_ctl(async_ep, EPOLL_CTL_DEL, fd, NULL);
		async_restore_regs(r);
		async_free(r);
		pthread_mutex_unlock(&async_mu);
		errno = err;
		return -1;
	}
	async_rearm(r);
	pthread_mutex_unlock(&async_mu);
	errno = EINPROGRESS;
	return -1;
}

int async_connect_timed(int fd, const struct sockaddr *sa, socklen_t len, int family,
			const struct socks_addr *dst, unsigned timeout_ms, bool *handled)
{
	struct async_rec *r = async_new(fd, sa, len);
	int saved = errno;

	*handled = false;
	if (r == NULL)
		return 0;
	*handled = true;
	shim_inside++;
	enum dial_state s = chain_job_start(&r->job, fd, family, dst, shim_dial_flags());
	uint64_t until = dial_now_ms(NULL) + timeout_ms;
	while (s != DIAL_DONE && s != DIAL_FAILED) {
		uint64_t now = dial_now_ms(NULL), wake = chain_job_wake(&r->job);
		if (now >= wake) {
			s = chain_job_tick(&r->job, now);
			continue;
		}
		if (now >= until) {
			/* The send timeout came first: -1/EINPROGRESS, and the connection
			 * goes on behind the call, as the kernel's own would. */
			pthread_mutex_lock(&async_mu);
			bool taken = async_register(r);
			if (taken)
				async_rearm(r);
			pthread_mutex_unlock(&async_mu);
			if (taken) {
				shim_inside--;
				errno = EINPROGRESS;
				return -1;
			}
			until = UINT64_MAX; /* nobody to hand it to: on to connect_timeout */
		}
		uint64_t stop = wake < until ? wake : until;
		struct pollfd p = { .fd = fd, .events = dial_events(&r->job.d) };
		real()->poll(&p, 1, stop - now > 0x7fffffff ? 0x7fffffff : (int)(stop - now));
		s = chain_job_step(&r->job);
	}
	shim_inside--;
	if (s == DIAL_DONE) {
		struct sockaddr_storage via;
		socklen_t vialen = chain_job_via(&r->job, &via);
		fdreg_set_tunnel(fd, sa, len, (struct sockaddr *)&via, vialen);
		free(r);
		errno = saved;
		return 0;
	}
	saved = r->job.err;
	free(r);
	errno = saved;
	return -1;
}

int async_connect_again(int fd, bool *handled)
{
	struct async_rec *r;
	int rc = 0;

	*handled = false;
	pthread_mutex_lock(&async_mu);
	r = async_find(fd);
	if (r != NULL && r->state == ASYNC_PENDING) {
		*handled = true;
		errno = EALREADY;
		rc = -1;
	} else if (r != NULL) {
		/* A new try after a failure: the old verdict goes. */
		async_free(r);
	}
	pthread_mutex_unlock(&async_mu);
	return rc;
}

bool async_so_error(int fd, int *err)
{
	struct async_rec *r;
	bool mine = false;

	pthread_mutex_lock(&async_mu);
	r = async_find(fd);
	if (r != NULL) {
		mine = true;
		if (r->state == ASYNC_PENDING) {
			*err = 0; /* still connecting, as the kernel says then */
		} else {
			*err = r->err;
			async_free(r);
		}
	}
	pthread_mutex_unlock(&async_mu);
	return mine;
}

int async_pending_state(int fd)
{
	struct async_rec *r;
	int st;

	pthread_mutex_lock(&async_mu);
	r = async_find(fd);
	st = r == NULL ? ASYNC_NONE : r->state == ASYNC_PENDING ? ASYNC_IS_PENDING : ASYNC_IS_FAILED;
	pthread_mutex_unlock(&async_mu);
	return st;
}

void async_forget_range(unsigned first, unsigned last)
{
	if (atomic_load_explicit(&async_live, memory_order_relaxed) == 0)
		return;
	pthread_mutex_lock(&async_mu);
	for (size_t i = 0; i < async_n; i++) {
		struct async_rec *r = async_recs[i];
		if ((unsigned)r->fd < first || (unsigned)r->fd > last)
			continue;
		if (r->state == ASYNC_PENDING)
			real()->epoll_ctl(async_ep, EPOLL_CTL_DEL, r->fd, NULL);
		async_free(r);
		i--;
	}
	pthread_mutex_unlock(&async_mu);
}

void async_forget(int fd)
{
	struct async_rec *r;

	if (atomic_load_explicit(&async_live, memory_order_relaxed) == 0)
		return;
	pthread_mutex_lock(&async_mu);
	r = async_find(fd);
	if (r != NULL) {
		if (r->state == ASYNC_PENDING)
			real()->epoll_ctl(async_ep, EPOLL_CTL_DEL, fd, NULL);
		async_free(r);
	}
	pthread_mutex_unlock(&async_mu);
}

/* The child of a fork has no helper thread: the parent finishes its handshakes
 * (the sockets are shared); the child forgets them. */
void async_atfork_prepare(void)
{
	pthread_mutex_lock(&async_mu);
}

void async_atfork_parent(void)
{
	pthread_mutex_unlock(&async_mu);
}

void async_atfork_child(void)
{
	for (size_t i = 0; i < async_n; i++) {
		fdreg_clear(async_recs[i]->fd);
		free(async_recs[i]);
	}
	async_n = 0;
	atomic_store_explicit(&async_live, 0, memory_order_relaxed);
	if (async_thread_up && async_ep >= 0) {
		fdreg_clear(async_ep);
		real()->close(async_ep);
		async_ep = -1;
	}
	async_thread_up = false;
	pthread_mutex_init(&async_mu, NULL);
}

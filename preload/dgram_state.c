/* The datagram family's records: one association record per UDP socket the family
 * manages, hung on the fd's registry record (fdreg.c); registered, copied on dup,
 * forgotten on close; and the association's state machine, whose one setter is here. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "datagram.h"
#include "dgram.h"
#include "dial.h"
#include "fakedns.h"
#include "hops.h"
#include "log.h"
#include "shim.h"
#include "udp_wire.h"
#include "util.h"

/* Answers held in memory go to the kernel before a fork: parent and child share the
 * socket and only one of them may take each (dgram_held.c). */
void dg_atfork_prepare(void)
{
	dgram_held_flush();
}

/* ---- per-socket state ---- */

static const char *dg_state_name(enum dg_state st)
{
	static const char *const names[] = { "IDLE", "UP", "BACKOFF", "LOST" };
	return (size_t)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

uint64_t dg_now_ms(void)
{
	return dial_now_ms(NULL);
}

/* Every transition of an association: err is what sends fail with in BACKOFF and LOST
 * (0 otherwise); BACKOFF retries DG_RETRY_MS from now. Caller holds d->mu. */
void dg_set_state(struct dg_assoc *d, enum dg_state st, int err)
{
	/* Inside the shim: the log line goes to fd 2 through our write() hook, and fd 2
	 * may be this very socket (dup2 onto stderr), whose lock the caller holds. */
	shim_inside++;
	LOG_DEBUG("UDP fd %d: %s -> %s", d->fd, dg_state_name(d->state), dg_state_name(st));
	shim_inside--;
	d->state = st;
	d->err = st == DG_BACKOFF || st == DG_LOST ? err : 0;
	/* A proxy down for a moment must not kill a long-lived socket, nor may a program
	 * sending in a loop hammer it: the next try is a second away. */
	d->retry_ms = st == DG_BACKOFF ? dg_now_ms() + DG_RETRY_MS : 0;
}

/* The active association of fd, or NULL, as the registry holds it. */
struct dg_assoc *dg_lookup(int fd)
{
	struct dg_assoc *d;

	if (__builtin_expect(!fdreg_is_dgram(fd), 1))
		return NULL;
	d = fdreg_assoc(fd);
	return d != NULL && atomic_load_explicit(&d->active, memory_order_acquire) ? d : NULL;
}


/* fd is still the socket d was registered for (errno untouched). */
static bool dg_same_socket(int fd, const struct dg_assoc *d)
{
	struct stat st;
	int saved = errno;
	bool same = fstat(fd, &st) == 0 && st.st_ino == d->ino && st.st_dev == d->dev;

	errno = saved;
	return same;
}

/* fd's record no longer stands for a socket of ours (closed, or its number reused
 * behind our back): inactive, its association, held answer and port-53 state gone.
 * Caller holds d->mu. */
static void dg_retire_locked(int fd, struct dg_assoc *d)
{
	atomic_store_explicit(&d->active, false, memory_order_release);
	fdreg_set_dgram(fd, false);
	dg_drop_ctl(d);
	dg_held_drop_locked(fd, d);
	dns53_sock_reset(&d->dns);
}

/* A socket that only carries port-53 queries answered here (no association, no
 * proxied peer) is checked against the kernel once per DG_RECHECK_MS, not on every
 * call: its queries are answered without a system call (dgram_held.c), so one fstat
 * per query would be most of their cost. A number closed past our hooks and reused
 * within that window is taken for the old socket; for such a socket that means an
 * answer of ours read from the new file, never a datagram leaving the host. An
 * answer held since a send that checked a moment ago needs no check either. */
static bool dg_checked_lately(struct dg_assoc *d)
{
	struct timespec ts;
	uint64_t now;

	if (__atomic_load_n(&d->held_len, __ATOMIC_RELAXED) != 0)
		return true;
	if (!d->dns.on || d->relaylen != 0 || d->nctl != 0 || d->connected)
		return false;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	if (now - __atomic_load_n(&d->checked_ms, __ATOMIC_RELAXED) < DG_RECHECK_MS)
		return true;
	__atomic_store_n(&d->checked_ms, now, __ATOMIC_RELAXED); /* the caller checks now */
	return false;
}

/* The active record of fd, or NULL: the one load every hook pays for an fd we do not
 * manage. A managed one is also checked against the kernel (one fstat): a record
 * whose number now holds another file is dropped, its association with it, so a
 * pipe or a new socket there is the program's again. */
struct dg_assoc *dg_get(int fd)
{
	struct dg_assoc *d = dg_lookup(fd);

	if (__builtin_expect(d == NULL, 1) || dg_checked_lately(d) || dg_same_socket(fd, d))
		return d;
	pthread_mutex_lock(&d->mu);
	if (atomic_load(&d->active) && !dg_same_socket(fd, d))
		dg_retire_locked(fd, d);
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* A fork while another thread holds a socket's lock (setting up its association can
 * take up to connect_timeout) must not leave the child's copy locked forever: the
 * child, with one thread, starts every lock afresh (init.c registers this). */
void dg_atfork_child(void)
{
	unsigned hi = fdreg_high_water();

	dns53_fork_child();
	dg_held_fork_child();
	for (unsigned fd = 0; fd < hi; fd++) {
		struct dg_assoc *d = fdreg_assoc((int)fd);
		if (d != NULL)
			pthread_mutex_init(&d->mu, NULL);
	}
}

bool dgram_known(int fd)
{
	return dg_get(fd) != NULL;
}

/* Makes fd's record active and fresh; NULL when out of memory or fd out of range. */
struct dg_assoc *dg_register(int fd, int family)
{
	struct dg_assoc *d = fdreg_assoc(fd);

	if (d == NULL) {
		struct dg_assoc *mine = calloc(1, sizeof(*mine));
		if (mine == NULL)
			return NULL;
		pthread_mutex_init(&mine->mu, NULL);
		mine->dns.tcp_fd = -1;
		if (!fdreg_assoc_attach(fd, mine)) /* another thread's was first, or no room */
			free(mine);
		d = fdreg_assoc(fd);
		if (d == NULL)
			return NULL;
	}
	pthread_mutex_lock(&d->mu);
	if (!atomic_load(&d->active)) {
		struct stat st;
		int saved = errno;
		if (fstat(fd, &st) == 0) {
			d->dev = st.st_dev;
			d->ino = st.st_ino;
		}
		errno = saved;
		d->fd = fd;
		d->family = family;
		d->nctl = 0;
		dg_set_state(d, DG_IDLE, 0);
		d->relaylen = 0;
		d->connected = false;
		d->has_lastfake = false;
		d->dns = (struct dns53_sock){ .tcp_fd = -1 };
		d->held_len = 0;
		d->checked_ms = 0;
		atomic_store_explicit(&d->active, true, memory_order_release);
		fdreg_set_dgram(fd, true);
	}
	pthread_mutex_unlock(&d->mu);
	return d;
}

/* Closes the control connection (if any); caller holds d->mu. */
void dg_close_fds(const int *fds, size_t n)
{
	shim_inside++;
	for (size_t k = 0; k < n; k++) {
		fdreg_clear(fds[k]);
		real()->close(fds[k]);
	}
	shim_inside--;
}

void dg_drop_ctl(struct dg_assoc *d)
{
	dg_close_fds(d->ctl, d->nctl);
	d->nctl = 0;
}

void dgram_forget(int fd)
{
	struct dg_assoc *d = dg_get(fd);

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->mu);
	dg_retire_locked(fd, d);
	pthread_mutex_unlock(&d->mu);
}

void dgram_forget_range(unsigned int first, unsigned int last)
{
	unsigned hi = fdreg_high_water();

	/* Only up to the high-water mark: a closefrom(3) costs what was used. */
	for (unsigned fd = first; fd <= last && fd < hi; fd++)
		if (fdreg_is_dgram((int)fd))
			dgram_forget((int)fd);
}

/* A control fd high up, out of the way of programs that dup2 onto low numbers. */
int dg_high_fd(int fd)
{
	struct rlimit rl;
	int start = 3, nfd;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur > 64)
		start = (int)(rl.rlim_cur / 2);
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, start);
	if (nfd < 0)
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return fd;
	shim_inside++;
	real()->close(fd);
	shim_inside--;
	return nfd;
}

void dgram_copy(int oldfd, int newfd)
{
	struct dg_assoc *o = dg_get(oldfd), *n;

	if (oldfd == newfd)
		return;
	/* Two numbers for one socket: an answer held on one must be in the kernel. */
	dgram_held_flush();
	dgram_forget(newfd);
	if (o == NULL)
		return;
	n = dg_register(newfd, o->family);
	if (n == NULL)
		return;
	/* Each copy holds its own reference to the control connection, so it lives
	 * as long as any copy of the socket does. */
	pthread_mutex_lock(&o->mu);
	pthread_mutex_lock(&n->mu);
	n->nctl = 0;
	for (size_t k = 0; k < o->nctl; k++) {
		int c = fcntl(o->ctl[k], F_DUPFD_CLOEXEC, o->ctl[k]);
		if (c < 0)
			break;
		fdreg_set_internal(c);
		n->ctl[n->nctl++] = c;
	}
	memcpy(n->inner, o->inner, sizeof(n->inner));
	dg_set_state(n, o->state, o->err);
	n->relay = o->relay;
	n->relaylen = o->relaylen;
	n->connected = o->connected;
	n->peer = o->peer;
	n->peerlen = o->peerlen;
	n->peer_dst = o->peer_dst;
	n->has_lastfake = false;
	dns53_sock_copy(&n->dns, &o->dns);
	if (n->nctl < o->nctl) {
		/* Out of fds for the copy's own control connections: it sets up an
		 * association of its own on its next datagram. */
		dg_drop_ctl(n);
		dg_set_state(n, DG_IDLE, 0);
	}
	pthread_mutex_unlock(&n->mu);
	pthread_mutex_unlock(&o->mu);
}


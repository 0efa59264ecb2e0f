/* Port-53 answers held in memory (issue 12's fast path). An answer made in the send
 * hook is normally sent by the socket to itself, so the kernel queues it and every
 * way of waiting sees it. In a single-threaded process no other thread can be
 * blocked in the kernel on the socket, and every later wait of this one goes through
 * a hook of ours; so the answer (the very datagram that would have gone to the
 * socket itself) is kept on the socket's record instead, with no system call:
 *   recv*, read*   take it from there (dgram_recv.c), as the kernel would have
 *   poll, ppoll    report it readable without asking the kernel when every fd of the
 *                  set is such a socket waiting for POLLIN; any other set flushes
 *   select, epoll_wait, fork, dup, syscall(), control messages asked for
 *                  flush: the held answers are sent to their sockets, as before
 * A socket holds one answer at most and the process HELD_MAX; past that, and in a
 * process with threads, answers go to the kernel at once. Lock order: a record's mu,
 * then held_mu. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <sys/socket.h>

#include "datagram.h"
#include "dgram.h"
#include "shim.h"

#define HELD_MAX 16

static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;
static int held_fds[HELD_MAX];
static _Atomic unsigned held_n;

void dg_held_fork_child(void)
{
	pthread_mutex_init(&held_mu, NULL);
}

bool dgram_held_any(void)
{
	return atomic_load_explicit(&held_n, memory_order_relaxed) != 0;
}

static void held_unlist(int fd)
{
	pthread_mutex_lock(&held_mu);
	unsigned n = atomic_load_explicit(&held_n, memory_order_relaxed);
	for (unsigned i = 0; i < n; i++) {
		if (held_fds[i] != fd)
			continue;
		held_fds[i] = held_fds[n - 1];
		atomic_store_explicit(&held_n, n - 1, memory_order_relaxed);
		break;
	}
	pthread_mutex_unlock(&held_mu);
}

bool dg_hold(int fd, struct dg_assoc *d, const uint8_t *dgram, size_t len)
{
	bool listed = false;

	if (!__libc_single_threaded || d->held_len != 0 || len > sizeof(d->held) ||
	    !d->dns.on)
		return false;
	pthread_mutex_lock(&held_mu);
	unsigned n = atomic_load_explicit(&held_n, memory_order_relaxed);
	if (n < HELD_MAX) {
		held_fds[n] = fd;
		atomic_store_explicit(&held_n, n + 1, memory_order_relaxed);
		listed = true;
	}
	pthread_mutex_unlock(&held_mu);
	if (!listed)
		return false;
	memcpy(d->held, dgram, len);
	d->held_len = (uint16_t)len;
	return true;
}

void dg_held_flush_locked(int fd, struct dg_assoc *d)
{
	int saved = errno;

	if (d->held_len == 0)
		return;
	/* Lost like any datagram if the socket's queue is full. */
	real()->sendto(fd, d->held, d->held_len, MSG_DONTWAIT | MSG_NOSIGNAL,
		       (struct sockaddr *)&d->dns.self, d->dns.selflen);
	d->held_len = 0;
	held_unlist(fd);
	errno = saved;
}

void dg_held_drop_locked(int fd, struct dg_assoc *d)
{
	if (d->held_len == 0)
		return;
	d->held_len = 0;
	held_unlist(fd);
}

ssize_t dg_held_take(int fd, struct dg_assoc *d, uint8_t *buf, size_t cap, int flags,
		     bool want_ctl, struct sockaddr_storage *src, socklen_t *srclen,
		     int *mflags)
{
	ssize_t n = DG_HELD_NONE;

	if (__builtin_expect(atomic_load_explicit(&held_n, memory_order_relaxed) == 0, 1))
		return n;
	pthread_mutex_lock(&d->mu);
	if (d->held_len != 0 && want_ctl) {
		/* Control messages come from the kernel only: it is given the answer. */
		dg_held_flush_locked(fd, d);
	} else if (d->held_len != 0) {
		size_t len = d->held_len;
		memcpy(buf, d->held, len < cap ? len : cap);
		memcpy(src, &d->dns.self, d->dns.selflen);
		*srclen = d->dns.selflen;
		*mflags = len > cap ? MSG_TRUNC : 0;
		n = (flags & MSG_TRUNC) || len <= cap ? (ssize_t)len : (ssize_t)cap;
		if (!(flags & MSG_PEEK))
			dg_held_drop_locked(fd, d);
	}
	pthread_mutex_unlock(&d->mu);
	return n;
}

void dgram_held_flush(void)
{
	int fds[HELD_MAX];
	unsigned n;

	if (!dgram_held_any())
		return;
	pthread_mutex_lock(&held_mu);
	n = atomic_load_explicit(&held_n, memory_order_relaxed);
	memcpy(fds, held_fds, n * sizeof(fds[0]));
	pthread_mutex_unlock(&held_mu);
	for (unsigned i = 0; i < n; i++) {
		struct dg_assoc *d = dg_lookup(fds[i]);
		if (d == NULL)
			continue;
		pthread_mutex_lock(&d->mu);
		dg_held_flush_locked(fds[i], d);
		pthread_mutex_unlock(&d->mu);
	}
}

/* fd's record holds an answer (a relaxed look: the flush or take decides). */
static bool held_on(int fd)
{
	struct dg_assoc *d = fd >= 0 ? dg_lookup(fd) : NULL;

	return d != NULL && __atomic_load_n(&d->held_len, __ATOMIC_RELAXED) != 0;
}

bool dgram_held_poll(struct pollfd *fds, unsigned long n, int *rc)
{
	const short rd = POLLIN | POLLRDNORM;
	unsigned long held = 0;
	bool only_reads = true;

	for (unsigned long i = 0; i < n; i++) {
		bool h = held_on(fds[i].fd);
		held += h;
		if (!h || (fds[i].events & rd) == 0 || (fds[i].events & ~rd) != 0)
			only_reads = false;
	}
	if (held == 0)
		return false;
	if (!only_reads) {
		dgram_held_flush();
		return false;
	}
	for (unsigned long i = 0; i < n; i++)
		fds[i].revents = fds[i].events & rd;
	*rc = (int)n;
	return true;
}

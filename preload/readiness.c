/* The readiness calls, while an asynchronous connect's handshake is pending
 * (async.c): poll, ppoll, select and pselect leave a pending fd out of the set, in
 * short slices of the program's timeout, until the helper thread has the tunnel up
 * (then the kernel reports the fd as it is); epoll_ctl on a pending fd registers it
 * masked (async.c puts the program's events back when the handshake ends, so the
 * kernel delivers them; epoll_wait needs no hook for that); epoll_create notes the program's
 * epolls; getsockopt(SO_ERROR) reports a failed handshake's errno. With no handshake
 * pending, each is one relaxed load and libc's call. Port-53 answers held in memory
 * (dgram_held.c) are answered or flushed here too, one more load when none is. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>

#include "async.h"
#include "datagram.h"
#include "shim.h"

/* How long a wait runs at most while one of its fds is pending: the helper thread
 * finishing a handshake cannot wake it, so it looks again this often. */
#define READY_SLICE_MS 2

static int64_t ready_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool ready_pending(int fd)
{
	return fd >= 0 && fdreg_kind(fd) == FD_CONNECTING &&
	       async_pending_state(fd) == ASYNC_IS_PENDING;
}

/* ---- poll / ppoll ---- */

static int ready_real_poll(struct pollfd *fds, nfds_t n, int ms, const sigset_t *mask,
			   bool is_ppoll)
{
	if (!is_ppoll)
		return real()->poll(fds, n, ms);
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	return real()->ppoll(fds, n, ms < 0 ? NULL : &ts, mask);
}

/* timeout_ms < 0: forever. */
static int ready_poll(struct pollfd *fds, nfds_t n, int64_t timeout_ms, const sigset_t *mask,
		      bool is_ppoll)
{
	int64_t end = timeout_ms < 0 ? -1 : ready_now_ms() + timeout_ms;
	nfds_t *hidden = NULL, nh;

	for (;;) {
		nh = 0;
		for (nfds_t i = 0; i < n; i++) {
			if (!ready_pending(fds[i].fd))
				continue;
			if (hidden == NULL && (hidden = malloc(n * sizeof(*hidden))) == NULL)
				break; /* no memory: the fd shows as it is */
			hidden[nh++] = i;
			fds[i].fd = ~fds[i].fd; /* negative: poll skips it */
		}
		int64_t left = end < 0 ? -1 : end - ready_now_ms();
		int ms = left < 0 && end >= 0 ? 0 : (int)(left > 0x7fffffff ? 0x7fffffff : left);
		if (nh > 0 && (ms < 0 || ms > READY_SLICE_MS))
			ms = READY_SLICE_MS;
		int r = ready_real_poll(fds, n, ms, mask, is_ppoll);
		int e = errno;
		for (nfds_t k = 0; k < nh; k++) {
			fds[hidden[k]].fd = ~fds[hidden[k]].fd;
			fds[hidden[k]].revents = 0;
		}
		if (r != 0 || nh == 0 || (end >= 0 && ready_now_ms() >= end)) {
			/* A failed handshake whose proxy connection never came up shows only
			 * POLLHUP; say it is an error, as the kernel would have. */
			for (nfds_t i = 0; r > 0 && i < n; i++)
				if ((fds[i].revents & POLLHUP) && fdreg_kind(fds[i].fd) == FD_CONNECTING)
					fds[i].revents |= POLLERR;
			free(hidden);
			errno = e;
			return r;
		}
	}
}

/* A port-53 answer held in memory (dgram_held.c): poll and ppoll report it without a
 * system call when they can, the other waits send it to its socket first. */
#define READY_HELD_POLL(fds, n)                                              \
	do {                                                                  \
		int held_rc_;                                                 \
		if (__builtin_expect(dgram_held_any(), 0) && !shim_inside && \
		    dgram_held_poll((fds), (n), &held_rc_))                  \
			return held_rc_;                                      \
	} while (0)

static void ready_held_flush(void)
{
	if (__builtin_expect(dgram_held_any(), 0) && !shim_inside)
		dgram_held_flush();
}

SHIM_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	READY_HELD_POLL(fds, n);
	if (__builtin_expect(!async_any(), 1) || shim_inside)
		return real()->poll(fds, n, timeout);
	return ready_poll(fds, n, timeout, NULL, false);
}

SHIM_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		      const sigset_t *mask)
{
	READY_HELD_POLL(fds, n);
	if (__builtin_expect(!async_any(), 1) || shim_inside)
		return real()->ppoll(fds, n, ts, mask);
	int64_t ms = ts == NULL ? -1 : (int64_t)ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000;
	return ready_poll(fds, n, ms, mask, true);
}

/* The _FORTIFY_SOURCE forms (Debian builds with it): glibc's own check, then ours. A
 * set bigger than its buffer goes to glibc's, which reports the overflow. */
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask,
		size_t fdslen);

SHIM_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) >= n)
		READY_HELD_POLL(fds, n);
	if (__builtin_expect(!async_any(), 1) || shim_inside || fdslen / sizeof(*fds) < n ||
	    real()->poll_chk == NULL)
		return real()->poll_chk ? real()->poll_chk(fds, n, timeout, fdslen)
					: real()->poll(fds, n, timeout);
	return ready_poll(fds, n, timeout, NULL, false);
}

SHIM_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
			    const sigset_t *mask, size_t fdslen)
{
	if (fdslen / sizeof(*fds) >= n)
		READY_HELD_POLL(fds, n);
	if (__builtin_expect(!async_any(), 1) || shim_inside || fdslen / sizeof(*fds) < n ||
	    real()->ppoll_chk == NULL)
		return real()->ppoll_chk ? real()->ppoll_chk(fds, n, ts, mask, fdslen)
					 : real()->ppoll(fds, n, ts, mask);
	return ppoll(fds, n, ts, mask);
}

/* ---- select / pselect ---- */

static bool ready_fdset_pending(int nfds, fd_set *r, fd_set *w, fd_set *x)
{
	for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++)
		if (((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (x && FD_ISSET(fd, x))) &&
		    ready_pending(fd))
			return true;
	return false;
}

static int ready_select(int nfds, fd_set *r, fd_set *w, fd_set *x, int64_t timeout_ms,
			const sigset_t *mask)
{
	int64_t end = timeout_ms < 0 ? -1 : ready_now_ms() + timeout_ms;
	fd_set rr, ww, xx;

	for (;;) {
		bool any = false;
		if (r)
			rr = *r;
		if (w)
			ww = *w;
		if (x)
			xx = *x;
		for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++) {
			if (!((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (x && FD_ISSET(fd, x))) ||
			    !ready_pending(fd))
				continue;
			any = true;
			if (r)
				FD_CLR(fd, &rr);
			if (w)
				FD_CLR(fd, &ww);
			if (x)
				FD_CLR(fd, &xx);
		}
		int64_t left = end < 0 ? -1 : end - ready_now_ms();
		if (end >= 0 && left < 0)
			left = 0;
		if (any && (left < 0 || left > READY_SLICE_MS))
			left = READY_SLICE_MS;
		struct timespec ts = { left / 1000, (long)(left % 1000) * 1000000L };
		int n = real()->pselect(nfds, r ? &rr : NULL, w ? &ww : NULL, x ? &xx : NULL,
					left < 0 ? NULL : &ts, mask);
		if (n != 0 || !any || (end >= 0 && ready_now_ms() >= end)) {
			if (n >= 0) {
				if (r)
					*r = rr;
				if (w)
					*w = ww;
				if (x)
					*x = xx;
			}
			return n;
		}
	}
}

SHIM_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *x, struct timeval *tv)
{
	ready_held_flush();
	if (__builtin_expect(!async_any(), 1) || shim_inside || !ready_fdset_pending(nfds, r, w, x))
		return real()->select(nfds, r, w, x, tv);
	int64_t ms = tv == NULL ? -1 : (int64_t)tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000;
	int64_t t0 = ready_now_ms();
	int n = ready_select(nfds, r, w, x, ms, NULL);
	if (tv != NULL) {
		/* Linux's select says how much time was left. */
		int64_t left = ms - (ready_now_ms() - t0);
		if (left < 0)
			left = 0;
		tv->tv_sec = left / 1000;
		tv->tv_usec = (left % 1000) * 1000;
	}
	return n;
}

SHIM_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *x, const struct timespec *ts,
			const sigset_t *mask)
{
	ready_held_flush();
	if (__builtin_expect(!async_any(), 1) || shim_inside || !ready_fdset_pending(nfds, r, w, x))
		return real()->pselect(nfds, r, w, x, ts, mask);
	int64_t ms = ts == NULL ? -1 : (int64_t)ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000;
	return ready_select(nfds, r, w, x, ms, mask);
}

/* ---- epoll ---- */

SHIM_EXPORT int epoll_create(int size)
{
	int fd = real()->epoll_create(size);
	async_note_epoll(fd);
	return fd;
}

SHIM_EXPORT int epoll_create1(int flags)
{
	int fd = real()->epoll_create1(flags);
	async_note_epoll(fd);
	return fd;
}

SHIM_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	if (__builtin_expect(!async_any(), 1) || shim_inside || fdreg_kind(fd) != FD_CONNECTING)
		return real()->epoll_ctl(epfd, op, fd, ev);
	bool handled;
	int rc = async_epoll_ctl(epfd, op, fd, ev, &handled);
	return handled ? rc : real()->epoll_ctl(epfd, op, fd, ev);
}

/* epoll_wait and its kin: no handshake needs them (see above), a held answer does. */
SHIM_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	ready_held_flush();
	return real()->epoll_wait(epfd, ev, max, timeout);
}

SHIM_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout,
			    const sigset_t *mask)
{
	ready_held_flush();
	return real()->epoll_pwait(epfd, ev, max, timeout, mask);
}

SHIM_EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max,
			     const struct timespec *ts, const sigset_t *mask)
{
	ready_held_flush();
	if (real()->epoll_pwait2 == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real()->epoll_pwait2(epfd, ev, max, ts, mask);
}

/* ---- SO_ERROR ---- */

SHIM_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	int err, kernel;
	socklen_t kl = sizeof(kernel);

	if (__builtin_expect(!async_any(), 1) || level != SOL_SOCKET || name != SO_ERROR ||
	    fdreg_kind(fd) != FD_CONNECTING || val == NULL || len == NULL || *len < sizeof(int) ||
	    !async_so_error(fd, &err))
		return real()->getsockopt(fd, level, name, val, len);
	/* The disconnect after a failure left the kernel's own (ECONNRESET): it goes too. */
	if (err != 0)
		real()->getsockopt(fd, SOL_SOCKET, SO_ERROR, &kernel, &kl);
	memcpy(val, &err, sizeof(err));
	*len = sizeof(err);
	return 0;
}

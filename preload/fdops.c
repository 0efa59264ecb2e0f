/* fd bookkeeping hooks: close, close_range, closefrom, dup, dup2, dup3 keep the
 * registry in step with the program's fds (and keep the program's sweeps off the
 * shim's own fds); getpeername shows a tunnelled socket's destination rather than
 * the proxy. Each is one registry load and straight to libc for fds the shim knows
 * nothing about. A vfork()ed child leaves the bookkeeping alone. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "async.h"
#include "datagram.h"
#include "shim.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* ---- vfork ----
 * A vfork()ed child runs in its parent's memory, and no fork handler runs for it.
 * What it closes or dup2()s is its own copy of the fd table, so it must leave the
 * registries (the parent's) alone: it is told by its pid, which is not the one
 * recorded when the registry was made (fdreg.c, on the first fd the shim registers)
 * or at the last fork. Nothing is recorded at start-up: loading the library makes no
 * system call (seccomp sandboxes such as Chromium's zygote, and the cost to every
 * process of the machine). Until the registry exists no fd is known, so nothing asks.
 * Only paths that would change the bookkeeping ask, so an fd the shim does not know
 * still costs no syscall. (A vfork child that makes the registry itself, by opening a
 * proxied socket before it execs, breaks the vfork contract: not supported.) */
static pid_t fdops_pid;

void fdops_record_pid(void)
{
	__atomic_store_n(&fdops_pid, getpid(), __ATOMIC_RELAXED);
}

static bool fdops_vforked(void)
{
	pid_t p = __atomic_load_n(&fdops_pid, __ATOMIC_RELAXED);

	return p != 0 && getpid() != p;
}

/* A process with no registry yet has nothing to record (and no getpid to pay). */
void fdops_atfork_child(void)
{
	if (__atomic_load_n(&fdops_pid, __ATOMIC_RELAXED) != 0)
		fdops_record_pid();
}

static int fdops_enosys(void)
{
	errno = ENOSYS;
	return -1;
}

SHIM_EXPORT int close(int fd)
{
	/* The hot path: one load says the fd is none of ours (a managed UDP socket
	 * carries the registry's datagram bit). */
	if (__builtin_expect(!fdreg_known(fd), 1))
		return REAL_FAST(close, REAL_FAST_CLOSE)(fd);
	switch (fdreg_kind(fd)) {
	case FD_INTERNAL:
		/* To the program this fd is not open: as close() would say. Unless ours
		 * was closed behind our back and the number is the program's now. */
		if (fdreg_internal_valid(fd)) {
			errno = EBADF;
			return -1;
		}
		if (!fdops_vforked())
			shim_lost_internal(fd);
		break;
	case FD_TUNNEL:
		/* Forget before closing: once closed the number may be reused at once. */
		if (!fdops_vforked())
			fdreg_clear(fd);
		break;
	case FD_CONNECTING:
		/* The handshake's record goes (and the helper stops watching), then the kind. */
		if (!fdops_vforked()) {
			async_forget(fd);
			fdreg_clear(fd);
		}
		break;
	case FD_NONE:
		break;
	}
	/* A UDP socket through the proxy: its association goes with it. */
	if (dgram_known(fd) && !fdops_vforked())
		dgram_forget(fd);
	return real()->close(fd);
}

/* Closes [first, last] except the shim's own fds, splitting the range around them. */
static int fdops_close_range(unsigned int first, unsigned int last, int flags)
{
	int rc = 0;

	if (!(flags & CLOSE_RANGE_CLOEXEC) && !fdops_vforked()) {
		async_forget_range(first, last);
		fdreg_clear_range(first, last);
		dgram_forget_range(first, last);
	}
	for (;;) {
		int in = fdreg_internal_in(first, last);
		if (in < 0)
			break;
		if ((unsigned)in > first && real()->close_range(first, (unsigned)in - 1, flags) < 0)
			rc = -1;
		if ((unsigned)in == last)
			return rc;
		first = (unsigned)in + 1;
	}
	if (real()->close_range(first, last, flags) < 0)
		rc = -1;
	return rc;
}

SHIM_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	if (real()->close_range == NULL)
		return fdops_enosys();
	return fdops_close_range(first, last, flags);
}

/* glibc's closefrom() calls the close_range syscall internally, past our hook, so it
 * needs its own: ssh and daemons sweep their fds with it. */
SHIM_EXPORT void closefrom(int lowfd)
{
	unsigned first = lowfd < 0 ? 0 : (unsigned)lowfd;

	if (fdops_close_range(first, ~0U, 0) == 0)
		return;
	/* No close_range in this kernel: close one by one, ours excepted. */
	long max = sysconf(_SC_OPEN_MAX);
	for (int fd = (int)first; fd < (max > 0 ? max : 65536); fd++)
		if (fdreg_kind(fd) != FD_INTERNAL)
			real()->close(fd);
}

SHIM_EXPORT int dup(int fd)
{
	int nfd;

	if (fdreg_kind(fd) == FD_INTERNAL && fdreg_internal_valid(fd)) {
		errno = EBADF;
		return -1;
	}
	nfd = real()->dup(fd);
	/* Nothing to copy nor forget: no bookkeeping, and no getpid() for the vfork
	 * check either. */
	if (nfd < 0 || (!fdreg_known(fd) && !fdreg_known(nfd)) || fdops_vforked())
		return nfd;
	if (fdreg_kind(fd) == FD_TUNNEL)
		fdreg_copy(fd, nfd);
	dgram_copy(fd, nfd);
	return nfd;
}

/* dup2/dup3 onto the shim's own fd: move ours away first, then the program gets the
 * number it asked for. */
static int fdops_dup_onto(int oldfd, int newfd, int flags, bool three)
{
	int rc;

	if (!fdreg_known(oldfd) && !fdreg_known(newfd)) /* none of ours */
		return three ? real()->dup3(oldfd, newfd, flags) : real()->dup2(oldfd, newfd);
	if (fdreg_kind(oldfd) == FD_INTERNAL && fdreg_internal_valid(oldfd)) {
		errno = EBADF;
		return -1;
	}
	if (fdops_vforked()) /* its own fd table; the registries are the parent's */
		return three ? real()->dup3(oldfd, newfd, flags) : real()->dup2(oldfd, newfd);
	if (oldfd != newfd && fdreg_kind(newfd) == FD_CONNECTING)
		async_forget(newfd);
	if (oldfd != newfd && fdreg_kind(newfd) == FD_INTERNAL) {
		if (fdreg_internal_valid(newfd))
			shim_relocate_log(newfd);
		else
			shim_lost_internal(newfd);
	}
	rc = three ? real()->dup3(oldfd, newfd, flags) : real()->dup2(oldfd, newfd);
	if (rc >= 0 && oldfd != newfd) {
		fdreg_copy(oldfd, newfd);
		dgram_copy(oldfd, newfd);
	}
	return rc;
}

SHIM_EXPORT int dup2(int oldfd, int newfd)
{
	return fdops_dup_onto(oldfd, newfd, 0, false);
}

SHIM_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return fdops_dup_onto(oldfd, newfd, flags, true);
}

SHIM_EXPORT int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage k, ss;
	socklen_t kl = sizeof(k), plen, cap;
	const struct sockaddr *kp = sa;

	if (fdreg_kind(fd) == FD_CONNECTING) {
		/* Connecting, as far as the program knows (the kernel would name the proxy). */
		errno = ENOTCONN;
		return -1;
	}
	if (fdreg_kind(fd) != FD_TUNNEL || len == NULL)
		return real()->getpeername(fd, sa, len);
	/* The kernel's answer first, into the caller's buffer: errors (ENOTCONN for a
	 * reset tunnel, EFAULT) are as direct; the address tells our record from a
	 * stale one. */
	cap = *len;
	if (real()->getpeername(fd, sa, len) != 0)
		return -1;
	if (*len > cap) {
		/* Truncated in the caller's buffer: read it whole for the check. */
		if (real()->getpeername(fd, (struct sockaddr *)&k, &kl) != 0)
			return 0;
		kp = (struct sockaddr *)&k;
	}
	if (fdreg_peer(fd, kp, &ss, &plen)) {
		memcpy(sa, &ss, plen < cap ? plen : cap);
		*len = plen;
	}
	return 0;
}

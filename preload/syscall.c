/* syscall(2): the socket calls some programs make through it, past libc's wrappers. */
#include <errno.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "datagram.h"
#include "shim.h"

/* libuv (and so BIND 9's dig) calls sendmmsg/recvmmsg through syscall(2), past the
 * libc wrappers: the datagram calls made that way come to our hooks (dgram_send.c,
 * dgram_recv.c), and a syscall(SYS_connect) to the connect path. Every other number
 * goes to libc's syscall() untouched. */
SHIM_EXPORT long syscall(long nr, ...)
{
	va_list ap;
	long a[6];

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	switch (nr) {
	case SYS_connect:
		/* Not a datagram call, but the same escape: the connect family decides. */
		return shim_connect((int)a[0], (const struct sockaddr *)a[1], (socklen_t)a[2]);
	case SYS_sendmmsg:
		return sendmmsg((int)a[0], (struct mmsghdr *)a[1], (unsigned int)a[2], (int)a[3]);
	case SYS_recvmmsg:
		return recvmmsg((int)a[0], (struct mmsghdr *)a[1], (unsigned int)a[2], (int)a[3],
				(struct timespec *)a[4]);
	case SYS_sendmsg:
		return sendmsg((int)a[0], (const struct msghdr *)a[1], (int)a[2]);
	case SYS_recvmsg:
		return recvmsg((int)a[0], (struct msghdr *)a[1], (int)a[2]);
	case SYS_sendto:
		return sendto((int)a[0], (const void *)a[1], (size_t)a[2], (int)a[3],
			      (const struct sockaddr *)a[4], (socklen_t)a[5]);
	case SYS_recvfrom:
		return recvfrom((int)a[0], (void *)a[1], (size_t)a[2], (int)a[3],
				(struct sockaddr *)a[4], (socklen_t *)a[5]);
	default:
		/* A wait we cannot see into (SYS_epoll_wait, SYS_ppoll, ...): held
		 * port-53 answers go to their sockets first (dgram_held.c). */
		if (__builtin_expect(dgram_held_any(), 0) && !shim_inside)
			dgram_held_flush();
		long (*sys)(long, ...) = REAL_FAST(syscall, REAL_FAST_SYSCALL);
		if (sys == NULL) {
			errno = ENOSYS;
			return -1;
		}
		return sys(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	}
}

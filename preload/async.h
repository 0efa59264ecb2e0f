/* The asynchronous connect (async.c) and the readiness hooks that hide a pending
 * handshake from the program (readiness.c). Internal to libsocksify.so. */
#ifndef SOCKSIFY_ASYNC_H
#define SOCKSIFY_ASYNC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "socks.h"

struct epoll_event;

/* Records alive (handshakes pending, or failed and not yet reported): while 0, every
 * readiness hook is one relaxed load and libc's call. */
extern _Atomic unsigned async_live;

static inline bool async_any(void)
{
	return atomic_load_explicit(&async_live, memory_order_relaxed) != 0;
}

/* A non-blocking connect through the chain, on fd. *handled false: not taken (no
 * memory, no thread, too many): the caller runs the blocking path. Otherwise the
 * connect()'s return value with errno set: -1/EINPROGRESS normally; 0 or an immediate
 * failure when the chain decided at once. */
int async_connect(int fd, const struct sockaddr *sa, socklen_t len, int family,
		  const struct socks_addr *dst, bool *handled);
/* A blocking connect on a socket with SO_SNDTIMEO (timeout_ms): the handshake runs
 * in the call; if the send timeout passes first, -1/EINPROGRESS and the connection
 * goes on behind it, as the kernel does. Otherwise as async_connect. */
int async_connect_timed(int fd, const struct sockaddr *sa, socklen_t len, int family,
			const struct socks_addr *dst, unsigned timeout_ms, bool *handled);
/* connect() again on an fd with a record: -1/EALREADY while pending (*handled);
 * after a failure the record is dropped and the new connect goes ahead. */
int async_connect_again(int fd, bool *handled);

enum { ASYNC_NONE, ASYNC_IS_PENDING, ASYNC_IS_FAILED };
int async_pending_state(int fd);
/* SO_ERROR for an fd with a record: true and *err (0 while pending; the failure's
 * errno once, after which the record is gone). */
bool async_so_error(int fd, int *err);
/* The program's epoll_ctl on a pending fd: remembered and masked (*handled). */
int async_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev, bool *handled);
/* An epoll instance the program created (looked into at connect time). */
void async_note_epoll(int epfd);
/* close / dup2 onto / close_range: the record goes (and the helper stops watching). */
void async_forget(int fd);
void async_forget_range(unsigned first, unsigned last);

#endif

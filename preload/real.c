/* The real libc functions behind our hooks, resolved once with dlsym(RTLD_NEXT) into
 * one table. A symbol that resolves back into this library (a broken link order)
 * is refused, so a hook can never call itself in a loop. */
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

#include "shim.h"

static struct real_syms real_table;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

/* Our own hooks, to recognise a dlsym that found us again. */
int connect(int, const struct sockaddr *, socklen_t);
int close(int);
int close_range(unsigned int, unsigned int, int);
int dup(int);
int dup2(int, int);
int dup3(int, int, int);
int getpeername(int, struct sockaddr *, socklen_t *);
int ppoll(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
int select(int, fd_set *, fd_set *, fd_set *, struct timeval *);
int pselect(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
int epoll_create(int);
int epoll_create1(int);
int epoll_ctl(int, int, int, struct epoll_event *);
int getsockopt(int, int, int, void *, socklen_t *);
int __poll_chk(struct pollfd *, nfds_t, int, size_t);
int __ppoll_chk(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *, size_t);

static void *real_sym(const char *name, void *ours)
{
	void *p = dlsym(RTLD_NEXT, name);

	return p == ours && ours != NULL ? NULL : p;
}

/* Fallbacks for a libc without the symbol (close_range before glibc 2.34): the
 * hooks then behave as the missing call would. */
static int real_enosys_close_range(unsigned int a, unsigned int b, int c)
{
	errno = ENOSYS;
	return -1;
}

static void real_resolve(void)
{
	struct real_syms *t = &real_table;

	t->connect = real_sym("connect", (void *)connect);
	t->close = real_sym("close", (void *)close);
	t->close_range = real_sym("close_range", (void *)close_range);
	t->dup = real_sym("dup", (void *)dup);
	t->dup2 = real_sym("dup2", (void *)dup2);
	t->dup3 = real_sym("dup3", (void *)dup3);
	t->getpeername = real_sym("getpeername", (void *)getpeername);
	t->getaddrinfo = real_sym("getaddrinfo", NULL);
	t->freeaddrinfo = real_sym("freeaddrinfo", NULL);
	t->send = real_sym("send", NULL);
	t->recv = real_sym("recv", NULL);
	t->poll = real_sym("poll", (void *)poll);
	t->ppoll = real_sym("ppoll", (void *)ppoll);
	t->select = real_sym("select", (void *)select);
	t->pselect = real_sym("pselect", (void *)pselect);
	t->epoll_create = real_sym("epoll_create", (void *)epoll_create);
	t->epoll_create1 = real_sym("epoll_create1", (void *)epoll_create1);
	t->epoll_ctl = real_sym("epoll_ctl", (void *)epoll_ctl);
	t->getsockopt = real_sym("getsockopt", (void *)getsockopt);
	t->poll_chk = real_sym("__poll_chk", (void *)__poll_chk);
	t->ppoll_chk = real_sym("__ppoll_chk", (void *)__ppoll_chk);
	if (t->close_range == NULL)
		t->close_range = real_enosys_close_range;
}

void real_init(void)
{
	pthread_once(&real_once, real_resolve);
}

const struct real_syms *real(void)
{
	pthread_once(&real_once, real_resolve);
	return &real_table;
}

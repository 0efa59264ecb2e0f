/* The real libc functions behind our hooks, resolved once with dlsym(RTLD_NEXT) into
 * one table. A symbol that resolves back into this library (a broken link order)
 * is refused, so a hook can never call itself in a loop. */
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
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
	t->poll = real_sym("poll", NULL);
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

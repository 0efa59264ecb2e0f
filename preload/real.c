/* The real libc functions behind our hooks: the one table of them in the library,
 * resolved with dlsym(RTLD_NEXT). Every result is checked to lie outside this library,
 * so a hook can never call itself in a loop (a broken link order, a second copy of us
 * earlier in the search list). The calls the hooks need on every path are resolved by
 * the constructor; the resolver's own (gethostby*, res_*, getnameinfo) on its first
 * use, since libresolv, where older glibc keeps res_*, may be loaded later. */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "shim.h"

struct real_syms real_table;
bool real_ready;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static pthread_once_t real_dns_once = PTHREAD_ONCE_INIT;
/* Where this library is mapped: [real_lo, real_hi). Found from the program headers
 * (dl_iterate_phdr), not dladdr, which scans every symbol of the object it lands in
 * and so would bring libc's whole symbol table into every process's memory. */
static uintptr_t real_lo, real_hi;

static int real_find_self(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t me = (uintptr_t)data, lo = UINTPTR_MAX, hi = 0;

	for (size_t i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < lo)
			lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
			hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	if (me < lo || me >= hi)
		return 0;
	real_lo = lo;
	real_hi = hi;
	return 1;
}

static void *real_lookup(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if ((uintptr_t)p >= real_lo && (uintptr_t)p < real_hi)
		return NULL; /* ourselves again */
	return p;
}

/* name, or (before glibc 2.34, in libresolv) its __res_* spelling. */
static void *real_lookup2(const char *name, const char *compat)
{
	void *p = real_lookup(name);

	return p == NULL && compat != NULL ? real_lookup(compat) : p;
}

/* Fallbacks for a symbol this libc lacks (close_range before glibc 2.34, a sendto
 * that was our own): the hook then fails as the missing call would. */
static int real_enosys_close_range(unsigned int a, unsigned int b, int c)
{
	errno = ENOSYS;
	return -1;
}

static ssize_t real_enosys_sendto(int a, const void *b, size_t c, int d,
				  const struct sockaddr *e, socklen_t f)
{
	errno = ENOSYS;
	return -1;
}

#define REAL(field, name) (t->field = real_lookup(name))

static pthread_once_t real_self_once = PTHREAD_ONCE_INIT;

static void real_self(void)
{
	dl_iterate_phdr(real_find_self, (void *)(uintptr_t)real_self);
}

static void real_resolve(void)
{
	struct real_syms *t = &real_table;

	pthread_once(&real_self_once, real_self);
	REAL(connect, "connect");
	REAL(close, "close");
	REAL(close_range, "close_range");
	REAL(dup, "dup");
	REAL(dup2, "dup2");
	REAL(dup3, "dup3");
	REAL(getpeername, "getpeername");
	REAL(getaddrinfo, "getaddrinfo");
	REAL(freeaddrinfo, "freeaddrinfo");
	REAL(poll, "poll");
	REAL(sendto, "sendto");
	REAL(sendmsg, "sendmsg");
	REAL(sendmmsg, "sendmmsg");
	REAL(send, "send");
	REAL(write, "write");
	REAL(writev, "writev");
	REAL(recvfrom, "recvfrom");
	REAL(recvmsg, "recvmsg");
	REAL(recvmmsg, "recvmmsg");
	REAL(recv, "recv");
	REAL(read, "read");
	REAL(readv, "readv");
	REAL(recv_chk, "__recv_chk");
	REAL(recvfrom_chk, "__recvfrom_chk");
	REAL(read_chk, "__read_chk");
	REAL(syscall, "syscall");
	REAL(ppoll, "ppoll");
	REAL(select, "select");
	REAL(pselect, "pselect");
	REAL(epoll_create, "epoll_create");
	REAL(epoll_create1, "epoll_create1");
	REAL(epoll_ctl, "epoll_ctl");
	REAL(epoll_wait, "epoll_wait");
	REAL(epoll_pwait, "epoll_pwait");
	REAL(epoll_pwait2, "epoll_pwait2");
	REAL(getsockopt, "getsockopt");
	REAL(poll_chk, "__poll_chk");
	REAL(ppoll_chk, "__ppoll_chk");
	if (t->close_range == NULL)
		t->close_range = real_enosys_close_range;
	if (t->sendto == NULL)
		t->sendto = real_enosys_sendto;
	/* The fast path (read/write) trusts the table from here on without a call. */
	__atomic_store_n(&real_ready, true, __ATOMIC_RELEASE);
}

static void real_dns_resolve(void)
{
	struct real_syms *t = &real_table;

	real_slow();
	t->getnameinfo = real_lookup("getnameinfo");
	t->gethostbyname2_r = real_lookup("gethostbyname2_r");
	t->gethostbyaddr_r = real_lookup("gethostbyaddr_r");
	t->gethostbyname2 = real_lookup("gethostbyname2");
	t->gethostbyaddr = real_lookup("gethostbyaddr");
	t->getaddrinfo_a = real_lookup("getaddrinfo_a");
	t->res_nquery = real_lookup2("res_nquery", "__res_nquery");
	t->res_nsearch = real_lookup2("res_nsearch", "__res_nsearch");
	t->res_nquerydomain = real_lookup2("res_nquerydomain", "__res_nquerydomain");
	t->res_nsend = real_lookup2("res_nsend", "__res_nsend");
	t->res_query = real_lookup2("res_query", "__res_query");
	t->res_search = real_lookup2("res_search", "__res_search");
	t->res_querydomain = real_lookup2("res_querydomain", "__res_querydomain");
	t->res_send = real_lookup2("res_send", "__res_send");
}

void real_init(void)
{
	pthread_once(&real_once, real_resolve);
}

const struct real_syms *real_slow(void)
{
	pthread_once(&real_once, real_resolve);
	return &real_table;
}

/* read, write, close and syscall before the table: each looked up alone on its first call.
 * Every program calls them and most never reach a hook that needs the table, which
 * costs some sixty lookups through libc's symbol table (about 40 us here). A symbol
 * that cannot be found alone comes from the table, as it would have. */
static void *real_fast_sym[REAL_FAST_N];
static const char *const real_fast_name[REAL_FAST_N] = {
	[REAL_FAST_READ] = "read", [REAL_FAST_WRITE] = "write", [REAL_FAST_CLOSE] = "close",
	[REAL_FAST_SYSCALL] = "syscall",
};

void *real_fast_slow(enum real_fast i)
{
	void *p = __atomic_load_n(&real_fast_sym[i], __ATOMIC_ACQUIRE);

	if (p != NULL)
		return p;
	pthread_once(&real_self_once, real_self);
	p = real_lookup(real_fast_name[i]);
	if (p == NULL) {
		const struct real_syms *t = real_slow();
		p = i == REAL_FAST_READ ? (void *)t->read
		  : i == REAL_FAST_WRITE ? (void *)t->write
		  : i == REAL_FAST_CLOSE ? (void *)t->close : (void *)t->syscall;
	}
	__atomic_store_n(&real_fast_sym[i], p, __ATOMIC_RELEASE);
	return p;
}

const struct real_syms *real_resolver(void)
{
	pthread_once(&real_dns_once, real_dns_resolve);
	return &real_table;
}

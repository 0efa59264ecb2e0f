/* The fd registry: the one record the shim keeps per fd. A flat array indexed by fd,
 * one atomic byte per fd (its kind and the datagram bit), so every hook classifies an
 * fd with a single load; the records themselves (a tunnel's destination for
 * getpeername, a UDP socket's association, an asynchronous connect's pending
 * handshake) sit in a parallel array. Both are one anonymous mapping made on the
 * first registration, so a process that never tunnels pays nothing, and untouched
 * pages cost no memory. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

union fdreg_sa {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* A tunnelled fd: the destination as the program gave it (sockaddr_in or
 * sockaddr_in6, maybe mapped) and the first hop its socket really is connected to,
 * which is how a record is told from a number reused behind our back: the kernel's
 * own getpeername (which every use makes anyway) must still name that hop. */
struct fdreg_peer {
	union fdreg_sa u;
	socklen_t len;
	union fdreg_sa via;
	ino_t ino; /* internal fds: the open file we registered */
	/* A UDP socket's association (dgram_state.c's), made on first use and never freed
	 * (another thread's hook may still hold it while this one closes the fd). */
	_Atomic(struct dg_assoc *) assoc;
	/* The asynchronous connect's handshake still in progress on this fd. */
	_Atomic int pending; /* enum fd_pending */
	void *_Atomic pending_ctx;
};

/* A cap for an "unlimited" RLIMIT_NOFILE: fds beyond it are simply not tracked
 * (getpeername then shows the proxy), never a crash. */
#define FDREG_CAP (1u << 20)

static _Atomic(_Atomic uint8_t *) fdreg_kinds;
static struct fdreg_peer *fdreg_peers;
static size_t fdreg_size;
static _Atomic unsigned fdreg_high; /* one above the highest fd ever registered */
static pthread_once_t fdreg_once = PTHREAD_ONCE_INIT;

static void fdreg_alloc(void)
{
	struct rlimit rl;
	size_t n = 1024, bytes;
	void *m;

	shim_setup_begin();
	/* Before the table is published: whoever sees it sees the owner's pid. */
	fdops_record_pid();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		n = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > FDREG_CAP ? FDREG_CAP
									: (size_t)rl.rlim_max;
	if (n < 1024)
		n = 1024;
	bytes = n * (sizeof(uint8_t) + sizeof(struct fdreg_peer));
	m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (m != MAP_FAILED) {
		/* Peers first (aligned), then the kind bytes. */
		fdreg_peers = m;
		fdreg_size = n;
		atomic_store_explicit(&fdreg_kinds, (_Atomic uint8_t *)(fdreg_peers + n),
				      memory_order_release);
	}
	shim_setup_end();
}

static _Atomic uint8_t *fdreg_table(void)
{
	pthread_once(&fdreg_once, fdreg_alloc);
	return atomic_load_explicit(&fdreg_kinds, memory_order_acquire);
}

/* The kind bits of a byte; the datagram bit lives beside them. */
#define FDREG_KIND_MASK 3u

static uint8_t fdreg_byte(int fd)
{
	_Atomic uint8_t *k = atomic_load_explicit(&fdreg_kinds, memory_order_acquire);

	if (k == NULL || fd < 0 || (size_t)fd >= fdreg_size)
		return 0;
	return atomic_load_explicit(&k[fd], memory_order_acquire);
}

/* A tunnel, made or still being made. */
static bool fdreg_is_tunnel(uint8_t byte)
{
	unsigned kind = byte & FDREG_KIND_MASK;
	return kind == FD_TUNNEL || kind == FD_CONNECTING;
}

enum fd_kind fdreg_kind(int fd)
{
	return (enum fd_kind)(fdreg_byte(fd) & FDREG_KIND_MASK);
}

bool fdreg_known(int fd)
{
	return fdreg_byte(fd) != 0;
}

bool fdreg_is_dgram(int fd)
{
	return (fdreg_byte(fd) & FDREG_DGRAM) != 0;
}

unsigned fdreg_high_water(void)
{
	return atomic_load_explicit(&fdreg_high, memory_order_acquire);
}

struct dg_assoc *fdreg_assoc(int fd)
{
	if (atomic_load_explicit(&fdreg_kinds, memory_order_acquire) == NULL || fd < 0 ||
	    (size_t)fd >= fdreg_size)
		return NULL;
	return atomic_load_explicit(&fdreg_peers[fd].assoc, memory_order_acquire);
}

bool fdreg_assoc_attach(int fd, struct dg_assoc *a)
{
	struct dg_assoc *none = NULL;

	if (fdreg_table() == NULL || fd < 0 || (size_t)fd >= fdreg_size)
		return false;
	return atomic_compare_exchange_strong_explicit(&fdreg_peers[fd].assoc, &none, a,
						       memory_order_acq_rel, memory_order_acquire);
}

void fdreg_set_pending(int fd, enum fd_pending state, void *ctx)
{
	if (fdreg_table() == NULL || fd < 0 || (size_t)fd >= fdreg_size)
		return;
	atomic_store_explicit(&fdreg_peers[fd].pending_ctx, ctx, memory_order_relaxed);
	atomic_store_explicit(&fdreg_peers[fd].pending, (int)state, memory_order_release);
}

enum fd_pending fdreg_pending(int fd, void **ctx)
{
	enum fd_pending st;

	if (atomic_load_explicit(&fdreg_kinds, memory_order_acquire) == NULL || fd < 0 ||
	    (size_t)fd >= fdreg_size)
		return FD_PENDING_NONE;
	st = (enum fd_pending)atomic_load_explicit(&fdreg_peers[fd].pending, memory_order_acquire);
	if (ctx != NULL)
		*ctx = atomic_load_explicit(&fdreg_peers[fd].pending_ctx, memory_order_relaxed);
	return st;
}

static void fdreg_raise_high(int fd)
{
	unsigned hi = atomic_load_explicit(&fdreg_high, memory_order_relaxed);

	while (hi <= (unsigned)fd &&
	       !atomic_compare_exchange_weak(&fdreg_high, &hi, (unsigned)fd + 1))
		;
}

/* Sets fd's kind, keeping its datagram bit (the release publishes the record). */
static void fdreg_mark(_Atomic uint8_t *k, int fd, enum fd_kind kind)
{
	uint8_t old = atomic_load_explicit(&k[fd], memory_order_relaxed);

	fdreg_raise_high(fd);
	while (!atomic_compare_exchange_weak_explicit(
		&k[fd], &old, (uint8_t)((old & ~FDREG_KIND_MASK) | (unsigned)kind),
		memory_order_release, memory_order_relaxed))
		;
}

void fdreg_set_dgram(int fd, bool on)
{
	_Atomic uint8_t *k = on ? fdreg_table()
				: atomic_load_explicit(&fdreg_kinds, memory_order_acquire);

	if (k == NULL || fd < 0 || (size_t)fd >= fdreg_size)
		return;
	if (on) {
		fdreg_raise_high(fd);
		atomic_fetch_or_explicit(&k[fd], FDREG_DGRAM, memory_order_release);
	} else {
		atomic_fetch_and_explicit(&k[fd], (uint8_t)~FDREG_DGRAM, memory_order_release);
	}
}

static ino_t fdreg_ino(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

void fdreg_set_tunnel(int fd, const struct sockaddr *sa, socklen_t len,
		      const struct sockaddr *via, socklen_t vialen)
{
	_Atomic uint8_t *k = fdreg_table();

	if (k == NULL || fd < 0 || (size_t)fd >= fdreg_size)
		return;
	if (len > sizeof(fdreg_peers[fd].u))
		len = sizeof(fdreg_peers[fd].u);
	if (vialen > sizeof(fdreg_peers[fd].via))
		vialen = sizeof(fdreg_peers[fd].via);
	/* The association (a connected UDP socket's) stays with the record. */
	memset(&fdreg_peers[fd].u, 0, sizeof(fdreg_peers[fd].u));
	memset(&fdreg_peers[fd].via, 0, sizeof(fdreg_peers[fd].via));
	memcpy(&fdreg_peers[fd].u, sa, len);
	fdreg_peers[fd].len = len;
	memcpy(&fdreg_peers[fd].via, via, vialen);
	/* The release store publishes the record written above. */
	fdreg_mark(k, fd, FD_TUNNEL);
}

/* Same family, address and port (flow labels and scope ids aside). */
static bool fdreg_same_addr(const union fdreg_sa *a, const struct sockaddr *b)
{
	if (a->sa.sa_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET) {
		const struct sockaddr_in *b4 = (const struct sockaddr_in *)b;
		return a->in4.sin_port == b4->sin_port &&
		       a->in4.sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	if (b->sa_family == AF_INET6) {
		const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)b;
		return a->in6.sin6_port == b6->sin6_port &&
		       memcmp(&a->in6.sin6_addr, &b6->sin6_addr, 16) == 0;
	}
	return false;
}

bool fdreg_peer(int fd, const struct sockaddr *kernel_peer, struct sockaddr_storage *ss,
		socklen_t *len)
{
	if (fdreg_kind(fd) != FD_TUNNEL)
		return false;
	/* Closed where we do not look (fclose of an fdopen'd socket, a raw syscall)
	 * and reused: the socket on this number is not connected to our hop. */
	if (!fdreg_same_addr(&fdreg_peers[fd].via, kernel_peer)) {
		fdreg_clear(fd);
		return false;
	}
	memcpy(ss, &fdreg_peers[fd].u, fdreg_peers[fd].len);
	*len = fdreg_peers[fd].len;
	return true;
}

void fdreg_clear(int fd)
{
	_Atomic uint8_t *k = atomic_load_explicit(&fdreg_kinds, memory_order_acquire);

	if (k != NULL && fd >= 0 && (size_t)fd < fdreg_size)
		atomic_fetch_and_explicit(&k[fd], (uint8_t)FDREG_DGRAM, memory_order_release);
}

void fdreg_copy(int oldfd, int newfd)
{
	_Atomic uint8_t *k = atomic_load_explicit(&fdreg_kinds, memory_order_acquire);

	if (k == NULL || newfd < 0 || (size_t)newfd >= fdreg_size)
		return;
	if (fdreg_kind(oldfd) != FD_TUNNEL) {
		fdreg_clear(newfd);
		return;
	}
	/* The same socket: the peer holds for the copy as it is (checked on use); the
	 * association is the copy's own (dgram_copy). */
	fdreg_peers[newfd].u = fdreg_peers[oldfd].u;
	fdreg_peers[newfd].len = fdreg_peers[oldfd].len;
	fdreg_peers[newfd].via = fdreg_peers[oldfd].via;
	fdreg_mark(k, newfd, FD_TUNNEL);
}

void fdreg_set_internal(int fd)
{
	_Atomic uint8_t *k = fdreg_table();

	if (k != NULL && fd >= 0 && (size_t)fd < fdreg_size) {
		fdreg_peers[fd].ino = fdreg_ino(fd);
		fdreg_mark(k, fd, FD_INTERNAL);
	}
}

void fdreg_set_connecting(int fd)
{
	_Atomic uint8_t *k = fdreg_table();

	if (k != NULL && fd >= 0 && (size_t)fd < fdreg_size)
		fdreg_mark(k, fd, FD_CONNECTING);
}

bool fdreg_internal_valid(int fd)
{
	return fdreg_kind(fd) == FD_INTERNAL && fdreg_ino(fd) == fdreg_peers[fd].ino;
}

void fdreg_clear_range(unsigned int first, unsigned int last)
{
	_Atomic uint8_t *k = atomic_load_explicit(&fdreg_kinds, memory_order_acquire);
	unsigned hi = atomic_load_explicit(&fdreg_high, memory_order_relaxed);

	if (k == NULL)
		return;
	/* Only up to the high-water mark: a closefrom(3) costs what was used. */
	for (unsigned fd = first; fd <= last && fd < hi; fd++)
		if (fdreg_is_tunnel(atomic_load_explicit(&k[fd], memory_order_relaxed)))
			atomic_fetch_and_explicit(&k[fd], (uint8_t)FDREG_DGRAM,
						  memory_order_release);
}

int fdreg_internal_in(unsigned int first, unsigned int last)
{
	_Atomic uint8_t *k = atomic_load_explicit(&fdreg_kinds, memory_order_acquire);
	unsigned hi = atomic_load_explicit(&fdreg_high, memory_order_relaxed);

	if (k == NULL)
		return -1;
	for (unsigned fd = first; fd <= last && fd < hi; fd++)
		if ((atomic_load_explicit(&k[fd], memory_order_relaxed) & FDREG_KIND_MASK) ==
		    FD_INTERNAL)
			return (int)fd;
	return -1;
}

int fdreg_relocate_internal(int fd)
{
	/* High numbers: out of the way of programs that dup2 onto low fds. */
	struct rlimit rl;
	int start = 3, nfd;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur > 64 && rl.rlim_cur <= fdreg_size)
		start = (int)(rl.rlim_cur / 2);
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, start);

	if (nfd < 0)
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return -1;
	fdreg_clear(fd);
	fdreg_set_internal(nfd);
	shim_inside++;
	real()->close(fd);
	shim_inside--;
	return nfd;
}

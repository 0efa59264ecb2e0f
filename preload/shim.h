/* Internal interface of libsocksify.so: the real libc symbols, the fd registry, the
 * configuration, the re-entrancy guard and the chain dialler. Nothing here is
 * exported (the library is built with -fvisibility=hidden and a version script). */
#ifndef SOCKSIFY_SHIM_H
#define SOCKSIFY_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "conf.h"
#include "dial.h"
#include "route.h"
#include "socks.h"

#define SHIM_EXPORT __attribute__((visibility("default")))
#define SHIM_HIDDEN __attribute__((visibility("hidden")))

struct addrinfo;
struct epoll_event;
struct gaicb;
struct hostent;
struct iovec;
struct mmsghdr;
struct pollfd;
struct __res_state;
struct sigevent;
struct timespec;

/* ---- real.c: the one table of libc symbols we interpose or must call past our hooks ---- */
struct real_syms {
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*close)(int);
	int (*close_range)(unsigned int, unsigned int, int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*getaddrinfo)(const char *, const char *, const struct addrinfo *,
			   struct addrinfo **);
	void (*freeaddrinfo)(struct addrinfo *);
	int (*poll)(struct pollfd *, unsigned long, int);
	/* the datagram family's */
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	int (*sendmmsg)(int, struct mmsghdr *, unsigned int, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	int (*recvmmsg)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*recv_chk)(int, void *, size_t, size_t, int);
	ssize_t (*recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *,
				socklen_t *);
	ssize_t (*read_chk)(int, void *, size_t, size_t);
	long (*syscall)(long, ...);
	/* the resolver's (real_resolver() resolves these on first use) */
	int (*getnameinfo)(const struct sockaddr *, socklen_t, char *, socklen_t, char *,
			   socklen_t, int);
	int (*gethostbyname2_r)(const char *, int, struct hostent *, char *, size_t,
				struct hostent **, int *);
	int (*gethostbyaddr_r)(const void *, socklen_t, int, struct hostent *, char *, size_t,
			       struct hostent **, int *);
	struct hostent *(*gethostbyname2)(const char *, int);
	struct hostent *(*gethostbyaddr)(const void *, socklen_t, int);
	int (*res_nquery)(struct __res_state *, const char *, int, int, unsigned char *, int);
	int (*res_nsearch)(struct __res_state *, const char *, int, int, unsigned char *, int);
	int (*res_nquerydomain)(struct __res_state *, const char *, const char *, int, int,
				unsigned char *, int);
	int (*res_nsend)(struct __res_state *, const unsigned char *, int, unsigned char *, int);
	int (*res_query)(const char *, int, int, unsigned char *, int);
	int (*res_search)(const char *, int, int, unsigned char *, int);
	int (*res_querydomain)(const char *, const char *, int, int, unsigned char *, int);
	int (*res_send)(const unsigned char *, int, unsigned char *, int);
	int (*getaddrinfo_a)(int, struct gaicb **, int, struct sigevent *);
	/* the readiness calls (readiness.c) */
	int (*ppoll)(struct pollfd *, unsigned long, const struct timespec *, const sigset_t *);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *,
		       const sigset_t *);
	int (*epoll_create)(int);
	int (*epoll_create1)(int);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
	/* NULL before glibc 2.35 */
	int (*epoll_pwait2)(int, struct epoll_event *, int, const struct timespec *,
			    const sigset_t *);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	/* _FORTIFY_SOURCE's poll and ppoll (glibc calls its own poll past ours) */
	int (*poll_chk)(struct pollfd *, unsigned long, int, size_t);
	int (*ppoll_chk)(struct pollfd *, unsigned long, const struct timespec *,
			 const sigset_t *, size_t);
};
/* The table and its "resolved" flag, read directly by real() so that the hot hooks
 * (read, write) pay one load, not a call, once the constructor has run. */
extern struct real_syms real_table SHIM_HIDDEN;
extern bool real_ready SHIM_HIDDEN;
const struct real_syms *real_slow(void);
/* Resolved once (pthread_once); safe to call from any hook at any time. */
static inline const struct real_syms *real(void)
{
	if (__builtin_expect(__atomic_load_n(&real_ready, __ATOMIC_ACQUIRE), 1))
		return &real_table;
	return real_slow();
}
/* read, write, close and syscall for the hot hooks: the table's once it is resolved, before
 * that each resolved alone (real.c), so a program that never reaches a hook needing
 * the table does not pay for it. */
enum real_fast { REAL_FAST_READ, REAL_FAST_WRITE, REAL_FAST_CLOSE, REAL_FAST_SYSCALL, REAL_FAST_N };
void *real_fast_slow(enum real_fast i);
#define REAL_FAST(field, idx)                                                     \
	(__builtin_expect(__atomic_load_n(&real_ready, __ATOMIC_ACQUIRE), 1)      \
		 ? real_table.field                                                \
		 : (__typeof__(real_table.field))real_fast_slow(idx))
/* The same table with the resolver's symbols resolved too. */
const struct real_syms *real_resolver(void);
void real_init(void);

/* ---- guard.c: the re-entrancy guard ---- */
/* The guard: set while the shim itself calls libc, so our own calls (and those libc
 * makes for us, e.g. getaddrinfo's sockets) go straight through. */
extern __thread int shim_inside;

/* ---- init.c: the configuration, loaded once on first need, immutable after ---- */
/* NULL when the configuration is bad (the error was logged once); connections that
 * would be proxied must then fail. */
const struct socksify_conf *shim_conf(void);
/* True when the library must stay out of the way (nothing configured machine-wide,
 * PID 1, socksifyd, exclude_program): hooks pass every call straight to libc.
 * shim_conf() then describes a pass-through configuration. */
bool shim_inert(void);
/* Did someone ask for the library by name (LD_PRELOAD names it: the launcher, eval
 * "$(socksify --env)", a user's own) or set a SOCKSIFY_* setting? Then unconfigured
 * means the default proxy, as documented. Loaded only through /etc/ld.so.preload it
 * means: stay inert, and do nothing at start-up. No system call. */
bool shim_asked_for(void);
/* The program wants the log file's fd number (dup2 onto it): move the log away. */
void shim_relocate_log(int fd);
/* Our internal fd was closed behind our back (a raw syscall): forget it, and stop
 * writing the log there, since the number now belongs to the program. */
void shim_lost_internal(int fd);

/* ---- guard.c: the set-up lock fork waits for ---- */
/* Around every one-time set-up (pthread_once routines): fork waits for it. */
void shim_setup_begin(void);
void shim_setup_end(void);

/* ---- fdreg.c: the one record per fd, classified by one atomic load ---- */
enum fd_kind {
	FD_NONE = 0,       /* the program's, untouched */
	FD_TUNNEL = 1,     /* connected through the chain: getpeername shows the destination */
	FD_INTERNAL = 2,   /* the shim's own (log file): protected from the program */
	FD_CONNECTING = 3, /* a tunnel whose handshake is still running (asynchronous connect) */
};
enum fd_kind fdreg_kind(int fd);
/* Beside the kind, one bit: a UDP socket the datagram family manages (dgram_state.c
 * keeps its state). So close() learns with one load that an fd is none of ours. */
#define FDREG_DGRAM 4u
/* True when the shim knows anything about fd (any kind, or the datagram bit). */
bool fdreg_known(int fd);
void fdreg_set_dgram(int fd, bool on);
bool fdreg_is_dgram(int fd);
/* One above the highest fd ever registered: sweeps stop there. */
unsigned fdreg_high_water(void);
/* fd's datagram association (dgram_state.c's own type), whatever its state; NULL if none
 * was ever attached. Attached once per fd number and kept (never freed): attach
 * fails when one is there already, or fd is past the table. */
struct dg_assoc;
struct dg_assoc *fdreg_assoc(int fd);
bool fdreg_assoc_attach(int fd, struct dg_assoc *a);
/* The asynchronous connect's handshake on fd (the async family fills this in): a
 * state and its context, FD_PENDING_NONE when nothing is pending. */
enum fd_pending {
	FD_PENDING_NONE = 0,
	FD_PENDING_HANDSHAKE, /* the chain's handshake runs; the program polls for it */
	FD_PENDING_FAILED,    /* it failed: the next call reports the errno */
};
void fdreg_set_pending(int fd, enum fd_pending state, void *ctx);
enum fd_pending fdreg_pending(int fd, void **ctx);
/* Records a tunnelled fd: the address the program asked for (its own form) and the
 * first hop (via) the socket is really connected to. */
void fdreg_set_tunnel(int fd, const struct sockaddr *sa, socklen_t len,
		      const struct sockaddr *via, socklen_t vialen);
/* Copies the recorded destination, given the kernel's getpeername of fd; false if fd
 * is not tunnelled, or if kernel_peer is not our hop (a stale record: dropped). */
bool fdreg_peer(int fd, const struct sockaddr *kernel_peer, struct sockaddr_storage *ss,
		socklen_t *len);
void fdreg_clear(int fd);
/* dup2/dup3: new now refers to the same connection as old. */
void fdreg_copy(int oldfd, int newfd);
void fdreg_set_internal(int fd);
void fdreg_set_connecting(int fd);
/* Still the same open file we registered (not closed and reused behind our back). */
bool fdreg_internal_valid(int fd);
/* Forgets every tunnelled fd in [first, last] (close_range). */
void fdreg_clear_range(unsigned int first, unsigned int last);
/* The lowest internal fd in [first, last], or -1. */
int fdreg_internal_in(unsigned int first, unsigned int last);
/* Moves an internal fd out of the way of a program that wants its number; returns the
 * new fd or -1. */
int fdreg_relocate_internal(int fd);

/* ---- fdops.c: the fd hooks' vfork check ---- */
/* Records the pid that owns the registries (fdreg.c, when it makes them). */
void fdops_record_pid(void);

/* ---- fork handlers: each file's, called by init.c's one pthread_atfork ---- */
void async_atfork_prepare(void);
void async_atfork_parent(void);
void async_atfork_child(void);
void chain_atfork_prepare(void);
void chain_atfork_parent(void);
void chain_atfork_child(void);
void dg_atfork_prepare(void);
void dg_atfork_child(void);
void fdops_atfork_child(void);
void guard_atfork_prepare(void);
void guard_atfork_parent(void);
void guard_atfork_child(void);
void localnames_atfork_child(void);
void pipe_atfork_child(void);
void rs_atfork_prepare(void);
void rs_atfork_parent(void);
void rs_atfork_child(void);

/* ---- chain.c: dialling through the configured chain ---- */
/* The dialler's I/O seam past our own hooks (libc's send/recv/poll/connect), for
 * every handshake the shim makes: the chain's and the UDP associations'. */
struct dial_io;
extern const struct dial_io chain_io;
/* Runs the chain on fd (a TCP socket of family `family`) to dst. Returns 0 with via
 * set to the first hop's address, or an errno, having logged one warn line naming
 * the hop and the reason. dial_flags: DIAL_F_PIPELINE or 0. */
int chain_connect(int fd, int family, const struct socks_addr *dst,
		  struct sockaddr_storage *via, socklen_t *vialen, unsigned dial_flags);

/* The same, as a job that never blocks (the asynchronous connect drives it from
 * readiness events): the hops of the current attempt, the dial running them, and
 * what is needed to fail over to the next proxy. Big (~18 KB): heap or a big stack. */
struct chain_try {
	struct dial_hop hops[DIAL_MAX_HOPS];
	size_t idx[DIAL_MAX_HOPS]; /* which proxy each hop is */
	size_t n;
};
struct chain_job {
	const struct socksify_conf *conf;
	int fd, family;
	struct socks_addr dst;
	unsigned dial_flags;
	size_t order[CONF_MAX_PROXIES];
	bool dead[CONF_MAX_PROXIES];
	size_t want, attempt;
	uint64_t deadline; /* on dial_now_ms()'s clock */
	struct chain_try t;
	struct dial d;
	size_t suspect;    /* hop number (1-based) retried step by step after a stall; 0 */
	int err;           /* the errno connect() reports, once FAILED */
	char msg[DIAL_MSG_MAX];
};
/* Each returns DIAL_DONE, DIAL_FAILED (err set, one warn line logged) or the state
 * the dial waits in: then wait for dial_events(&j->d) on fd, or until
 * chain_job_wake(), and call chain_job_step / chain_job_tick. */
enum dial_state chain_job_start(struct chain_job *j, int fd, int family,
				const struct socks_addr *dst, unsigned dial_flags);
enum dial_state chain_job_step(struct chain_job *j);
enum dial_state chain_job_tick(struct chain_job *j, uint64_t now_ms);
uint64_t chain_job_wake(const struct chain_job *j);
/* The first hop's address (what the kernel's getpeername shows); returns its length. */
socklen_t chain_job_via(const struct chain_job *j, struct sockaddr_storage *via);
/* The resolver for common/hops.c: libc's getaddrinfo past our hooks, cached per
 * proxy (a proxy is never the program's destination, so this leaks no names). */
struct hops_resolver;
void chain_resolver(const struct socksify_conf *c, struct hops_resolver *r);
/* True when dst is one of c's proxies' own addresses (never tunnelled: no loops),
 * literals and the addresses their names resolved to alike. */
bool chain_is_proxy_addr(const struct socksify_conf *c, const struct socks_addr *dst);

/* ---- connect.c: the connect path, for every caller inside the shim (TCP Fast Open,
 * syscall(SYS_connect)) as for the exported connect() ---- */
int shim_connect(int fd, const struct sockaddr *sa, socklen_t len);

/* ---- policy.c: the routing decision (common/route.c) for a destination ---- */
/* Decides for dst as the program gave it (an address), with the name behind it when
 * there is one (a fake address's, or one the program resolved here under a rule). */
void shim_route(const struct socks_addr *dst, enum route_proto proto, struct route *out);

/* ---- localnames.c: names resolved here that a rule names ---- */
/* getaddrinfo answered node with res on this host: remember the addresses when a
 * block or direct rule names node, so connects to them are decided by the name. */
void shim_route_note(const char *node, const struct addrinfo *res);
/* The name (with dst's port) the program resolved here to dst's address, if any. */
bool localnames_find(const struct socks_addr *dst, struct socks_addr *name);

/* ---- pipeline.c: which proxies take a pipelined SOCKS5 handshake ---- */
/* DIAL_F_PIPELINE unless the configuration says pipeline = off. */
unsigned shim_dial_flags(void);
/* With pipeline = auto: true when p was seen to stall on pipelining (by any of the
 * user's processes, within a day), or is suspected of it in this process. */
bool pipeline_refused(const struct socksify_conf *c, const struct proxy *p);
/* True when p turned out slow rather than stalling: no stall check for it. */
bool pipeline_slow(const struct socksify_conf *c, const struct proxy *p);
/* p (hop number `hop`) gave no reply to a pipelined request in time: suspected. */
void pipeline_suspect(const struct socksify_conf *c, const struct proxy *p, size_t hop);
/* The step-by-step retry's answer to a suspect: quick (stalled: remembered in the
 * user's file, logged once) or as slow (a slow proxy: pipelining kept). */
void pipeline_verdict(const struct socksify_conf *c, const struct proxy *p, size_t hop,
		      bool stalled);

#endif

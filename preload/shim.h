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
#include "socks.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

struct addrinfo;
struct epoll_event;
struct pollfd;

/* ---- real.c: every libc symbol we interpose or must call past our own hooks ---- */
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
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*recv)(int, void *, size_t, int);
	int (*poll)(struct pollfd *, unsigned long, int);
	/* the readiness calls (readiness.c) */
	int (*ppoll)(struct pollfd *, unsigned long, const struct timespec *, const sigset_t *);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *,
		       const sigset_t *);
	int (*epoll_create)(int);
	int (*epoll_create1)(int);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	/* _FORTIFY_SOURCE's poll and ppoll (glibc calls its own poll past ours) */
	int (*poll_chk)(struct pollfd *, unsigned long, int, size_t);
	int (*ppoll_chk)(struct pollfd *, unsigned long, const struct timespec *,
			 const sigset_t *, size_t);
};
/* Resolved once (pthread_once); safe to call from any hook at any time. */
const struct real_syms *real(void);
void real_init(void);

/* ---- init.c: the configuration, loaded once on first need, immutable after ---- */
/* The guard: set while the shim itself calls libc, so our own calls (and those libc
 * makes for us, e.g. getaddrinfo's sockets) go straight through. */
extern __thread int shim_inside;

/* NULL when the configuration is bad (the error was logged once); connections that
 * would be proxied must then fail. */
const struct socksify_conf *shim_conf(void);
/* The program wants the log file's fd number (dup2 onto it): move the log away. */
void shim_relocate_log(int fd);
/* Our internal fd was closed behind our back (a raw syscall): forget it, and stop
 * writing the log there, since the number now belongs to the program. */
void shim_lost_internal(int fd);

/* ---- fdops.c: fork handling ---- */
/* Around every one-time set-up (pthread_once routines): fork waits for it. */
void shim_setup_begin(void);
void shim_setup_end(void);

/* ---- fdreg.c: what the shim knows about each fd, classified by one atomic load ---- */
enum fd_kind {
	FD_NONE = 0,      /* the program's, untouched */
	FD_TUNNEL = 1,    /* connected through the chain: getpeername shows the destination */
	FD_INTERNAL = 2,  /* the shim's own (log file): protected from the program */
	FD_CONNECTING = 3, /* an asynchronous connect's handshake (async.c has the rest) */
};
enum fd_kind fdreg_kind(int fd);
/* Beside the kind, one bit: a UDP socket the datagram family manages (datagram.c
 * keeps its state). So close() learns with one load that an fd is none of ours. */
#define FDREG_DGRAM 4u
/* True when the shim knows anything about fd (any kind, or the datagram bit). */
bool fdreg_known(int fd);
void fdreg_set_dgram(int fd, bool on);
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

/* ---- chain.c: dialling through the configured chain ---- */
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
/* True when sa is one of the proxies' own addresses (never tunnelled: no loops). */
bool chain_is_proxy_addr(const struct socks_addr *dst);

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

/* ---- connect.c: the remote-DNS hook point (a later issue fills it) ---- */
/* Maps a fake address handed out by the resolver back to the name it stands for;
 * false for a real address. */
bool shim_fake_name(const struct socks_addr *addr, struct socks_addr *name_out);

#endif

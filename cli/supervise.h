/* The launcher's second mechanism: for programs LD_PRELOAD cannot reach (static
 * binaries, Go), socksify installs a seccomp filter in the child before exec and stays
 * as its supervisor. connect(), the datagram calls with a destination and
 * io_uring_setup come to us as user notifications (SECCOMP_RET_USER_NOTIF); we take
 * the program's own socket with pidfd_getfd(), act on it (a SOCKS handshake, a
 * redirect to our DNS responder, a refusal) and answer the system call. The data path
 * stays the kernel's. Optionally (--jail) the program also runs in a network
 * namespace of its own whose only way out is a relay to the first proxy.
 *
 *   supervise.c        options, fork, filter, listener hand-off, jail set-up, wait
 *   supervise_elf.c    does this program need the supervisor (static, Go)?
 *   supervise_notif.c  the notification workers: connect, sendto/sendmsg/sendmmsg
 *   supervise_route.c  the routing decision and the chain for a supervised socket
 *   supervise_dns.c    the DNS responder (UDP and TCP) that answers from the name table
 *   supervise_relay.c  the jail's relay: jail loopback -> first proxy */
#ifndef SOCKSIFY_SUPERVISE_H
#define SOCKSIFY_SUPERVISE_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf.h"
#include "nametable.h"
#include "socks.h"

enum sv_mode {
	SV_AUTO,         /* supervise static and Go programs, preload the rest */
	SV_SUPERVISE,    /* --supervise: always (the library is preloaded too) */
	SV_PRELOAD_ONLY, /* --preload-only: never */
};

/* ---- supervise_elf.c ---- */
struct sv_elf {
	bool elf;        /* an ELF file we could read */
	bool is_static;  /* no PT_INTERP */
	bool is_go;      /* .go.buildinfo / .note.go.buildid / Go runtime symbols */
	bool native;     /* our own class and machine (the filter knows only ours) */
};
/* Reads path (a resolved COMMAND; a #! script is judged by its interpreter). */
bool sv_elf_probe(const char *path, struct sv_elf *out);

/* ---- supervise.c ---- */
/* Runs command under supervision (with jail: in its own network namespace). Returns
 * the exit status for socksify (the program's, or CLI_EXIT_*). */
int sv_run(char **command, const struct socksify_conf *c, bool jail);

/* ---- shared state of one supervised run ---- */
#define SV_MAX_NS 8

struct sv_proxy_addr {
	struct sockaddr_storage sa; /* resolved once, from outside any jail */
	socklen_t salen;            /* 0: did not resolve */
	uint16_t relay_port;        /* --jail: the jail's loopback port relaying to it */
};

struct sv {
	const struct socksify_conf *conf;
	/* The shared name table, attached on first use (sv_nt): most runs never
	 * resolve a name, and the table's file would outlive them. */
	bool nt_on;                   /* dns=remote */
	struct nt_params ntp;
	struct nametable nt_;         /* only through sv_nt() */
	int nt_state;                 /* 0 not yet, 1 attached, -1 failed */
	pthread_mutex_t nt_lock;
	bool jail;
	int listener;                 /* the seccomp notification fd */
	struct sv_proxy_addr px[CONF_MAX_PROXIES];
	int relay_fd[CONF_MAX_PROXIES]; /* --jail: listeners inside the jail, -1 none */
	/* The name servers of /etc/resolv.conf (port 53 implied). */
	struct socks_addr ns[SV_MAX_NS];
	int nns;
	/* Our DNS responder: where redirected queries go. Inside the jail when jailed. */
	int dns_udp4, dns_udp6, dns_tcp4, dns_tcp6; /* -1: none */
	/* --jail: a helper process left in the jail that makes loopback datagram
	 * sockets there for us (sv_jail_dgram); -1 when not jailed. */
	int factory;
	pthread_mutex_t factory_lock;
	uint16_t dns_udp4_port, dns_udp6_port, dns_tcp4_port, dns_tcp6_port;
};

/* Starts fn(arg) on a detached thread (stack: 0 for the default size). */
bool sv_spawn(void *(*fn)(void *), void *arg, size_t stack);

/* A thread that accepts on up to SV_ACCEPT_MAX listeners (-1: none) and hands each
 * connection to on_conn (which owns fd), with the listener's index. */
#define SV_ACCEPT_MAX CONF_MAX_PROXIES
struct sv_acceptor {
	struct sv *s;
	int fd[SV_ACCEPT_MAX];
	size_t n;
	void (*on_conn)(struct sv *s, size_t idx, int fd);
};
void *sv_accept_loop(void *arg);

/* The name table: attached (create: created if need be) on first use; NULL when
 * dns=local, or it does not exist (create false) or cannot be opened. */
struct nametable *sv_nt(const struct sv *s, bool create);

/* ---- supervise_route.c ---- */
enum sv_verdict {
	SV_PASS,   /* connect/send as asked (loopback, direct rule, the proxy itself) */
	SV_REFUSE, /* fail with *err, nothing sent */
	SV_PROXY,  /* through the chain, to *dst (a fake address replaced by its name);
		    * for a datagram, through UDP ASSOCIATE */
	SV_DNS,    /* a query to a system name server: our responder answers it */
};
/* The decision for a destination of a supervised socket (stream or datagram). */
enum sv_verdict sv_route(const struct sv *s, bool stream, struct socks_addr *dst, int *err);
/* Runs the chain on fd (the program's socket, duplicated) to dst. 0 or an errno. */
int sv_chain_connect(const struct sv *s, int fd, int family, const struct socks_addr *dst);
/* --jail: a connect to a proxy (the library's own, in a --supervise'd dynamic
 * program) goes to that proxy's relay port on the jail's loopback: true and *ss. */
bool sv_jail_proxy(const struct sv *s, const struct socks_addr *dst, int fd, int family,
		   struct sockaddr_storage *ss, socklen_t *len);
/* A direct connection to a name (a fake address under a direct rule): resolved here,
 * connected on fd. 0 or an errno. */
int sv_connect_name(const struct sv *s, int fd, int family, const struct socks_addr *name);
/* A UDP ASSOCIATE through the (single) proxy: the control connection in *ctrl and the
 * relay's address. 0 or an errno. */
int sv_udp_associate(const struct sv *s, int *ctrl, struct sockaddr_storage *relay,
		     socklen_t *rlen);
/* Reads the nameserver lines of /etc/resolv.conf into s->ns. */
void sv_read_resolv(struct sv *s);
/* Resolves every proxy of the chain (from outside the jail). */
void sv_resolve_proxies(struct sv *s);

/* ---- supervise_dns.c ---- */
/* Creates the responder's sockets on loopback (in the calling thread's network
 * namespace), all -1 on failure. */
void sv_dns_open(struct sv *s);
/* Starts the threads that answer on them, once, when the first query is redirected
 * there (most programs never resolve a name: no threads for them). False if they
 * could not be started. */
bool sv_dns_start(const struct sv *s);
/* Answers one query (any transport) into out. Returns the answer's length, 0 for no
 * answer at all (not even a header to echo). */
size_t sv_dns_answer(const struct sv *s, const uint8_t *q, size_t qlen, uint8_t *out,
		     size_t cap, bool udp);
/* The responder's address for a socket of this family (v6only: no mapped address). */
bool sv_dns_addr(const struct sv *s, bool stream, int family, bool v6only,
		 struct sockaddr_storage *ss, socklen_t *len);

/* --jail: a new datagram socket bound to the jail's loopback (family AF_INET or
 * AF_INET6), made by the helper; -1 on failure. */
int sv_jail_dgram(struct sv *s, int family);

/* ---- supervise_udp.c ---- */
/* A datagram socket bound to loopback, port 0, in the calling thread's network
 * namespace; *ss and *len its address. -1 on failure. */
int sv_loopback_dgram(int family, struct sockaddr_storage *ss, socklen_t *len);
/* Connects the program's datagram socket fd to a new flow relaying to dst through
 * UDP ASSOCIATE. 0 or an errno. */
int sv_udp_connect(struct sv *s, int fd, int family, const struct socks_addr *dst);

/* ---- supervise_relay.c ---- */
/* Opens the jail's relay listeners (call inside the jail, before exec). */
bool sv_relay_open(struct sv *s);
/* Starts the thread that accepts on them and forwards to the proxies. */
bool sv_relay_start(struct sv *s);

/* ---- supervise_notif.c ---- */
/* Serves notifications on s->listener with a pool of worker threads that grows with
 * load. Returns false if no worker could be started. */
bool sv_notif_start(struct sv *s);

#endif

/* The datagram family's own interface between its files (not the rest of the shim's:
 * that is datagram.h): a UDP socket's association record and its state machine
 * (dgram_state.c), setting associations up and deciding which datagrams use them
 * (dgram_assoc.c), sending (dgram_send.c) and receiving (dgram_recv.c). */
#ifndef SOCKSIFY_DGRAM_H
#define SOCKSIFY_DGRAM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "dial.h"
#include "dns53.h"
#include "route.h"
#include "socks.h"

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

/* The largest payload a UDP datagram can carry over IPv4 or IPv6. */
#define DG_PAYLOAD_MAX 65535
/* Received datagrams up to this size are unwrapped on the stack. */
#define DG_STACK_BUF 2048
#define DG_IOV_MAX 1024
/* iovecs up to this many are copied on the stack (program stacks may be small). */
#define DG_IOV_STACK 8
/* A held port-53 answer up to this size (its header included); longer ones go to
 * the kernel at once. */
#define DG_HELD_MAX 1024
/* A socket that only carries port-53 queries is checked against the kernel this often. */
#define DG_RECHECK_MS 50
/* After a failed association set-up, sends fail at once for this long. */
#define DG_RETRY_MS 1000

/* The association's life: IDLE until the first proxied datagram sets it up, UP with
 * one control connection per hop; a set-up that fails waits in BACKOFF (sends fail
 * with its errno) for DG_RETRY_MS, then is IDLE again; an association the proxy
 * closes is LOST for good (sends fail with ECONNRESET). */
enum dg_state {
	DG_IDLE,
	DG_UP,
	DG_BACKOFF,
	DG_LOST,
};

/* The association of a UDP socket, hung on its fd's record in the registry
 * (fdreg.c), made on first use and never freed (a hook of another thread may still
 * hold it while this one closes the fd: it then finds it inactive or reset, never
 * freed memory). The registry's datagram bit says, with one load, that there is one. */
struct dg_assoc {
	pthread_mutex_t mu;
	_Atomic bool active;
	/* The socket's identity, to tell it from a number closed past our close() hook
	 * (fclose of an fdopen'd socket, syscall(SYS_close)) and reused. */
	dev_t dev;
	ino_t ino;
	int fd;                        /* the program's socket this record is for */
	int family;                    /* the socket's: AF_INET or AF_INET6 */
	enum dg_state state;           /* only through dg_set_state() */
	int err;                       /* BACKOFF / LOST: what sends fail with */
	uint64_t retry_ms;             /* BACKOFF: the next set-up is tried from then on */
	/* One association per hop: hop k's control connection runs through hops
	 * 0..k-1 (CONNECT) and asks hop k for UDP ASSOCIATE; a datagram carries one
	 * header per hop, the outermost for hop 0's relay. nctl 0: none yet. */
	int ctl[DIAL_MAX_HOPS];        /* internal fds */
	size_t nctl;
	struct socks_addr inner[DIAL_MAX_HOPS]; /* inner[k]: hop k's relay, k >= 1 */
	struct sockaddr_storage relay; /* hop 0's relay, in the socket's family */
	socklen_t relaylen;
	/* connect()ed to a destination through the proxy: the kernel socket is
	 * connected to the relay, send() goes to peer_dst. */
	bool connected;
	struct sockaddr_storage peer;  /* as the program gave it (getpeername) */
	socklen_t peerlen;
	struct socks_addr peer_dst;    /* what the relay is asked for (a name for a fake) */
	/* The last fake address sent to: a reply from that port is reported as coming
	 * from it, since the relay names the resolved address, not the name. */
	struct sockaddr_storage lastfake;
	socklen_t lastfakelen;
	bool has_lastfake;
	/* Port-53 queries to the system's name servers, answered here (dns53_sock.c);
	 * for a TCP socket connected to one (dns.tcp_fd >= 0), the whole record. */
	struct dns53_sock dns;
	/* A port-53 answer held in memory (dgram_held.c): the datagram the socket would
	 * have sent itself (one SOCKS5 UDP header naming the server, the answer). */
	uint16_t held_len;
	uint8_t held[DG_HELD_MAX];
	uint64_t checked_ms;           /* a port-53-only socket last checked (fstat) then */
};

/* ---- dgram_state.c: the records ---- */
/* The active record of fd as the registry holds it, or NULL: one load, no check
 * against the kernel (for a record looked up with dg_get a moment ago). */
struct dg_assoc *dg_lookup(int fd);
/* The active record of fd, or NULL: one registry load for an fd we do not manage; a
 * managed one is checked against the kernel (a number reused behind our back drops
 * its record). */
struct dg_assoc *dg_get(int fd);
/* Makes fd's record active and fresh (IDLE); NULL when out of memory or range. */
struct dg_assoc *dg_register(int fd, int family);
/* The one setter of d->state (caller holds d->mu); err: what BACKOFF and LOST fail
 * sends with. */
void dg_set_state(struct dg_assoc *d, enum dg_state st, int err);
uint64_t dg_now_ms(void);
/* Closes d's control connections (caller holds d->mu). */
void dg_drop_ctl(struct dg_assoc *d);
void dg_close_fds(const int *fds, size_t n);
/* fd moved high up, out of the way of programs that dup2 onto low numbers. */
int dg_high_fd(int fd);

/* ---- dgram_assoc.c: associations and which datagrams use them ---- */
enum dg_policy {
	DG_PASS,     /* libc, untouched */
	DG_PROXY,    /* wrapped, to the relay */
	DG_REFUSE,   /* fail with *err, nothing sent */
	DG_FASTOPEN, /* TCP Fast Open: through connect(), then send */
	DG_DNS53,    /* a query to a name server of resolv.conf: answered here */
};

/* Classifies a datagram (or UDP connect) to sa. *dp: the socket's record as the
 * caller looked it up (dg_get), or NULL. On DG_PROXY and DG_DNS53 *dst is what the
 * relay is asked for (the name server) and *dp the socket's record; on DG_REFUSE
 * *err and *why say why. */
enum dg_policy dg_classify(int fd, const struct sockaddr *sa, socklen_t len, int flags,
			   struct socks_addr *dst, int *err, enum route_reason *why,
			   struct dg_assoc **dp);
/* Fails the call with err, one warn line per reason and process. */
int dg_refuse(int fd, const struct socks_addr *dst, enum route_reason why, int err);
/* The association up and alive, set up if need be; 0 or the errno to fail with.
 * Caller holds d->mu; errno is left as it was. */
int dg_ready(struct dg_assoc *d, const struct socks_addr *dst);

/* ---- dgram_send.c / dgram_recv.c ---- */
struct msghdr;
/* d: fd's record as the hook looked it up (NULL for none): one dg_get per call. */
ssize_t dg_sendmsg(int fd, struct dg_assoc *d, const struct msghdr *msg, int flags);
ssize_t dg_send_buf(int fd, struct dg_assoc *d, const void *buf, size_t len, int flags,
		    const struct sockaddr *sa, socklen_t salen);
ssize_t dg_recvmsg(int fd, struct dg_assoc *d, struct msghdr *msg, int flags);
ssize_t dg_recv_buf(int fd, struct dg_assoc *d, void *buf, size_t len, int flags,
		    struct sockaddr *sa, socklen_t *salen);

/* ---- dgram_held.c: port-53 answers held in memory (single-threaded processes) ----
 * Keeps dgram (len bytes, the datagram for the socket itself) on d instead of sending
 * it; false when it must be sent now. Caller holds d->mu. */
bool dg_hold(int fd, struct dg_assoc *d, const uint8_t *dgram, size_t len);
/* d's held answer sent to its socket / forgotten (caller holds d->mu). */
void dg_held_flush_locked(int fd, struct dg_assoc *d);
void dg_held_drop_locked(int fd, struct dg_assoc *d);
/* The child of a fork starts the list's lock afresh. */
void dg_held_fork_child(void);
#define DG_HELD_NONE (-2)
/* recvmsg from memory: the held datagram into buf (cap bytes) as the kernel would
 * give it (*src the socket itself, *mflags MSG_TRUNC when cut), its length; consumed
 * unless MSG_PEEK. DG_HELD_NONE when there is none (want_ctl: the caller asks for
 * control messages, which only the kernel has: the answer is flushed to it). */
ssize_t dg_held_take(int fd, struct dg_assoc *d, uint8_t *buf, size_t cap, int flags,
		     bool want_ctl, struct sockaddr_storage *src, socklen_t *srclen,
		     int *mflags);

/* ---- tfo.c: TCP Fast Open through the connect path ---- */
ssize_t shim_fastopen(int fd, const struct msghdr *msg, int flags);

#endif

/* The client side of a proxy chain: one explicit state machine that connects a socket
 * to the first hop and runs each hop's handshake (SOCKS5, SOCKS4/4a, HTTP CONNECT)
 * through the hops before it. Shared by the shim (on the program's own fd) and the
 * launcher's --check. Wire formats come from socks.h; all I/O goes through
 * struct dial_io so unit tests script short reads, EAGAIN, EOF and bad replies.
 *
 * dial_step() never blocks: it advances as far as the socket allows and says what to
 * wait for (dial_events()). dial_run() is the blocking driver with one deadline for
 * the whole chain. A later, non-blocking connect() can drive dial_step() from the
 * program's own poll/epoll without changing this interface. */
#ifndef SOCKSIFY_DIAL_H
#define SOCKSIFY_DIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "conf.h"
#include "socks.h"

/* Named by step; one hop's protocol states are reused for every hop in turn. */
enum dial_state {
	DIAL_START,         /* nothing done yet */
	DIAL_TCP_CONNECT,   /* non-blocking connect() to the first hop issued */
	S5_SEND_GREETING,   /* (with DIAL_F_PIPELINE: greeting + auth + request) */
	S5_RECV_METHOD,
	S5_SEND_AUTH,
	S5_RECV_AUTH,
	S5_SEND_REQUEST,
	S5_RECV_REPLY,
	S4_SEND_REQUEST,
	S4_RECV_REPLY,
	HTTP_SEND_CONNECT,
	HTTP_RECV_REPLY,
	DIAL_DONE,          /* the socket now carries the program's stream to dst */
	DIAL_FAILED,        /* err and msg say why, fail_hop says where */
};
const char *dial_state_name(enum dial_state s);

/* The I/O seam. Any member left NULL defaults to the libc call (send/recv always
 * with MSG_DONTWAIT added, so a blocking socket never blocks the state machine).
 * The shim passes its real_* pointers so its own hooks are never re-entered. */
struct dial_io {
	ssize_t (*send)(void *ctx, int fd, const void *buf, size_t len, int flags);
	ssize_t (*recv)(void *ctx, int fd, void *buf, size_t len, int flags);
	/* Wait for events (POLLIN/POLLOUT) up to timeout_ms: the revents seen (>0)
	 * when ready, 0 on timeout, -1 with errno (EINTR is retried by dial_run). */
	int (*wait)(void *ctx, int fd, short events, int timeout_ms);
	/* connect(2): 0, or -1 with errno (EINPROGRESS expected: dial sets O_NONBLOCK
	 * around this one call when the socket is blocking, restoring it exactly). */
	int (*connect)(void *ctx, int fd, const struct sockaddr *sa, socklen_t len);
	/* The pending SO_ERROR of fd (0 when connected), or an errno if getsockopt fails. */
	int (*sock_error)(void *ctx, int fd);
	/* fcntl(F_GETFL) / fcntl(F_SETFL): the one flag dial touches is O_NONBLOCK. */
	int (*getfl)(void *ctx, int fd);
	int (*setfl)(void *ctx, int fd, int flags);
	/* Monotonic milliseconds (CLOCK_MONOTONIC by default). */
	uint64_t (*now_ms)(void *ctx);
	void *ctx;
};

/* One proxy of the chain as dial uses it. */
struct dial_hop {
	const struct proxy *proxy;    /* type, credentials, host:port for messages */
	/* Where the hop before this one is asked to connect: an address, or a name
	 * when the previous hop can resolve it (socks5, socks4a, http). */
	struct socks_addr addr;
	/* For the first hop only: the address the socket connects to, already in the
	 * socket's family (an IPv4 proxy as ::ffff:a.b.c.d for an AF_INET6 socket). */
	struct sockaddr_storage sa;
	socklen_t salen;
	/* This hop is known (or suspected) to stall on a pipelined handshake: ask step
	 * by step even with DIAL_F_PIPELINE. */
	bool nopipe;
	/* This hop is known to be slow to answer, not to stall: no stall check. */
	bool nostall;
};

#define DIAL_MAX_HOPS CONF_MAX_PROXIES

/* Flags for dial_init. */
#define DIAL_F_PIPELINE 0x1   /* SOCKS5: greeting + auth + request in one write */
#define DIAL_F_CONNECTED 0x2  /* the socket is already connected to the first hop */

#define DIAL_MSG_MAX 256
/* Big enough for an HTTP CONNECT request with a 255-byte name and Basic auth of a
 * 255-byte user and password (base64: 684 bytes), headers included. */
#define DIAL_OUT_MAX 2048

struct dial {
	enum dial_state state;
	int fd;
	unsigned flags;
	const struct dial_io *io;
	const struct dial_hop *hops;  /* not owned; must outlive the dial */
	size_t nhops;
	size_t hop;                   /* the hop whose handshake runs now */
	struct socks_addr dst;        /* what the last hop is asked for */
	uint8_t cmd;                  /* SOCKS_CMD_CONNECT, or UDP_ASSOCIATE for --check */

	uint8_t out[DIAL_OUT_MAX];    /* pending bytes to send */
	size_t outlen, outoff;
	uint8_t in[HTTP_HEAD_MAX];    /* reply bytes consumed so far for this message */
	size_t inlen;
	bool pipelined;               /* this hop's auth/request already went out */
	/* The connect to the first hop is not confirmed yet: the first send is made
	 * at once and confirms it (EAGAIN: wait for writability; an error: how the
	 * connect failed), which spares a poll and an SO_ERROR query per connect. */
	bool tcp_pending;

	/* The SOCKS5 hop now running: when its greeting (pipelined or not) went out
	 * and when the method reply came (io->now_ms clock; 0: not yet), for telling a
	 * stall from a slow proxy (dial_pipeline_stall). */
	uint64_t s5_sent_ms, s5_method_ms;

	/* What the hops answered, for --check and for the later UDP path. */
	uint8_t method;               /* last SOCKS5 method selected */
	uint8_t reply;                /* last SOCKS5 REP / SOCKS4 CD */
	int http_status;              /* last HTTP CONNECT status */
	struct socks_addr bound;      /* BND.ADDR/PORT of the last hop's reply */

	/* Optional (0: none): a tighter deadline for the TCP connect to the first hop
	 * alone, so a chain can give up on a black-holed hop and still fail over
	 * within the overall deadline. On the io->now_ms clock. */
	uint64_t connect_deadline_ms;

	/* Result. err: an errno as connect(2) would give it (common/errmap.h);
	 * fail_hop: index of the hop that could not be reached or refused us, nhops
	 * when the destination itself failed (the chain layer skips a dead hop on that
	 * basis); msg: "hop N (URL): reason". */
	int err;
	size_t fail_hop;
	char msg[DIAL_MSG_MAX];
};

/* Sets up a dial of fd through hops[0..nhops-1] to dst. Nothing is sent yet. */
void dial_init(struct dial *d, int fd, const struct dial_hop *hops, size_t nhops,
	       const struct socks_addr *dst, uint8_t cmd, const struct dial_io *io,
	       unsigned flags);

/* Advances without blocking. Returns DIAL_DONE, DIAL_FAILED, or the state it waits in
 * (then poll for dial_events()). */
enum dial_state dial_step(struct dial *d);

/* POLLIN or POLLOUT for the current state; 0 in DONE/FAILED. */
short dial_events(const struct dial *d);

/* Blocking driver: steps and waits until DONE or FAILED or deadline_ms (on the
 * io->now_ms clock) passes (then err ETIMEDOUT naming the state it was stuck in).
 * Returns 0 on DONE, else -1 with d->err set (errno is not touched). */
int dial_run(struct dial *d, uint64_t deadline_ms);

/* A proxy that does not take pipelining (microsocks) answers the greeting and then
 * waits for the request it already swallowed. While a pipelined hop has its method
 * reply but nothing after it, this is the time past which that is suspected:
 * twice the greeting's round trip plus 300 ms, 600 ms at least, after the method
 * reply. 0 when no stall is possible now (or the hop is marked nostall). */
uint64_t dial_pipeline_stall(const struct dial *d);

/* Fails the dial with ETIMEDOUT, naming the state it was stuck in (a first hop that
 * never answered the SYN: "connect: timed out"). For drivers with their own clock. */
void dial_timeout(struct dial *d);

/* The monotonic clock dial uses by default, for computing deadlines. */
uint64_t dial_now_ms(const struct dial_io *io);

#endif

/* One client session: the handshake state machine, the connect/bind/UDP stage and
 * the relay. Every state change goes through session_set_state(), which logs
 * "old -> new" at debug level. Sessions are kept small: the handshake buffer and
 * the connect state exist only during those phases, relay pipes only while data
 * is in flight. */
#ifndef SOCKSIFYD_SESSION_H
#define SOCKSIFYD_SESSION_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ev.h"
#include "socks.h"

enum sess_state {
	SESS_GREETING,   /* waiting for a SOCKS5 greeting or a SOCKS4 request */
	SESS_AUTH,       /* waiting for the RFC 1929 sub-negotiation */
	SESS_AUTH_CHECK, /* a worker is checking a crypt(3) hash */
	SESS_REQUEST,    /* waiting for the SOCKS5 request */
	SESS_RESOLVE,    /* a worker is resolving the destination name */
	SESS_CONNECT,    /* Happy Eyeballs attempts in flight */
	SESS_BIND_WAIT,  /* BIND: listening, waiting for the peer */
	SESS_UDP,        /* UDP ASSOCIATE: relaying datagrams */
	SESS_RELAY,      /* relaying a TCP stream */
	SESS_FAILED,     /* failure reply sent; draining the client before close */
	SESS_DONE,
};
const char *sess_state_name(enum sess_state st);

/* A socket address small enough to keep per session (no sockaddr_storage). */
union sa46 {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};
socklen_t sa46_len(const union sa46 *a);

struct relay_dir {
	struct relay_pipe *pipe; /* borrowed from the pool while bytes sit in it */
	struct relay_buf *buf;   /* copy fallback and early data, while non-empty */
	uint32_t pending;        /* bytes in the pipe */
	uint32_t copy_cap;       /* size of the next copy buffer (0: the smallest) */
	bool eof;                /* the input side ended */
	bool shut;               /* shutdown(SHUT_WR) done on the output side */
	bool copy;               /* splice refused (EINVAL): copy through buf */
	uint64_t bytes;
};

/* Greeting (257) + auth (513) + request (262) all fit with room for early data. */
#define HS_CAP 2048
struct hs_buf {
	uint32_t len;
	uint8_t data[HS_CAP];
};
struct he;
struct udp_assoc;

struct session {
	struct session *prev, *next;
	struct ev_io cio;       /* the client */
	struct ev_io tio;       /* the target, the BIND listener or the UDP relay socket */
	struct ev_timer timer;  /* handshake deadline, idle and linger timeouts */
	enum sess_state state;
	uint8_t ver;            /* 4 or 5 once known */
	uint8_t cmd;
	uint8_t rep;            /* SOCKS5 reply code sent (or that would be sent) */
	bool replied;
	bool reject;            /* over a limit: answer the handshake with a failure */
	bool strict;            /* non-loopback listener: deny local destinations */
	bool client_eof;        /* EOF seen while reading the handshake */
	bool counted;           /* holds a per-client slot */
	bool auth_share;        /* holds one of its client's auth queue places */
	const char *why;        /* how it ended, for the close log line */
	uint64_t start_ms, last_ms;
	uint64_t connect_deadline; /* resolve + connect, set when that phase starts */
	union sa46 client;
	union sa46 dest;        /* the address actually connected to / bound */
	char *user;             /* authenticated user, for the log */
	char *asked;            /* destination as asked, for the log */
	struct hs_buf *hs;      /* handshake input; freed once the relay starts */
	struct he *he;          /* connect attempts, while connecting */
	struct udp_assoc *udp;
	struct pool_job *job;   /* outstanding worker job, if any */
	struct relay_dir up, down;
};

/* Accepted connection from a listener; strict as in struct session. */
void session_accept(int fd, const union sa46 *client, bool strict);
void session_set_state(struct session *s, enum sess_state st);
/* Sends the reply for s->ver (SOCKS5 REP or SOCKS4 CD), bnd may be NULL (zeros). */
bool session_reply(struct session *s, uint8_t rep, const struct socks_addr *bnd);
/* Sends a failure reply and drains the client before closing. */
void session_fail(struct session *s, uint8_t rep, const char *why);
void session_close(struct session *s, const char *why);
void session_touch(struct session *s);
/* Arms the session timer for the current state. */
void session_arm_timer(struct session *s);
void session_close_all(const char *why);
/* Sessions per state, for the SIGUSR1 counters. */
void session_count_states(unsigned long counts[SESS_DONE + 1]);

/* connect.c: Happy Eyeballs over the given addresses (already policy-checked). */
void connect_start(struct session *s, const union sa46 *addrs, unsigned n);
void connect_cancel(struct session *s);

/* relay.c */
void relay_start(struct session *s);
void relay_free(struct session *s);
void relay_pool_drain(void);

/* udp.c */
void udp_start(struct session *s, const struct socks_addr *req);
void udp_free(struct session *s);
/* bind.c */
void bind_start(struct session *s, const union sa46 *expected);

#endif

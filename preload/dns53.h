/* Port-53 queries answered inside the library (issue 12). dns53.c: which addresses
 * are the system's name servers, and the answer to one query message. */
#ifndef SOCKSIFY_DNS53_H
#define SOCKSIFY_DNS53_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "dnsstream.h"
#include "socks.h"

/* dst (port included) is one of /etc/resolv.conf's `nameserver`s on port 53. The
 * file is re-read when it changes (its mtime looked at once a second at most). */
bool dns53_is_server(const struct socks_addr *dst);
/* The answer to one query message msg (len bytes) into out (cap bytes): its length;
 * 0 when it is no query at all (drop it silently); -1 when the query must go to the
 * real server unchanged (numeric names, the hosts file's, `direct` names). udp: the
 * answer is cut to what the query's UDP size allows (TC set). */
int dns53_answer(const uint8_t *msg, size_t len, uint8_t *out, size_t cap, bool udp);
/* The child of a fork starts the name-server list's lock afresh. */
void dns53_fork_child(void);

/* ---- dns53_sock.c: the sockets that carry them ----
 * UDP: an answer is sent by the program's socket to itself (its own address, or
 * loopback when bound to the unspecified one), wrapped in one SOCKS5 UDP header that
 * names the name server, so the datagram family's receive path unwraps it like a
 * relay's and reports the server as the source. Only the socket itself can send
 * from its own address and port, so no one else can forge one. A UDP connect() to a
 * name server connects the kernel socket to itself: it then hears only its answers,
 * as a socket connected to the server hears only the server. TCP: the program's
 * socket is connected to a loopback listener of ours for a moment; the accepted end
 * is kept (internal), the program's writes are taken, split into queries, and the
 * answers written into the accepted end, so the program reads them from its own
 * socket. Per-socket state, kept in the datagram family's record of the fd. */
struct dns53_sock {
	bool on;                      /* answers of ours may arrive: unwrap them */
	bool conn;                    /* UDP connect()ed to server (kernel: to self) */
	struct sockaddr_storage self; /* where answers come from (and go to) */
	socklen_t selflen;
	struct socks_addr server;     /* the connected name server */
	int tcp_fd;                   /* TCP: the accepted end (internal), else -1 */
	struct dns_stream *tcp_in;    /* TCP: the program's bytes of a query not yet whole */
};

/* dst (of a socket of type `type`) is to be answered here: dns=remote, a name server
 * of resolv.conf on port 53. Cheap for every other port. */
bool dns53_wanted(const struct socks_addr *dst, int type);
/* The largest datagram dns53_udp_query makes: one SOCKS5 UDP header and an answer. */
#define DNS53_DGRAM_MAX (4 + 1 + 255 + 2 + 8192)
#define DNS53_FORWARD (-1) /* the query goes to the real server unchanged */
#define DNS53_ERROR (-2)   /* the send fails with errno */
/* A query (msg) sent by fd to server: the datagram for the socket to send to itself
 * (s->self) into out (DNS53_DGRAM_MAX bytes), its length; 0 when no answer is due;
 * DNS53_FORWARD or DNS53_ERROR. Binds fd first if it is not. */
ssize_t dns53_udp_query(int fd, struct dns53_sock *s, const struct socks_addr *server,
			const struct msghdr *msg, uint8_t *out);
/* connect() of a UDP socket to server: the kernel socket is connected to itself. */
int dns53_udp_connect(int fd, struct dns53_sock *s, const struct socks_addr *server,
		      const struct sockaddr *sa, socklen_t len);
/* src is the socket's own address: one of our answers. */
bool dns53_is_self(const struct dns53_sock *s, const struct sockaddr_storage *src,
		   socklen_t srclen);
/* connect() of a TCP socket to a name server: connects fd to a listener of ours and
 * fills s. Returns connect's result. */
int dns53_tcp_connect(int fd, struct dns53_sock *s, const struct sockaddr *sa,
		      socklen_t len);
/* The program wrote msg on a TCP socket of ours: queries answered. Returns the
 * bytes taken (all of them) or -1 with errno. */
ssize_t dns53_tcp_write(struct dns53_sock *s, const struct msghdr *msg);
/* dup: newfd's state from oldfd's (the TCP end duplicated). */
void dns53_sock_copy(struct dns53_sock *to, const struct dns53_sock *from);
/* The socket is gone: its TCP end closed, its buffer freed. */
void dns53_sock_reset(struct dns53_sock *s);

#endif

/* Port-53 queries answered inside the library (issue 12): the sockets that carry
 * them (see dns53.h for the scheme). No thread: every answer is made in the hook that
 * took the query and lands on the program's own socket, so its own recv, poll and
 * epoll see it. Queries that the real server must answer (dns53_answer says -1) go
 * to it unchanged: from the program's socket when it is unconnected, so the answer
 * comes back as it always would; for a socket connected to itself (and for TCP) the
 * exchange is made here, over UDP from a socket of ours, bounded in time, and the
 * answer delivered like ours. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "dns53.h"
#include "dnsmsg.h"
#include "log.h"
#include "shim.h"
#include "udp_wire.h"

#define DNS53_QUERY_MAX 4096   /* a query longer than this is no stub's */
#define DNS53_ANSWER_MAX 8192  /* ours are a few records (DNS53_DGRAM_MAX's part) */
#define DNS53_FORWARD_MS 2000  /* the real server's answer to a forwarded query */

bool dns53_wanted(const struct socks_addr *dst, int type)
{
	const struct socksify_conf *c;

	if (dst->port != 53 || (type != SOCK_DGRAM && type != SOCK_STREAM))
		return false;
	c = shim_conf();
	return c != NULL && c->dns == DNS_REMOTE && dns53_is_server(dst);
}

/* The bytes of msg's iovecs into buf; false when they do not fit. */
static bool dns53_gather(const struct msghdr *msg, uint8_t *buf, size_t cap, size_t *len)
{
	size_t n = 0;

	for (size_t i = 0; i < msg->msg_iovlen; i++) {
		size_t k = msg->msg_iov[i].iov_len;
		if (k > cap - n)
			return false;
		if (k > 0)
			memcpy(buf + n, msg->msg_iov[i].iov_base, k);
		n += k;
	}
	*len = n;
	return true;
}

/* The socket's own address, where answers come from: bound first (to the unspecified
 * address, any port) when it is not yet, as a first sendto would; loopback of its
 * family when bound to the unspecified address. 0 or an errno. */
static int dns53_self(int fd, struct sockaddr_storage *ss, socklen_t *len)
{
	socklen_t l = sizeof(*ss);
	int family;

	memset(ss, 0, sizeof(*ss));
	if (getsockname(fd, (struct sockaddr *)ss, &l) != 0)
		return errno;
	family = ss->ss_family;
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		if (s4->sin_port == 0) {
			struct sockaddr_in any = { .sin_family = AF_INET };
			l = sizeof(*ss);
			if (bind(fd, (struct sockaddr *)&any, sizeof(any)) != 0 ||
			    getsockname(fd, (struct sockaddr *)ss, &l) != 0)
				return errno;
		}
		if (s4->sin_addr.s_addr == htonl(INADDR_ANY))
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*s4);
		return 0;
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		if (s6->sin6_port == 0) {
			struct sockaddr_in6 any = { .sin6_family = AF_INET6 };
			l = sizeof(*ss);
			if (bind(fd, (struct sockaddr *)&any, sizeof(any)) != 0 ||
			    getsockname(fd, (struct sockaddr *)ss, &l) != 0)
				return errno;
		}
		if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
			s6->sin6_addr = (struct in6_addr)IN6ADDR_LOOPBACK_INIT;
		*len = sizeof(*s6);
		return 0;
	}
	return EAFNOSUPPORT;
}

/* Makes sure s knows the socket's own address. 0 or an errno. */
static int dns53_ensure_self(int fd, struct dns53_sock *s)
{
	int err;

	if (s->on)
		return 0;
	err = dns53_self(fd, &s->self, &s->selflen);
	if (err == 0)
		s->on = true;
	return err;
}

bool dns53_is_self(const struct dns53_sock *s, const struct sockaddr_storage *src,
		   socklen_t srclen)
{
	if (!s->on || srclen == 0 || src->ss_family != s->self.ss_family)
		return false;
	if (src->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)src, *b = (const void *)&s->self;
		return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *a = (const void *)src, *b = (const void *)&s->self;
	return a->sin6_port == b->sin6_port &&
	       memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
}

/* The real server's answer to a query, asked here over UDP (from a socket of ours,
 * closed before returning) and waited for at most DNS53_FORWARD_MS. Its length, or
 * -1 when none came. */
static int dns53_forward(const struct socks_addr *server, const uint8_t *q, size_t qlen,
			 uint8_t *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = addr_to_sockaddr(server, &ss);
	struct timespec t0, t1;
	int fd, n = -1;

	if (sl == 0 || qlen < 2)
		return -1;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (real()->connect(fd, (struct sockaddr *)&ss, sl) != 0 ||
	    real()->send(fd, q, qlen, 0) != (ssize_t)qlen)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long spent = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (spent >= DNS53_FORWARD_MS ||
		    real()->poll(&p, 1, (int)(DNS53_FORWARD_MS - spent)) <= 0)
			break;
		ssize_t r = real()->recv(fd, out, cap, MSG_DONTWAIT);
		if (r >= 4 && out[0] == q[0] && out[1] == q[1]) { /* its ID */
			n = (int)r;
			break;
		}
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			break;
	}
out:
	real()->close(fd);
	return n;
}

/* The answer to the query in q: ours, the real server's (asked here when forward),
 * or -1 (forward it unchanged, from the program's socket) / 0 (no answer at all). */
static int dns53_reply(const struct socks_addr *server, const uint8_t *q, size_t qlen,
		       uint8_t *out, size_t cap, bool udp, bool forward_here)
{
	int n = dns53_answer(q, qlen, out, cap, udp);

	if (n >= 0 || !forward_here)
		return n;
	n = dns53_forward(server, q, qlen, out, cap);
	if (n < 0 && !udp) { /* TCP: a question must get an answer */
		struct dns_query dq;
		dns_parse_query(q, qlen, &dq);
		n = dns_reply_error(out, cap, &dq, DNS_R_SERVFAIL);
	}
	return n < 0 ? 0 : n;
}

ssize_t dns53_udp_query(int fd, struct dns53_sock *s, const struct socks_addr *server,
			const struct msghdr *msg, uint8_t *out)
{
	uint8_t q[DNS53_QUERY_MAX];
	size_t qlen;
	ssize_t hl;
	int err, n;

	shim_inside++;
	err = dns53_ensure_self(fd, s);
	shim_inside--;
	if (err != 0) {
		errno = err;
		return DNS53_ERROR;
	}
	if (!dns53_gather(msg, q, sizeof(q), &qlen))
		return s->conn ? 0 : DNS53_FORWARD; /* no stub's query: lost, or the server's */
	hl = udp_wire_wrap(out, UDP_WIRE_HDR_MAX, NULL, 1, server);
	if (hl < 0) {
		errno = EINVAL;
		return DNS53_ERROR;
	}
	shim_inside++;
	n = dns53_reply(server, q, qlen, out + hl, DNS53_DGRAM_MAX - (size_t)hl, true, s->conn);
	shim_inside--;
	if (n < 0)
		return DNS53_FORWARD;
	return n == 0 ? 0 : hl + n;
}

int dns53_udp_connect(int fd, struct dns53_sock *s, const struct socks_addr *server,
		      const struct sockaddr *sa, socklen_t len)
{
	int err, saved = errno;

	shim_inside++;
	err = dns53_ensure_self(fd, s);
	if (err == 0 && real()->connect(fd, (struct sockaddr *)&s->self, s->selflen) != 0)
		err = errno;
	if (err == 0) {
		/* The kernel may have picked a local address on connect: read it again. */
		s->on = false;
		err = dns53_ensure_self(fd, s);
	}
	shim_inside--;
	if (err != 0) {
		errno = err;
		return -1;
	}
	s->server = *server;
	s->conn = true;
	errno = saved;
	return 0;
}

/* A loopback listener of the socket's family on any port; its fd, or -1. */
static int dns53_listener(int family, struct sockaddr_storage *ss, socklen_t *len)
{
	int l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = (struct in6_addr)IN6ADDR_LOOPBACK_INIT;
		*len = sizeof(*s6);
	}
	if (bind(l, (struct sockaddr *)ss, *len) != 0 || listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)ss, len) != 0) {
		real()->close(l);
		return -1;
	}
	return l;
}

int dns53_tcp_connect(int fd, struct dns53_sock *s, const struct sockaddr *sa,
		      socklen_t len)
{
	struct sockaddr_storage ls;
	socklen_t ll = sizeof(ls);
	int family = 0, err = 0, saved = errno, l, acc = -1, fl;
	socklen_t ol = sizeof(family);

	s->tcp_in = malloc(sizeof(*s->tcp_in));
	if (s->tcp_in == NULL) {
		errno = ENOMEM;
		return -1;
	}
	dns_stream_init(s->tcp_in);
	shim_inside++;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &ol) != 0 ||
	    (l = dns53_listener(family, &ls, &ll)) < 0) {
		err = errno != 0 ? errno : ENOBUFS;
		goto out;
	}
	/* A loopback connect completes at once; made blocking so that it did when
	 * connect() returns (the one flag, read-modify-write, restored after). */
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	if (real()->connect(fd, (struct sockaddr *)&ls, ll) != 0)
		err = errno;
	if (fl >= 0 && (fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl);
	if (err == 0) {
		acc = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (acc < 0)
			err = errno;
	}
	real()->close(l);
	if (err == 0) {
		fdreg_set_internal(acc);
		int moved = fdreg_relocate_internal(acc);
		if (moved >= 0)
			acc = moved;
		s->tcp_fd = acc;
	}
out:
	shim_inside--;
	if (err != 0) {
		free(s->tcp_in);
		s->tcp_in = NULL;
		errno = err;
		return -1;
	}
	/* getpeername: the server, through the registry; the kernel's peer is ours. */
	fdreg_set_tunnel(fd, sa, len, (struct sockaddr *)&ls, ll);
	LOG_DEBUG("port 53 over TCP on fd %d: answered here", fd);
	errno = saved;
	return 0;
}

/* All of buf into the accepted end (blocking: the program reads the other end). */
static void dns53_tcp_put(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = real()->send(fd, buf, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		len -= (size_t)w;
	}
}

ssize_t dns53_tcp_write(struct dns53_sock *s, const struct msghdr *msg)
{
	uint8_t a[2 + DNS53_ANSWER_MAX];
	size_t total = 0;
	int saved = errno;

	if (s->tcp_in == NULL || s->tcp_fd < 0) {
		errno = EPIPE;
		return -1;
	}
	shim_inside++;
	for (size_t i = 0; i < msg->msg_iovlen; i++) {
		const uint8_t *in = msg->msg_iov[i].iov_base;
		size_t n = msg->msg_iov[i].iov_len;
		total += n;
		while (n > 0) {
			const uint8_t *q;
			size_t qlen, used = dns_stream_feed(s->tcp_in, in, n, &q, &qlen);
			in += used;
			n -= used;
			if (q == NULL)
				continue;
			int r = dns53_reply(&s->server, q, qlen, a + 2, DNS53_ANSWER_MAX, false, true);
			if (r > 0) {
				dns_stream_prefix(a, (size_t)r);
				dns53_tcp_put(s->tcp_fd, a, 2 + (size_t)r);
			}
		}
	}
	shim_inside--;
	errno = saved;
	return (ssize_t)total;
}

void dns53_sock_copy(struct dns53_sock *to, const struct dns53_sock *from)
{
	dns53_sock_reset(to);
	*to = *from;
	to->tcp_fd = -1;
	to->tcp_in = NULL;
	if (from->tcp_fd < 0)
		return;
	/* The same connection: its own reference to our end, its own buffer. */
	to->tcp_in = malloc(sizeof(*to->tcp_in));
	int c = fcntl(from->tcp_fd, F_DUPFD_CLOEXEC, from->tcp_fd);
	if (to->tcp_in == NULL || c < 0) {
		free(to->tcp_in);
		to->tcp_in = NULL;
		if (c >= 0) {
			shim_inside++;
			real()->close(c);
			shim_inside--;
		}
		return;
	}
	fdreg_set_internal(c);
	dns_stream_init(to->tcp_in);
	to->tcp_fd = c;
}

void dns53_sock_reset(struct dns53_sock *s)
{
	if (s->tcp_fd >= 0) {
		fdreg_clear(s->tcp_fd);
		shim_inside++;
		real()->close(s->tcp_fd);
		shim_inside--;
	}
	free(s->tcp_in);
	*s = (struct dns53_sock){ .tcp_fd = -1 };
}

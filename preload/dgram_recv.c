/* Receiving on a UDP socket the family manages: recvfrom/recvmsg/recvmmsg/recv/read/
 * readv (and their _FORTIFY_SOURCE _chk forms) unwrap the relay's datagrams and report
 * the real source; anything else arrives as libc gives it. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "datagram.h"
#include "dgram.h"
#include "dial.h"
#include "dns53.h"
#include "fakedns.h"
#include "hops.h"
#include "log.h"
#include "shim.h"
#include "udp_wire.h"
#include "util.h"

/* _FORTIFY_SOURCE builds (all of Debian) call these for a buffer of known size; libc's
 * own then read past our hooks, so they are ours too. */
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
		       struct sockaddr *sa, socklen_t *salen);
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);

/* ---- receiving ---- */

static bool dg_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

static uint16_t dg_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

/* The source to report for a datagram the relay says came from a. */
static socklen_t dg_source(struct dg_assoc *d, const struct socks_addr *a,
			   struct sockaddr_storage *ss)
{
	struct socks_addr fake;
	socklen_t len = 0;

	pthread_mutex_lock(&d->mu);
	if (d->connected && d->peer_dst.port == a->port) {
		/* A connected socket hears only its peer: report it as connect() gave it
		 * (a fake address for a name). */
		memcpy(ss, &d->peer, d->peerlen);
		len = d->peerlen;
	} else if (a->atyp != SOCKS5_ATYP_DOMAINNAME && d->has_lastfake &&
		   dg_port(&d->lastfake) == a->port) {
		memcpy(ss, &d->lastfake, d->lastfakelen);
		len = d->lastfakelen;
	}
	pthread_mutex_unlock(&d->mu);
	if (len != 0)
		return len;
	if (a->atyp == SOCKS5_ATYP_DOMAINNAME) {
		if (!fakedns_addr_for_name(a->u.name, d->family, a->port, &fake))
			return 0;
		return addr_to_sockaddr_family(&fake, d->family, ss);
	}
	return addr_to_sockaddr_family(a, d->family, ss);
}

/* Copies n bytes from src into the iovecs (as far as they reach). */
static void dg_scatter(const uint8_t *src, size_t n, const struct iovec *iov, size_t iovlen)
{
	for (size_t i = 0; i < iovlen && n > 0; i++) {
		size_t k = iov[i].iov_len < n ? iov[i].iov_len : n;
		if (k > 0)
			memcpy(iov[i].iov_base, src, k);
		src += k;
		n -= k;
	}
}

static void dg_set_name(struct msghdr *msg, const struct sockaddr_storage *ss, socklen_t len)
{
	if (msg->msg_name == NULL)
		return;
	memcpy(msg->msg_name, ss, len < msg->msg_namelen ? len : msg->msg_namelen);
	msg->msg_namelen = len;
}

/* recvmsg on a socket we manage: datagrams from the relay unwrapped (and our own
 * answers to port-53 queries, from the socket itself: one header naming the server),
 * others as they are. The datagram lands in a bounce buffer big enough for the header too, so one
 * recvmsg still takes exactly one datagram. */
ssize_t dg_recvmsg(int fd, struct dg_assoc *d, struct msghdr *msg, int flags)
{
	uint8_t stackbuf[DG_STACK_BUF + UDP_WIRE_HDR_MAX], *buf = stackbuf;
	struct sockaddr_storage src, relay, from;
	struct socks_addr a;
	size_t total = 0, cap, have, used = 0, payload;
	ssize_t n, ret = -1;

	if (flags & MSG_ERRQUEUE) /* queued errors carry no datagram of the relay's */
		return real()->recvmsg(fd, msg, flags);
	if (d->dns.tcp_fd >= 0) /* a TCP connection to a name server: as it is */
		return real()->recvmsg(fd, msg, flags);
	pthread_mutex_lock(&d->mu);
	relay = d->relay;
	bool assoc = d->relaylen != 0;
	size_t nh = d->nctl, hops;
	struct dns53_sock dns = d->dns; /* its self address: where our answers come from */
	pthread_mutex_unlock(&d->mu);
	for (size_t i = 0; i < msg->msg_iovlen; i++)
		total += msg->msg_iov[i].iov_len;
	/* Room for the payload, the headers of nh hops (at least one header more, so a
	 * datagram longer than the program's buffer still shows as truncated). */
	cap = (total < DG_PAYLOAD_MAX ? total : DG_PAYLOAD_MAX) +
	      (nh > 1 ? nh : 1) * UDP_WIRE_HDR_MAX;
	if (cap > sizeof(stackbuf)) {
		buf = malloc(cap);
		if (buf == NULL) {
			errno = ENOMEM;
			return -1;
		}
	}
	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = cap };
		struct msghdr m = {
			.msg_name = &src, .msg_namelen = sizeof(src),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = msg->msg_control, .msg_controllen = msg->msg_controllen,
		};
		int hf = 0;
		n = dg_held_take(fd, d, buf, cap, flags, msg->msg_control != NULL &&
				 msg->msg_controllen != 0, &src, &m.msg_namelen, &hf);
		if (n != DG_HELD_NONE) {
			m.msg_controllen = 0;
			m.msg_flags = hf;
		} else {
			n = real()->recvmsg(fd, &m, flags);
		}
		if (n < 0)
			goto out;
		have = (size_t)n < cap ? (size_t)n : cap;
		msg->msg_controllen = m.msg_controllen;
		msg->msg_flags = m.msg_flags & ~MSG_TRUNC;
		if (assoc && m.msg_namelen != 0 && dg_same_addr(&src, &relay))
			hops = nh;
		else if (dns53_is_self(&dns, &src, m.msg_namelen))
			hops = 1; /* our answer, naming the server */
		else
			hops = 0;
		if (hops == 0) {
			/* Not from the relay (a direct peer): as libc would give it. */
			dg_scatter(buf, have, msg->msg_iov, msg->msg_iovlen);
			if ((size_t)n > total)
				msg->msg_flags |= MSG_TRUNC;
			dg_set_name(msg, &src, m.msg_namelen);
			ret = (flags & MSG_TRUNC) ? n : (ssize_t)((size_t)n < total ? (size_t)n : total);
			goto out;
		}
		if (udp_wire_unwrap(buf, have, hops, &used, &a))
			break;
		/* A fragment or garbage from the relay: dropped. Consume it if we peeked. */
		if (flags & MSG_PEEK)
			real()->recv(fd, buf, 1, (flags & ~MSG_PEEK) | MSG_DONTWAIT);
	}
	payload = (size_t)n - used;
	dg_scatter(buf + used, have - used, msg->msg_iov, msg->msg_iovlen);
	if (payload > total)
		msg->msg_flags |= MSG_TRUNC;
	if (msg->msg_name != NULL) {
		socklen_t fl = dg_source(d, &a, &from);
		if (fl == 0) {
			memset(&from, 0, sizeof(from));
			from.ss_family = (sa_family_t)d->family;
			fl = d->family == AF_INET6 ? sizeof(struct sockaddr_in6)
						   : sizeof(struct sockaddr_in);
		}
		dg_set_name(msg, &from, fl);
	}
	ret = (flags & MSG_TRUNC) ? (ssize_t)payload
				  : (ssize_t)(payload < total ? payload : total);
out:
	if (buf != stackbuf)
		free(buf);
	return ret;
}

ssize_t dg_recv_buf(int fd, struct dg_assoc *d, void *buf, size_t len, int flags,
			   struct sockaddr *sa, socklen_t *salen)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr m = {
		.msg_name = salen != NULL ? sa : NULL,
		.msg_namelen = salen != NULL ? *salen : 0,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	ssize_t n = dg_recvmsg(fd, d, &m, flags);

	if (n >= 0 && salen != NULL && sa != NULL)
		*salen = m.msg_namelen;
	return n;
}

/* ---- the exported hooks ---- */

SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *sa,
			     socklen_t *salen)
{
	struct dg_assoc *d = dg_get(fd);

	if (d == NULL || shim_inside)
		return real()->recvfrom(fd, buf, len, flags, sa, salen);
	return dg_recv_buf(fd, d, buf, len, flags, sa, salen);
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct dg_assoc *d = dg_get(fd);

	if (d == NULL || shim_inside || msg == NULL)
		return real()->recvmsg(fd, msg, flags);
	return dg_recvmsg(fd, d, msg, flags);
}

SHIM_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
			 struct timespec *timeout)
{
	struct dg_assoc *d = dg_get(fd);
	unsigned int i;

	if (d == NULL || shim_inside || vec == NULL)
		return real()->recvmmsg(fd, vec, vlen, flags, timeout);
	/* The first datagram as the flags say; the rest only while they are already
	 * queued (as with MSG_WAITFORONE). The timeout is not applied. */
	for (i = 0; i < vlen; i++) {
		int f = flags & ~MSG_WAITFORONE;
		if (i > 0)
			f |= MSG_DONTWAIT;
		ssize_t n = dg_recvmsg(fd, d, &vec[i].msg_hdr, f);
		if (n < 0)
			return i > 0 ? (int)i : -1;
		vec[i].msg_len = (unsigned int)n;
	}
	return (int)i;
}

SHIM_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	struct dg_assoc *d = dg_get(fd);

	if (d == NULL || shim_inside)
		return real()->recv(fd, buf, len, flags);
	return dg_recv_buf(fd, d, buf, len, flags, NULL, NULL);
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	struct dg_assoc *d = dg_get(fd);

	if (__builtin_expect(d == NULL, 1) || shim_inside)
		return REAL_FAST(read, REAL_FAST_READ)(fd, buf, len);
	return dg_recv_buf(fd, d, buf, len, 0, NULL, NULL);
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
	struct dg_assoc *d = dg_get(fd);
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n > 0 ? (size_t)n : 0 };

	if (__builtin_expect(d == NULL, 1) || shim_inside || n < 0)
		return real()->readv(fd, iov, n);
	return dg_recvmsg(fd, d, &m, 0);
}

/* The _chk forms: a length beyond the buffer goes to libc's, which reports the
 * overflow as it would have; anything else is the plain call. */
SHIM_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	struct dg_assoc *d = dg_get(fd);

	if (d == NULL || shim_inside || len > buflen)
		return real()->recv_chk(fd, buf, len, buflen, flags);
	return dg_recv_buf(fd, d, buf, len, flags, NULL, NULL);
}

SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
				   struct sockaddr *sa, socklen_t *salen)
{
	struct dg_assoc *d = dg_get(fd);

	if (d == NULL || shim_inside || len > buflen)
		return real()->recvfrom_chk(fd, buf, len, buflen, flags, sa, salen);
	return dg_recv_buf(fd, d, buf, len, flags, sa, salen);
}

SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	struct dg_assoc *d = dg_get(fd);

	if (__builtin_expect(d == NULL, 1) || shim_inside || len > buflen)
		return real()->read_chk(fd, buf, len, buflen);
	return dg_recv_buf(fd, d, buf, len, 0, NULL, NULL);
}


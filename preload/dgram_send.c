/* Sending on a UDP socket the family manages: sendto/sendmsg/sendmmsg/send/write/writev
 * wrap a proxied datagram in the UDP request header (one per hop) and send it from the
 * program's own socket to the relay, so replies land on that socket and poll/epoll
 * readiness stays the kernel's. Every fd the family does not manage costs one
 * registry load, then libc. */
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

/* ---- sending ---- */

/* Wraps msg's payload for dst and sends it to the relay from fd itself. */
static ssize_t dg_send_wrapped(int fd, struct dg_assoc *d, const struct socks_addr *dst,
			       const struct sockaddr *orig, socklen_t origlen,
			       const struct msghdr *msg, int flags)
{
	/* On the program's stack only what one hop and a short iovec need: a longer
	 * chain or iovec takes the heap (the header per hop is up to 262 bytes). */
	uint8_t hdrbuf[2 * UDP_WIRE_HDR_MAX], *hdr = hdrbuf;
	struct iovec iovbuf[DG_IOV_STACK + 1], *iov = iovbuf;
	struct sockaddr_storage relay;
	socklen_t relaylen;
	struct msghdr m;
	ssize_t hl = -1, n = -1;
	int err;

	if (msg->msg_iovlen > DG_IOV_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (msg->msg_iovlen > DG_IOV_STACK) {
		iov = malloc((msg->msg_iovlen + 1) * sizeof(*iov));
		if (iov == NULL) {
			errno = ENOBUFS;
			return -1;
		}
	}
	pthread_mutex_lock(&d->mu);
	err = dg_ready(d, dst);
	relay = d->relay;
	relaylen = d->relaylen;
	if (err == 0 && d->nctl * UDP_WIRE_HDR_MAX > sizeof(hdrbuf)) {
		hdr = malloc(d->nctl * UDP_WIRE_HDR_MAX);
		if (hdr == NULL)
			err = ENOBUFS;
	}
	if (err == 0) {
		hl = udp_wire_wrap(hdr, hdr == hdrbuf ? sizeof(hdrbuf) : d->nctl * UDP_WIRE_HDR_MAX,
				   d->inner, d->nctl, dst);
		if (hl < 0)
			err = EINVAL;
	}
	if (err == 0 && orig != NULL && dst->atyp == SOCKS5_ATYP_DOMAINNAME &&
	    origlen <= sizeof(d->lastfake)) {
		memcpy(&d->lastfake, orig, origlen);
		d->lastfakelen = origlen;
		d->has_lastfake = true;
	}
	pthread_mutex_unlock(&d->mu);
	if (err != 0) {
		errno = err;
		goto out;
	}
	iov[0].iov_base = hdr;
	iov[0].iov_len = (size_t)hl;
	if (msg->msg_iovlen > 0)
		memcpy(&iov[1], msg->msg_iov, msg->msg_iovlen * sizeof(struct iovec));
	m = (struct msghdr){
		.msg_name = &relay,
		.msg_namelen = relaylen,
		.msg_iov = iov,
		.msg_iovlen = msg->msg_iovlen + 1,
		.msg_control = msg->msg_control,
		.msg_controllen = msg->msg_controllen,
	};
	n = real()->sendmsg(fd, &m, flags);
	if (n >= 0)
		n = n >= hl ? n - hl : 0;
out:
	if (hdr != hdrbuf)
		free(hdr);
	if (iov != iovbuf)
		free(iov);
	return n;
}

/* A query to a name server on port 53 (DG_DNS53, or a socket connected to one):
 * answered to the socket itself. The answer (up to DNS53_DGRAM_MAX) on the heap:
 * program stacks may be small. */
static ssize_t dg_dns53_send(int fd, struct dg_assoc *d, const struct socks_addr *server,
			     const struct msghdr *msg, int flags)
{
	uint8_t *out = malloc(DNS53_DGRAM_MAX);
	struct sockaddr_storage self;
	socklen_t selflen;
	int saved = errno;
	size_t total = 0;
	ssize_t n;

	if (out == NULL) {
		errno = ENOBUFS;
		return -1;
	}
	for (size_t i = 0; i < msg->msg_iovlen; i++)
		total += msg->msg_iov[i].iov_len;
	pthread_mutex_lock(&d->mu);
	n = dns53_udp_query(fd, &d->dns, server, msg, out);
	self = d->dns.self;
	selflen = d->dns.selflen;
	/* Kept in memory when nothing else can be waiting for it (dgram_held.c). */
	bool held = n > 0 && dg_hold(fd, d, out, (size_t)n);
	pthread_mutex_unlock(&d->mu);
	if (held) {
		free(out);
		errno = saved;
		return (ssize_t)total;
	}
	if (n == DNS53_ERROR) {
		int err = errno;
		free(out);
		errno = err;
		return -1;
	}
	if (n == DNS53_FORWARD) { /* the real server's to answer: as the program sent it */
		free(out);
		return real()->sendmsg(fd, msg, flags);
	}
	/* To itself: the receive path unwraps it and names the server. Lost like any
	 * datagram if the socket's queue is full. */
	if (n > 0)
		real()->sendto(fd, out, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL,
			       (struct sockaddr *)&self, selflen);
	free(out);
	errno = saved;
	return (ssize_t)total;
}

/* A write on a TCP connection to a name server: its queries answered. */
static ssize_t dg_dns53_tcp_write(struct dg_assoc *d, const struct msghdr *msg)
{
	pthread_mutex_lock(&d->mu);
	ssize_t n = dns53_tcp_write(&d->dns, msg);
	pthread_mutex_unlock(&d->mu);
	return n;
}

/* Every send hook ends here with a msghdr (msg_name may be NULL) and fd's record as
 * it looked it up (d, NULL for none: one dg_get per call). */
ssize_t dg_sendmsg(int fd, struct dg_assoc *d, const struct msghdr *msg, int flags)
{
	struct socks_addr dst;
	enum route_reason why = ROUTE_R_CHAIN;
	int err = 0, saved = errno;

	if (d != NULL && d->dns.tcp_fd >= 0 && !shim_inside)
		return dg_dns53_tcp_write(d, msg);
	switch (dg_classify(fd, msg->msg_name, msg->msg_namelen, flags, &dst, &err, &why, &d)) {
	case DG_DNS53:
		return dg_dns53_send(fd, d, &dst, msg, flags);
	case DG_PROXY:
		return dg_send_wrapped(fd, d, &dst, msg->msg_name, msg->msg_namelen, msg, flags);
	case DG_REFUSE:
		return dg_refuse(fd, &dst, why, err);
	case DG_FASTOPEN:
		return shim_fastopen(fd, msg, flags);
	case DG_PASS:
		break;
	}
	if (msg->msg_name == NULL && d != NULL && !shim_inside) {
		/* No address on a socket we manage: its connected peer, if that goes
		 * through the proxy. */
		pthread_mutex_lock(&d->mu);
		bool conn = d->connected, dns = d->dns.conn;
		dst = d->connected ? d->peer_dst : d->dns.server;
		pthread_mutex_unlock(&d->mu);
		if (conn)
			return dg_send_wrapped(fd, d, &dst, NULL, 0, msg, flags);
		if (dns)
			return dg_dns53_send(fd, d, &dst, msg, flags);
	}
	errno = saved; /* classifying (the first config load) may have set it */
	return real()->sendmsg(fd, msg, flags);
}

ssize_t dg_send_buf(int fd, struct dg_assoc *d, const void *buf, size_t len, int flags,
		    const struct sockaddr *sa, socklen_t salen)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr m = {
		.msg_name = (void *)sa, .msg_namelen = salen, .msg_iov = &iov, .msg_iovlen = 1
	};
	return dg_sendmsg(fd, d, &m, flags);
}

/* ---- the exported hooks ---- */

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			   const struct sockaddr *sa, socklen_t salen)
{
	struct dg_assoc *d = dg_get(fd);

	if (sa == NULL && d == NULL)
		return real()->sendto(fd, buf, len, flags, sa, salen);
	return dg_send_buf(fd, d, buf, len, flags, sa, salen);
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct dg_assoc *d = msg != NULL ? dg_get(fd) : NULL;

	if (msg == NULL || (msg->msg_name == NULL && d == NULL))
		return real()->sendmsg(fd, msg, flags);
	return dg_sendmsg(fd, d, msg, flags);
}

SHIM_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	struct dg_assoc *d;
	unsigned int i;

	if (vec == NULL || shim_inside)
		return real()->sendmmsg(fd, vec, vlen, flags);
	d = dg_get(fd);
	if (d == NULL) {
		/* No address anywhere in the batch and a socket we do not manage: one
		 * syscall, as the program meant. */
		for (i = 0; i < vlen && vec[i].msg_hdr.msg_name == NULL; i++)
			;
		if (i == vlen)
			return real()->sendmmsg(fd, vec, vlen, flags);
	}
	for (i = 0; i < vlen; i++) {
		if (i > 0 && d == NULL) /* the first may have made it a socket we manage */
			d = dg_lookup(fd);
		ssize_t n = dg_sendmsg(fd, d, &vec[i].msg_hdr, flags);
		if (n < 0)
			return i > 0 ? (int)i : -1;
		vec[i].msg_len = (unsigned int)n;
	}
	return (int)i;
}

SHIM_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct dg_assoc *d = dg_get(fd);

	if (d == NULL)
		return real()->send(fd, buf, len, flags);
	return dg_send_buf(fd, d, buf, len, flags, NULL, 0);
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	struct dg_assoc *d = dg_get(fd);

	if (__builtin_expect(d == NULL, 1))
		return REAL_FAST(write, REAL_FAST_WRITE)(fd, buf, len);
	return dg_send_buf(fd, d, buf, len, 0, NULL, 0);
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n > 0 ? (size_t)n : 0 };
	struct dg_assoc *d = dg_get(fd);

	if (__builtin_expect(d == NULL, 1) || n < 0)
		return real()->writev(fd, iov, n);
	return dg_sendmsg(fd, d, &m, 0);
}

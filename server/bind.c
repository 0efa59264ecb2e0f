/* BIND (SOCKS5 and SOCKS4): listen on the address this host uses to reach the
 * expected peer (or, when the request names none, the address the client reached),
 * first reply with the listening address, second reply when the peer connects
 * (only from the expected IP when one was named), then relay as for CONNECT. */
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "session.h"

static bool bind_any(const union sa46 *a)
{
	static const uint8_t zero[16];

	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == 0;
	return !memcmp(&a->in6.sin6_addr, zero, 16);
}

/* The local address the routing table picks to reach dst: a connected UDP socket
 * sends nothing but knows its source address. */
static bool bind_local_for(const union sa46 *dst, union sa46 *out)
{
	socklen_t len = sizeof(*out);
	int fd = socket(dst->sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;
	union sa46 d = *dst;

	if (fd < 0)
		return false;
	if (d.sa.sa_family == AF_INET && d.in.sin_port == 0)
		d.in.sin_port = htons(9);
	else if (d.sa.sa_family == AF_INET6 && d.in6.sin6_port == 0)
		d.in6.sin6_port = htons(9);
	ok = connect(fd, &d.sa, sa46_len(&d)) == 0 && getsockname(fd, &out->sa, &len) == 0;
	close(fd);
	return ok;
}

/* The client is watched until the peer arrives: its FIN or reset ends the session
 * (and frees its slot) whether or not it sent bytes first. Those bytes belong to
 * the peer, so they are only peeked at; once some wait, input stays readable, and
 * only the end of the client's stream (EPOLLRDHUP) is asked for. */
static void bind_on_control(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	struct session *s = container_of(io, struct session, cio);
	uint8_t b;
	ssize_t n;

	(void)loop;
	if (revents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		session_close(s, "client closed while waiting for the BIND peer");
		return;
	}
	n = recv(io->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		session_close(s, "client closed while waiting for the BIND peer");
		return;
	}
	if (n > 0)
		ev_io_set(srv.loop, io, EPOLLRDHUP);
}

static void bind_on_accept(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	struct session *s = container_of(io, struct session, tio);
	union sa46 peer;
	socklen_t len = sizeof(peer);
	struct socks_addr pa;
	int one = 1;
	int fd = accept4(io->fd, &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)loop;
	(void)revents;
	if (fd < 0)
		return;
	if (s->dest.sa.sa_family && !bind_any(&s->dest)) {
		bool same = peer.sa.sa_family == s->dest.sa.sa_family &&
			    (peer.sa.sa_family == AF_INET
				     ? peer.in.sin_addr.s_addr == s->dest.in.sin_addr.s_addr
				     : !memcmp(&peer.in6.sin6_addr, &s->dest.in6.sin6_addr, 16));

		if (!same) {
			/* Someone else found the port: not who the client is waiting for. */
			LOG_INFO("bind: connection from an unexpected peer refused");
			close(fd);
			return;
		}
	}
	ev_io_close(srv.loop, io);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->tio.fd = fd;
	s->dest = peer;
	if (!addr_from_sockaddr(&pa, &peer.sa, len) || !session_reply(s, S5_REP_SUCCEEDED, &pa)) {
		session_close(s, "client gone before the second BIND reply");
		return;
	}
	relay_start(s);
}

void bind_start(struct session *s, const union sa46 *expected)
{
	union sa46 local;
	socklen_t len = sizeof(local);
	struct socks_addr bnd;
	int fd = -1, err;

	if (bind_any(expected) || !bind_local_for(expected, &local)) {
		if (getsockname(s->cio.fd, &local.sa, &len) < 0)
			goto fail;
	}
	if (local.sa.sa_family == AF_INET)
		local.in.sin_port = 0;
	else
		local.in6.sin6_port = 0;
	fd = socket(local.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	len = sizeof(local);
	if (bind(fd, &local.sa, sa46_len(&local)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, &local.sa, &len) < 0)
		goto fail;
	if (!addr_from_sockaddr(&bnd, &local.sa, len)) {
		errno = EAFNOSUPPORT;
		goto fail;
	}
	/* s->dest holds the expected peer until it connects. */
	s->dest = *expected;
	ev_io_init(&s->tio, fd, bind_on_accept);
	if (ev_io_set(srv.loop, &s->tio, EPOLLIN) < 0 || !session_reply(s, S5_REP_SUCCEEDED, &bnd)) {
		session_close(s, "bind setup failed");
		return;
	}
	s->cio.cb = bind_on_control;
	/* A client whose FIN came with its request has already left: EPOLLRDHUP is
	 * ready at once and ends the session like a FIN seen later. */
	ev_io_set(srv.loop, &s->cio, EPOLLIN | EPOLLRDHUP);
	session_touch(s);
	session_set_state(s, SESS_BIND_WAIT);
	return;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	session_fail(s, S5_REP_GENERAL_FAILURE, strerror(err));
}

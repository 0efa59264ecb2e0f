/* UDP ASSOCIATE (RFC 1928 7). The client-facing socket is bound to the local
 * address the client's TCP connection reached; only the client's IP is served and
 * its port is pinned (DST.PORT when given, else the first datagram's). FRAG != 0 is
 * dropped without ending anything; every destination passes the policy; datagrams
 * up to 64 KiB go through whole (one static buffer: the loop is single-threaded).
 * The association ends with its TCP control connection or the idle timeout. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "resolve.h"
#include "server.h"
#include "session.h"
#include "util.h"

#define UDP_HDR_ROOM 32      /* the largest header with an IP address is 22 bytes */
#define UDP_BATCH 64         /* datagrams per event, for fairness */
#define UDP_MAX_RESOLVING 4  /* name lookups in flight per association */
#define UDP_NAME_TTL_MS 30000

struct udp_assoc {
	struct session *s;
	struct ev_io rio4, rio6;   /* remote-facing sockets, opened on first use */
	union sa46 client;         /* the client's IP, and its port once pinned */
	bool pinned;
	struct resolve_job *jobs[UDP_MAX_RESOLVING];
	/* One cached name: a client usually talks to one or two names. */
	char cname[SOCKS_NAME_MAX + 1];
	union sa46 caddr;
	uint64_t cexp;
};

static uint8_t udp_buf[UDP_HDR_ROOM + 65536 + 512];

static bool sa46_same_ip(const union sa46 *a, const union sa46 *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16);
}

static uint16_t sa46_port(const union sa46 *a)
{
	return ntohs(a->sa.sa_family == AF_INET ? a->in.sin_port : a->in6.sin6_port);
}

static void sa46_set_port(union sa46 *a, uint16_t port)
{
	if (a->sa.sa_family == AF_INET)
		a->in.sin_port = htons(port);
	else
		a->in6.sin6_port = htons(port);
}

void udp_free(struct session *s)
{
	struct udp_assoc *u = s->udp;

	if (!u)
		return;
	for (unsigned i = 0; i < UDP_MAX_RESOLVING; i++)
		if (u->jobs[i])
			pool_cancel(&u->jobs[i]->job);
	ev_io_close(srv.loop, &u->rio4);
	ev_io_close(srv.loop, &u->rio6);
	s->udp = NULL;
	ev_defer_free(srv.loop, u);
}

static void udp_on_remote4(struct ev_loop *loop, struct ev_io *io, uint32_t revents);
static void udp_on_remote6(struct ev_loop *loop, struct ev_io *io, uint32_t revents);

static int udp_remote_fd(struct udp_assoc *u, int family)
{
	struct ev_io *io = family == AF_INET ? &u->rio4 : &u->rio6;
	int fd;

	if (io->fd >= 0)
		return io->fd;
	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ev_io_init(io, fd, family == AF_INET ? udp_on_remote4 : udp_on_remote6);
	if (ev_io_set(srv.loop, io, EPOLLIN) < 0) {
		close(fd);
		io->fd = -1;
		return -1;
	}
	return fd;
}

static void udp_send_to(struct udp_assoc *u, const union sa46 *dst, const uint8_t *data,
			size_t len)
{
	struct socks_addr sa;
	int fd;

	if (!addr_from_sockaddr(&sa, &dst->sa, sa46_len(dst)) ||
	    acl_dest_addr_denied(&srv.acl, &sa, u->s->strict)) {
		srv.st.denied++;
		LOG_DEBUG("udp: datagram to a denied destination dropped");
		return;
	}
	fd = udp_remote_fd(u, dst->sa.sa_family);
	if (fd < 0)
		return;
	if (sendto(fd, data, len, MSG_DONTWAIT, &dst->sa, sa46_len(dst)) < 0) {
		LOG_DEBUG("udp: sendto: %s", strerror(errno));
		return;
	}
	u->s->up.bytes += len;
	srv.st.bytes_up += len;
	srv.st.udp_up++;
}

static void udp_resolved(struct resolve_job *rj)
{
	struct udp_assoc *u = rj->job.owner;

	for (unsigned i = 0; i < UDP_MAX_RESOLVING; i++)
		if (u->jobs[i] == rj)
			u->jobs[i] = NULL;
	if (rj->eai == 0 && rj->n > 0) {
		str_copy(u->cname, rj->name, sizeof(u->cname));
		u->caddr = rj->addrs[0];
		u->cexp = ev_now(srv.loop) + UDP_NAME_TTL_MS;
		udp_send_to(u, &rj->addrs[0], rj->data, rj->datalen);
	}
	resolve_free(rj);
}

static void udp_send_named(struct udp_assoc *u, const struct socks_addr *dst,
			   const uint8_t *data, size_t len)
{
	union sa46 a;
	struct resolve_job *rj;
	unsigned slot;

	if (acl_dest_asked_denied(&srv.acl, dst)) {
		srv.st.denied++;
		return;
	}
	if (resolve_literal(dst->u.name, dst->port, &a)) {
		udp_send_to(u, &a, data, len);
		return;
	}
	if (!strcmp(u->cname, dst->u.name) && u->cexp > ev_now(srv.loop)) {
		a = u->caddr;
		sa46_set_port(&a, dst->port);
		udp_send_to(u, &a, data, len);
		return;
	}
	for (slot = 0; slot < UDP_MAX_RESOLVING && u->jobs[slot]; slot++)
		;
	if (slot == UDP_MAX_RESOLVING)
		return; /* UDP may drop; queueing without bound may not */
	rj = calloc(1, sizeof(*rj));
	if (!rj || !(rj->data = malloc(len ? len : 1))) {
		free(rj);
		return;
	}
	memcpy(rj->data, data, len);
	rj->datalen = (uint32_t)len;
	str_copy(rj->name, dst->u.name, sizeof(rj->name));
	rj->port = dst->port;
	rj->family = AF_UNSPEC;
	rj->socktype = SOCK_DGRAM;
	rj->cb = udp_resolved;
	rj->job.owner = u;
	if (!resolve_submit(rj)) {
		resolve_free(rj);
		return;
	}
	u->jobs[slot] = rj;
}

static void udp_from_client(struct udp_assoc *u, const union sa46 *from, size_t n)
{
	struct socks_addr dst;
	size_t used = 0;
	uint8_t frag = 0;

	if (!sa46_same_ip(from, &u->client)) {
		LOG_DEBUG("udp: datagram from a stranger dropped");
		return;
	}
	if (!u->pinned) {
		sa46_set_port(&u->client, sa46_port(from));
		u->pinned = true;
	} else if (sa46_port(from) != sa46_port(&u->client)) {
		LOG_DEBUG("udp: datagram from another port of the client dropped");
		return;
	}
	if (s5_parse_udp_header(udp_buf, n, &used, &frag, &dst) != CODEC_DONE)
		return;
	/* We do not reassemble: a fragment is dropped, the association lives on. */
	if (frag != 0)
		return;
	session_touch(u->s);
	if (dst.atyp == SOCKS5_ATYP_DOMAINNAME) {
		udp_send_named(u, &dst, udp_buf + used, n - used);
	} else {
		struct sockaddr_storage ss;
		socklen_t len = addr_to_sockaddr(&dst, &ss);
		union sa46 a;

		if (len == 0 || len > sizeof(a))
			return;
		memcpy(&a, &ss, len);
		udp_send_to(u, &a, udp_buf + used, n - used);
	}
}

static void udp_on_client(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	struct session *s = container_of(io, struct session, tio);

	(void)loop;
	(void)revents;
	for (int i = 0; i < UDP_BATCH && s->udp; i++) {
		union sa46 from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(io->fd, udp_buf, sizeof(udp_buf), MSG_DONTWAIT, &from.sa,
				     &flen);

		if (n < 0)
			break;
		udp_from_client(s->udp, &from, (size_t)n);
	}
}

/* A datagram from the outside: wrapped in the RFC 1928 header naming its source,
 * sent to the pinned client. Nothing goes back before the client's port is known. */
static void udp_from_remote(struct udp_assoc *u, int fd)
{
	for (int i = 0; i < UDP_BATCH; i++) {
		union sa46 from;
		socklen_t flen = sizeof(from);
		struct socks_addr src;
		uint8_t hdr[UDP_HDR_ROOM];
		ssize_t h, n = recvfrom(fd, udp_buf + UDP_HDR_ROOM, sizeof(udp_buf) - UDP_HDR_ROOM,
				       MSG_DONTWAIT, &from.sa, &flen);

		if (n < 0)
			break;
		if (!u->pinned || !addr_from_sockaddr(&src, &from.sa, flen))
			continue;
		h = s5_build_udp_header(hdr, sizeof(hdr), 0, &src);
		if (h <= 0)
			continue;
		memcpy(udp_buf + UDP_HDR_ROOM - h, hdr, (size_t)h);
		if (sendto(u->s->tio.fd, udp_buf + UDP_HDR_ROOM - h, (size_t)(n + h), MSG_DONTWAIT,
			   &u->client.sa, sa46_len(&u->client)) < 0) {
			LOG_DEBUG("udp: sendto client: %s", strerror(errno));
			continue;
		}
		u->s->down.bytes += (uint64_t)n;
		srv.st.bytes_down += (uint64_t)n;
		srv.st.udp_down++;
		session_touch(u->s);
	}
}

static void udp_on_remote4(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	(void)loop;
	(void)revents;
	udp_from_remote(container_of(io, struct udp_assoc, rio4), io->fd);
}

static void udp_on_remote6(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	(void)loop;
	(void)revents;
	udp_from_remote(container_of(io, struct udp_assoc, rio6), io->fd);
}

/* The TCP control connection carries nothing more; its end ends the association. */
static void udp_on_control(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	struct session *s = container_of(io, struct session, cio);
	uint8_t sink[512];
	ssize_t n;

	(void)loop;
	(void)revents;
	n = recv(io->fd, sink, sizeof(sink), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		session_close(s, n == 0 ? "control connection closed" : "control connection reset");
}

void udp_start(struct session *s, const struct socks_addr *req)
{
	struct udp_assoc *u;
	union sa46 local;
	socklen_t len = sizeof(local);
	struct socks_addr bnd;
	int fd;

	/* The relay lives where the client already reached us. */
	if (getsockname(s->cio.fd, &local.sa, &len) < 0) {
		session_fail(s, S5_REP_GENERAL_FAILURE, "getsockname failed");
		return;
	}
	sa46_set_port(&local, 0);
	fd = socket(local.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, &local.sa, sa46_len(&local)) < 0 ||
	    getsockname(fd, &local.sa, &len) < 0) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		session_fail(s, S5_REP_GENERAL_FAILURE, strerror(err));
		return;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		close(fd);
		session_fail(s, S5_REP_GENERAL_FAILURE, "out of memory");
		return;
	}
	u->s = s;
	ev_io_init(&u->rio4, -1, udp_on_remote4);
	ev_io_init(&u->rio6, -1, udp_on_remote6);
	u->client = s->client;
	/* RFC 1928: DST.PORT is the port the client will send from, 0 if unknown. The
	 * address part is not used: behind NAT the client cannot know it. */
	if (req->port) {
		sa46_set_port(&u->client, req->port);
		u->pinned = true;
	}
	s->udp = u;
	ev_io_init(&s->tio, fd, udp_on_client);
	s->dest = local;
	if (!addr_from_sockaddr(&bnd, &local.sa, sa46_len(&local))) {
		session_fail(s, S5_REP_GENERAL_FAILURE, "bad local address");
		return;
	}
	if (srv.o.has_udp_advertise) {
		uint16_t port = bnd.port;

		bnd = srv.o.udp_advertise;
		bnd.port = port;
	}
	if (ev_io_set(srv.loop, &s->tio, EPOLLIN) < 0 || !session_reply(s, S5_REP_SUCCEEDED, &bnd)) {
		session_close(s, "udp setup failed");
		return;
	}
	free(s->hs);
	s->hs = NULL;
	s->cio.cb = udp_on_control;
	if (s->client_eof) {
		session_close(s, "control connection closed");
		return;
	}
	ev_io_set(srv.loop, &s->cio, EPOLLIN);
	session_touch(s);
	session_set_state(s, SESS_UDP);
}

/* PROXY protocol listeners (--proxy-listen): before any SOCKS byte, a trusted
 * balancer (--proxy-protocol CIDR) says who the client is. The header is peeked at
 * (edge-triggered, so a partial header waits for the next segment instead of
 * spinning), parsed by common/proxyproto.c, and then exactly its bytes are taken off
 * the socket: whatever the client pipelined behind it stays there for the session,
 * which starts with the carried address as its client. An untrusted source, a
 * malformed header or none within the handshake timeout closes the connection and
 * counts a REFUSE_PROXY. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"
#include "proxyproto.h"
#include "server.h"

struct pp_conn {
	struct pp_conn *prev, *next;
	struct ev_io io;
	struct ev_timer timer;
	union sa46 peer; /* the balancer */
	bool strict;
};

static struct pp_conn *pp_list;
static unsigned long pp_pending;

bool proxy_trusted(const union sa46 *peer)
{
	for (size_t i = 0; i < srv.o.pp_ntrusted; i++)
		if (cidr_match_sockaddr(&srv.o.pp_trusted[i], &peer->sa))
			return true;
	return false;
}

static void pp_free(struct pp_conn *c, bool close_fd)
{
	if (close_fd)
		ev_io_close(srv.loop, &c->io);
	else
		ev_io_stop(srv.loop, &c->io);
	ev_timer_stop(srv.loop, &c->timer);
	if (c->prev)
		c->prev->next = c->next;
	else
		pp_list = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pp_pending--;
	ev_defer_free(srv.loop, c);
}

static void pp_refuse(struct pp_conn *c, const char *why)
{
	char ps[ADDR_STR_MAX];

	srv.st.refused_proxy++;
	LOG_INFO("PROXY header from %s: %s: closed",
		 sockaddr_str(&c->peer.sa, sa46_len(&c->peer), ps, sizeof(ps)), why);
	pp_free(c, true);
}

static bool pp_client(const struct pp_header *h, union sa46 *out)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(&h->src, &ss);

	if (len == 0 || len > sizeof(*out))
		return false;
	memset(out, 0, sizeof(*out));
	memcpy(out, &ss, len);
	return true;
}

static void pp_on_read(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	struct pp_conn *c = container_of(io, struct pp_conn, io);
	uint8_t buf[PP_MAX_HEADER];
	struct pp_header h;
	union sa46 client;
	size_t used = 0;
	ssize_t n;
	int rc, fd;
	bool strict = c->strict;

	(void)loop;
	(void)revents;
	n = recv(io->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		pp_refuse(c, n == 0 ? "closed before a whole header" : strerror(errno));
		return;
	}
	rc = pp_parse(buf, (size_t)n, &used, &h);
	if (rc == CODEC_NEED_MORE)
		return; /* edge-triggered: the next segment wakes us */
	if (rc != CODEC_DONE) {
		pp_refuse(c, codec_strerror(rc));
		return;
	}
	/* Take the header, and only it, off the socket. */
	if (recv(io->fd, buf, used, MSG_DONTWAIT) != (ssize_t)used) {
		pp_refuse(c, "header vanished");
		return;
	}
	client = c->peer; /* LOCAL / UNKNOWN: the balancer speaks for itself */
	if (h.has_addr && !pp_client(&h, &client)) {
		pp_refuse(c, "unusable address");
		return;
	}
	if (log_enabled(LOG_DEBUG)) {
		char ps[ADDR_STR_MAX], cs[ADDR_STR_MAX];

		LOG_DEBUG("PROXY v%u header from %s: client %s", h.version,
			  sockaddr_str(&c->peer.sa, sa46_len(&c->peer), ps, sizeof(ps)),
			  sockaddr_str(&client.sa, sa46_len(&client), cs, sizeof(cs)));
	}
	fd = io->fd;
	pp_free(c, false);
	session_accept(fd, &client, strict);
}

static void pp_on_timer(struct ev_loop *loop, struct ev_timer *t)
{
	(void)loop;
	pp_refuse(container_of(t, struct pp_conn, timer), "no header in time");
}

void proxy_accept(int fd, const union sa46 *peer, bool strict)
{
	struct pp_conn *c;
	char ps[ADDR_STR_MAX];

	if (!proxy_trusted(peer)) {
		srv.st.refused_proxy++;
		LOG_WARN("PROXY listener: %s is not a trusted balancer (--proxy-protocol): closed",
			 sockaddr_str(&peer->sa, sa46_len(peer), ps, sizeof(ps)));
		close(fd);
		return;
	}
	/* Waiting headers count against the session cap like sessions would. */
	if (pp_pending >= srv.o.max_sessions || !(c = calloc(1, sizeof(*c)))) {
		srv.st.rejected++;
		close(fd);
		return;
	}
	c->peer = *peer;
	c->strict = strict;
	ev_io_init(&c->io, fd, pp_on_read);
	ev_timer_init(&c->timer, pp_on_timer);
	c->next = pp_list;
	if (pp_list)
		pp_list->prev = c;
	pp_list = c;
	pp_pending++;
	if (ev_io_set(srv.loop, &c->io, EPOLLIN | EPOLLET) < 0) {
		pp_free(c, true);
		return;
	}
	ev_timer_start(srv.loop, &c->timer, srv.o.handshake_ms);
	/* The header usually came with the connection: no need to wait for an event. */
	pp_on_read(srv.loop, &c->io, EPOLLIN);
}

void proxy_close_all(void)
{
	while (pp_list)
		pp_free(pp_list, true);
}

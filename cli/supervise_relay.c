/* --jail's only way out. The jail's network namespace has nothing but loopback; for
 * each proxy of the chain the child opens a listener there before exec, and we (the
 * supervisor, outside) accept on it and forward the bytes to that proxy. The
 * supervisor's connect() of a program socket goes to that loopback port, and the
 * SOCKS handshake then runs through the relay to the real proxy. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "supervise.h"

#define RELAY_BUF (64 * 1024)

bool sv_relay_open(struct sv *s)
{
	for (size_t i = 0; i < s->conf->nproxies; i++) {
		struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
		struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(in6);
		int zero = 0;
		/* One dual-stack listener serves 127.0.0.1 and ::1; without IPv6, IPv4. */
		int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) != 0 ||
				bind(fd, (struct sockaddr *)&in6, sizeof(in6)) != 0)) {
			close(fd);
			fd = -1;
		}
		if (fd < 0) {
			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof(in)) != 0)
				return false;
		}
		struct sockaddr_storage ss;
		len = sizeof(ss);
		if (listen(fd, 128) != 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
			return false;
		s->relay_fd[i] = fd;
		s->px[i].relay_port = ntohs(ss.ss_family == AF_INET6
						    ? ((struct sockaddr_in6 *)&ss)->sin6_port
						    : ((struct sockaddr_in *)&ss)->sin_port);
	}
	return true;
}

struct relay_conn {
	const struct sv *s;
	size_t proxy;
	int in;
};

/* Copies both ways until both sides have ended (half-close passed on). */
static void pump(int a, int b)
{
	const int fds[2] = {a, b};
	struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
	char *buf = malloc(RELAY_BUF);
	int open = 2;

	while (buf && open > 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			int to = fds[1 - i];
			ssize_t n = recv(p[i].fd, buf, RELAY_BUF, 0);
			if (n <= 0) {
				shutdown(to, SHUT_WR);
				p[i].fd = -1;
				open--;
				if (n < 0)
					open = 0;
				continue;
			}
			for (ssize_t off = 0; off < n;) {
				ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
				if (w <= 0) {
					open = 0;
					break;
				}
				off += w;
			}
		}
	}
	free(buf);
}

static void *relay_conn(void *arg)
{
	struct relay_conn *rc = arg;
	const struct sv_proxy_addr *px = &rc->s->px[rc->proxy];
	int out = px->salen ? socket(px->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;

	if (out >= 0 && connect(out, (const struct sockaddr *)&px->sa, px->salen) == 0)
		pump(rc->in, out);
	if (out >= 0)
		close(out);
	close(rc->in);
	free(rc);
	return NULL;
}

static void relay_accept(struct sv *s, size_t idx, int fd)
{
	struct relay_conn *rc = malloc(sizeof(*rc));
	if (rc) {
		*rc = (struct relay_conn){.s = s, .proxy = idx, .in = fd};
		if (sv_spawn(relay_conn, rc, 0))
			return;
		free(rc);
	}
	close(fd);
}

bool sv_relay_start(struct sv *s)
{
	static struct sv_acceptor relay;

	relay = (struct sv_acceptor){.s = s, .n = s->conf->nproxies, .on_conn = relay_accept};
	for (size_t i = 0; i < relay.n; i++)
		relay.fd[i] = s->relay_fd[i];
	return sv_spawn(sv_accept_loop, &relay, 0);
}

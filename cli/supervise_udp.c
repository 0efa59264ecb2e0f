/* UDP from a supervised program, through the proxy's UDP ASSOCIATE. A connect() of
 * the program's datagram socket to a proxied destination connects it instead to a
 * loopback socket of ours (the flow's "local" end, itself connected back to the
 * program's socket, so nobody else can speak on it); a thread per flow wraps what
 * the program sends in the SOCKS5 UDP header for the destination (the name, for a
 * fake address) and sends it to the proxy's relay, and unwraps the relay's answers
 * back to the program. The association (a TCP control connection to the proxy, the
 * UDP ASSOCIATE, a socket to the relay) is made at the first datagram, not at
 * connect(): Go connects a UDP socket to every address of a name only to sort them,
 * and sends nothing on those.
 *
 * Limits: connected sockets only (an unconnected socket's sendto() is refused: its
 * answers would come from our loopback address, not from the peer); a chain of one
 * proxy (the relay of a deeper hop cannot be reached by UDP from here). In the jail
 * the local end is made inside it by a helper (sv_jail_dgram), the rest is ours. The program sees our loopback address as its peer (getpeername). One thread
 * per flow: fine for the sockets a program keeps, not for thousands of short ones. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "dial.h"
#include "supervise.h"

#define FLOW_BUF 65536
#define FLOW_IDLE_MS 120000      /* a flow with no datagram either way this long ends */
/* ... and one that never carried any, sooner: Go connects a socket to every address
 * of a name to sort them and closes it at once, and we cannot see the close. */
#define FLOW_UNUSED_MS 10000

struct flow {
	const struct sv *s;
	int local;                   /* ours, connected to the program's socket */
	int ctrl, relay;             /* the association, -1 until the first datagram */
	bool failed;                 /* the association could not be made: drop */
	struct socks_addr dst;
};

int sv_loopback_dgram(int family, struct sockaddr_storage *ss, socklen_t *len)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		*len = sizeof(*in6);
	}
	if (fd >= 0 && (bind(fd, (struct sockaddr *)ss, *len) != 0 ||
			getsockname(fd, (struct sockaddr *)ss, len) != 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void associate(struct flow *f)
{
	struct sockaddr_storage relay;
	socklen_t rlen;
	int err = sv_udp_associate(f->s, &f->ctrl, &relay, &rlen);

	if (err == 0) {
		f->relay = socket(relay.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (f->relay >= 0 && connect(f->relay, (struct sockaddr *)&relay, rlen) == 0)
			return;
		err = errno;
	}
	if (f->s->conf->log_level >= LOG_WARN) {
		char a[ADDR_STR_MAX];
		fprintf(stderr, "socksify: supervisor: UDP to %s: no association: %s\n",
			addr_str(&f->dst, a, sizeof(a)), strerror(err));
	}
	f->failed = true;
}

/* program -> proxy: one datagram from local, wrapped. */
static void outbound(struct flow *f, uint8_t *buf)
{
	ssize_t h = s5_build_udp_header(buf, FLOW_BUF, 0, &f->dst);
	ssize_t n = h < 0 ? -1 : recv(f->local, buf + h, FLOW_BUF - (size_t)h, MSG_DONTWAIT);

	if (n < 0 || f->failed)
		return;
	if (f->relay < 0)
		associate(f);
	if (f->relay >= 0)
		send(f->relay, buf, (size_t)(h + n), MSG_DONTWAIT);
}

/* proxy -> program: one datagram from the relay, unwrapped. */
static void inbound(struct flow *f, uint8_t *buf)
{
	struct socks_addr src;
	size_t used;
	uint8_t frag;
	ssize_t n = recv(f->relay, buf, FLOW_BUF, MSG_DONTWAIT);

	if (n <= 0 || s5_parse_udp_header(buf, (size_t)n, &used, &frag, &src) != CODEC_DONE ||
	    frag != 0)
		return;
	send(f->local, buf + used, (size_t)n - used, MSG_DONTWAIT);
}

static void *flow_loop(void *arg)
{
	struct flow *f = arg;
	uint8_t *buf = malloc(FLOW_BUF);

	while (buf) {
		struct pollfd p[3] = {{.fd = f->local, .events = POLLIN},
				      {.fd = f->relay, .events = POLLIN},
				      {.fd = f->ctrl, .events = POLLIN}};
		int rc = poll(p, 3, f->relay < 0 && !f->failed ? FLOW_UNUSED_MS : FLOW_IDLE_MS);
		if (rc == 0 || (rc < 0 && errno != EINTR))
			break;
		/* The program closed its socket (our sends bounce) or the proxy ended
		 * the association: the flow is over. */
		if ((p[0].revents & POLLERR) || (p[2].revents & (POLLIN | POLLHUP | POLLERR)))
			break;
		if (p[0].revents & POLLIN)
			outbound(f, buf);
		if (p[1].revents & POLLIN)
			inbound(f, buf);
	}
	free(buf);
	close(f->local);
	if (f->relay >= 0)
		close(f->relay);
	if (f->ctrl >= 0)
		close(f->ctrl);
	free(f);
	return NULL;
}

int sv_udp_connect(struct sv *s, int fd, int family, const struct socks_addr *dst)
{
	struct sockaddr_storage ours, theirs;
	socklen_t olen = sizeof(ours), tlen = sizeof(theirs);
	struct flow *f = calloc(1, sizeof(*f));
	int local = -1;
	int err;

	/* The local end must be where the program's socket is: in the jail, the
	 * helper makes it there; the relay end stays out here, with us. */
	if (f && s->jail) {
		local = sv_jail_dgram(s, family);
		if (local >= 0 && getsockname(local, (struct sockaddr *)&ours, &olen) != 0) {
			close(local);
			local = -1;
		}
	} else if (f) {
		local = sv_loopback_dgram(family, &ours, &olen);
	}
	if (local < 0) {
		err = f ? ENETUNREACH : ENOMEM;
		goto fail;
	}
	if (connect(fd, (struct sockaddr *)&ours, olen) != 0 ||
	    getsockname(fd, (struct sockaddr *)&theirs, &tlen) != 0 ||
	    connect(local, (struct sockaddr *)&theirs, tlen) != 0) {
		err = errno;
		goto fail;
	}
	*f = (struct flow){.s = s, .local = local, .ctrl = -1, .relay = -1, .dst = *dst};
	if (sv_spawn(flow_loop, f, 0))
		return 0;
	err = EAGAIN;
fail:
	if (local >= 0)
		close(local);
	free(f);
	return err;
}

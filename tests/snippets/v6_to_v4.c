/* An AF_INET6 socket connecting to an IPv4 destination as ::ffff:a.b.c.d: tunnelled,
 * the family stays AF_INET6, getpeername shows the mapped address; with IPV6_V6ONLY
 * set the kernel's answer (ENETUNREACH) stands and nothing is sent. Usage:
 * v6_to_v4 IPV4 PORT. */
#include "snip.h"

int main(int argc, char **argv)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_storage peer;
	char mapped[64];
	SNIP_ARGS(3);

	snprintf(mapped, sizeof(mapped), "::ffff:%s", argv[1]);
	inet_pton(AF_INET6, mapped, &s6.sin6_addr);
	s6.sin6_port = htons((uint16_t)strtoul(argv[2], NULL, 10));

	int fd = socket(AF_INET6, SOCK_STREAM, 0), off = 0, on = 1;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	CHECK(connect(fd, (struct sockaddr *)&s6, sizeof(s6)) == 0, "connect to %s (%s)", mapped,
	      strerror(errno));
	CHECK(snip_echo(fd, "mapped") == 0, "echo");
	socklen_t pl = sizeof(peer);
	CHECK(getpeername(fd, (struct sockaddr *)&peer, &pl) == 0 && pl == sizeof(s6) &&
		      memcmp(&peer, &s6, sizeof(s6)) == 0,
	      "getpeername is the mapped destination");
	int dom = -1;
	socklen_t dl = sizeof(dom);
	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl);
	CHECK(dom == AF_INET6, "still AF_INET6");
	close(fd);

	fd = socket(AF_INET6, SOCK_STREAM, 0);
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	errno = 0;
	int rc = connect(fd, (struct sockaddr *)&s6, sizeof(s6));
	CHECK(rc == -1 && errno == ENETUNREACH, "IPV6_V6ONLY: ENETUNREACH (%s)", strerror(errno));
	close(fd);
	return snip_done();
}

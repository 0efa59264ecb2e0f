/* Socket options set before connect() survive the tunnel: the shim builds it on the
 * program's own socket, so TCP_NODELAY, SO_KEEPALIVE, buffer sizes and the mark are
 * still there afterwards, and the fd number is unchanged. */
#include <netinet/tcp.h>

#include "snip.h"

static int getint(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);
	getsockopt(fd, level, name, &v, &l);
	return v;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	SNIP_ARGS(3);
	socklen_t len = snip_addr(argv[1], argv[2], &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0), one = 1, buf = 65536, mark = 42;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	int want_sndbuf = getint(fd, SOL_SOCKET, SO_SNDBUF);
	int have_mark = setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == 0;
	int fd_before = fd;

	CHECK(connect(fd, (struct sockaddr *)&ss, len) == 0, "connect (%s)", strerror(errno));
	CHECK(snip_echo(fd, "sockopt") == 0, "echo through the tunnel");
	CHECK(fd == fd_before, "fd number unchanged");
	CHECK(getint(fd, IPPROTO_TCP, TCP_NODELAY) == 1, "TCP_NODELAY kept");
	CHECK(getint(fd, SOL_SOCKET, SO_KEEPALIVE) == 1, "SO_KEEPALIVE kept");
	CHECK(getint(fd, SOL_SOCKET, SO_SNDBUF) == want_sndbuf, "SO_SNDBUF kept");
	if (have_mark)
		CHECK(getint(fd, SOL_SOCKET, SO_MARK) == 42, "SO_MARK kept");
	int dom = getint(fd, SOL_SOCKET, SO_DOMAIN);
	CHECK(dom == ss.ss_family, "family unchanged (%d)", dom);
	close(fd);

	/* TCP Fast Open on connect: the kernel defers the SYN to the first write, which
	 * is then the shim's greeting (and may say EINPROGRESS first). */
#ifdef TCP_FASTOPEN_CONNECT
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one)) == 0) {
		CHECK(connect(fd, (struct sockaddr *)&ss, len) == 0, "TCP_FASTOPEN_CONNECT: connect (%s)",
		      strerror(errno));
		CHECK(snip_echo(fd, "tfo") == 0, "TCP_FASTOPEN_CONNECT: echo");
	}
	close(fd);
#endif
	return snip_done();
}

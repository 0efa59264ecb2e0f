/* The shim must not leave its own errno behind where libc would not have touched it:
 * a pass-through call (a connect to the proxy itself; a UDP datagram to loopback;
 * close, dup, read and write of a pipe), a successful tunnelled connect and a proxied
 * datagram leave errno as the program set it, as they would without the library.
 * Programs do `errno = 0; call(); if (errno) ...`.
 * Usage: errno_keep HOST PORT PROXYHOST PROXYPORT (HOST: TCP and UDP echo on PORT) */
#include "snip.h"

#define SENTINEL 4242

int main(int argc, char **argv)
{
	struct sockaddr_storage ss, px, peer;
	SNIP_ARGS(5);
	socklen_t len = snip_addr(argv[1], argv[2], &ss), plen = sizeof(peer);
	socklen_t pxlen = snip_addr(argv[3], argv[4], &px);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0), p[2], rc;
	char c = 'x';

	/* First: the very first call that needs it loads the configuration (looking for
	 * files that may not exist). A UDP connect() to the proxy is never proxied. */
	int ufd = socket(px.ss_family, SOCK_DGRAM, 0);
	errno = SENTINEL;
	rc = connect(ufd, (struct sockaddr *)&px, pxlen);
	CHECK(rc == 0 && errno == SENTINEL, "a UDP connect to the proxy keeps errno (%d)", errno);
	close(ufd);

	errno = SENTINEL;
	int dfd = socket(px.ss_family, SOCK_STREAM, 0);
	rc = connect(dfd, (struct sockaddr *)&px, pxlen);
	CHECK(rc == 0 && errno == SENTINEL, "a direct connect to the proxy keeps errno (%d)", errno);
	close(dfd);

	errno = SENTINEL;
	rc = connect(fd, (struct sockaddr *)&ss, len);
	CHECK(rc == 0 && errno == SENTINEL, "a tunnelled connect keeps errno (%d)", errno);
	errno = SENTINEL;
	CHECK(getpeername(fd, (struct sockaddr *)&peer, &plen) == 0 && errno == SENTINEL,
	      "getpeername keeps errno (%d)", errno);
	errno = SENTINEL;
	int fd2 = dup(fd);
	CHECK(fd2 >= 0 && errno == SENTINEL, "dup of a tunnelled fd keeps errno (%d)", errno);
	errno = SENTINEL;
	CHECK(dup2(fd, fd2) == fd2 && errno == SENTINEL, "dup2 keeps errno (%d)", errno);
	errno = SENTINEL;
	CHECK(close(fd2) == 0 && errno == SENTINEL, "close of a tunnelled copy keeps errno (%d)",
	      errno);
	CHECK(snip_echo(fd, "errno") == 0, "echo");
	errno = SENTINEL;
	CHECK(close(fd) == 0 && errno == SENTINEL, "close keeps errno (%d)", errno);

	struct sockaddr_in lo = { .sin_family = AF_INET, .sin_port = htons(9),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	errno = SENTINEL;
	CHECK(sendto(u, &c, 1, 0, (struct sockaddr *)&lo, sizeof(lo)) == 1 && errno == SENTINEL,
	      "a UDP datagram to loopback keeps errno (%d)", errno);
	close(u);

	/* A datagram through the proxy (the target's UDP echo on the same port): the
	 * association's set-up must not show either. */
	char back[8];
	u = socket(ss.ss_family, SOCK_DGRAM, 0);
	errno = SENTINEL;
	CHECK(sendto(u, &c, 1, 0, (struct sockaddr *)&ss, len) == 1 && errno == SENTINEL,
	      "a proxied UDP datagram keeps errno (%d)", errno);
	struct pollfd pu = { .fd = u, .events = POLLIN };
	CHECK(poll(&pu, 1, 5000) == 1, "the echo arrives");
	errno = SENTINEL;
	CHECK(recvfrom(u, back, sizeof(back), 0, NULL, NULL) == 1 && errno == SENTINEL,
	      "receiving it keeps errno (%d)", errno);
	errno = SENTINEL;
	CHECK(close(u) == 0 && errno == SENTINEL, "closing it keeps errno (%d)", errno);

	CHECK(pipe(p) == 0, "pipe");
	errno = SENTINEL;
	CHECK(write(p[1], &c, 1) == 1 && errno == SENTINEL, "write keeps errno (%d)", errno);
	errno = SENTINEL;
	CHECK(read(p[0], &c, 1) == 1 && errno == SENTINEL, "read keeps errno (%d)", errno);
	errno = SENTINEL;
	CHECK(close(p[0]) == 0 && close(p[1]) == 0 && errno == SENTINEL, "close keeps errno (%d)",
	      errno);
	return snip_done();
}

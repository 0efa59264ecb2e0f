/* getpeername() on a tunnelled socket reports the destination the program asked for
 * (not the proxy), and still fails with ENOTCONN once the socket is shut down the way
 * it would on a direct connection; a dup2'd copy reports it too. */
#include "snip.h"

int main(int argc, char **argv)
{
	struct sockaddr_storage ss, peer;
	SNIP_ARGS(3);
	socklen_t len = snip_addr(argv[1], argv[2], &ss), plen = sizeof(peer);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);

	CHECK(connect(fd, (struct sockaddr *)&ss, len) == 0, "connect (%s)", strerror(errno));
	memset(&peer, 0xaa, sizeof(peer));
	CHECK(getpeername(fd, (struct sockaddr *)&peer, &plen) == 0, "getpeername");
	CHECK(plen == len && memcmp(&peer, &ss, len) == 0, "getpeername is the destination");

	/* A too-small buffer is truncated and the real length reported, as libc does. */
	struct sockaddr_storage small;
	socklen_t slen = 4;
	CHECK(getpeername(fd, (struct sockaddr *)&small, &slen) == 0 && slen == len,
	      "short buffer: full length reported");

	int fd2 = dup2(fd, 100);
	plen = sizeof(peer);
	CHECK(fd2 == 100 && getpeername(fd2, (struct sockaddr *)&peer, &plen) == 0 &&
		      memcmp(&peer, &ss, len) == 0,
	      "a dup2 copy reports the destination too");
	close(fd2);
	int fd3 = dup(fd);
	plen = sizeof(peer);
	CHECK(getpeername(fd3, (struct sockaddr *)&peer, &plen) == 0 && memcmp(&peer, &ss, len) == 0,
	      "a dup copy reports the destination too");
	close(fd3);
	CHECK(snip_echo(fd, "peer") == 0, "echo");
	close(fd);

	/* A fresh unconnected socket reusing the number: ENOTCONN, nothing stale. */
	int fd4 = socket(ss.ss_family, SOCK_STREAM, 0);
	plen = sizeof(peer);
	errno = 0;
	CHECK(getpeername(fd4, (struct sockaddr *)&peer, &plen) == -1 && errno == ENOTCONN,
	      "a new socket on a reused fd number: ENOTCONN (fd %d)", fd4);
	close(fd4);

	/* fclose() of an fdopen'd socket closes inside libc, past the close() hook: a
	 * new socket on the same number must still be tunnelled, not taken for the old
	 * one (which would send it direct) nor show the old destination. */
	int fd5 = socket(ss.ss_family, SOCK_STREAM, 0);
	CHECK(connect(fd5, (struct sockaddr *)&ss, len) == 0, "connect before fclose");
	FILE *f = fdopen(fd5, "r+");
	fclose(f);
	int fd6 = socket(ss.ss_family, SOCK_STREAM, 0);
	CHECK(fd6 == fd5, "the number is reused (%d)", fd6);
	CHECK(connect(fd6, (struct sockaddr *)&ss, len) == 0 && snip_echo(fd6, "reused") == 0,
	      "a socket on a number closed behind the shim's back is tunnelled");
	close(fd6);
	return snip_done();
}

/* Calls made through syscall(2) rather than the libc wrappers (libuv does this for
 * sendmmsg/recvmmsg): syscall(SYS_sendto/SYS_recvfrom) on a UDP socket and
 * syscall(SYS_connect) on a TCP socket must go through the proxy like the wrappers.
 * Usage: udp_rawsys HOST PORT   (a UDP and TCP echo server on PORT) */
#include <sys/syscall.h>

#include "snip.h"

static int wait_in(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 3000) == 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	char buf[64];

	if (argc < 3) {
		fprintf(stderr, "usage: udp_rawsys HOST PORT\n");
		return 2;
	}
	socklen_t len = snip_addr(argv[1], argv[2], &ss);
	int u = socket(ss.ss_family, SOCK_DGRAM, 0);
	long n = syscall(SYS_sendto, u, "raw-udp", 7, 0, &ss, len);
	CHECK(n == 7, "syscall(SYS_sendto): %ld", n);
	wait_in(u);
	n = syscall(SYS_recvfrom, u, buf, sizeof(buf), 0, NULL, NULL);
	CHECK(n == 7 && memcmp(buf, "raw-udp", 7) == 0, "syscall(SYS_recvfrom): %ld bytes", n);
	close(u);

	int t = socket(ss.ss_family, SOCK_STREAM, 0);
	n = syscall(SYS_connect, t, &ss, len);
	CHECK(n == 0, "syscall(SYS_connect): %s", n == 0 ? "0" : strerror(errno));
	CHECK(n == 0 && snip_echo(t, "raw-tcp") == 0, "the tunnelled stream echoes");
	close(t);
	printf("RESULT: %s\n", snip_failed ? "FAIL" : "PASS");
	return snip_failed;
}

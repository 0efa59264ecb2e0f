/* UDP through the shim from a _FORTIFY_SOURCE build (what Debian compiles everything
 * with): recvfrom/recv/read into buffers of known size become __recvfrom_chk,
 * __recv_chk and __read_chk, which libc would run past the shim's hooks; and
 * writev/readv on a connected UDP socket. Against a UDP echo server.
 * Usage: udp_fortify HOST PORT */
#undef _FORTIFY_SOURCE
#define _FORTIFY_SOURCE 2
#include <sys/uio.h>

#include "snip.h"

/* Not a constant, so the fortified wrappers pick the _chk functions. */
static volatile size_t cap = 256;

static int wait_in(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 3000) == 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss, from;
	socklen_t fl = sizeof(from);
	char buf[256];

	if (argc < 3) {
		fprintf(stderr, "usage: udp_fortify HOST PORT\n");
		return 2;
	}
	socklen_t len = snip_addr(argv[1], argv[2], &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM, 0);

	sendto(fd, "chk-from", 8, 0, (struct sockaddr *)&ss, len);
	wait_in(fd);
	ssize_t r = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&from, &fl);
	CHECK(r == 8 && memcmp(buf, "chk-from", 8) == 0, "__recvfrom_chk: %zd bytes", r);
	CHECK(fl == len && memcmp(&from, &ss, len) == 0, "__recvfrom_chk: the source");

	CHECK(connect(fd, (struct sockaddr *)&ss, len) == 0, "connect");
	send(fd, "chk-recv", 8, 0);
	wait_in(fd);
	r = recv(fd, buf, cap, 0);
	CHECK(r == 8 && memcmp(buf, "chk-recv", 8) == 0, "__recv_chk: %zd bytes", r);
	send(fd, "chk-read", 8, 0);
	wait_in(fd);
	r = read(fd, buf, cap);
	CHECK(r == 8 && memcmp(buf, "chk-read", 8) == 0, "__read_chk: %zd bytes", r);

	struct iovec out[2] = { { "write", 5 }, { "v-two", 5 } };
	char a[4], b[16];
	struct iovec in[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	CHECK(writev(fd, out, 2) == 10, "writev: 10 bytes");
	wait_in(fd);
	r = readv(fd, in, 2);
	CHECK(r == 10 && memcmp(a, "writ", 4) == 0 && memcmp(b, "ev-two", 6) == 0,
	      "readv: %zd bytes, scattered", r);
	close(fd);
	printf("RESULT: %s\n", snip_failed ? "FAIL" : "PASS");
	return snip_failed;
}

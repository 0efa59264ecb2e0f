/* TCP Fast Open through the shim: data sent with sendmsg(MSG_FASTOPEN) on an unconnected
 * TCP socket (and then with sendto(MSG_FASTOPEN) on a second one) must be tunnelled like
 * connect() + send and arrive exactly once: the echo server's whole answer, read to
 * EOF after our half-close, is the data itself.
 * Usage: udp_fastopen HOST PORT   (HOST an IP literal, a TCP echo server on PORT) */
#include <stdbool.h>

#include "snip.h"

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

static const char req[] = "fast-open-data-0123456789";

/* Reads the whole echo up to EOF, 5 s at most. */
static size_t read_reply(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (got + 1 < cap && poll(&p, 1, 5000) == 1) {
		ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return got;
}

static void one(const struct sockaddr_storage *ss, socklen_t len, bool use_sendmsg)
{
	const char *how = use_sendmsg ? "sendmsg" : "sendto";
	int fd = socket(ss->ss_family, SOCK_STREAM, 0);
	struct iovec iov = { .iov_base = (void *)req, .iov_len = sizeof(req) - 1 };
	struct msghdr m = { .msg_name = (void *)ss, .msg_namelen = len, .msg_iov = &iov,
			    .msg_iovlen = 1 };
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	char reply[65536];
	ssize_t n;

	n = use_sendmsg ? sendmsg(fd, &m, MSG_FASTOPEN)
			: sendto(fd, req, sizeof(req) - 1, MSG_FASTOPEN, (const struct sockaddr *)ss, len);
	CHECK(n == (ssize_t)sizeof(req) - 1, "%s(MSG_FASTOPEN): %zd (%s)", how, n,
	      n < 0 ? strerror(errno) : "ok");
	CHECK(getpeername(fd, (struct sockaddr *)&peer, &pl) == 0 && pl == len &&
		      memcmp(&peer, ss, len) == 0,
	      "%s: getpeername shows the destination", how);
	shutdown(fd, SHUT_WR);
	size_t got = read_reply(fd, reply, sizeof(reply));
	CHECK(got == sizeof(req) - 1 && memcmp(reply, req, got) == 0,
	      "%s: the data came back exactly once (%zu bytes)", how, got);
	close(fd);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;

	if (argc < 3) {
		fprintf(stderr, "usage: udp_fastopen HOST PORT\n");
		return 2;
	}
	socklen_t len = snip_addr(argv[1], argv[2], &ss);
	one(&ss, len, true);
	one(&ss, len, false);
	printf("RESULT: %s\n", snip_failed ? "FAIL" : "PASS");
	return snip_failed;
}

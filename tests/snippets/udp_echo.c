/* UDP through the shim against a UDP echo server: unconnected sendto/recvfrom (1 and
 * 1400 bytes), MSG_PEEK, MSG_TRUNC, MSG_DONTWAIT and poll readiness, sendmmsg/recvmmsg
 * batches, connected send/recv/write/read with getpeername. HOST may be a name (then
 * resolved with getaddrinfo: a fake address under dns=remote). Also epoll readiness.
 * Usage: udp_echo HOST PORT          every check, RESULT: PASS on success
 *        udp_echo HOST PORT refused  the first sendto and connect must fail (prints errno) */
#include <netdb.h>
#include <sys/epoll.h>
#include <stdbool.h>

#include "snip.h"

static struct sockaddr_storage dst;
static socklen_t dstlen;

static bool same_addr(const struct sockaddr_storage *a, socklen_t alen)
{
	return alen == dstlen && memcmp(a, &dst, dstlen) == 0;
}

static int wait_in(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static void fill(char *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (char)(seed * 131 + i * 7);
}

static void echo_sizes(int fd)
{
	static const size_t sizes[] = { 1, 1400 };
	char out[1400], in[2048];

	for (size_t k = 0; k < 2; k++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		size_t n = sizes[k];
		fill(out, n, (unsigned)k + 1);
		ssize_t s = sendto(fd, out, n, 0, (struct sockaddr *)&dst, dstlen);
		CHECK(s == (ssize_t)n, "sendto %zu bytes: %zd (%s)", n, s, s < 0 ? strerror(errno) : "");
		int ready = wait_in(fd, 3000);
		CHECK(ready, "poll says readable for the %zu-byte echo", n);
		ssize_t r = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&from, &fl);
		CHECK(r == (ssize_t)n && memcmp(in, out, n) == 0, "recvfrom: %zd bytes, identical", r);
		CHECK(same_addr(&from, fl), "recvfrom reports the destination as the source");
	}
}

static void peek_trunc_dontwait(int fd)
{
	char out[100], in[200];
	struct iovec iov = { .iov_base = in, .iov_len = 10 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	ssize_t r = recv(fd, in, sizeof(in), MSG_DONTWAIT);
	CHECK(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "MSG_DONTWAIT on an empty socket: EAGAIN");
	fill(out, sizeof(out), 9);
	sendto(fd, out, sizeof(out), 0, (struct sockaddr *)&dst, dstlen);
	wait_in(fd, 3000);
	r = recv(fd, in, sizeof(in), MSG_PEEK);
	CHECK(r == 100 && memcmp(in, out, 100) == 0, "MSG_PEEK: %zd bytes", r);
	r = recvmsg(fd, &m, MSG_TRUNC);
	CHECK(r == 100 && (m.msg_flags & MSG_TRUNC) && memcmp(in, out, 10) == 0,
	      "recvmsg MSG_TRUNC into 10 bytes: returns %zd, MSG_TRUNC %s", r,
	      (m.msg_flags & MSG_TRUNC) ? "set" : "unset");
	r = recv(fd, in, sizeof(in), MSG_DONTWAIT);
	CHECK(r < 0 && errno == EAGAIN, "the peeked datagram was consumed once");
}

/* epoll, edge-triggered: one event for the echo, none left after it is read. */
static void epoll_ready(int fd)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET }, got;
	char in[64];

	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	sendto(fd, "epoll", 5, 0, (struct sockaddr *)&dst, dstlen);
	int n = epoll_wait(ep, &got, 1, 3000);
	CHECK(n == 1 && (got.events & EPOLLIN), "epoll (ET) reports the echo readable");
	CHECK(recv(fd, in, sizeof(in), 0) == 5, "and it reads 5 bytes");
	CHECK(epoll_wait(ep, &got, 1, 0) == 0, "no event left after it");
	close(ep);
}

static void batches(int fd)
{
	enum { N = 4 };
	char out[N][64], in[N][128];
	struct iovec oiov[N], iiov[N];
	struct mmsghdr om[N], im[N];
	int got = 0;

	memset(om, 0, sizeof(om));
	memset(im, 0, sizeof(im));
	for (int i = 0; i < N; i++) {
		fill(out[i], sizeof(out[i]), 20 + (unsigned)i);
		oiov[i] = (struct iovec){ out[i], sizeof(out[i]) };
		om[i].msg_hdr = (struct msghdr){ .msg_name = &dst, .msg_namelen = dstlen,
						 .msg_iov = &oiov[i], .msg_iovlen = 1 };
	}
	int s = sendmmsg(fd, om, N, 0);
	CHECK(s == N, "sendmmsg: %d of %d", s, N);
	for (int tries = 0; got < N && tries < 50; tries++) {
		if (!wait_in(fd, 3000))
			break;
		for (int i = 0; i < N - got; i++) {
			iiov[i] = (struct iovec){ in[got + i], sizeof(in[0]) };
			im[i].msg_hdr = (struct msghdr){ .msg_iov = &iiov[i], .msg_iovlen = 1 };
		}
		int r = recvmmsg(fd, im, (unsigned)(N - got), MSG_WAITFORONE, NULL);
		if (r < 0)
			break;
		for (int i = 0; i < r; i++)
			CHECK(im[i].msg_len == 64, "recvmmsg datagram of %u bytes", im[i].msg_len);
		got += r;
	}
	CHECK(got == N, "recvmmsg: %d of %d datagrams back", got, N);
	bool all = true;
	for (int i = 0; i < N && got == N; i++) {
		bool found = false;
		for (int j = 0; j < N; j++)
			found |= memcmp(in[i], out[j], 64) == 0;
		all &= found;
	}
	CHECK(got == N && all, "every batch datagram came back intact");
}

static void connected(int family)
{
	int fd = socket(family, SOCK_DGRAM, 0);
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	char out[32] = "connected-udp", in[64];

	int c = connect(fd, (struct sockaddr *)&dst, dstlen);
	CHECK(c == 0, "connect: %s", c == 0 ? "0" : strerror(errno));
	CHECK(getpeername(fd, (struct sockaddr *)&peer, &pl) == 0 && same_addr(&peer, pl),
	      "getpeername shows the destination");
	CHECK(send(fd, out, sizeof(out), 0) == (ssize_t)sizeof(out), "send");
	wait_in(fd, 3000);
	ssize_t r = recv(fd, in, sizeof(in), 0);
	CHECK(r == (ssize_t)sizeof(out) && memcmp(in, out, sizeof(out)) == 0, "recv: %zd bytes", r);
	CHECK(write(fd, out, 5) == 5, "write");
	wait_in(fd, 3000);
	r = read(fd, in, sizeof(in));
	CHECK(r == 5 && memcmp(in, out, 5) == 0, "read: %zd bytes", r);
	close(fd);
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;

	if (argc < 3) {
		fprintf(stderr, "usage: udp_echo HOST PORT [refused]\n");
		return 2;
	}
	int g = getaddrinfo(argv[1], argv[2], &hints, &res);
	if (g != 0) {
		printf("FAIL: getaddrinfo %s: %s\n", argv[1], gai_strerror(g));
		return 1;
	}
	memcpy(&dst, res->ai_addr, res->ai_addrlen);
	dstlen = res->ai_addrlen;
	int family = res->ai_family;
	freeaddrinfo(res);
	char host[INET6_ADDRSTRLEN] = "?";
	getnameinfo((struct sockaddr *)&dst, dstlen, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
	printf("destination: %s\n", host);

	int fd = socket(family, SOCK_DGRAM, 0);
	if (argc > 3 && strcmp(argv[3], "refused") == 0) {
		ssize_t s = sendto(fd, "x", 1, 0, (struct sockaddr *)&dst, dstlen);
		int e = errno;
		printf("sendto=%zd errno=%s\n", s, s < 0 ? strerrorname_np(e) : "0");
		int c = connect(fd, (struct sockaddr *)&dst, dstlen);
		e = errno;
		printf("connect=%d errno=%s\n", c, c < 0 ? strerrorname_np(e) : "0");
		return s < 0 ? 0 : 1;
	}
	echo_sizes(fd);
	peek_trunc_dontwait(fd);
	epoll_ready(fd);
	batches(fd);
	close(fd);
	connected(family);
	printf("RESULT: %s\n", snip_failed ? "FAIL" : "PASS");
	return snip_failed;
}

/* Helpers shared by the snippet programs: each snippet exercises one behaviour of the
 * shim against a TCP echo server, prints "ok: ..." / "FAIL: ..." lines and exits 0 only
 * when every check held. Usage of every snippet: NAME HOST PORT [ARGS]. */
#ifndef SNIP_H
#define SNIP_H

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int snip_failed;

#define CHECK(cond, ...)                                                                  \
	do {                                                                                \
		if (cond) {                                                                 \
			printf("ok: ");                                                     \
		} else {                                                                    \
			printf("FAIL: ");                                                   \
			snip_failed = 1;                                                    \
		}                                                                           \
		printf(__VA_ARGS__);                                                        \
		printf("\n");                                                               \
		fflush(stdout);                                                             \
	} while (0)

/* HOST (IPv4 or IPv6 literal) and PORT into a sockaddr of HOST's own family. */
static inline socklen_t snip_addr(const char *host, const char *port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)strtoul(port, NULL, 10));
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)strtoul(port, NULL, 10));
		return sizeof(*s6);
	}
	fprintf(stderr, "bad address %s\n", host);
	exit(2);
}

/* Sends a tag and reads it back from the echo server (blocking or not), 5 s at most. */
static inline int snip_echo(int fd, const char *tag)
{
	char buf[128];
	size_t len = strlen(tag), got = 0;
	struct pollfd p = { .fd = fd };

	if (send(fd, tag, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	while (got < len) {
		p.events = POLLIN;
		if (poll(&p, 1, 5000) <= 0)
			return -1;
		ssize_t n = recv(fd, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return got == len && memcmp(buf, tag, len) == 0 ? 0 : -1;
}

/* One connection to ss that echoes tag, then closed: 1 when all of it worked. */
static inline int snip_once(const struct sockaddr_storage *ss, socklen_t len, const char *tag)
{
	int fd = socket(ss->ss_family, SOCK_STREAM, 0);
	int rc = connect(fd, (const struct sockaddr *)ss, len) == 0 && snip_echo(fd, tag) == 0;

	close(fd);
	return rc;
}

/* The library's one-time set-up (configuration, name table) happens on its first
 * hook that needs it: done here, so a timed connect measures the connect alone. */
static inline void snip_warm_up(void)
{
	struct addrinfo *ai = NULL;
	if (getaddrinfo("snippet-warm-up.test", "80", NULL, &ai) == 0)
		freeaddrinfo(ai);
}

static inline int snip_done(void)
{
	printf(snip_failed ? "RESULT: FAIL\n" : "RESULT: PASS\n");
	return snip_failed;
}

#define SNIP_ARGS(n)                                                                      \
	do {                                                                                \
		if (argc < (n)) {                                                           \
			fprintf(stderr, "usage: %s HOST PORT ...\n", argv[0]);              \
			return 2;                                                           \
		}                                                                           \
	} while (0)

#endif

/* ---- non-blocking connect, shared by nb_poll / nb_select / nb_epoll ---- */
#include <fcntl.h>

/* The errno a snippet expects ("ok" = success), e.g. ECONNREFUSED. */
static inline int snip_errno_by_name(const char *s)
{
	static const struct {
		const char *n;
		int e;
	} t[] = { { "ok", 0 },		       { "ECONNREFUSED", ECONNREFUSED },
		  { "ETIMEDOUT", ETIMEDOUT },  { "EHOSTUNREACH", EHOSTUNREACH },
		  { "ENETUNREACH", ENETUNREACH }, { "EACCES", EACCES } };
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].n) == 0)
			return t[i].e;
	fprintf(stderr, "unknown errno name %s\n", s);
	exit(2);
}

/* Runs a non-blocking connect the way event loops do and returns its final errno
 * (0: connected): connect() -> 0, an immediate error, or EINPROGRESS followed by
 * wait_writable() and getsockopt(SO_ERROR). */
static inline int snip_nb_connect(int fd, const struct sockaddr *sa, socklen_t len,
				  int (*wait_writable)(int fd))
{
	int fl = fcntl(fd, F_GETFL);
	int rc = connect(fd, sa, len);
	int err = rc == 0 ? 0 : errno;

	CHECK(fcntl(fd, F_GETFL) == fl, "file status flags unchanged by connect");
	if (rc == 0) {
		CHECK(1, "connect returned 0 at once");
	} else if (err == EINPROGRESS) {
		if (wait_writable(fd) != 0) {
			CHECK(0, "socket became writable within 10 s");
			return ETIMEDOUT;
		}
		socklen_t l = sizeof(err);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
		CHECK(1, "EINPROGRESS, then writable, SO_ERROR %d", err);
	} else {
		CHECK(1, "connect failed at once: %s", strerror(err));
	}
	return err;
}

static inline int snip_nb_main(int argc, char **argv, int (*wait_writable)(int fd))
{
	struct sockaddr_storage ss;
	SNIP_ARGS(3);
	socklen_t len = snip_addr(argv[1], argv[2], &ss);
	int want = snip_errno_by_name(argc > 3 ? argv[3] : "ok");
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int err = snip_nb_connect(fd, (struct sockaddr *)&ss, len, wait_writable);

	CHECK(err == want, "result %s (want %s)", err ? strerror(err) : "connected",
	      want ? strerror(want) : "connected");
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK, "still non-blocking");
	if (want == 0 && err == 0) {
		/* Writable must mean the tunnel is up: data goes to the destination. */
		CHECK(snip_echo(fd, "nonblocking") == 0, "echo after writability");
	}
	close(fd);
	return snip_done();
}

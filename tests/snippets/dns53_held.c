/* Snippet: port-53 answers held in memory by the library (a single-threaded program's
 * queries to its resolv.conf name server, answered with no system call) must behave
 * exactly as a datagram in the kernel's queue would, whatever way the program waits
 * or reads: poll, epoll, select, a raw syscall, MSG_PEEK, a short buffer, control
 * messages, fork, dup, close, several sockets, and a thread already blocked in recv.
 *   dns53_held NAME
 * One line per case, "ok CASE" or "FAIL CASE: why"; exit 1 when one failed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dnsq.h"

static struct sockaddr_in ns;
static const char *qname;
static int failed;
static uint16_t next_id = 0x4100;

static void result(const char *name, const char *why)
{
	if (why == NULL) {
		printf("ok %s\n", name);
	} else {
		printf("FAIL %s: %s\n", name, why);
		failed = 1;
	}
	fflush(stdout);
}

static int nameserver(void)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (dnsq_nameserver(&ss, &len) != 0 || ss.ss_family != AF_INET)
		return -1;
	memcpy(&ns, &ss, sizeof(ns));
	return 0;
}

/* A connected UDP socket to the name server (or unconnected: conn false). */
static int dns_socket(bool conn)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	if (fd >= 0 && conn && connect(fd, (struct sockaddr *)&ns, sizeof(ns)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends one A query on fd (to the server when unconnected); its ID. */
static uint16_t ask(int fd, bool conn)
{
	uint8_t q[300];
	uint16_t id = next_id++;
	size_t l = dnsq_build(q, id, qname);
	ssize_t n = conn ? send(fd, q, l, 0)
			 : sendto(fd, q, l, 0, (struct sockaddr *)&ns, sizeof(ns));

	return n == (ssize_t)l ? id : 0;
}

/* a (n bytes) is a whole answer to id with at least one record. */
static bool is_answer(const uint8_t *a, ssize_t n, uint16_t id)
{
	return n >= 12 && a[0] == (id >> 8) && a[1] == (uint8_t)id && (a[2] & 0x80) &&
	       (a[3] & 0x0f) == 0 && (a[6] | a[7]) != 0;
}

static const char *wait_read(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, ms);
	return r == 1 && (p.revents & POLLIN) ? NULL : "not readable";
}

static bool drained(int fd)
{
	uint8_t a[64];
	return recv(fd, a, sizeof(a), MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

static void case_poll(void)
{
	uint8_t a[1500];
	int fd = dns_socket(true);
	uint16_t id = ask(fd, true);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, 0);
	const char *why = NULL;

	if (id == 0)
		why = "send failed";
	else if (r != 1 || p.revents != POLLIN)
		why = "poll(0) did not report POLLIN alone";
	else if (!is_answer(a, recv(fd, a, sizeof(a), 0), id))
		why = "no answer";
	else if (!drained(fd))
		why = "a second datagram";
	result("poll-then-recv", why);
	close(fd);
}

static void case_dontwait(void)
{
	uint8_t a[1500];
	int fd = dns_socket(true);
	uint16_t id = ask(fd, true);

	result("recv-at-once", is_answer(a, recv(fd, a, sizeof(a), MSG_DONTWAIT), id) ? NULL
								       : "no answer");
	close(fd);
}

static void case_peek(void)
{
	uint8_t a[1500], b[1500];
	int fd = dns_socket(true);
	uint16_t id = ask(fd, true);
	ssize_t n = recv(fd, a, sizeof(a), MSG_PEEK | MSG_DONTWAIT);
	ssize_t m = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	const char *why = NULL;

	if (!is_answer(a, n, id))
		why = "peek saw no answer";
	else if (m != n || memcmp(a, b, (size_t)n) != 0)
		why = "the read after the peek differs";
	else if (!drained(fd))
		why = "still queued after the read";
	result("msg-peek", why);
	close(fd);
}

static void case_trunc(void)
{
	uint8_t a[8];
	struct iovec iov = { a, sizeof(a) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fd = dns_socket(true);
	uint16_t id = ask(fd, true);
	ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT);
	const char *why = NULL;

	if (n != 8 || a[0] != (id >> 8) || a[1] != (uint8_t)id)
		why = "not the first 8 bytes";
	else if (!(m.msg_flags & MSG_TRUNC))
		why = "no MSG_TRUNC";
	else if (!drained(fd))
		why = "the rest of the datagram is still there";
	result("short-buffer", why);
	close(fd);
}

static void case_epoll(void)
{
	uint8_t a[1500];
	int fd = dns_socket(true), ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd }, out;
	const char *why = NULL;

	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	uint16_t id = ask(fd, true);
	if (epoll_wait(ep, &out, 1, 2000) != 1 || out.data.fd != fd)
		why = "epoll_wait saw nothing";
	else if (!is_answer(a, recv(fd, a, sizeof(a), 0), id))
		why = "no answer";
	result("epoll", why);
	close(ep);
	close(fd);
}

static void case_select(void)
{
	uint8_t a[1500];
	int fd = dns_socket(true);
	uint16_t id = ask(fd, true);
	fd_set r;
	struct timeval tv = { 2, 0 };
	const char *why = NULL;

	FD_ZERO(&r);
	FD_SET(fd, &r);
	if (select(fd + 1, &r, NULL, NULL, &tv) != 1 || !FD_ISSET(fd, &r))
		why = "select saw nothing";
	else if (!is_answer(a, recv(fd, a, sizeof(a), 0), id))
		why = "no answer";
	result("select", why);
	close(fd);
}

static void case_raw_syscall(void)
{
	uint8_t a[1500];
	int fd = dns_socket(true);
	uint16_t id = ask(fd, true);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	const char *why = NULL;
	struct timespec ts = { 2, 0 };

	if (syscall(SYS_ppoll, &p, 1, &ts, NULL, 8) != 1)
		why = "a raw ppoll saw nothing";
	else if (!is_answer(a, syscall(SYS_recvfrom, fd, a, sizeof(a), 0, NULL, NULL), id))
		why = "a raw recvfrom got no answer";
	result("raw-syscall", why);
	close(fd);
}

static void case_mixed_poll(void)
{
	uint8_t a[1500];
	int fd = dns_socket(true), pp[2];
	const char *why = NULL;

	if (pipe(pp) != 0 || write(pp[1], "x", 1) != 1) {
		result("poll-with-a-pipe", "pipe");
		return;
	}
	uint16_t id = ask(fd, true);
	struct pollfd p[3] = { { pp[0], POLLIN, 0 }, { fd, POLLIN | POLLOUT, 0 },
			       { pp[1], POLLOUT, 0 } };
	int r = poll(p, 3, 2000);
	if (r != 3 || !(p[0].revents & POLLIN) || p[1].revents != (POLLIN | POLLOUT) ||
	    !(p[2].revents & POLLOUT))
		why = "poll did not report all three";
	else if (!is_answer(a, recv(fd, a, sizeof(a), 0), id))
		why = "no answer";
	result("poll-with-a-pipe", why);
	close(pp[0]);
	close(pp[1]);
	close(fd);
}

static void case_fork(void)
{
	uint8_t a[1500];
	int fd = dns_socket(true), st = 0;
	uint16_t id = ask(fd, true);
	pid_t pid = fork();

	if (pid == 0) {
		if (wait_read(fd, 2000) != NULL)
			_exit(3);
		_exit(is_answer(a, recv(fd, a, sizeof(a), 0), id) ? 0 : 4);
	}
	waitpid(pid, &st, 0);
	const char *why = NULL;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		why = "the child got no answer";
	else if (!drained(fd))
		why = "the parent still has a copy";
	result("fork-child-reads", why);
	close(fd);
}

static void case_dup(void)
{
	uint8_t a[1500];
	int fd = dns_socket(true);
	uint16_t id = ask(fd, true);
	int d = dup(fd);
	const char *why = NULL;

	if (wait_read(d, 2000) != NULL)
		why = "the copy is not readable";
	else if (!is_answer(a, recv(d, a, sizeof(a), 0), id))
		why = "no answer on the copy";
	else if (!drained(fd))
		why = "the original still has one";
	result("dup-reads", why);
	close(d);
	close(fd);
}

static void case_close_reuse(void)
{
	int fd = dns_socket(true);
	ask(fd, true);
	close(fd);
	int again = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	const char *why = NULL;

	if (again != fd)
		why = "the number was not reused";
	else if (!drained(again))
		why = "the closed socket's answer reached its successor";
	result("close-forgets", why);
	close(again);
}

static void case_unconnected(void)
{
	uint8_t a[1500];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	int fd = dns_socket(false);
	uint16_t id = ask(fd, false);
	ssize_t n = wait_read(fd, 2000) == NULL
			    ? recvfrom(fd, a, sizeof(a), 0, (struct sockaddr *)&from, &fl)
			    : -1;
	const char *why = NULL;

	if (!is_answer(a, n, id))
		why = "no answer";
	else if (fl != sizeof(from) || from.sin_port != htons(53) ||
		 from.sin_addr.s_addr != ns.sin_addr.s_addr)
		why = "not from the name server";
	result("sendto-recvfrom", why);
	close(fd);
}

static void case_two_sockets(void)
{
	uint8_t a[1500];
	int x = dns_socket(true), y = dns_socket(true);
	uint16_t ix = ask(x, true), iy = ask(y, true);
	struct pollfd p[2] = { { x, POLLIN, 0 }, { y, POLLIN, 0 } };
	const char *why = NULL;

	if (poll(p, 2, 2000) != 2)
		why = "not both readable";
	else if (!is_answer(a, recv(y, a, sizeof(a), 0), iy) ||
		 !is_answer(a, recv(x, a, sizeof(a), 0), ix))
		why = "an answer missing or crossed";
	result("two-sockets", why);
	close(x);
	close(y);
}

static void case_pktinfo(void)
{
	uint8_t a[1500], ctl[256];
	int one = 1, fd = dns_socket(true);
	struct iovec iov = { a, sizeof(a) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			    .msg_controllen = sizeof(ctl) };
	const char *why = NULL;

	setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	uint16_t id = ask(fd, true);
	ssize_t n = wait_read(fd, 2000) == NULL ? recvmsg(fd, &m, 0) : -1;
	struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&m) : NULL;
	if (!is_answer(a, n, id))
		why = "no answer";
	else if (c == NULL || c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_PKTINFO)
		why = "no IP_PKTINFO control message";
	result("control-messages", why);
	close(fd);
}

static int blocked_fd;
static uint16_t blocked_id;
static void *blocked_reader(void *arg)
{
	uint8_t a[1500];
	struct pollfd p = { .fd = blocked_fd, .events = POLLIN };

	(void)arg;
	if (poll(&p, 1, 3000) != 1)
		return (void *)"the blocked thread was never woken";
	return is_answer(a, recv(blocked_fd, a, sizeof(a), 0), blocked_id)
		       ? NULL
		       : (void *)"the blocked thread got no answer";
}

static void case_thread(void)
{
	pthread_t t;
	void *why = NULL;

	blocked_fd = dns_socket(true);
	blocked_id = next_id; /* the ID the next ask() takes */
	pthread_create(&t, NULL, blocked_reader, NULL);
	usleep(100000); /* the reader is in the kernel's poll by now */
	ask(blocked_fd, true);
	pthread_join(t, &why);
	result("thread-blocked-before-send", why);
	close(blocked_fd);
}

int main(int argc, char **argv)
{
	qname = argc > 1 ? argv[1] : "held.target.test";
	if (nameserver() != 0) {
		printf("FAIL setup: no IPv4 nameserver in /etc/resolv.conf\n");
		return 1;
	}
	case_poll();
	case_dontwait();
	case_peek();
	case_trunc();
	case_epoll();
	case_select();
	case_raw_syscall();
	case_mixed_poll();
	case_fork();
	case_dup();
	case_close_reuse();
	case_unconnected();
	case_two_sockets();
	case_pktinfo();
	case_thread(); /* last: the process has threads from here on */
	return failed;
}

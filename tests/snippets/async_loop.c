/* An event loop around one non-blocking connect through a slow proxy: connect() must
 * return -1/EINPROGRESS at once, the loop must keep turning (5 ms ticks) while the
 * handshake runs, and the fd must become writable (or fail with an error event and
 * SO_ERROR) only when the tunnel is up. While pending: a second connect() gives
 * EALREADY, getpeername() ENOTCONN; after success EISCONN and the echo works.
 *
 * Usage: async_loop HOST PORT API [EXPECT] [MIN_TICKS]
 *   API: poll ppoll select pselect epoll-lt epoll-et epoll-oneshot, each optionally
 *        with "-early" (registered before connect; poll/select always are per call)
 *   EXPECT: ok (default) or an errno name (ECONNREFUSED, EACCES, ...)
 *   MIN_TICKS: ticks the loop must make while pending (default 3; 0 for an error
 *        that may come at once) */
#include <signal.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>

#include "snip.h"

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static const char *api;
/* Not a constant: built with _FORTIFY_SOURCE, poll/ppoll then go through __poll_chk. */
static volatile nfds_t one = 1;
static int ep = -1;

static bool is_epoll(void)
{
	return strncmp(api, "epoll", 5) == 0;
}

static uint32_t epoll_mask(void)
{
	uint32_t m = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
	if (strstr(api, "-et"))
		m |= EPOLLET;
	if (strstr(api, "oneshot"))
		m |= EPOLLONESHOT;
	return m;
}

/* One 5 ms wait for writability: 1 writable, 0 nothing yet, -1 error. *err_ev is set
 * when the API reported an error condition (POLLERR / EPOLLERR / select's except set
 * is not used by event loops for this; select reports writable). */
static int wait_once(int fd, int *err_ev)
{
	*err_ev = 0;
	if (strcmp(api, "poll") == 0 || strcmp(api, "ppoll") == 0) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		struct timespec ts = { 0, 5 * 1000000L };
		int r = api[0] == 'p' && api[1] == 'p' ? ppoll(&p, one, &ts, NULL) : poll(&p, one, 5);
		if (r < 0)
			return -1;
		if (r > 0 && (p.revents & POLLERR))
			*err_ev = 1;
		if (r > 0 && (p.revents & POLLIN) && !(p.revents & (POLLERR | POLLHUP)))
			printf("# note: readable while connecting (proxy bytes?)\n");
		return r > 0 && (p.revents & (POLLOUT | POLLERR | POLLHUP)) ? 1 : 0;
	}
	if (strcmp(api, "select") == 0 || strcmp(api, "pselect") == 0) {
		fd_set w, r;
		FD_ZERO(&w);
		FD_ZERO(&r);
		FD_SET(fd, &w);
		FD_SET(fd, &r);
		int n;
		if (api[0] == 'p') {
			struct timespec ts = { 0, 5 * 1000000L };
			sigset_t none;
			sigemptyset(&none);
			n = pselect(fd + 1, &r, &w, NULL, &ts, &none);
		} else {
			struct timeval tv = { 0, 5000 };
			n = select(fd + 1, &r, &w, NULL, &tv);
		}
		if (n < 0)
			return -1;
		return n > 0 && FD_ISSET(fd, &w) ? 1 : 0;
	}
	struct epoll_event out[4];
	int n = epoll_wait(ep, out, 4, 5);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (out[i].data.u64 != 0x5eed0000u + (uint64_t)fd)
			printf("FAIL: epoll event with data %llx, not ours\n",
			       (unsigned long long)out[i].data.u64), snip_failed = 1;
		if (out[i].events & EPOLLERR)
			*err_ev = 1;
		if (out[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			return 1;
	}
	return 0;
}

static void epoll_add(int fd)
{
	struct epoll_event ev = { .events = epoll_mask(), .data.u64 = 0x5eed0000u + (uint64_t)fd };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		CHECK(0, "epoll_ctl ADD: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss, peer;
	SNIP_ARGS(4);
	socklen_t len = snip_addr(argv[1], argv[2], &ss), pl = sizeof(peer);
	api = argv[3];
	int want = snip_errno_by_name(argc > 4 ? argv[4] : "ok");
	int min_ticks = argc > 5 ? atoi(argv[5]) : 3;
	bool early = strstr(api, "-early") != NULL;
	int ticks = 0, err = 0, err_ev = 0, ready = 0;

	signal(SIGPIPE, SIG_IGN);
	snip_warm_up();
	if (is_epoll())
		ep = epoll_create1(EPOLL_CLOEXEC);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (is_epoll() && early)
		epoll_add(fd);
	long t0 = now_ms();
	int rc = connect(fd, (struct sockaddr *)&ss, len);
	long took = now_ms() - t0;
	int cerr = rc == 0 ? 0 : errno;

	if (rc < 0 && cerr != EINPROGRESS) {
		/* A decision made without the network (a block rule): at once, as errno. */
		CHECK(took < 80, "connect failed at once (%ld ms): %s", took, strerror(cerr));
		CHECK(cerr == want, "result %s (want %s)", strerror(cerr),
		      want ? strerror(want) : "connected");
		close(fd);
		return snip_done();
	}
	CHECK(rc < 0 && cerr == EINPROGRESS, "connect returned -1/EINPROGRESS (rc %d, %s)", rc,
	      rc < 0 ? strerror(cerr) : "no error");
	CHECK(took < 80, "connect returned at once (%ld ms; a round trip to the proxy is 100)", took);
	if (is_epoll() && !early)
		epoll_add(fd);

	/* While pending: what a connecting socket says. */
	int r2 = connect(fd, (struct sockaddr *)&ss, len);
	int e2 = errno;
	CHECK(r2 < 0 && e2 == EALREADY, "second connect while pending: %s",
	      r2 < 0 ? strerror(e2) : "0");
	int gp = getpeername(fd, (struct sockaddr *)&peer, &pl);
	CHECK(gp < 0 && errno == ENOTCONN, "getpeername while pending: %s",
	      gp < 0 ? strerror(errno) : "0 (shows a peer)");

	long deadline = t0 + 10000;
	while (now_ms() < deadline) {
		ready = wait_once(fd, &err_ev);
		if (ready != 0)
			break;
		ticks++;
	}
	long total = now_ms() - t0;
	CHECK(ready == 1, "writable (or error) after %ld ms", total);
	CHECK(ticks >= min_ticks, "the loop kept turning: %d ticks of 5 ms while connecting", ticks);
	socklen_t l = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
	CHECK(err == want, "SO_ERROR %s (want %s)", err ? strerror(err) : "0",
	      want ? strerror(want) : "0");
	if (want != 0 && strncmp(api, "select", 6) != 0 && strncmp(api, "pselect", 7) != 0)
		CHECK(err_ev, "the failure came as an error event (POLLERR/EPOLLERR)");
	if (want == 0 && err == 0) {
		/* As the kernel says after a non-blocking connect completed: the first
		 * connect() again returns 0 (it marks the socket connected), then EISCONN. */
		int r3 = connect(fd, (struct sockaddr *)&ss, len);
		int e3 = errno;
		CHECK(r3 == 0 || (r3 < 0 && e3 == EISCONN), "connect after success: %s",
		      r3 < 0 ? strerror(e3) : "0");
		r3 = connect(fd, (struct sockaddr *)&ss, len);
		CHECK(r3 < 0 && errno == EISCONN, "connect once more: %s",
		      r3 < 0 ? strerror(errno) : "0");
		pl = sizeof(peer);
		CHECK(getpeername(fd, (struct sockaddr *)&peer, &pl) == 0 &&
			      peer.ss_family == ss.ss_family &&
			      memcmp(&peer, &ss, ss.ss_family == AF_INET ? 8 : 24) == 0,
		      "getpeername shows the destination");
		CHECK(snip_echo(fd, "async-loop") == 0, "echo through the tunnel");
	}
	printf("# %s: %d ticks, %ld ms\n", api, ticks, total);
	close(fd);
	if (ep >= 0)
		close(ep);
	return snip_done();
}

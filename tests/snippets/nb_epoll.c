/* Non-blocking connect under epoll, level-triggered (lt) or edge-triggered (et):
 * registered after connect() as event loops do, and also before it (et-early: the
 * edge must still come). Usage: nb_epoll HOST PORT lt|et|et-early [ok|ECONN...]. */
#include <sys/epoll.h>

#include "snip.h"

static int mode_et, mode_early, ep = -1;

static int wait_epoll(int fd)
{
	struct epoll_event ev = { .events = EPOLLOUT | (mode_et ? EPOLLET : 0), .data.fd = fd };
	struct epoll_event out;

	if (!mode_early && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		return -1;
	if (epoll_wait(ep, &out, 1, 10000) != 1 || out.data.fd != fd)
		return -1;
	return out.events & (EPOLLOUT | EPOLLERR | EPOLLHUP) ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	SNIP_ARGS(4);
	socklen_t len = snip_addr(argv[1], argv[2], &ss);
	int want = snip_errno_by_name(argc > 4 ? argv[4] : "ok");

	mode_et = strncmp(argv[3], "et", 2) == 0;
	mode_early = strcmp(argv[3], "et-early") == 0;
	ep = epoll_create1(EPOLL_CLOEXEC);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (mode_early) {
		struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLET, .data.fd = fd };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
	int rc = connect(fd, (struct sockaddr *)&ss, len);
	int err = rc == 0 ? 0 : errno;

	if (rc == 0 || err == EINPROGRESS) {
		/* Even after an immediate 0, an event loop waits for writability: it must come. */
		if (wait_epoll(fd) != 0) {
			CHECK(0, "writable event within 10 s (%s)", argv[3]);
			err = ETIMEDOUT;
		} else {
			socklen_t l = sizeof(err);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
			CHECK(1, "writable event (%s), SO_ERROR %d", argv[3], err);
		}
	}
	CHECK(err == want, "result %s (want %s)", err ? strerror(err) : "connected",
	      want ? strerror(want) : "connected");
	if (want == 0 && err == 0)
		CHECK(snip_echo(fd, "epoll") == 0, "echo after the event");
	close(fd);
	close(ep);
	return snip_done();
}

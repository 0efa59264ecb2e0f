/* A non-blocking connect through a slow proxy, and what programs do around it:
 *   nopoll   connect, never poll: sleep, then write; the tunnel must be there
 *   thread   a second thread waits in epoll_wait while this one keeps ticking
 *   close    close mid-handshake, then the fd number reused by a new connection
 *   dup2     dup2 another socket onto the fd mid-handshake, then use both
 *   fork     fork mid-handshake: the parent finishes; the child tunnels on its own
 *   exec     exec mid-handshake (the socket not CLOEXEC): the new image tunnels
 *   sndtimeo a blocking connect bounded by SO_SNDTIMEO
 * Usage: async_misc HOST PORT MODE. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "snip.h"

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static struct sockaddr_storage ss;
static socklen_t sslen;

/* A non-blocking connect that must not wait for the proxy. */
static int nb_start(int flags)
{
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | flags, 0);
	long t0 = now_ms();
	int rc = connect(fd, (struct sockaddr *)&ss, sslen);
	int e = errno;
	long took = now_ms() - t0;

	CHECK(rc < 0 && e == EINPROGRESS && took < 80, "connect: -1/EINPROGRESS at once (%s, %ld ms)",
	      rc < 0 ? strerror(e) : "0", took);
	return fd;
}

static int wait_writable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t l = sizeof(err);

	if (poll(&p, 1, ms) != 1)
		return ETIMEDOUT;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
	return err;
}

static int blocking_echo(const char *tag)
{
	return snip_once(&ss, sslen, tag);
}

static int mode_nopoll(void)
{
	int fd = nb_start(0);
	struct timespec s = { 1, 0 };
	nanosleep(&s, NULL);
	/* No poll at all: the tunnel must be up by now (the proxy is 100 ms away). */
	CHECK(snip_echo(fd, "nopoll") == 0, "write after a sleep reaches the destination");
	close(fd);
	return snip_done();
}

static int ep, tfd;
static volatile int waiter_done, waiter_ok;

static void *waiter(void *arg)
{
	struct epoll_event out;
	int n = epoll_wait(ep, &out, 1, 10000);
	waiter_ok = n == 1 && (out.events & EPOLLOUT) && out.data.fd == tfd;
	waiter_done = 1;
	return NULL;
}

static int mode_thread(void)
{
	pthread_t t;
	int ticks = 0;

	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	pthread_create(&t, NULL, waiter, NULL);
	struct timespec s = { 0, 20 * 1000000L };
	nanosleep(&s, NULL); /* the waiter is in epoll_wait (on an empty set) */
	long t0 = now_ms();
	int rc = connect(tfd, (struct sockaddr *)&ss, sslen);
	int e = errno;
	CHECK(rc < 0 && e == EINPROGRESS && now_ms() - t0 < 80,
	      "connect: -1/EINPROGRESS at once (%ld ms)", now_ms() - t0);
	/* Registered while the other thread already waits, as event loops with a
	 * separate poller thread do. */
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLET, .data.fd = tfd };
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	while (!waiter_done && now_ms() - t0 < 10000) {
		struct timespec tick = { 0, 5 * 1000000L };
		nanosleep(&tick, NULL);
		ticks++;
	}
	pthread_join(t, NULL);
	CHECK(waiter_ok, "the other thread's epoll_wait saw EPOLLOUT (after %ld ms)", now_ms() - t0);
	CHECK(ticks >= 3, "this thread kept ticking meanwhile: %d ticks", ticks);
	int err = 0;
	socklen_t l = sizeof(err);
	getsockopt(tfd, SOL_SOCKET, SO_ERROR, &err, &l);
	CHECK(err == 0, "SO_ERROR 0");
	CHECK(snip_echo(tfd, "thread") == 0, "echo through the tunnel");
	close(tfd);
	return snip_done();
}

static int mode_close(void)
{
	for (int i = 0; i < 5; i++) {
		int fd = nb_start(0);
		close(fd);
	}
	/* The numbers come back for new sockets: none may inherit a stale handshake. */
	int fd = nb_start(0);
	CHECK(wait_writable(fd, 10000) == 0, "a new connection on a reused number completes");
	CHECK(snip_echo(fd, "close-reuse") == 0, "echo on the reused number");
	close(fd);
	struct timespec s = { 0, 300 * 1000000L };
	nanosleep(&s, NULL); /* handshakes of the closed fds would be answered by now */
	CHECK(blocking_echo("after-close"), "a blocking connect afterwards works");
	return snip_done();
}

static int mode_dup2(void)
{
	int fd = nb_start(0);
	int other = socket(ss.ss_family, SOCK_STREAM, 0);
	CHECK(connect(other, (struct sockaddr *)&ss, sslen) == 0, "a blocking connect on another fd");
	CHECK(dup2(other, fd) == fd, "dup2 onto the pending fd");
	close(other);
	CHECK(snip_echo(fd, "dup2-target") == 0, "the dup2'd socket works on the old number");
	struct timespec s = { 0, 300 * 1000000L };
	nanosleep(&s, NULL);
	CHECK(snip_echo(fd, "dup2-later") == 0, "and still after the old handshake would be done");
	close(fd);
	return snip_done();
}

static int mode_fork(void)
{
	int fd = nb_start(0), status = -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		/* The child: its own tunnel works; the inherited fd is left alone. */
		_exit(blocking_echo("fork-child") ? 0 : 1);
	}
	CHECK(wait_writable(fd, 10000) == 0, "the parent's pending connect completes after fork");
	CHECK(snip_echo(fd, "fork-parent") == 0, "echo in the parent");
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child tunnels by itself");
	close(fd);
	return snip_done();
}

static int mode_exec(char **argv)
{
	int fd = nb_start(0);
	char fds[16];
	snprintf(fds, sizeof(fds), "%d", fd);
	fflush(stdout);
	execl("/proc/self/exe", argv[0], argv[1], argv[2], "exec-child", fds, (char *)NULL);
	CHECK(0, "exec: %s", strerror(errno));
	return snip_done();
}

static int mode_exec_child(const char *fds)
{
	int old = atoi(fds);
	CHECK(fcntl(old, F_GETFD) >= 0, "the socket survived exec (fd %d)", old);
	CHECK(blocking_echo("exec-child"), "the new image tunnels");
	int fd = nb_start(0);
	CHECK(wait_writable(fd, 10000) == 0, "and connects asynchronously");
	CHECK(snip_echo(fd, "exec-child-nb") == 0, "echo");
	return snip_done();
}

/* A blocking connect bounded by SO_SNDTIMEO, as the kernel bounds its own: a 40 ms
 * timeout (the proxy is 100 ms away) gives -1/EINPROGRESS after about 40 ms and the
 * connection completes behind it; a 5 s one simply connects. */
static int mode_sndtimeo(void)
{
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	struct timeval tv = { 0, 40 * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	long t0 = now_ms();
	int rc = connect(fd, (struct sockaddr *)&ss, sslen);
	int e = errno;
	long took = now_ms() - t0;
	CHECK(rc < 0 && e == EINPROGRESS, "SO_SNDTIMEO 40 ms: -1/EINPROGRESS (%s)",
	      rc < 0 ? strerror(e) : "0");
	CHECK(took >= 30 && took < 90, "after the send timeout (%ld ms)", took);
	CHECK(wait_writable(fd, 10000) == 0, "the connection completes behind the call");
	CHECK(snip_echo(fd, "sndtimeo") == 0, "echo through the tunnel");
	close(fd);

	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	tv.tv_sec = 5;
	tv.tv_usec = 0;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	rc = connect(fd, (struct sockaddr *)&ss, sslen);
	CHECK(rc == 0, "SO_SNDTIMEO 5 s: connected in the call (%s)", rc < 0 ? strerror(errno) : "0");
	CHECK(snip_echo(fd, "sndtimeo-5s") == 0, "echo through the tunnel");
	close(fd);
	return snip_done();
}

int main(int argc, char **argv)
{
	SNIP_ARGS(4);
	sslen = snip_addr(argv[1], argv[2], &ss);
	const char *m = argv[3];
	snip_warm_up();

	if (strcmp(m, "nopoll") == 0)
		return mode_nopoll();
	if (strcmp(m, "thread") == 0)
		return mode_thread();
	if (strcmp(m, "close") == 0)
		return mode_close();
	if (strcmp(m, "dup2") == 0)
		return mode_dup2();
	if (strcmp(m, "fork") == 0)
		return mode_fork();
	if (strcmp(m, "sndtimeo") == 0)
		return mode_sndtimeo();
	if (strcmp(m, "exec") == 0)
		return mode_exec(argv);
	if (strcmp(m, "exec-child") == 0 && argc > 4)
		return mode_exec_child(argv[4]);
	fprintf(stderr, "unknown mode %s\n", m);
	return 2;
}

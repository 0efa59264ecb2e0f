/* Upgrade in place (SIGUSR2): the binary at the path we were started from (a new
 * version once installed there) is started with our argv and our listening sockets,
 * handed over as systemd would (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID), plus one
 * pipe end (SOCKSIFYD_UPGRADE_FD) on which it writes its pid once it serves. Only
 * then does the old process stop accepting and finish its sessions; if the pipe
 * closes without a pid, the new one failed and the old one serves on. The sockets are
 * the same kernel objects in both processes, so no connection waiting in a backlog is
 * lost. Between fork and exec only async-signal-safe calls are made: the child's
 * environment is built before the fork and LISTEN_PID's digits written in place. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "upgrade.h"
#include "util.h"

#define UPGRADE_ENV "SOCKSIFYD_UPGRADE_FD"

extern char **environ;

static char exe[PATH_MAX];
static char **saved_argv;
static struct ev_io pipe_io = { .fd = -1 };
static upgrade_done_cb done_cb;
static char reply[32];
static size_t reply_len;

bool upgrade_init(char **argv)
{
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	saved_argv = argv;
	if (n <= 0)
		return false;
	exe[n] = '\0';
	return true;
}

bool upgrade_in_progress(void)
{
	return pipe_io.fd >= 0;
}

static void pipe_end(bool ok, pid_t pid)
{
	ev_io_close(srv.loop, &pipe_io);
	done_cb(ok, pid);
}

static void on_pipe(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	ssize_t n;
	unsigned long pid;

	(void)loop;
	(void)revents;
	n = read(io->fd, reply + reply_len, sizeof(reply) - 1 - reply_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		reply_len += (size_t)n;
		reply[reply_len] = '\0';
		if (!strchr(reply, '\n') && reply_len < sizeof(reply) - 1)
			return;
		reply[strcspn(reply, "\n")] = '\0';
		if (!parse_ulong(reply, 1, 0x7fffffff, &pid))
			pid = 0;
		pipe_end(pid != 0, (pid_t)pid);
		return;
	}
	pipe_end(false, 0); /* closed without a word: it did not make it */
}

/* In the child, between fork and exec: the decimal digits of v into buf. */
static void put_decimal(char *buf, unsigned long v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*buf++ = tmp[--n];
	*buf = '\0';
}

static char **child_env(unsigned n, const char **names, int pipe_fd, char **pid_slot)
{
	size_t count = 0, k = 0, nlen = 0;
	char **env;
	char *fds, *fdnames, *pfd, *lpid;

	while (environ[count])
		count++;
	env = calloc(count + 5, sizeof(*env));
	for (unsigned i = 0; i < n; i++)
		nlen += strlen(names[i]) + 1;
	fds = malloc(32);
	fdnames = malloc(nlen + 32);
	pfd = malloc(48);
	lpid = malloc(48);
	if (!env || !fds || !fdnames || !pfd || !lpid) {
		free(env);
		free(fds);
		free(fdnames);
		free(pfd);
		free(lpid);
		return NULL;
	}
	for (size_t i = 0; i < count; i++)
		if (strncmp(environ[i], "LISTEN_", 7) && strncmp(environ[i], UPGRADE_ENV "=", 21))
			env[k++] = environ[i];
	snprintf(fds, 32, "LISTEN_FDS=%u", n);
	strcpy(fdnames, "LISTEN_FDNAMES=");
	for (unsigned i = 0; i < n; i++) {
		if (i)
			strcat(fdnames, ":");
		strcat(fdnames, names[i]);
	}
	snprintf(pfd, 48, UPGRADE_ENV "=%d", pipe_fd);
	strcpy(lpid, "LISTEN_PID=");
	*pid_slot = lpid + strlen(lpid);
	env[k++] = fds;
	env[k++] = fdnames;
	env[k++] = pfd;
	env[k++] = lpid;
	env[k] = NULL;
	return env;
}

static void free_child_env(char **env)
{
	size_t k = 0;

	while (env[k])
		k++;
	/* Ours are the last four. */
	for (size_t i = k >= 4 ? k - 4 : 0; i < k; i++)
		free(env[i]);
	free(env);
}

bool upgrade_start(const int *fds, const char **names, unsigned n, upgrade_done_cb cb)
{
	int p[2], high = 2, tmp_base;
	char **env, *pid_slot = NULL;
	pid_t pid;

	if (!exe[0] || upgrade_in_progress()) {
		errno = exe[0] ? EALREADY : ENOENT;
		return false;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (fds[i] > high)
			high = fds[i];
	if (p[1] > high)
		high = p[1];
	/* Above every fd we move, and above where they go (3 .. 3 + n). */
	tmp_base = high + 1 > 3 + (int)n + 1 ? high + 1 : 3 + (int)n + 1;
	env = child_env(n, names, 3 + (int)n, &pid_slot);
	if (!env) {
		close(p[0]);
		close(p[1]);
		errno = ENOMEM;
		return false;
	}
	pid = fork();
	if (pid == 0) {
		sigset_t none;
		int tmp[n + 1];

		/* First out of the way (close-on-exec copies), then into place. */
		for (unsigned i = 0; i < n; i++)
			tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, tmp_base);
		tmp[n] = fcntl(p[1], F_DUPFD_CLOEXEC, tmp_base);
		for (unsigned i = 0; i <= n; i++)
			if (tmp[i] < 0 || dup2(tmp[i], 3 + (int)i) < 0)
				_exit(127);
		put_decimal(pid_slot, (unsigned long)getpid());
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(exe, saved_argv, env);
		_exit(127);
	}
	free_child_env(env);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return false;
	}
	done_cb = cb;
	reply_len = 0;
	ev_io_init(&pipe_io, p[0], on_pipe);
	if (ev_io_set(srv.loop, &pipe_io, EPOLLIN) < 0) {
		close(p[0]);
		pipe_io.fd = -1;
		return false;
	}
	LOG_WARN("upgrade: started %s as process %ld with %u listening sockets", exe, (long)pid,
		 n);
	return true;
}

void upgrade_report_ready(void)
{
	const char *s = getenv(UPGRADE_ENV);
	unsigned long fd;
	char buf[32];
	int n;

	if (!s)
		return;
	if (parse_ulong(s, 3, INT_MAX, &fd)) {
		n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
		if (write((int)fd, buf, (size_t)n) != n)
			LOG_WARN("upgrade: cannot tell the old process we serve: %s", strerror(errno));
		close((int)fd);
	}
	unsetenv(UPGRADE_ENV);
}

void upgrade_claim_fd(void)
{
	const char *s = getenv(UPGRADE_ENV);
	unsigned long fd;

	/* Not to be inherited by anything we start (our own next upgrade). */
	if (s && parse_ulong(s, 3, INT_MAX, &fd))
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

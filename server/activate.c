/* See activate.h. Each handed socket must be a listening TCP socket of ours: anything
 * else is refused at start rather than discovered at the first accept. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "activate.h"
#include "util.h"

static bool is_listening_stream(int fd)
{
	int type = 0, acc = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
		return false;
	len = sizeof(acc);
	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == 0 && acc;
}

/* The i-th name of "a:b:c" (empty when there are fewer). */
static void nth_name(const char *names, unsigned i, char *out, size_t cap)
{
	const char *p = names;

	out[0] = '\0';
	for (; p && i > 0; i--) {
		p = strchr(p, ':');
		if (p)
			p++;
	}
	if (p) {
		size_t n = strcspn(p, ":");

		if (n >= cap)
			n = cap - 1;
		memcpy(out, p, n);
		out[n] = '\0';
	}
}

int activate_fds(struct activated *out, unsigned cap, char *err, size_t errlen)
{
	const char *spid = getenv("LISTEN_PID"), *sfds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	unsigned long pid, n;
	int rc = -1;

	if (!spid || !sfds)
		return 0;
	if (!parse_ulong(spid, 1, 0x7fffffff, &pid) || pid != (unsigned long)getpid()) {
		rc = 0; /* meant for another process */
		goto out;
	}
	if (!parse_ulong(sfds, 0, cap, &n)) {
		snprintf(err, errlen, "LISTEN_FDS=%s: not a count in 0..%u", sfds, cap);
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		int fd = ACTIVATE_FDS_START + (int)i, fl;

		if (!is_listening_stream(fd)) {
			snprintf(err, errlen, "fd %d handed over is not a listening TCP socket", fd);
			goto out;
		}
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			snprintf(err, errlen, "fd %d: %s", fd, strerror(errno));
			goto out;
		}
		out[i].fd = fd;
		nth_name(names, i, out[i].name, sizeof(out[i].name));
	}
	rc = (int)n;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return rc;
}

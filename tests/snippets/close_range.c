/* A program sweeping its fds (close_range(3, ~0U), as ssh and daemons do, then a
 * dup2 over every low fd) must not break the shim: its internal fds (the log file)
 * survive and keep working, and the next tunnelled connect still works. Run with
 * SOCKSIFY_LOG_FILE and SOCKSIFY_LOG=debug. Usage: close_range HOST PORT. */
#include <linux/close_range.h>
#include <sys/syscall.h>

#include "snip.h"

static int one(const struct sockaddr_storage *ss, socklen_t len, const char *tag)
{
	int fd = socket(ss->ss_family, SOCK_STREAM, 0);
	int rc = connect(fd, (const struct sockaddr *)ss, len) == 0 && snip_echo(fd, tag) == 0;
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	SNIP_ARGS(3);
	socklen_t len = snip_addr(argv[1], argv[2], &ss);

	CHECK(one(&ss, len, "before"), "connect before the sweep");
	int keep = dup(1); /* our stdout survives the sweep through fd 1 */
	CHECK(close_range(3, ~0U, 0) == 0, "close_range(3, ~0U, 0)");
	CHECK(fcntl(keep, F_GETFD) == -1, "the program's own fds are closed");
	CHECK(one(&ss, len, "after-close-range"), "connect after close_range");
	/* closefrom-style loop over a few hundred fds, then dup2 onto each low number. */
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	int nul = open("/dev/null", O_RDONLY);
	for (int fd = 3; fd < 64; fd++)
		if (fd != nul)
			dup2(nul, fd);
	CHECK(one(&ss, len, "after-close-loop"), "connect after a close() loop and dup2 sweep");
	closefrom(3); /* glibc's, which calls the syscall itself: hooked separately */
	CHECK(one(&ss, len, "after-closefrom"), "connect after closefrom(3)");
	return snip_done();
}

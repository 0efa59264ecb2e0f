/* A program sweeping its fds (close_range(3, ~0U), as ssh and daemons do, then a
 * dup2 over every low fd) must not break the shim: its internal fds (the log file)
 * survive and keep working, and the next tunnelled connect still works. Run with
 * SOCKSIFY_LOG_FILE and SOCKSIFY_LOG=debug. Usage: close_range HOST PORT. */
#include <linux/close_range.h>
#include <sys/syscall.h>

#include "snip.h"

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	SNIP_ARGS(3);
	socklen_t len = snip_addr(argv[1], argv[2], &ss);

	CHECK(snip_once(&ss, len, "before"), "connect before the sweep");
	int keep = dup(1); /* our stdout survives the sweep through fd 1 */
	CHECK(close_range(3, ~0U, 0) == 0, "close_range(3, ~0U, 0)");
	CHECK(fcntl(keep, F_GETFD) == -1, "the program's own fds are closed");
	CHECK(snip_once(&ss, len, "after-close-range"), "connect after close_range");
	/* closefrom-style loop over a few hundred fds, then dup2 onto each low number. */
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	int nul = open("/dev/null", O_RDONLY);
	for (int fd = 3; fd < 64; fd++)
		if (fd != nul)
			dup2(nul, fd);
	CHECK(snip_once(&ss, len, "after-close-loop"), "connect after a close() loop and dup2 sweep");
	closefrom(3); /* glibc's, which calls the syscall itself: hooked separately */
	CHECK(snip_once(&ss, len, "after-closefrom"), "connect after closefrom(3)");
	return snip_done();
}

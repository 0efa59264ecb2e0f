/* A vfork()ed child shares the parent's memory until it execs or exits, and fork
 * handlers do not run for it: whatever it closes or dup2()s in its own fd table must
 * not change the shim's bookkeeping of the parent's fds. The child here closes the
 * tunnelled socket and sweeps with closefrom(), as a spawn helper does before exec;
 * the parent's getpeername must still show the destination and the tunnel still echo. */
#include <sys/wait.h>

#include "snip.h"

int main(int argc, char **argv)
{
	struct sockaddr_storage ss, peer;
	SNIP_ARGS(3);
	socklen_t len = snip_addr(argv[1], argv[2], &ss), plen = sizeof(peer);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0), spare = socket(ss.ss_family, SOCK_STREAM, 0);
	int status = -1;

	CHECK(connect(fd, (struct sockaddr *)&ss, len) == 0, "connect (%s)", strerror(errno));
	pid_t pid = vfork();
	if (pid == 0) {
		/* Only async-signal-safe calls, then _exit: the vfork contract. */
		dup2(spare, fd);
		close(fd);
		closefrom(3);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status),
	      "the vfork child ran and exited");
	memset(&peer, 0, sizeof(peer));
	CHECK(getpeername(fd, (struct sockaddr *)&peer, &plen) == 0 && plen == len &&
		      memcmp(&peer, &ss, len) == 0,
	      "getpeername in the parent still shows the destination");
	CHECK(snip_echo(fd, "after vfork") == 0, "the tunnel still echoes");
	close(fd);
	close(spare);
	return snip_done();
}

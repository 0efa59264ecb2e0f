/* fork, then connect in both the parent and the child: the child keeps the shim's
 * state (config, registry) and is as socksified as the parent; also a child that
 * execs (LD_PRELOAD is inherited) when given a program to run. Usage:
 * fork HOST PORT [PROGRAM ARGS...]. */
#include <sys/wait.h>

#include "snip.h"

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	SNIP_ARGS(3);
	socklen_t len = snip_addr(argv[1], argv[2], &ss);
	int status = -1;

	/* The parent connects first, so the child inherits a loaded configuration. */
	CHECK(snip_once(&ss, len, "parent-before"), "parent connects before fork");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(snip_once(&ss, len, "child") ? 0 : 1);
	CHECK(snip_once(&ss, len, "parent-after"), "parent connects after fork");
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child connects after fork");

	if (argc > 3) {
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			execvp(argv[3], argv + 3);
			_exit(127);
		}
		waitpid(pid, &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exec'd child %s succeeds",
		      argv[3]);
	}
	return snip_done();
}

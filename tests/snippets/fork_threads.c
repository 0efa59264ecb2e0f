/* fork() while other threads are connecting (and possibly loading the shim's
 * configuration for the first time): every child must be able to connect in turn,
 * none may hang on a lock or a one-time set-up caught half done in its parent.
 * Usage: fork_threads HOST PORT [FORKS]. Each child has 10 s (alarm). */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "snip.h"

static struct sockaddr_storage dst;
static socklen_t dst_len;
static volatile int stop;

static int one(const char *tag)
{
	int fd = socket(dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ok = connect(fd, (struct sockaddr *)&dst, dst_len) == 0 && snip_echo(fd, tag) == 0;
	close(fd);
	return ok;
}

static void *connector(void *arg)
{
	while (!stop)
		one("bg");
	return NULL;
}

int main(int argc, char **argv)
{
	SNIP_ARGS(3);
	long forks = argc > 3 ? strtol(argv[3], NULL, 10) : 40, bad = 0;
	pthread_t t[4];

	dst_len = snip_addr(argv[1], argv[2], &dst);
	/* The threads start connecting at once: the first connect loads the config
	 * while the main thread is already forking. */
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, connector, NULL);
	for (long i = 0; i < forks; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			alarm(10);
			_exit(one("child") ? 0 : 1);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
	}
	stop = 1;
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK(bad == 0, "%ld forks beside 4 connecting threads: %ld children failed or hung", forks,
	      bad);
	return snip_done();
}

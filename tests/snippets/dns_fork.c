/* Snippet: fork while other threads resolve. Each child resolves at once (hosts file,
 * a fake name, a reverse lookup: every resolver lock) and must not hang on a lock the
 * fork caught. Four threads resolve in a loop while the main thread forks 50 times;
 * alarm() turns a hang into a failure. Prints "RESULT: PASS" or "FAIL: ...". */
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int stop;

static int resolve_all(const char *tag)
{
	struct addrinfo h, *res;
	char name[64];
	memset(&h, 0, sizeof(h));
	h.ai_family = AF_INET;
	h.ai_socktype = SOCK_STREAM;
	snprintf(name, sizeof(name), "%s.fork.test", tag);
	if (getaddrinfo("localhost", "80", &h, &res) != 0)
		return 1;
	freeaddrinfo(res);
	if (getaddrinfo(name, "80", &h, &res) != 0)
		return 2;
	char host[300];
	int rc = getnameinfo(res->ai_addr, res->ai_addrlen, host, sizeof(host), NULL, 0, NI_NAMEREQD);
	freeaddrinfo(res);
	if (rc != 0 || strcmp(host, name) != 0)
		return 3;
	return 0;
}

static void *spin(void *arg)
{
	char tag[32];
	for (unsigned i = 0; !stop; i++) {
		snprintf(tag, sizeof(tag), "t%ld-%u", (long)arg, i % 512);
		resolve_all(tag);
	}
	return NULL;
}

int main(void)
{
	pthread_t th[4];
	int bad = 0;
	alarm(30);
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, spin, (void *)i);
	for (int k = 0; k < 50; k++) {
		pid_t pid = fork();
		if (pid == 0) {
			char tag[32];
			snprintf(tag, sizeof(tag), "child%d", k);
			alarm(10);
			_exit(resolve_all(tag));
		}
		int status;
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			printf("FAIL: child %d: %s %d\n", k,
			       WIFSIGNALED(status) ? "signal" : "exit",
			       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			bad++;
		}
	}
	stop = 1;
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	if (resolve_all("parent") != 0) {
		printf("FAIL: parent after the forks\n");
		bad++;
	}
	printf("RESULT: %s\n", bad ? "FAIL" : "PASS");
	return bad ? 1 : 0;
}

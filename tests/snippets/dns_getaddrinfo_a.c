/* Snippet: getaddrinfo_a (glibc's asynchronous lookups run on glibc's own threads,
 * so the shim must answer them itself).
 *   dns_getaddrinfo_a wait|nowait|thread NAME...
 * wait: GAI_WAIT; nowait: GAI_NOWAIT then gai_suspend; thread: GAI_NOWAIT with a
 * SIGEV_THREAD notification. Prints "NAME ADDR" per request (or "NAME error CODE"). */
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static sem_t done;

static void notified(union sigval v)
{
	(void)v;
	sem_post(&done);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 64;
	int n = argc - 2;
	struct gaicb **list = calloc((size_t)n, sizeof(*list));
	struct addrinfo hints;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	for (int i = 0; i < n; i++) {
		list[i] = calloc(1, sizeof(**list));
		list[i]->ar_name = argv[i + 2];
		list[i]->ar_request = &hints;
	}
	sem_init(&done, 0, 0);
	int rc;
	if (!strcmp(argv[1], "wait")) {
		rc = getaddrinfo_a(GAI_WAIT, list, n, NULL);
	} else if (!strcmp(argv[1], "nowait")) {
		rc = getaddrinfo_a(GAI_NOWAIT, list, n, NULL);
		struct timespec ts = { 5, 0 };
		for (int i = 0; rc == 0 && i < n; i++)
			while (gai_error(list[i]) == EAI_INPROGRESS)
				gai_suspend((const struct gaicb *const *)list, n, &ts);
	} else {
		struct sigevent sev;
		memset(&sev, 0, sizeof(sev));
		sev.sigev_notify = SIGEV_THREAD;
		sev.sigev_notify_function = notified;
		rc = getaddrinfo_a(GAI_NOWAIT, list, n, &sev);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 5;
		if (rc == 0 && sem_timedwait(&done, &until) != 0) {
			printf("no notification\n");
			return 2;
		}
	}
	if (rc != 0) {
		printf("getaddrinfo_a: %s\n", gai_strerror(rc));
		return 2;
	}
	int bad = 0;
	for (int i = 0; i < n; i++) {
		int e = gai_error(list[i]);
		if (e != 0) {
			printf("%s error %s\n", list[i]->ar_name, gai_strerror(e));
			bad = 1;
			continue;
		}
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &((struct sockaddr_in *)list[i]->ar_result->ai_addr)->sin_addr, a,
			  sizeof(a));
		printf("%s %s\n", list[i]->ar_name, a);
		freeaddrinfo(list[i]->ar_result);
	}
	return bad ? 2 : 0;
}

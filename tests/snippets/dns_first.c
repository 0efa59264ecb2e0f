/* Snippet: the cost of a process's first remote lookup (attaching or creating the name
 * table) and of the next one, for the name-table benchmarks.
 *   dns_first NAME
 * Prints "first US next US" in microseconds. */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int lookup(const char *name)
{
	struct addrinfo h, *res;
	memset(&h, 0, sizeof(h));
	h.ai_family = AF_INET;
	h.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(name, "80", &h, &res) != 0)
		return -1;
	freeaddrinfo(res);
	return 0;
}

int main(int argc, char **argv)
{
	char next[300];
	if (argc != 2 || strlen(argv[1]) > 200) {
		fprintf(stderr, "usage: dns_first NAME\n");
		return 2;
	}
	snprintf(next, sizeof(next), "next.%s", argv[1]);
	double t0 = now_us();
	if (lookup(argv[1]) != 0)
		return 1;
	double t1 = now_us();
	if (lookup(next) != 0)
		return 1;
	double t2 = now_us();
	printf("first %.1f next %.1f\n", t1 - t0, t2 - t1);
	return 0;
}

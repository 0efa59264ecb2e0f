/* Snippet: getaddrinfo cost under the shim, for new names and for known ones.
 *   dns_bench N [FAMILY inet|inet6]
 * Resolves N distinct names (each new to the table), then the same N again (known),
 * freeing each result; prints "new US known US" in microseconds per call. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int pass(unsigned n, const struct addrinfo *h, unsigned salt)
{
	char name[64];
	for (unsigned i = 0; i < n; i++) {
		struct addrinfo *res;
		snprintf(name, sizeof(name), "n%u-%u.bench.test", i, salt);
		if (getaddrinfo(name, "443", h, &res) != 0)
			return -1;
		freeaddrinfo(res);
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 100000;
	struct addrinfo h;
	memset(&h, 0, sizeof(h));
	h.ai_family = argc > 2 && !strcmp(argv[2], "inet6") ? AF_INET6 : AF_INET;
	h.ai_socktype = SOCK_STREAM;
	unsigned salt = (unsigned)time(NULL);
	double t0 = now_us();
	if (pass(n, &h, salt) != 0) {
		printf("failed (new)\n");
		return 2;
	}
	double t1 = now_us();
	if (pass(n, &h, salt) != 0) {
		printf("failed (known)\n");
		return 2;
	}
	double t2 = now_us();
	printf("names %u new %.3f known %.3f\n", n, (t1 - t0) / n, (t2 - t1) / n);
	return 0;
}

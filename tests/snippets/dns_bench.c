/* Snippet: getaddrinfo cost under the shim, for new names and for known ones.
 *   dns_bench N [FAMILY inet|inet6] [SUFFIX] [REPS]
 * Resolves N distinct names nI-SALT.SUFFIX (SUFFIX default bench.test; .onion lets
 * torsocks answer from its own pool, without a Tor daemon), each new to the table,
 * then the same N names REPS times more (known, default 1), freeing each result;
 * prints "names N new US known US" in microseconds per call. */
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

/* The names are formatted before the clock starts: only getaddrinfo is timed. */
static int pass(char **names, unsigned n, const struct addrinfo *h)
{
	for (unsigned i = 0; i < n; i++) {
		struct addrinfo *res;
		if (getaddrinfo(names[i], "443", h, &res) != 0)
			return -1;
		freeaddrinfo(res);
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 100000;
	const char *suffix = argc > 3 ? argv[3] : "bench.test";
	unsigned reps = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 1;
	struct addrinfo h;
	memset(&h, 0, sizeof(h));
	h.ai_family = argc > 2 && !strcmp(argv[2], "inet6") ? AF_INET6 : AF_INET;
	h.ai_socktype = SOCK_STREAM;
	unsigned salt = (unsigned)time(NULL);
	char **names = calloc(n ? n : 1, sizeof(*names));
	if (names == NULL || reps == 0)
		return 2;
	for (unsigned i = 0; i < n; i++) {
		names[i] = malloc(64);
		if (names[i] == NULL)
			return 2;
		snprintf(names[i], 64, "n%u-%u.%s", i, salt, suffix);
	}
	double t0 = now_us();
	if (pass(names, n, &h) != 0) {
		printf("failed (new)\n");
		return 2;
	}
	double t1 = now_us();
	for (unsigned r = 0; r < reps; r++)
		if (pass(names, n, &h) != 0) {
			printf("failed (known)\n");
			return 2;
		}
	double t2 = now_us();
	printf("names %u new %.3f known %.3f\n", n, (t1 - t0) / n, (t2 - t1) / n / reps);
	return 0;
}

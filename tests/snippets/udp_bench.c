/* UDP echo round trips per second from an unmodified program's point of view: N
 * sendto/recvfrom pairs of 64 bytes on one unconnected socket, 5 rounds, the median
 * rate printed. Run under the shim, under another client library, or bare.
 * Usage: udp_bench HOST PORT [N]   prints "udp_rtt_per_s=R us_per_rtt=U" */
#include <stdint.h>
#include <time.h>

#include "snip.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	char buf[64] = "udp-bench", in[256];
	double rates[5];
	long n = argc > 3 ? strtol(argv[3], NULL, 10) : 2000;

	if (argc < 3) {
		fprintf(stderr, "usage: udp_bench HOST PORT [N]\n");
		return 2;
	}
	socklen_t len = snip_addr(argv[1], argv[2], &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (int r = 0; r < 5; r++) {
		double t0 = now_s();
		for (long i = 0; i < n; i++) {
			if (sendto(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, len) != sizeof(buf) ||
			    recvfrom(fd, in, sizeof(in), 0, NULL, NULL) != sizeof(buf)) {
				printf("FAIL: round trip %ld of round %d: %s\n", i, r, strerror(errno));
				return 1;
			}
		}
		rates[r] = (double)n / (now_s() - t0);
	}
	qsort(rates, 5, sizeof(rates[0]), cmp_double);
	printf("udp_rtt_per_s=%.0f us_per_rtt=%.1f\n", rates[2], 1e6 / rates[2]);
	return 0;
}

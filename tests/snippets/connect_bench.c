/* Per-connect cost, for scripts/bench: N sequential connects to HOST PORT, each
 * closed at once, timed. Under the shim this measures a proxied connect(); with
 * "-s PROXY_IP PROXY_PORT" it speaks SOCKS5 itself (blocking, no auth, the minimal
 * client) as the baseline. Prints "connects N failed F total_us T per_connect_us P
 * cpu_per_connect_us C" (C: the client's own user+sys time, library included).
 * Usage: connect_bench HOST PORT N [-s PROXY_IP PROXY_PORT]. */
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <time.h>

#include "snip.h"

static int socks5_bare(int fd, const struct sockaddr_storage *dst)
{
	uint8_t buf[32];
	const struct sockaddr_in *d4 = (const struct sockaddr_in *)dst;
	size_t n = 0;

	if (send(fd, "\x05\x01\x00", 3, 0) != 3 || recv(fd, buf, 2, MSG_WAITALL) != 2 ||
	    buf[1] != 0)
		return -1;
	buf[n++] = 5, buf[n++] = 1, buf[n++] = 0, buf[n++] = 1;
	memcpy(buf + n, &d4->sin_addr, 4), n += 4;
	memcpy(buf + n, &d4->sin_port, 2), n += 2;
	if (send(fd, buf, n, 0) != (ssize_t)n || recv(fd, buf, 10, MSG_WAITALL) != 10 ||
	    buf[1] != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage dst, px;
	struct timespec a, b;
	SNIP_ARGS(4);
	socklen_t dlen = snip_addr(argv[1], argv[2], &dst), plen = 0;
	long n = strtol(argv[3], NULL, 10), fails = 0;
	int bare = argc > 6 && strcmp(argv[4], "-s") == 0;

	if (bare)
		plen = snip_addr(argv[5], argv[6], &px);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		int fd = socket(dst.ss_family, SOCK_STREAM, 0);
		int rc = bare ? connect(fd, (struct sockaddr *)&px, plen) : connect(fd, (struct sockaddr *)&dst, dlen);
		if (rc != 0 || (bare && socks5_bare(fd, &dst) != 0))
			fails++;
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double us = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
	/* CPU time is what the client itself spends (library included): unlike wall
	 * time it does not move with the load of a shared machine. */
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
		     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	printf("connects %ld failed %ld total_us %.0f per_connect_us %.1f cpu_per_connect_us %.1f\n",
	       n, fails, us, us / (double)n, cpu / (double)n);
	return fails != 0;
}

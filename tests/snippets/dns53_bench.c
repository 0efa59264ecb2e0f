/* Snippet: port-53 round trips per second from a small UDP DNS client, the way
 * c-ares, dig and Chromium send them: a connected UDP socket to the first
 * `nameserver` of /etc/resolv.conf, one A query, wait for its answer, next.
 *   dns53_bench N [NAME]
 * Prints "queries N ok K rtt_us X qps Y cpu_us Z" (Z: this process's user+system CPU
 * time per query, which a loaded machine's scheduling does not inflate); exit 2 when
 * an answer is missing. Under the
 * library with dns=remote the answer comes from inside the process; without it, from
 * whatever resolver listens there. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dnsq.h"

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 10000, ok = 0;
	const char *name = argc > 2 ? argv[2] : "bench.target.test";
	struct sockaddr_storage ns;
	socklen_t nslen;
	uint8_t q[300], a[1500];

	if (strlen(name) > 250 || dnsq_nameserver(&ns, &nslen) != 0) {
		printf("no usable nameserver or name\n");
		return 2;
	}
	int fd = socket(ns.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ns, nslen) != 0) {
		perror("socket/connect");
		return 2;
	}
	/* One query first, untimed: under the library it attaches the name table, and a
	 * resolver's cache holds the name after it. */
	double t0 = 0, c0 = 0;
	for (unsigned i = 0; i <= n; i++) {
		if (i == 1)
			t0 = now_us(), c0 = cpu_us(), ok = 0;
		uint16_t id = (uint16_t)(i * 7919u + 1);
		size_t ql = dnsq_build(q, id, name);
		if (send(fd, q, ql, 0) != (ssize_t)ql)
			break;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 2000) != 1)
			break;
		ssize_t r = recv(fd, a, sizeof(a), 0);
		if (r >= 12 && a[0] == q[0] && a[1] == q[1] && (a[2] & 0x80))
			ok++;
	}
	double dt = now_us() - t0, dc = cpu_us() - c0;
	printf("queries %u ok %u rtt_us %.2f qps %.0f cpu_us %.2f\n", n, ok, ok ? dt / ok : 0.0,
	       ok ? ok * 1e6 / dt : 0.0, ok ? dc / ok : 0.0);
	return ok == n ? 0 : 2;
}

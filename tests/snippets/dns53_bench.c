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

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int first_nameserver(struct sockaddr_storage *ss, socklen_t *len)
{
	char line[256], addr[128];
	FILE *f = fopen("/etc/resolv.conf", "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "nameserver %127s", addr) != 1)
			continue;
		fclose(f);
		memset(ss, 0, sizeof(*ss));
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			s4->sin_port = htons(53);
			*len = sizeof(*s4);
			return 0;
		}
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(53);
			*len = sizeof(*s6);
			return 0;
		}
		return -1;
	}
	fclose(f);
	return -1;
}

static double cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static size_t build_query(uint8_t *q, uint16_t id, const char *name)
{
	size_t o = 12;
	memset(q, 0, 12);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[2] = 0x01; /* RD */
	q[5] = 1;    /* QDCOUNT */
	while (*name) {
		size_t l = strcspn(name, ".");
		q[o++] = (uint8_t)l;
		memcpy(q + o, name, l);
		o += l;
		name += l;
		if (*name == '.')
			name++;
	}
	q[o++] = 0;
	q[o++] = 0, q[o++] = 1; /* A */
	q[o++] = 0, q[o++] = 1; /* IN */
	return o;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 10000, ok = 0;
	const char *name = argc > 2 ? argv[2] : "bench.target.test";
	struct sockaddr_storage ns;
	socklen_t nslen;
	uint8_t q[300], a[1500];

	if (strlen(name) > 250 || first_nameserver(&ns, &nslen) != 0) {
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
		size_t ql = build_query(q, id, name);
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

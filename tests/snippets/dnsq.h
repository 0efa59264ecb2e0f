/* Helpers of the port-53 snippets (dns53_bench, dns53_held): the first `nameserver` of
 * /etc/resolv.conf on port 53, and a one-question A query for a name. */
#ifndef DNSQ_H
#define DNSQ_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static int dnsq_nameserver(struct sockaddr_storage *ss, socklen_t *len)
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

static size_t dnsq_build(uint8_t *q, uint16_t id, const char *name)
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

#endif

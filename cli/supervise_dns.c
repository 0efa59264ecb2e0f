/* The supervised program's name server. Its own resolver (Go's, a static libc's)
 * sends queries to the name servers of /etc/resolv.conf; the supervisor redirects
 * those sockets here (a connect to NS:53 becomes a connect to our loopback port), and
 * we answer from the shared name table: A and AAAA with the fake address of that
 * family (the same one getaddrinfo gives under the library), block-rule names
 * NXDOMAIN, every other type an empty NOERROR (no address hint can leak), ID,
 * question and RD echoed, an EDNS0 OPT answered with a 1232-byte payload, anything
 * malformed FORMERR. Nothing reaches a real name server.
 *
 * The message code below is the minimum this needs; it gives way to common/dnsmsg.h
 * (the fuzzed codec the library uses) once that lands on main. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "supervise.h"
#include "util.h"

#define DNS_HDR 12
#define DNS_TYPE_A 1
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_OPT 41
#define DNS_CLASS_IN 1
#define DNS_RCODE_FORMERR 1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP 4
#define DNS_TTL 60          /* a fake address stays valid for the table's grace period */
#define DNS_EDNS_PAYLOAD 1232
#define DNS_MSG_MAX 65535

struct dns_question {
	char name[SOCKS_NAME_MAX + 1];
	size_t qend;    /* offset just past QTYPE/QCLASS */
	uint16_t type, qclass;
	bool edns;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The one question of a standard query; false: FORMERR. */
static bool parse_question(const uint8_t *q, size_t len, struct dns_question *out)
{
	size_t off = DNS_HDR, nlen = 0;

	if (get16(q + 4) != 1)
		return false;
	for (;;) {
		if (off >= len)
			return false;
		uint8_t l = q[off++];
		if (l == 0)
			break;
		if (l > 63 || off + l > len || nlen + l + 1 > SOCKS_NAME_MAX)
			return false; /* compression has no place in a question */
		if (nlen)
			out->name[nlen++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			uint8_t ch = q[off + i];
			if (ch <= 0x20 || ch == '.' || ch >= 0x7f)
				return false;
			out->name[nlen++] = (char)ch;
		}
		off += l;
	}
	out->name[nlen] = '\0';
	if (nlen == 0 || off + 4 > len)
		return false;
	out->type = get16(q + off);
	out->qclass = get16(q + off + 2);
	out->qend = off + 4;
	/* An OPT record in the additional section: root name, type 41. */
	out->edns = get16(q + 10) >= 1 && out->qend + 3 <= len && q[out->qend] == 0 &&
		    get16(q + out->qend + 1) == DNS_TYPE_OPT;
	return true;
}

static size_t header_only(const uint8_t *q, size_t qlen, uint8_t *out, uint8_t rcode)
{
	memset(out, 0, DNS_HDR);
	memcpy(out, q, 2);
	out[2] = (uint8_t)(0x80 | (qlen > 2 ? (q[2] & 0x79) : 0)); /* QR, opcode, RD */
	out[3] = (uint8_t)(0x80 | rcode);                            /* RA */
	return DNS_HDR;
}

size_t sv_dns_answer(const struct sv *s, const uint8_t *q, size_t qlen, uint8_t *out, size_t cap)
{
	struct dns_question dq;
	struct socks_addr name = {.atyp = SOCKS5_ATYP_DOMAINNAME};
	uint8_t rcode = 0;
	size_t off;
	uint32_t idx;

	if (qlen < 2 || cap < 512)
		return 0;
	if (qlen < DNS_HDR || (q[2] & 0x80))
		return qlen < DNS_HDR ? header_only(q, qlen, out, DNS_RCODE_FORMERR) : 0;
	if (((q[2] >> 3) & 0xf) != 0)
		return header_only(q, qlen, out, DNS_RCODE_NOTIMP);
	if (!parse_question(q, qlen, &dq) || dq.qend > cap - 40)
		return header_only(q, qlen, out, DNS_RCODE_FORMERR);

	off = header_only(q, qlen, out, 0);
	memcpy(out + off, q + DNS_HDR, dq.qend - DNS_HDR);
	off = dq.qend;
	put16(out + 4, 1);
	str_copy(name.u.name, dq.name, sizeof(name.u.name));
	bool is_addr = dq.qclass == DNS_CLASS_IN && (dq.type == DNS_TYPE_A || dq.type == DNS_TYPE_AAAA);
	if (rules_match(s->conf->block, s->conf->nblock, &name)) {
		rcode = DNS_RCODE_NXDOMAIN;
	} else if (is_addr) {
		struct nametable *nt = sv_nt(s, true);
		if (nt == NULL || nt_lookup(nt, dq.name, &idx) != 0) {
			rcode = DNS_RCODE_SERVFAIL;
		} else {
			/* NAME: a pointer to the question's name at offset 12. */
			put16(out + off, 0xc00c);
			put16(out + off + 2, dq.type);
			put16(out + off + 4, DNS_CLASS_IN);
			put16(out + off + 6, 0);
			put16(out + off + 8, DNS_TTL);
			off += 10;
			if (dq.type == DNS_TYPE_A) {
				struct in_addr a;
				nt_addr4(nt, idx, &a);
				put16(out + off, 4);
				memcpy(out + off + 2, &a, 4);
				off += 6;
			} else {
				struct in6_addr a6;
				nt_addr6(nt, idx, &a6);
				put16(out + off, 16);
				memcpy(out + off + 2, &a6, 16);
				off += 18;
			}
			put16(out + 6, 1);
		}
	}
	out[3] = (uint8_t)(0x80 | rcode);
	if (dq.edns) {
		/* OPT: root, type 41, CLASS = payload size, TTL 0, no options. */
		out[off++] = 0;
		put16(out + off, DNS_TYPE_OPT);
		put16(out + off + 2, DNS_EDNS_PAYLOAD);
		memset(out + off + 4, 0, 6);
		off += 10;
		put16(out + 10, 1);
	}
	return off;
}

/* ---- sockets ---- */

static int open_one(int family, int type, uint16_t *port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int one = 1;
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		len = sizeof(*in6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) != 0) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

void sv_dns_open(struct sv *s)
{
	s->dns_udp4 = open_one(AF_INET, SOCK_DGRAM, &s->dns_udp4_port);
	s->dns_udp6 = open_one(AF_INET6, SOCK_DGRAM, &s->dns_udp6_port);
	s->dns_tcp4 = open_one(AF_INET, SOCK_STREAM, &s->dns_tcp4_port);
	s->dns_tcp6 = open_one(AF_INET6, SOCK_STREAM, &s->dns_tcp6_port);
}

bool sv_dns_addr(const struct sv *s, bool stream, int family, bool v6only,
		 struct sockaddr_storage *ss, socklen_t *len)
{
	int fd4 = stream ? s->dns_tcp4 : s->dns_udp4, fd6 = stream ? s->dns_tcp6 : s->dns_udp6;
	uint16_t p4 = stream ? s->dns_tcp4_port : s->dns_udp4_port;
	uint16_t p6 = stream ? s->dns_tcp6_port : s->dns_udp6_port;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET && fd4 >= 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(p4);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*in);
		return true;
	}
	if (family != AF_INET6)
		return false;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	in6->sin6_family = AF_INET6;
	*len = sizeof(*in6);
	if (fd6 >= 0) {
		in6->sin6_port = htons(p6);
		in6->sin6_addr = in6addr_loopback;
		return true;
	}
	if (fd4 < 0 || v6only)
		return false;
	in6->sin6_port = htons(p4);
	in6->sin6_addr.s6_addr[10] = 0xff;
	in6->sin6_addr.s6_addr[11] = 0xff;
	in6->sin6_addr.s6_addr[12] = 127;
	in6->sin6_addr.s6_addr[15] = 1;
	return true;
}

/* ---- the responder threads ---- */

static void *udp_loop(void *arg)
{
	struct sv *s = arg;
	struct pollfd pfd[2] = {{.fd = s->dns_udp4, .events = POLLIN},
				{.fd = s->dns_udp6, .events = POLLIN}};
	uint8_t *q = malloc(DNS_MSG_MAX), *a = malloc(DNS_MSG_MAX);

	if (!q || !a)
		return NULL;
	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			if (!(pfd[i].revents & POLLIN))
				continue;
			ssize_t n = recvfrom(pfd[i].fd, q, DNS_MSG_MAX, MSG_DONTWAIT,
					     (struct sockaddr *)&from, &fl);
			if (n <= 0)
				continue;
			size_t alen = sv_dns_answer(s, q, (size_t)n, a, DNS_MSG_MAX);
			if (alen)
				sendto(pfd[i].fd, a, alen, MSG_DONTWAIT, (struct sockaddr *)&from, fl);
		}
	}
	free(q);
	free(a);
	return NULL;
}

struct tcp_conn {
	struct sv *s;
	int fd;
};

static bool read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 10000) <= 0)
			return false; /* a silent client is dropped after 10 s */
		ssize_t n = recv(fd, buf + got, len - got, 0);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

static void *tcp_conn_loop(void *arg)
{
	struct tcp_conn *tc = arg;
	uint8_t *q = malloc(DNS_MSG_MAX), *a = malloc(DNS_MSG_MAX + 2);
	uint8_t lenb[2];

	while (q && a && read_full(tc->fd, lenb, 2)) {
		size_t qlen = get16(lenb);
		if (!read_full(tc->fd, q, qlen))
			break;
		size_t alen = sv_dns_answer(tc->s, q, qlen, a + 2, DNS_MSG_MAX);
		if (alen == 0)
			break;
		put16(a, (uint16_t)alen);
		if (send(tc->fd, a, alen + 2, MSG_NOSIGNAL) != (ssize_t)(alen + 2))
			break;
	}
	close(tc->fd);
	free(q);
	free(a);
	free(tc);
	return NULL;
}

static void tcp_conn(struct sv *s, size_t idx, int fd)
{
	struct tcp_conn *tc = malloc(sizeof(*tc));
	if (tc) {
		tc->s = s;
		tc->fd = fd;
		if (sv_spawn(tcp_conn_loop, tc, 0))
			return;
		free(tc);
	}
	close(fd);
}

bool sv_dns_start(struct sv *s)
{
	static struct sv_acceptor tcp;

	tcp = (struct sv_acceptor){.s = s, .fd = {s->dns_tcp4, s->dns_tcp6}, .n = 2,
				   .on_conn = tcp_conn};
	if ((s->dns_udp4 >= 0 || s->dns_udp6 >= 0) && !sv_spawn(udp_loop, s, 0))
		return false;
	return (s->dns_tcp4 < 0 && s->dns_tcp6 < 0) || sv_spawn(sv_accept_loop, &tcp, 0);
}

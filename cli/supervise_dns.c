/* The supervised program's name server. Its own resolver (Go's, a static libc's)
 * sends queries to the name servers of /etc/resolv.conf; the supervisor redirects
 * those sockets here (a connect to NS:53 becomes a connect to our loopback port), and
 * we answer from the shared name table: A and AAAA with the fake address of that
 * family (the same one getaddrinfo gives under the library), block-rule names
 * NXDOMAIN, every other type an empty NOERROR (no address hint can leak), ID,
 * question and RD echoed, an EDNS0 OPT answered with a 1232-byte payload, anything
 * malformed FORMERR, PTR of a fake address its name. Nothing reaches a real name
 * server. The messages are common/dnsmsg.h's, the codec the library uses. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dnsmsg.h"
#include "supervise.h"
#include "util.h"

#define DNS_MSG_MAX 65535

static size_t done(int n)
{
	return n < 0 ? 0 : (size_t)n;
}

/* PTR of one of our fake addresses: its name; of anything else, NXDOMAIN (asking a
 * real server would tell it which addresses the program talks to). */
static size_t answer_ptr(const struct sv *s, const struct dns_query *q, uint8_t *out, size_t cap)
{
	struct sockaddr_storage ss = {0};
	struct nametable *nt;
	struct dns_reply r;
	char name[NT_NAME_MAX + 1];
	uint8_t addr[16];
	uint32_t idx;
	int family;

	if (!dns_reverse_parse(q->name, &family, addr))
		return done(dns_reply_error(out, cap, q, DNS_R_NXDOMAIN));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		memcpy(&((struct sockaddr_in *)&ss)->sin_addr, addr, 4);
	else
		memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, addr, 16);
	if (!s->nt_on ||
	    !nt_params_is_fake(&s->ntp, (struct sockaddr *)&ss, sizeof(ss), &idx) ||
	    (nt = sv_nt(s, false)) == NULL || nt_name(nt, idx, name, sizeof(name)) <= 0)
		return done(dns_reply_error(out, cap, q, DNS_R_NXDOMAIN));
	dns_reply_begin(&r, out, cap, q, DNS_R_NOERROR);
	dns_reply_add_ptr(&r, name);
	return done(dns_reply_end(&r, q));
}

size_t sv_dns_answer(const struct sv *s, const uint8_t *msg, size_t len, uint8_t *out,
		     size_t cap, bool udp)
{
	struct socks_addr name = {.atyp = SOCKS5_ATYP_DOMAINNAME};
	struct dns_query q;
	struct dns_reply r;
	struct nametable *nt;
	uint32_t idx;

	switch (dns_parse_query(msg, len, &q)) {
	case DNS_QUERY_DROP:
		return 0;
	case DNS_QUERY_FORMERR:
		return done(dns_reply_error(out, cap, &q, DNS_R_FORMERR));
	case DNS_QUERY_NOTIMP:
		return done(dns_reply_error(out, cap, &q, DNS_R_NOTIMP));
	case DNS_QUERY_BADVERS:
		return done(dns_reply_error(out, cap, &q, DNS_R_BADVERS));
	case DNS_QUERY_OK:
		break;
	}
	if (udp && dns_reply_max_udp(&q) < cap)
		cap = dns_reply_max_udp(&q);
	str_copy(name.u.name, q.name, sizeof(name.u.name));
	if (rules_match(s->conf->block, s->conf->nblock, &name))
		return done(dns_reply_error(out, cap, &q, DNS_R_NXDOMAIN));
	if (q.qclass == DNS_C_IN && q.qtype == DNS_T_PTR)
		return answer_ptr(s, &q, out, cap);
	/* HTTPS, SVCB, MX, TXT...: an empty NOERROR, so no address hint can leak. */
	if (q.qclass != DNS_C_IN || (q.qtype != DNS_T_A && q.qtype != DNS_T_AAAA))
		return done(dns_reply_error(out, cap, &q, DNS_R_NOERROR));
	if ((nt = sv_nt(s, true)) == NULL || nt_lookup(nt, q.name, &idx) != 0)
		return done(dns_reply_error(out, cap, &q, DNS_R_SERVFAIL));
	dns_reply_begin(&r, out, cap, &q, DNS_R_NOERROR);
	if (q.qtype == DNS_T_A) {
		struct in_addr a;
		nt_addr4(nt, idx, &a);
		dns_reply_add_addr(&r, DNS_T_A, (const uint8_t *)&a, 4);
	} else {
		struct in6_addr a6;
		nt_addr6(nt, idx, &a6);
		dns_reply_add_addr(&r, DNS_T_AAAA, a6.s6_addr, 16);
	}
	return done(dns_reply_end(&r, &q));
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
			size_t alen = sv_dns_answer(s, q, (size_t)n, a, DNS_MSG_MAX, true);
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
		size_t qlen = (size_t)lenb[0] << 8 | lenb[1];
		if (!read_full(tc->fd, q, qlen))
			break;
		size_t alen = sv_dns_answer(tc->s, q, qlen, a + 2, DNS_MSG_MAX, false);
		if (alen == 0)
			break;
		a[0] = (uint8_t)(alen >> 8);
		a[1] = (uint8_t)alen;
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

static void dns_start_once(void);
static struct sv *dns_sv;
static bool dns_started;

bool sv_dns_start(const struct sv *s)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	dns_sv = (struct sv *)s;
	pthread_once(&once, dns_start_once);
	return dns_started;
}

static bool dns_threads(struct sv *s)
{
	static struct sv_acceptor tcp;

	tcp = (struct sv_acceptor){.s = s, .fd = {s->dns_tcp4, s->dns_tcp6}, .n = 2,
				   .on_conn = tcp_conn};
	if ((s->dns_udp4 >= 0 || s->dns_udp6 >= 0) && !sv_spawn(udp_loop, s, 0))
		return false;
	return (s->dns_tcp4 < 0 && s->dns_tcp6 < 0) || sv_spawn(sv_accept_loop, &tcp, 0);
}

static void dns_start_once(void)
{
	dns_started = dns_threads(dns_sv);
}

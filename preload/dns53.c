/* Port-53 queries answered inside the library (issue 12): which destinations are the
 * system's name servers (the `nameserver` lines of /etc/resolv.conf, re-read when the
 * file changes), and the answer to one query message, from the same name table and
 * rules getaddrinfo uses. The sockets that carry them are dns53_sock.c's. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "dns53.h"
#include "dnsmsg.h"
#include "log.h"
#include "resolver.h"
#include "shim.h"
#include "util.h"

#define NS_MAX 8             /* glibc reads three; others more */
#define RESOLV_MAX 65536     /* bytes of resolv.conf read */
#define RESOLV_CHECK_MS 1000 /* how often its mtime is looked at */

static const char *dns53_resolv_path(void)
{
	/* The config's `hosts_file`-style override is not needed: tests run in
	 * namespaces whose /etc/resolv.conf ip-netns bind-mounts. */
	return "/etc/resolv.conf";
}

/* The name servers, as addresses (port 53 implied). Read under ns_lock. */
static pthread_mutex_t ns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct socks_addr ns_list[NS_MAX];
static size_t ns_n;
static struct timespec ns_mtime;
static ino_t ns_ino;
static uint64_t ns_checked_ms;
static bool ns_loaded;

static uint64_t dns53_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Parses resolv.conf's text into ns_list (only `nameserver ADDR` lines count). */
static void dns53_parse(const char *buf, size_t len)
{
	size_t i = 0;
	ns_n = 0;
	while (i < len && ns_n < NS_MAX) {
		size_t e = i;
		while (e < len && buf[e] != '\n')
			e++;
		const char *l = buf + i;
		size_t n = e - i;
		i = e + 1;
		while (n > 0 && (*l == ' ' || *l == '\t'))
			l++, n--;
		static const char kw[] = "nameserver";
		if (n <= sizeof(kw) || memcmp(l, kw, sizeof(kw) - 1) != 0 ||
		    (l[sizeof(kw) - 1] != ' ' && l[sizeof(kw) - 1] != '\t'))
			continue;
		l += sizeof(kw), n -= sizeof(kw);
		while (n > 0 && (*l == ' ' || *l == '\t'))
			l++, n--;
		size_t w = 0;
		while (w < n && l[w] != ' ' && l[w] != '\t' && l[w] != '\r' && l[w] != '#' &&
		       l[w] != ';')
			w++;
		char a[INET6_ADDRSTRLEN + 1];
		if (w == 0 || w >= sizeof(a))
			continue;
		memcpy(a, l, w);
		a[w] = '\0';
		char *pct = strchr(a, '%'); /* fe80::1%eth0: the scope does not matter here */
		if (pct != NULL)
			*pct = '\0';
		struct socks_addr *s = &ns_list[ns_n];
		memset(s, 0, sizeof(*s));
		s->port = 53;
		if (inet_pton(AF_INET, a, s->u.v4) == 1)
			s->atyp = SOCKS5_ATYP_IPV4;
		else if (inet_pton(AF_INET6, a, s->u.v6) == 1)
			s->atyp = SOCKS5_ATYP_IPV6;
		else
			continue;
		ns_n++;
	}
}

/* Re-reads resolv.conf when it changed (looked at once a second at most). Called
 * with ns_lock held. The file is opened O_NONBLOCK and must be a regular file. */
static void dns53_refresh_locked(void)
{
	uint64_t now = dns53_now_ms();
	if (ns_loaded && now - ns_checked_ms < RESOLV_CHECK_MS)
		return;
	ns_checked_ms = now;
	struct stat st;
	int saved = errno;
	shim_inside++;
	int fd = open(dns53_resolv_path(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		ns_n = 0;
		ns_loaded = true;
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		ns_n = 0;
		ns_loaded = true;
		real()->close(fd);
		goto out;
	}
	if (ns_loaded && st.st_ino == ns_ino && st.st_mtim.tv_sec == ns_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == ns_mtime.tv_nsec) {
		real()->close(fd);
		goto out;
	}
	static char buf[RESOLV_MAX]; /* under ns_lock */
	size_t have = 0;
	while (have < sizeof(buf)) {
		ssize_t r = real()->read(fd, buf + have, sizeof(buf) - have);
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	real()->close(fd);
	dns53_parse(buf, have);
	ns_ino = st.st_ino;
	ns_mtime = st.st_mtim;
	ns_loaded = true;
out:
	shim_inside--;
	errno = saved;
}

bool dns53_is_server(const struct socks_addr *dst)
{
	const struct socks_addr a = *dst; /* IPv4-mapped already made IPv4 */
	bool hit = false;

	if (dst->port != 53)
		return false;
	if (a.atyp != SOCKS5_ATYP_IPV4 && a.atyp != SOCKS5_ATYP_IPV6)
		return false;
	pthread_mutex_lock(&ns_lock);
	dns53_refresh_locked();
	for (size_t i = 0; i < ns_n && !hit; i++) {
		if (ns_list[i].atyp != a.atyp)
			continue;
		hit = a.atyp == SOCKS5_ATYP_IPV4 ? memcmp(ns_list[i].u.v4, a.u.v4, 4) == 0
						 : memcmp(ns_list[i].u.v6, a.u.v6, 16) == 0;
	}
	pthread_mutex_unlock(&ns_lock);
	return hit;
}

void dns53_fork_child(void)
{
	pthread_mutex_init(&ns_lock, NULL);
}

/* An answer with every address of ans in the question's family (none: empty
 * NOERROR). */
static int dns53_addrs(const struct dns_query *q, const struct host_addrs *ans, uint8_t *out,
		       size_t cap)
{
	struct dns_reply r;
	size_t alen = q->qtype == DNS_T_A ? 4 : 16;
	int family = q->qtype == DNS_T_A ? AF_INET : AF_INET6;

	dns_reply_begin(&r, out, cap, q, DNS_R_NOERROR);
	for (int i = 0; i < ans->n; i++)
		if (ans->a[i].family == family)
			dns_reply_add_addr(&r, q->qtype, ans->a[i].addr, alen);
	return dns_reply_end(&r, q);
}

/* PTR: a fake address's name, the hosts file's, or NXDOMAIN (no reverse query of a
 * real address leaves, as with res_query). */
static int dns53_ptr(const struct dns_query *q, uint8_t *out, size_t cap)
{
	char host[NT_NAME_MAX + 1] = "";
	uint8_t addr[16];
	int family;
	struct dns_reply r;

	if (!dns_reverse_parse(q->name, &family, addr))
		return dns_reply_error(out, cap, q, DNS_R_NXDOMAIN);
	if (!rs_fake_addr_name(family, addr, host, sizeof(host)) &&
	    !rs_hosts_addr(family, addr, host, sizeof(host)))
		host[0] = '\0';
	if (host[0] == '\0')
		return dns_reply_error(out, cap, q, DNS_R_NXDOMAIN);
	dns_reply_begin(&r, out, cap, q, DNS_R_NOERROR);
	dns_reply_add_ptr(&r, host);
	return dns_reply_end(&r, q);
}

/* The answer that fits a UDP reply of at most max bytes: the same with TC set and no
 * records when the full one is larger. */
static int dns53_fit(const struct dns_query *q, int n, uint8_t *out, size_t cap, size_t max)
{
	if (n >= 0 && (size_t)n <= max)
		return n;
	int e = dns_reply_error(out, cap < max ? cap : max, q, DNS_R_NOERROR);
	if (e >= 4)
		out[2] |= (uint8_t)(DNS_F_TC >> 8);
	return e;
}

int dns53_answer(const uint8_t *msg, size_t len, uint8_t *out, size_t cap, bool udp)
{
	struct dns_query q;
	struct host_addrs ans;
	int eai, n;

	switch (dns_parse_query(msg, len, &q)) {
	case DNS_QUERY_DROP:
		return 0;
	case DNS_QUERY_FORMERR:
		return dns_reply_error(out, cap, &q, DNS_R_FORMERR);
	case DNS_QUERY_NOTIMP:
		return dns_reply_error(out, cap, &q, DNS_R_NOTIMP);
	case DNS_QUERY_BADVERS:
		return dns_reply_error(out, cap, &q, DNS_R_BADVERS);
	case DNS_QUERY_OK:
		break;
	}
	if (!q.has_question)
		return dns_reply_error(out, cap, &q, DNS_R_FORMERR);
	if (q.name[0] == '\0' || q.qclass != DNS_C_IN) {
		n = dns_reply_error(out, cap, &q, DNS_R_NOERROR); /* the root, CHAOS...: nothing */
	} else if (q.qtype == DNS_T_PTR) {
		n = dns53_ptr(&q, out, cap);
	} else {
		int family = q.qtype == DNS_T_AAAA ? AF_INET6 : AF_INET;
		switch (rs_resolve(q.name, family, 0, 0, &ans, &eai)) {
		case RS_LIBC:  /* numeric, or a `direct` name: the real server's */
		case RS_HOSTS: /* the hosts file's (and localhost): as the real server says */
			return -1;
		case RS_BLOCKED:
			n = dns_reply_error(out, cap, &q, DNS_R_NXDOMAIN);
			break;
		case RS_FAKE:
		default:
			if (eai != 0)
				n = dns_reply_error(out, cap, &q,
						    eai == EAI_NONAME ? DNS_R_NXDOMAIN
								      : DNS_R_SERVFAIL);
			else if (q.qtype == DNS_T_A || q.qtype == DNS_T_AAAA)
				n = dns53_addrs(&q, &ans, out, cap);
			else /* HTTPS, SVCB, MX, TXT...: no data, so no hints can leak */
				n = dns_reply_error(out, cap, &q, DNS_R_NOERROR);
			break;
		}
	}
	if (udp)
		n = dns53_fit(&q, n, out, cap, dns_reply_max_udp(&q));
	if (n < 0)
		n = dns_reply_error(out, cap, &q, DNS_R_SERVFAIL);
	LOG_DEBUG("port 53: %s type %u answered here (%d bytes)", q.name, q.qtype, n);
	return n;
}

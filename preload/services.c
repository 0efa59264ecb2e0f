/* getaddrinfo's service argument: a port number, or a name looked up in /etc/services
 * through NSS "files" (no network), with a small cache, for each socket type asked. */
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include "resolver.h"
#include "util.h"

/* Named services ("https") cost a trip through NSS and /etc/services (~25 us) on
 * every call; a small cache of the ones seen keeps a known name's lookup cheap. The
 * file changes about never, and a stale port would only be as stale as the file. */
#define RS_SVC_SLOTS 32
struct rs_svc_entry {
	char name[24];
	bool tcp;
	uint16_t port;
};
static struct rs_svc_entry rs_svc_cache[RS_SVC_SLOTS];
static pthread_mutex_t rs_svc_mu = PTHREAD_MUTEX_INITIALIZER;

static struct rs_svc_entry *rs_svc_slot(const char *name, bool tcp)
{
	uint32_t h = tcp ? 7 : 3;
	for (const char *p = name; *p; p++)
		h = h * 31 + (unsigned char)*p;
	return &rs_svc_cache[h % RS_SVC_SLOTS];
}

static bool rs_svc_cached(const char *name, bool tcp, uint16_t *port)
{
	if (strlen(name) >= sizeof(rs_svc_cache[0].name))
		return false;
	pthread_mutex_lock(&rs_svc_mu);
	const struct rs_svc_entry *e = rs_svc_slot(name, tcp);
	bool hit = e->name[0] && e->tcp == tcp && strcmp(e->name, name) == 0;
	if (hit)
		*port = e->port;
	pthread_mutex_unlock(&rs_svc_mu);
	return hit;
}

static void rs_svc_remember(const char *name, bool tcp, uint16_t port)
{
	if (strlen(name) >= sizeof(rs_svc_cache[0].name))
		return;
	pthread_mutex_lock(&rs_svc_mu);
	struct rs_svc_entry *e = rs_svc_slot(name, tcp);
	str_copy(e->name, name, sizeof(e->name));
	e->tcp = tcp;
	e->port = port;
	pthread_mutex_unlock(&rs_svc_mu);
}

static int rs_port_of(const char *service, int socktype, int flags, uint16_t *port)
{
	unsigned long n;
	*port = 0;
	if (service == NULL)
		return 0;
	if (parse_ulong(service, 0, 65535, &n)) {
		*port = (uint16_t)n;
		return 0;
	}
	if (flags & AI_NUMERICSERV)
		return EAI_NONAME;
	if (socktype != SOCK_STREAM && socktype != SOCK_DGRAM)
		return EAI_SERVICE;
	bool tcp = socktype == SOCK_STREAM;
	if (rs_svc_cached(service, tcp, port))
		return 0;
	struct servent se, *res = NULL;
	char buf[1024];
	/* /etc/services through NSS "files": no network. */
	if (getservbyname_r(service, tcp ? "tcp" : "udp", &se, buf, sizeof(buf), &res) != 0 ||
	    res == NULL)
		return EAI_SERVICE;
	*port = ntohs((uint16_t)res->s_port);
	rs_svc_remember(service, tcp, *port);
	return 0;
}

/* As glibc does: one triple per socket type (stream, datagram, raw unless the service
 * is a name), or just the one the hints ask for. Returns how many, or an EAI_* code
 * (they are negative). */
int rs_services(const char *service, const struct addrinfo *h, struct rs_svc *out)
{
	static const struct rs_svc all[] = { { SOCK_STREAM, IPPROTO_TCP, 0 },
					     { SOCK_DGRAM, IPPROTO_UDP, 0 },
					     { SOCK_RAW, 0, 0 } };
	int n = 0, last_err = EAI_SERVICE;
	if (h->ai_socktype != 0 && h->ai_socktype != SOCK_STREAM && h->ai_socktype != SOCK_DGRAM &&
	    h->ai_socktype != SOCK_RAW) {
		unsigned long p;
		if (service != NULL && !parse_ulong(service, 0, 65535, &p))
			return EAI_SERVICE;
		out[0] = (struct rs_svc){ h->ai_socktype, h->ai_protocol,
					  service ? (uint16_t)p : 0 };
		return 1;
	}
	for (size_t i = 0; i < 3; i++) {
		struct rs_svc s = all[i];
		if (h->ai_socktype != 0 && h->ai_socktype != s.socktype)
			continue;
		if (h->ai_protocol != 0) {
			if (s.socktype == SOCK_RAW)
				s.protocol = h->ai_protocol;
			else if (h->ai_protocol != s.protocol)
				continue;
		}
		/* Raw sockets have no ports: glibc still lists them for a numeric service
		 * but not for a named one (a name belongs to tcp or udp). */
		unsigned long num;
		if (s.socktype == SOCK_RAW && service != NULL &&
		    !parse_ulong(service, 0, 65535, &num)) {
			if (h->ai_socktype == SOCK_RAW)
				return EAI_SERVICE;
			continue;
		}
		int rc = rs_port_of(service, s.socktype, h->ai_flags, &s.port);
		if (rc != 0) {
			last_err = rc;
			continue;
		}
		out[n++] = s;
	}
	if (n == 0)
		return h->ai_socktype != 0 && h->ai_protocol != 0 ? EAI_SOCKTYPE : last_err;
	return n;
}

void rs_svc_fork(enum rs_fork phase)
{
	rs_mutex_fork(&rs_svc_mu, phase);
}

/* gethostbyname{,2}{,_r}, gethostbyaddr{,_r} and getnameinfo: forward lookups through
 * rs_resolve (resolve.c), reverse ones from the name table for a fake address and
 * from the hosts file otherwise; never a DNS query with dns=remote. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "resolver.h"
#include "shim.h"
#include "util.h"

/* ---- gethostbyname and friends ---- */

/* Lays out a hostent in the caller's buffer: pointers first (aligned), then the
 * addresses, then the name. ERANGE if it does not fit. */
static int rs_fill_hostent(const struct host_addrs *ans, int family, struct hostent *he,
			   char *buf, size_t buflen)
{
	int alen = family == AF_INET ? 4 : 16, n = 0;
	for (int i = 0; i < ans->n; i++)
		n += ans->a[i].family == family;
	size_t nlen = strlen(ans->canon) + 1;
	uintptr_t start = (uintptr_t)buf, p = (start + sizeof(char *) - 1) & ~(uintptr_t)(sizeof(char *) - 1);
	size_t need = (p - start) + (size_t)(n + 2) * sizeof(char *) + (size_t)n * (size_t)alen + nlen;
	if (buf == NULL || need > buflen)
		return ERANGE;
	char **addrs = (char **)p, **aliases = addrs + n + 1;
	char *data = (char *)(aliases + 1);
	int k = 0;
	for (int i = 0; i < ans->n; i++) {
		if (ans->a[i].family != family)
			continue;
		memcpy(data, ans->a[i].addr, (size_t)alen);
		addrs[k++] = data;
		data += alen;
	}
	addrs[k] = NULL;
	aliases[0] = NULL;
	memcpy(data, ans->canon, nlen);
	he->h_name = data;
	he->h_aliases = aliases;
	he->h_addrtype = family;
	he->h_length = alen;
	he->h_addr_list = addrs;
	return 0;
}

/* The core of every gethostbyname variant, with the _r contract: returns 0 (found, or
 * not found with *result NULL and *h_err set) or an errno (ERANGE). 1 = ask libc. */
static int rs_gethostbyname_r(const char *name, int af, struct hostent *he, char *buf,
			      size_t buflen, struct hostent **result, int *h_err)
{
	struct host_addrs ans;
	int eai;
	*result = NULL;
	if (rs_passthrough() || name == NULL)
		return 1;
	if (af != AF_INET && af != AF_INET6) {
		*h_err = NETDB_INTERNAL;
		errno = EAFNOSUPPORT;
		return EAFNOSUPPORT;
	}
	enum rs_kind kind = rs_resolve(name, af, 0, 0, &ans, &eai);
	if (kind == RS_LIBC)
		return 1;
	if (eai != 0 || ans.n == 0) {
		*h_err = eai == EAI_AGAIN ? TRY_AGAIN : eai == EAI_FAIL ? NO_RECOVERY : HOST_NOT_FOUND;
		return eai == EAI_AGAIN ? EAGAIN : 0;
	}
	if (rs_fill_hostent(&ans, af, he, buf, buflen) != 0) {
		*h_err = NETDB_INTERNAL;
		errno = ERANGE;
		return ERANGE;
	}
	*result = he;
	*h_err = 0;
	return 0;
}

SHIM_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *he, char *buf,
				 size_t buflen, struct hostent **result, int *h_err)
{
	int rc = rs_gethostbyname_r(name, af, he, buf, buflen, result, h_err);
	return rc != 1 ? rc : rs_libc()->gethostbyname2_r(name, af, he, buf, buflen, result, h_err);
}

SHIM_EXPORT int gethostbyname_r(const char *name, struct hostent *he, char *buf, size_t buflen,
				struct hostent **result, int *h_err)
{
	return gethostbyname2_r(name, AF_INET, he, buf, buflen, result, h_err);
}

/* The non-reentrant calls get one result buffer per thread (glibc's is per process),
 * allocated on first use: a big __thread array would eat the static TLS that a
 * dlopen of this library needs. */
struct rs_he_tls {
	struct hostent he;
	char buf[512 + HOSTS_MAX_ADDRS * 24];
};
static pthread_key_t rs_he_key;
static pthread_once_t rs_he_once = PTHREAD_ONCE_INIT;
static __thread struct rs_he_tls *rs_he_mine;

/* A call, not free's address: an address is bound (looked up) by ld.so at start-up in
 * every process of the machine, a call only on its first use. */
static void rs_he_free(void *p)
{
	free(p);
}

static void rs_he_key_init(void)
{
	pthread_key_create(&rs_he_key, rs_he_free);
}

static struct rs_he_tls *rs_he_get(void)
{
	if (rs_he_mine == NULL) {
		pthread_once(&rs_he_once, rs_he_key_init);
		rs_he_mine = calloc(1, sizeof(*rs_he_mine));
		if (rs_he_mine != NULL)
			pthread_setspecific(rs_he_key, rs_he_mine); /* freed at thread exit */
	}
	if (rs_he_mine == NULL) {
		h_errno = NETDB_INTERNAL;
		errno = ENOMEM;
	}
	return rs_he_mine;
}

SHIM_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	struct hostent *res = NULL;
	int herr = 0;
	struct rs_he_tls *tls = rs_he_get();
	if (tls == NULL)
		return NULL;
	int rc = rs_gethostbyname_r(name, af, &tls->he, tls->buf, sizeof(tls->buf), &res, &herr);
	if (rc == 1)
		return rs_libc()->gethostbyname2(name, af);
	h_errno = herr;
	return res;
}

SHIM_EXPORT struct hostent *gethostbyname(const char *name)
{
	return gethostbyname2(name, AF_INET);
}

/* Reverse: a fake address -> its name; a real one -> the hosts file; never DNS.
 * Returns 1 when libc should answer (dns=local). */
static int rs_gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *he,
			      char *buf, size_t buflen, struct hostent **result, int *h_err)
{
	struct host_addrs ans;
	*result = NULL;
	if (rs_passthrough())
		return 1;
	if (addr == NULL || (type == AF_INET && len != 4) || (type == AF_INET6 && len != 16) ||
	    (type != AF_INET && type != AF_INET6)) {
		*h_err = NETDB_INTERNAL;
		errno = EINVAL;
		return EINVAL;
	}
	memset(&ans, 0, sizeof(ans));
	if (rs_fake_addr_name(type, addr, ans.canon, sizeof(ans.canon))) {
		if (ans.canon[0] == '\0') {
			*h_err = HOST_NOT_FOUND;
			return 0;
		}
	} else if (!rs_hosts_addr(type, addr, ans.canon, sizeof(ans.canon))) {
		*h_err = HOST_NOT_FOUND; /* dns=remote: no PTR query leaves */
		return 0;
	}
	ans.n = 1;
	ans.a[0].family = type;
	memcpy(ans.a[0].addr, addr, len);
	if (rs_fill_hostent(&ans, type, he, buf, buflen) != 0) {
		*h_err = NETDB_INTERNAL;
		errno = ERANGE;
		return ERANGE;
	}
	*result = he;
	*h_err = 0;
	return 0;
}

SHIM_EXPORT int gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *he,
				char *buf, size_t buflen, struct hostent **result, int *h_err)
{
	int rc = rs_gethostbyaddr_r(addr, len, type, he, buf, buflen, result, h_err);
	return rc != 1 ? rc
		       : rs_libc()->gethostbyaddr_r(addr, len, type, he, buf, buflen, result, h_err);
}

SHIM_EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type)
{
	struct hostent *res = NULL;
	int herr = 0;
	struct rs_he_tls *tls = rs_he_get();
	if (tls == NULL)
		return NULL;
	int rc = rs_gethostbyaddr_r(addr, len, type, &tls->he, tls->buf, sizeof(tls->buf), &res,
				    &herr);
	if (rc == 1)
		return rs_libc()->gethostbyaddr(addr, len, type);
	h_errno = herr;
	return res;
}

/* ---- getnameinfo ---- */

SHIM_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
			    socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
	const struct real_syms *r = rs_libc();
	if (rs_passthrough() || host == NULL || hostlen == 0 || (flags & NI_NUMERICHOST) ||
	    sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return r->getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
	if ((sa->sa_family == AF_INET && salen < sizeof(struct sockaddr_in)) ||
	    (sa->sa_family == AF_INET6 && salen < sizeof(struct sockaddr_in6)))
		return EAI_FAMILY;
	char name[NT_NAME_MAX + 1] = "";
	if (!rs_fake_sa_name(sa, salen, name, sizeof(name))) {
		const void *a = sa->sa_family == AF_INET
					? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
					: (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (!rs_hosts_addr(sa->sa_family, a, name, sizeof(name)))
			name[0] = '\0';
	}
	if (name[0] == '\0') {
		/* No name we may give without asking DNS: the numeric form, as libc does
		 * when a PTR lookup fails, or EAI_NONAME if a name is required. */
		if (flags & NI_NAMEREQD)
			return EAI_NONAME;
		return r->getnameinfo(sa, salen, host, hostlen, serv, servlen, flags | NI_NUMERICHOST);
	}
	if (flags & NI_NOFQDN)
		name[strcspn(name, ".")] = '\0';
	if (strlen(name) >= hostlen)
		return EAI_OVERFLOW;
	if (serv != NULL && servlen != 0) {
		int rc = r->getnameinfo(sa, salen, NULL, 0, serv, servlen, flags);
		if (rc != 0)
			return rc;
	}
	memcpy(host, name, strlen(name) + 1);
	return 0;
}


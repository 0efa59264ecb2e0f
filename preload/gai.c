/* getaddrinfo, freeaddrinfo and getaddrinfo_a. Our answers are one allocation each
 * (entries, addresses and the canonical name), recorded in gai_own.c so that
 * freeaddrinfo frees ours and hands libc's to libc. musl's getaddrinfo shows the
 * contract kept: hints validation, NULL hints, one entry per socket type. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "resolver.h"
#include "shim.h"

struct rs_ai {
	struct addrinfo ai;
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} sa;
};

#define RS_AI_FLAGS                                                                       \
	(AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_V4MAPPED | AI_ALL | AI_ADDRCONFIG |  \
	 AI_NUMERICSERV | AI_IDN | AI_CANONIDN | 0x0100 | 0x0200)

static int rs_build_ai(const struct host_addrs *ans, const struct rs_svc *svc, int nsvc,
		       const struct addrinfo *h, struct addrinfo **res)
{
	size_t n = (size_t)ans->n * (size_t)nsvc;
	bool canon = (h->ai_flags & AI_CANONNAME) != 0;
	size_t clen = canon ? strlen(ans->canon) + 1 : 0;
	struct rs_ai *v = calloc(1, n * sizeof(*v) + clen);
	if (v == NULL)
		return EAI_MEMORY;
	size_t k = 0;
	for (int i = 0; i < ans->n; i++) {
		for (int j = 0; j < nsvc; j++, k++) {
			struct addrinfo *ai = &v[k].ai;
			ai->ai_family = ans->a[i].family;
			ai->ai_socktype = svc[j].socktype;
			ai->ai_protocol = svc[j].protocol;
			ai->ai_addr = (struct sockaddr *)&v[k].sa;
			if (ans->a[i].family == AF_INET) {
				v[k].sa.v4.sin_family = AF_INET;
				v[k].sa.v4.sin_port = htons(svc[j].port);
				memcpy(&v[k].sa.v4.sin_addr, ans->a[i].addr, 4);
				ai->ai_addrlen = sizeof(struct sockaddr_in);
			} else {
				v[k].sa.v6.sin6_family = AF_INET6;
				v[k].sa.v6.sin6_port = htons(svc[j].port);
				memcpy(&v[k].sa.v6.sin6_addr, ans->a[i].addr, 16);
				ai->ai_addrlen = sizeof(struct sockaddr_in6);
			}
			ai->ai_next = k + 1 < n ? &v[k + 1].ai : NULL;
		}
	}
	if (canon) {
		char *cn = (char *)(v + n);
		memcpy(cn, ans->canon, clen);
		v[0].ai.ai_canonname = cn;
	}
	if (!rs_own_put(v)) {
		free(v);
		return EAI_MEMORY;
	}
	*res = &v[0].ai;
	return 0;
}

/* musl's order of checks: flags, family, then what the name and service need. */
static int rs_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
			  struct addrinfo **res, bool *pass)
{
	static const struct addrinfo no_hints = { .ai_flags = AI_V4MAPPED | AI_ADDRCONFIG };
	const struct addrinfo *h = hints ? hints : &no_hints;
	struct host_addrs ans;
	struct rs_svc svc[3] = { { 0, 0, 0 } };
	int eai;

	*pass = true;
	if (node == NULL || res == NULL || (h->ai_flags & AI_NUMERICHOST) ||
	    (h->ai_flags & ~RS_AI_FLAGS) ||
	    (h->ai_family != AF_UNSPEC && h->ai_family != AF_INET && h->ai_family != AF_INET6))
		return 0; /* libc answers these without a query (or with the error) */
	int nsvc = rs_services(service, h, svc);
	uint16_t port = nsvc > 0 ? svc[0].port : 0;
	enum rs_kind kind = rs_resolve(node, h->ai_family, h->ai_flags, port, &ans, &eai);
	if (kind == RS_LIBC)
		return 0;
	*pass = false;
	if (eai != 0)
		return eai;
	if (nsvc < 0)
		return nsvc;
	if (ans.n == 0)
		return EAI_NONAME;
	return rs_build_ai(&ans, svc, nsvc, h, res);
}

SHIM_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
			    struct addrinfo **res)
{
	bool pass = true;
	if (rs_passthrough())
		return real()->getaddrinfo(node, service, hints, res);
	int rc = rs_getaddrinfo(node, service, hints, res, &pass);
	if (!pass)
		return rc;
	if (node != NULL && hints != NULL && (hints->ai_flags & AI_CANONNAME) &&
	    rs_is_numeric(node)) {
		/* A literal with AI_CANONNAME: libc must not go looking for a name. */
		struct addrinfo numeric = *hints;
		numeric.ai_flags |= AI_NUMERICHOST;
		return real()->getaddrinfo(node, service, &numeric, res);
	}
	return real()->getaddrinfo(node, service, hints, res);
}

SHIM_EXPORT void freeaddrinfo(struct addrinfo *ai)
{
	if (ai == NULL)
		return;
	if (rs_own_take(ai))
		free(ai);
	else
		real()->freeaddrinfo(ai);
}

/* getaddrinfo_a: glibc resolves these on its own threads, calling its internal
 * getaddrinfo, which we cannot see. So we answer every request here, at once, through
 * our getaddrinfo, and notify as asked. gai_error() reads the request's own __return
 * field, and gai_suspend()/gai_cancel() find no pending request: both then behave as
 * for finished requests (0 and EAI_ALLDONE). A direct name is resolved synchronously. */
static void *rs_gai_notify_thread(void *arg)
{
	struct sigevent *sev = arg;
	sev->sigev_notify_function(sev->sigev_value);
	free(sev);
	return NULL;
}

static void rs_gai_notify(const struct sigevent *sev)
{
	if (sev == NULL)
		return;
	if (sev->sigev_notify == SIGEV_SIGNAL) {
		sigqueue(getpid(), sev->sigev_signo, sev->sigev_value);
	} else if (sev->sigev_notify == SIGEV_THREAD && sev->sigev_notify_function) {
		struct sigevent *copy = malloc(sizeof(*copy));
		pthread_attr_t attr, *ap = sev->sigev_notify_attributes;
		pthread_t th;
		if (copy == NULL)
			return;
		*copy = *sev;
		if (ap == NULL) {
			pthread_attr_init(&attr);
			pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			ap = &attr;
		}
		if (pthread_create(&th, ap, rs_gai_notify_thread, copy) != 0)
			free(copy);
		if (ap == &attr)
			pthread_attr_destroy(&attr);
	}
}

SHIM_EXPORT int getaddrinfo_a(int mode, struct gaicb *list[], int n, struct sigevent *sev)
{
	if (rs_passthrough() && rs_libc()->getaddrinfo_a)
		return rs_libc()->getaddrinfo_a(mode, list, n, sev);
	if ((mode != GAI_WAIT && mode != GAI_NOWAIT) || n < 0) {
		errno = EINVAL;
		return EAI_SYSTEM;
	}
	for (int i = 0; i < n; i++) {
		struct gaicb *g = list[i];
		if (g == NULL)
			continue;
		g->ar_result = NULL;
		g->__return = getaddrinfo(g->ar_name, g->ar_service, g->ar_request, &g->ar_result);
	}
	if (mode == GAI_NOWAIT)
		rs_gai_notify(sev);
	return 0;
}


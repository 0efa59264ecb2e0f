/* Resolver jobs. getaddrinfo blocks for as long as DNS takes, so it runs on a pool
 * worker; the loop gets the addresses copied into the job, never a pointer into
 * libc's list. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "resolve.h"

static bool resolve_is_invalid_tld(const char *name)
{
	size_t len = strlen(name);

	while (len && name[len - 1] == '.')
		len--;
	if (len == 7 && !strncasecmp(name, "invalid", 7))
		return true;
	return len > 8 && !strncasecmp(name + len - 8, ".invalid", 8);
}

static void resolve_work(struct pool_job *job)
{
	struct resolve_job *rj = (struct resolve_job *)job;
	struct addrinfo hints = { .ai_family = rj->family, .ai_socktype = rj->socktype };
	struct addrinfo *res = NULL, *ai;

	rj->n = 0;
	if (resolve_is_invalid_tld(rj->name)) {
		rj->eai = EAI_NONAME;
		return;
	}
	rj->eai = getaddrinfo(rj->name, NULL, &hints, &res);
	if (rj->eai)
		return;
	for (ai = res; ai && rj->n < RESOLVE_MAX_ADDRS; ai = ai->ai_next) {
		union sa46 *a = &rj->addrs[rj->n];

		if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(a->in)) {
			memcpy(&a->in, ai->ai_addr, sizeof(a->in));
			a->in.sin_port = htons(rj->port);
		} else if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(a->in6)) {
			memcpy(&a->in6, ai->ai_addr, sizeof(a->in6));
			a->in6.sin6_port = htons(rj->port);
		} else {
			continue;
		}
		/* getaddrinfo repeats an address per protocol when not asked for one. */
		bool dup = false;

		for (unsigned i = 0; i < rj->n && !dup; i++)
			dup = sa46_len(&rj->addrs[i]) == sa46_len(a) &&
			      !memcmp(&rj->addrs[i], a, sa46_len(a));
		if (!dup)
			rj->n++;
	}
	freeaddrinfo(res);
	if (rj->n == 0)
		rj->eai = EAI_NODATA;
}

static void resolve_done(struct pool_job *job)
{
	struct resolve_job *rj = (struct resolve_job *)job;

	if (!rj->job.owner) {
		resolve_free(rj);
		return;
	}
	rj->cb(rj);
}

bool resolve_submit(struct resolve_job *rj)
{
	rj->job.work = resolve_work;
	rj->job.done = resolve_done;
	if (!rj->socktype)
		rj->socktype = SOCK_STREAM;
	return pool_submit(&rj->job, POOL_RESOLVE);
}

void resolve_free(struct resolve_job *rj)
{
	if (!rj)
		return;
	free(rj->data);
	free(rj);
}

bool resolve_literal(const char *name, uint16_t port, union sa46 *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, name, &out->in.sin_addr) == 1) {
		out->in.sin_family = AF_INET;
		out->in.sin_port = htons(port);
		return true;
	}
	if (inet_pton(AF_INET6, name, &out->in6.sin6_addr) == 1) {
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons(port);
		return true;
	}
	return false;
}

void resolve_interleave(union sa46 *addrs, unsigned n)
{
	union sa46 v6[RESOLVE_MAX_ADDRS], v4[RESOLVE_MAX_ADDRS];
	unsigned n6 = 0, n4 = 0, i6 = 0, i4 = 0, k = 0;

	if (n > RESOLVE_MAX_ADDRS)
		n = RESOLVE_MAX_ADDRS;
	for (unsigned i = 0; i < n; i++) {
		if (addrs[i].sa.sa_family == AF_INET6)
			v6[n6++] = addrs[i];
		else
			v4[n4++] = addrs[i];
	}
	while (i6 < n6 || i4 < n4) {
		if (i6 < n6)
			addrs[k++] = v6[i6++];
		if (i4 < n4)
			addrs[k++] = v4[i4++];
	}
}

/* Unit tests for socksifyd's resolver helpers (server/resolve.c and pool.c, compiled
 * in): Happy Eyeballs ordering (IPv6 first, families interleaved), IP literals in
 * name fields, and RFC 6761 .invalid names failing without a lookup. */
#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>

#include "../../server/ev.c"
#include "../../server/pool.c"
#include "../../server/resolve.c"
#include "tap.h"

/* One worker: its pool results come straight back. */
bool worker_submit(struct pool_job *job, enum pool_lane lane)
{
	return pool_submit(job, lane);
}

socklen_t sa46_len(const union sa46 *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in);
}

static union sa46 v4(const char *s)
{
	union sa46 a;

	memset(&a, 0, sizeof(a));
	a.in.sin_family = AF_INET;
	inet_pton(AF_INET, s, &a.in.sin_addr);
	return a;
}

static union sa46 v6(const char *s)
{
	union sa46 a;

	memset(&a, 0, sizeof(a));
	a.in6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, s, &a.in6.sin6_addr);
	return a;
}

static const char *str(const union sa46 *a, char *buf)
{
	if (a->sa.sa_family == AF_INET6)
		return inet_ntop(AF_INET6, &a->in6.sin6_addr, buf, INET6_ADDRSTRLEN);
	return inet_ntop(AF_INET, &a->in.sin_addr, buf, INET6_ADDRSTRLEN);
}

int main(void)
{
	union sa46 l[6] = { v4("1.1.1.1"), v4("2.2.2.2"), v4("3.3.3.3"),
			    v6("::a"),     v6("::b"),     v4("4.4.4.4") };
	const char *want[6] = { "::a", "1.1.1.1", "::b", "2.2.2.2", "3.3.3.3", "4.4.4.4" };
	char buf[INET6_ADDRSTRLEN];
	union sa46 a;
	struct resolve_job rj;

	resolve_interleave(l, 6);
	for (int i = 0; i < 6; i++)
		ok(!strcmp(str(&l[i], buf), want[i]), "interleaved[%d] = %s (want %s)", i, buf,
		   want[i]);

	union sa46 only4[2] = { v4("1.1.1.1"), v4("2.2.2.2") };
	resolve_interleave(only4, 2);
	ok(!strcmp(str(&only4[0], buf), "1.1.1.1"), "one family keeps its order");

	ok(resolve_literal("192.0.2.1", 80, &a) && a.sa.sa_family == AF_INET &&
		   ntohs(a.in.sin_port) == 80, "IPv4 literal in a name field");
	ok(resolve_literal("2001:db8::1", 443, &a) && a.sa.sa_family == AF_INET6 &&
		   ntohs(a.in6.sin6_port) == 443, "IPv6 literal in a name field");
	ok(!resolve_literal("example.com", 80, &a), "a name is not a literal");
	ok(!resolve_literal("[::1]", 80, &a), "brackets are not part of a literal");

	const char *inval[] = { "x.invalid", "a.b.INVALID", "invalid", "x.invalid." };
	for (size_t i = 0; i < 4; i++)
		ok(resolve_is_invalid_tld(inval[i]), "%s is under .invalid", inval[i]);
	ok(!resolve_is_invalid_tld("invalid.example"), "invalid.example is not");
	ok(!resolve_is_invalid_tld("xinvalid"), "xinvalid is not");

	/* The worker function itself, run inline: .invalid answers NONAME at once. */
	memset(&rj, 0, sizeof(rj));
	snprintf(rj.name, sizeof(rj.name), "no-such-host.invalid");
	rj.socktype = SOCK_STREAM;
	resolve_work(&rj.job);
	is_int(rj.eai, EAI_NONAME, ".invalid resolves to EAI_NONAME");
	memset(&rj, 0, sizeof(rj));
	snprintf(rj.name, sizeof(rj.name), "localhost");
	rj.port = 8080;
	rj.socktype = SOCK_STREAM;
	resolve_work(&rj.job);
	ok(rj.eai == 0 && rj.n >= 1, "localhost resolves (%u addresses)", rj.n);
	ok(rj.n >= 1 && ntohs(rj.addrs[0].sa.sa_family == AF_INET6 ? rj.addrs[0].in6.sin6_port
								 : rj.addrs[0].in.sin_port) == 8080,
	   "with the asked port");
	return tap_done();
}

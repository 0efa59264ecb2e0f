/* The one routing decision: where a connection or datagram to a destination goes.
 * Pure (no I/O, no state): the library calls it from connect, TCP Fast Open and the
 * datagram family, and the launcher from `socksify --route`, so both say the same.
 * The order: this host -> configuration -> udp = direct -> a fake address that names
 * nothing -> block -> direct -> one of the proxies themselves -> udp = block -> proxy. */
#ifndef SOCKSIFY_ROUTE_H
#define SOCKSIFY_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "conf.h"

enum route_proto { ROUTE_TCP, ROUTE_UDP };

enum route_verdict {
	ROUTE_PASS,   /* straight to libc: direct */
	ROUTE_REFUSE, /* fail with route.err, nothing sent anywhere */
	ROUTE_PROXY,  /* through the chain, asking the last hop for route.dst */
};

/* Why: each verdict names its reason, for logs and `--route`. */
enum route_reason {
	ROUTE_R_LOCAL,      /* loopback or unspecified: this host */
	ROUTE_R_BAD_CONF,   /* the configuration did not load */
	ROUTE_R_UDP_DIRECT, /* udp = direct */
	ROUTE_R_STALE_FAKE, /* a fake DNS address whose name is gone */
	ROUTE_R_BLOCK,      /* a block rule (route.rule) */
	ROUTE_R_DIRECT,     /* a direct rule (route.rule) */
	ROUTE_R_IS_PROXY,   /* one of the chain's own proxies: never tunnelled (no loops) */
	ROUTE_R_UDP_BLOCK,  /* udp = block */
	ROUTE_R_CHAIN,      /* through the configured chain */
};

/* What the caller knows about the destination. */
struct route_query {
	struct socks_addr dst; /* as the program gave it: an address (or, from the
				  launcher, a name) with its port */
	/* The name dst stands for, if any (same port): a fake address's name
	 * (remote DNS: the last hop is asked for the name), or the name the program
	 * resolved locally to dst (rules match it; the proxy still gets dst). */
	const struct socks_addr *name;
	bool name_remote;    /* name is a fake address's: send the name */
	bool stale_fake;     /* dst is a fake address that names nothing */
	enum route_proto proto;
	/* Is a a proxy of the chain? The library also knows the addresses it resolved
	 * proxy names to; NULL: literal proxies only (route_is_proxy_literal). */
	bool (*is_proxy)(const struct socksify_conf *c, const struct socks_addr *a);
};

struct route {
	enum route_verdict verdict;
	enum route_reason reason;
	int err;                 /* REFUSE: the errno the call fails with */
	const struct rule *rule; /* BLOCK / DIRECT: the rule that decided */
	struct socks_addr dst;   /* PROXY: what the last hop is asked for */
	bool remote_dns;         /* PROXY: dst is a name the last hop resolves */
};

/* Decides for q under c (NULL: the configuration is bad). Never fails. */
void route_decide(const struct socksify_conf *c, const struct route_query *q, struct route *out);

/* A proxy given as a literal with this address and port. */
bool route_is_proxy_literal(const struct socksify_conf *c, const struct socks_addr *a);

/* Why, as the library's log lines say it: "a block rule matches", ... */
const char *route_reason_str(enum route_reason r);

/* One line for a person: "direct (rule *.example.com)", "blocked (rule 10.0.0.0/8)
 * -> EACCES", "proxy: 2 hops (strict), the name resolved by the last hop". */
const char *route_describe(const struct socksify_conf *c, const struct route *r, char *buf,
			   size_t cap);

#endif

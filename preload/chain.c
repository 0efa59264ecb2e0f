/* Dialling through the configured chain on the program's own socket. Picks the hops
 * for strict / dynamic / random / round_robin chains, resolves proxies given by name
 * (once, with the real getaddrinfo: a proxy is never the program's destination, so
 * this leaks none of the program's names), runs common/dial.c with one deadline for
 * everything, and on a failing hop fails over where the chain type allows it. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "dial.h"
#include "hops.h"
#include "log.h"
#include "shim.h"
#include "util.h"

#define CHAIN_ADDRS_MAX HOPS_ADDRS_MAX

/* The addresses a proxy's host resolved to; literals never get here. */
struct chain_resolved {
	bool done;
	size_t n;
	struct socks_addr addrs[CHAIN_ADDRS_MAX];
};

static struct chain_resolved chain_cache[CONF_MAX_PROXIES];
static pthread_mutex_t chain_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic unsigned chain_rr;

/* A fork while another thread holds the cache lock must not leave the child's
 * copy locked forever. */
static void chain_atfork_prepare(void)
{
	pthread_mutex_lock(&chain_lock);
}

static void chain_atfork_parent(void)
{
	pthread_mutex_unlock(&chain_lock);
}

static void chain_atfork_child(void)
{
	pthread_mutex_init(&chain_lock, NULL);
}

__attribute__((constructor)) static void chain_init(void)
{
	pthread_atfork(chain_atfork_prepare, chain_atfork_parent, chain_atfork_child);
}

/* ---- the I/O seam, past our own hooks ---- */

static ssize_t chain_send(void *ctx, int fd, const void *buf, size_t len, int flags)
{
	return real()->send(fd, buf, len, flags);
}

static ssize_t chain_recv(void *ctx, int fd, void *buf, size_t len, int flags)
{
	return real()->recv(fd, buf, len, flags);
}

static int chain_wait(void *ctx, int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r = real()->poll(&p, 1, timeout_ms);
	return r > 0 ? p.revents : r;
}

static int chain_connect_fn(void *ctx, int fd, const struct sockaddr *sa, socklen_t len)
{
	return real()->connect(fd, sa, len);
}

const struct dial_io chain_io = {
	.send = chain_send,
	.recv = chain_recv,
	.wait = chain_wait,
	.connect = chain_connect_fn,
};

/* ---- proxy addresses ---- */

/* Fills out[] with the addresses of proxy i (a literal: itself). Returns the count,
 * 0 with *gai set when the name does not resolve. */
static size_t chain_resolve(const struct proxy *p, size_t i, struct socks_addr *out, int *gai)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	size_t n = 0;
	bool done;

	*gai = 0;
	if (addr_parse_ip(p->host, &out[0])) {
		out[0].port = p->port;
		return 1;
	}
	pthread_mutex_lock(&chain_lock);
	done = chain_cache[i].done;
	if (done) {
		n = chain_cache[i].n;
		memcpy(out, chain_cache[i].addrs, n * sizeof(*out));
	}
	pthread_mutex_unlock(&chain_lock);
	if (!done) {
		/* Not under the lock: a slow resolver must not stall other threads. */
		*gai = real()->getaddrinfo(p->host, NULL, &hints, &res);
		if (*gai != 0)
			return 0;
		for (ai = res; ai != NULL && n < CHAIN_ADDRS_MAX; ai = ai->ai_next)
			if (addr_from_sockaddr(&out[n], ai->ai_addr, ai->ai_addrlen))
				n++;
		real()->freeaddrinfo(res);
		pthread_mutex_lock(&chain_lock);
		memcpy(chain_cache[i].addrs, out, n * sizeof(*out));
		chain_cache[i].n = n;
		chain_cache[i].done = true;
		pthread_mutex_unlock(&chain_lock);
	}
	for (size_t k = 0; k < n; k++)
		out[k].port = p->port;
	if (n == 0)
		*gai = EAI_NONAME;
	return n;
}

bool chain_is_proxy_addr(const struct socksify_conf *c, const struct socks_addr *dst)
{
	struct socks_addr lit;
	bool hit = false;

	if (route_is_proxy_literal(c, dst))
		return true;
	/* Names: only what we resolved ourselves can be a connection we make. */
	pthread_mutex_lock(&chain_lock);
	for (size_t i = 0; i < c->nproxies && !hit; i++) {
		for (size_t k = 0; k < chain_cache[i].n && !hit; k++) {
			lit = chain_cache[i].addrs[k];
			lit.port = c->proxies[i].port;
			hit = addr_equal(&lit, dst);
		}
	}
	pthread_mutex_unlock(&chain_lock);
	return hit;
}

static size_t chain_resolve_hop(void *ctx, size_t i, struct socks_addr *out, size_t cap,
				int *gai)
{
	const struct socksify_conf *c = ctx;

	return chain_resolve(&c->proxies[i], i, out, gai);
}

void chain_resolver(const struct socksify_conf *c, struct hops_resolver *r)
{
	r->resolve = chain_resolve_hop;
	r->ctx = (void *)c;
}

/* ---- which proxies, in which order ---- */

static unsigned chain_rand(void)
{
	static __thread unsigned state;

	if (state == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		state = (unsigned)ts.tv_nsec ^ (unsigned)getpid() * 2654435761u ^
			(unsigned)syscall(SYS_gettid) << 16;
		if (state == 0)
			state = 1;
	}
	/* xorshift32: enough to spread load, no lock, no libc state. */
	state ^= state << 13;
	state ^= state >> 17;
	state ^= state << 5;
	return state;
}

/* order[]: the proxies in the order to try; returns how many hops a chain uses. */
static size_t chain_order(const struct socksify_conf *c, size_t *order)
{
	size_t n = c->nproxies, len = c->chain_len ? c->chain_len : 1;

	for (size_t i = 0; i < n; i++)
		order[i] = i;
	switch (c->chain) {
	case CHAIN_STRICT:
	case CHAIN_DYNAMIC:
		return n;
	case CHAIN_RANDOM:
		for (size_t i = n; i > 1; i--) {
			size_t j = chain_rand() % i, t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		break;
	case CHAIN_ROUND_ROBIN: {
		/* Shared across threads: each connect starts one proxy further. */
		size_t start = atomic_fetch_add(&chain_rr, 1) % n;
		for (size_t i = 0; i < n; i++)
			order[i] = (start + i) % n;
		break;
	}
	}
	return len < n ? len : n;
}

/* Undoes a half-built tunnel so the same socket can connect again (Linux: a TCP
 * connect() to AF_UNSPEC disconnects; options set by the program stay). */
static void chain_disconnect(int fd)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };
	real()->connect(fd, &sa, sizeof(sa));
}

struct chain_try {
	struct dial_hop hops[DIAL_MAX_HOPS];
	size_t idx[DIAL_MAX_HOPS]; /* which proxy each hop is */
	size_t n;
};

/* Fills t with the first `want` live proxies of order[] (common/hops.c names each
 * hop); a hop that cannot be built (hop 0 not in this socket's family, a name that
 * does not resolve) is marked dead. Returns the errno if the chain cannot be built,
 * with msg set. */
static int chain_build(const struct socksify_conf *c, const size_t *order, size_t want,
		       bool *dead, int fd, int family, struct chain_try *t, char *msg,
		       size_t msglen)
{
	struct hops_resolver r;
	int v6only = 0, err = 0;
	socklen_t ol = sizeof(v6only);

	chain_resolver(c, &r);
	if (family == AF_INET6)
		getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol);
	t->n = 0;
	for (size_t k = 0; k < c->nproxies && t->n < want; k++) {
		size_t i = order[k];
		int e;

		if (dead[i])
			continue;
		e = t->n == 0 ? hops_first(c, i, family, v6only != 0, &r, &t->hops[0], msg, msglen)
			      : hops_next(c, t->idx[t->n - 1], i, t->n, &r, &t->hops[t->n], msg,
					  msglen);
		if (e != 0) {
			err = e;
			dead[i] = true;
			if (c->chain == CHAIN_STRICT)
				return err;
			continue;
		}
		t->idx[t->n++] = i;
	}
	if (t->n == 0 || (c->chain != CHAIN_DYNAMIC && t->n < want))
		return err ? err : -1; /* -1: keep the failure that killed the last hop */
	return 0;
}

/* A first hop that never answers the SYN must not eat the whole connect_timeout
 * when another proxy could take over: while others are left, the TCP connect to
 * it gets half of the time that remains. */
static uint64_t chain_hop0_deadline(const struct socksify_conf *c, uint64_t deadline,
				    const bool *dead, size_t first)
{
	size_t alive = 0;
	uint64_t now = dial_now_ms(&chain_io);

	for (size_t i = 0; i < c->nproxies; i++)
		alive += !dead[i] && i != first;
	if (alive == 0 || now >= deadline)
		return 0;
	return now + (deadline - now) / 2;
}

int chain_connect(int fd, int family, const struct socks_addr *dst,
		  struct sockaddr_storage *via, socklen_t *vialen)
{
	const struct socksify_conf *c = shim_conf();
	size_t order[CONF_MAX_PROXIES];
	bool dead[CONF_MAX_PROXIES] = { false };
	char dstr[ADDR_STR_MAX];
	char msg[DIAL_MSG_MAX] = "";
	/* The hops and the dial (some 18 KB) on the heap: the program's thread may have
	 * a small stack. */
	struct chain_work {
		struct chain_try t;
		struct dial d;
	} *w;
	int err = ECONNREFUSED;

	if (c == NULL) {
		LOG_WARN("connect to %s refused: the socksify configuration is invalid",
			 addr_str(dst, dstr, sizeof(dstr)));
		return ECONNREFUSED;
	}
	w = malloc(sizeof(*w));
	if (w == NULL)
		return ENOBUFS;
	size_t want = chain_order(c, order);
	uint64_t deadline = dial_now_ms(&chain_io) + c->connect_timeout_ms;

	for (size_t attempt = 0; attempt < c->nproxies; attempt++) {
		int berr = chain_build(c, order, want, dead, fd, family, &w->t, msg, sizeof(msg));
		if (berr != 0) {
			if (berr > 0)
				err = berr;
			if (msg[0] == '\0')
				str_copy(msg, "no live proxy left in the chain", sizeof(msg));
			break;
		}
		dial_init(&w->d, fd, w->t.hops, w->t.n, dst, SOCKS_CMD_CONNECT, &chain_io, 0);
		if (c->chain != CHAIN_STRICT)
			w->d.connect_deadline_ms = chain_hop0_deadline(c, deadline, dead, w->t.idx[0]);
		if (dial_run(&w->d, deadline) == 0) {
			memcpy(via, &w->t.hops[0].sa, w->t.hops[0].salen);
			*vialen = w->t.hops[0].salen;
			free(w);
			return 0;
		}
		err = w->d.err;
		str_copy(msg, w->d.msg, sizeof(msg));
		chain_disconnect(fd);
		/* Strict never fails over; a failing destination is not the chain's fault;
		 * past the deadline there is nothing left to try with. */
		if (c->chain == CHAIN_STRICT || w->d.fail_hop >= w->t.n ||
		    dial_now_ms(&chain_io) >= deadline)
			break;
		LOG_INFO("skipping a dead hop: %s", w->d.msg);
		dead[w->t.idx[w->d.fail_hop]] = true;
	}
	free(w);
	LOG_WARN("connect to %s failed: %s", addr_str(dst, dstr, sizeof(dstr)), msg);
	return err;
}

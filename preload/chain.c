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
#include <sys/mman.h>
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
void chain_atfork_prepare(void)
{
	pthread_mutex_lock(&chain_lock);
}

void chain_atfork_parent(void)
{
	pthread_mutex_unlock(&chain_lock);
}

void chain_atfork_child(void)
{
	pthread_mutex_init(&chain_lock, NULL);
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
		/* What pipeline.c knows of this proxy's pipelining (pipeline = auto). */
		t->hops[t->n].nopipe = pipeline_refused(c, &c->proxies[i]);
		t->hops[t->n].nostall = pipeline_slow(c, &c->proxies[i]);
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

/* After a failed attempt: true when another may be made (its dead hop marked). */
static bool chain_job_next(struct chain_job *j)
{
	const struct socksify_conf *c = j->conf;

	j->err = j->d.err;
	str_copy(j->msg, j->d.msg, sizeof(j->msg));
	chain_disconnect(j->fd);
	/* Strict never fails over; a failing destination is not the chain's fault;
	 * past the deadline there is nothing left to try with. */
	if (c->chain == CHAIN_STRICT || j->d.fail_hop >= j->t.n ||
	    dial_now_ms(&chain_io) >= j->deadline || ++j->attempt >= c->nproxies)
		return false;
	LOG_INFO("skipping a dead hop: %s", j->d.msg);
	j->dead[j->t.idx[j->d.fail_hop]] = true;
	return true;
}

/* Starts attempts until one is under way (or done), or none is left to make. */
static enum dial_state chain_job_attempt(struct chain_job *j)
{
	const struct socksify_conf *c = j->conf;

	for (;;) {
		int berr = chain_build(c, j->order, j->want, j->dead, j->fd, j->family, &j->t, j->msg,
				       sizeof(j->msg));
		if (berr != 0) {
			if (berr > 0)
				j->err = berr;
			if (j->msg[0] == '\0')
				str_copy(j->msg, "no live proxy left in the chain", sizeof(j->msg));
			j->d.state = DIAL_FAILED;
			return DIAL_FAILED;
		}
		dial_init(&j->d, j->fd, j->t.hops, j->t.n, &j->dst, SOCKS_CMD_CONNECT, &chain_io,
			  j->dial_flags);
		if (c->chain != CHAIN_STRICT)
			j->d.connect_deadline_ms = chain_hop0_deadline(c, j->deadline, j->dead,
								       j->t.idx[0]);
		if (dial_step(&j->d) != DIAL_FAILED)
			return j->d.state;
		if (!chain_job_next(j))
			return DIAL_FAILED;
	}
}

/* The end of a step: a failure is logged once, with the last hop's reason. */
static enum dial_state chain_job_end(struct chain_job *j, enum dial_state st)
{
	char dstr[ADDR_STR_MAX];

	if (st == DIAL_FAILED)
		LOG_WARN("connect to %s failed: %s", addr_str(&j->dst, dstr, sizeof(dstr)), j->msg);
	return st;
}

enum dial_state chain_job_start(struct chain_job *j, int fd, int family,
				const struct socks_addr *dst, unsigned dial_flags)
{
	const struct socksify_conf *c = shim_conf();
	char dstr[ADDR_STR_MAX];

	memset(j->dead, 0, sizeof(j->dead));
	j->fd = fd;
	j->family = family;
	j->dst = *dst;
	j->attempt = 0;
	j->suspect = 0;
	j->msg[0] = '\0';
	j->err = ECONNREFUSED;
	j->conf = c;
	j->dial_flags = dial_flags;
	j->d.state = DIAL_FAILED;
	if (c == NULL) {
		LOG_WARN("connect to %s refused: the socksify configuration is invalid",
			 addr_str(dst, dstr, sizeof(dstr)));
		return DIAL_FAILED;
	}
	j->want = chain_order(c, j->order);
	j->deadline = dial_now_ms(&chain_io) + c->connect_timeout_ms;
	return chain_job_end(j, chain_job_attempt(j));
}

/* The suspect hop's step-by-step answer is in (this step took it from waiting for
 * the method or the reply past its reply): quick means the pipelined try stalled. */
static void chain_job_verdict(struct chain_job *j, size_t hop, enum dial_state before,
			      uint64_t method_ms)
{
	if (j->suspect != hop + 1 || (before != S5_RECV_METHOD && before != S5_RECV_REPLY) ||
	    (j->d.hop == hop && j->d.state != DIAL_DONE))
		return;
	uint64_t now = dial_now_ms(&chain_io);
	uint64_t took = before == S5_RECV_REPLY && method_ms != 0 ? now - method_ms : 0;
	pipeline_verdict(j->conf, j->t.hops[hop].proxy, hop + 1, took < 600);
	j->suspect = 0;
}

enum dial_state chain_job_step(struct chain_job *j)
{
	size_t hop = j->d.hop;
	enum dial_state before = j->d.state;
	uint64_t method_ms = j->d.s5_method_ms;

	if (j->d.state == DIAL_DONE || j->d.state == DIAL_FAILED)
		return j->d.state;
	if (dial_step(&j->d) != DIAL_FAILED) {
		if (j->suspect != 0)
			chain_job_verdict(j, hop, before, method_ms);
		return j->d.state;
	}
	return chain_job_end(j, chain_job_next(j) ? chain_job_attempt(j) : DIAL_FAILED);
}

enum dial_state chain_job_tick(struct chain_job *j, uint64_t now)
{
	if (j->d.state == DIAL_DONE || j->d.state == DIAL_FAILED || now < chain_job_wake(j))
		return j->d.state;
	uint64_t stall = dial_pipeline_stall(&j->d);
	if (stall != 0 && now >= stall && now < j->deadline) {
		/* This hop may have swallowed the pipelined request: ask it again step by
		 * step on a fresh connection (the same hops, no attempt spent); how fast
		 * that answer comes tells a stall from a slow proxy (chain_job_step). */
		pipeline_suspect(j->conf, j->d.hops[j->d.hop].proxy, j->d.hop + 1);
		j->suspect = j->d.hop + 1;
		chain_disconnect(j->fd);
		return chain_job_end(j, chain_job_attempt(j));
	}
	/* Past the whole deadline, or a black-holed first hop whose share of it ran
	 * out (then on to the next proxy while time is left). */
	dial_timeout(&j->d);
	return chain_job_end(j, chain_job_next(j) ? chain_job_attempt(j) : DIAL_FAILED);
}

uint64_t chain_job_wake(const struct chain_job *j)
{
	uint64_t stall = dial_pipeline_stall(&j->d);

	if (stall != 0 && stall < j->deadline)
		return stall;
	if (j->d.tcp_pending && j->d.connect_deadline_ms != 0 &&
	    j->d.connect_deadline_ms < j->deadline)
		return j->d.connect_deadline_ms;
	return j->deadline;
}

socklen_t chain_job_via(const struct chain_job *j, struct sockaddr_storage *via)
{
	memcpy(via, &j->t.hops[0].sa, j->t.hops[0].salen);
	return j->t.hops[0].salen;
}

/* The blocking connect's job (some 18 KB) is not on the stack (the program's thread may
 * have a small one) nor from malloc: connect() is async-signal-safe, so a program may
 * call it in the child of a multithreaded fork, where an allocator that does not guard
 * its locks across fork (GCC 12's libasan) can be caught locked by another thread. It
 * is an anonymous mapping, kept by its thread for the next connect (a mapping per
 * connect cost more than the whole handshake here) and unmapped when the thread ends.
 * Taken, not borrowed: a signal handler's connect in the middle of one maps its own. */
static __thread struct chain_job *chain_job_kept;
static pthread_key_t chain_job_key;
static pthread_once_t chain_job_key_once = PTHREAD_ONCE_INIT;
static bool chain_job_key_ok;

static void chain_job_unmap(void *j)
{
	munmap(j, sizeof(struct chain_job));
}

static void chain_job_key_init(void)
{
	chain_job_key_ok = pthread_key_create(&chain_job_key, chain_job_unmap) == 0;
}

static struct chain_job *chain_job_get(void)
{
	struct chain_job *j = chain_job_kept;

	if (j != NULL) {
		chain_job_kept = NULL;
		return j;
	}
	j = mmap(NULL, sizeof(*j), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return j == MAP_FAILED ? NULL : j;
}

static void chain_job_put(struct chain_job *j)
{
	pthread_once(&chain_job_key_once, chain_job_key_init);
	if (chain_job_kept == NULL && chain_job_key_ok &&
	    pthread_setspecific(chain_job_key, j) == 0) {
		chain_job_kept = j;
		return;
	}
	chain_job_unmap(j);
}

int chain_connect(int fd, int family, const struct socks_addr *dst,
		  struct sockaddr_storage *via, socklen_t *vialen, unsigned dial_flags)
{
	struct chain_job *j = chain_job_get();
	int err = 0;

	if (j == NULL)
		return ENOBUFS;
	enum dial_state st = chain_job_start(j, fd, family, dst, dial_flags);
	while (st != DIAL_DONE && st != DIAL_FAILED) {
		uint64_t now = dial_now_ms(&chain_io), until = chain_job_wake(j);
		if (now >= until) {
			st = chain_job_tick(j, now);
			continue;
		}
		uint64_t left = until - now;
		int r = chain_wait(NULL, fd, dial_events(&j->d),
				   left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (r < 0 && errno != EINTR) {
			j->err = errno;
			snprintf(j->msg, sizeof(j->msg), "poll: %s", strerror(j->err));
			chain_disconnect(fd);
			st = chain_job_end(j, DIAL_FAILED);
			break;
		}
		/* POLLERR/POLLHUP surface through the next send/recv. */
		st = chain_job_step(j);
	}
	if (st == DIAL_DONE)
		*vialen = chain_job_via(j, via);
	else
		err = j->err;
	chain_job_put(j);
	return err;
}

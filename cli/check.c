/* socksify --check: tests the configured chain hop by hop and prints a report.
 * For each hop: can it be reached (TCP connect, or CONNECT through the hops before
 * it), which SOCKS5 method it picks, does it accept our credentials, can it CONNECT
 * onwards (to the next hop, or to the test destination); then UDP ASSOCIATE on the
 * last hop. Handshakes go through common/dial.h, blocking with connect_timeout. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "dial.h"
#include "hops.h"
#include "errmap.h"
#include "util.h"

struct check {
	const struct socksify_conf *conf;
	size_t npx;
	struct socks_addr dst; /* the CONNECT test destination */
	bool ok;               /* everything the settings need works, so far */
	/* The last hop answered that it cannot reach the destination: that reply proves
	 * the chain, the destination is what fails. */
	bool dest_unreachable;
};

/* Milliseconds with a fraction: loopback and LAN proxies answer in well under one. */
static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double ms_since(double start)
{
	return now_ms() - start;
}

static void line(const char *what, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void line(const char *what, const char *status, const char *fmt, ...)
{
	va_list ap;
	printf("  %-13s %-5s ", what, status);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static const char *proxy_label(const struct proxy *p, char *buf, size_t cap)
{
	char url[URL_MAX];
	str_copy(buf, proxy_url_str(p, url, sizeof(url)), cap);
	return buf;
}

/* ---- preparation ---- */

static bool resolve(const char *host, uint16_t port, int family, struct sockaddr_storage *ss,
		    socklen_t *len, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	char port_s[8];
	snprintf(port_s, sizeof(port_s), "%u", (unsigned)port);
	int rc = getaddrinfo(host, port_s, &hints, &res);
	if (rc != 0 || !res) {
		snprintf(err, errlen, "cannot resolve %s: %s", host,
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return false;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

/* The resolver for common/hops.c: this process's own getaddrinfo. */
static size_t check_resolve(void *ctx, size_t i, struct socks_addr *out, size_t cap, int *gai)
{
	const struct check *ck = ctx;
	const struct proxy *p = &ck->conf->proxies[i];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	size_t n = 0;

	*gai = getaddrinfo(p->host, NULL, &hints, &res);
	if (*gai != 0)
		return 0;
	for (const struct addrinfo *ai = res; ai != NULL && n < cap; ai = ai->ai_next)
		if (addr_from_sockaddr(&out[n], ai->ai_addr, ai->ai_addrlen))
			out[n++].port = p->port;
	freeaddrinfo(res);
	if (n == 0)
		*gai = EAI_NONAME;
	return n;
}

/* Fills hops[] for the proxies path[0..n-1], as the library does (common/hops.c).
 * false when one cannot be built (err says why). */
static bool build_hops(const struct check *ck, const size_t *path, size_t n,
		       struct dial_hop *hops, char *err, size_t errlen)
{
	struct hops_resolver r = {check_resolve, (void *)ck};
	size_t bad;

	return hops_build(ck->conf, path, n, AF_UNSPEC, false, &r, hops, &bad, err, errlen) == 0;
}

/* Runs one blocking dial through hops to dst; returns the connected fd or -1 with
 * d->err / d->msg set. */
static int run_dial(const struct check *ck, struct dial *d, const struct dial_hop *hops,
		    size_t n, const struct socks_addr *dst, uint8_t cmd)
{
	int fd = socket(hops[0].sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		/* No dial was started: what its failure would have said, no state. */
		memset(d, 0, sizeof(*d));
		d->err = errno;
		snprintf(d->msg, sizeof(d->msg), "socket: %s", strerror(errno));
		return -1;
	}
	dial_init(d, fd, hops, n, dst, cmd, NULL, 0);
	if (dial_run(d, dial_now_ms(NULL) + ck->conf->connect_timeout_ms) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A plain TCP connect with the configured timeout, for the first hop's
 * reachability: the time it takes is the proxy's own latency. */
static int tcp_connect(const struct check *ck, const struct dial_hop *h, char *err,
		       size_t errlen)
{
	int fd = socket(h->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int rc = connect(fd, (const struct sockaddr *)&h->sa, h->salen);
	if (rc < 0 && errno == EINPROGRESS) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int timeout = (int)ck->conf->connect_timeout_ms;
		rc = poll(&pfd, 1, timeout);
		if (rc == 0) {
			snprintf(err, errlen, "connect: timed out after %d ms", timeout);
			goto fail;
		}
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr) {
			snprintf(err, errlen, "connect: %s", strerror(soerr));
			goto fail;
		}
	} else if (rc < 0) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		goto fail;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
fail:
	close(fd);
	return -1;
}

/* ---- SOCKS5 method probe ---- */

static const char *method_name(uint8_t m)
{
	switch (m) {
	case SOCKS5_METHOD_NOAUTH:
		return "no-auth";
	case SOCKS5_METHOD_GSSAPI:
		return "GSSAPI";
	case SOCKS5_METHOD_USERPASS:
		return "username/password";
	case SOCKS5_METHOD_NONE_ACCEPTABLE:
		return "none acceptable";
	}
	return "unknown";
}

/* Offers both methods we speak on a socket already at the hop and reads which one
 * the hop picks: that tells whether it lets anyone in without credentials. */
static bool probe_methods(const struct check *ck, int fd, uint8_t *method, char *err,
			  size_t errlen)
{
	static const uint8_t offer[] = {SOCKS5_METHOD_NOAUTH, SOCKS5_METHOD_USERPASS};
	uint8_t buf[16];
	ssize_t n = s5_build_greeting(buf, sizeof(buf), offer, sizeof(offer));
	struct timeval tv = {.tv_sec = ck->conf->connect_timeout_ms / 1000,
			     .tv_usec = (ck->conf->connect_timeout_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (n < 0 || send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n) {
		snprintf(err, errlen, "send greeting: %s", strerror(errno));
		return false;
	}
	size_t have = 0, used;
	for (;;) {
		int rc = s5_parse_method_reply(buf, have, &used, method);
		if (rc == CODEC_DONE)
			return true;
		if (rc != CODEC_NEED_MORE) {
			snprintf(err, errlen, "bad method reply: %s", codec_strerror(rc));
			return false;
		}
		ssize_t r = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (r <= 0) {
			/* SO_RCVTIMEO expiry shows up as EAGAIN. */
			snprintf(err, errlen, "reading method reply: %s",
				 r == 0 ? "connection closed by the proxy"
				 : errno == EAGAIN || errno == EWOULDBLOCK ? "timed out"
									     : strerror(errno));
			return false;
		}
		have += (size_t)r;
	}
}

/* ---- per hop ---- */

/* Reaches hop path[k] (directly, or through path[0..k-1]) and probes its methods.
 * Returns false when it cannot be reached. */
static bool check_reach(struct check *ck, const size_t *path, size_t k)
{
	struct dial_hop hops[DIAL_MAX_HOPS];
	const struct proxy *p = &ck->conf->proxies[path[k]];
	char err[DIAL_MSG_MAX + 64];
	double t0 = now_ms();
	int fd;

	if (k == 0) {
		/* As the first hop it is reached directly. */
		size_t one = path[k];
		if (!build_hops(ck, &one, 1, hops, err, sizeof(err))) {
			line("reachable", "FAIL", "%s", err);
			return false;
		}
		fd = tcp_connect(ck, &hops[0], err, sizeof(err));
		if (fd < 0) {
			line("reachable", "FAIL", "%s", err);
			return false;
		}
		line("reachable", "ok", "TCP connect in %.1f ms", ms_since(t0));
	} else {
		struct dial d;
		if (!build_hops(ck, path, k + 1, hops, err, sizeof(err))) {
			line("reachable", "FAIL", "%s", err);
			return false;
		}
		fd = run_dial(ck, &d, hops, k, &hops[k].addr, SOCKS_CMD_CONNECT);
		if (fd < 0) {
			line("reachable", "FAIL", "%s", d.msg);
			return false;
		}
		if (k == 1)
			line("reachable", "ok", "through hop 1 in %.1f ms", ms_since(t0));
		else
			line("reachable", "ok", "through hops 1..%zu in %.1f ms", k, ms_since(t0));
	}

	if (p->type == PROXY_SOCKS5) {
		uint8_t m;
		if (!probe_methods(ck, fd, &m, err, sizeof(err))) {
			line("methods", "FAIL", "%s", err);
			ck->ok = false;
		} else if (m == SOCKS5_METHOD_USERPASS && !p->has_auth) {
			line("methods", "FAIL",
			     "it requires username/password: put USER:PASSWORD@ in the URL");
			ck->ok = false;
		} else if (m == SOCKS5_METHOD_NOAUTH || m == SOCKS5_METHOD_USERPASS) {
			line("methods", "ok", "offered no-auth and username/password, it chose %s",
			     method_name(m));
		} else {
			line("methods", "FAIL", "offered no-auth and username/password, it answered %s",
			     method_name(m));
			ck->ok = false;
		}
	} else {
		line("methods", "-", "%s has no method negotiation", proxy_type_name(p->type));
	}
	close(fd);
	return true;
}

/* The auth line, from how the hop's handshake went. past: the dial got beyond
 * this hop (done, or failed further on); own: this hop's handshake failed. */
static void report_auth(const struct proxy *p, const struct dial *d, bool past, bool own)
{
	if (!p->has_auth)
		line("auth", "-", "no credentials given");
	else if (own && d->err == EACCES)
		line("auth", "FAIL", "%s", d->msg);
	else if (!past)
		line("auth", "?", "not reached");
	else if (p->type == PROXY_SOCKS5 && d->method == SOCKS5_METHOD_NOAUTH)
		line("auth", "ok", "not asked for (the proxy chose no-auth)");
	else if (p->type == PROXY_SOCKS4)
		line("auth", "ok", "user id \"%s\" sent", p->user);
	else
		line("auth", "ok", "user \"%s\" accepted", p->user);
}

enum hs_result {
	HS_OK,
	HS_FAIL,      /* this hop (or one before it) failed */
	HS_NEXT_DEAD, /* this hop works but cannot reach the next hop */
	HS_DEST_FAIL, /* the last hop works and answered: the destination cannot be reached */
};

/* The hop's own handshake and its CONNECT onwards (next hop, or the destination).
 * show_auth: print the auth line (not again when retrying past a dead hop). */
static enum hs_result check_handshake(struct check *ck, const size_t *path, size_t k, size_t n,
				      bool show_auth)
{
	struct dial_hop hops[DIAL_MAX_HOPS];
	const struct proxy *p = &ck->conf->proxies[path[k]];
	char err[DIAL_MSG_MAX], a[ADDR_STR_MAX];
	struct dial d;

	if (!build_hops(ck, path, k + 2 <= n ? k + 2 : n, hops, err, sizeof(err))) {
		line("CONNECT", "FAIL", "%s", err);
		return HS_FAIL;
	}
	const struct socks_addr *target = k + 1 < n ? &hops[k + 1].addr : &ck->dst;
	double t0 = now_ms();
	int fd = run_dial(ck, &d, hops, k + 1, target, SOCKS_CMD_CONNECT);
	double took = ms_since(t0);
	if (fd >= 0)
		close(fd);

	/* Who failed: this hop's handshake (auth) or what it was asked to reach. */
	bool own = fd < 0 && d.fail_hop == k;
	if (show_auth)
		report_auth(p, &d, fd >= 0 || d.fail_hop > k, own);

	const char *to = k + 1 < n ? "to the next hop" : "to";
	addr_str(target, a, sizeof(a));
	if (own && d.err == EACCES) {
		line("CONNECT", "-", "not tried: the hop did not let us in");
		return HS_FAIL;
	}
	if (fd < 0) {
		line("CONNECT", "FAIL", "%s %s: %s", to, a, d.msg);
		if (k + 1 == n && d.fail_hop >= n) {
			printf("  %-13s %-5s the last hop answered, so the chain works; %s cannot be "
			       "reached from it (try --check=HOST:PORT with a destination it can "
			       "reach)\n", "chain", "ok", a);
			ck->dest_unreachable = true;
			return HS_DEST_FAIL;
		}
		return d.fail_hop == k + 1 && k + 1 < n ? HS_NEXT_DEAD : HS_FAIL;
	}
	line("CONNECT", "ok", "%s %s in %.1f ms", to, a, took);
	return HS_OK;
}

/* Leaves path[k] out of the chain, as the library's dynamic chain does. */
static size_t drop_hop(struct check *ck, size_t *path, size_t n, size_t k)
{
	char label[URL_MAX];
	printf("  (dynamic chain: %s is skipped)\n",
	       proxy_label(&ck->conf->proxies[path[k]], label, sizeof(label)));
	memmove(path + k, path + k + 1, (n - k - 1) * sizeof(*path));
	return n - 1;
}

static void check_udp(struct check *ck, const size_t *path, size_t n)
{
	bool needed = ck->conf->udp == UDP_PROXY;
	const struct proxy *last = &ck->conf->proxies[path[n - 1]];
	const char *bad = needed ? "FAIL" : "-";
	char err[DIAL_MSG_MAX], a[ADDR_STR_MAX];

	if (last->type != PROXY_SOCKS5) {
		line("UDP ASSOCIATE", bad, "the last hop is %s, which has no UDP%s",
		     proxy_type_name(last->type), needed ? " (needed with udp=proxy)" : "");
		ck->ok &= !needed;
		return;
	}
	struct dial_hop hops[DIAL_MAX_HOPS];
	struct dial d;
	/* 0.0.0.0:0: we do not know yet where our datagrams will come from. */
	struct socks_addr any = {.atyp = SOCKS5_ATYP_IPV4};
	if (!build_hops(ck, path, n, hops, err, sizeof(err))) {
		line("UDP ASSOCIATE", bad, "%s", err);
		ck->ok &= !needed;
		return;
	}
	int fd = run_dial(ck, &d, hops, n, &any, SOCKS_CMD_UDP_ASSOCIATE);
	if (fd < 0) {
		line("UDP ASSOCIATE", bad, "not offered: %s%s", d.msg,
		     needed ? "" : " (not needed: udp is not proxy)");
		ck->ok &= !needed;
		return;
	}
	close(fd);
	line("UDP ASSOCIATE", "ok", "the last hop relays datagrams at %s",
	     addr_str(&d.bound, a, sizeof(a)));
}

/* ---- the chain ---- */

/* Checks path[0..n-1] as one chain. dynamic: a hop that cannot be reached is
 * reported and left out, as the library's dynamic chain skips it. */
static bool check_chain(struct check *ck, size_t *path, size_t n, bool dynamic)
{
	char label[URL_MAX];
	size_t k = 0;
	while (k < n) {
		printf("hop %zu: %s\n", k + 1, proxy_label(&ck->conf->proxies[path[k]], label, sizeof(label)));
		if (!check_reach(ck, path, k)) {
			if (!dynamic)
				return false;
			n = drop_hop(ck, path, n, k);
			continue;
		}
		enum hs_result r = check_handshake(ck, path, k, n, true);
		while (r == HS_NEXT_DEAD && dynamic) {
			n = drop_hop(ck, path, n, k + 1);
			r = check_handshake(ck, path, k, n, false);
		}
		if (r != HS_OK && r != HS_DEST_FAIL)
			return false;
		k++;
	}
	if (n == 0) {
		printf("no hop of the chain can be reached\n");
		return false;
	}
	check_udp(ck, path, n);
	return true;
}

static bool parse_dest(struct check *ck, const char *dest)
{
	char err[CLI_ERR_MAX];
	if (!addr_parse_hostport(dest, &ck->dst, err, sizeof(err))) {
		cli_err("--check=%s: %s (expected HOST:PORT)", dest, err);
		return false;
	}
	const struct proxy *last = &ck->conf->proxies[ck->conf->nproxies - 1];
	/* With dns=local the name is ours to resolve, as the library will. */
	if (ck->dst.atyp == SOCKS5_ATYP_DOMAINNAME &&
	    (ck->conf->dns == DNS_LOCAL || last->type == PROXY_SOCKS4)) {
		struct sockaddr_storage ss;
		socklen_t len;
		uint16_t port = ck->dst.port;
		if (!resolve(ck->dst.u.name, port,
			     last->type == PROXY_SOCKS4 ? AF_INET : AF_UNSPEC, &ss, &len, err,
			     sizeof(err))) {
			cli_err("--check: %s", err);
			return false;
		}
		addr_from_sockaddr(&ck->dst, (struct sockaddr *)&ss, len);
		ck->dst.port = port;
	}
	return true;
}

static const char *chain_name(enum chain_type t)
{
	static const char *const names[] = {"strict", "dynamic", "random", "round_robin"};
	return (size_t)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

int check_run(const struct socksify_conf *c, const char *dest)
{
	static struct check ck; /* big: off the stack */
	size_t path[CONF_MAX_PROXIES];

	memset(&ck, 0, sizeof(ck));
	ck.conf = c;
	ck.ok = true;
	if (c->nproxies == 0) {
		cli_err("--check: no proxy configured");
		return CLI_EXIT_FAIL;
	}
	if (!parse_dest(&ck, dest ? dest : CHECK_DEFAULT_DEST))
		return CLI_EXIT_FAIL;
	ck.npx = c->nproxies;
	for (size_t i = 0; i < ck.npx; i++)
		path[i] = i;

	char a[ADDR_STR_MAX];
	printf("socksify --check: %zu prox%s, chain=%s, dns=%s, udp=%s, connect_timeout=%u ms, "
	       "test destination %s\n",
	       ck.npx, ck.npx == 1 ? "y" : "ies", chain_name(c->chain),
	       c->dns == DNS_REMOTE ? "remote" : "local",
	       c->udp == UDP_PROXY ? "proxy" : c->udp == UDP_BLOCK ? "block" : "direct",
	       c->connect_timeout_ms, addr_str(&ck.dst, a, sizeof(a)));

	if (c->chain == CHAIN_STRICT || c->chain == CHAIN_DYNAMIC || ck.npx == 1) {
		ck.ok &= check_chain(&ck, path, ck.npx, c->chain == CHAIN_DYNAMIC);
	} else {
		/* random / round_robin build chains of chain_len proxies from the list in
		 * varying orders: each proxy must work on its own, and enough of them. */
		size_t want = c->chain_len ? c->chain_len : 1, good = 0;
		for (size_t i = 0; i < ck.npx; i++) {
			bool saved = ck.ok;
			ck.ok = true;
			size_t one = i;
			printf("proxy %zu on its own (%s chain):\n", i + 1, chain_name(c->chain));
			if (check_chain(&ck, &one, 1, false) && ck.ok)
				good++;
			ck.ok = saved;
		}
		printf("%zu of %zu proxies work; chain_len is %zu\n", good, ck.npx, want);
		ck.ok &= good >= want;
	}
	if (ck.ok && ck.dest_unreachable) {
		printf("result: the chain works, but %s cannot be reached through it\n",
		       addr_str(&ck.dst, a, sizeof(a)));
		fflush(stdout);
		return 2;
	}
	printf("result: %s\n", ck.ok ? "OK, everything the settings need works" : "FAILED");
	fflush(stdout);
	return ck.ok ? 0 : 1;
}

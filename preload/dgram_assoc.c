/* UDP associations (SOCKS5 UDP ASSOCIATE, RFC 1928 section 7): set up one per hop on
 * a socket's first proxied datagram, kept alive while the proxy keeps the control
 * connections open; which datagrams go through them (the one routing decision,
 * common/route.c); and connect() on a UDP socket. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "datagram.h"
#include "dgram.h"
#include "dial.h"
#include "dns53.h"
#include "fakedns.h"
#include "hops.h"
#include "log.h"
#include "shim.h"
#include "udp_wire.h"
#include "util.h"

/* ---- the association ---- */



/* Where hop k's relay is: its BND.ADDR, or where the hop itself was reached when it
 * answers 0.0.0.0 / :: (or a name the hop before would have to resolve). */
static struct socks_addr dg_relay_of(const struct dial *dl, const struct dial_hop *hop)
{
	struct socks_addr r = dl->bound;

	if (addr_is_unspecified(&r) || r.atyp == SOCKS5_ATYP_DOMAINNAME) {
		uint16_t port = r.port;
		r = hop->addr;
		r.port = port;
	}
	return r;
}

/* The port the program's socket sends from, which the association names (RFC 1928
 * DST.PORT) so the relay can tell its datagrams from anyone else's. An unbound socket
 * is bound first, to the wildcard address and a kernel-chosen port, as its first
 * send would bind it. 0 if that fails (the relay then takes the first sender). */
static uint16_t dg_own_port(const struct dg_assoc *d)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct socks_addr a;

	if (getsockname(d->fd, (struct sockaddr *)&ss, &len) != 0 ||
	    !addr_from_sockaddr(&a, (struct sockaddr *)&ss, len))
		return 0;
	if (a.port != 0)
		return a.port;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)d->family;
	len = d->family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (bind(d->fd, (struct sockaddr *)&ss, len) != 0)
		return 0;
	len = sizeof(ss);
	if (getsockname(d->fd, (struct sockaddr *)&ss, &len) != 0 ||
	    !addr_from_sockaddr(&a, (struct sockaddr *)&ss, len))
		return 0;
	return a.port;
}

/* Opens hop k's association: a control connection through hops 0..k-1 and UDP
 * ASSOCIATE at hop k. Returns the control fd (its relay in *relay), or -1 with msg
 * and *err set. */
static int dg_associate_hop(struct dial *dl, const struct dial_hop *hops, size_t k,
			    uint16_t from_port, uint64_t deadline, struct socks_addr *relay,
			    int *err, char *msg, size_t msglen)
{
	/* RFC 1928: where the client will send from, zeros for what it does not know. */
	struct socks_addr from = { .atyp = SOCKS5_ATYP_IPV4, .port = from_port };
	int ctl, rc;

	shim_inside++;
	ctl = socket(hops[0].sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	shim_inside--;
	if (ctl < 0) {
		*err = errno;
		snprintf(msg, msglen, "cannot open the control connection: %s", strerror(*err));
		return -1;
	}
	ctl = dg_high_fd(ctl);
	dial_init(dl, ctl, hops, k + 1, &from, SOCKS_CMD_UDP_ASSOCIATE, &chain_io, 0);
	shim_inside++;
	rc = dial_run(dl, deadline);
	shim_inside--;
	if (rc == 0) {
		*relay = dg_relay_of(dl, &hops[k]);
		return ctl;
	}
	/* Why ENETUNREACH: a proxy without UDP ASSOCIATE (ssh -D, microsocks) means this
	 * network cannot be reached for datagrams at all. */
	if (dl->reply == S5_REP_CMD_NOT_SUPPORTED && dl->fail_hop >= k) {
		snprintf(msg, msglen, "%s (the proxy offers no UDP ASSOCIATE)", dl->msg);
		*err = ENETUNREACH;
	} else {
		str_copy(msg, dl->msg, msglen);
		*err = dl->err ? dl->err : ENETUNREACH;
	}
	dg_close_fds(&ctl, 1);
	return -1;
}

/* Sets up d's associations, one per hop of the chain (all hops in order). Returns 0,
 * or an errno having logged one warn line. Caller holds d->mu. */
/* What setting up an association needs beyond a few KB: on the heap, not on the
 * program's stack. */
struct dg_setup {
	struct dial_hop hops[DIAL_MAX_HOPS];
	struct dial dl;
};

static int dg_associate(struct dg_assoc *d, const struct socks_addr *dst)
{
	const struct socksify_conf *c = shim_conf();
	struct dg_setup *w = NULL;
	size_t path[DIAL_MAX_HOPS], bad;
	struct hops_resolver res;
	struct socks_addr relay;
	char dstr[ADDR_STR_MAX], rstr[ADDR_STR_MAX];
	char msg[DIAL_MSG_MAX + SOCKS_NAME_MAX + 64] = "";
	int err = 0;
	size_t n;

	if (c == NULL || c->nproxies == 0) {
		str_copy(msg, "the socksify configuration is invalid", sizeof(msg));
		err = ENETUNREACH;
		goto out;
	}
	n = c->nproxies;
	for (size_t i = 0; i < n; i++) {
		const struct proxy *p = &c->proxies[i];
		path[i] = i;
		if (p->type != PROXY_SOCKS5) {
			snprintf(msg, sizeof(msg), "hop %zu (%s %s) cannot carry UDP: socks5 only",
				 i + 1, proxy_type_name(p->type), p->host);
			err = ENETUNREACH;
			goto out;
		}
	}
	w = malloc(sizeof(*w));
	if (w == NULL) {
		err = ENOBUFS;
		str_copy(msg, strerror(err), sizeof(msg));
		goto out;
	}
	chain_resolver(c, &res);
	err = hops_build(c, path, n, AF_UNSPEC, false, &res, w->hops, &bad, msg, sizeof(msg));
	if (err != 0)
		goto out;
	uint64_t deadline = dg_now_ms() + c->connect_timeout_ms;
	d->nctl = 0;
	for (size_t k = 0; k < n; k++) {
		struct socks_addr r;
		/* Hop 0's relay hears the program's socket; hop k's hears hop k-1's
		 * relay, whose port only that hop knows. */
		int ctl = dg_associate_hop(&w->dl, w->hops, k, k == 0 ? dg_own_port(d) : 0,
					   deadline, &r, &err, msg, sizeof(msg));
		if (ctl < 0) {
			dg_drop_ctl(d);
			goto out;
		}
		fdreg_set_internal(ctl);
		d->ctl[d->nctl++] = ctl;
		if (k == 0)
			relay = r;
		else
			d->inner[k] = r;
	}
	d->relaylen = addr_to_sockaddr_family(&relay, d->family, &d->relay);
	if (d->relaylen == 0) {
		snprintf(msg, sizeof(msg), "the relay %s cannot be reached from this socket",
			 addr_str(&relay, rstr, sizeof(rstr)));
		err = ENETUNREACH;
		dg_drop_ctl(d);
		goto out;
	}
	LOG_INFO("UDP association up (%zu hop%s), relay %s", n, n > 1 ? "s" : "",
		 addr_str(&relay, rstr, sizeof(rstr)));
	dg_set_state(d, DG_UP, 0);
out:
	free(w);
	if (err != 0) {
		dg_set_state(d, DG_BACKOFF, err);
		LOG_WARN("UDP to %s failed: %s", addr_str(dst, dstr, sizeof(dstr)), msg);
	}
	return err;
}

/* The proxy says nothing after its reply, so anything readable on a control
 * connection (EOF, a reset, stray bytes) means the association is gone. */
static bool dg_ctl_alive(const int *ctl, size_t n)
{
	struct pollfd p[DIAL_MAX_HOPS];
	int r;

	for (size_t k = 0; k < n; k++)
		p[k] = (struct pollfd){ .fd = ctl[k], .events = POLLIN };
	r = real()->poll(p, n, 0);
	return r == 0 || (r < 0 && errno == EINTR);
}

static int dg_ready_check(struct dg_assoc *d, const struct socks_addr *dst)
{
	char dstr[ADDR_STR_MAX];

	switch (d->state) {
	case DG_LOST:
		return d->err;
	case DG_BACKOFF:
		if (dg_now_ms() < d->retry_ms)
			return d->err;
		dg_set_state(d, DG_IDLE, 0);
		/* fall through */
	case DG_IDLE:
		return dg_associate(d, dst);
	case DG_UP:
		break;
	}
	if (dg_ctl_alive(d->ctl, d->nctl))
		return 0;
	dg_drop_ctl(d);
	dg_set_state(d, DG_LOST, ECONNRESET);
	LOG_WARN("UDP to %s failed: the proxy closed the UDP association",
		 addr_str(dst, dstr, sizeof(dstr)));
	return ECONNRESET;
}

/* Ready to send through d: the association up and alive. Caller holds d->mu.
 * Returns 0 or the errno the send fails with; errno itself is left as it was (the
 * set-up's EINPROGRESS must not show behind a send that succeeds). Inside the shim
 * meanwhile: the warn line goes to fd 2 through our write() hook, and when fd 2 is
 * this very socket (a daemon with stderr closed) that must not take d->mu again. */
int dg_ready(struct dg_assoc *d, const struct socks_addr *dst)
{
	int saved = errno, err;

	shim_inside++;
	err = dg_ready_check(d, dst);
	shim_inside--;
	errno = saved;
	return err;
}

/* ---- policy ---- */

static int dg_socket_family(int fd, int *type)
{
	int family = 0;
	socklen_t ol = sizeof(*type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, type, &ol) != 0)
		return -1;
	ol = sizeof(family);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &ol) != 0)
		return -1;
	return family;
}

/* A datagram (or UDP connect) to port 53 of sa: one the library answers (dns53.h)?
 * Then *dp is the socket's record (NULL when none could be made). dns53_wanted
 * first: it is false at once without dns=remote (and so for an inert library),
 * before any system call for a socket we do not manage. */
static bool dg_dns53(int fd, const struct sockaddr *sa, const struct socks_addr *dst,
		     struct dg_assoc **dp)
{
	int type = SOCK_DGRAM, family;

	if (!dns53_wanted(dst, SOCK_DGRAM))
		return false;
	family = *dp != NULL ? (*dp)->family : dg_socket_family(fd, &type);
	if (type != SOCK_DGRAM || family != sa->sa_family)
		return false;
	if (*dp == NULL)
		*dp = dg_register(fd, family);
	return true;
}

/* Classifies a datagram (or UDP connect) to sa. *dp: the socket's record as the
 * caller looked it up (dg_get), or NULL. On DG_PROXY and DG_DNS53 *dst is what the
 * relay is asked for and *dp the socket's record; on DG_REFUSE *why says why. */
enum dg_policy dg_classify(int fd, const struct sockaddr *sa, socklen_t len, int flags,
				  struct socks_addr *dst, int *err, enum route_reason *why,
				  struct dg_assoc **dp)
{
	struct dg_assoc *d = *dp;
	struct route r;
	int family, type = 0;

	if (shim_inside || sa == NULL || len < sizeof(sa_family_t))
		return DG_PASS;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return DG_PASS;
	if (!addr_from_sockaddr(dst, sa, len))
		return DG_PASS;
	/* Before the loopback pass: a stub resolver on 127.0.0.53 is the usual case. */
	if (dst->port == 53 && (d == NULL || d->dns.tcp_fd < 0) && dg_dns53(fd, sa, dst, dp)) {
		if (*dp != NULL)
			return DG_DNS53;
		*err = ENOMEM;
		*why = ROUTE_R_CHAIN;
		return DG_REFUSE;
	}
	if (addr_is_loopback(dst) || addr_is_unspecified(dst))
		return DG_PASS;
	if (d == NULL && shim_inert())
		return DG_PASS;
	if (d == NULL) {
		family = dg_socket_family(fd, &type);
		if (family != AF_INET && family != AF_INET6)
			return DG_PASS;
		if (type == SOCK_STREAM && (flags & MSG_FASTOPEN))
			return DG_FASTOPEN;
		if (type != SOCK_DGRAM || family != sa->sa_family)
			return DG_PASS; /* a family mismatch: the kernel's EAFNOSUPPORT */
	} else {
		family = d->family;
	}
	shim_route(dst, ROUTE_UDP, &r);
	switch (r.verdict) {
	case ROUTE_PASS:
		return DG_PASS;
	case ROUTE_REFUSE:
		*err = r.err;
		*why = r.reason;
		return DG_REFUSE;
	case ROUTE_PROXY:
		break;
	}
	*dst = r.dst;
	if (d == NULL)
		d = dg_register(fd, family);
	if (d == NULL) {
		*err = ENOMEM;
		*why = ROUTE_R_CHAIN;
		return DG_REFUSE;
	}
	*dp = d;
	return DG_PROXY;
}

/* One warn line per refusal reason and process (every one at info level): a program
 * retrying every second must not flood the log. */
int dg_refuse(int fd, const struct socks_addr *dst, enum route_reason why, int err)
{
	static _Atomic int warned_block, warned_other;
	char a[ADDR_STR_MAX];
	_Atomic int *w = why == ROUTE_R_UDP_BLOCK ? &warned_block : &warned_other;

	if (atomic_exchange(w, 1) == 0 || log_enabled(LOG_INFO))
		LOG_WARN("UDP to %s refused: %s", addr_str(dst, a, sizeof(a)),
			 err == ENOMEM ? strerror(ENOMEM) : route_reason_str(why));
	errno = err;
	return -1;
}

/* ---- connect to a name server (port 53, answered here) ---- */

/* UDP: the kernel socket connected to itself (dns53.h); getpeername shows the server
 * through the fd registry. */
static int dg_dns53_connect(int fd, struct dg_assoc *d, const struct socks_addr *server,
			    const struct sockaddr *sa, socklen_t len)
{
	pthread_mutex_lock(&d->mu);
	d->connected = false;
	int rc = dns53_udp_connect(fd, &d->dns, server, sa, len);
	if (rc == 0)
		fdreg_set_tunnel(fd, sa, len, (struct sockaddr *)&d->dns.self, d->dns.selflen);
	pthread_mutex_unlock(&d->mu);
	return rc;
}

/* TCP: the socket's record holds the connection's state (dns53_sock.c). */
bool dgram_dns53_connect(int fd, const struct sockaddr *sa, socklen_t len, int *rc)
{
	struct socks_addr dst;
	struct dg_assoc *d;
	int type = 0, family;

	if (shim_inside || sa == NULL || len < sizeof(sa_family_t) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    !addr_from_sockaddr(&dst, sa, len) || dst.port != 53 ||
	    !dns53_wanted(&dst, SOCK_STREAM))
		return false;
	family = dg_socket_family(fd, &type);
	if (type != SOCK_STREAM || family != sa->sa_family)
		return false;
	if (fdreg_kind(fd) == FD_TUNNEL || dg_get(fd) != NULL)
		return false; /* connected already: the kernel's EISCONN */
	d = dg_register(fd, family);
	if (d == NULL) {
		errno = ENOMEM;
		*rc = -1;
		return true;
	}
	pthread_mutex_lock(&d->mu);
	d->dns.server = dst;
	*rc = dns53_tcp_connect(fd, &d->dns, sa, len);
	pthread_mutex_unlock(&d->mu);
	if (*rc != 0) {
		int err = errno;
		dgram_forget(fd);
		errno = err;
	}
	return true;
}

/* ---- connect on a UDP socket ---- */

/* Dissolves fd's connected peer (the association itself stays). */
static void dg_unconnect(int fd, struct dg_assoc *d)
{
	pthread_mutex_lock(&d->mu);
	d->connected = false;
	d->dns.conn = false;
	pthread_mutex_unlock(&d->mu);
	fdreg_clear(fd);
}

int dgram_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct socks_addr dst;
	struct dg_assoc *d;
	enum route_reason why = ROUTE_R_CHAIN;
	int err = 0, saved = errno;

	if (sa != NULL && len >= sizeof(sa_family_t) && sa->sa_family == AF_UNSPEC) {
		/* Dissolves the association's peer; the association itself stays. */
		d = dg_get(fd);
		if (d != NULL)
			dg_unconnect(fd, d);
		return real()->connect(fd, sa, len);
	}
	d = dg_get(fd);
	switch (dg_classify(fd, sa, len, 0, &dst, &err, &why, &d)) {
	case DG_REFUSE:
		return dg_refuse(fd, &dst, why, err);
	case DG_DNS53:
		return dg_dns53_connect(fd, d, &dst, sa, len);
	case DG_PROXY:
		break;
	case DG_PASS:
	case DG_FASTOPEN:
		if (d != NULL && !shim_inside)
			dg_unconnect(fd, d);
		errno = saved; /* classifying (the first config load) may have set it */
		return real()->connect(fd, sa, len);
	}
	pthread_mutex_lock(&d->mu);
	err = dg_ready(d, &dst);
	if (err == 0) {
		/* The kernel socket is connected to the relay: it then hears only the
		 * relay, as a connected socket hears only its peer, and send() needs no
		 * address. getpeername shows the peer through the fd registry. */
		if (real()->connect(fd, (struct sockaddr *)&d->relay, d->relaylen) != 0) {
			err = errno;
		} else {
			memset(&d->peer, 0, sizeof(d->peer));
			memcpy(&d->peer, sa, len < sizeof(d->peer) ? len : sizeof(d->peer));
			d->peerlen = len < sizeof(d->peer) ? len : sizeof(d->peer);
			d->peer_dst = dst;
			d->connected = true;
			d->dns.conn = false;
			fdreg_set_tunnel(fd, sa, d->peerlen, (struct sockaddr *)&d->relay,
					 d->relaylen);
		}
	}
	pthread_mutex_unlock(&d->mu);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}


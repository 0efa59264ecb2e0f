/* The datagram family: UDP through the proxy (SOCKS5 UDP ASSOCIATE, RFC 1928 section 7)
 * and TCP Fast Open through the connect path. sendto/sendmsg/sendmmsg/send/write wrap
 * a proxied datagram in the UDP request header and send it from the program's own
 * socket to the relay, so replies land on that socket and poll/epoll readiness stays
 * the kernel's; recvfrom/recvmsg/recvmmsg/recv/read unwrap them and report the real
 * source. Every fd the family does not manage costs one table load, then libc. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "datagram.h"
#include "dial.h"
#include "dns53.h"
#include "errmap.h"
#include "fakedns.h"
#include "log.h"
#include "shim.h"
#include "udp_wire.h"
#include "util.h"

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

/* Through a chain, one header per hop. */
#define DG_HDRS_MAX (DIAL_MAX_HOPS * UDP_WIRE_HDR_MAX)
/* The largest payload a UDP datagram can carry over IPv4 or IPv6. */
#define DG_PAYLOAD_MAX 65535
/* Received datagrams up to this size are unwrapped on the stack. */
#define DG_STACK_BUF 2048
#define DG_IOV_MAX 1024
/* After a failed association set-up, sends fail at once for this long. */
#define DG_RETRY_MS 1000
/* Same cap as fdreg.c for an "unlimited" RLIMIT_NOFILE. */
#define DG_CAP (1u << 20)

/* ---- the real libc calls this family needs ----
 * Kept here rather than in real.c's table so this family can be added (and taken
 * out) without touching the shared table while the connect family changes it. */
struct dg_real {
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	int (*sendmmsg)(int, struct mmsghdr *, unsigned int, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	int (*recvmmsg)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*read)(int, void *, size_t);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*getaddrinfo)(const char *, const char *, const struct addrinfo *,
			   struct addrinfo **);
	void (*freeaddrinfo)(struct addrinfo *);
	long (*syscall)(long, ...);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*recv_chk)(int, void *, size_t, size_t, int);
	ssize_t (*recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *,
				socklen_t *);
	ssize_t (*read_chk)(int, void *, size_t, size_t);
};

/* _FORTIFY_SOURCE builds (all of Debian) call these for a buffer of known size; libc's
 * own then read past our hooks, so they are ours too. */
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
		       struct sockaddr *sa, socklen_t *salen);
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);

static struct dg_real dg_real_table;
static bool dg_resolved; /* set (release) once read/write are resolved: the fast path */
static pthread_once_t dg_real_once = PTHREAD_ONCE_INIT;

static void *dg_sym(const char *name, void *ours)
{
	void *p = dlsym(RTLD_NEXT, name);
	return p == ours && ours != NULL ? NULL : p;
}

static ssize_t dg_enosys(void)
{
	errno = ENOSYS;
	return -1;
}

static ssize_t dg_nosendto(int a, const void *b, size_t c, int d, const struct sockaddr *e,
			   socklen_t f)
{
	return dg_enosys();
}

static void dg_real_resolve(void)
{
	struct dg_real *t = &dg_real_table;

	t->sendto = dg_sym("sendto", (void *)sendto);
	t->sendmsg = dg_sym("sendmsg", (void *)sendmsg);
	t->sendmmsg = dg_sym("sendmmsg", (void *)sendmmsg);
	t->send = dg_sym("send", (void *)send);
	t->write = dg_sym("write", (void *)write);
	t->recvfrom = dg_sym("recvfrom", (void *)recvfrom);
	t->recvmsg = dg_sym("recvmsg", (void *)recvmsg);
	t->recvmmsg = dg_sym("recvmmsg", (void *)recvmmsg);
	t->recv = dg_sym("recv", (void *)recv);
	t->read = dg_sym("read", (void *)read);
	t->connect = dg_sym("connect", (void *)connect);
	t->poll = dg_sym("poll", NULL);
	t->getaddrinfo = dg_sym("getaddrinfo", NULL);
	t->freeaddrinfo = dg_sym("freeaddrinfo", NULL);
	t->syscall = dg_sym("syscall", (void *)syscall);
	t->writev = dg_sym("writev", (void *)writev);
	t->readv = dg_sym("readv", (void *)readv);
	t->recv_chk = dg_sym("__recv_chk", (void *)__recv_chk);
	t->recvfrom_chk = dg_sym("__recvfrom_chk", (void *)__recvfrom_chk);
	t->read_chk = dg_sym("__read_chk", (void *)__read_chk);
	if (t->sendto == NULL)
		t->sendto = dg_nosendto;
	__atomic_store_n(&dg_resolved,
			 t->read != NULL && t->write != NULL && t->readv != NULL && t->writev != NULL &&
				 t->read_chk != NULL,
			 __ATOMIC_RELEASE);
}

static const struct dg_real *dg(void)
{
	pthread_once(&dg_real_once, dg_real_resolve);
	return &dg_real_table;
}

/* The fast path's real read/write: the table's pointer once resolved (the constructor
 * does it), without even pthread_once's call; before that, through dg(). */
static inline const struct dg_real *dg_fast(void)
{
	return __builtin_expect(__atomic_load_n(&dg_resolved, __ATOMIC_ACQUIRE), 1) ? &dg_real_table
										 : dg();
}

/* A fork while another thread holds a socket's lock (setting up its association can
 * take up to connect_timeout) must not leave the child's copy locked forever: the
 * child, with one thread, starts every lock afresh. */
static void dg_atfork_child(void);

__attribute__((constructor)) static void dg_init(void)
{
	dg();
	pthread_atfork(NULL, NULL, dg_atfork_child);
}

/* ---- per-socket state ----
 * One record per fd number, allocated on first use and never freed (a hook of
 * another thread may still hold it while this one closes the fd: it then finds the
 * record inactive or reset, never freed memory). */
struct dgram {
	pthread_mutex_t mu;
	_Atomic bool active;
	/* The socket's identity, to tell it from a number closed past our close() hook
	 * (fclose of an fdopen'd socket, syscall(SYS_close)) and reused. */
	dev_t dev;
	ino_t ino;
	int family;                    /* the socket's: AF_INET or AF_INET6 */
	/* One association per hop: hop k's control connection runs through hops
	 * 0..k-1 (CONNECT) and asks hop k for UDP ASSOCIATE; a datagram carries one
	 * header per hop, the outermost for hop 0's relay. nctl 0: none yet. */
	int ctl[DIAL_MAX_HOPS];        /* internal fds */
	size_t nctl;
	struct socks_addr inner[DIAL_MAX_HOPS]; /* inner[k]: hop k's relay, k >= 1 */
	int err;                       /* the association failed or was lost: this errno */
	bool lost;                     /* it was up and went: sends fail from now on */
	uint64_t retry_ms;             /* a failed set-up is retried from then on */
	struct sockaddr_storage relay; /* hop 0's relay, in the socket's family */
	socklen_t relaylen;
	/* connect()ed to a destination through the proxy: the kernel socket is
	 * connected to the relay, send() goes to peer_dst. */
	bool connected;
	struct sockaddr_storage peer;  /* as the program gave it (getpeername) */
	socklen_t peerlen;
	struct socks_addr peer_dst;    /* what the relay is asked for (a name for a fake) */
	/* The last fake address sent to: a reply from that port is reported as coming
	 * from it, since the relay names the resolved address, not the name. */
	struct sockaddr_storage lastfake;
	socklen_t lastfakelen;
	bool has_lastfake;
	/* Port-53 queries to the system's name servers, answered here (dns53_sock.c). */
	struct dns53_sock dns;
};

static _Atomic(_Atomic(struct dgram *) *) dg_tab;
static size_t dg_cap;
static _Atomic unsigned dg_high; /* one above the highest fd ever registered */
static pthread_once_t dg_tab_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t dg_alloc_mu = PTHREAD_MUTEX_INITIALIZER;

static void dg_tab_alloc(void)
{
	struct rlimit rl;
	size_t n = 1024;
	void *m;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		n = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > DG_CAP ? DG_CAP
									: (size_t)rl.rlim_max;
	if (n < 1024)
		n = 1024;
	m = mmap(NULL, n * sizeof(struct dgram *), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return;
	dg_cap = n;
	atomic_store_explicit(&dg_tab, (_Atomic(struct dgram *) *)m, memory_order_release);
}

/* The active record of fd, or NULL, as the table holds it. */
static struct dgram *dg_lookup(int fd)
{
	_Atomic(struct dgram *) *t = atomic_load_explicit(&dg_tab, memory_order_acquire);
	struct dgram *d;

	if (__builtin_expect(t == NULL, 1) || fd < 0 || (size_t)fd >= dg_cap)
		return NULL;
	d = atomic_load_explicit(&t[fd], memory_order_acquire);
	return d != NULL && atomic_load_explicit(&d->active, memory_order_acquire) ? d : NULL;
}

static void dg_drop_ctl(struct dgram *d);

/* fd is still the socket d was registered for (errno untouched). */
static bool dg_same_socket(int fd, const struct dgram *d)
{
	struct stat st;
	int saved = errno;
	bool same = fstat(fd, &st) == 0 && st.st_ino == d->ino && st.st_dev == d->dev;

	errno = saved;
	return same;
}

/* The active record of fd, or NULL: the one load every hook pays for an fd we do not
 * manage. A managed one is also checked against the kernel (one fstat): a record
 * whose number now holds another file is dropped, its association with it, so a
 * pipe or a new socket there is the program's again. */
static struct dgram *dg_get(int fd)
{
	struct dgram *d = dg_lookup(fd);

	if (__builtin_expect(d == NULL, 1) || dg_same_socket(fd, d))
		return d;
	pthread_mutex_lock(&d->mu);
	if (atomic_load(&d->active) && !dg_same_socket(fd, d)) {
		atomic_store_explicit(&d->active, false, memory_order_release);
		fdreg_set_dgram(fd, false);
		dg_drop_ctl(d);
	}
	dns53_sock_reset(&d->dns);
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

static void dg_atfork_child(void)
{
	_Atomic(struct dgram *) *t = atomic_load_explicit(&dg_tab, memory_order_acquire);
	unsigned hi = atomic_load(&dg_high);

	pthread_mutex_init(&dg_alloc_mu, NULL);
	dns53_fork_child();
	if (t == NULL)
		return;
	for (unsigned fd = 0; fd < hi && fd < dg_cap; fd++) {
		struct dgram *d = atomic_load_explicit(&t[fd], memory_order_relaxed);
		if (d != NULL)
			pthread_mutex_init(&d->mu, NULL);
	}
}

bool dgram_known(int fd)
{
	return dg_get(fd) != NULL;
}

/* Makes fd's record active and fresh; NULL when out of memory or fd out of range. */
static struct dgram *dg_register(int fd, int family)
{
	_Atomic(struct dgram *) *t;
	struct dgram *d;

	pthread_once(&dg_tab_once, dg_tab_alloc);
	t = atomic_load_explicit(&dg_tab, memory_order_acquire);
	if (t == NULL || fd < 0 || (size_t)fd >= dg_cap)
		return NULL;
	pthread_mutex_lock(&dg_alloc_mu);
	if (atomic_load(&dg_high) <= (unsigned)fd)
		atomic_store(&dg_high, (unsigned)fd + 1);
	d = atomic_load_explicit(&t[fd], memory_order_acquire);
	if (d == NULL) {
		d = calloc(1, sizeof(*d));
		if (d != NULL) {
			pthread_mutex_init(&d->mu, NULL);
			d->nctl = 0;
			d->dns.tcp_fd = -1;
			atomic_store_explicit(&t[fd], d, memory_order_release);
		}
	}
	pthread_mutex_unlock(&dg_alloc_mu);
	if (d == NULL)
		return NULL;
	pthread_mutex_lock(&d->mu);
	if (!atomic_load(&d->active)) {
		struct stat st;
		int saved = errno;
		if (fstat(fd, &st) == 0) {
			d->dev = st.st_dev;
			d->ino = st.st_ino;
		}
		errno = saved;
		d->family = family;
		d->nctl = 0;
		d->err = 0;
		d->lost = false;
		d->retry_ms = 0;
		d->relaylen = 0;
		d->connected = false;
		d->has_lastfake = false;
		d->dns = (struct dns53_sock){ .tcp_fd = -1 };
		atomic_store_explicit(&d->active, true, memory_order_release);
		fdreg_set_dgram(fd, true);
	}
	pthread_mutex_unlock(&d->mu);
	return d;
}

/* Closes the control connection (if any); caller holds d->mu. */
static void dg_close_fds(const int *fds, size_t n)
{
	shim_inside++;
	for (size_t k = 0; k < n; k++) {
		fdreg_clear(fds[k]);
		real()->close(fds[k]);
	}
	shim_inside--;
}

static void dg_drop_ctl(struct dgram *d)
{
	dg_close_fds(d->ctl, d->nctl);
	d->nctl = 0;
}

void dgram_forget(int fd)
{
	struct dgram *d = dg_get(fd);

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->mu);
	atomic_store_explicit(&d->active, false, memory_order_release);
	fdreg_set_dgram(fd, false);
	dg_drop_ctl(d);
	dns53_sock_reset(&d->dns);
	pthread_mutex_unlock(&d->mu);
}

void dgram_forget_range(unsigned int first, unsigned int last)
{
	_Atomic(struct dgram *) *t = atomic_load_explicit(&dg_tab, memory_order_acquire);

	if (t == NULL)
		return;
	/* Only up to the high-water mark: a closefrom(3) costs what was used. */
	for (size_t fd = first; fd <= last && fd < atomic_load(&dg_high); fd++)
		if (atomic_load_explicit(&t[fd], memory_order_relaxed) != NULL)
			dgram_forget((int)fd);
}

/* A control fd high up, out of the way of programs that dup2 onto low numbers. */
static int dg_high_fd(int fd)
{
	struct rlimit rl;
	int start = 3, nfd;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur > 64)
		start = (int)(rl.rlim_cur / 2);
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, start);
	if (nfd < 0)
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return fd;
	shim_inside++;
	real()->close(fd);
	shim_inside--;
	return nfd;
}

void dgram_copy(int oldfd, int newfd)
{
	struct dgram *o = dg_get(oldfd), *n;

	if (oldfd == newfd)
		return;
	dgram_forget(newfd);
	if (o == NULL)
		return;
	n = dg_register(newfd, o->family);
	if (n == NULL)
		return;
	/* Each copy holds its own reference to the control connection, so it lives
	 * as long as any copy of the socket does. */
	pthread_mutex_lock(&o->mu);
	pthread_mutex_lock(&n->mu);
	n->nctl = 0;
	for (size_t k = 0; k < o->nctl; k++) {
		int c = fcntl(o->ctl[k], F_DUPFD_CLOEXEC, o->ctl[k]);
		if (c < 0)
			break;
		fdreg_set_internal(c);
		n->ctl[n->nctl++] = c;
	}
	memcpy(n->inner, o->inner, sizeof(n->inner));
	n->err = o->err;
	n->lost = o->lost;
	n->retry_ms = o->retry_ms;
	n->relay = o->relay;
	n->relaylen = o->relaylen;
	n->connected = o->connected;
	n->peer = o->peer;
	n->peerlen = o->peerlen;
	n->peer_dst = o->peer_dst;
	n->has_lastfake = false;
	dns53_sock_copy(&n->dns, &o->dns);
	if (n->nctl < o->nctl) {
		dg_drop_ctl(n);
		if (o->nctl > 0)
			n->err = EMFILE;
	}
	pthread_mutex_unlock(&n->mu);
	pthread_mutex_unlock(&o->mu);
}

/* ---- the association ---- */

static ssize_t dg_io_send(void *ctx, int fd, const void *buf, size_t len, int flags)
{
	return dg()->send(fd, buf, len, flags);
}

static ssize_t dg_io_recv(void *ctx, int fd, void *buf, size_t len, int flags)
{
	return dg()->recv(fd, buf, len, flags);
}

static int dg_io_wait(void *ctx, int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r = dg()->poll(&p, 1, timeout_ms);
	return r > 0 ? p.revents : r;
}

static int dg_io_connect(void *ctx, int fd, const struct sockaddr *sa, socklen_t len)
{
	return dg()->connect(fd, sa, len);
}

static const struct dial_io dg_io = {
	.send = dg_io_send,
	.recv = dg_io_recv,
	.wait = dg_io_wait,
	.connect = dg_io_connect,
};

static bool dg_unspecified(const struct socks_addr *a)
{
	static const uint8_t zero[16];

	if (a->atyp == SOCKS5_ATYP_IPV4)
		return memcmp(a->u.v4, zero, 4) == 0;
	return a->atyp == SOCKS5_ATYP_IPV6 && memcmp(a->u.v6, zero, 16) == 0;
}

/* a as a sockaddr of the socket's family: IPv4 on an AF_INET6 socket as
 * ::ffff:a.b.c.d. 0 when it cannot be expressed (IPv6 on AF_INET, a name). */
static socklen_t dg_sockaddr(const struct socks_addr *a, int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6 && a->atyp == SOCKS5_ATYP_IPV4) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], a->u.v4, 4);
		return sizeof(*s6);
	}
	if ((family == AF_INET && a->atyp == SOCKS5_ATYP_IPV4) ||
	    (family == AF_INET6 && a->atyp == SOCKS5_ATYP_IPV6))
		return addr_to_sockaddr(a, ss);
	return 0;
}

/* The first hop's address: a literal, or the proxy's name resolved with libc's own
 * getaddrinfo (a proxy is never the program's destination: no leak). */
static bool dg_hop0(const struct proxy *p, struct dial_hop *h)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	bool ok = false;

	memset(&h->addr, 0, sizeof(h->addr));
	if (!addr_parse_ip(p->host, &h->addr)) {
		if (dg()->getaddrinfo(p->host, NULL, &hints, &res) != 0 || res == NULL)
			return false;
		ok = addr_from_sockaddr(&h->addr, res->ai_addr, res->ai_addrlen);
		dg()->freeaddrinfo(res);
		if (!ok)
			return false;
	}
	h->addr.port = p->port;
	h->salen = addr_to_sockaddr(&h->addr, &h->sa);
	return h->salen != 0;
}

/* Where hop k's relay is: its BND.ADDR, or where the hop itself was reached when it
 * answers 0.0.0.0 / :: (or a name the hop before would have to resolve). */
static struct socks_addr dg_relay_of(const struct dial *dl, const struct dial_hop *hop)
{
	struct socks_addr r = dl->bound;

	if (dg_unspecified(&r) || r.atyp == SOCKS5_ATYP_DOMAINNAME) {
		uint16_t port = r.port;
		r = hop->addr;
		r.port = port;
	}
	return r;
}

/* Opens hop k's association: a control connection through hops 0..k-1 and UDP
 * ASSOCIATE at hop k. Returns the control fd (its relay in *relay), or -1 with msg
 * and *err set. */
static int dg_associate_hop(const struct dial_hop *hops, size_t k, uint64_t deadline,
			    struct socks_addr *relay, int *err, char *msg, size_t msglen)
{
	/* RFC 1928: all zeros when the client does not know where it will send from. */
	struct socks_addr any = { .atyp = SOCKS5_ATYP_IPV4 };
	struct dial dl;
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
	dial_init(&dl, ctl, hops, k + 1, &any, SOCKS_CMD_UDP_ASSOCIATE, &dg_io, 0);
	shim_inside++;
	rc = dial_run(&dl, deadline);
	shim_inside--;
	if (rc == 0) {
		*relay = dg_relay_of(&dl, &hops[k]);
		return ctl;
	}
	/* Why ENETUNREACH: a proxy without UDP ASSOCIATE (ssh -D, microsocks) means this
	 * network cannot be reached for datagrams at all. */
	if (dl.reply == S5_REP_CMD_NOT_SUPPORTED && dl.fail_hop >= k) {
		snprintf(msg, msglen, "%s (the proxy offers no UDP ASSOCIATE)", dl.msg);
		*err = ENETUNREACH;
	} else {
		str_copy(msg, dl.msg, msglen);
		*err = dl.err ? dl.err : ENETUNREACH;
	}
	dg_close_fds(&ctl, 1);
	return -1;
}

/* Sets up d's associations, one per hop of the chain (all hops in order). Returns 0,
 * or an errno having logged one warn line. Caller holds d->mu. */
static int dg_associate(struct dgram *d, const struct socks_addr *dst)
{
	const struct socksify_conf *c = shim_conf();
	struct dial_hop hops[DIAL_MAX_HOPS];
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
	memset(hops, 0, sizeof(hops));
	for (size_t i = 0; i < n; i++) {
		const struct proxy *p = &c->proxies[i];
		if (p->type != PROXY_SOCKS5) {
			snprintf(msg, sizeof(msg), "hop %zu (%s %s) cannot carry UDP: socks5 only",
				 i + 1, proxy_type_name(p->type), p->host);
			err = ENETUNREACH;
			goto out;
		}
		hops[i].proxy = p;
		if (i == 0) {
			if (!dg_hop0(p, &hops[0])) {
				snprintf(msg, sizeof(msg), "hop 1 (%s): cannot resolve the proxy",
					 p->host);
				err = EHOSTUNREACH;
				goto out;
			}
		} else if (addr_parse_ip(p->host, &hops[i].addr)) {
			hops[i].addr.port = p->port;
		} else {
			hops[i].addr.atyp = SOCKS5_ATYP_DOMAINNAME;
			str_copy(hops[i].addr.u.name, p->host, sizeof(hops[i].addr.u.name));
			hops[i].addr.port = p->port;
		}
	}
	uint64_t deadline = dial_now_ms(&dg_io) + c->connect_timeout_ms;
	d->nctl = 0;
	for (size_t k = 0; k < n; k++) {
		struct socks_addr r;
		int ctl = dg_associate_hop(hops, k, deadline, &r, &err, msg, sizeof(msg));
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
	d->relaylen = dg_sockaddr(&relay, d->family, &d->relay);
	if (d->relaylen == 0) {
		snprintf(msg, sizeof(msg), "the relay %s cannot be reached from this socket",
			 addr_str(&relay, rstr, sizeof(rstr)));
		err = ENETUNREACH;
		dg_drop_ctl(d);
		goto out;
	}
	LOG_INFO("UDP association up (%zu hop%s), relay %s", n, n > 1 ? "s" : "",
		 addr_str(&relay, rstr, sizeof(rstr)));
out:
	if (err != 0) {
		/* A proxy down for a moment must not kill a long-lived socket, nor may a
		 * program sending in a loop hammer it: the next try is a second away. */
		d->err = err;
		d->retry_ms = dial_now_ms(&dg_io) + DG_RETRY_MS;
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
	r = dg()->poll(p, n, 0);
	return r == 0 || (r < 0 && errno == EINTR);
}

static int dg_ready_check(struct dgram *d, const struct socks_addr *dst)
{
	if (d->err != 0) {
		if (d->lost || dial_now_ms(&dg_io) < d->retry_ms)
			return d->err;
		d->err = 0;
	}
	if (d->nctl == 0)
		return dg_associate(d, dst);
	if (!dg_ctl_alive(d->ctl, d->nctl)) {
		char dstr[ADDR_STR_MAX];
		dg_drop_ctl(d);
		d->err = ECONNRESET;
		d->lost = true;
		LOG_WARN("UDP to %s failed: the proxy closed the UDP association",
			 addr_str(dst, dstr, sizeof(dstr)));
		return ECONNRESET;
	}
	return 0;
}

/* Ready to send through d: the association up and alive. Caller holds d->mu.
 * Returns 0 or the errno the send fails with; errno itself is left as it was (the
 * set-up's EINPROGRESS must not show behind a send that succeeds). Inside the shim
 * meanwhile: the warn line goes to fd 2 through our write() hook, and when fd 2 is
 * this very socket (a daemon with stderr closed) that must not take d->mu again. */
static int dg_ready(struct dgram *d, const struct socks_addr *dst)
{
	int saved = errno, err;

	shim_inside++;
	err = dg_ready_check(d, dst);
	shim_inside--;
	errno = saved;
	return err;
}

/* ---- policy ---- */

enum dg_policy {
	DG_PASS,     /* libc, untouched */
	DG_PROXY,    /* wrapped, to the relay */
	DG_REFUSE,   /* fail with *err, nothing sent */
	DG_FASTOPEN, /* TCP Fast Open: through connect(), then send */
	DG_DNS53,    /* a query to a name server of resolv.conf: answered here */
};

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
 * Then *dp is the socket's record (NULL when none could be made). */
static bool dg_dns53(int fd, const struct sockaddr *sa, const struct socks_addr *dst,
		     struct dgram **dp)
{
	int type = SOCK_DGRAM, family = *dp != NULL ? (*dp)->family : dg_socket_family(fd, &type);

	if (type != SOCK_DGRAM || family != sa->sa_family || !dns53_wanted(dst, type))
		return false;
	if (*dp == NULL)
		*dp = dg_register(fd, family);
	return true;
}

/* Classifies a datagram (or UDP connect) to sa. *dp: the socket's record as the caller
 * looked it up (dg_get), or NULL. On DG_PROXY *dst is what the relay is asked for and
 * *dp the socket's record. */
static enum dg_policy dg_classify(int fd, const struct sockaddr *sa, socklen_t len, int flags,
				  struct socks_addr *dst, int *err, struct dgram **dp)
{
	const struct socksify_conf *c;
	struct socks_addr name;
	struct dgram *d = *dp;
	int family, type = 0;

	if (shim_inside || sa == NULL || len < sizeof(sa_family_t))
		return DG_PASS;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return DG_PASS;
	if (!addr_from_sockaddr(dst, sa, len))
		return DG_PASS;
	if (dst->port == 53 && (d == NULL || d->dns.tcp_fd < 0) && dg_dns53(fd, sa, dst, dp))
		return *dp != NULL ? DG_DNS53 : (*err = ENOMEM, DG_REFUSE);
	if (addr_is_loopback(dst) || dg_unspecified(dst))
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
	c = shim_conf();
	if (c == NULL) {
		*err = ENETUNREACH;
		return DG_REFUSE;
	}
	if (c->udp == UDP_DIRECT)
		return DG_PASS;
	bool named = fakedns_name(dst, &name);
	if (!named && fakedns_is_fake(dst)) {
		*err = EHOSTUNREACH;
		return DG_REFUSE;
	}
	if (rules_match(c->block, c->nblock, dst) ||
	    (named && rules_match(c->block, c->nblock, &name))) {
		*err = EACCES;
		return DG_REFUSE;
	}
	if (rules_match(c->direct, c->ndirect, dst) ||
	    (named && rules_match(c->direct, c->ndirect, &name)))
		return DG_PASS;
	if (chain_is_proxy_addr(dst))
		return DG_PASS;
	if (c->udp == UDP_BLOCK) {
		*err = EPERM;
		return DG_REFUSE;
	}
	if (named)
		*dst = name;
	if (d == NULL)
		d = dg_register(fd, family);
	if (d == NULL) {
		*err = ENOMEM;
		return DG_REFUSE;
	}
	*dp = d;
	return DG_PROXY;
}

/* One warn line per refusal reason and process (every one at info level): a program
 * retrying every second must not flood the log. */
static int dg_refuse(int fd, const struct socks_addr *dst, int err)
{
	static _Atomic int warned_block, warned_other;
	char a[ADDR_STR_MAX];
	_Atomic int *w = err == EPERM ? &warned_block : &warned_other;

	if (atomic_exchange(w, 1) == 0 || log_enabled(LOG_INFO))
		LOG_WARN("UDP to %s refused: %s", addr_str(dst, a, sizeof(a)),
			 err == EPERM    ? "udp = block"
			 : err == EACCES ? "a block rule matches"
			 : err == EHOSTUNREACH ? "a fake DNS address with no name"
					       : "the socksify configuration is invalid");
	errno = err;
	return -1;
}

/* ---- sending ---- */

/* Wraps msg's payload for dst and sends it to the relay from fd itself. */
static ssize_t dg_send_wrapped(int fd, struct dgram *d, const struct socks_addr *dst,
			       const struct sockaddr *orig, socklen_t origlen,
			       const struct msghdr *msg, int flags)
{
	uint8_t hdr[DG_HDRS_MAX];
	struct socks_addr inner[DIAL_MAX_HOPS];
	struct iovec iov[DG_IOV_MAX + 1];
	struct sockaddr_storage relay;
	socklen_t relaylen;
	struct msghdr m;
	ssize_t hl, n;
	int err;

	if (msg->msg_iovlen > DG_IOV_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	pthread_mutex_lock(&d->mu);
	err = dg_ready(d, dst);
	relay = d->relay;
	relaylen = d->relaylen;
	size_t nh = d->nctl;
	memcpy(inner, d->inner, sizeof(inner));
	if (err == 0 && orig != NULL && dst->atyp == SOCKS5_ATYP_DOMAINNAME &&
	    origlen <= sizeof(d->lastfake)) {
		memcpy(&d->lastfake, orig, origlen);
		d->lastfakelen = origlen;
		d->has_lastfake = true;
	}
	pthread_mutex_unlock(&d->mu);
	if (err != 0) {
		errno = err;
		return -1;
	}
	hl = udp_wire_wrap(hdr, sizeof(hdr), inner, nh, dst);
	if (hl < 0) {
		errno = EINVAL;
		return -1;
	}
	iov[0].iov_base = hdr;
	iov[0].iov_len = (size_t)hl;
	if (msg->msg_iovlen > 0)
		memcpy(&iov[1], msg->msg_iov, msg->msg_iovlen * sizeof(struct iovec));
	m = (struct msghdr){
		.msg_name = &relay,
		.msg_namelen = relaylen,
		.msg_iov = iov,
		.msg_iovlen = msg->msg_iovlen + 1,
		.msg_control = msg->msg_control,
		.msg_controllen = msg->msg_controllen,
	};
	n = dg()->sendmsg(fd, &m, flags);
	if (n < 0)
		return -1;
	return n >= hl ? n - hl : 0;
}

/* TCP Fast Open on an unconnected stream socket: the connect path (tunnel, direct
 * or refused, as connect() decides), then the data, sent once. */
static ssize_t dg_fastopen(int fd, const struct msghdr *msg, int flags)
{
	struct msghdr m = *msg;

	if (connect(fd, msg->msg_name, msg->msg_namelen) != 0)
		return -1;
	m.msg_name = NULL;
	m.msg_namelen = 0;
	return dg()->sendmsg(fd, &m, flags & ~MSG_FASTOPEN);
}

/* A query to a name server on port 53 (DG_DNS53, or a socket connected to one):
 * answered to the socket itself. */
static ssize_t dg_dns53_send(int fd, struct dgram *d, const struct socks_addr *server,
			     const struct msghdr *msg, int flags)
{
	uint8_t out[DNS53_DGRAM_MAX];
	struct sockaddr_storage self;
	socklen_t selflen;
	int saved = errno;
	size_t total = 0;

	for (size_t i = 0; i < msg->msg_iovlen; i++)
		total += msg->msg_iov[i].iov_len;
	pthread_mutex_lock(&d->mu);
	ssize_t n = dns53_udp_query(fd, &d->dns, server, msg, out);
	self = d->dns.self;
	selflen = d->dns.selflen;
	pthread_mutex_unlock(&d->mu);
	if (n == DNS53_ERROR)
		return -1;
	if (n == DNS53_FORWARD) /* the real server's to answer: as the program sent it */
		return dg()->sendmsg(fd, msg, flags);
	/* To itself: the receive path unwraps it and names the server. Lost like any
	 * datagram if the socket's queue is full. */
	if (n > 0)
		dg()->sendto(fd, out, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL,
			     (struct sockaddr *)&self, selflen);
	errno = saved;
	return (ssize_t)total;
}

/* A write on a TCP connection to a name server: its queries answered. */
static ssize_t dg_dns53_tcp_write(struct dgram *d, const struct msghdr *msg)
{
	pthread_mutex_lock(&d->mu);
	ssize_t n = dns53_tcp_write(&d->dns, msg);
	pthread_mutex_unlock(&d->mu);
	return n;
}

/* Every send hook ends here with a msghdr (msg_name may be NULL) and fd's record as
 * it looked it up (d, NULL for none: one dg_get per call). */
static ssize_t dg_sendmsg(int fd, struct dgram *d, const struct msghdr *msg, int flags)
{
	struct socks_addr dst;
	int err = 0, saved = errno;

	if (d != NULL && d->dns.tcp_fd >= 0 && !shim_inside)
		return dg_dns53_tcp_write(d, msg);
	switch (dg_classify(fd, msg->msg_name, msg->msg_namelen, flags, &dst, &err, &d)) {
	case DG_DNS53:
		return dg_dns53_send(fd, d, &dst, msg, flags);
	case DG_PROXY:
		return dg_send_wrapped(fd, d, &dst, msg->msg_name, msg->msg_namelen, msg, flags);
	case DG_REFUSE:
		return dg_refuse(fd, &dst, err);
	case DG_FASTOPEN:
		return dg_fastopen(fd, msg, flags);
	case DG_PASS:
		break;
	}
	if (msg->msg_name == NULL && d != NULL && !shim_inside) {
		/* No address on a socket we manage: its connected peer, if that goes
		 * through the proxy. */
		pthread_mutex_lock(&d->mu);
		bool conn = d->connected, dns = d->dns.conn;
		dst = d->connected ? d->peer_dst : d->dns.server;
		pthread_mutex_unlock(&d->mu);
		if (conn)
			return dg_send_wrapped(fd, d, &dst, NULL, 0, msg, flags);
		if (dns)
			return dg_dns53_send(fd, d, &dst, msg, flags);
	}
	errno = saved; /* classifying (the first config load) may have set it */
	return dg()->sendmsg(fd, msg, flags);
}

static ssize_t dg_send_buf(int fd, struct dgram *d, const void *buf, size_t len, int flags,
			   const struct sockaddr *sa, socklen_t salen)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr m = {
		.msg_name = (void *)sa, .msg_namelen = salen, .msg_iov = &iov, .msg_iovlen = 1
	};
	return dg_sendmsg(fd, d, &m, flags);
}

/* ---- receiving ---- */

static bool dg_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

static uint16_t dg_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

/* The source to report for a datagram the relay says came from a. */
static socklen_t dg_source(struct dgram *d, const struct socks_addr *a,
			   struct sockaddr_storage *ss)
{
	struct socks_addr fake;
	socklen_t len = 0;

	pthread_mutex_lock(&d->mu);
	if (d->connected && d->peer_dst.port == a->port) {
		/* A connected socket hears only its peer: report it as connect() gave it
		 * (a fake address for a name). */
		memcpy(ss, &d->peer, d->peerlen);
		len = d->peerlen;
	} else if (a->atyp != SOCKS5_ATYP_DOMAINNAME && d->has_lastfake &&
		   dg_port(&d->lastfake) == a->port) {
		memcpy(ss, &d->lastfake, d->lastfakelen);
		len = d->lastfakelen;
	}
	pthread_mutex_unlock(&d->mu);
	if (len != 0)
		return len;
	if (a->atyp == SOCKS5_ATYP_DOMAINNAME) {
		if (!fakedns_addr_for_name(a->u.name, d->family, a->port, &fake))
			return 0;
		return dg_sockaddr(&fake, d->family, ss);
	}
	return dg_sockaddr(a, d->family, ss);
}

/* Copies n bytes from src into the iovecs (as far as they reach). */
static void dg_scatter(const uint8_t *src, size_t n, const struct iovec *iov, size_t iovlen)
{
	for (size_t i = 0; i < iovlen && n > 0; i++) {
		size_t k = iov[i].iov_len < n ? iov[i].iov_len : n;
		if (k > 0)
			memcpy(iov[i].iov_base, src, k);
		src += k;
		n -= k;
	}
}

static void dg_set_name(struct msghdr *msg, const struct sockaddr_storage *ss, socklen_t len)
{
	if (msg->msg_name == NULL)
		return;
	memcpy(msg->msg_name, ss, len < msg->msg_namelen ? len : msg->msg_namelen);
	msg->msg_namelen = len;
}

/* recvmsg on a socket we manage: datagrams from the relay unwrapped, others as they
 * are. The datagram lands in a bounce buffer big enough for the header too, so one
 * recvmsg still takes exactly one datagram. */
static ssize_t dg_recvmsg(int fd, struct dgram *d, struct msghdr *msg, int flags)
{
	uint8_t stackbuf[DG_STACK_BUF + DG_HDRS_MAX], *buf = stackbuf;
	struct sockaddr_storage src, relay, from;
	struct socks_addr a;
	size_t total = 0, cap, have, used = 0, payload;
	ssize_t n, ret = -1;

	if (flags & MSG_ERRQUEUE) /* queued errors carry no datagram of the relay's */
		return dg()->recvmsg(fd, msg, flags);
	if (d->dns.tcp_fd >= 0) /* a TCP connection to a name server: as it is */
		return dg()->recvmsg(fd, msg, flags);
	for (size_t i = 0; i < msg->msg_iovlen; i++)
		total += msg->msg_iov[i].iov_len;
	cap = (total < DG_PAYLOAD_MAX ? total : DG_PAYLOAD_MAX) + DG_HDRS_MAX;
	if (cap > sizeof(stackbuf)) {
		buf = malloc(cap);
		if (buf == NULL) {
			errno = ENOMEM;
			return -1;
		}
	}
	pthread_mutex_lock(&d->mu);
	relay = d->relay;
	bool assoc = d->relaylen != 0;
	size_t nh = d->nctl, hops;
	struct dns53_sock dns = d->dns; /* its self address: where our answers come from */
	pthread_mutex_unlock(&d->mu);
	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = cap };
		struct msghdr m = {
			.msg_name = &src, .msg_namelen = sizeof(src),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = msg->msg_control, .msg_controllen = msg->msg_controllen,
		};
		n = dg()->recvmsg(fd, &m, flags);
		if (n < 0)
			goto out;
		have = (size_t)n < cap ? (size_t)n : cap;
		msg->msg_controllen = m.msg_controllen;
		msg->msg_flags = m.msg_flags & ~MSG_TRUNC;
		if (assoc && m.msg_namelen != 0 && dg_same_addr(&src, &relay))
			hops = nh;
		else if (dns53_is_self(&dns, &src, m.msg_namelen))
			hops = 1; /* our answer, naming the server */
		else
			hops = 0;
		if (hops == 0) {
			/* Not from the relay (a direct peer): as libc would give it. */
			dg_scatter(buf, have, msg->msg_iov, msg->msg_iovlen);
			if ((size_t)n > total)
				msg->msg_flags |= MSG_TRUNC;
			dg_set_name(msg, &src, m.msg_namelen);
			ret = (flags & MSG_TRUNC) ? n : (ssize_t)((size_t)n < total ? (size_t)n : total);
			goto out;
		}
		if (udp_wire_unwrap(buf, have, hops, &used, &a))
			break;
		/* A fragment or garbage from the relay: dropped. Consume it if we peeked. */
		if (flags & MSG_PEEK)
			dg()->recv(fd, buf, 1, (flags & ~MSG_PEEK) | MSG_DONTWAIT);
	}
	payload = (size_t)n - used;
	dg_scatter(buf + used, have - used, msg->msg_iov, msg->msg_iovlen);
	if (payload > total)
		msg->msg_flags |= MSG_TRUNC;
	if (msg->msg_name != NULL) {
		socklen_t fl = dg_source(d, &a, &from);
		if (fl == 0) {
			memset(&from, 0, sizeof(from));
			from.ss_family = (sa_family_t)d->family;
			fl = d->family == AF_INET6 ? sizeof(struct sockaddr_in6)
						   : sizeof(struct sockaddr_in);
		}
		dg_set_name(msg, &from, fl);
	}
	ret = (flags & MSG_TRUNC) ? (ssize_t)payload
				  : (ssize_t)(payload < total ? payload : total);
out:
	if (buf != stackbuf)
		free(buf);
	return ret;
}

static ssize_t dg_recv_buf(int fd, struct dgram *d, void *buf, size_t len, int flags,
			   struct sockaddr *sa, socklen_t *salen)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr m = {
		.msg_name = salen != NULL ? sa : NULL,
		.msg_namelen = salen != NULL ? *salen : 0,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	ssize_t n = dg_recvmsg(fd, d, &m, flags);

	if (n >= 0 && salen != NULL && sa != NULL)
		*salen = m.msg_namelen;
	return n;
}

/* ---- connect on a UDP socket ---- */

/* To a name server: the kernel socket connected to itself (dns53.h); getpeername
 * shows the server through the fd registry. */
static int dg_dns53_connect(int fd, struct dgram *d, const struct socks_addr *server,
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

bool dgram_dns53_connect(int fd, const struct sockaddr *sa, socklen_t len, int *rc)
{
	struct socks_addr dst;
	struct dgram *d;
	int type = 0, family;

	if (shim_inside || sa == NULL || len < sizeof(sa_family_t) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    !addr_from_sockaddr(&dst, sa, len) || dst.port != 53)
		return false;
	family = dg_socket_family(fd, &type);
	if (type != SOCK_STREAM || family != sa->sa_family || !dns53_wanted(&dst, type))
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
	if (*rc != 0)
		dgram_forget(fd);
	return true;
}

int dgram_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct socks_addr dst;
	struct dgram *d;
	int err = 0, saved = errno;

	if (sa != NULL && len >= sizeof(sa_family_t) && sa->sa_family == AF_UNSPEC) {
		/* Dissolves the association's peer; the association itself stays. */
		d = dg_get(fd);
		if (d != NULL) {
			pthread_mutex_lock(&d->mu);
			d->connected = false;
			d->dns.conn = false;
			pthread_mutex_unlock(&d->mu);
			fdreg_clear(fd);
		}
		return dg()->connect(fd, sa, len);
	}
	d = dg_get(fd);
	switch (dg_classify(fd, sa, len, 0, &dst, &err, &d)) {
	case DG_REFUSE:
		return dg_refuse(fd, &dst, err);
	case DG_DNS53:
		return dg_dns53_connect(fd, d, &dst, sa, len);
	case DG_PROXY:
		break;
	case DG_PASS:
	case DG_FASTOPEN:
		if (d != NULL && !shim_inside) {
			pthread_mutex_lock(&d->mu);
			d->connected = false;
			d->dns.conn = false;
			pthread_mutex_unlock(&d->mu);
			fdreg_clear(fd);
		}
		errno = saved; /* classifying (the first config load) may have set it */
		return dg()->connect(fd, sa, len);
	}
	pthread_mutex_lock(&d->mu);
	err = dg_ready(d, &dst);
	if (err == 0) {
		/* The kernel socket is connected to the relay: it then hears only the
		 * relay, as a connected socket hears only its peer, and send() needs no
		 * address. getpeername shows the peer through the fd registry. */
		if (dg()->connect(fd, (struct sockaddr *)&d->relay, d->relaylen) != 0) {
			err = errno;
		} else {
			memset(&d->peer, 0, sizeof(d->peer));
			memcpy(&d->peer, sa, len < sizeof(d->peer) ? len : sizeof(d->peer));
			d->peerlen = len < sizeof(d->peer) ? len : sizeof(d->peer);
			d->peer_dst = dst;
			d->connected = true;
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

/* ---- the exported hooks: one table load, then libc for every fd we do not manage ---- */

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			   const struct sockaddr *sa, socklen_t salen)
{
	struct dgram *d = dg_get(fd);

	if (sa == NULL && d == NULL)
		return dg()->sendto(fd, buf, len, flags, sa, salen);
	return dg_send_buf(fd, d, buf, len, flags, sa, salen);
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct dgram *d = msg != NULL ? dg_get(fd) : NULL;

	if (msg == NULL || (msg->msg_name == NULL && d == NULL))
		return dg()->sendmsg(fd, msg, flags);
	return dg_sendmsg(fd, d, msg, flags);
}

SHIM_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	unsigned int i;
	struct dgram *d;

	if (vec == NULL || shim_inside)
		return dg()->sendmmsg(fd, vec, vlen, flags);
	d = dg_get(fd);
	if (d == NULL) {
		/* No address anywhere in the batch and a socket we do not manage: one
		 * syscall, as the program meant. */
		for (i = 0; i < vlen && vec[i].msg_hdr.msg_name == NULL; i++)
			;
		if (i == vlen)
			return dg()->sendmmsg(fd, vec, vlen, flags);
	}
	for (i = 0; i < vlen; i++) {
		if (i > 0 && d == NULL) /* the first may have made it a socket we manage */
			d = dg_lookup(fd);
		ssize_t n = dg_sendmsg(fd, d, &vec[i].msg_hdr, flags);
		if (n < 0)
			return i > 0 ? (int)i : -1;
		vec[i].msg_len = (unsigned int)n;
	}
	return (int)i;
}

SHIM_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct dgram *d = dg_get(fd);

	if (d == NULL)
		return dg()->send(fd, buf, len, flags);
	return dg_send_buf(fd, d, buf, len, flags, NULL, 0);
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	struct dgram *d = dg_get(fd);

	if (__builtin_expect(d == NULL, 1))
		return dg_fast()->write(fd, buf, len);
	return dg_send_buf(fd, d, buf, len, 0, NULL, 0);
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *sa,
			     socklen_t *salen)
{
	struct dgram *d = dg_get(fd);

	if (d == NULL || shim_inside)
		return dg()->recvfrom(fd, buf, len, flags, sa, salen);
	return dg_recv_buf(fd, d, buf, len, flags, sa, salen);
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct dgram *d = dg_get(fd);

	if (d == NULL || shim_inside || msg == NULL)
		return dg()->recvmsg(fd, msg, flags);
	return dg_recvmsg(fd, d, msg, flags);
}

SHIM_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
			 struct timespec *timeout)
{
	struct dgram *d = dg_get(fd);
	unsigned int i;

	if (d == NULL || shim_inside || vec == NULL)
		return dg()->recvmmsg(fd, vec, vlen, flags, timeout);
	/* The first datagram as the flags say; the rest only while they are already
	 * queued (as with MSG_WAITFORONE). The timeout is not applied. */
	for (i = 0; i < vlen; i++) {
		int f = flags & ~MSG_WAITFORONE;
		if (i > 0)
			f |= MSG_DONTWAIT;
		ssize_t n = dg_recvmsg(fd, d, &vec[i].msg_hdr, f);
		if (n < 0)
			return i > 0 ? (int)i : -1;
		vec[i].msg_len = (unsigned int)n;
	}
	return (int)i;
}

SHIM_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	struct dgram *d = dg_get(fd);

	if (d == NULL || shim_inside)
		return dg()->recv(fd, buf, len, flags);
	return dg_recv_buf(fd, d, buf, len, flags, NULL, NULL);
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	struct dgram *d = dg_get(fd);

	if (__builtin_expect(d == NULL, 1) || shim_inside)
		return dg_fast()->read(fd, buf, len);
	return dg_recv_buf(fd, d, buf, len, 0, NULL, NULL);
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n > 0 ? (size_t)n : 0 };
	struct dgram *d = dg_get(fd);

	if (__builtin_expect(d == NULL, 1) || n < 0)
		return dg_fast()->writev(fd, iov, n);
	return dg_sendmsg(fd, d, &m, 0);
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
	struct dgram *d = dg_get(fd);
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n > 0 ? (size_t)n : 0 };

	if (__builtin_expect(d == NULL, 1) || shim_inside || n < 0)
		return dg_fast()->readv(fd, iov, n);
	return dg_recvmsg(fd, d, &m, 0);
}

/* The _chk forms: a length beyond the buffer goes to libc's, which reports the
 * overflow as it would have; anything else is the plain call. */
SHIM_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	struct dgram *d = dg_get(fd);

	if (d == NULL || shim_inside || len > buflen)
		return dg()->recv_chk(fd, buf, len, buflen, flags);
	return dg_recv_buf(fd, d, buf, len, flags, NULL, NULL);
}

SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
				   struct sockaddr *sa, socklen_t *salen)
{
	struct dgram *d = dg_get(fd);

	if (d == NULL || shim_inside || len > buflen)
		return dg()->recvfrom_chk(fd, buf, len, buflen, flags, sa, salen);
	return dg_recv_buf(fd, d, buf, len, flags, sa, salen);
}

SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	struct dgram *d = dg_get(fd);

	if (__builtin_expect(d == NULL, 1) || shim_inside || len > buflen)
		return dg_fast()->read_chk(fd, buf, len, buflen);
	return dg_recv_buf(fd, d, buf, len, 0, NULL, NULL);
}

/* libuv (and so BIND 9's dig) calls sendmmsg/recvmmsg through syscall(2), past the
 * libc wrappers: the datagram calls made that way come to the hooks above, and a
 * syscall(SYS_connect) to connect(). Every other number goes to libc's syscall()
 * untouched. */
SHIM_EXPORT long syscall(long nr, ...)
{
	va_list ap;
	long a[6];

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	switch (nr) {
	case SYS_connect:
		/* Not a datagram call, but the same escape: the connect family decides. */
		return connect((int)a[0], (const struct sockaddr *)a[1], (socklen_t)a[2]);
	case SYS_sendmmsg:
		return sendmmsg((int)a[0], (struct mmsghdr *)a[1], (unsigned int)a[2], (int)a[3]);
	case SYS_recvmmsg:
		return recvmmsg((int)a[0], (struct mmsghdr *)a[1], (unsigned int)a[2], (int)a[3],
				(struct timespec *)a[4]);
	case SYS_sendmsg:
		return sendmsg((int)a[0], (const struct msghdr *)a[1], (int)a[2]);
	case SYS_recvmsg:
		return recvmsg((int)a[0], (struct msghdr *)a[1], (int)a[2]);
	case SYS_sendto:
		return sendto((int)a[0], (const void *)a[1], (size_t)a[2], (int)a[3],
			      (const struct sockaddr *)a[4], (socklen_t)a[5]);
	case SYS_recvfrom:
		return recvfrom((int)a[0], (void *)a[1], (size_t)a[2], (int)a[3],
				(struct sockaddr *)a[4], (socklen_t *)a[5]);
	default:
		if (dg()->syscall == NULL) {
			errno = ENOSYS;
			return -1;
		}
		return dg()->syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	}
}

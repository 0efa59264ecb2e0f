/* The supervisor's workers: each one waits for a notification, handles it and
 * answers it, so a slow handshake for one thread never holds up another (Go runs
 * many). The pool starts with two and grows whenever the last idle worker takes a
 * notification. Every notification received is answered, whatever happens: a
 * program thread left waiting would hang.
 *
 * What we do, per call:
 * - connect() of an inet socket: we read the address from the program's memory
 *   (process_vm_readv), check the notification is still live (the thread may have
 *   died and its id been reused: SECCOMP_IOCTL_NOTIF_ID_VALID), take the socket
 *   (pidfd_getfd) and make the connection ourselves on that same socket, whatever the
 *   decision: through the chain, to our DNS responder, or as asked. The kernel is
 *   never told to continue with an address in memory the program could change after
 *   we looked. A non-blocking socket is answered 0 once the tunnel is up (not
 *   EINPROGRESS): the program then sees a connected socket, which every caller of a
 *   non-blocking connect() accepts, and the handshake never has to be driven from the
 *   program's own poll loop.
 *   Sockets of other families continue in the kernel (a Unix path must resolve in
 *   the program's own root and cwd): their fate does not depend on the address.
 * - sendto() with a destination (the filter lets the others through), sendmsg() and
 *   sendmmsg() with a msg_name, on a datagram socket: the same decision; what passes
 *   is sent by us from a copy of the program's buffers, a query to a name server is
 *   answered by our responder, the rest refused.
 * - io_uring_setup never gets here: the filter answers ENOSYS itself. */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addr.h"
#include "supervise.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
/* Linux 6.6: wake the waiting thread on our CPU as we answer (and us as it calls),
 * instead of through the scheduler's queues: the round trip of every connect. */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

#define SV_WORKERS_START 1
#define SV_WORKERS_MAX 256
#define SV_DGRAM_MAX 65535
#define SV_IOV_MAX 64
#define SV_CONTROL_MAX 4096
#define SV_MMSG_MAX 1024

struct pool {
	struct sv *s;
	struct seccomp_notif_sizes sz;
	atomic_int idle, total;
};

/* One notification being handled. */
struct call {
	struct sv *s;
	const struct seccomp_notif *n;
	int pidfd, fd;       /* -1 until taken */
	int domain, type;    /* of the program's socket */
};

/* ---- the program's memory and fds ---- */

static bool mem_read(const struct call *c, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};

	if (len == 0)
		return true;
	return process_vm_readv((pid_t)c->n->pid, &local, 1, &remote, 1, 0) == (ssize_t)len;
}

static bool mem_write(const struct call *c, uint64_t addr, const void *buf, size_t len)
{
	struct iovec local = {.iov_base = (void *)buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	return process_vm_writev((pid_t)c->n->pid, &local, 1, &remote, 1, 0) == (ssize_t)len;
}

/* The notifying thread is still in that system call: what we read is its, and the
 * pidfd we opened is its process. */
static bool still_valid(const struct call *c)
{
	uint64_t id = c->n->id;
	return ioctl(c->s->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

static int tgid_of(pid_t tid)
{
	char path[64], line[128];
	int tgid = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

/* Takes the program's socket fdnum: 0, or an errno (EBADF: no such fd). */
static int take_fd(struct call *c, uint64_t fdnum)
{
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)c->n->pid, PIDFD_THREAD);
	if (pidfd < 0 && errno == EINVAL) {
		int tgid = tgid_of((pid_t)c->n->pid);
		pidfd = tgid > 0 ? (int)syscall(SYS_pidfd_open, (pid_t)tgid, 0) : -1;
	}
	if (pidfd < 0)
		return ESRCH;
	c->pidfd = pidfd;
	if (!still_valid(c))
		return ESRCH;
	if (fdnum > INT32_MAX)
		return EBADF;
	int fd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)fdnum, 0);
	if (fd < 0)
		return errno == EBADF ? EBADF : errno;
	c->fd = fd;
	socklen_t ol = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &c->domain, &ol) != 0)
		c->domain = -1; /* not a socket */
	ol = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &c->type, &ol) != 0)
		c->type = -1;
	return 0;
}

static bool is_inet(const struct call *c)
{
	return c->domain == AF_INET || c->domain == AF_INET6;
}

/* ---- answers ---- */

static void answer(struct seccomp_notif_resp *r, long val)
{
	r->flags = 0;
	if (val < 0) {
		r->error = (int32_t)val;
		r->val = 0;
	} else {
		r->error = 0;
		r->val = val;
	}
}

static void answer_continue(struct seccomp_notif_resp *r)
{
	r->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	r->error = 0;
	r->val = 0;
}

/* quiet: a datagram connect() (Go connects UDP sockets to every candidate address
 * to sort them, RFC 6724, and sends nothing): only -v says so. */
static void log_refusal(const struct sv *s, const struct socks_addr *dst, bool stream, bool quiet,
			int err)
{
	static atomic_bool warned_udp;
	char a[ADDR_STR_MAX];

	if (s->conf->log_level < (quiet ? LOG_INFO : LOG_WARN))
		return;
	if (!stream && atomic_exchange(&warned_udp, true) && s->conf->log_level < LOG_INFO)
		return;
	fprintf(stderr, "socksify: supervisor: %s to %s refused: %s\n",
		stream ? "connect" : "datagram", addr_str(dst, a, sizeof(a)), strerror(err));
}

/* ---- connect ---- */

static bool v6only(int fd)
{
	int v = 0;
	socklen_t ol = sizeof(v);
	return getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, &ol) == 0 && v;
}

/* connect(2) on our copy of the socket: 0 or -errno, as the program's call would. */
static long do_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return connect(fd, sa, len) == 0 ? 0 : -errno;
}

static long connect_inet(struct call *c, const struct sockaddr_storage *ss, socklen_t len)
{
	struct socks_addr dst;
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	bool stream = c->type == SOCK_STREAM;
	int err = 0;

	if ((c->type != SOCK_STREAM && c->type != SOCK_DGRAM) || ss->ss_family != c->domain ||
	    !addr_from_sockaddr(&dst, (const struct sockaddr *)ss, len))
		return do_connect(c->fd, (const struct sockaddr *)ss, len); /* the kernel's answer */
	/* A second connect() on a connected stream: the kernel's own EISCONN. */
	if (stream && getpeername(c->fd, (struct sockaddr *)&peer, &pl) == 0)
		return -EISCONN;
	switch (sv_route(c->s, stream, &dst, &err)) {
	case SV_DNS: {
		struct sockaddr_storage dns;
		socklen_t dl;
		if (!sv_dns_start(c->s) ||
		    !sv_dns_addr(c->s, stream, c->domain, v6only(c->fd), &dns, &dl))
			return -ENETUNREACH;
		return do_connect(c->fd, (struct sockaddr *)&dns, dl);
	}
	case SV_PASS: {
		struct sockaddr_storage relay;
		socklen_t rl;
		if (dst.atyp == SOCKS5_ATYP_DOMAINNAME)
			return -sv_connect_name(c->s, c->fd, c->domain, &dst);
		if (stream && sv_jail_proxy(c->s, &dst, c->fd, c->domain, &relay, &rl))
			return do_connect(c->fd, (struct sockaddr *)&relay, rl);
		return do_connect(c->fd, (const struct sockaddr *)ss, len);
	}
	case SV_REFUSE:
		log_refusal(c->s, &dst, stream, !stream, err);
		return -err;
	case SV_PROXY:
		break;
	}
	err = stream ? sv_chain_connect(c->s, c->fd, c->domain, &dst)
		     : sv_udp_connect(c->s, c->fd, c->domain, &dst);
	if (err && c->s->conf->log_level >= LOG_WARN) {
		char a[ADDR_STR_MAX];
		fprintf(stderr, "socksify: supervisor: connect to %s failed: %s\n",
			addr_str(&dst, a, sizeof(a)), strerror(err));
	}
	return -err;
}

static void on_connect(struct call *c, struct seccomp_notif_resp *r)
{
	const __u64 *a = c->n->data.args;
	struct sockaddr_storage ss = {0};
	socklen_t len = (socklen_t)(a[2] > sizeof(ss) ? sizeof(ss) : a[2]);
	int err;

	/* No address to read: nothing the program can change under us. */
	if (a[1] == 0 || a[2] < sizeof(sa_family_t)) {
		answer_continue(r);
		return;
	}
	if (!mem_read(c, a[1], &ss, len)) {
		answer(r, -EFAULT);
		return;
	}
	/* take_fd checks that the call is still pending after it opened the pidfd:
	 * then what we just read was that thread's memory (one check, not two, on
	 * the path every connect takes). */
	if ((err = take_fd(c, a[0])) != 0) {
		answer(r, -err);
		return;
	}
	if (!is_inet(c)) {
		answer_continue(r);
		return;
	}
	answer(r, connect_inet(c, &ss, len));
}

/* ---- datagrams with a destination ---- */

struct dgram {
	struct sockaddr_storage name;
	socklen_t namelen;
	uint8_t *data;
	size_t len;
	uint8_t control[SV_CONTROL_MAX];
	size_t controllen;
	int flags;
};

/* Copies the program's iovecs (remote, already read) into d->data. */
static long read_payload(const struct call *c, const struct iovec *iov, size_t niov,
			 struct dgram *d)
{
	size_t total = 0;
	for (size_t i = 0; i < niov; i++)
		total += iov[i].iov_len;
	if (total > SV_DGRAM_MAX)
		return -EMSGSIZE;
	d->data = malloc(total ? total : 1);
	if (!d->data)
		return -ENOMEM;
	d->len = 0;
	for (size_t i = 0; i < niov; i++) {
		if (!mem_read(c, (uintptr_t)iov[i].iov_base, d->data + d->len, iov[i].iov_len))
			return -EFAULT;
		d->len += iov[i].iov_len;
	}
	return 0;
}

/* A query for a name server: answered by our responder straight into the program's
 * socket, as if the server had (the answer comes from our loopback port, which a
 * resolver that checks the source of an unconnected socket's answers ignores: glibc
 * and musl connect, or are steered to TCP, see supervise.c). */
static long dgram_dns(struct call *c, const struct dgram *d)
{
	struct sockaddr_storage me;
	socklen_t ml = sizeof(me);
	uint8_t *ans = malloc(SV_DGRAM_MAX);
	int from = c->domain == AF_INET6 && c->s->dns_udp6 >= 0 ? c->s->dns_udp6 : c->s->dns_udp4;
	long rc = (long)d->len;

	if (!ans)
		return -ENOMEM;
	if (getsockname(c->fd, (struct sockaddr *)&me, &ml) != 0) {
		rc = -errno;
		goto out;
	}
	if ((me.ss_family == AF_INET && ((struct sockaddr_in *)&me)->sin_port == 0) ||
	    (me.ss_family == AF_INET6 && ((struct sockaddr_in6 *)&me)->sin6_port == 0)) {
		/* Unbound: bind it as the kernel's send would have (any address, a port). */
		struct sockaddr_storage any = {.ss_family = me.ss_family};
		if (bind(c->fd, (struct sockaddr *)&any, ml) != 0 ||
		    getsockname(c->fd, (struct sockaddr *)&me, &ml) != 0) {
			rc = -errno;
			goto out;
		}
	}
	/* An unspecified local address means "this host": loopback reaches it. */
	if (me.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&me;
		if (in->sin_addr.s_addr == 0)
			in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&me;
		if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
			in6->sin6_addr = in6addr_loopback;
		if (from == c->s->dns_udp4) {
			rc = -ENETUNREACH; /* an IPv6 socket and no IPv6 loopback */
			goto out;
		}
	}
	size_t alen = sv_dns_answer(c->s, d->data, d->len, ans, SV_DGRAM_MAX, true);
	if (alen && from >= 0)
		sendto(from, ans, alen, MSG_DONTWAIT, (struct sockaddr *)&me, ml);
out:
	free(ans);
	return rc;
}

/* The decision for one datagram to d->name, and the send. Bytes sent or -errno. */
static long dgram_send(struct call *c, struct dgram *d)
{
	struct socks_addr dst;
	int err = 0;

	if (!addr_from_sockaddr(&dst, (struct sockaddr *)&d->name, d->namelen) ||
	    d->name.ss_family != c->domain)
		goto send; /* the kernel's answer (EAFNOSUPPORT, EINVAL) */
	switch (sv_route(c->s, false, &dst, &err)) {
	case SV_DNS:
		return dgram_dns(c, d);
	case SV_REFUSE:
		log_refusal(c->s, &dst, false, false, err);
		return -err;
	case SV_PROXY:
		/* Only a connected socket is relayed (supervise_udp.c). */
		log_refusal(c->s, &dst, false, false, ENETUNREACH);
		return -ENETUNREACH;
	case SV_PASS:
		break;
	}
send:;
	struct iovec iov = {.iov_base = d->data, .iov_len = d->len};
	struct msghdr m = {.msg_name = &d->name, .msg_namelen = d->namelen, .msg_iov = &iov,
			   .msg_iovlen = 1, .msg_control = d->controllen ? d->control : NULL,
			   .msg_controllen = d->controllen};
	ssize_t n = sendmsg(c->fd, &m, d->flags | MSG_NOSIGNAL);
	return n < 0 ? -errno : n;
}

/* Reads a program msghdr's name, iovecs and control into d. 0 or -errno. */
static long read_msghdr(const struct call *c, const struct msghdr *pm, struct dgram *d)
{
	struct iovec iov[SV_IOV_MAX];

	if (pm->msg_iovlen > SV_IOV_MAX)
		return -EMSGSIZE;
	if (pm->msg_controllen > SV_CONTROL_MAX)
		return -ENOBUFS;
	d->namelen = pm->msg_namelen > sizeof(d->name) ? sizeof(d->name) : pm->msg_namelen;
	if (!mem_read(c, (uintptr_t)pm->msg_name, &d->name, d->namelen) ||
	    !mem_read(c, (uintptr_t)pm->msg_iov, iov, pm->msg_iovlen * sizeof(iov[0])) ||
	    !mem_read(c, (uintptr_t)pm->msg_control, d->control, pm->msg_controllen))
		return -EFAULT;
	d->controllen = pm->msg_controllen;
	return read_payload(c, iov, pm->msg_iovlen, d);
}

static void on_sendto(struct call *c, struct seccomp_notif_resp *r)
{
	const __u64 *a = c->n->data.args;
	struct dgram d = {.flags = (int)a[3]};
	int err;

	if ((err = take_fd(c, a[0])) != 0) {
		answer(r, -err);
		return;
	}
	/* A stream ignores the address unless it is TCP Fast Open's connect. */
	if (!is_inet(c) || (c->type == SOCK_STREAM && !(d.flags & MSG_FASTOPEN))) {
		answer_continue(r);
		return;
	}
	if (c->type == SOCK_STREAM) {
		/* Fast Open: connect as connect() would, then send in the clear. */
		struct sockaddr_storage ss = {0};
		socklen_t len = (socklen_t)(a[5] > sizeof(ss) ? sizeof(ss) : a[5]);
		struct iovec iov = {.iov_base = (void *)(uintptr_t)a[1], .iov_len = a[2]};
		long rc;
		if (!mem_read(c, a[4], &ss, len) || (rc = read_payload(c, &iov, 1, &d)) != 0) {
			answer(r, -EFAULT);
			free(d.data);
			return;
		}
		if (still_valid(c)) {
			rc = connect_inet(c, &ss, len);
			if (rc == 0) {
				ssize_t n = send(c->fd, d.data, d.len, (d.flags & ~MSG_FASTOPEN) | MSG_NOSIGNAL);
				rc = n < 0 ? -errno : n;
			}
			answer(r, rc);
		}
		free(d.data);
		return;
	}
	d.namelen = (socklen_t)(a[5] > sizeof(d.name) ? sizeof(d.name) : a[5]);
	struct iovec iov = {.iov_base = (void *)(uintptr_t)a[1], .iov_len = a[2]};
	long rc = mem_read(c, a[4], &d.name, d.namelen) ? read_payload(c, &iov, 1, &d) : -EFAULT;
	if (rc == 0 && !still_valid(c))
		goto out;
	answer(r, rc < 0 ? rc : dgram_send(c, &d));
out:
	free(d.data);
}

static void on_sendmsg(struct call *c, struct seccomp_notif_resp *r)
{
	const __u64 *a = c->n->data.args;
	struct msghdr pm;
	struct dgram *d;
	int err;

	if (!mem_read(c, a[1], &pm, sizeof(pm))) {
		answer(r, -EFAULT);
		return;
	}
	/* No destination: the socket's own peer, which we chose at connect(). */
	if (pm.msg_name == NULL || pm.msg_namelen == 0) {
		answer_continue(r);
		return;
	}
	if ((err = take_fd(c, a[0])) != 0) {
		answer(r, -err);
		return;
	}
	if (!is_inet(c) || c->type == SOCK_STREAM) {
		if (c->type == SOCK_STREAM && (a[2] & MSG_FASTOPEN))
			answer(r, -EOPNOTSUPP); /* Fast Open through sendmsg: not carried */
		else
			answer_continue(r);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		answer(r, -ENOMEM);
		return;
	}
	d->flags = (int)a[2];
	long rc = read_msghdr(c, &pm, d);
	if (rc == 0 && !still_valid(c))
		goto out;
	answer(r, rc < 0 ? rc : dgram_send(c, d));
out:
	free(d->data);
	free(d);
}

/* sendmmsg with a destination in any message: we send the first one (a short count
 * is what sendmmsg may always return) and the program sends the rest again. */
static void on_sendmmsg(struct call *c, struct seccomp_notif_resp *r)
{
	const __u64 *a = c->n->data.args;
	size_t vlen = a[2] > SV_MMSG_MAX ? SV_MMSG_MAX : a[2];
	struct mmsghdr *v;
	struct dgram *d = NULL;
	bool named = false;
	int err;

	if (vlen == 0) {
		answer_continue(r);
		return;
	}
	v = malloc(vlen * sizeof(*v));
	if (!v || !mem_read(c, a[1], v, vlen * sizeof(*v))) {
		answer(r, v ? -EFAULT : -ENOMEM);
		free(v);
		return;
	}
	for (size_t i = 0; i < vlen && !named; i++)
		named = v[i].msg_hdr.msg_name != NULL && v[i].msg_hdr.msg_namelen != 0;
	if (!named) {
		answer_continue(r);
		goto out;
	}
	if ((err = take_fd(c, a[0])) != 0) {
		answer(r, -err);
		goto out;
	}
	if (!is_inet(c) || c->type == SOCK_STREAM) {
		answer_continue(r);
		goto out;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		answer(r, -ENOMEM);
		goto out;
	}
	d->flags = (int)a[3];
	long rc;
	if (v[0].msg_hdr.msg_name == NULL) {
		/* The first has no name but a later one does: send the first as is. */
		rc = read_msghdr(c, &v[0].msg_hdr, d);
		if (rc == 0) {
			struct iovec iov = {.iov_base = d->data, .iov_len = d->len};
			struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
					   .msg_control = d->controllen ? d->control : NULL,
					   .msg_controllen = d->controllen};
			ssize_t n = sendmsg(c->fd, &m, d->flags | MSG_NOSIGNAL);
			rc = n < 0 ? -errno : n;
		}
	} else {
		rc = read_msghdr(c, &v[0].msg_hdr, d);
		if (rc == 0 && !still_valid(c))
			goto out;
		if (rc == 0)
			rc = dgram_send(c, d);
	}
	if (rc >= 0) {
		unsigned len = (unsigned)rc;
		mem_write(c, a[1] + offsetof(struct mmsghdr, msg_len), &len, sizeof(len));
		rc = 1;
	}
	answer(r, rc);
out:
	if (d)
		free(d->data);
	free(d);
	free(v);
}

/* ---- the pool ---- */

static void handle(struct sv *s, const struct seccomp_notif *n, struct seccomp_notif_resp *r)
{
	struct call c = {.s = s, .n = n, .pidfd = -1, .fd = -1, .domain = -1, .type = -1};

	/* Default: an error, so no path leaves the call to the kernel by accident. */
	answer(r, -ENOSYS);
	switch (n->data.nr) {
	case SYS_connect:
		on_connect(&c, r);
		break;
	case SYS_sendto:
		on_sendto(&c, r);
		break;
	case SYS_sendmsg:
		on_sendmsg(&c, r);
		break;
	case SYS_sendmmsg:
		on_sendmmsg(&c, r);
		break;
	default:
		break;
	}
	if (c.fd >= 0)
		close(c.fd);
	if (c.pidfd >= 0)
		close(c.pidfd);
}

static void *worker(void *arg);

static bool filter_gone(int listener)
{
	struct pollfd pfd = {.fd = listener, .events = 0};
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR));
}

static void spawn(struct pool *p)
{
	if (atomic_fetch_add(&p->total, 1) >= SV_WORKERS_MAX ||
	    !sv_spawn(worker, p, 256 * 1024))
		atomic_fetch_sub(&p->total, 1);
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct seccomp_notif *n = malloc(p->sz.seccomp_notif);
	struct seccomp_notif_resp *r = malloc(p->sz.seccomp_notif_resp);

	while (n && r) {
		memset(n, 0, p->sz.seccomp_notif);
		atomic_fetch_add(&p->idle, 1);
		int rc = ioctl(p->s->listener, SECCOMP_IOCTL_NOTIF_RECV, n);
		int e = errno;
		/* The last idle worker took one: start another for the next. */
		if (atomic_fetch_sub(&p->idle, 1) == 1)
			spawn(p);
		if (rc != 0) {
			/* ENOENT: the notifying thread died before we took it, or no
			 * process carries the filter any more (then RECV fails at once,
			 * every time: this worker is done). */
			if (e == EINTR || (e == ENOENT && !filter_gone(p->s->listener)))
				continue;
			break;
		}
		memset(r, 0, p->sz.seccomp_notif_resp);
		r->id = n->id;
		handle(p->s, n, r);
		/* ENOENT: the thread is gone (killed), nothing to answer. */
		ioctl(p->s->listener, SECCOMP_IOCTL_NOTIF_SEND, r);
	}
	free(n);
	free(r);
	atomic_fetch_sub(&p->total, 1);
	return NULL;
}

bool sv_notif_start(struct sv *s)
{
	static struct pool pool;

	pool.s = s;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &pool.sz) != 0)
		return false;
	if (pool.sz.seccomp_notif < sizeof(struct seccomp_notif))
		pool.sz.seccomp_notif = sizeof(struct seccomp_notif);
	if (pool.sz.seccomp_notif_resp < sizeof(struct seccomp_notif_resp))
		pool.sz.seccomp_notif_resp = sizeof(struct seccomp_notif_resp);
	ioctl(s->listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
	for (int i = 0; i < SV_WORKERS_START; i++)
		spawn(&pool);
	return atomic_load(&pool.total) > 0;
}

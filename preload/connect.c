/* The connect() hook: a real_connect pointer (real.c), a policy that classifies each
 * call as pass-through, tunnel or refuse, and a thin exported wrapper. Only TCP over
 * IPv4/IPv6 is tunnelled; everything else reaches libc after one look at the
 * address family (and, for inet addresses, the socket type). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/time.h>

#include "addr.h"
#include "async.h"
#include "conf.h"
#include "datagram.h"
#include "fakedns.h"
#include "log.h"
#include "shim.h"

enum connect_policy {
	CONNECT_PASS,    /* libc's connect, untouched */
	CONNECT_TUNNEL,  /* through the chain, on this very fd */
	CONNECT_REFUSE,  /* fail with *err, nothing sent anywhere */
	CONNECT_DATAGRAM, /* a UDP socket: the datagram family decides (dgram_assoc.c) */
	CONNECT_ALREADY, /* an asynchronous handshake is under way on this fd (async.c) */
};

/* What the socket is: PASS for anything but an inet stream socket of sa's family (or
 * a datagram one); *family set for a stream one. */
static enum connect_policy connect_socket(int fd, const struct sockaddr *sa,
					  const struct socks_addr *dst, int *family)
{
	int type = 0;
	socklen_t ol = sizeof(int);

	/* A second connect() on a tunnelled fd gets the kernel's own answer (EISCONN);
	 * a stale record (the number reused behind our back) is dropped by fdreg_peer. */
	if (fdreg_kind(fd) == FD_INTERNAL)
		return CONNECT_PASS;
	if (fdreg_kind(fd) == FD_TUNNEL) {
		struct sockaddr_storage k, ss;
		socklen_t kl = sizeof(k), sl;
		if (real()->getpeername(fd, (struct sockaddr *)&k, &kl) == 0 &&
		    fdreg_peer(fd, (struct sockaddr *)&k, &ss, &sl))
			return CONNECT_PASS;
		fdreg_clear(fd);
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ol) != 0)
		return CONNECT_PASS;
	if (type == SOCK_DGRAM)
		return CONNECT_DATAGRAM;
	if (type != SOCK_STREAM)
		return CONNECT_PASS;
	ol = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, family, &ol) != 0 ||
	    (*family != AF_INET && *family != AF_INET6) || *family != sa->sa_family)
		return CONNECT_PASS; /* a family mismatch: let the kernel say EAFNOSUPPORT */
	if (sa->sa_family == AF_INET6 && dst->atyp == SOCKS5_ATYP_IPV4) {
		/* A mapped address on an IPV6_V6ONLY socket: the kernel refuses it
		 * (ENETUNREACH) without sending anything, so let it. */
		int v6only = 0;
		ol = sizeof(v6only);
		if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol) == 0 && v6only)
			return CONNECT_PASS;
	}
	return CONNECT_TUNNEL;
}

/* Classifies a connect to sa; for TUNNEL and REFUSE, r holds the decision (r->dst:
 * what the last hop is asked for). */
static enum connect_policy connect_classify(int fd, const struct sockaddr *sa, socklen_t len,
					    int *family, struct route *r)
{
	struct socks_addr dst;
	enum connect_policy p;

	if (shim_inside || sa == NULL || len < sizeof(sa_family_t))
		return CONNECT_PASS;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return CONNECT_PASS;
	if (shim_inert())
		return CONNECT_PASS;
	if (!addr_from_sockaddr(&dst, sa, len))
		return CONNECT_PASS;
	if (fdreg_kind(fd) == FD_CONNECTING) {
		bool pending;
		if (async_connect_again(fd, &pending) != 0 && pending)
			return CONNECT_ALREADY;
	}
	p = connect_socket(fd, sa, &dst, family);
	if (p != CONNECT_TUNNEL)
		return p;
	shim_route(&dst, ROUTE_TCP, r);
	switch (r->verdict) {
	case ROUTE_PASS:
		return CONNECT_PASS;
	case ROUTE_REFUSE:
		r->dst = dst; /* the log names what the program asked for */
		return CONNECT_REFUSE;
	case ROUTE_PROXY:
		break;
	}
	return CONNECT_TUNNEL;
}

static int connect_tunnel(int fd, const struct sockaddr *sa, socklen_t len, int family,
			  const struct socks_addr *dst)
{
	struct sockaddr_storage via;
	socklen_t vialen = 0;
	int err, saved = errno;
	int fl = fcntl(fd, F_GETFL);
	struct timeval snd = { 0, 0 };
	socklen_t sl = sizeof(snd);
	bool taken;

	if (fl >= 0 && (fl & O_NONBLOCK)) {
		/* The program's own event loop waits for the tunnel (async.c). */
		int rc = async_connect(fd, sa, len, family, dst, &taken);
		if (taken)
			return rc;
	} else if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, &sl) == 0 &&
		   (snd.tv_sec > 0 || snd.tv_usec > 0)) {
		/* A send timeout bounds a blocking connect, as the kernel's would. */
		uint64_t ms = (uint64_t)snd.tv_sec * 1000 + ((uint64_t)snd.tv_usec + 999) / 1000;
		int rc = async_connect_timed(fd, sa, len, family, dst,
					     ms > 3600000 ? 3600000 : (unsigned)ms, &taken);
		if (taken)
			return rc;
	}
	shim_inside++;
	err = chain_connect(fd, family, dst, &via, &vialen, shim_dial_flags());
	shim_inside--;
	if (err != 0) {
		errno = err;
		return -1;
	}
	fdreg_set_tunnel(fd, sa, len, (struct sockaddr *)&via, vialen);
	/* The handshake's own EINPROGRESS/EAGAIN stay inside: a direct connect that
	 * succeeds leaves errno alone. */
	errno = saved;
	return 0;
}

static int connect_refuse(const struct socks_addr *dst, enum route_reason why, int err)
{
	char a[ADDR_STR_MAX];

	LOG_WARN("connect to %s refused: %s", addr_str(dst, a, sizeof(a)), route_reason_str(why));
	errno = err;
	return -1;
}

int shim_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct route r;
	int family = 0, saved = errno, rc;

	/* TCP to a name server's port 53: answered inside the library. */
	if (dgram_dns53_connect(fd, sa, len, &rc))
		return rc;
	/* A UDP socket already through the proxy: a new peer must not reach the
	 * kernel directly (it would be a direct destination). */
	if (dgram_known(fd))
		return dgram_connect(fd, sa, len);
	switch (connect_classify(fd, sa, len, &family, &r)) {
	case CONNECT_DATAGRAM:
		return dgram_connect(fd, sa, len);
	case CONNECT_TUNNEL:
		return connect_tunnel(fd, sa, len, family, &r.dst);
	case CONNECT_REFUSE:
		return connect_refuse(&r.dst, r.reason, r.err);
	case CONNECT_ALREADY:
		errno = EALREADY;
		return -1;
	case CONNECT_PASS:
		break;
	}
	/* Classifying (getsockopt, the first config load) may have set errno: libc's
	 * connect must be what the program sees. */
	errno = saved;
	return real()->connect(fd, sa, len);
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return shim_connect(fd, sa, len);
}

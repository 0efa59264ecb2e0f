/* sxbench: the load generator and target behind scripts/bench/run.sh. One small binary,
 * one mode per measurement: a target server (sink, source, echo, query, hold), a SOCKS5
 * client for bulk, connection-rate, idle-session and handshake runs, and plain connect
 * loops to run under preload shims. Self-contained on purpose: it measures our code, so
 * it must not share our codecs. Every loop is bounded in count and every socket in time. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ (1 << 20)
#define IO_TIMEOUT_S 10
#define MAX_CONC 1024

/* Target protocol: the first byte a client sends picks the service. */
enum tgt_cmd {
	TGT_UPLOAD = 'U',   /* sink everything until EOF */
	TGT_DOWNLOAD = 'D', /* 8-byte big-endian count follows; send that many bytes */
	TGT_ECHO = 'E',     /* echo until EOF */
	TGT_HOLD = 'H',     /* answer one byte, then hold until EOF */
	TGT_QUERY = 'Q',    /* 1-byte length L, L bytes; echo them and close first */
};

/* Why the last stream of this thread failed: the idle-session test reports how a server
 * at its limit turns clients away (a SOCKS reply is the clean way). */
enum why_failed { WHY_NONE, WHY_CONNECT, WHY_REPLY, WHY_CLOSED, WHY_TIMEOUT, WHY__N };
static __thread enum why_failed last_why;

struct opts {
	const char *proxy;  /* host:port, NULL = direct */
	const char *target; /* host:port */
	const char *auth;   /* user:pass or NULL */
	unsigned long n, conc, bytes, req;
	bool up, pipelined;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool parse_num(const char *s, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *s == '-')
		return false;
	/* k/M/G suffixes so the driver can say -n 1G */
	switch (*end) {
	case 'k': v <<= 10; end++; break;
	case 'M': v <<= 20; end++; break;
	case 'G': v <<= 30; end++; break;
	}
	if (*end)
		return false;
	*out = v;
	return true;
}

/* "A.B.C.D:P" or "[v6]:P" into a sockaddr; numeric only, the bench never resolves. */
static bool parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon = strrchr(s, ':');
	unsigned long port;
	if (!colon || (size_t)(colon - s) >= sizeof(host) || !parse_num(colon + 1, &port) ||
	    port > 65535)
		return false;
	memcpy(host, s, colon - s);
	host[colon - s] = 0;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		size_t hl = strlen(host);
		if (hl < 2 || host[hl - 1] != ']')
			return false;
		host[hl - 1] = 0;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	*len = sizeof(*s4);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

static bool read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t r = recv(fd, p, len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			last_why = r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? WHY_TIMEOUT :
											WHY_CLOSED;
			return false;
		}
		p += r;
		len -= (size_t)r;
	}
	return true;
}

static int tcp_connect(const struct sockaddr_storage *ss, socklen_t len, bool nodelay)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	set_timeouts(fd);
	if (nodelay) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (connect(fd, (const struct sockaddr *)ss, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Builds greeting [+ auth] + CONNECT for dst; returns the length. Sizes are fixed by
 * RFC 1928/1929 and the 255-byte user/password limit, so 600 bytes always suffice. */
static size_t s5_build(unsigned char *b, const struct sockaddr_storage *dst, const char *auth,
		       size_t *greet_len, size_t *auth_len)
{
	size_t n = 0;
	b[n++] = 5;
	b[n++] = 1;
	b[n++] = auth ? 2 : 0;
	*greet_len = n;
	if (auth) {
		const char *colon = strchr(auth, ':');
		size_t ul = colon ? (size_t)(colon - auth) : strlen(auth);
		const char *pw = colon ? colon + 1 : "";
		size_t pl = strlen(pw);
		if (ul > 255)
			ul = 255;
		if (pl > 255)
			pl = 255;
		b[n++] = 1;
		b[n++] = (unsigned char)ul;
		memcpy(b + n, auth, ul);
		n += ul;
		b[n++] = (unsigned char)pl;
		memcpy(b + n, pw, pl);
		n += pl;
	}
	*auth_len = n - *greet_len;
	b[n++] = 5;
	b[n++] = 1; /* CONNECT */
	b[n++] = 0;
	if (dst->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)dst;
		b[n++] = 4;
		memcpy(b + n, &s6->sin6_addr, 16);
		n += 16;
		memcpy(b + n, &s6->sin6_port, 2);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)dst;
		b[n++] = 1;
		memcpy(b + n, &s4->sin_addr, 4);
		n += 4;
		memcpy(b + n, &s4->sin_port, 2);
	}
	return n + 2;
}

/* Reads a CONNECT reply whole (its length depends on ATYP); false unless REP = 0. */
static bool s5_read_reply(int fd)
{
	unsigned char h[4], rest[262];
	size_t len;
	if (!read_all(fd, h, 4))
		return false;
	if (h[0] != 5 || h[1] != 0) {
		last_why = WHY_REPLY;
		return false;
	}
	switch (h[3]) {
	case 1: len = 4 + 2; break;
	case 4: len = 16 + 2; break;
	case 3:
		if (!read_all(fd, rest, 1))
			return false;
		len = (size_t)rest[0] + 2;
		break;
	default: return false;
	}
	return read_all(fd, rest, len);
}

/* The SOCKS5 exchange as an ordinary client does it (one round trip per step), or
 * pipelined (everything in one write, then every reply). */
static bool s5_handshake(int fd, const struct sockaddr_storage *dst, const char *auth,
			 bool pipelined)
{
	unsigned char b[600], r[2];
	size_t gl, al, n = s5_build(b, dst, auth, &gl, &al);
	last_why = WHY_CLOSED;
	if (pipelined) {
		if (!write_all(fd, b, n) || !read_all(fd, r, 2))
			return false;
		if (r[0] != 5 || r[1] != (auth ? 2 : 0))
			return last_why = WHY_REPLY, false;
		if (auth && !read_all(fd, r, 2))
			return false;
		if (auth && r[1] != 0)
			return last_why = WHY_REPLY, false;
		return s5_read_reply(fd);
	}
	if (!write_all(fd, b, gl) || !read_all(fd, r, 2))
		return false;
	if (r[0] != 5 || r[1] != (auth ? 2 : 0))
		return last_why = WHY_REPLY, false;
	if (auth && (!write_all(fd, b + gl, al) || !read_all(fd, r, 2)))
		return false;
	if (auth && r[1] != 0)
		return last_why = WHY_REPLY, false;
	return write_all(fd, b + gl + al, n - gl - al) && s5_read_reply(fd);
}

struct endpoints {
	struct sockaddr_storage proxy, target;
	socklen_t proxy_len, target_len;
	bool via_proxy;
};

static bool endpoints_init(struct endpoints *ep, const struct opts *o)
{
	memset(ep, 0, sizeof(*ep));
	if (!o->target || !parse_hostport(o->target, &ep->target, &ep->target_len)) {
		fprintf(stderr, "sxbench: need -t HOST:PORT\n");
		return false;
	}
	ep->via_proxy = o->proxy && strcmp(o->proxy, "-") != 0;
	if (ep->via_proxy && !parse_hostport(o->proxy, &ep->proxy, &ep->proxy_len)) {
		fprintf(stderr, "sxbench: bad -s %s\n", o->proxy);
		return false;
	}
	return true;
}

/* A connected stream to the target, through the proxy when there is one. */
static int open_stream(const struct endpoints *ep, const struct opts *o, bool nodelay)
{
	last_why = WHY_CONNECT;
	if (!ep->via_proxy)
		return tcp_connect(&ep->target, ep->target_len, nodelay);
	int fd = tcp_connect(&ep->proxy, ep->proxy_len, true);
	if (fd < 0)
		return -1;
	if (!s5_handshake(fd, &ep->target, o->auth, o->pipelined)) {
		close(fd);
		return -1;
	}
	if (!nodelay) {
		int zero = 0;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &zero, sizeof(zero));
	}
	return fd;
}

static double cpu_self_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* User time alone: over veth the kernel charges softirq work of the receiving side to
 * whoever sends, so system time is noisy, while a shim's own code shows up as user time. */
static double ucpu_self_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
}

/* ---- target ---- */

static void *target_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned char cmd, *buf = NULL;
	ssize_t r;
	if (recv(fd, &cmd, 1, 0) != 1)
		goto out;
	switch (cmd) {
	case TGT_UPLOAD:
		if (!(buf = malloc(BUFSZ)))
			goto out;
		while ((r = recv(fd, buf, BUFSZ, 0)) > 0 || (r < 0 && errno == EINTR))
			;
		break;
	case TGT_DOWNLOAD: {
		unsigned char nb[8];
		uint64_t left = 0;
		if (!read_all(fd, nb, 8) || !(buf = calloc(1, BUFSZ)))
			goto out;
		for (int i = 0; i < 8; i++)
			left = left << 8 | nb[i];
		while (left > 0) {
			size_t chunk = left < BUFSZ ? left : BUFSZ;
			if (!write_all(fd, buf, chunk))
				goto out;
			left -= chunk;
		}
		shutdown(fd, SHUT_WR);
		/* wait for the client's close so the byte count is the client's to judge */
		while ((r = recv(fd, nb, sizeof(nb), 0)) > 0)
			;
		break;
	}
	case TGT_ECHO: {
		unsigned char eb[4096];
		while ((r = recv(fd, eb, sizeof(eb), 0)) > 0)
			if (!write_all(fd, eb, (size_t)r))
				break;
		break;
	}
	case TGT_QUERY: {
		/* The target closes first, as an HTTP/1.0 server would, so TIME_WAIT lands on
		 * its listening port and not on the ephemeral ports of the server under test:
		 * thousands of connections a second would otherwise exhaust them (Dante binds
		 * before connecting, so it cannot reuse a TIME_WAIT port, and failed). */
		unsigned char len, q[255];
		if (read_all(fd, &len, 1) && read_all(fd, q, len))
			write_all(fd, q, len);
		break;
	}
	case TGT_HOLD:
		if (write_all(fd, &cmd, 1))
			while ((r = recv(fd, &cmd, 1, 0)) > 0)
				;
		break;
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

/* Thread per connection: the target's own CPU is never what is measured, and holding
 * 10,000 idle sessions costs only small stacks. */
static int run_target(const char *listen_addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	pthread_attr_t attr;
	int one = 1, lfd;
	if (!parse_hostport(listen_addr, &ss, &len)) {
		fprintf(stderr, "sxbench target: bad address %s\n", listen_addr);
		return 2;
	}
	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, len) < 0 || listen(lfd, 4096) < 0) {
		perror("sxbench target");
		return 2;
	}
	len = sizeof(ss);
	getsockname(lfd, (struct sockaddr *)&ss, &len);
	printf("port %u\n", ntohs(ss.ss_family == AF_INET6 ?
					  ((struct sockaddr_in6 *)&ss)->sin6_port :
					  ((struct sockaddr_in *)&ss)->sin_port));
	fflush(stdout);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		pthread_t t;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				usleep(1000);
			continue;
		}
		set_timeouts(fd);
		/* idle sessions must outlive the I/O timeout: only bulk and echo use it */
		struct timeval tv = { .tv_sec = 600 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (pthread_create(&t, &attr, target_conn, (void *)(intptr_t)fd) != 0)
			close(fd);
	}
}

/* ---- client modes ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int run_bulk(const struct opts *o)
{
	struct endpoints ep;
	unsigned char *buf = NULL;
	unsigned char hdr[9];
	uint64_t moved = 0;
	double t0, t1, c0, u0;
	int fd = -1, rc = 1;
	if (!endpoints_init(&ep, o) || !(buf = calloc(1, BUFSZ)))
		goto out;
	c0 = cpu_self_s();
	u0 = ucpu_self_s();
	t0 = now_s();
	if ((fd = open_stream(&ep, o, false)) < 0) {
		fprintf(stderr, "sxbench bulk: cannot open the stream: %s\n", strerror(errno));
		goto out;
	}
	if (o->up) {
		hdr[0] = TGT_UPLOAD;
		if (!write_all(fd, hdr, 1))
			goto out;
		while (moved < o->bytes) {
			size_t chunk = o->bytes - moved < BUFSZ ? o->bytes - moved : BUFSZ;
			if (!write_all(fd, buf, chunk))
				goto out;
			moved += chunk;
		}
		/* done when the far end has it all: half-close and wait for its close */
		shutdown(fd, SHUT_WR);
		while (recv(fd, buf, BUFSZ, 0) > 0)
			;
	} else {
		ssize_t r;
		hdr[0] = TGT_DOWNLOAD;
		for (int i = 0; i < 8; i++)
			hdr[1 + i] = (unsigned char)(o->bytes >> (56 - 8 * i));
		if (!write_all(fd, hdr, 9))
			goto out;
		while (moved < o->bytes && ((r = recv(fd, buf, BUFSZ, 0)) > 0 ||
					    (r < 0 && errno == EINTR)))
			moved += r > 0 ? (uint64_t)r : 0;
	}
	t1 = now_s();
	if (moved != o->bytes) {
		fprintf(stderr, "sxbench bulk: moved %" PRIu64 " of %lu bytes\n", moved, o->bytes);
		goto out;
	}
	printf("bytes %" PRIu64 " secs %.6f cpu %.6f ucpu %.6f\n", moved, t1 - t0, cpu_self_s() - c0,
	       ucpu_self_s() - u0);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

struct conn_job {
	const struct endpoints *ep;
	const struct opts *o;
	unsigned long count, fails;
	double *lat; /* seconds per connection, count of them */
};

/* One connection of the rate test: CONNECT, a small request, its answer, the far
 * end's close, our close. */
static void *conn_worker(void *arg)
{
	struct conn_job *j = arg;
	unsigned char req[258], resp[256];
	size_t pl = j->o->req < 255 ? j->o->req : 255;
	memset(req, 'x', sizeof(req));
	req[0] = TGT_QUERY;
	req[1] = (unsigned char)pl;
	for (unsigned long i = 0; i < j->count; i++) {
		double t0 = now_s();
		int fd = open_stream(j->ep, j->o, true);
		if (fd < 0 || !write_all(fd, req, pl + 2) || !read_all(fd, resp, pl) ||
		    recv(fd, resp, 1, 0) != 0)
			j->fails++;
		if (fd >= 0)
			close(fd);
		j->lat[i] = now_s() - t0;
	}
	return NULL;
}

static int run_conns(const struct opts *o)
{
	struct endpoints ep;
	struct conn_job jobs[MAX_CONC];
	pthread_t th[MAX_CONC];
	unsigned long conc = o->conc ? o->conc : 1, fails = 0, done = 0;
	double t0, t1, *lat = calloc(o->n + 1, sizeof(*lat));
	if (!lat || !endpoints_init(&ep, o) || conc > MAX_CONC)
		return 1;
	t0 = now_s();
	for (unsigned long i = 0; i < conc; i++) {
		jobs[i] = (struct conn_job){ &ep, o, o->n / conc + (i < o->n % conc), 0, lat + done };
		done += jobs[i].count;
		if (pthread_create(&th[i], NULL, conn_worker, &jobs[i]) != 0)
			return 1;
	}
	for (unsigned long i = 0; i < conc; i++) {
		pthread_join(th[i], NULL);
		fails += jobs[i].fails;
	}
	t1 = now_s();
	/* tail latency shows stalls (lost wake-ups, retransmits) that a rate hides */
	qsort(lat, o->n, sizeof(*lat), cmp_double);
	printf("conns %lu fails %lu secs %.6f p50_ms %.3f p99_ms %.3f max_ms %.3f\n", o->n, fails,
	       t1 - t0, lat[o->n / 2] * 1e3, lat[o->n * 99 / 100] * 1e3, o->n ? lat[o->n - 1] * 1e3 : 0.0);
	free(lat);
	return fails == o->n ? 1 : 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Opens up to n sessions that stay idle, prints "ready OPEN FAILED", then waits to be
 * killed (bounded by an alarm). Stops early after a run of failures: that is the
 * server's limit, which is what the driver wants to know. */
static _Noreturn void run_idle(const struct opts *o)
{
	struct endpoints ep;
	unsigned long open_ok = 0, fails = 0, streak = 0, why[WHY__N] = { 0 };
	unsigned char c = TGT_HOLD;
	if (!endpoints_init(&ep, o))
		exit(1);
	raise_nofile();
	for (unsigned long i = 0; i < o->n && streak < 20; i++) {
		int fd = open_stream(&ep, o, true);
		if (fd >= 0 && write_all(fd, &c, 1) && read_all(fd, &c, 1)) {
			open_ok++;
			streak = 0;
			continue; /* kept open on purpose */
		}
		if (fd >= 0)
			close(fd);
		why[last_why]++;
		fails++;
		streak++;
	}
	printf("ready %lu %lu replied %lu closed %lu timeout %lu connect %lu\n", open_ok, fails,
	       why[WHY_REPLY], why[WHY_CLOSED], why[WHY_TIMEOUT], why[WHY_CONNECT]);
	fflush(stdout);
	alarm(300);
	for (;;)
		pause();
}

/* Time from the first handshake byte sent to the CONNECT reply, sequential or
 * pipelined; prints the median in microseconds. */
static int run_handshake(const struct opts *o)
{
	struct endpoints ep;
	unsigned long n = o->n ? o->n : 200, ok = 0;
	double *t = calloc(n, sizeof(*t));
	int rc = 1;
	if (!t || !endpoints_init(&ep, o) || !ep.via_proxy)
		goto out;
	for (unsigned long i = 0; i < n; i++) {
		int fd = tcp_connect(&ep.proxy, ep.proxy_len, true);
		if (fd < 0)
			continue;
		struct timeval tv = { .tv_sec = 1 }; /* a server that drops pipelined bytes hangs */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		double t0 = now_s();
		if (s5_handshake(fd, &ep.target, o->auth, o->pipelined))
			t[ok++] = (now_s() - t0) * 1e6;
		close(fd);
		if (ok == 0 && i >= 2)
			break; /* consistently broken: no need to wait out every timeout */
	}
	qsort(t, ok, sizeof(*t), cmp_double);
	printf("handshakes %lu ok %lu median_us %.1f\n", n, ok, ok ? t[ok / 2] : 0.0);
	rc = 0;
out:
	free(t);
	return rc;
}

/* N sequential connect+close to the target: plain connect() (what a shim intercepts),
 * or through the proxy speaking SOCKS5 itself. */
static int run_connloop(const struct opts *o)
{
	struct endpoints ep;
	unsigned long fails = 0;
	double t0, c0;
	if (!endpoints_init(&ep, o))
		return 1;
	c0 = cpu_self_s();
	t0 = now_s();
	for (unsigned long i = 0; i < o->n; i++) {
		/* nodelay: the SOCKS steps are small writes; no option reset after them */
		int fd = ep.via_proxy ? open_stream(&ep, o, true) :
					socket(ep.target.ss_family, SOCK_STREAM, 0);
		if (fd >= 0 && !ep.via_proxy &&
		    connect(fd, (struct sockaddr *)&ep.target, ep.target_len) < 0) {
			close(fd);
			fd = -1;
		}
		if (fd < 0)
			fails++;
		else
			close(fd);
		if (fails > 10 && fails > i / 2)
			break;
	}
	double secs = now_s() - t0;
	printf("connects %lu fails %lu secs %.6f cpu %.6f us_per_conn %.1f\n", o->n, fails, secs,
	       cpu_self_s() - c0, secs * 1e6 / (double)o->n);
	return fails ? 1 : 0;
}

/* A process that never connects: for the memory-overhead measurement. */
static _Noreturn void run_hold(void)
{
	printf("ready\n");
	fflush(stdout);
	alarm(120);
	for (;;)
		pause();
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sxbench target ADDR:PORT\n"
		"       sxbench bulk|conns|idle|handshake|connloop -t TARGET [-s PROXY|-] [options]\n"
		"       sxbench hold\n"
		"  -n N (count or bytes, k/M/G)  -c CONC  -q REQ_BYTES  -d up|down  -a USER:PASS  -P\n");
}

int main(int argc, char **argv)
{
	struct opts o = { .n = 1000, .conc = 1, .bytes = 1UL << 30, .req = 64, .up = true };
	const char *mode;
	int c;
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage();
		return 2;
	}
	mode = argv[1];
	if (strcmp(mode, "target") == 0)
		return argc == 3 ? run_target(argv[2]) : (usage(), 2);
	if (strcmp(mode, "hold") == 0)
		run_hold();
	optind = 2;
	while ((c = getopt(argc, argv, "t:s:n:c:q:d:a:P")) != -1) {
		switch (c) {
		case 't': o.target = optarg; break;
		case 's': o.proxy = optarg; break;
		case 'a': o.auth = optarg; break;
		case 'P': o.pipelined = true; break;
		case 'd': o.up = strcmp(optarg, "up") == 0; break;
		case 'n':
			if (!parse_num(optarg, &o.n))
				return usage(), 2;
			o.bytes = o.n;
			break;
		case 'c':
			if (!parse_num(optarg, &o.conc))
				return usage(), 2;
			break;
		case 'q':
			if (!parse_num(optarg, &o.req))
				return usage(), 2;
			break;
		default: usage(); return 2;
		}
	}
	if (strcmp(mode, "bulk") == 0)
		return run_bulk(&o);
	if (strcmp(mode, "conns") == 0)
		return run_conns(&o);
	if (strcmp(mode, "idle") == 0)
		run_idle(&o);
	if (strcmp(mode, "handshake") == 0)
		return run_handshake(&o);
	if (strcmp(mode, "connloop") == 0)
		return run_connloop(&o);
	usage();
	return 2;
}

/* socksifyd: options, listeners, the accept path (limits, fd exhaustion), signals
 * (SIGTERM/SIGINT stop, SIGHUP reload, SIGUSR1 counters) and systemd readiness.
 * Everything else happens in the sessions driven by the one event loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linux.h"
#include "log.h"
#include "pool.h"
#include "server.h"
#include "session.h"
#include "users.h"
#include "util.h"

#define MAX_LISTENERS 16
#define RESOLVER_THREADS 4
#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 100 /* after EMFILE: let sessions end before trying again */

struct server srv;

struct listener {
	struct ev_io io;
	union sa46 addr;
	bool loopback;
};

static struct listener listeners[MAX_LISTENERS];
static unsigned nlisteners;
static struct ev_timer accept_pause;
static struct ev_timer housekeeping;
static int reserve_fd = -1;
static struct ev_io sig_io = { .fd = -1 };
static int log_fd = -1;
static bool pidfile_written; /* only then is the file ours to remove */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: socksifyd [OPTIONS]\n"
		"A SOCKS5/4/4a server (CONNECT, BIND, UDP ASSOCIATE).\n\n"
		"  -l, --listen ADDR:PORT     listen here (repeatable; default 127.0.0.1:1080,\n"
		"                             [::]:1080 for IPv6, port 0 = any free port)\n"
		"  -u, --users FILE           require username/password (user:password lines,\n"
		"                             crypt(3) hashes accepted)\n"
		"  -a, --allow CIDR           clients allowed (repeatable; default any)\n"
		"      --deny-dest RULE       destinations refused (CIDR, host, *.suffix, :port)\n"
		"      --acl FILE             more 'allow CIDR' / 'deny-dest RULE' lines (reloaded\n"
		"                             on SIGHUP)\n"
		"      --open                 allow a non-loopback listener without --users\n"
		"      --allow-local-dest     allow loopback/link-local/own destinations on a\n"
		"                             non-loopback listener\n"
		"      --max-sessions N       concurrent sessions (default: from the fd limit)\n"
		"      --max-per-client N     concurrent sessions per client IP (default 0: no limit)\n"
		"      --idle-timeout SEC     close a relay idle this long (default 300)\n"
		"      --handshake-timeout SEC  whole SOCKS handshake deadline (default 10)\n"
		"      --connect-timeout SEC  resolve + connect deadline (default 10)\n"
		"      --linger SEC           idle limit once one direction ended (default 30)\n"
		"      --udp-advertise ADDR   address put in UDP ASSOCIATE replies (NAT)\n"
		"      --pidfile FILE         write the process id here\n"
		"  -L, --log-file FILE        log here instead of stderr\n"
		"  -v, --verbose              more log (-v: one line per session, -vv: debug)\n"
		"  -q, --quiet                errors only\n"
		"  -h, --help                 this help\n"
		"  -V, --version              version\n");
}

enum {
	OPT_DENY_DEST = 256, OPT_OPEN, OPT_ALLOW_LOCAL, OPT_MAX_SESSIONS, OPT_MAX_PER_CLIENT,
	OPT_IDLE, OPT_HANDSHAKE, OPT_CONNECT, OPT_LINGER, OPT_UDP_ADV, OPT_PIDFILE, OPT_ACL,
};

static const struct option long_opts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "users", required_argument, NULL, 'u' },
	{ "allow", required_argument, NULL, 'a' },
	{ "deny-dest", required_argument, NULL, OPT_DENY_DEST },
	{ "acl", required_argument, NULL, OPT_ACL },
	{ "open", no_argument, NULL, OPT_OPEN },
	{ "allow-local-dest", no_argument, NULL, OPT_ALLOW_LOCAL },
	{ "max-sessions", required_argument, NULL, OPT_MAX_SESSIONS },
	{ "max-per-client", required_argument, NULL, OPT_MAX_PER_CLIENT },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT },
	{ "linger", required_argument, NULL, OPT_LINGER },
	{ "udp-advertise", required_argument, NULL, OPT_UDP_ADV },
	{ "pidfile", required_argument, NULL, OPT_PIDFILE },
	{ "log-file", required_argument, NULL, 'L' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "socksifyd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'socksifyd --help'.\n");
	exit(2);
}

static unsigned long opt_num(const char *name, const char *arg, unsigned long min,
			     unsigned long max)
{
	unsigned long v;

	if (!parse_ulong(arg, min, max, &v)) {
		fprintf(stderr, "socksifyd: %s: '%s' is not a number in %lu..%lu\n", name, arg,
			min, max);
		exit(2);
	}
	return v;
}

static bool parse_listen(const char *arg, union sa46 *out)
{
	struct socks_addr a;
	struct sockaddr_storage ss;
	char err[128];
	socklen_t len;

	if (!addr_parse_hostport(arg, &a, err, sizeof(err)) ||
	    a.atyp == SOCKS5_ATYP_DOMAINNAME)
		return false;
	len = addr_to_sockaddr(&a, &ss);
	if (len == 0 || len > sizeof(*out))
		return false;
	memset(out, 0, sizeof(*out));
	memcpy(out, &ss, len);
	return true;
}

/* The ACL in force: command line + --acl file + the host's addresses. */
static bool build_acl(struct acl *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	/* Copied as values: a reload never depends on printing and re-parsing them. */
	if (!acl_add_rules_of(out, &srv.o.cmdline_acl)) {
		snprintf(err, errlen, "out of memory");
		goto bad;
	}
	if (srv.o.acl_path && !acl_load_file(out, srv.o.acl_path, err, errlen))
		goto bad;
	if (!acl_load_own(out))
		LOG_WARN("cannot list the host's addresses: %s", strerror(errno));
	return true;
bad:
	acl_free(out);
	return false;
}

static void reload(void)
{
	char err[512];
	struct acl acl;

	if (srv.o.log_file) {
		int fd = log_open_file(srv.o.log_file);

		/* After logrotate moved the file: continue in a fresh one. */
		if (fd >= 0) {
			log_setup("socksifyd", log_get_level(), fd, 1);
			if (log_fd >= 0)
				close(log_fd);
			log_fd = fd;
		}
	}
	if (srv.o.users_path) {
		struct users *u = users_load(srv.o.users_path, err, sizeof(err));

		if (!u) {
			LOG_ERR("reload: %s; keeping the %zu users loaded before", err,
				users_count(srv.users));
		} else {
			users_free(srv.users);
			srv.users = u;
		}
	}
	if (!build_acl(&acl, err, sizeof(err))) {
		LOG_ERR("reload: %s; keeping the previous ACL", err);
	} else {
		acl_free(&srv.acl);
		srv.acl = acl;
	}
	LOG_WARN("reloaded: %zu users, %zu allow rules, %zu deny rules, %zu own addresses",
		 users_count(srv.users), srv.acl.nallow, srv.acl.ndeny, srv.acl.nown);
}

static void print_counters(void)
{
	enum log_level lvl = log_get_level();
	unsigned long st[SESS_DONE + 1];

	session_count_states(st);
	/* Asked for explicitly, so shown whatever the log level. */
	if (lvl < LOG_INFO)
		log_set_level(LOG_INFO);
	LOG_INFO("counters: sessions active=%llu total=%llu rejected=%llu failed=%llu "
		 "denied=%llu bytes up=%llu down=%llu udp datagrams up=%llu down=%llu; now "
		 "handshaking=%lu connecting=%lu relaying=%lu udp=%lu bind=%lu closing=%lu",
		 (unsigned long long)srv.st.active, (unsigned long long)srv.st.total,
		 (unsigned long long)srv.st.rejected, (unsigned long long)srv.st.failed,
		 (unsigned long long)srv.st.denied, (unsigned long long)srv.st.bytes_up,
		 (unsigned long long)srv.st.bytes_down, (unsigned long long)srv.st.udp_up,
		 (unsigned long long)srv.st.udp_down,
		 st[SESS_GREETING] + st[SESS_AUTH] + st[SESS_AUTH_CHECK] + st[SESS_REQUEST],
		 st[SESS_RESOLVE] + st[SESS_CONNECT], st[SESS_RELAY], st[SESS_UDP],
		 st[SESS_BIND_WAIT], st[SESS_FAILED]);
	pool_log_counters();
	log_set_level(lvl);
}

static void stop_listening(void)
{
	for (unsigned i = 0; i < nlisteners; i++) {
		ev_io_close(srv.loop, &listeners[i].io);
	}
	ev_timer_stop(srv.loop, &accept_pause);
	ev_timer_stop(srv.loop, &housekeeping);
}

static void on_signal(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	int sig;

	(void)revents;
	while ((sig = sys_signalfd_read(io->fd)) > 0) {
		switch (sig) {
		case SIGTERM:
		case SIGINT:
			if (srv.stopping)
				break;
			srv.stopping = true;
			sys_notify("STOPPING=1");
			LOG_WARN("%s: stopping (%llu sessions open)", strsignal(sig),
				 (unsigned long long)srv.st.active);
			stop_listening();
			session_close_all("server shutdown");
			ev_break(loop);
			break;
		case SIGHUP:
			sys_notify("RELOADING=1");
			reload();
			sys_notify("READY=1");
			break;
		case SIGUSR1:
			print_counters();
			break;
		}
	}
}

#define HOUSEKEEPING_MS 1000
#define TRIM_AFTER_CLOSED 128

/* After a burst of sessions ended, hand the freed heap back to the system: glibc
 * keeps it otherwise, and a flood would leave the server at its peak size. */
static void on_housekeeping(struct ev_loop *loop, struct ev_timer *t)
{
	static uint64_t closed_at_trim;

	if (srv.st.closed - closed_at_trim >= TRIM_AFTER_CLOSED) {
		malloc_trim(0);
		closed_at_trim = srv.st.closed;
	}
	ev_timer_start(loop, t, HOUSEKEEPING_MS);
}

static void set_accepting(bool on)
{
	for (unsigned i = 0; i < nlisteners; i++)
		ev_io_set(srv.loop, &listeners[i].io, on ? EPOLLIN : 0);
}

static void on_accept_pause(struct ev_loop *loop, struct ev_timer *t)
{
	(void)loop;
	(void)t;
	if (reserve_fd < 0)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	set_accepting(true);
}

/* Out of fds: spend the reserve fd to take the connection off the backlog and
 * close it (nothing can be said without an fd), then pause accepting briefly
 * instead of spinning on a listener that stays readable. */
static void accept_exhausted(int lfd, int err)
{
	if (reserve_fd >= 0) {
		int fd;

		close(reserve_fd);
		reserve_fd = -1;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
	}
	srv.st.rejected++;
	LOG_WARN("accept: %s: closing new connections for %d ms", strerror(err), ACCEPT_PAUSE_MS);
	set_accepting(false);
	ev_timer_start(srv.loop, &accept_pause, ACCEPT_PAUSE_MS);
}

static void on_accept(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	struct listener *l = container_of(io, struct listener, io);

	(void)loop;
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH && !srv.stopping; i++) {
		union sa46 peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(io->fd, &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				accept_exhausted(io->fd, errno);
			else if (errno == EINTR || errno == ECONNABORTED)
				continue;
			else if (errno != EAGAIN)
				LOG_WARN("accept: %s", strerror(errno));
			return;
		}
		session_accept(fd, &peer, !l->loopback && !srv.o.allow_local_dest);
	}
}

static bool sa46_is_loopback(const union sa46 *a)
{
	struct socks_addr sa;

	return addr_from_sockaddr(&sa, &a->sa, sa46_len(a)) && addr_is_loopback(&sa);
}

static int open_listener(struct listener *l)
{
	int one = 1, fd;
	union sa46 bound;
	socklen_t len = sizeof(bound);
	char as[ADDR_STR_MAX], line[ADDR_STR_MAX + 64];
	int n;

	fd = socket(l->addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::] means IPv6 only; list 0.0.0.0 too for both (no surprise dual-stack). */
	if (l->addr.sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &l->addr.sa, sa46_len(&l->addr)) < 0 || listen(fd, 1024) < 0 ||
	    getsockname(fd, &bound.sa, &len) < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	l->addr = bound;
	ev_io_init(&l->io, fd, on_accept);
	/* The readiness line tests and scripts wait for, whatever the log level. */
	n = snprintf(line, sizeof(line), "socksifyd[%ld]: listening on %s\n", (long)getpid(),
		     sockaddr_str(&bound.sa, len, as, sizeof(as)));
	/* Nothing useful to do if stderr is gone: the listener works regardless. */
	if (n > 0 && write(2, line, (size_t)n) != n)
		LOG_WARN("cannot write the readiness line: %s", strerror(errno));
	return fd;
}

static bool write_pidfile(const char *path)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, buf, (size_t)n) == n;
	return close(fd) == 0 && ok;
}

/* The command line as given; what it leads to lives in srv.o. */
struct cmdline {
	union sa46 listen[MAX_LISTENERS];
	unsigned nlisten;
	int verbose, quiet;
};

/* Parses argv into srv.o and cl. Exits 2 on a bad option or value (0 for -h/-V). */
static void parse_args(int argc, char **argv, struct cmdline *cl)
{
	char err[512];
	int opt;

	srv.o.idle_ms = 300 * 1000;
	srv.o.handshake_ms = 10 * 1000;
	srv.o.connect_ms = 10 * 1000;
	srv.o.linger_ms = 30 * 1000;
	while ((opt = getopt_long(argc, argv, "l:u:a:L:vqhV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (cl->nlisten == MAX_LISTENERS)
				die_usage("too many listen addresses (at most 16): %s", optarg);
			if (!parse_listen(optarg, &cl->listen[cl->nlisten]))
				die_usage("--listen: '%s' is not ADDR:PORT (an IP address, [IPv6]:PORT)",
					  optarg);
			cl->nlisten++;
			break;
		case 'u':
			srv.o.users_path = optarg;
			break;
		case 'a':
			if (!acl_add_allow(&srv.o.cmdline_acl, optarg, err, sizeof(err)))
				die_usage("--allow: %s", err);
			break;
		case OPT_DENY_DEST:
			if (!acl_add_deny(&srv.o.cmdline_acl, optarg, err, sizeof(err)))
				die_usage("--deny-dest: %s", err);
			break;
		case OPT_ACL:
			srv.o.acl_path = optarg;
			break;
		case OPT_OPEN:
			srv.o.open = true;
			break;
		case OPT_ALLOW_LOCAL:
			srv.o.allow_local_dest = true;
			break;
		case OPT_MAX_SESSIONS:
			srv.o.max_sessions = opt_num("--max-sessions", optarg, 1, 10000000);
			break;
		case OPT_MAX_PER_CLIENT:
			srv.o.max_per_client = opt_num("--max-per-client", optarg, 0, 10000000);
			break;
		case OPT_IDLE:
			srv.o.idle_ms = opt_num("--idle-timeout", optarg, 1, 86400 * 7) * 1000;
			break;
		case OPT_HANDSHAKE:
			srv.o.handshake_ms = opt_num("--handshake-timeout", optarg, 1, 3600) * 1000;
			break;
		case OPT_CONNECT:
			srv.o.connect_ms = opt_num("--connect-timeout", optarg, 1, 3600) * 1000;
			break;
		case OPT_LINGER:
			srv.o.linger_ms = opt_num("--linger", optarg, 1, 86400) * 1000;
			break;
		case OPT_UDP_ADV:
			if (!addr_parse_ip(optarg, &srv.o.udp_advertise))
				die_usage("--udp-advertise: '%s' is not an IP address", optarg);
			srv.o.has_udp_advertise = true;
			break;
		case OPT_PIDFILE:
			srv.o.pidfile = optarg;
			break;
		case 'L':
			srv.o.log_file = optarg;
			break;
		case 'v':
			cl->verbose++;
			break;
		case 'q':
			cl->quiet = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("socksifyd %s\n", SOCKSIFY_VERSION);
			exit(0);
		default:
			fprintf(stderr, "Try 'socksifyd --help'.\n");
			exit(2);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (cl->nlisten == 0) {
		parse_listen("127.0.0.1:1080", &cl->listen[0]);
		cl->nlisten = 1;
	}
}

/* Refuses to become an open proxy by accident (SPEC): false, with the reason on
 * stderr, for a non-loopback listener without --users or --open. */
static bool check_open_proxy(const struct cmdline *cl)
{
	for (unsigned i = 0; i < cl->nlisten; i++) {
		char as[ADDR_STR_MAX];

		if (sa46_is_loopback(&cl->listen[i]) || srv.o.users_path || srv.o.open)
			continue;
		fprintf(stderr,
			"socksifyd: refusing to listen on %s without authentication: anyone who "
			"can reach it could use this host as an open proxy. Give --users FILE, or "
			"--open if that is really intended.\n",
			sockaddr_str(&cl->listen[i].sa, sa46_len(&cl->listen[i]), as, sizeof(as)));
		return false;
	}
	return true;
}

/* Logging, users file and ACL: what must work before anything listens. */
static bool load_config(const struct cmdline *cl)
{
	enum log_level level = cl->quiet ? LOG_ERROR : cl->verbose >= 2 ? LOG_DEBUG
						  : cl->verbose == 1 ? LOG_INFO : LOG_WARN;
	char err[512];

	if (srv.o.log_file) {
		log_fd = log_open_file(srv.o.log_file);
		if (log_fd < 0) {
			fprintf(stderr, "socksifyd: -L %s: %s\n", srv.o.log_file, strerror(errno));
			return false;
		}
	}
	log_setup("socksifyd", level, log_fd >= 0 ? log_fd : 2, 1);
	if (srv.o.users_path) {
		srv.users = users_load(srv.o.users_path, err, sizeof(err));
		if (!srv.users) {
			fprintf(stderr, "socksifyd: --users %s\n", err);
			return false;
		}
	}
	if (!build_acl(&srv.acl, err, sizeof(err))) {
		fprintf(stderr, "socksifyd: %s\n", err);
		return false;
	}
	return true;
}

/* The loop, its workers, signals, timers and listeners; readiness once all listen. */
static bool start(const struct cmdline *cl, unsigned long nofile)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	char ready[64];
	int sfd;

	srv.loop = ev_new();
	if (!srv.loop || !pool_init(srv.loop, RESOLVER_THREADS)) {
		fprintf(stderr, "socksifyd: cannot set up the event loop: %s\n", strerror(errno));
		return false;
	}
	ev_timer_init(&accept_pause, on_accept_pause);
	ev_timer_init(&housekeeping, on_housekeeping);
	ev_timer_start(srv.loop, &housekeeping, HOUSEKEEPING_MS);
	sfd = sys_signalfd(sigs, 4);
	if (sfd < 0) {
		fprintf(stderr, "socksifyd: signalfd: %s\n", strerror(errno));
		return false;
	}
	ev_io_init(&sig_io, sfd, on_signal);
	ev_io_set(srv.loop, &sig_io, EPOLLIN);
	for (unsigned i = 0; i < cl->nlisten; i++) {
		struct listener *l = &listeners[nlisteners];
		char as[ADDR_STR_MAX];

		l->addr = cl->listen[i];
		l->loopback = sa46_is_loopback(&l->addr);
		if (open_listener(l) < 0) {
			fprintf(stderr, "socksifyd: cannot listen on %s: %s\n",
				sockaddr_str(&l->addr.sa, sa46_len(&l->addr), as, sizeof(as)),
				strerror(errno));
			return false;
		}
		nlisteners++;
		ev_io_set(srv.loop, &l->io, EPOLLIN);
	}
	if (srv.o.pidfile && !write_pidfile(srv.o.pidfile)) {
		fprintf(stderr, "socksifyd: --pidfile %s: %s\n", srv.o.pidfile, strerror(errno));
		return false;
	}
	pidfile_written = srv.o.pidfile != NULL;
	snprintf(ready, sizeof(ready), "READY=1\nMAINPID=%ld", (long)getpid());
	if (!sys_notify(ready))
		LOG_WARN("NOTIFY_SOCKET: cannot send readiness: %s", strerror(errno));
	LOG_INFO("serving: max %lu sessions, %lu per client, fd limit %lu, %s",
		 srv.o.max_sessions, srv.o.max_per_client, nofile,
		 srv.users ? "username/password required" : "no authentication");
	return true;
}

int main(int argc, char **argv)
{
	struct cmdline cl = { .nlisten = 0 };
	unsigned long nofile;
	int rc = 1;

	parse_args(argc, argv, &cl);
	if (!check_open_proxy(&cl) || !load_config(&cl))
		goto out;
	signal(SIGPIPE, SIG_IGN); /* splice into a closed socket raises it */
	nofile = sys_raise_nofile();
	if (!srv.o.max_sessions)
		/* Two fds per session, and room for listeners, pipes and rejections. */
		srv.o.max_sessions = nofile > 400 ? (nofile - 200) / 2 : 100;
	reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (start(&cl, nofile))
		rc = ev_run(srv.loop) == 0 ? 0 : 1;
out:
	if (pidfile_written)
		unlink(srv.o.pidfile);
	stop_listening();
	session_close_all("server exit");
	if (srv.loop)
		ev_io_close(srv.loop, &sig_io);
	relay_pool_drain();
	pool_shutdown();
	users_free(srv.users);
	acl_free(&srv.acl);
	acl_free(&srv.o.cmdline_acl);
	if (srv.loop)
		ev_free(srv.loop);
	if (reserve_fd >= 0)
		close(reserve_fd);
	if (log_fd >= 0)
		close(log_fd);
	return rc;
}

/* socksifyd: options, sockets handed over (systemd, upgrade), the pidfile, signals
 * (SIGTERM/SIGINT stop, SIGHUP reload, SIGUSR1 counters, SIGUSR2 upgrade) and systemd
 * readiness. The workers (worker.c) accept; sessions do the rest. */
#include <arpa/inet.h>
#include <bsd/libutil.h>
#include <bsd/stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "activate.h"
#include "linux.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "proxy.h"
#include "server.h"
#include "session.h"
#include "users.h"
#include "upgrade.h"
#include "util.h"
#include "worker.h"

#define RESOLVER_THREADS 4

static struct ev_io sig_io = { .fd = -1 };
static int log_fd = -1;
static struct pidfh *pidfh; /* --pidfile, locked while we run */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: socksifyd [OPTIONS]\n"
		"A SOCKS5/4/4a server (CONNECT, BIND, UDP ASSOCIATE).\n\n"
		"  -l, --listen ADDR:PORT     listen here (repeatable; default 127.0.0.1:1080,\n"
		"                             [::]:1080 for IPv6, port 0 = any free port)\n"
		"      --proxy-listen ADDR:PORT  listen for a load balancer that sends a PROXY\n"
		"                             protocol v1/v2 header first (repeatable)\n"
		"      --proxy-protocol CIDR  balancers trusted to send it (repeatable; required\n"
		"                             with --proxy-listen)\n"
		"  -w, --workers N            event loops, one thread each (default: the CPUs\n"
		"                             this process may run on)\n"
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
		"      --pidfile FILE         write the process id here, locked: a second\n"
		"                             instance on the same file refuses to start\n"
		"      --metrics ADDR:PORT    serve Prometheus metrics at /metrics (loopback\n"
		"                             only unless --open)\n"
		"  -L, --log-file FILE        log here instead of stderr\n"
		"  -v, --verbose              more log (-v: one line per session, -vv: debug)\n"
		"  -q, --quiet                errors only\n"
		"  -h, --help                 this help\n"
		"  -V, --version              version\n");
}

enum {
	OPT_DENY_DEST = 256, OPT_OPEN, OPT_ALLOW_LOCAL, OPT_MAX_SESSIONS, OPT_MAX_PER_CLIENT,
	OPT_IDLE, OPT_HANDSHAKE, OPT_CONNECT, OPT_LINGER, OPT_UDP_ADV, OPT_PIDFILE, OPT_ACL,
	OPT_PROXY_LISTEN, OPT_PROXY_PROTOCOL, OPT_METRICS,
};

static const struct option long_opts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "proxy-listen", required_argument, NULL, OPT_PROXY_LISTEN },
	{ "proxy-protocol", required_argument, NULL, OPT_PROXY_PROTOCOL },
	{ "workers", required_argument, NULL, 'w' },
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
	{ "metrics", required_argument, NULL, OPT_METRICS },
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
	const char *why = NULL;
	long long v = strtonum(arg, (long long)min, (long long)max, &why);

	/* libbsd's strtonum: bounds and garbage in one call, and a word for which. */
	if (why) {
		fprintf(stderr, "socksifyd: %s: '%s' is %s (a number in %lu..%lu)\n", name, arg,
			why, min, max);
		exit(2);
	}
	return (unsigned long)v;
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

/* SIGHUP: a fresh log file (after logrotate), the users file and the ACL read
 * again; each part that fails to load keeps the one in force. Every worker gets the
 * new tables through its mailbox. */
static void reload(void)
{
	char err[512];
	struct acl acl;
	struct users *u = NULL;
	bool new_users = false, new_acl;

	if (srv.o.log_file) {
		int fd = log_open_file(srv.o.log_file);

		/* After logrotate moved the file: continue in a fresh one, under the same
		 * fd number, so that a worker writing right now never hits a closed fd. */
		if (fd >= 0) {
			if (log_fd >= 0 && dup3(fd, log_fd, O_CLOEXEC) >= 0) {
				close(fd);
			} else {
				log_setup("socksifyd", log_get_level(), fd, 1);
				log_fd = fd;
			}
		}
	}
	if (srv.o.users_path) {
		u = users_load(srv.o.users_path, err, sizeof(err));
		new_users = u != NULL;
		if (!u)
			LOG_ERR("reload: %s; keeping the %zu users loaded before", err,
				users_count(srv.users));
	}
	new_acl = build_acl(&acl, err, sizeof(err));
	if (!new_acl)
		LOG_ERR("reload: %s; keeping the previous ACL", err);
	LOG_WARN("reloaded: %zu users, %zu allow rules, %zu deny rules, %zu own addresses",
		 users_count(new_users ? u : srv.users), new_acl ? acl.nallow : srv.acl.nallow,
		 new_acl ? acl.ndeny : srv.acl.ndeny, new_acl ? acl.nown : srv.acl.nown);
	workers_publish(new_users, u, new_acl ? &acl : NULL);
}

/* --pidfile: taken (locked) before anything listens, so that a second instance on
 * the same file stops at once and says who holds it; written once serving. */
static bool take_pidfile(const char *path)
{
	pid_t other = -1;

	pidfh = pidfile_open(path, 0644, &other);
	if (pidfh)
		return true;
	if (errno == EEXIST && other > 0)
		fprintf(stderr, "socksifyd: --pidfile %s: held by process %ld, which is running\n",
			path, (long)other);
	else if (errno == EEXIST)
		fprintf(stderr, "socksifyd: --pidfile %s: locked by another process\n", path);
	else
		fprintf(stderr, "socksifyd: --pidfile %s: %s\n", path, strerror(errno));
	return false;
}

/* The pidfile again, after an upgrade that did not happen. */
static void retake_pidfile(void)
{
	if (srv.o.pidfile && !pidfh && take_pidfile(srv.o.pidfile) && pidfile_write(pidfh) < 0)
		LOG_WARN("--pidfile %s: %s", srv.o.pidfile, strerror(errno));
}

static void upgrade_done(bool ok, pid_t pid)
{
	struct srv_stats sum;

	if (!ok) {
		LOG_ERR("upgrade: the new process did not start serving; this one serves on");
		retake_pidfile();
		return;
	}
	workers_sum_stats(&sum);
	LOG_WARN("upgrade: process %ld serves now; finishing the %llu sessions open here, "
		 "then exiting", (long)pid, (unsigned long long)(sum.active + sum.rejecting));
	metrics_stop();
	workers_drain();
}

/* SIGUSR2: our listening sockets to a new process of the binary at our path. */
static void upgrade(void)
{
	int fds[ACTIVATE_MAX];
	const char *names[ACTIVATE_MAX];
	unsigned n;

	if (upgrade_in_progress() || srv.stopping) {
		LOG_WARN("upgrade: not now (%s)", srv.stopping ? "stopping" : "one under way");
		return;
	}
	n = workers_listen_fds(fds, names, ACTIVATE_MAX - 1);
	if (n == 0) {
		LOG_WARN("upgrade: no listening socket left to hand over (already upgraded?)");
		return;
	}
	if (metrics_fd() >= 0) {
		fds[n] = metrics_fd();
		names[n++] = "metrics";
	}
	/* The new process takes the pidfile's lock. */
	if (pidfh) {
		pidfile_close(pidfh);
		pidfh = NULL;
	}
	if (!upgrade_start(fds, names, n, upgrade_done)) {
		LOG_ERR("upgrade: cannot start the new process: %s", strerror(errno));
		retake_pidfile();
	}
}

static void on_signal(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	int sig;
	struct srv_stats sum;

	(void)loop;
	(void)revents;
	while ((sig = sys_signalfd_read(io->fd)) > 0) {
		switch (sig) {
		case SIGTERM:
		case SIGINT:
			if (srv.stopping)
				break;
			sys_notify("STOPPING=1");
			workers_sum_stats(&sum);
			LOG_WARN("%s: stopping (%llu sessions open)", strsignal(sig),
				 (unsigned long long)sum.active);
			metrics_stop();
			ev_io_close(srv.loop, &sig_io);
			workers_stop("server shutdown");
			return;
		case SIGHUP:
			sys_notify("RELOADING=1");
			reload();
			sys_notify("READY=1");
			break;
		case SIGUSR1:
			workers_print_counters();
			break;
		case SIGUSR2:
			upgrade();
			break;
		}
	}
}

static bool sa46_is_loopback(const union sa46 *a)
{
	struct socks_addr sa;

	return addr_from_sockaddr(&sa, &a->sa, sa46_len(a)) && addr_is_loopback(&sa);
}


static void add_trusted(const char *arg)
{
	struct cidr *t = realloc(srv.o.pp_trusted, (srv.o.pp_ntrusted + 1) * sizeof(*t));

	if (!t)
		die_usage("out of memory");
	srv.o.pp_trusted = t;
	if (!cidr_parse(arg, &t[srv.o.pp_ntrusted]))
		die_usage("--proxy-protocol: '%s' is not an address or CIDR", arg);
	srv.o.pp_ntrusted++;
}

/* The command line as given; what it leads to lives in srv.o. */
struct cmdline {
	union sa46 listen[MAX_LISTENERS];
	bool listen_proxy[MAX_LISTENERS];
	unsigned nlisten;
	unsigned workers; /* 0: default_workers() */
	bool activated;   /* sockets handed over: listen_fd and metrics_fd hold them */
	int listen_fd[MAX_LISTENERS];
	int metrics_fd;
	bool has_metrics;
	union sa46 metrics;
	int verbose, quiet;
};

/* A PROXY listener trusts only the balancers named; naming none is a mistake. */
static void check_proxy_options(const struct cmdline *cl)
{
	bool any = false;

	for (unsigned i = 0; i < cl->nlisten; i++)
		any |= cl->listen_proxy[i];
	if (any && !srv.o.pp_ntrusted)
		die_usage("--proxy-listen needs --proxy-protocol CIDR: the balancers that may "
			  "send the header");
	if (!any && srv.o.pp_ntrusted)
		die_usage("--proxy-protocol is for --proxy-listen listeners, and there is none");
}

static bool fd_address(int fd, union sa46 *out)
{
	socklen_t len = sizeof(*out);

	return getsockname(fd, &out->sa, &len) == 0 &&
	       (out->sa.sa_family == AF_INET || out->sa.sa_family == AF_INET6);
}

/* Started with sockets handed over (systemd, or the socksifyd we replace): those
 * and nothing else are listened on. Named "proxy": a --proxy-listen listener,
 * "metrics": --metrics, any other name: a SOCKS listener. */
static void take_activated(struct cmdline *cl)
{
	struct activated act[ACTIVATE_MAX];
	char err[256];
	int n = activate_fds(act, ACTIVATE_MAX, err, sizeof(err));

	if (n < 0)
		die_usage("socket activation: %s", err);
	if (n == 0)
		return;
	if (cl->nlisten || cl->has_metrics)
		fprintf(stderr, "socksifyd: started with %d sockets handed over: listening on "
				"those only, not on the -l/--proxy-listen/--metrics addresses\n", n);
	cl->activated = true;
	cl->nlisten = 0;
	cl->has_metrics = false;
	cl->metrics_fd = -1;
	for (int i = 0; i < n; i++) {
		union sa46 a;

		if (!fd_address(act[i].fd, &a))
			die_usage("socket activation: fd %d is not an IPv4/IPv6 socket", act[i].fd);
		if (!strcmp(act[i].name, "metrics")) {
			if (cl->has_metrics)
				die_usage("socket activation: more than one socket named metrics");
			cl->has_metrics = true;
			cl->metrics = a;
			cl->metrics_fd = act[i].fd;
			continue;
		}
		if (cl->nlisten == MAX_LISTENERS)
			die_usage("socket activation: more than %d listeners", MAX_LISTENERS);
		cl->listen[cl->nlisten] = a;
		cl->listen_fd[cl->nlisten] = act[i].fd;
		cl->listen_proxy[cl->nlisten++] = !strcmp(act[i].name, "proxy");
	}
	if (cl->nlisten == 0)
		die_usage("socket activation: no SOCKS or proxy socket among the %d handed over", n);
}

/* Parses argv into srv.o and cl. Exits 2 on a bad option or value (0 for -h/-V). */
static void parse_args(int argc, char **argv, struct cmdline *cl)
{
	char err[512];
	int opt;

	srv.o.idle_ms = 300 * 1000;
	srv.o.handshake_ms = 10 * 1000;
	srv.o.connect_ms = 10 * 1000;
	srv.o.linger_ms = 30 * 1000;
	while ((opt = getopt_long(argc, argv, "l:w:u:a:L:vqhV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
		case OPT_PROXY_LISTEN:
			if (cl->nlisten == MAX_LISTENERS)
				die_usage("too many listen addresses (at most 16): %s", optarg);
			if (!parse_listen(optarg, &cl->listen[cl->nlisten]))
				die_usage("--%s: '%s' is not ADDR:PORT (an IP address, [IPv6]:PORT)",
					  opt == 'l' ? "listen" : "proxy-listen", optarg);
			cl->listen_proxy[cl->nlisten++] = opt == OPT_PROXY_LISTEN;
			break;
		case OPT_PROXY_PROTOCOL:
			add_trusted(optarg);
			break;
		case 'w':
			cl->workers = (unsigned)opt_num("--workers", optarg, 1, WORKERS_MAX);
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
		case OPT_METRICS:
			if (!parse_listen(optarg, &cl->metrics))
				die_usage("--metrics: '%s' is not ADDR:PORT", optarg);
			cl->has_metrics = true;
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
	take_activated(cl);
	check_proxy_options(cl);
	/* The counters say who uses the proxy and how much: not for everyone. */
	if (cl->has_metrics && !sa46_is_loopback(&cl->metrics) && !srv.o.open)
		die_usage("--metrics on a non-loopback address needs --open");
	if (cl->nlisten == 0 && !cl->activated) {
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

/* The workers, signals, listeners and metrics; readiness once all listen. */
static bool start(const struct cmdline *cl, unsigned long nofile)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 };
	char ready[64];
	int sfd;

	/* Signals first: the worker threads inherit the blocked mask. */
	sfd = sys_signalfd(sigs, 5);
	if (sfd < 0) {
		fprintf(stderr, "socksifyd: signalfd: %s\n", strerror(errno));
		return false;
	}
	if (!workers_init(cl->workers) || !pool_init(srv.loop, RESOLVER_THREADS)) {
		close(sfd);
		fprintf(stderr, "socksifyd: cannot set up the event loops: %s\n", strerror(errno));
		return false;
	}
	ev_io_init(&sig_io, sfd, on_signal);
	ev_io_set(srv.loop, &sig_io, EPOLLIN);
	for (unsigned i = 0; i < cl->nlisten; i++) {
		union sa46 a = cl->listen[i];
		char as[ADDR_STR_MAX];

		if (!workers_listen(&a, cl->listen_proxy[i], cl->activated ? cl->listen_fd[i] : -1)) {
			fprintf(stderr, "socksifyd: cannot listen on %s: %s\n",
				sockaddr_str(&a.sa, sa46_len(&a), as, sizeof(as)), strerror(errno));
			return false;
		}
	}
	if (cl->has_metrics) {
		union sa46 m = cl->metrics;
		int fd = cl->activated ? cl->metrics_fd : listen_socket(&m, false);
		char as[ADDR_STR_MAX];

		if (fd < 0 || !metrics_start(fd)) {
			fprintf(stderr, "socksifyd: --metrics %s: %s\n",
				sockaddr_str(&m.sa, sa46_len(&m), as, sizeof(as)), strerror(errno));
			return false;
		}
		say_listening("metrics", &m);
	}
	if (pidfh && pidfile_write(pidfh) < 0) {
		fprintf(stderr, "socksifyd: --pidfile %s: %s\n", srv.o.pidfile, strerror(errno));
		return false;
	}
	if (!workers_start()) {
		fprintf(stderr, "socksifyd: cannot start the workers: %s\n", strerror(errno));
		return false;
	}
	upgrade_report_ready();
	snprintf(ready, sizeof(ready), "READY=1\nMAINPID=%ld", (long)getpid());
	if (!sys_notify(ready))
		LOG_WARN("NOTIFY_SOCKET: cannot send readiness: %s", strerror(errno));
	LOG_INFO("serving: %u workers, max %lu sessions, %lu per client, fd limit %lu, %s",
		 cl->workers, srv.o.max_sessions, srv.o.max_per_client, nofile,
		 srv.users ? "username/password required" : "no authentication");
	return true;
}

/* The CPUs this process may run on (taskset, cgroup cpusets). */
static unsigned default_workers(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	n = CPU_COUNT(&set);
	return n < 1 ? 1 : n > WORKERS_MAX ? WORKERS_MAX : (unsigned)n;
}

int main(int argc, char **argv)
{
	struct cmdline cl = { .nlisten = 0 };
	unsigned long nofile;
	int rc = 1;

	upgrade_claim_fd();
	if (!upgrade_init(argv))
		fprintf(stderr, "socksifyd: cannot find our own binary: no upgrade on SIGUSR2\n");
	parse_args(argc, argv, &cl);
	if (!cl.workers)
		cl.workers = default_workers();
	if (!check_open_proxy(&cl) || (srv.o.pidfile && !take_pidfile(srv.o.pidfile)) ||
	    !load_config(&cl))
		goto out;
	signal(SIGPIPE, SIG_IGN); /* splice into a closed socket raises it */
	signal(SIGCHLD, SIG_IGN); /* a new binary that failed to start: no zombie */
	nofile = sys_raise_nofile();
	if (!srv.o.max_sessions)
		/* Two fds per session, and room for listeners, pipes and rejections. */
		srv.o.max_sessions = nofile > 400 ? (nofile - 200) / 2 : 100;
	if (start(&cl, nofile))
		rc = ev_run(srv.loop) == 0 ? 0 : 1;
	else
		workers_stop("server exit");
out:
	if (pidfh)
		pidfile_remove(pidfh);
	workers_join();
	if (srv.loop) {
		metrics_stop();
		ev_io_close(srv.loop, &sig_io);
	}
	pool_shutdown();
	workers_free();
	acl_free(&srv.o.cmdline_acl);
	free(srv.o.pp_trusted);
	if (log_fd >= 0)
		close(log_fd);
	return rc;
}

/* socksify: runs a COMMAND with libsocksify.so preloaded. Everything is validated
 * here, before exec (options, config file, environment, every proxy URL, the
 * library's path), so that a mistake is one clear message and exit 125 rather than a
 * program whose connections fail later. The result reaches the library through
 * LD_PRELOAD and the SOCKSIFY_* variables; --env prints them, --check tests the chain. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "nametable.h"
#include "supervise.h"
#include "util.h"

bool cli_quiet;

void cli_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("socksify: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
	if (cli_quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("socksify: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

enum { OPT_CHECK = 0x100, OPT_ENV, OPT_SUPERVISE, OPT_PRELOAD_ONLY, OPT_JAIL, OPT_INSTALL,
	OPT_UNINSTALL, OPT_STATUS, OPT_ROOT, OPT_ROUTE };

/* What the command line asked for, kept as given: the URLs verbatim (so credentials
 * reach the library exactly as typed) and the rules as strings. */
struct cli_opts {
	const char *config;
	const char *proxies[CONF_MAX_PROXIES];
	size_t nproxies;
	const char *dns, *udp, *log_file;
	const char *direct[CONF_MAX_RULES];
	size_t ndirect;
	int verbosity; /* -v minus -q */
	bool log_set;
	bool check, env;
	const char *check_dest;
	enum sv_mode mode; /* --supervise / --preload-only (cli/supervise.h) */
	bool jail;
	enum system_cmd system; /* 0, or --install-system and friends */
	const char *root;       /* --root DIR for them */
	const char *route_dest; /* --route HOST:PORT */
	char **command; /* NULL-terminated argv of COMMAND, or NULL */
};

static const struct option long_opts[] = {
	{"proxy", required_argument, NULL, 'p'},
	{"config", required_argument, NULL, 'f'},
	{"dns", required_argument, NULL, 'd'},
	{"udp", required_argument, NULL, 'u'},
	{"direct", required_argument, NULL, 'x'},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"log-file", required_argument, NULL, 'L'},
	{"check", optional_argument, NULL, OPT_CHECK},
	{"env", no_argument, NULL, OPT_ENV},
	{"supervise", no_argument, NULL, OPT_SUPERVISE},
	{"preload-only", no_argument, NULL, OPT_PRELOAD_ONLY},
	{"jail", no_argument, NULL, OPT_JAIL},
	{"install-system", no_argument, NULL, OPT_INSTALL},
	{"uninstall-system", no_argument, NULL, OPT_UNINSTALL},
	{"system-status", no_argument, NULL, OPT_STATUS},
	{"root", required_argument, NULL, OPT_ROOT},
	{"route", required_argument, NULL, OPT_ROUTE},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	fputs("usage: socksify [OPTIONS] [--] COMMAND [ARG...]\n"
	      "       socksify [OPTIONS] --check[=HOST:PORT]\n"
	      "       socksify [OPTIONS] --env\n"
	      "       socksify --install-system [-p URL]... | --uninstall-system |\n"
	      "                --system-status   [--root DIR]\n"
	      "       socksify [OPTIONS] --route HOST:PORT\n"
	      "Runs COMMAND with its TCP, UDP and DNS traffic sent through SOCKS proxies.\n"
	      "\n"
	      "  -p, --proxy URL       a proxy (socks5://, socks5h://, socks4://, socks4a://,\n"
	      "                        http://); repeat for a chain, first hop first. Replaces\n"
	      "                        the config file's proxies\n"
	      "  -f, --config FILE     config file (default: $SOCKSIFY_CONF,\n"
	      "                        ~/.config/socksify/socksify.conf, /etc/socksify.conf)\n"
	      "  -d, --dns MODE        remote (default) | local\n"
	      "  -u, --udp MODE        proxy (default) | block | direct\n"
	      "  -x, --direct RULE     never proxy this destination (CIDR, host, *.suffix,\n"
	      "                        :port); repeatable\n"
	      "  -q, --quiet           errors only\n"
	      "  -v, --verbose         more messages (repeat for debug)\n"
	      "  -L, --log-file FILE   the library logs to FILE instead of stderr\n"
	      "      --check[=HOST:PORT]\n"
	      "                        test the chain (reachability, methods, auth, CONNECT\n"
	      "                        to HOST:PORT, default " CHECK_DEFAULT_DEST ", UDP\n"
	      "                        ASSOCIATE) and print a report; exit 0 when everything\n"
	      "                        the settings need works, 2 when the chain works but\n"
	      "                        HOST:PORT cannot be reached through it, else 1\n"
	      "      --env             print export lines: eval \"$(socksify --env)\"\n"
	      "      --supervise       always run COMMAND under the seccomp supervisor\n"
	      "                        (default: only static and Go programs)\n"
	      "      --preload-only    never: LD_PRELOAD alone\n"
	      "      --jail            supervise COMMAND in a network namespace whose only\n"
	      "                        way out is the proxy: what escapes fails\n"
	      "      --install-system  every dynamic program of the machine through the\n"
	      "                        proxy: installs the library, writes /etc/socksify.conf\n"
	      "                        from -p (or the example when there is none) and adds\n"
	      "                        one line to /etc/ld.so.preload\n"
	      "      --uninstall-system  removes that line (and nothing else)\n"
	      "      --system-status   is the line there, does the config parse, the check\n"
	      "      --root DIR        for the three above: files under DIR instead of /\n"
	      "      --route HOST:PORT print where a connection to HOST:PORT goes: direct\n"
	      "                        (which rule), blocked (which rule) or which hops\n"
	      "  -h, --help            this help\n"
	      "  -V, --version         print the version\n"
	      "\n"
	      "With no proxy configured anywhere the proxy is " CONF_DEFAULT_PROXY ".\n"
	      "Exit status: COMMAND's; 125 when socksify fails, 126 when COMMAND cannot be\n"
	      "executed, 127 when it is not found. See socksify(1).\n",
	      f);
}

/* Returns -1 to go on, else the exit status (help, version, bad option). */
static int parse_args(int argc, char **argv, struct cli_opts *o)
{
	int c;
	opterr = 0; /* our own messages, prefixed like every other one */
	/* '+': stop at the first non-option, so `socksify curl -v` passes -v to curl.
	 * ':' first after it: a missing argument returns ':' rather than '?'. */
	while ((c = getopt_long(argc, argv, "+:p:f:d:u:x:qvL:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (o->nproxies == CONF_MAX_PROXIES) {
				cli_err("too many proxies (at most %d)", CONF_MAX_PROXIES);
				return CLI_EXIT_FAIL;
			}
			o->proxies[o->nproxies++] = optarg;
			break;
		case 'f':
			o->config = optarg;
			break;
		case 'd':
			o->dns = optarg;
			break;
		case 'u':
			o->udp = optarg;
			break;
		case 'x':
			if (o->ndirect == CONF_MAX_RULES) {
				cli_err("too many direct rules (at most %d)", CONF_MAX_RULES);
				return CLI_EXIT_FAIL;
			}
			o->direct[o->ndirect++] = optarg;
			break;
		case 'q':
			o->verbosity--;
			o->log_set = true;
			break;
		case 'v':
			o->verbosity++;
			o->log_set = true;
			break;
		case 'L':
			o->log_file = optarg;
			break;
		case OPT_CHECK:
			o->check = true;
			o->check_dest = optarg;
			break;
		case OPT_ENV:
			o->env = true;
			break;
		case OPT_SUPERVISE:
			o->mode = SV_SUPERVISE;
			break;
		case OPT_PRELOAD_ONLY:
			o->mode = SV_PRELOAD_ONLY;
			break;
		case OPT_JAIL:
			o->jail = true;
			break;
		case OPT_INSTALL:
		case OPT_UNINSTALL:
		case OPT_STATUS:
			if (o->system != 0 && o->system != (enum system_cmd)(c - OPT_INSTALL + 1)) {
				cli_err("give one of --install-system, --uninstall-system and "
					"--system-status");
				return CLI_EXIT_FAIL;
			}
			o->system = (enum system_cmd)(c - OPT_INSTALL + 1);
			break;
		case OPT_ROOT:
			o->root = optarg;
			break;
		case OPT_ROUTE:
			o->route_dest = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("socksify %s\n", SOCKSIFY_VERSION);
			return 0;
		case ':':
			cli_err("option %s needs a value (see socksify --help)", argv[optind - 1]);
			return CLI_EXIT_FAIL;
		default:
			if (optopt)
				cli_err("unknown option -%c (see socksify --help)", optopt);
			else
				cli_err("unknown option %s (see socksify --help)", argv[optind - 1]);
			return CLI_EXIT_FAIL;
		}
	}
	if (optind < argc)
		o->command = argv + optind;

	if (o->system != 0) {
		if (o->command || o->check || o->env) {
			cli_err("--install-system, --uninstall-system and --system-status take no "
				"COMMAND, --check or --env");
			return CLI_EXIT_FAIL;
		}
		if (o->system != SYSTEM_INSTALL && o->nproxies > 0) {
			cli_err("-p goes with --install-system only");
			return CLI_EXIT_FAIL;
		}
		return -1;
	}
	if (o->root) {
		cli_err("--root goes with --install-system, --uninstall-system or "
			"--system-status");
		return CLI_EXIT_FAIL;
	}
	if (o->check + o->env + (o->route_dest != NULL) > 1) {
		cli_err("--check, --env and --route cannot be used together");
		return CLI_EXIT_FAIL;
	}
	if ((o->check || o->env || o->route_dest) && o->command) {
		cli_err("%s takes no COMMAND (got '%s')",
			o->check ? "--check" : o->env ? "--env" : "--route", o->command[0]);
		return CLI_EXIT_FAIL;
	}
	if (o->jail && o->mode == SV_PRELOAD_ONLY) {
		cli_err("--jail needs the supervisor: it cannot be used with --preload-only");
		return CLI_EXIT_FAIL;
	}
	if ((o->jail || o->mode != SV_AUTO) && !o->command) {
		cli_err("--jail, --supervise and --preload-only need a COMMAND");
		return CLI_EXIT_FAIL;
	}
	if (!o->check && !o->env && !o->route_dest && !o->command) {
		cli_err("no COMMAND given (see socksify --help)");
		return CLI_EXIT_FAIL;
	}
	return -1;
}

/* ---- configuration ---- */

static const char *getenv_const(const char *name)
{
	return getenv(name);
}

/* The config file to read, as an absolute path in out ("" for none): conf_find's
 * search (the library's too), made absolute since the program may chdir. */
static bool find_config(const struct cli_opts *o, char *out, size_t cap, char *err,
			size_t errlen)
{
	char path[PATH_MAX];

	if (!conf_find(o->config, false, getenv_const, path, sizeof(path), err, errlen))
		return false;
	out[0] = '\0';
	return path[0] == '\0' || env_abs_path(path, out, cap, err, errlen);
}

/* A URL given with -p, shown with its password masked, for messages that conf.c
 * might have built from the raw text. */
static void mask_url(const char *url, char *out, size_t cap)
{
	const char *scheme_end = strstr(url, "://");
	const char *user = scheme_end ? scheme_end + 3 : url;
	const char *at = strrchr(user, '@');
	const char *colon = at ? memchr(user, ':', (size_t)(at - user)) : NULL;
	if (!colon) {
		str_copy(out, url, cap);
		return;
	}
	snprintf(out, cap, "%.*s***%s", (int)(colon + 1 - url), url, at);
}

/* Defence in depth: conf.c masks passwords in its messages, but a password must
 * never reach a terminal or a log, so any verbatim copy of the URL is replaced. */
static void scrub_secret(char *err, size_t errlen, const char *url)
{
	char masked[URL_MAX + 8], out[CLI_ERR_MAX];
	mask_url(url, masked, sizeof(masked));
	if (strcmp(masked, url) == 0)
		return;
	char *hit = strstr(err, url);
	if (!hit)
		return;
	/* Cut short is fine: the masked URL comes before anything lost. */
	if (snprintf(out, sizeof(out), "%.*s%s%s", (int)(hit - err), err, masked,
		     hit + strlen(url)) < 0)
		return;
	str_copy(err, out, errlen);
}

static const char *level_name(enum log_level l)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	return names[l];
}

static enum log_level verbosity_level(int v)
{
	int l = LOG_WARN + v;
	return l < LOG_ERROR ? LOG_ERROR : l > LOG_DEBUG ? LOG_DEBUG : (enum log_level)l;
}

/* Config file, then environment, then options: each later layer wins, as the
 * library will see them (it reads SOCKSIFY_CONF, then the variables we set). */
static bool build_conf(const struct cli_opts *o, struct socksify_conf *c, char *conf_path,
		       size_t cap, char *err, size_t errlen)
{
	conf_defaults(c);
	if (!find_config(o, conf_path, cap, err, errlen))
		return false;
	if (*conf_path && !conf_load_file(c, conf_path, err, errlen))
		return false;
	if (!conf_apply_env(c, getenv_const, err, errlen))
		return false;

	if (o->nproxies)
		c->nproxies = 0; /* -p replaces the chain from the file and environment */
	for (size_t i = 0; i < o->nproxies; i++) {
		if (!conf_set(c, "proxy", o->proxies[i], "option -p", err, errlen)) {
			scrub_secret(err, errlen, o->proxies[i]);
			return false;
		}
	}
	if (o->dns && !conf_set(c, "dns", o->dns, "option -d", err, errlen))
		return false;
	if (o->udp && !conf_set(c, "udp", o->udp, "option -u", err, errlen))
		return false;
	for (size_t i = 0; i < o->ndirect; i++)
		if (!conf_set(c, "direct", o->direct[i], "option -x", err, errlen))
			return false;
	if (o->log_set)
		c->log_level = verbosity_level(o->verbosity);
	if (o->log_file && !conf_set(c, "log_file", o->log_file, "option -L", err, errlen))
		return false;
	return conf_finish(c, err, errlen);
}

/* ---- what the library gets ---- */

/* Joins strings with ',' after prefix (which may be NULL or empty). A ',' inside an
 * item becomes %2C: only a URL's user or password can hold one, and there it is
 * percent-decoded back, so the credentials arrive exactly as given. */
static char *join_list(const char *prefix, const char *const *items, size_t n)
{
	size_t cap = (prefix ? strlen(prefix) : 0) + 1;
	for (size_t i = 0; i < n; i++)
		cap += strlen(items[i]) * 3 + 1;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	size_t len = prefix ? str_copy(s, prefix, cap) : 0;
	s[len] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (len)
			s[len++] = ',';
		for (const char *p = items[i]; *p; p++) {
			if (*p == ',') {
				memcpy(s + len, "%2C", 3);
				len += 3;
			} else {
				s[len++] = *p;
			}
		}
		s[len] = '\0';
	}
	return s;
}

static bool put_owned(struct env_set *e, const char *name, char *value, char *err, size_t errlen)
{
	if (!value) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	bool ok = env_put(e, name, value, err, errlen);
	free(value);
	return ok;
}

/* Only what the options changed is set: a variable already in our environment
 * reaches the library unchanged, and the config file is named by SOCKSIFY_CONF. */
static bool build_env(const struct cli_opts *o, const struct socksify_conf *c,
		      const char *conf_path, const char *lib, struct env_set *e, char *err,
		      size_t errlen)
{
	if (!put_owned(e, "LD_PRELOAD", env_preload_value(lib, getenv("LD_PRELOAD"), err, errlen),
		       err, errlen))
		return false;
	if (*conf_path && !env_put(e, "SOCKSIFY_CONF", conf_path, err, errlen))
		return false;
	if (o->nproxies &&
	    !put_owned(e, "SOCKSIFY_PROXY", join_list(NULL, o->proxies, o->nproxies), err, errlen))
		return false;
	if (o->dns && !env_put(e, "SOCKSIFY_DNS", o->dns, err, errlen))
		return false;
	if (o->udp && !env_put(e, "SOCKSIFY_UDP", o->udp, err, errlen))
		return false;
	if (o->ndirect && !put_owned(e, "SOCKSIFY_DIRECT",
				     join_list(getenv("SOCKSIFY_DIRECT"), o->direct, o->ndirect),
				     err, errlen))
		return false;
	if (o->log_set && !env_put(e, "SOCKSIFY_LOG", level_name(c->log_level), err, errlen))
		return false;
	if (o->log_file) {
		char abs[PATH_MAX];
		/* Absolute, since the program may chdir before the library opens it. */
		if (!env_abs_path(o->log_file, abs, sizeof(abs), err, errlen) ||
		    !env_put(e, "SOCKSIFY_LOG_FILE", abs, err, errlen))
			return false;
	}
	return env_put_remote_dns(c, e, err, errlen);
}

/* ---- exec ---- */

static int run_command(char **command, const char *lib, const struct socksify_conf *c,
		       const struct cli_opts *o)
{
	char path[PATH_MAX];
	struct sv_elf elf = {0};
	bool found = probe_resolve(command[0], path, sizeof(path));
	bool supervise = o->mode == SV_SUPERVISE || o->jail;

	/* What LD_PRELOAD cannot reach (static, Go) goes under the supervisor. */
	if (found && o->mode == SV_AUTO && sv_elf_probe(path, &elf) && elf.native &&
	    (elf.is_static || elf.is_go))
		supervise = true;
	if (supervise)
		return sv_run(command, c, o->jail);
	if (found)
		probe_warn(path, lib);
	fflush(NULL);
	/* The file execvp would find, without its walk of failing execve()s over PATH;
	 * anything unusual (a script with no #!, a file gone meanwhile) is execvp's. */
	if (found)
		execv(path, command);
	return cli_exec(command);
}

int cli_exec(char **command)
{
	execvp(command[0], command);
	/* Shell conventions: not found 127, found but not runnable 126. */
	int e = errno;
	if (e == ENOENT || e == ENOTDIR) {
		if (strchr(command[0], '/'))
			cli_err("%s: %s", command[0], strerror(e));
		else
			cli_err("%s: command not found", command[0]);
		return CLI_EXIT_NOTFOUND;
	}
	cli_err("%s: %s", command[0], strerror(e));
	return CLI_EXIT_NOEXEC;
}

int main(int argc, char **argv)
{
	struct cli_opts opts = {0};
	struct env_set env = {0};
	static struct socksify_conf conf; /* large: keep it off the stack */
	char err[CLI_ERR_MAX], conf_path[PATH_MAX], lib[PATH_MAX];
	int rc = parse_args(argc, argv, &opts);
	if (rc >= 0)
		goto out;
	rc = CLI_EXIT_FAIL;
	cli_quiet = opts.verbosity < 0;
	if (opts.system != 0) {
		rc = system_main(opts.system, opts.root, opts.proxies, opts.nproxies);
		goto out;
	}

	err[0] = '\0';
	if (!build_conf(&opts, &conf, conf_path, sizeof(conf_path), err, sizeof(err))) {
		cli_err("%s", err);
		goto out;
	}
	if (opts.check || opts.route_dest) {
		/* After eval "$(socksify --env)" the library is in our own process, and
		 * it would tunnel or fake the probes' own lookups and connections: run
		 * again without it (once: the second time there is nothing to strip). */
		if (env_strip_library()) {
			fflush(NULL);
			execv("/proc/self/exe", argv);
		}
		rc = opts.check ? check_run(&conf, opts.check_dest) : route_run(&conf, opts.route_dest);
		goto out;
	}
	if (!env_find_library(lib, sizeof(lib), err, sizeof(err)) ||
	    !build_env(&opts, &conf, conf_path, lib, &env, err, sizeof(err))) {
		cli_err("%s", err);
		goto out;
	}
	if (opts.env) {
		env_print(&env);
		rc = fflush(stdout) == 0 ? 0 : CLI_EXIT_FAIL;
		goto out;
	}
	if (!env_apply(&env, err, sizeof(err))) {
		cli_err("%s", err);
		goto out;
	}
	rc = run_command(opts.command, lib, &conf, &opts);
out:
	env_free(&env);
	return rc;
}

/* Start-up of libsocksify.so and its configuration. The one constructor (here) only
 * resolves the real symbols and registers every file's fork handlers: loading the
 * library must cost next to nothing, since under /etc/ld.so.preload every process of
 * the machine pays it. The configuration is read once, on the first network call
 * that needs it, and is immutable afterwards. It ends in one of three states:
 *   configured  a config file or SOCKSIFY_* settings: connections go through the chain
 *   broken      they do not parse (or, under AT_SECURE, the file is not trusted):
 *               logged once, and every connection that would be proxied fails
 *   inert       nothing configured in a machine-wide install, PID 1, socksifyd, or an
 *               exclude_program: every call goes to libc as if we were not loaded
 * Under AT_SECURE the environment is ignored and only a root-owned, not group- or
 * world-writable /etc/socksify.conf counts. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "shim.h"

enum shim_state { SHIM_CONFIGURED, SHIM_BROKEN, SHIM_INERT };

static struct socksify_conf shim_config;
static enum shim_state shim_state;
static pthread_once_t shim_conf_once = PTHREAD_ONCE_INIT;

/* libc's data the configuration needs: environ and the program's name. Taken with
 * dlsym when the configuration is read, not by address: each data symbol a library
 * names is looked up by ld.so at load (some 650 instructions of `true`'s start-up
 * each, in every process of the machine), a function only on its first call. */
static void *shim_libc_data(const char *name)
{
	void **p = dlsym(RTLD_DEFAULT, name);

	return p != NULL ? *p : NULL;
}

static const char *shim_getenv(const char *name)
{
	return getenv(name);
}

/* Plain loops, no libc call: the constructor runs this in every process of the
 * machine, and each libc function would cost a lazy PLT binding there (some 700
 * instructions of ld.so each, more than the rest of our start-up). */
static bool shim_prefix(const char *s, const char *p)
{
	while (*p != '\0' && *s == *p)
		s++, p++;
	return *p == '\0';
}

static bool shim_contains(const char *s, const char *w)
{
	for (; *s != '\0'; s++)
		if (shim_prefix(s, w))
			return true;
	return false;
}

static bool shim_env_asks(char **env)
{
	for (char **e = env; e != NULL && *e != NULL; e++) {
		if (shim_prefix(*e, "LD_PRELOAD=") && shim_contains(*e + 11, "libsocksify"))
			return true;
		/* SOCKSIFY_NAMETABLE is bookkeeping handed down a process tree, not a
		 * setting. */
		if (shim_prefix(*e, "SOCKSIFY_") && !shim_prefix(*e, "SOCKSIFY_NAMETABLE="))
			return true;
	}
	return false;
}

bool shim_asked_for(void)
{
	return shim_env_asks(shim_libc_data("environ"));
}

/* Programs never touched whatever the config says: PID 1 (a machine, or a PID
 * namespace, must boot even with a broken proxy), socksifyd, which is the proxy, and
 * the launcher, whose --check and --system-status talk to the proxies themselves. */
static bool shim_hands_off(void)
{
	const char *me = shim_libc_data("program_invocation_short_name");

	if (me == NULL)
		me = "";
	return getpid() == 1 || strcmp(me, "socksifyd") == 0 || strcmp(me, "socksify") == 0;
}

static bool shim_excluded(const struct socksify_conf *c)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (c->nexclude == 0)
		return false;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		const char *name = shim_libc_data("program_invocation_name");
		return name != NULL && conf_excludes(c, name);
	}
	exe[n] = '\0';
	return conf_excludes(c, exe);
}

/* What an inert library answers to hooks that ask for the configuration: local DNS,
 * direct UDP, every destination direct. Hooks that check shim_inert() never get here. */
static void shim_passthrough(struct socksify_conf *c)
{
	char err[64];

	conf_defaults(c);
	c->dns = DNS_LOCAL;
	c->udp = UDP_DIRECT;
	conf_set(c, "direct", "0.0.0.0/0", NULL, err, sizeof(err));
	conf_set(c, "direct", "::/0", NULL, err, sizeof(err));
}

/* Where messages go. Asked for by name: stderr (or log_file), as a tool would. Machine
 * wide: syslog, one non-blocking datagram per message, never a program's stderr
 * (scripts read it; a daemon's may be a closed or foreign fd). A log_file comes only
 * from a file, never from the environment under AT_SECURE (conf_apply_env is skipped). */
static void shim_open_log(const struct socksify_conf *c, bool machine_wide)
{
	int fd = machine_wide ? LOG_TO_SYSLOG : 2;

	if (c->log_file[0] != '\0') {
		int lfd = log_open_file(c->log_file);
		if (lfd >= 0) {
			/* Moved high and registered, so the program's closefrom()/dup2()
			 * sweeps neither close it nor get their fd numbers taken by it. */
			int moved = fdreg_relocate_internal(lfd);
			fd = moved >= 0 ? moved : lfd;
			if (moved < 0)
				fdreg_set_internal(lfd);
		}
	}
	log_setup("socksify", c->log_level, fd, 0);
}

static enum shim_state shim_read(struct socksify_conf *c, bool secure, bool asked, char *err,
				 size_t errlen)
{
	char path[CONF_PATH_MAX];

	conf_defaults(c);
	if (!conf_find(NULL, secure, shim_getenv, path, sizeof(path), err, errlen))
		return SHIM_BROKEN;
	if (path[0] == '\0' && (secure || !asked))
		return SHIM_INERT;
	if (path[0] != '\0' && !(secure ? conf_load_trusted : conf_load_file)(c, path, err, errlen))
		return SHIM_BROKEN;
	if (!secure && !conf_apply_env(c, shim_getenv, err, errlen))
		return SHIM_BROKEN;
	if (!conf_finish(c, err, errlen))
		return SHIM_BROKEN;
	return shim_excluded(c) ? SHIM_INERT : SHIM_CONFIGURED;
}

static void shim_load_conf(void)
{
	struct socksify_conf *c = &shim_config;
	bool secure = getauxval(AT_SECURE) != 0;
	bool asked = !secure && shim_asked_for();
	char err[512] = "";
	/* The file search leaves ENOENT behind; whichever hook happened to load the
	 * configuration first must not hand that to the program. */
	int saved_errno = errno;

	shim_setup_begin();
	shim_inside++;
	shim_state = shim_hands_off() ? SHIM_INERT : shim_read(c, secure, asked, err, sizeof(err));
	if (shim_state == SHIM_CONFIGURED) {
		shim_open_log(c, !asked);
	} else if (shim_state == SHIM_INERT) {
		shim_passthrough(c);
	} else {
		/* Still honour the level asked for, so -q stays quiet about the rest. */
		log_setup("socksify", LOG_WARN, asked ? 2 : LOG_TO_SYSLOG, 0);
		LOG_ERR("bad configuration, proxied connections will fail: %s", err);
		/* Machine wide, once per process is enough: the failing connections
		 * themselves say nothing more (each program sees its errno). */
		if (!asked)
			log_setup(NULL, LOG_ERROR, -1, 0);
	}
	shim_inside--;
	shim_setup_end();
	errno = saved_errno;
}

bool shim_inert(void)
{
	pthread_once(&shim_conf_once, shim_load_conf);
	return shim_state == SHIM_INERT;
}

const struct socksify_conf *shim_conf(void)
{
	pthread_once(&shim_conf_once, shim_load_conf);
	return shim_state != SHIM_BROKEN ? &shim_config : NULL;
}

/* ---- fork ----
 * One registration for the whole library (one __register_atfork at start-up instead
 * of one per file). The order is the lock order: prepare takes the outer locks first
 * (the resolver's table and caches, then the set-up lock, the chain's cache, the
 * asynchronous connects'), the parent releases them in reverse, and the child, with
 * one thread left, starts each file's state afresh in the order the parent's
 * release runs. */
static void shim_atfork_prepare(void)
{
	dg_atfork_prepare(); /* takes and releases its locks: before the others are held */
	rs_atfork_prepare();
	guard_atfork_prepare();
	chain_atfork_prepare();
	async_atfork_prepare();
}

static void shim_atfork_parent(void)
{
	async_atfork_parent();
	chain_atfork_parent();
	guard_atfork_parent();
	rs_atfork_parent();
}

static void shim_atfork_child(void)
{
	async_atfork_child();
	chain_atfork_child();
	dg_atfork_child();
	fdops_atfork_child();
	guard_atfork_child();
	localnames_atfork_child();
	pipe_atfork_child();
	rs_atfork_child();
}

/* The library's one constructor. glibc's ld.so calls constructors with the
 * process's (argc, argv, envp), whether preloaded or dlopen()ed: the environment
 * without the address of environ (see shim_libc_data). */
__attribute__((constructor)) static void shim_init(int argc, char **argv, char **envp)
{
	/* Only what is cheap: the symbol table, and the fork handlers (no system call).
	 * No config parsing, no allocation, no thread, no fd (the logger's defaults are
	 * static: warn, stderr). Machine wide, not even the symbol table: every process
	 * of the machine starts here, and real() resolves the table on first use anyway
	 * (pthread_once's wake-up is a futex call that `true` has no use for). */
	pthread_atfork(shim_atfork_prepare, shim_atfork_parent, shim_atfork_child);
	if (shim_env_asks(envp))
		real_init();
}

void shim_relocate_log(int fd)
{
	int nfd = fdreg_relocate_internal(fd);

	if (fd == log_get_fd())
		log_setup(NULL, log_get_level(), nfd, 0);
}

void shim_lost_internal(int fd)
{
	fdreg_clear(fd);
	if (fd == log_get_fd())
		log_setup(NULL, log_get_level(), 2, 0);
}

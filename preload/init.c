/* Start-up of libsocksify.so and its configuration. The constructors only resolve
 * the real symbols (here) and register fork handlers (fdops.c, chain.c): loading the
 * library must cost next to nothing. The configuration is read once, on the first
 * connect that needs it, from SOCKSIFY_* or the config file, and is immutable
 * afterwards. Under AT_SECURE only a root-owned /etc/socksify.conf counts. A bad
 * configuration never ends the program: it is logged once and proxied connects fail. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "shim.h"

#define SHIM_SYSTEM_CONF "/etc/socksify.conf"

static struct socksify_conf shim_config;
static bool shim_config_ok;
static pthread_once_t shim_conf_once = PTHREAD_ONCE_INIT;

static const char *shim_getenv(const char *name)
{
	return getenv(name);
}

/* Under AT_SECURE a config is trusted only if root owns it and no one else can write. */
static bool shim_conf_trusted(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return false;
	return st.st_uid == 0 && !(st.st_mode & (S_IWGRP | S_IWOTH)) && S_ISREG(st.st_mode);
}

/* The file the user meant: $SOCKSIFY_CONF (must exist), else the first that exists
 * of ~/.config/socksify/socksify.conf and /etc/socksify.conf (none is fine). */
static bool shim_load_file(struct socksify_conf *c, bool secure, char *err, size_t errlen)
{
	char path[CONF_PATH_MAX];
	const char *env = secure ? NULL : getenv("SOCKSIFY_CONF");
	const char *home = secure ? NULL : getenv("HOME");

	if (secure) {
		if (!shim_conf_trusted(SHIM_SYSTEM_CONF))
			return true;
		return conf_load_file(c, SHIM_SYSTEM_CONF, err, errlen);
	}
	if (env != NULL && env[0] != '\0')
		return conf_load_file(c, env, err, errlen);
	if (home != NULL && home[0] != '\0') {
		int n = snprintf(path, sizeof(path), "%s/.config/socksify/socksify.conf", home);
		if (n > 0 && (size_t)n < sizeof(path) && access(path, R_OK) == 0)
			return conf_load_file(c, path, err, errlen);
	}
	if (access(SHIM_SYSTEM_CONF, R_OK) == 0)
		return conf_load_file(c, SHIM_SYSTEM_CONF, err, errlen);
	return true;
}

static void shim_open_log(const struct socksify_conf *c, bool secure)
{
	int fd = 2;

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

static void shim_load_conf(void)
{
	struct socksify_conf *c = &shim_config;
	bool secure = getauxval(AT_SECURE) != 0;
	char err[512] = "";
	bool ok;
	/* The file search leaves ENOENT behind; whichever hook happened to load the
	 * configuration first must not hand that to the program. */
	int saved_errno = errno;

	shim_setup_begin();
	shim_inside++;
	conf_defaults(c);
	ok = shim_load_file(c, secure, err, sizeof(err));
	if (ok && !secure)
		ok = conf_apply_env(c, shim_getenv, err, sizeof(err));
	if (ok)
		ok = conf_finish(c, err, sizeof(err));
	if (ok) {
		shim_open_log(c, secure);
	} else {
		/* Still honour the level asked for, so -q stays quiet about the rest. */
		log_setup("socksify", LOG_WARN, 2, 0);
		LOG_ERR("bad configuration, proxied connections will fail: %s", err);
	}
	shim_config_ok = ok;
	shim_inside--;
	shim_setup_end();
	errno = saved_errno;
}

const struct socksify_conf *shim_conf(void)
{
	pthread_once(&shim_conf_once, shim_load_conf);
	return shim_config_ok ? &shim_config : NULL;
}

__attribute__((constructor)) static void shim_init(void)
{
	/* Only what is cheap: the symbol table. No config parsing, no allocation,
	 * no thread, no fd (the logger's defaults are static: warn, stderr). */
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

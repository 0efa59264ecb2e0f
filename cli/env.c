/* How the launcher hands its settings to libsocksify.so: finding the library,
 * building LD_PRELOAD without losing what was there, and the SOCKSIFY_* variables,
 * either set for exec or printed as shell `export` lines (--env). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

#define LIB_NAME "libsocksify.so"

bool env_put(struct env_set *e, const char *name, const char *value, char *err, size_t errlen)
{
	char *copy = strdup(value);
	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	for (size_t i = 0; i < e->n; i++) {
		if (strcmp(e->vars[i].name, name) == 0) {
			free(e->vars[i].value);
			e->vars[i].value = copy;
			return true;
		}
	}
	if (e->n == ENV_MAX_VARS) {
		free(copy);
		snprintf(err, errlen, "too many environment variables");
		return false;
	}
	e->vars[e->n].name = name;
	e->vars[e->n].value = copy;
	e->n++;
	return true;
}

void env_free(struct env_set *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->vars[i].value);
	e->n = 0;
}

bool env_apply(const struct env_set *e, char *err, size_t errlen)
{
	for (size_t i = 0; i < e->n; i++) {
		if (setenv(e->vars[i].name, e->vars[i].value, 1) != 0) {
			snprintf(err, errlen, "setenv %s: %s", e->vars[i].name, strerror(errno));
			return false;
		}
	}
	return true;
}

/* With them in the environment, every command of a shell set up with --env agrees on
 * the ranges of the name table they share (SOCKSIFY_NAMETABLE), even if the config
 * file changes meanwhile; the library reads them as it reads the file's keys. */
bool env_put_remote_dns(const struct socksify_conf *c, struct env_set *e, char *err,
			size_t errlen)
{
	struct socksify_conf d;
	char grace[16];

	if (c->dns != DNS_REMOTE)
		return true;
	conf_defaults(&d);
	snprintf(grace, sizeof(grace), "%u", c->fake_grace_s);
	if (strcmp(c->fake_net4, d.fake_net4) != 0 &&
	    !env_put(e, "SOCKSIFY_FAKE_NET4", c->fake_net4, err, errlen))
		return false;
	if (strcmp(c->fake_net6, d.fake_net6) != 0 &&
	    !env_put(e, "SOCKSIFY_FAKE_NET6", c->fake_net6, err, errlen))
		return false;
	if (c->fake_grace_s != d.fake_grace_s &&
	    !env_put(e, "SOCKSIFY_FAKE_GRACE", grace, err, errlen))
		return false;
	if (c->dns_unspec != d.dns_unspec &&
	    !env_put(e, "SOCKSIFY_DNS_UNSPEC", conf_unspec_name(c->dns_unspec), err, errlen))
		return false;
	/* Empty means none, as the library reads it. */
	return strcmp(c->hosts_file, d.hosts_file) == 0 ||
	       env_put(e, "SOCKSIFY_HOSTS_FILE", c->hosts_file, err, errlen);
}

/* Single quotes protect everything in a POSIX shell except the single quote itself,
 * which is closed, escaped and reopened: ' -> '\'' */
static void print_quoted(const char *s)
{
	putchar('\'');
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	}
	putchar('\'');
}

void env_print(const struct env_set *e)
{
	for (size_t i = 0; i < e->n; i++) {
		printf("export %s=", e->vars[i].name);
		print_quoted(e->vars[i].value);
		putchar('\n');
	}
}

bool env_abs_path(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
	if (path[0] == '/') {
		if (str_copy(out, path, cap) >= cap)
			goto toolong;
		return true;
	}
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd))) {
		snprintf(err, errlen, "getcwd: %s", strerror(errno));
		return false;
	}
	int n = snprintf(out, cap, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, path);
	if (n < 0 || (size_t)n >= cap)
		goto toolong;
	return true;
toolong:
	snprintf(err, errlen, "path too long: %s", path);
	return false;
}

static bool is_regular_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ld.so splits LD_PRELOAD on ':' and ' ', so a path holding either cannot be
 * preloaded at all; better to say so than to have the library silently missing. */
static bool preloadable(const char *path, char *err, size_t errlen)
{
	if (strpbrk(path, ": \t\n")) {
		snprintf(err, errlen,
			 "library path '%s' contains ':' or white space, which LD_PRELOAD cannot carry",
			 path);
		return false;
	}
	return true;
}

bool env_find_library(char *out, size_t cap, char *err, size_t errlen)
{
	const char *named = getenv("SOCKSIFY_LIB");
	char buf[PATH_MAX];

	if (named && *named) {
		/* An explicit name that is wrong is an error, never a reason to fall back
		 * to some other copy: the user asked for that one. */
		struct stat st;
		if (stat(named, &st) != 0) {
			snprintf(err, errlen, "SOCKSIFY_LIB=%s: %s", named, strerror(errno));
			return false;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "SOCKSIFY_LIB=%s: not a regular file", named);
			return false;
		}
		if (!realpath(named, buf)) {
			snprintf(err, errlen, "SOCKSIFY_LIB=%s: %s", named, strerror(errno));
			return false;
		}
		goto found;
	}

	/* Next to our own executable, so that build/socksify uses build/libsocksify.so. */
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		char *slash = strrchr(buf, '/');
		if (slash && (size_t)(slash - buf) + 1 + sizeof(LIB_NAME) <= sizeof(buf)) {
			memcpy(slash + 1, LIB_NAME, sizeof(LIB_NAME));
			if (is_regular_file(buf))
				goto found;
		}
	}

	if (snprintf(buf, sizeof(buf), "%s/lib/socksify/%s", SOCKSIFY_PREFIX, LIB_NAME) <
		    (int)sizeof(buf) &&
	    is_regular_file(buf))
		goto found;

	snprintf(err, errlen,
		 "cannot find %s (not next to this program, nor in %s/lib/socksify/); "
		 "set SOCKSIFY_LIB to its path",
		 LIB_NAME, SOCKSIFY_PREFIX);
	return false;
found:
	if (!preloadable(buf, err, errlen))
		return false;
	if (str_copy(out, buf, cap) >= cap) {
		snprintf(err, errlen, "library path too long: %s", buf);
		return false;
	}
	return true;
}

/* The same file under another spelling (a symlink, a relative path) counts as
 * the library too, so that it is never loaded twice. */
static bool same_file(const char *a, const char *b)
{
	if (strcmp(a, b) == 0)
		return true;
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

char *env_preload_value(const char *lib, const char *old, char *err, size_t errlen)
{
	size_t cap = strlen(lib) + (old ? strlen(old) : 0) + 2;
	char *val = malloc(cap), *copy = NULL;
	if (!val)
		goto nomem;
	size_t len = str_copy(val, lib, cap);
	if (!old || !*old)
		return val;

	copy = strdup(old);
	if (!copy)
		goto nomem;
	/* ld.so accepts both ':' and ' ' as separators; we join with ':'. */
	char *save = NULL;
	for (char *tok = strtok_r(copy, ": \t", &save); tok; tok = strtok_r(NULL, ": \t", &save)) {
		if (same_file(tok, lib))
			continue;
		/* cap holds lib + old + 2, so one ':' per kept token always fits. */
		len += (size_t)snprintf(val + len, cap - len, ":%s", tok);
	}
	free(copy);
	return val;
nomem:
	free(val);
	snprintf(err, errlen, "out of memory");
	return NULL;
}

/* True for an LD_PRELOAD entry that is some copy of our library. */
static bool is_our_library(const char *entry)
{
	const char *base = strrchr(entry, '/');
	return strcmp(base ? base + 1 : entry, LIB_NAME) == 0;
}

bool env_strip_library(void)
{
	const char *old = getenv("LD_PRELOAD");
	if (!old || !*old)
		return false;
	char *copy = strdup(old), *val = malloc(strlen(old) + 1);
	bool changed = false;
	if (!copy || !val)
		goto out;
	size_t len = 0;
	char *save = NULL;
	val[0] = '\0';
	for (char *tok = strtok_r(copy, ": \t", &save); tok; tok = strtok_r(NULL, ": \t", &save)) {
		if (is_our_library(tok)) {
			changed = true;
			continue;
		}
		/* val has room for all of old, and we only ever copy less. */
		len += (size_t)snprintf(val + len, strlen(old) + 1 - len, "%s%s", len ? ":" : "", tok);
	}
	if (changed && (*val ? setenv("LD_PRELOAD", val, 1) : unsetenv("LD_PRELOAD")) != 0)
		changed = false;
out:
	free(copy);
	free(val);
	return changed;
}

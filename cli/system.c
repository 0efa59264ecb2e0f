/* socksify --install-system / --uninstall-system / --system-status: the library for
 * every dynamic program of the machine, through /etc/ld.so.preload. The one line we
 * add names the library by ld.so's $LIB token, so each ELF class finds its own build
 * (a 64-bit path in a 32-bit process would print "wrong ELF class" in every 32-bit
 * program, and an absent file prints "cannot be preloaded": both go to stderr).
 * Every file is replaced atomically (temp file in the same directory, fsync, rename,
 * fsync of the directory), so a crash leaves the old file or the new one, never half;
 * the old ld.so.preload is kept as ld.so.preload.socksify-bak. All paths sit under
 * --root DIR (default /) so tests can run on a scratch tree. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

#define SYS_PRELOAD "/etc/ld.so.preload"
#define SYS_BACKUP "/etc/ld.so.preload.socksify-bak"
/* What ld.so expands $LIB to for this build's ELF class, and for 32-bit programs on
 * Debian: lib32 (the biarch libc6-i386) or lib/i386-linux-gnu (multiarch i386). */
#ifndef SOCKSIFY_LIBTOK
#define SOCKSIFY_LIBTOK "lib/x86_64-linux-gnu"
#endif
static const char *const sys_libtok32[] = { "lib32", "lib/i386-linux-gnu" };
#define SYS_LINE SOCKSIFY_PREFIX "/$LIB/socksify/libsocksify.so"
#define SYS_PRELOAD_MAX (64 * 1024) /* ld.so.preload larger than this: refuse */

struct sys_ctx {
	const char *root; /* "" for / */
	char err[CLI_ERR_MAX];
};

static bool sys_path(const struct sys_ctx *s, const char *path, char *out, size_t cap)
{
	return (size_t)snprintf(out, cap, "%s%s", s->root, path) < cap;
}

/* Reads a whole small file into buf (NUL-terminated). Missing: true with *len 0 and
 * *exists false. */
static bool sys_read(struct sys_ctx *s, const char *path, char *buf, size_t cap, size_t *len,
		     bool *exists)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	ssize_t n;

	*len = 0;
	*exists = fd >= 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return true;
		snprintf(s->err, sizeof(s->err), "%.900s: %s", path, strerror(errno));
		return false;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(s->err, sizeof(s->err), "%.900s: not a regular file", path);
		close(fd);
		return false;
	}
	while ((n = read(fd, buf + *len, cap - 1 - *len)) > 0)
		*len += (size_t)n;
	close(fd);
	if (n < 0 || *len >= cap - 1) {
		snprintf(s->err, sizeof(s->err), "%.900s: %s", path,
			 n < 0 ? strerror(errno) : "too large");
		return false;
	}
	buf[*len] = '\0';
	return true;
}

/* Replaces path by data atomically, root-owned, with mode. */
static bool sys_write(struct sys_ctx *s, const char *path, const char *data, size_t len,
		      mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, dfd;
	ssize_t n = 0;
	size_t off = 0;

	if (slash == NULL || (size_t)snprintf(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX",
					      (int)(slash - path), path, slash + 1) >= sizeof(tmp)) {
		snprintf(s->err, sizeof(s->err), "%.900s: path too long", path);
		return false;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(s->err, sizeof(s->err), "cannot write in the directory of %.900s: %s", path,
			 strerror(errno));
		return false;
	}
	while (off < len && (n = write(fd, data + off, len - off)) > 0)
		off += (size_t)n;
	if (off < len || fchmod(fd, mode) != 0 || fchown(fd, 0, 0) != 0 || fsync(fd) != 0) {
		snprintf(s->err, sizeof(s->err), "cannot write %.900s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return false;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		snprintf(s->err, sizeof(s->err), "cannot replace %.900s: %s", path, strerror(errno));
		unlink(tmp);
		return false;
	}
	/* The rename itself must reach the disk too. */
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	dfd = open(dir[0] != '\0' ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return true;
}

static bool sys_mkdirs(struct sys_ctx *s, const char *path)
{
	char buf[PATH_MAX];

	if (str_copy(buf, path, sizeof(buf)) >= sizeof(buf))
		return false;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
			snprintf(s->err, sizeof(s->err), "cannot create %.900s: %s", buf,
				 strerror(errno));
			return false;
		}
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
		snprintf(s->err, sizeof(s->err), "cannot create %.900s: %s", buf, strerror(errno));
		return false;
	}
	return true;
}

/* Copies the library file src to PREFIX/TOK/socksify/libsocksify.so under the root. */
static bool sys_install_lib(struct sys_ctx *s, const char *src, const char *tok)
{
	static char data[16 * 1024 * 1024];
	char dir[PATH_MAX], dst[PATH_MAX], rel[PATH_MAX];
	size_t len;
	bool exists;

	snprintf(rel, sizeof(rel), "%s/%s/socksify", SOCKSIFY_PREFIX, tok);
	if (!sys_path(s, rel, dir, sizeof(dir)) ||
	    (size_t)snprintf(dst, sizeof(dst), "%s/libsocksify.so", dir) >= sizeof(dst)) {
		snprintf(s->err, sizeof(s->err), "path too long under %.900s", s->root);
		return false;
	}
	if (!sys_read(s, src, data, sizeof(data), &len, &exists))
		return false;
	if (!exists) {
		snprintf(s->err, sizeof(s->err), "%.900s: %s", src, strerror(ENOENT));
		return false;
	}
	if (!sys_mkdirs(s, dir) || !sys_write(s, dst, data, len, 0644))
		return false;
	printf("installed %s\n", dst);
	return true;
}

/* Is this ld.so.preload line ours? Entries are separated by blanks; '#' comments. */
static bool sys_is_our_line(const char *line, size_t len)
{
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	return len == strlen(SYS_LINE) && memcmp(line, SYS_LINE, len) == 0;
}

/* Copies text without our lines into out; returns how many of ours there were. */
static size_t sys_strip(const char *text, size_t len, char *out, size_t *outlen)
{
	size_t ours = 0, o = 0, i = 0;

	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;

		if (sys_is_our_line(text + i, end - i)) {
			ours++;
		} else {
			memcpy(out + o, text + i, end - i);
			o += end - i;
			if (nl != NULL)
				out[o++] = '\n';
		}
		i = nl != NULL ? end + 1 : len;
	}
	*outlen = o;
	return ours;
}

static int sys_preload_edit(struct sys_ctx *s, bool add)
{
	static char text[SYS_PRELOAD_MAX + 1], out[SYS_PRELOAD_MAX + 256];
	char path[PATH_MAX], bak[PATH_MAX];
	size_t len, olen;
	bool exists;

	if (!sys_path(s, SYS_PRELOAD, path, sizeof(path)) ||
	    !sys_path(s, SYS_BACKUP, bak, sizeof(bak)) ||
	    !sys_read(s, path, text, sizeof(text), &len, &exists))
		return -1;
	size_t ours = sys_strip(text, len, out, &olen);
	if (add && ours == 1) {
		printf("%s already has the line %s\n", path, SYS_LINE);
		return 0;
	}
	if (!add && ours == 0) {
		printf("%s does not have the line %s: nothing to do\n", path, SYS_LINE);
		return 0;
	}
	if (add) {
		/* Ours goes last, after a newline the old text may have lacked. */
		if (olen > 0 && out[olen - 1] != '\n')
			out[olen++] = '\n';
		olen += (size_t)snprintf(out + olen, sizeof(out) - olen, "%s\n", SYS_LINE);
	}
	if (exists && !sys_write(s, bak, text, len, 0644))
		return -1;
	if (!sys_write(s, path, out, olen, 0644))
		return -1;
	printf("%s: %s %s\n", path, add ? "added" : "removed", SYS_LINE);
	return 1;
}

/* Parses the config at path as the library will (AT_SECURE rules included, since
 * set-user-ID programs read it too). */
static bool sys_conf_ok(struct sys_ctx *s, const char *path, struct socksify_conf *c)
{
	conf_defaults(c);
	return conf_load_trusted(c, path, s->err, sizeof(s->err)) &&
	       conf_finish(c, s->err, sizeof(s->err));
}

/* The example file shipped beside the launcher (source tree or PREFIX/share/doc). */
static bool sys_find_example(char *out, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat st;

	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(out, cap, "%s/../socksify.conf.example", exe) < cap &&
			    stat(out, &st) == 0)
				return true;
		}
	}
	return (size_t)snprintf(out, cap, "%s/share/doc/socksify/socksify.conf.example",
				SOCKSIFY_PREFIX) < cap &&
	       stat(out, &st) == 0;
}

/* Writes the config from the proxies given (replacing the old one), or from the
 * example when there is none; then checks that it parses. */
static bool sys_config(struct sys_ctx *s, const char *const *proxies, size_t n,
		       struct socksify_conf *c)
{
	static char text[CONF_FILE_MAX + 1];
	char path[PATH_MAX], ex[PATH_MAX];
	size_t len = 0;
	bool exists;
	struct stat st;

	if (!sys_path(s, CONF_SYSTEM_PATH, path, sizeof(path)))
		return false;
	if (n > 0) {
		len = (size_t)snprintf(text, sizeof(text),
				       "# Written by socksify --install-system; every key is "
				       "described in socksify.conf.example.\n");
		for (size_t i = 0; i < n && len < sizeof(text); i++)
			len += (size_t)snprintf(text + len, sizeof(text) - len, "proxy = %s\n",
						proxies[i]);
		conf_defaults(c);
		if (!conf_load_buf(c, text, len, "option -p", s->err, sizeof(s->err)) ||
		    !conf_finish(c, s->err, sizeof(s->err)))
			return false;
	} else if (stat(path, &st) != 0) {
		if (!sys_find_example(ex, sizeof(ex)) ||
		    !sys_read(s, ex, text, sizeof(text), &len, &exists) || !exists) {
			snprintf(s->err, sizeof(s->err),
				 "no %.900s and no socksify.conf.example to start from: give -p URL",
				 path);
			return false;
		}
	}
	if (len > 0) {
		if (!sys_write(s, path, text, len, 0644))
			return false;
		printf("wrote %s\n", path);
	}
	return sys_conf_ok(s, path, c);
}

static int sys_install(struct sys_ctx *s, const char *const *proxies, size_t n)
{
	static struct socksify_conf c;
	char lib[PATH_MAX], lib32[PATH_MAX + 16];
	struct stat st;

	if (!sys_config(s, proxies, n, &c)) {
		cli_err("not enabled: %s", s->err);
		return 1;
	}
	if (!env_find_library(lib, sizeof(lib), s->err, sizeof(s->err)) ||
	    !sys_install_lib(s, lib, SOCKSIFY_LIBTOK)) {
		cli_err("not enabled: %s", s->err);
		return 1;
	}
	/* The 32-bit build sits in 32/ beside the library; without it 32-bit programs
	 * would print ld.so's "cannot be preloaded" line on every start. */
	snprintf(lib32, sizeof(lib32), "%.*s/32/libsocksify.so",
		 (int)(strrchr(lib, '/') - lib), lib);
	if (stat(lib32, &st) == 0) {
		for (size_t i = 0; i < sizeof(sys_libtok32) / sizeof(sys_libtok32[0]); i++)
			if (!sys_install_lib(s, lib32, sys_libtok32[i])) {
				cli_err("not enabled: %s", s->err);
				return 1;
			}
	} else {
		cli_warn("no 32-bit library (%s): 32-bit programs will print an ld.so error "
			 "line (build it with gcc-multilib installed)",
			 lib32);
	}
	if (sys_preload_edit(s, true) < 0) {
		cli_err("not enabled: %s", s->err);
		return 1;
	}
	return 0;
}

static int sys_uninstall(struct sys_ctx *s)
{
	if (sys_preload_edit(s, false) < 0) {
		cli_err("%s", s->err);
		return 1;
	}
	return 0;
}

static int sys_status(struct sys_ctx *s)
{
	static char text[SYS_PRELOAD_MAX + 1], rest[SYS_PRELOAD_MAX + 1];
	static struct socksify_conf c;
	char path[PATH_MAX], cpath[PATH_MAX];
	size_t len, rlen;
	bool exists, on, parses;
	int rc;

	if (!sys_path(s, SYS_PRELOAD, path, sizeof(path)) ||
	    !sys_path(s, CONF_SYSTEM_PATH, cpath, sizeof(cpath)) ||
	    !sys_read(s, path, text, sizeof(text), &len, &exists)) {
		cli_err("%s", s->err);
		return 1;
	}
	on = sys_strip(text, len, rest, &rlen) > 0;
	printf("preload: %s: %s %s the line %s\n", on ? "enabled" : "disabled", path,
	       on ? "has" : "lacks", SYS_LINE);
	parses = sys_conf_ok(s, cpath, &c);
	if (parses)
		printf("config:  %s parses (%zu prox%s)\n", cpath, c.nproxies,
		       c.nproxies == 1 ? "y" : "ies");
	else
		printf("config:  %s\n", s->err);
	if (!parses)
		return 1;
	fflush(stdout);
	rc = check_run(&c, NULL);
	return on && rc == 0 ? 0 : 1;
}

int system_main(enum system_cmd cmd, const char *root, const char *const *proxies, size_t n)
{
	static struct sys_ctx s;

	s.root = root != NULL && strcmp(root, "/") != 0 ? root : "";
	switch (cmd) {
	case SYSTEM_INSTALL:
		return sys_install(&s, proxies, n);
	case SYSTEM_UNINSTALL:
		return sys_uninstall(&s);
	case SYSTEM_STATUS:
		return sys_status(&s);
	}
	return CLI_EXIT_FAIL;
}

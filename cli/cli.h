/* The socksify launcher's internal interfaces: what main.c (options, config, exec)
 * needs from the environment builder, the ELF/setuid probe and the --check runner.
 * Errors cross these edges as false + a message; only main.c turns them into exit
 * statuses. */
#ifndef SOCKSIFY_CLI_H
#define SOCKSIFY_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

/* SPEC exit statuses of the launcher itself. */
#define CLI_EXIT_FAIL 125     /* socksify failed: option, config, library */
#define CLI_EXIT_NOEXEC 126   /* COMMAND exists but cannot be executed */
#define CLI_EXIT_NOTFOUND 127 /* COMMAND not found */

#define CLI_ERR_MAX 1024

/* stderr messages, prefixed "socksify: ". cli_warn() is silenced by -q. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern bool cli_quiet;

/* ---- environment (env.c) ---- */

/* One variable the launcher hands to the library (or prints with --env). */
struct env_var {
	const char *name;
	char *value; /* owned (malloc'd) */
};
#define ENV_MAX_VARS 16
struct env_set {
	struct env_var vars[ENV_MAX_VARS];
	size_t n;
};

/* Adds NAME=value (copied). Replaces an earlier value of the same name. */
bool env_put(struct env_set *e, const char *name, const char *value, char *err, size_t errlen);
void env_free(struct env_set *e);
/* setenv(3)s every variable. */
bool env_apply(const struct env_set *e, char *err, size_t errlen);
/* Prints `export NAME='value'` lines, single-quoted for any POSIX shell. */
void env_print(const struct env_set *e);

/* Finds libsocksify.so: $SOCKSIFY_LIB (which must exist), else next to our own
 * executable, else SOCKSIFY_PREFIX/lib/socksify/. Writes an absolute path. */
bool env_find_library(char *out, size_t cap, char *err, size_t errlen);
/* New LD_PRELOAD value: lib first, then every entry of old (may be NULL) that is not
 * lib already. Returns a malloc'd string. */
char *env_preload_value(const char *lib, const char *old, char *err, size_t errlen);
/* Removes every libsocksify.so from LD_PRELOAD; true when there was one. */
bool env_strip_library(void);
/* Absolute form of path (relative to the cwd); the file need not exist. */
bool env_abs_path(const char *path, char *out, size_t cap, char *err, size_t errlen);

/* ---- the COMMAND probe (probe.c) ---- */

/* Resolves COMMAND the way execvp does (PATH search when it has no '/'). Returns
 * false when nothing executable is found (the exec will report it). */
bool probe_resolve(const char *cmd, char *out, size_t cap);
/* Warns (one line each, via cli_warn) when the file at path cannot be reached by
 * LD_PRELOAD of lib: statically linked, another ELF class/machine than lib, or
 * set-user/group-ID or file capabilities that make the loader drop LD_PRELOAD. */
void probe_warn(const char *path, const char *lib);

/* ---- --check (check.c) ---- */

#define CHECK_DEFAULT_DEST "example.com:80"
/* Tests every hop of c's chain and prints a report on stdout. dest: "HOST:PORT" for
 * the CONNECT test (NULL: CHECK_DEFAULT_DEST). Returns the exit status: 0 when
 * everything the settings need works, 2 when the chain works (the last hop answered)
 * but dest cannot be reached through it, 1 when the chain does not work,
 * CLI_EXIT_FAIL for a bad dest. */
int check_run(const struct socksify_conf *c, const char *dest);

/* ---- socksify --route (route.c) ---- */
/* Prints the routing decision for HOST:PORT under c, as the library makes it.
 * Returns the exit status (0; 1 when the name does not resolve under dns=local). */
int route_run(const struct socksify_conf *c, const char *dest);

#endif

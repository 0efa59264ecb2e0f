/* Logging that is safe inside someone else's process: each message is formatted into
 * a stack buffer and written with one write(2) (no stdio, no allocation, no locks),
 * prefixed "PROG[pid]: LEVEL: ". The shim logs to stderr or log_file; the server to
 * stderr or -L FILE. */
#ifndef SOCKSIFY_LOG_H
#define SOCKSIFY_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "conf.h"

/* prog: "socksify" or "socksifyd". fd: where to write (2 by default). ts: prefix a
 * timestamp (the server does; the shim does not). */
void log_setup(const char *prog, enum log_level level, int fd, int ts);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
int log_get_fd(void);
void log_msg(enum log_level level, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level level, const char *func, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* "error", "warn", "info", "debug". */
const char *log_level_name(enum log_level level);
/* Room log_field needs for a field of n bytes: every byte escaped, quotes, NUL. */
#define LOG_FIELD_SIZE(n) (4 * (n) + 3)
/* The value of a key=value log field built from outside input (a user name, a host
 * name from a request): as is when it is printable ASCII without space, '"', '\\'
 * or '='; otherwise double-quoted with \" \\ and \xHH escapes, so no value can
 * end its field early or forge another. Writes into out (cap bytes, cut short at a
 * whole escape if it must) and returns it. */
const char *log_field(const char *s, char *out, size_t cap);
/* Opens PATH for appending (O_CLOEXEC, created 0600); returns the fd or -1 with errno
 * set. The caller passes it to log_setup. */
int log_open_file(const char *path);

#define log_enabled(l) ((l) <= log_get_level())
#define LOG_ERR(...) log_msg(LOG_ERROR, __func__, __VA_ARGS__)
#define LOG_WARN(...) log_msg(LOG_WARN, __func__, __VA_ARGS__)
#define LOG_INFO(...) log_msg(LOG_INFO, __func__, __VA_ARGS__)
#define LOG_DEBUG(...)                                                                    \
	do {                                                                                \
		if (log_enabled(LOG_DEBUG))                                                 \
			log_msg(LOG_DEBUG, __func__, __VA_ARGS__);                          \
	} while (0)

#endif

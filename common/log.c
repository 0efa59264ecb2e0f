/* The one logger of every component. Each message is built in a stack buffer and
 * leaves in a single write(2), so lines from threads and processes sharing a file
 * never interleave, and nothing here allocates, locks or changes errno. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* Long enough for any message we write; longer ones end in "...". */
#define LOG_LINE_MAX 2048

static char log_prog[32] = "socksify";
static enum log_level log_level = LOG_WARN;
static int log_fd = 2;
static int log_ts;

void log_setup(const char *prog, enum log_level level, int fd, int ts)
{
	if (prog != NULL)
		str_copy(log_prog, prog, sizeof(log_prog));
	log_level = level;
	log_fd = fd;
	log_ts = ts;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

int log_get_fd(void)
{
	return log_fd;
}

const char *log_level_name(enum log_level level)
{
	switch (level) {
	case LOG_ERROR:
		return "error";
	case LOG_WARN:
		return "warn";
	case LOG_INFO:
		return "info";
	case LOG_DEBUG:
		return "debug";
	}
	return "?";
}

int log_open_file(const char *path)
{
	int saved = errno;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);

	if (fd >= 0)
		errno = saved;
	return fd;
}

static bool log_field_plain(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '=')
			return false;
	}
	return true;
}

const char *log_field(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;

	if (cap == 0)
		return "";
	if (log_field_plain(s)) {
		str_copy(out, s, cap);
		return out;
	}
	if (cap < 3) {
		out[0] = '\0';
		return out;
	}
	out[k++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[4];
		size_t n = 0;

		if (c == '"' || c == '\\') {
			e[n++] = '\\';
			e[n++] = (char)c;
		} else if (c < ' ' || c >= 0x7f) {
			e[n++] = '\\';
			e[n++] = 'x';
			e[n++] = hex[c >> 4];
			e[n++] = hex[c & 15];
		} else {
			e[n++] = (char)c;
		}
		if (k + n + 2 > cap) /* room for the closing quote and the NUL */
			break;
		memcpy(out + k, e, n);
		k += n;
	}
	out[k++] = '"';
	out[k] = '\0';
	return out;
}

/* Days since 1970-01-01 -> civil date (proleptic Gregorian). Done by hand because
 * gmtime_r may take the timezone lock and read tz files on first use. */
static void log_civil(long days, int *y, unsigned *m, unsigned *d)
{
	long era, z = days + 719468;
	unsigned doe, yoe, doy, mp;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int log_timestamp(char *buf, size_t cap)
{
	struct timespec ts;
	long days, secs;
	unsigned mon, day;
	int year;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	days = ts.tv_sec / 86400;
	secs = ts.tv_sec % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	log_civil(days, &year, &mon, &day);
	return snprintf(buf, cap, "%04d-%02u-%02uT%02ld:%02ld:%02ld.%03ldZ ", year, mon, day,
			secs / 3600, secs / 60 % 60, secs % 60, ts.tv_nsec / 1000000);
}

void log_vmsg(enum log_level level, const char *func, const char *fmt, va_list ap)
{
	char buf[LOG_LINE_MAX];
	size_t len = 0, start, i;
	int saved = errno, n;

	if (level > log_level || log_fd < 0)
		return;
	if (log_ts)
		len = (size_t)log_timestamp(buf, sizeof(buf));
	/* Function names help only when debugging; users see the message alone. */
	if (level == LOG_DEBUG && func != NULL)
		n = snprintf(buf + len, sizeof(buf) - len, "%s[%ld]: %s: %s: ", log_prog,
			     (long)getpid(), log_level_name(level), func);
	else
		n = snprintf(buf + len, sizeof(buf) - len, "%s[%ld]: %s: ", log_prog,
			     (long)getpid(), log_level_name(level));
	if (n > 0)
		len += (size_t)n;
	start = len;
	/* vsnprintf may clobber errno and a %m in fmt must see the caller's. */
	errno = saved;
	n = vsnprintf(buf + len, sizeof(buf) - len - 1, fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf) - len - 1) {
		len = sizeof(buf) - 1;
		buf[len - 3] = buf[len - 2] = buf[len - 1] = '.';
	} else {
		len += (size_t)n;
	}
	while (len > start && buf[len - 1] == '\n')
		len--;
	/* Messages carry names and bytes from the network: keep each one on its line
	 * and keep terminal escapes out of the log. */
	for (i = start; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	buf[len++] = '\n';
	while (write(log_fd, buf, len) < 0 && errno == EINTR)
		;
	errno = saved;
}

void log_msg(enum log_level level, const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, func, fmt, ap);
	va_end(ap);
}

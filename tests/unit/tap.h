/* A tiny TAP producer for the C unit tests: each check is one "ok N - name" line,
 * so tests/run.sh can count them with the bats suites. Header-only. */
#ifndef SOCKSIFY_TAP_H
#define SOCKSIFY_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 4, 5))) static inline int
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

/* ok(cond, "name %d", i) */
#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                            \
	do {                                                                                \
		long long g_ = (long long)(got), w_ = (long long)(want);                    \
		if (!ok(g_ == w_, __VA_ARGS__))                                             \
			printf("#   got %lld, want %lld\n", g_, w_);                            \
	} while (0)

/* Call at the end of main: prints the plan and returns the exit status. */
static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif

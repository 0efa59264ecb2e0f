/* Small bounded string and number helpers. Our own rather than libbsd's so that
 * libsocksify.so, loaded into every process, pulls in no extra shared object. */
#ifndef SOCKSIFY_UTIL_H
#define SOCKSIFY_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* strlcpy semantics: always NUL-terminates when cap > 0; returns strlen(src). */
size_t str_copy(char *dst, const char *src, size_t cap);
/* Bounded decimal parse of the whole string, no sign, no spaces: like strtonum. */
bool parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);
/* The value of one hex digit (either case), or -1. */
int hex_value(char c);
/* Percent-decodes src into dst (cap incl. NUL); false on a bad escape or overflow. */
bool pct_decode(const char *src, size_t srclen, char *dst, size_t cap);
/* Constant-time comparison of two NUL-terminated strings (time depends only on b). */
bool str_eq_ct(const char *a, const char *b);
/* Base64 encode (for HTTP Basic auth); returns length or -1 if cap is too small. */
long b64_encode(const unsigned char *src, size_t len, char *dst, size_t cap);
/* Base64 decode; returns length or -1. */
long b64_decode(const char *src, size_t len, unsigned char *dst, size_t cap);

#endif

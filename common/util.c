/* Bounded string and number helpers used by every component, including the shim:
 * nothing here allocates, touches the locale or reads past a terminator, so the
 * helpers are safe inside any host process. */
#include "util.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

size_t str_copy(char *dst, const char *src, size_t cap)
{
	size_t len = strlen(src);

	if (cap > 0) {
		size_t n = len < cap - 1 ? len : cap - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

bool parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (s == NULL || *s == '\0')
		return false;
	for (; *s; s++) {
		unsigned d;

		/* Explicit range test, not isdigit(): isdigit() consults the locale. */
		if (*s < '0' || *s > '9')
			return false;
		d = (unsigned)(*s - '0');
		if (v > (ULONG_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool pct_decode(const char *src, size_t srclen, char *dst, size_t cap)
{
	size_t i, o = 0;

	if (cap == 0)
		return false;
	for (i = 0; i < srclen; i++) {
		char c = src[i];

		if (c == '\0')
			goto fail;
		if (c == '%') {
			int hi, lo;

			if (srclen - i < 3)
				goto fail;
			hi = hex_value(src[i + 1]);
			lo = hex_value(src[i + 2]);
			/* %00 would silently cut the string short: refuse it. */
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto fail;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (o + 1 >= cap)
			goto fail;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return true;
fail:
	dst[0] = '\0';
	return false;
}

bool str_eq_ct(const char *a, const char *b)
{
	size_t i, ia = 0, lb = strlen(b);
	unsigned char diff = 0;

	/* Walk b including its NUL; a's index stops at a's NUL, so a shorter a compares
	 * its NUL against the rest of b and a longer a shows a non-NUL at b's end. */
	for (i = 0; i <= lb; i++) {
		unsigned char ca = (unsigned char)a[ia];

		diff |= ca ^ (unsigned char)b[i];
		ia += ca != 0;
	}
	return diff == 0;
}

static const char util_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

long b64_encode(const unsigned char *src, size_t len, char *dst, size_t cap)
{
	size_t need, i, o = 0;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return -1;
	need = (len + 2) / 3 * 4;
	if (cap < need + 1)
		return -1;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
		dst[o++] = util_b64[v >> 18 & 63];
		dst[o++] = util_b64[v >> 12 & 63];
		dst[o++] = util_b64[v >> 6 & 63];
		dst[o++] = util_b64[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)src[i] << 16;
		dst[o++] = util_b64[v >> 18 & 63];
		dst[o++] = util_b64[v >> 12 & 63];
		dst[o++] = '=';
		dst[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
		dst[o++] = util_b64[v >> 18 & 63];
		dst[o++] = util_b64[v >> 12 & 63];
		dst[o++] = util_b64[v >> 6 & 63];
		dst[o++] = '=';
	}
	dst[o] = '\0';
	return (long)o;
}

static int util_b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long b64_decode(const char *src, size_t len, unsigned char *dst, size_t cap)
{
	uint32_t acc = 0;
	size_t i, o = 0, pad = 0;
	unsigned bits = 0;

	/* Padding is optional, but when present it must complete the last quantum. */
	while (len > 0 && src[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	if (pad && (len + pad) % 4 != 0)
		return -1;
	if (len % 4 == 1)
		return -1;
	for (i = 0; i < len; i++) {
		int v = util_b64val(src[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			dst[o++] = (unsigned char)(acc >> bits);
		}
		acc &= (1u << bits) - 1;
	}
	/* Leftover bits must be zero, or two encodings would decode alike. */
	if (acc != 0)
		return -1;
	return (long)o;
}

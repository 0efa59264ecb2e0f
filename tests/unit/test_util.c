/* Unit tests for common/util.c and common/log.c: bounded copies and number parsing,
 * percent-decoding, constant-time compare, base64, and the logger's one-write line
 * format, truncation and errno preservation. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"
#include "util.h"

static void test_str_copy(void)
{
	char buf[8];

	is_int(str_copy(buf, "abc", sizeof(buf)), 3, "str_copy returns strlen");
	ok(strcmp(buf, "abc") == 0, "str_copy copies a short string");
	is_int(str_copy(buf, "abcdefghij", sizeof(buf)), 10, "str_copy returns full length");
	ok(strcmp(buf, "abcdefg") == 0, "str_copy truncates and terminates");
	buf[0] = 'x';
	is_int(str_copy(buf, "abc", 0), 3, "str_copy cap 0 writes nothing");
	ok(buf[0] == 'x', "str_copy cap 0 leaves dst alone");
	is_int(str_copy(buf, "", sizeof(buf)), 0, "str_copy empty");
	ok(buf[0] == '\0', "str_copy empty terminates");
}

static void test_parse_ulong(void)
{
	static const struct {
		const char *s;
		unsigned long min, max, want;
		bool ok;
	} t[] = {
		{ "0", 0, 10, 0, true },
		{ "10", 0, 10, 10, true },
		{ "11", 0, 10, 0, false },
		{ "0", 1, 10, 0, false },
		{ "65535", 1, 65535, 65535, true },
		{ "65536", 1, 65535, 0, false },
		{ "007", 0, 10, 7, true },
		{ "", 0, 10, 0, false },
		{ "-1", 0, 10, 0, false },
		{ "+1", 0, 10, 0, false },
		{ " 1", 0, 10, 0, false },
		{ "1 ", 0, 10, 0, false },
		{ "1a", 0, 10, 0, false },
		{ "0x10", 0, 100, 0, false },
		{ "18446744073709551615", 0, ~0UL, ~0UL, true },
		{ "18446744073709551616", 0, ~0UL, 0, false },
		{ "99999999999999999999999999", 0, ~0UL, 0, false },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsigned long v = 12345;
		bool r = parse_ulong(t[i].s, t[i].min, t[i].max, &v);
		ok(r == t[i].ok && (!r || v == t[i].want), "parse_ulong '%s' [%lu,%lu] -> %s", t[i].s,
		   t[i].min, t[i].max, t[i].ok ? "ok" : "error");
		if (!r)
			ok(v == 12345, "parse_ulong '%s' leaves out alone on error", t[i].s);
	}
	ok(!parse_ulong(NULL, 0, 1, &(unsigned long){ 0 }), "parse_ulong NULL");
}

static void test_pct_decode(void)
{
	char out[8];

	ok(pct_decode("a%40b", 5, out, sizeof(out)) && strcmp(out, "a@b") == 0, "pct %%40");
	ok(pct_decode("%3a%3A", 6, out, sizeof(out)) && strcmp(out, "::") == 0, "pct both cases");
	ok(pct_decode("", 0, out, sizeof(out)) && out[0] == '\0', "pct empty");
	ok(pct_decode("abcdefgh", 3, out, sizeof(out)) && strcmp(out, "abc") == 0,
	   "pct honours srclen");
	ok(pct_decode("1234567", 7, out, sizeof(out)) && strcmp(out, "1234567") == 0,
	   "pct exactly fits");
	ok(!pct_decode("12345678", 8, out, sizeof(out)), "pct overflow is an error");
	ok(!pct_decode("%4", 2, out, sizeof(out)), "pct truncated escape");
	ok(!pct_decode("%", 1, out, sizeof(out)), "pct lone %%");
	ok(!pct_decode("%zz", 3, out, sizeof(out)), "pct non-hex escape");
	ok(!pct_decode("%g0", 3, out, sizeof(out)), "pct non-hex high nibble");
	ok(!pct_decode("%00", 3, out, sizeof(out)), "pct %%00 refused (would cut the string)");
	ok(!pct_decode("%4%41", 5, out, sizeof(out)), "pct escape cut by another");
	ok(!pct_decode("a", 1, out, 0), "pct cap 0");
	ok(!pct_decode("ab", 2, out, 2), "pct cap too small for NUL");
	ok(pct_decode("%ff", 3, out, sizeof(out)) && (unsigned char)out[0] == 0xff,
	   "pct high byte");
}

static void test_str_eq_ct(void)
{
	ok(str_eq_ct("secret", "secret"), "ct equal");
	ok(!str_eq_ct("secret", "secreT"), "ct differ last");
	ok(!str_eq_ct("secre", "secret"), "ct a shorter");
	ok(!str_eq_ct("secrets", "secret"), "ct a longer");
	ok(!str_eq_ct("", "x"), "ct a empty");
	ok(!str_eq_ct("x", ""), "ct b empty");
	ok(str_eq_ct("", ""), "ct both empty");
	ok(!str_eq_ct("Secret", "secret"), "ct case-sensitive");
}

static void test_b64(void)
{
	static const struct {
		const char *plain, *enc;
	} t[] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
		{ "Aladdin:open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ==" },
	};
	char enc[64];
	unsigned char dec[64];
	size_t i;
	long n;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t pl = strlen(t[i].plain);
		n = b64_encode((const unsigned char *)t[i].plain, pl, enc, sizeof(enc));
		ok(n == (long)strlen(t[i].enc) && strcmp(enc, t[i].enc) == 0, "b64 encode '%s'",
		   t[i].plain);
		n = b64_decode(t[i].enc, strlen(t[i].enc), dec, sizeof(dec));
		ok(n == (long)pl && memcmp(dec, t[i].plain, pl) == 0, "b64 decode '%s'", t[i].enc);
	}
	ok(b64_encode((const unsigned char *)"foo", 3, enc, 4) == -1, "b64 encode needs NUL room");
	ok(b64_encode((const unsigned char *)"foo", 3, enc, 5) == 4, "b64 encode exact cap");
	ok(b64_decode("Zm9v", 4, dec, 2) == -1, "b64 decode cap too small");
	ok(b64_decode("Zm9vYg", 6, dec, sizeof(dec)) == 4, "b64 decode without padding");
	ok(b64_decode("Zm9v!", 5, dec, sizeof(dec)) == -1, "b64 decode bad char");
	ok(b64_decode("Zm9 v", 5, dec, sizeof(dec)) == -1, "b64 decode space");
	ok(b64_decode("Z", 1, dec, sizeof(dec)) == -1, "b64 decode 1 char");
	ok(b64_decode("Zg=", 3, dec, sizeof(dec)) == -1, "b64 decode short padding");
	ok(b64_decode("Zh==", 4, dec, sizeof(dec)) == -1, "b64 decode non-zero trailing bits");
	ok(b64_decode("====", 4, dec, sizeof(dec)) == -1, "b64 decode only padding");
	ok(b64_decode("Zg==Zg==", 8, dec, sizeof(dec)) == -1, "b64 decode padding inside");
	{
		unsigned char all[256];
		char big[400];
		for (i = 0; i < 256; i++)
			all[i] = (unsigned char)i;
		n = b64_encode(all, 256, big, sizeof(big));
		ok(n == 344, "b64 encode 256 bytes");
		n = b64_decode(big, (size_t)n, (unsigned char *)enc, 0);
		ok(n == -1, "b64 decode into cap 0");
	}
}

/* Drains what the logger wrote into the pipe; counts the reads it took. */
static ssize_t capture(int fd, char *out, size_t cap, int *writes)
{
	ssize_t n, total = 0;

	*writes = 0;
	while ((n = read(fd, out + total, cap - 1 - (size_t)total)) > 0) {
		total += n;
		(*writes)++;
	}
	out[total] = '\0';
	return total;
}

static void test_log(void)
{
	char out[8192], expect[64], big[5000];
	int p[2], writes;
	ssize_t n;

	if (pipe(p) != 0) {
		ok(0, "pipe");
		return;
	}
	/* The reader end is only drained after each call; keep it non-blocking. */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	log_setup("tester", LOG_WARN, p[1], 0);
	is_int(log_get_level(), LOG_WARN, "log level set");
	is_int(log_get_fd(), p[1], "log fd set");

	errno = EADDRINUSE;
	LOG_WARN("hello %d", 42);
	is_int(errno, EADDRINUSE, "log preserves errno");
	n = capture(p[0], out, sizeof(out), &writes);
	snprintf(expect, sizeof(expect), "tester[%ld]: warn: hello 42\n", (long)getpid());
	ok(n > 0 && strcmp(out, expect) == 0, "log line format");
	is_int(writes, 1, "one read for one message");

	log_setup("tester", LOG_WARN, p[1], 0);
	LOG_INFO("not shown");
	LOG_DEBUG("not shown %d", 1);
	n = capture(p[0], out, sizeof(out), &writes);
	ok(n <= 0, "messages above the level are dropped");

	log_setup("tester", LOG_DEBUG, p[1], 0);
	LOG_DEBUG("x");
	LOG_ERR("line\nbreak\x1b[31m\n");
	capture(p[0], out, sizeof(out), &writes);
	ok(strstr(out, ": debug: test_log: x\n") != NULL, "debug lines carry the function");
	ok(strstr(out, ": error: line?break?[31m\n") != NULL,
	   "control characters replaced, trailing newline not doubled");

	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_setup("tester", LOG_DEBUG, p[1], 0);
	LOG_WARN("%s", big);
	n = capture(p[0], out, sizeof(out), &writes);
	ok(n > 1000 && n <= 2048, "long message truncated to the line buffer (%zd)", n);
	ok(n >= 4 && memcmp(out + n - 4, "...\n", 4) == 0, "truncated message ends in ...");

	log_setup("socksifyd", LOG_INFO, p[1], 1);
	LOG_INFO("ts");
	capture(p[0], out, sizeof(out), &writes);
	/* 2026-11-27T18:00:00.123Z socksifyd[1]: info: ts */
	ok(strlen(out) > 25 && out[4] == '-' && out[7] == '-' && out[10] == 'T' &&
	   out[13] == ':' && out[19] == '.' && out[23] == 'Z' && out[24] == ' ' &&
	   strncmp(out + 25, "socksifyd[", 10) == 0,
	   "server timestamp prefix: %.40s", out);

	/* Logging to fd -1 writes nothing anywhere (not to the last fd, not to stderr)
	 * and leaves errno alone. stderr is pointed at the pipe to see it. */
	{
		int saved = dup(2), e;
		dup2(p[1], 2);
		log_setup("tester", LOG_WARN, -1, 0);
		errno = 1234;
		LOG_ERR("to nowhere");
		e = errno;
		dup2(saved, 2);
		close(saved);
		n = capture(p[0], out, sizeof(out), &writes);
		ok(n == 0 && writes == 0 && e == 1234 && log_get_fd() == -1,
		   "logging to fd -1 is a no-op (%zd bytes, errno %d)", n, e);
	}

	ok(strcmp(log_level_name(LOG_ERROR), "error") == 0 &&
	   strcmp(log_level_name(LOG_DEBUG), "debug") == 0, "level names");
	close(p[0]);
	close(p[1]);
	log_setup("socksify", LOG_WARN, 2, 0);
}

int main(void)
{
	test_str_copy();
	test_parse_ulong();
	test_pct_decode();
	test_str_eq_ct();
	test_b64();
	test_log();
	return tap_done();
}

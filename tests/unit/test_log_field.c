/* Unit tests for log_field (common/log.c): a value from the network stays one
 * key=value field, whatever bytes it holds. */
#include <string.h>

#include "log.h"
#include "tap.h"

#define is_str(got, want, ...)                                                            \
	do {                                                                                \
		const char *g_ = (got), *w_ = (want);                                       \
		if (!ok(strcmp(g_, w_) == 0, __VA_ARGS__))                                  \
			printf("#   got [%s], want [%s]\n", g_, w_);                          \
	} while (0)

static const char *field(const char *s)
{
	static char buf[LOG_FIELD_SIZE(64)];

	return log_field(s, buf, sizeof(buf));
}

int main(void)
{
	char small[8];

	is_str(field("alice"), "alice", "a plain name is left as is");
	is_str(field("[fd00::1]:443"), "[fd00::1]:443", "an address is left as is");
	is_str(field("target.test:80"), "target.test:80", "a host:port is left as is");
	is_str(field(""), "\"\"", "an empty value is a pair of quotes");
	is_str(field("a user=root"), "\"a user=root\"", "a space quotes the value");
	is_str(field("a=b"), "\"a=b\"", "so does '='");
	is_str(field("x\"y\\z"), "\"x\\\"y\\\\z\"", "quote and backslash are escaped");
	is_str(field("l1\nl2\r\x01\x7f"), "\"l1\\x0al2\\x0d\\x01\\x7f\"",
	       "control bytes become \\xHH");
	is_str(field("caf\xc3\xa9"), "\"caf\\xc3\\xa9\"", "bytes above ASCII become \\xHH");
	is_str(log_field("abcdefghij", small, sizeof(small)), "abcdefg",
	       "a long plain value is cut to the buffer");
	is_str(log_field("a b\ncdef", small, sizeof(small)), "\"a b\"",
	       "a long quoted value is cut at a whole escape and still closed");
	is_str(log_field("\n\n", small, 6), "\"\"", "no room for one escape: empty quotes");
	return tap_done();
}

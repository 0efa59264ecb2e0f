/* Unit tests for common/hosts.c: forward and reverse lookups over a hosts file held in
 * memory (comments, blanks, CRLF, bad lines skipped, case, the 16-address cap, long
 * names), and every prefix of a file and every bit flip of it parsed without reading
 * past the buffer (run under ASan too). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hosts.h"
#include "tap.h"

static const char hosts_text[] =
	"# a comment line\n"
	"127.0.0.1\tlocalhost\n"
	"::1 localhost ip6-localhost   # trailing comment\n"
	"\n"
	"   \t \n"
	"198.18.1.1 web.direct.test web   alias.test\r\n"
	"not-an-address bogus.test\n"
	"198.18.1.2\n"
	"fd00:1::5 web.direct.test\n"
	"198.18.1.3 Mixed.Case.TEST#comment-glued\n"
	"198.18.1.4 last.test";

static void test_forward(void)
{
	struct host_addrs a;
	const size_t len = sizeof(hosts_text) - 1;

	ok(hosts_find_name(hosts_text, len, "localhost", &a) && a.n == 2 &&
	   a.a[0].family == AF_INET && memcmp(a.a[0].addr, "\x7f\0\0\x01", 4) == 0 &&
	   a.a[1].family == AF_INET6 && a.a[1].addr[15] == 1 && strcmp(a.canon, "localhost") == 0,
	   "localhost: both lines, in file order");
	ok(hosts_find_name(hosts_text, len, "web", &a) && a.n == 1 &&
	   strcmp(a.canon, "web.direct.test") == 0, "an alias: canon is the line's first name");
	ok(hosts_find_name(hosts_text, len, "WEB.direct.test", &a) && a.n == 2 &&
	   a.a[1].family == AF_INET6, "case-insensitive, IPv4 and IPv6 lines");
	ok(hosts_find_name(hosts_text, len, "alias.test", &a) && a.n == 1,
	   "CRLF line end: the last name still matches");
	ok(!hosts_find_name(hosts_text, len, "bogus.test", &a) && a.n == 0,
	   "a line whose address does not parse is skipped");
	ok(hosts_find_name(hosts_text, len, "mixed.case.test", &a) &&
	   strcmp(a.canon, "Mixed.Case.TEST") == 0, "canon keeps the file's case; '#' cuts");
	ok(!hosts_find_name(hosts_text, len, "comment-glued", &a), "nothing after '#'");
	ok(hosts_find_name(hosts_text, len, "last.test", &a) && a.n == 1,
	   "a last line without newline");
	ok(!hosts_find_name(hosts_text, len, "last.tes", &a) &&
	   !hosts_find_name(hosts_text, len, "ast.test", &a), "no prefix or suffix match");
	ok(!hosts_find_name(NULL, 0, "localhost", &a), "no file: nothing");
	ok(!hosts_find_name(hosts_text, len, "", &a), "the empty name never matches");
}

static void test_reverse(void)
{
	const size_t len = sizeof(hosts_text) - 1;
	uint8_t a4[4] = { 198, 18, 1, 1 }, a6[16];
	char name[256];

	inet_pton(AF_INET6, "fd00:1::5", a6);
	ok(hosts_find_addr(hosts_text, len, AF_INET, a4, name, sizeof(name)) &&
	   strcmp(name, "web.direct.test") == 0, "reverse IPv4: the first name");
	ok(hosts_find_addr(hosts_text, len, AF_INET6, a6, name, sizeof(name)) &&
	   strcmp(name, "web.direct.test") == 0, "reverse IPv6");
	a4[3] = 2;
	ok(!hosts_find_addr(hosts_text, len, AF_INET, a4, name, sizeof(name)),
	   "an address with no name is no answer");
	a4[3] = 9;
	ok(!hosts_find_addr(hosts_text, len, AF_INET, a4, name, sizeof(name)), "unknown address");
	a4[3] = 1;
	ok(!hosts_find_addr(hosts_text, len, AF_INET, a4, name, 8), "a name that does not fit");
	ok(!hosts_find_addr(hosts_text, len, AF_UNIX, a4, name, sizeof(name)), "bad family");
}

static void test_limits(void)
{
	static char big[64 * 40 + 600];
	struct host_addrs a;
	size_t o = 0;

	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "10.0.0.%d many.test\n", i);
	ok(hosts_find_name(big, o, "many.test", &a) && a.n == HOSTS_MAX_ADDRS,
	   "at most %d addresses", HOSTS_MAX_ADDRS);

	o = (size_t)snprintf(big, sizeof(big), "10.1.1.1 ");
	memset(big + o, 'x', 300);
	o += 300;
	o += (size_t)snprintf(big + o, sizeof(big) - o, " short.test\n");
	ok(hosts_find_name(big, o, "short.test", &a) && a.n == 1 && a.canon[0] == '\0',
	   "a first name over 255 bytes is no canon (the address still counts)");
	uint8_t a4[4] = { 10, 1, 1, 1 };
	char name[256];
	ok(!hosts_find_addr(big, o, AF_INET, a4, name, sizeof(name)), "nor a reverse answer");

	o = (size_t)snprintf(big, sizeof(big), "10.2.2.2 a");
	big[o++] = '\0';
	o += (size_t)snprintf(big + o, sizeof(big) - o, "b nul.test\n");
	ok(!hosts_find_name(big, o, "a", &a) && hosts_find_name(big, o, "nul.test", &a) &&
	   a.canon[0] == '\0', "a NUL inside a name: that name never matches or names");

	o = (size_t)snprintf(big, sizeof(big), "10.3.3.3");
	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, " n%d", i);
	ok(hosts_find_name(big, o, "n32", &a) && !hosts_find_name(big, o, "n33", &a),
	   "at most %d names on a line", HOSTS_MAX_FIELDS - 1);
}

/* Every prefix and every single-bit flip, each in an exact-size heap copy so that ASan
 * catches a read one byte past the end. */
static void test_sweep(void)
{
	const size_t len = sizeof(hosts_text) - 1;
	struct host_addrs a;
	char name[256];
	uint8_t a4[4] = { 198, 18, 1, 1 };
	size_t runs = 0, odd = 0;

	for (size_t k = 0; k <= len; k++) {
		char *b = malloc(k ? k : 1);
		memcpy(b, hosts_text, k);
		bool f = hosts_find_name(b, k, "web.direct.test", &a);
		hosts_find_addr(b, k, AF_INET, a4, name, sizeof(name));
		/* Found exactly when the prefix holds the whole name. */
		const char *line = strstr(hosts_text, "198.18.1.1 web.direct.test");
		size_t need = (size_t)(line - hosts_text) + strlen("198.18.1.1 web.direct.test");
		odd += f != (k >= need);
		free(b);
		runs++;
	}
	ok(odd == 0, "every prefix (%zu): the name is found once its line is whole", runs);
	for (size_t k = 0; k < len; k++)
		for (int bit = 0; bit < 8; bit++) {
			char *b = malloc(len);
			memcpy(b, hosts_text, len);
			b[k] ^= (char)(1u << bit);
			hosts_find_name(b, len, "localhost", &a);
			odd += a.n < 0 || a.n > HOSTS_MAX_ADDRS;
			hosts_find_addr(b, len, AF_INET, a4, name, sizeof(name));
			free(b);
			runs++;
		}
	ok(odd == 0, "bit-flip sweep (%zu runs) within bounds", runs);
}

int main(void)
{
	test_forward();
	test_reverse();
	test_limits();
	test_sweep();
	return tap_done();
}

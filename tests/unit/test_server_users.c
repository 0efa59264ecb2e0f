/* Unit tests for socksifyd's users file (server/users.c, compiled in): parsing,
 * errors with file:line, comments and CRLF, duplicates, plain password checks, and
 * the pad that makes every failure cost the slowest hash. crypt_rn is stubbed here
 * (unit tests do not link libcrypt); real hashes are covered by
 * tests/e2e/23-server-ops.bats and 24-server-hardening.bats. */
#include <fcntl.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../server/users.c"
#include "tap.h"

static int crypt_calls;

/* Stands in for libcrypt: "hashes" a password as the setting's first three bytes
 * + password. A "$s$" setting is the slow kind: it burns 3 ms of CPU. */
char *crypt_rn(const char *phrase, const char *setting, void *data, int size)
{
	struct crypt_data *cd = data;

	crypt_calls++;
	if (size < (int)sizeof(*cd))
		return NULL;
	if (!strncmp(setting, "$s$", 3)) {
		struct timespec t0, t;

		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
		do
			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
		while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec < 3000000L);
	}
	snprintf(cd->output, sizeof(cd->output), "%.3s%s", setting, phrase);
	return cd->output;
}

static char path[] = "/tmp/test_server_users.XXXXXX";

static struct users *load(const char *text, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return NULL;
	close(fd);
	return users_load(path, err, errlen);
}

int main(void)
{
	char err[512];
	struct users *u;
	struct users_check c;
	int fd = mkstemp(path);

	ok(fd >= 0, "temp file");
	close(fd);

	u = load("# users\n\nalice:pw1\r\n  bob:p:w:2\ncarol:$t$secret\n", err, sizeof(err));
	ok(u != NULL, "file with comments, blank lines, CRLF and colons in passwords loads");
	is_int(users_count(u), 3, "three users");
	is_int(users_begin(u, "alice", "pw1", &c), USERS_OK, "alice: right password (CRLF stripped)");
	is_int(users_begin(u, "alice", "pw", &c), USERS_SLOW, "alice: a prefix is wrong, padded");
	ok(!c.known || (c.secret[0] == '\0' && !strcmp(c.pad, "$t$socksifyd-pad")),
	   "the pad is a hash of the configured cost: %s", c.pad);
	crypt_calls = 0;
	ok(!users_verify(&c, "pw") && crypt_calls == 1, "a wrong plain password pays one crypt");
	is_int(users_begin(u, "alice", "pw11", &c), USERS_SLOW, "alice: a longer one is wrong");
	is_int(users_begin(u, "bob", "p:w:2", &c), USERS_OK, "bob: the password keeps its colons");
	is_int(users_begin(u, "carol", "secret", &c), USERS_SLOW, "carol has a hash");
	ok(c.known && !strcmp(c.secret, "$t$secret") && c.pad[0] == '\0',
	   "carol's hash is the slowest: no pad");
	crypt_calls = 0;
	ok(users_verify(&c, "secret") && crypt_calls == 1, "hash checked through crypt_rn");
	ok(!users_verify(&c, "wrong"), "hash: wrong password");
	is_int(users_begin(u, "mallory", "secret", &c), USERS_SLOW, "unknown user: a crypt too");
	crypt_calls = 0;
	ok(!c.known && c.secret[0] == '\0' && !users_verify(&c, "secret") && crypt_calls == 1,
	   "unknown user: refused after one crypt of the pad, even with carol's password");
	users_free(u);

	/* Costs differ: the cheap hash's failures pay the slow pad as well. */
	u = load("plain:pw\ncheap:$t$pw\ndear:$s$pw\n", err, sizeof(err));
	ok(u != NULL, "a file with two hash costs loads");
	is_int(users_begin(u, "dear", "x", &c), USERS_SLOW, "dear: slow check");
	crypt_calls = 0;
	ok(c.pad[0] == '\0' && !users_verify(&c, "x") && crypt_calls == 1,
	   "the slowest hash fails after its own crypt alone");
	is_int(users_begin(u, "cheap", "x", &c), USERS_SLOW, "cheap: slow check");
	ok(!strcmp(c.pad, "$s$socksifyd-pad"), "the pad has the slowest cost: %s", c.pad);
	crypt_calls = 0;
	ok(!users_verify(&c, "x") && crypt_calls == 2, "a cheap hash fails after the pad too");
	crypt_calls = 0;
	ok(users_verify(&c, "pw") && crypt_calls == 1, "a cheap hash succeeds without it");
	users_begin(u, "plain", "x", &c);
	ok(!strcmp(c.pad, "$s$socksifyd-pad"), "a wrong plain password pays the slowest pad");
	users_begin(u, "nobody", "x", &c);
	ok(!strcmp(c.pad, "$s$socksifyd-pad"), "so does an unknown user");
	users_free(u);

	u = load("alice:pw\n", err, sizeof(err));
	is_int(users_begin(u, "nobody", "", &c), USERS_FAIL,
	       "no hashes in the file: an unknown user fails on the spot");
	is_int(users_begin(u, "alice", "px", &c), USERS_FAIL, "and so does a wrong password");
	is_int(users_begin(u, "alice", "pw", &c), USERS_OK, "the right one passes");
	users_free(u);

	ok(!load("alice:pw\nbroken\n", err, sizeof(err)) && strstr(err, ":2: expected user:password"),
	   "missing colon names the line: %s", err);
	ok(!load("alice:pw\nalice:other\n", err, sizeof(err)) && strstr(err, "listed twice"),
	   "duplicate user refused: %s", err);
	ok(!load(":pw\n", err, sizeof(err)), "empty user name refused: %s", err);
	ok(!load("# only comments\n", err, sizeof(err)) && strstr(err, "no users"),
	   "a file without users is an error: %s", err);
	{
		char big[2048];

		memset(big, 'x', sizeof(big) - 2);
		big[0] = 'a';
		big[1] = ':';
		big[sizeof(big) - 2] = '\n';
		big[sizeof(big) - 1] = '\0';
		ok(!load(big, err, sizeof(err)) && strstr(err, "too long"), "over-long line: %s", err);
	}
	unlink(path);
	ok(!users_load(path, err, sizeof(err)) && strstr(err, "No such file"),
	   "missing file: %s", err);
	return tap_done();
}

/* Unit tests for socksifyd's users file (server/users.c, compiled in): parsing,
 * errors with file:line, comments and CRLF, duplicates, plain password checks and
 * the decoy hash used for unknown users. crypt_rn is stubbed here (unit tests do not
 * link libcrypt); real hashes are covered by tests/e2e/23-server-ops.bats. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <crypt.h>

#include "users.h"
#include "tap.h"

static int crypt_calls;

/* Stands in for libcrypt (linked before it, so it wins): "hashes" a password as
 * "$t$" + password. */
char *crypt_rn(const char *phrase, const char *setting, void *data, int size);
char *crypt_rn(const char *phrase, const char *setting, void *data, int size)
{
	struct crypt_data *cd = data;

	(void)setting;
	crypt_calls++;
	if (size < (int)sizeof(*cd))
		return NULL;
	snprintf(cd->output, sizeof(cd->output), "$t$%s", phrase);
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
	bool known;
	const char *sec;
	int fd = mkstemp(path);

	ok(fd >= 0, "temp file");
	close(fd);

	u = load("# users\n\nalice:pw1\r\n  bob:p:w:2\ncarol:$t$secret\n", err, sizeof(err));
	ok(u != NULL, "file with comments, blank lines, CRLF and colons in passwords loads");
	is_int(users_count(u), 3, "three users");
	sec = users_secret(u, "alice", &known);
	ok(known && users_check_secret(sec, "pw1"), "alice: right password (CRLF stripped)");
	ok(!users_check_secret(sec, "pw"), "alice: a prefix is wrong");
	ok(!users_check_secret(sec, "pw11"), "alice: a longer one is wrong");
	sec = users_secret(u, "bob", &known);
	ok(known && users_check_secret(sec, "p:w:2"), "bob: the password keeps its colons");
	sec = users_secret(u, "carol", &known);
	ok(known && users_secret_is_hash(sec), "carol has a hash");
	crypt_calls = 0;
	ok(users_check_secret(sec, "secret") && crypt_calls == 1, "hash checked through crypt_rn");
	ok(!users_check_secret(sec, "wrong"), "hash: wrong password");
	sec = users_secret(u, "mallory", &known);
	ok(!known && users_secret_is_hash(sec), "unknown user: checked against a decoy hash");
	users_free(u);

	u = load("alice:pw\n", err, sizeof(err));
	sec = users_secret(u, "nobody", &known);
	ok(!known && !users_secret_is_hash(sec), "no hashes in the file: a plain decoy");
	ok(!users_check_secret(sec, ""), "the decoy matches no empty password");
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

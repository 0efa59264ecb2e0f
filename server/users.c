/* Users file parsing and password checks. Plain passwords are compared with
 * str_eq_ct; hashes go through crypt_rn with a per-call crypt_data, which is thread
 * safe, and the result is again compared in constant time. */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "users.h"
#include "util.h"

struct user_ent {
	UT_hash_handle hh;
	char *secret;
	char name[];
};

struct users {
	struct user_ent *byname;
	size_t n;
	const char *decoy; /* a hash from the table, checked for unknown users */
};

/* The secret an unknown user is checked against: a plain string, so the failure
 * path does the same constant-time compare as a known plain user. */
static const char users_dummy[] = "\x01-no-such-user-\x01";

void users_free(struct users *u)
{
	struct user_ent *e, *tmp;

	if (!u)
		return;
	HASH_ITER(hh, u->byname, e, tmp) {
		HASH_DEL(u->byname, e);
		if (e->secret)
			explicit_bzero(e->secret, strlen(e->secret));
		free(e->secret);
		free(e);
	}
	free(u);
}

size_t users_count(const struct users *u)
{
	return u ? u->n : 0;
}

static bool users_add(struct users *u, const char *name, const char *secret, char *why,
		      size_t whylen)
{
	struct user_ent *e;
	size_t nlen = strlen(name);

	if (nlen == 0 || nlen > 255 || strlen(secret) > 255) {
		snprintf(why, whylen, "user name must be 1..255 bytes and password at most 255");
		return false;
	}
	HASH_FIND(hh, u->byname, name, nlen, e);
	if (e) {
		snprintf(why, whylen, "user '%.64s' listed twice", name);
		return false;
	}
	e = calloc(1, sizeof(*e) + nlen + 1);
	if (!e || !(e->secret = strdup(secret))) {
		free(e);
		snprintf(why, whylen, "out of memory");
		return false;
	}
	memcpy(e->name, name, nlen + 1);
	HASH_ADD(hh, u->byname, name, nlen, e);
	if (!u->decoy && users_secret_is_hash(e->secret))
		u->decoy = e->secret;
	u->n++;
	return true;
}

struct users *users_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	struct users *u = NULL;
	char line[1024], why[256];
	unsigned lineno = 0;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *colon;
		size_t len = strlen(s);

		lineno++;
		if (len && s[len - 1] != '\n' && !feof(f)) {
			snprintf(why, sizeof(why), "line too long");
			goto bad;
		}
		while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
			s[--len] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			continue;
		colon = strchr(s, ':');
		if (!colon) {
			snprintf(why, sizeof(why), "expected user:password");
			goto bad;
		}
		*colon = '\0';
		if (!users_add(u, s, colon + 1, why, sizeof(why)))
			goto bad;
	}
	if (u->n == 0) {
		snprintf(err, errlen, "%s: no users", path);
		users_free(u);
		u = NULL;
	}
	goto out;
bad:
	snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
	users_free(u);
	u = NULL;
out:
	explicit_bzero(line, sizeof(line));
	fclose(f);
	return u;
}

const char *users_secret(const struct users *u, const char *user, bool *known)
{
	struct user_ent *e = NULL;

	if (u)
		HASH_FIND(hh, u->byname, user, strlen(user), e);
	*known = e != NULL;
	if (e)
		return e->secret;
	/* An unknown user costs a real crypt(3) when the table has hashes, so response
	 * time does not tell which names exist. */
	return u && u->decoy ? u->decoy : users_dummy;
}

bool users_secret_is_hash(const char *secret)
{
	/* A crypt(3) setting starts with "$id$"; the historic DES form is not accepted
	 * as a hash because any 13-character password would look like one. */
	return secret[0] == '$' && strchr(secret + 1, '$') != NULL;
}

bool users_check_secret(const char *secret, const char *pass)
{
	struct crypt_data *cd;
	bool ok = false;

	if (!users_secret_is_hash(secret))
		return str_eq_ct(pass, secret);
	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return false;
	if (crypt_rn(pass, secret, cd, sizeof(*cd)) && cd->output[0] != '*')
		ok = str_eq_ct(cd->output, secret);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

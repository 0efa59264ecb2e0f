/* Users file parsing and password checks. Plain passwords are compared with
 * str_eq_ct; hashes go through crypt_rn with a per-call crypt_data, which is thread
 * safe, and the result is again compared in constant time. At load, the cost of
 * each distinct hash setting is timed once to pick the pad every failure pays. */
#include <crypt.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uthash.h>

#include "users.h"
#include "util.h"

/* Distinct hash costs timed at load; a hash of an untimed cost beyond these is
 * padded on failure, which errs on the slow side. Each costs one crypt at load. */
#define USERS_MAX_COSTS 8

struct user_ent {
	UT_hash_handle hh;
	char *secret;
	bool pad_on_failure; /* a hash well below the slowest cost */
	char name[];
};

struct users {
	struct user_ent *byname;
	size_t n;
	char *pad; /* a hash of the slowest configured cost; NULL when none is a hash */
};

/* Without any hash in the table, an unknown user is compared with this plain
 * string, the same constant-time compare a known plain user gets. */
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
	free(u->pad);
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
	u->n++;
	return true;
}

/* How much of a hash names its algorithm and cost: every '$' field but the salt and
 * the digest ("$6$rounds=N$", "$y$j9T$", "$1$"); bcrypt keeps salt and digest in one
 * field after its cost ("$2b$10$"). */
static size_t users_cost_key_len(const char *h)
{
	size_t pos[16];
	unsigned n = 0;

	for (size_t i = 0; h[i] && n < 16; i++)
		if (h[i] == '$')
			pos[n++] = i;
	if (n >= 3 && h[1] == '2')
		return pos[2] + 1;
	return n >= 3 ? pos[n - 2] + 1 : strlen(h);
}

/* CPU time of one crypt of a wrong password against h; its output (a hash of the
 * same cost) is left in cd. */
static uint64_t users_time_crypt(const char *h, struct crypt_data *cd)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	if (!crypt_rn("socksifyd-pad", h, cd, sizeof(*cd)) || cd->output[0] == '*')
		cd->output[0] = '\0';
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	return (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec -
	       (uint64_t)t0.tv_nsec;
}

struct users_cost {
	const char *key; /* a hash whose first len bytes name the cost */
	size_t len;
	uint64_t ns;
};

/* The index of h's cost among n timed ones, or n when it is not there. */
static unsigned users_cost_find(const struct users_cost *costs, unsigned n, const char *h)
{
	size_t len = users_cost_key_len(h);
	unsigned i;

	for (i = 0; i < n; i++)
		if (costs[i].len == len && !memcmp(costs[i].key, h, len))
			break;
	return i;
}

/* Times each distinct hash cost once, keeps a hash of the slowest as the pad, and
 * marks the hashes that cost less than half of it: their failures pay the pad too
 * (own + pad is then nearer the slowest cost than own alone). */
static bool users_pick_pad(struct users *u)
{
	struct users_cost costs[USERS_MAX_COSTS];
	unsigned ncosts = 0, slowest = 0, i;
	struct crypt_data *cd;
	struct user_ent *e, *tmp;

	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return false;
	HASH_ITER(hh, u->byname, e, tmp) {
		if (!users_secret_is_hash(e->secret) || ncosts == USERS_MAX_COSTS ||
		    (i = users_cost_find(costs, ncosts, e->secret)) < ncosts)
			continue;
		costs[i].key = e->secret;
		costs[i].len = users_cost_key_len(e->secret);
		costs[i].ns = users_time_crypt(e->secret, cd);
		if (ncosts == 0 || costs[i].ns > costs[slowest].ns) {
			slowest = i;
			free(u->pad);
			u->pad = strdup(cd->output[0] ? cd->output : e->secret);
			if (!u->pad)
				break;
		}
		ncosts++;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	if (!u->pad && (ncosts || e))
		return false; /* out of memory: e is where the walk stopped */
	HASH_ITER(hh, u->byname, e, tmp) {
		if (!users_secret_is_hash(e->secret))
			continue;
		i = users_cost_find(costs, ncosts, e->secret);
		e->pad_on_failure = i == ncosts || 2 * costs[i].ns < costs[slowest].ns;
	}
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
	} else if (!users_pick_pad(u)) {
		snprintf(err, errlen, "%s: out of memory", path);
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

enum users_verdict users_begin(const struct users *u, const char *user, const char *pass,
			       struct users_check *c)
{
	struct user_ent *e = NULL;

	if (u)
		HASH_FIND(hh, u->byname, user, strlen(user), e);
	memset(c, 0, sizeof(*c));
	c->known = e != NULL;
	if (e && users_secret_is_hash(e->secret)) {
		str_copy(c->secret, e->secret, sizeof(c->secret));
		if (e->pad_on_failure && u->pad)
			str_copy(c->pad, u->pad, sizeof(c->pad));
		return USERS_SLOW;
	}
	/* A plain user, or nobody: the compare is the same either way. */
	if (str_eq_ct(pass, e ? e->secret : users_dummy) && e)
		return USERS_OK;
	if (!u || !u->pad)
		return USERS_FAIL;
	str_copy(c->pad, u->pad, sizeof(c->pad));
	return USERS_SLOW;
}

bool users_verify(const struct users_check *c, const char *pass)
{
	bool ok = c->secret[0] && users_check_secret(c->secret, pass) && c->known;

	if (!ok && c->pad[0])
		(void)users_check_secret(c->pad, pass); /* only its cost matters */
	return ok;
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

/* The users file (-u): `user:password` lines, where the password may be a crypt(3)
 * hash ($1$, $5$, $6$, $y$, ...). Loaded whole into an immutable table; SIGHUP
 * builds a new table and swaps it in only if the file parsed.
 *
 * Every failed login costs what the slowest configured hash costs, so response
 * time tells neither which names exist nor how a user's password is stored: at
 * load, each distinct hash cost is timed once and a pad hash of the slowest cost
 * is kept; a failure that did not already pay about that much pays the pad too. */
#ifndef SOCKSIFYD_USERS_H
#define SOCKSIFYD_USERS_H

#include <stdbool.h>
#include <stddef.h>

#define USERS_SECRET_MAX 255

struct users;

/* NULL with err set when the file cannot be read or a line is malformed. */
struct users *users_load(const char *path, char *err, size_t errlen);
void users_free(struct users *u);
size_t users_count(const struct users *u);

enum users_verdict {
	USERS_FAIL, /* refused, and already as slow as it must be (no hash configured) */
	USERS_OK,   /* a plain password matched */
	USERS_SLOW, /* crypt(3) needed: users_verify() on a worker decides */
};

/* What the slow part of a login needs, copied out of the table so that a SIGHUP may
 * free the table while a worker checks. */
struct users_check {
	bool known;
	char secret[USERS_SECRET_MAX + 1]; /* the user's hash, "" when there is none */
	char pad[USERS_SECRET_MAX + 1];    /* crypted on failure when not "" */
};

/* The fast part of a login, on the loop: a plain password is compared here in
 * constant time; anything that must spend a crypt(3) fills c and says USERS_SLOW. */
enum users_verdict users_begin(const struct users *u, const char *user, const char *pass,
			       struct users_check *c);
/* The slow part, thread safe (touches only its arguments): true when the password
 * matches; a failure runs the pad hash too when c has one. */
bool users_verify(const struct users_check *c, const char *pass);

/* True when the secret is a crypt(3) hash. */
bool users_secret_is_hash(const char *secret);
/* Compares a password with a secret in constant time (crypt_rn for hashes). Thread
 * safe: touches only its arguments. */
bool users_check_secret(const char *secret, const char *pass);

#endif

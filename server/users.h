/* The users file (-u): `user:password` lines, where the password may be a crypt(3)
 * hash ($1$, $5$, $6$, $y$, ...). Loaded whole into an immutable table; SIGHUP
 * builds a new table and swaps it in only if the file parsed. */
#ifndef SOCKSIFYD_USERS_H
#define SOCKSIFYD_USERS_H

#include <stdbool.h>
#include <stddef.h>

struct users;

/* NULL with err set when the file cannot be read or a line is malformed. */
struct users *users_load(const char *path, char *err, size_t errlen);
void users_free(struct users *u);
size_t users_count(const struct users *u);

/* The stored secret for user, or a dummy secret when there is no such user (so an
 * unknown user costs the same as a wrong password); *known says which. */
const char *users_secret(const struct users *u, const char *user, bool *known);
/* True when the secret is a crypt(3) hash, whose check is slow enough that the
 * caller runs it on a worker thread. */
bool users_secret_is_hash(const char *secret);
/* Compares a password with a secret in constant time (crypt_rn for hashes). Thread
 * safe: touches only its arguments. */
bool users_check_secret(const char *secret, const char *pass);

#endif

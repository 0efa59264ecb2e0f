/* The session caps for the whole process, whichever worker accepts: --max-sessions
 * as one atomic counter, --max-per-client in one table under a mutex that only
 * accept and close take (never the data path). */
#ifndef SOCKSIFYD_LIMITS_H
#define SOCKSIFYD_LIMITS_H

#include <stdbool.h>

#include "session.h"

/* Takes a slot for a new session from client: false (nothing taken) when a cap is
 * reached. *per_client says whether a per-client slot was taken. */
bool limits_admit(const union sa46 *client, bool *per_client);
/* Gives back what limits_admit took. */
void limits_release(const union sa46 *client, bool per_client);
/* A client's address as a table key: IPv6, or IPv4-mapped. */
void client_key(const union sa46 *a, uint8_t key[16]);
/* Sessions holding a slot now, across workers. */
unsigned long limits_active(void);

#endif

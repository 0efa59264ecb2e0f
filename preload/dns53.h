/* Port-53 queries answered inside the library (issue 12). dns53.c: which addresses
 * are the system's name servers, and the answer to one query message. */
#ifndef SOCKSIFY_DNS53_H
#define SOCKSIFY_DNS53_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "socks.h"

/* dst (port included) is one of /etc/resolv.conf's `nameserver`s on port 53. The
 * file is re-read when it changes (its mtime looked at once a second at most). */
bool dns53_is_server(const struct socks_addr *dst);
/* The answer to one query message msg (len bytes) into out (cap bytes): its length;
 * 0 when it is no query at all (drop it silently); -1 when the query must go to the
 * real server unchanged (numeric names, the hosts file's, `direct` names). udp: the
 * answer is cut to what the query's UDP size allows (TC set). */
int dns53_answer(const uint8_t *msg, size_t len, uint8_t *out, size_t cap, bool udp);
/* The child of a fork starts the name-server list's lock afresh. */
void dns53_fork_child(void);

#endif

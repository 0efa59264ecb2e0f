/* One two-way table between errno values and SOCKS reply codes, so the server
 * answers with the reply that names the real cause and the shim turns a proxy's
 * reply into the errno connect(2) would have given for a direct connection. */
#ifndef SOCKSIFY_ERRMAP_H
#define SOCKSIFY_ERRMAP_H

#include <stdint.h>

/* errno of a failed connect()/resolution -> SOCKS5 REP. */
uint8_t errno_to_s5_rep(int err);
/* SOCKS5 REP -> the errno connect() reports for it in the shim. */
int s5_rep_to_errno(uint8_t rep);
/* SOCKS4 CD -> errno (91..93 -> ECONNREFUSED / EACCES). */
int s4_rep_to_errno(uint8_t cd);
/* HTTP CONNECT status -> errno: 2xx 0, 403/407 EACCES, 404/502 EHOSTUNREACH,
 * 504 ETIMEDOUT, any other failure (503 included) ECONNREFUSED. */
int http_status_to_errno(int status);
/* getaddrinfo EAI_* failure -> SOCKS5 REP (NXDOMAIN -> host unreachable). */
uint8_t eai_to_s5_rep(int eai);

/* errno of a failed connect()/resolution -> SOCKS4 CD (0 -> 90, else 91). */
uint8_t errno_to_s4_rep(int err);
/* errno of a failed connect() -> HTTP CONNECT status (0 -> 200), the inverse of
 * http_status_to_errno: EACCES/EPERM 403, ECONNREFUSED 503, ETIMEDOUT 504, else 502. */
int errno_to_http_status(int err);

const char *s5_rep_str(uint8_t rep);
const char *s4_rep_str(uint8_t cd);

#endif

/* The datagram family's wire work, kept apart from its hooks so unit tests can run it:
 * wrapping a payload in one SOCKS5 UDP request header per hop of a chain (RFC 1928
 * section 7, nested) and taking them off again. Pure functions over buffers. */
#ifndef SOCKSIFY_UDP_WIRE_H
#define SOCKSIFY_UDP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "socks.h"

/* RSV(2) FRAG(1) ATYP(1) + the longest address (a 255-byte name with its length
 * byte) + PORT(2): the largest header of one hop. */
#define UDP_WIRE_HDR_MAX (4 + 1 + SOCKS_NAME_MAX + 2)

/* Writes the headers for a datagram to dst through nh hops (nh >= 1): outermost
 * first, hop 0 asked for relays[1], ..., hop nh-1 for dst (relays[0] is unused: it
 * is where the datagram is sent). Returns their total length, or -1 if cap is short
 * or an address cannot be encoded. */
ssize_t udp_wire_wrap(uint8_t *buf, size_t cap, const struct socks_addr *relays, size_t nh,
		      const struct socks_addr *dst);

/* Takes the nh headers (at least one) off a datagram from hop 0's relay: *used the
 * bytes they span, *src the innermost source (the real sender). False for a
 * fragment (FRAG != 0: we do not reassemble, RFC 1928 allows dropping) or a
 * malformed or short header. */
bool udp_wire_unwrap(const uint8_t *buf, size_t len, size_t nh, size_t *used,
		     struct socks_addr *src);

#endif

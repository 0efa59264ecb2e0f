/* The remote-DNS side of libsocksify.so, as the rest of the shim sees it
 * (preload/resolver.c implements it): with dns=remote every name a program resolves
 * becomes a fake address from the process tree's shared name table
 * (common/nametable.h), and connect() turns that address back into the name so the
 * last hop receives the name itself. */
#ifndef SOCKSIFY_FAKEDNS_H
#define SOCKSIFY_FAKEDNS_H

#include <stdbool.h>
#include <stdint.h>

#include "socks.h"

/* A fake address (IPv4, IPv6 or IPv4-mapped) -> its name as a DOMAINNAME destination
 * with the same port. False for a real address, and for a fake one whose name is
 * unknown (never handed out in this tree, or reused after its grace period); see
 * fakedns_is_fake to tell those apart. Lock-free and allocation-free: safe in
 * connect() from any thread. */
bool fakedns_name(const struct socks_addr *addr, struct socks_addr *name_out);
/* The other way, for a datagram whose source the proxy reports as a name: that
 * name's fake address in `family` (AF_INET or AF_INET6, IPv4 for anything else) with
 * the given port, entered in the table if new. False if the name is not a valid
 * name or the table cannot take it. */
bool fakedns_addr_for_name(const char *name, int family, uint16_t port, struct socks_addr *out);
/* Is addr inside one of the fake ranges at all? Such an address that has no name
 * must not be connected to (it would only reach the proxy as a bogus IP). */
bool fakedns_is_fake(const struct socks_addr *addr);

#endif

/* The hosts file (hosts(5)) read from a buffer: every address of a name, and the name
 * of an address. Pure: no I/O, no allocation; the caller reads the file (the shim
 * re-reads it when it changes) and passes its bytes. A line is an address and its
 * names separated by blanks; '#' starts a comment; lines that do not parse are
 * skipped, as libc does. */
#ifndef SOCKSIFY_HOSTS_H
#define SOCKSIFY_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOSTS_MAX_ADDRS 16  /* a name's addresses beyond this are not returned */
#define HOSTS_NAME_MAX 255  /* a longer name is never a canonical name */
#define HOSTS_MAX_FIELDS 34 /* an address and up to 33 names on one line */

/* A name's addresses (family AF_INET with 4 bytes, or AF_INET6 with 16) and its
 * canonical name. The resolver also uses it for the answers it makes up. */
struct host_addrs {
	int n;
	struct {
		int family;
		uint8_t addr[16];
	} a[HOSTS_MAX_ADDRS];
	char canon[HOSTS_NAME_MAX + 1];
};

/* Forward: every address of name (compared case-insensitively), in file order; canon
 * is the first name of the first matching line. True if any line names it. */
bool hosts_find_name(const char *buf, size_t len, const char *name, struct host_addrs *out);
/* Reverse: the first name of the first line holding addr (4 bytes for AF_INET, 16 for
 * AF_INET6), into name (cap bytes). True if found and it fits. */
bool hosts_find_addr(const char *buf, size_t len, int family, const uint8_t *addr, char *name,
		     size_t cap);

#endif

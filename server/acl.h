/* Who may use the server and where it may go: the client allow-list (-a), the
 * destination deny rules (--deny-dest), and the default deny of loopback,
 * link-local and the server's own addresses on a non-loopback listener.
 * The rule sets live in one struct acl that SIGHUP swaps as a whole. */
#ifndef SOCKSIFYD_ACL_H
#define SOCKSIFYD_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "addr.h"

struct acl {
	struct cidr *allow;    /* empty: any client */
	size_t nallow;
	struct rule *deny;
	size_t ndeny;
	struct socks_addr *own; /* the host's interface addresses (getifaddrs) */
	size_t nown;
};

/* Adds to an acl being built; err says what is wrong. */
bool acl_add_allow(struct acl *a, const char *cidr, char *err, size_t errlen);
bool acl_add_deny(struct acl *a, const char *rule, char *err, size_t errlen);
/* Appends src's allow and deny rules to dst (copied as values). */
bool acl_add_rules_of(struct acl *dst, const struct acl *src);
/* Reads an ACL file: `allow CIDR` and `deny-dest RULE` lines, # comments. */
bool acl_load_file(struct acl *a, const char *path, char *err, size_t errlen);
/* Refreshes the list of own addresses. */
bool acl_load_own(struct acl *a);
void acl_free(struct acl *a);

bool acl_client_allowed(const struct acl *a, const struct sockaddr *sa);
/* The destination as asked (a name or a literal), before any resolution. */
bool acl_dest_asked_denied(const struct acl *a, const struct socks_addr *dst);
/* An address about to be connected to or sent to. strict: the listener is not on
 * loopback and --allow-local-dest was not given, so local addresses are refused. */
bool acl_dest_addr_denied(const struct acl *a, const struct socks_addr *dst, bool strict);

#endif

/* What the resolver family's files share (not exported: the library is built with
 * -fvisibility=hidden). resolver.c: the real symbols, the name table and the fake
 * addresses; resolve.c: which names are answered how, and the hosts file;
 * services.c: service names to ports; gai_own.c: which addrinfo lists are ours;
 * gai.c, hostent.c, res.c: the interposed calls. */
#ifndef SOCKSIFY_RESOLVER_H
#define SOCKSIFY_RESOLVER_H

#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <stdbool.h>
#include <stdint.h>

#include "hosts.h"
#include "nametable.h"

/* ---- resolver.c ---- */

/* The real functions real.c does not carry, resolved once. */
struct rs_real_syms {
	int (*getnameinfo)(const struct sockaddr *, socklen_t, char *, socklen_t, char *,
			   socklen_t, int);
	int (*gethostbyname2_r)(const char *, int, struct hostent *, char *, size_t,
				struct hostent **, int *);
	int (*gethostbyaddr_r)(const void *, socklen_t, int, struct hostent *, char *, size_t,
			       struct hostent **, int *);
	struct hostent *(*gethostbyname2)(const char *, int);
	struct hostent *(*gethostbyaddr)(const void *, socklen_t, int);
	int (*res_nquery)(res_state, const char *, int, int, unsigned char *, int);
	int (*res_nsearch)(res_state, const char *, int, int, unsigned char *, int);
	int (*res_nquerydomain)(res_state, const char *, const char *, int, int,
				unsigned char *, int);
	int (*res_nsend)(res_state, const unsigned char *, int, unsigned char *, int);
	int (*res_query)(const char *, int, int, unsigned char *, int);
	int (*res_search)(const char *, int, int, unsigned char *, int);
	int (*res_querydomain)(const char *, const char *, int, int, unsigned char *, int);
	int (*res_send)(const unsigned char *, int, unsigned char *, int);
	int (*getaddrinfo_a)(int, struct gaicb **, int, struct sigevent *);
};
const struct rs_real_syms *rs_libc(void);

/* The fake ranges (for a quick "is this one of ours?" without the table). */
const struct nt_params *rs_get_params(void);
/* The process tree's table, attached on first use; with create false a missing table
 * is not created (nobody here has handed out an address). NULL on failure. */
struct nametable *rs_table_get(bool create);
/* The fake address(es) of canon for `family` (AF_UNSPEC: as configured). 0 or EAI_*. */
int rs_fake_answer(const char *canon, int family, int flags, struct host_addrs *ans);
/* The name a fake address (4 or 16 bytes, as family says) stands for: true if addr is
 * in a fake range (name is then "" when the table does not know it). */
bool rs_fake_addr_name(int family, const void *addr, char *name, size_t cap);
bool rs_fake_sa_name(const struct sockaddr *sa, socklen_t len, char *name, size_t cap);

/* ---- resolve.c ---- */

/* True when libc should answer: our own calls, dns=local. */
bool rs_passthrough(void);
bool rs_is_numeric(const char *name);

enum rs_kind {
	RS_LIBC,    /* numeric or a `direct` name: libc resolves it */
	RS_HOSTS,   /* answered from the hosts file or as localhost */
	RS_FAKE,    /* a fake address from the name table */
	RS_BLOCKED, /* a `block` rule, or not a name at all */
};
/* Classifies a name and, for RS_HOSTS / RS_FAKE, answers it into ans. Returns the
 * kind; *eai is set for RS_BLOCKED and failures. */
enum rs_kind rs_resolve(const char *name, int family, int flags, uint16_t port,
			struct host_addrs *ans, int *eai);
/* The hosts file's name for addr (4 or 16 bytes, as family says). */
bool rs_hosts_addr(int family, const void *addr, char *name, size_t cap);

/* ---- services.c ---- */

struct rs_svc {
	int socktype, protocol;
	uint16_t port; /* host order */
};
/* The socktype/protocol/port triples to answer with (at most 3), or an EAI_* code. */
int rs_services(const char *service, const struct addrinfo *h, struct rs_svc *out);

/* ---- gai_own.c ---- */

/* Records an addrinfo list we allocated; false if out of memory. */
bool rs_own_put(const void *p);
/* Forgets p and returns true if it was ours. */
bool rs_own_take(const void *p);

/* ---- fork: each file's locks, held across fork() in one order (resolver.c) ---- */
enum rs_fork { RS_FORK_PREPARE, RS_FORK_PARENT, RS_FORK_CHILD };
/* A mutex across fork: locked before, unlocked in the parent, fresh in the child. */
void rs_mutex_fork(pthread_mutex_t *mu, enum rs_fork phase);
void rs_hosts_fork(enum rs_fork phase);
void rs_svc_fork(enum rs_fork phase);
void rs_own_fork(enum rs_fork phase);

#endif

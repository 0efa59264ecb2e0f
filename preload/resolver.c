/* The resolver family's core: the real libc symbols behind the hooks, the user's
 * name table (attached on first use, common/nametable.c) and the fake addresses it
 * hands out, the remote-DNS side the rest of the shim sees (fakedns.h), and start-up,
 * fork and exit.
 * With dns=remote no name leaves this host; resolve.c decides how each name is
 * answered, gai.c, hostent.c and res.c are the interposed calls. dns=local passes
 * everything to libc.
 *
 * Settings: the configuration's fake_net4, fake_net6, fake_grace, dns_unspec and
 * hosts_file keys (and their SOCKSIFY_* twins, common/conf.c); SOCKSIFY_NAMETABLE (a
 * table other than the user's own; ignored under AT_SECURE). */
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "fakedns.h"
#include "log.h"
#include "resolver.h"
#include "shim.h"
#include "util.h"

#define RS_ENV_TABLE "SOCKSIFY_NAMETABLE"

/* ---- the real functions (those real.c does not carry), resolved once ---- */

/* The real functions: real.c's one table. */
const struct real_syms *rs_libc(void)
{
	return real_resolver();
}

/* ---- the name table ---- */

static struct nametable rs_table;
static int rs_table_state; /* 0 not yet, 1 attached, -1 failed (logged once) */
static pthread_mutex_t rs_table_mu = PTHREAD_MUTEX_INITIALIZER;
static struct nt_params rs_params;
static pthread_once_t rs_params_once = PTHREAD_ONCE_INIT;
static enum dns_unspec rs_unspec;

static const char *rs_env(const char *name)
{
	return getauxval(AT_SECURE) ? NULL : getenv(name);
}

/* The ranges and grace period a table we create gets: the configuration's fake_net4,
 * fake_net6 and fake_grace (common/conf.c validated them for the table's size), or the
 * defaults when the configuration is bad. Every process of the tree reads the same
 * configuration, so their quick range checks agree with the table's header. */
static void rs_params_load(void)
{
	const struct socksify_conf *c = shim_conf();
	nt_params_default(&rs_params);
	if (c == NULL)
		return;
	if (!nt_params_set_net4(&rs_params, c->fake_net4) ||
	    !nt_params_set_net6(&rs_params, c->fake_net6))
		nt_params_default(&rs_params); /* cannot happen: conf.c checked them */
	rs_params.grace_s = c->fake_grace_s;
	/* What AF_UNSPEC gets: by default an IPv4 fake and then an IPv6 one (unless
	 * AI_ADDRCONFIG and the host has no IPv6 address), as libc would answer for a
	 * dual-stack name: programs that ask AF_UNSPEC and keep only one family (curl -6)
	 * need both. Both lead to the same name through the proxy. */
	rs_unspec = c->dns_unspec;
}

const struct nt_params *rs_get_params(void)
{
	pthread_once(&rs_params_once, rs_params_load);
	return &rs_params;
}

/* A small /dev/shm (a container's 64 MiB) cannot hold the default table when full,
 * and a full tmpfs turns a write into SIGBUS inside the program: halve the table
 * until it fits in three quarters of the free space (4096 names at the least;
 * nt_create refuses what still does not fit). */
static void rs_fit_params(struct nt_params *p)
{
	struct statvfs vfs;
	if (statvfs("/dev/shm", &vfs) != 0)
		return;
	uint64_t room = (uint64_t)vfs.f_bavail * vfs.f_frsize / 4 * 3;
	uint32_t nsmall = p->nsmall;
	while (nt_table_size(p) > room && p->nsmall > 4096) {
		p->nsmall /= 2;
		p->nlong = p->nlong > 256 ? p->nlong / 2 : p->nlong;
	}
	if (p->nsmall != nsmall)
		LOG_INFO("/dev/shm has room for %u names, not %u: the name table is smaller",
			 p->nsmall + p->nlong, nsmall + NT_DEFAULT_NLONG);
}

/* Attaches (creating if needed) this process's table: which one is
 * nt_attach_user's policy (the user's own, or SOCKSIFY_NAMETABLE's). With create
 * false (connect's reverse lookup) a missing table is not created: nobody here has
 * handed out an address yet. */
struct nametable *rs_table_get(bool create)
{
	if (__atomic_load_n(&rs_table_state, __ATOMIC_ACQUIRE) == 1)
		return &rs_table;
	struct nametable *t = NULL;
	pthread_mutex_lock(&rs_table_mu);
	if (rs_table_state == 1) {
		t = &rs_table;
		goto out;
	}
	if (rs_table_state < 0)
		goto out;
	struct nt_params p = *rs_get_params();
	bool private_table;
	if (create)
		rs_fit_params(&p);
	int rc = nt_attach_user(&rs_table, "/dev/shm", rs_env(RS_ENV_TABLE), &p, create,
				&private_table);
	if (rc == 0) {
		nt_register_pid(&rs_table, getpid());
		__atomic_store_n(&rs_table_state, 1, __ATOMIC_RELEASE);
		t = &rs_table;
		if (private_table)
			LOG_WARN("the user's name table in /dev/shm is not a file of ours: this "
				 "process and its forked children use a private one");
	} else if (create) {
		rs_table_state = -1;
		LOG_ERR("remote DNS disabled: name table %s: %s; lookups fail", rs_table.path,
			strerror(-rc));
	}
out:
	pthread_mutex_unlock(&rs_table_mu);
	return t;
}

/* Maps a canonical name to its fake index. 0 or an EAI_* code. */
static int rs_fake_index(const char *canon, uint32_t *idx)
{
	struct nametable *t = rs_table_get(true);
	if (t == NULL)
		return EAI_FAIL;
	int rc = nt_lookup(t, canon, idx);
	if (rc == 0)
		return 0;
	if (rc == -ENOSPC) {
		LOG_WARN("name table full: every fake address is still in use; %s fails", canon);
		return EAI_AGAIN;
	}
	return rc == -EINVAL ? EAI_NONAME : EAI_FAIL;
}

static bool rs_has_v6;
static pthread_once_t rs_has_v6_once = PTHREAD_ONCE_INIT;

/* AI_ADDRCONFIG's rule for IPv6: an address other than loopback and link-local. Read
 * once (netlink, no DNS). */
static void rs_has_v6_check(void)
{
	struct ifaddrs *ifa, *p;
	if (getifaddrs(&ifa) != 0)
		return;
	for (p = ifa; p; p = p->ifa_next) {
		if (!p->ifa_addr || p->ifa_addr->sa_family != AF_INET6)
			continue;
		const struct in6_addr *a = &((struct sockaddr_in6 *)p->ifa_addr)->sin6_addr;
		if (!IN6_IS_ADDR_LOOPBACK(a) && !IN6_IS_ADDR_LINKLOCAL(a))
			rs_has_v6 = true;
	}
	freeifaddrs(ifa);
}

/* Fills ans with the fake address(es) of canon for `family` (AF_UNSPEC: see
 * rs_params_load). */
int rs_fake_answer(const char *canon, int family, int flags, struct host_addrs *ans)
{
	uint32_t idx;
	int rc = rs_fake_index(canon, &idx);
	if (rc != 0)
		return rc;
	memset(ans, 0, sizeof(*ans));
	str_copy(ans->canon, canon, sizeof(ans->canon));
	rs_get_params(); /* sets rs_unspec */
	bool v4 = family == AF_INET || (family == AF_UNSPEC && rs_unspec != DNS_UNSPEC_IPV6);
	bool v6 = family == AF_INET6 || (family == AF_UNSPEC && rs_unspec != DNS_UNSPEC_IPV4);
	if (family == AF_UNSPEC && v4 && v6 && (flags & AI_ADDRCONFIG)) {
		pthread_once(&rs_has_v6_once, rs_has_v6_check);
		v6 = rs_has_v6;
	}
	if (v4) {
		ans->a[ans->n].family = AF_INET;
		nt_addr4(&rs_table, idx, (struct in_addr *)ans->a[ans->n].addr);
		ans->n++;
	}
	if (v6) {
		ans->a[ans->n].family = AF_INET6;
		nt_addr6(&rs_table, idx, (struct in6_addr *)ans->a[ans->n].addr);
		ans->n++;
	}
	return 0;
}

bool rs_fake_sa_name(const struct sockaddr *sa, socklen_t len, char *name, size_t cap)
{
	uint32_t idx;
	if (!nt_params_is_fake(rs_get_params(), sa, len, &idx))
		return false;
	/* Attach, never create: a reverse lookup cannot be the first use. */
	struct nametable *t = rs_table_get(false);
	if (t == NULL || nt_name(t, idx, name, cap) < 0)
		name[0] = '\0';
	return true;
}

bool rs_fake_addr_name(int family, const void *addr, char *name, size_t cap)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		memcpy(&((struct sockaddr_in *)&ss)->sin_addr, addr, 4);
	else
		memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, addr, 16);
	return rs_fake_sa_name((struct sockaddr *)&ss, sizeof(ss), name, cap);
}

/* ---- for connect(): fake address -> name ---- */

bool fakedns_is_fake(const struct socks_addr *addr)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(addr, &ss);
	return len != 0 && nt_params_is_fake(rs_get_params(), (struct sockaddr *)&ss, len, NULL);
}

bool fakedns_name(const struct socks_addr *addr, struct socks_addr *name_out)
{
	struct sockaddr_storage ss;
	uint32_t idx;
	socklen_t len = addr_to_sockaddr(addr, &ss);
	if (len == 0 || !nt_params_is_fake(rs_get_params(), (struct sockaddr *)&ss, len, &idx))
		return false;
	/* An exec'd child connects to what its parent resolved: attach, never create. */
	struct nametable *t = rs_table_get(false);
	if (t == NULL)
		return false;
	memset(name_out, 0, sizeof(*name_out));
	if (nt_name(t, idx, name_out->u.name, sizeof(name_out->u.name)) < 0)
		return false;
	name_out->atyp = SOCKS5_ATYP_DOMAINNAME;
	name_out->port = addr->port;
	return true;
}

bool fakedns_addr_for_name(const char *name, int family, uint16_t port, struct socks_addr *out)
{
	char canon[NT_NAME_MAX + 1];
	uint32_t idx;
	if (name == NULL || nt_canon(name, canon, sizeof(canon)) < 0 ||
	    rs_fake_index(canon, &idx) != 0)
		return false;
	memset(out, 0, sizeof(*out));
	out->port = port;
	if (family == AF_INET6) {
		out->atyp = SOCKS5_ATYP_IPV6;
		nt_addr6(&rs_table, idx, (struct in6_addr *)out->u.v6);
	} else {
		out->atyp = SOCKS5_ATYP_IPV4;
		nt_addr4(&rs_table, idx, (struct in_addr *)out->u.v4);
	}
	return true;
}

/* ---- start-up, fork and exit ---- */

void rs_mutex_fork(pthread_mutex_t *mu, enum rs_fork phase)
{
	static const pthread_mutex_t mu_init = PTHREAD_MUTEX_INITIALIZER;
	if (phase == RS_FORK_PREPARE)
		pthread_mutex_lock(mu);
	else if (phase == RS_FORK_PARENT)
		pthread_mutex_unlock(mu);
	else
		memcpy(mu, &mu_init, sizeof(mu_init));
}

/* Our locks are held across fork so that the child never inherits one held by a
 * thread it does not have, and no lock is caught half-changed. */
void rs_atfork_prepare(void)
{
	pthread_mutex_lock(&rs_table_mu);
	rs_own_fork(RS_FORK_PREPARE);
	rs_svc_fork(RS_FORK_PREPARE);
	rs_hosts_fork(RS_FORK_PREPARE);
}

void rs_atfork_parent(void)
{
	rs_hosts_fork(RS_FORK_PARENT);
	rs_svc_fork(RS_FORK_PARENT);
	rs_own_fork(RS_FORK_PARENT);
	pthread_mutex_unlock(&rs_table_mu);
}

/* The child is single-threaded: it starts from fresh locks (see rs_hosts_fork). */
void rs_atfork_child(void)
{
	rs_hosts_fork(RS_FORK_CHILD);
	rs_own_fork(RS_FORK_CHILD);
	rs_svc_fork(RS_FORK_CHILD);
	rs_mutex_fork(&rs_table_mu, RS_FORK_CHILD);
	/* The child shares the mapping: record it, so the table outlives our exit while
	 * the child may still use an address we gave it (the daemonise pattern). */
	if (__atomic_load_n(&rs_table_state, __ATOMIC_ACQUIRE) == 1)
		nt_register_pid(&rs_table, getpid());
}

/* Nothing about the name table happens at start-up: it is the user's, found on the
 * first remote lookup (nt_attach_user). */

__attribute__((destructor)) static void rs_fini(void)
{
	if (__atomic_load_n(&rs_table_state, __ATOMIC_ACQUIRE) == 1)
		nt_release(&rs_table, getpid());
}


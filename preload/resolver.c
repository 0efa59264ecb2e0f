/* The resolver family: getaddrinfo/freeaddrinfo, gethostbyname{,2}{,_r},
 * gethostbyaddr{,_r}, getnameinfo and the res_* query calls. With dns=remote no name
 * leaves this host: numeric addresses, localhost and /etc/hosts are answered here
 * (libc would fall through to DNS for a family the hosts file lacks), `direct` names
 * go to libc, `block` names fail, and every other name gets a fake address from the
 * process tree's shared table (common/nametable.h) that connect() turns back into the
 * name. The res_* calls answer A/AAAA with fake addresses (PTR from the table or the
 * hosts file) and refuse every other query: nothing we do not emulate is ever sent.
 * dns=local passes everything to libc.
 *
 * Environment (ignored under AT_SECURE): SOCKSIFY_NAMETABLE (the tree's table, set
 * by our constructor), SOCKSIFY_FAKE_NET4 (default 240.0.0.0/4), SOCKSIFY_FAKE_NET6
 * (a /96, default fd73:6f63:6b73::/96), SOCKSIFY_FAKE_GRACE (seconds, default 3600),
 * SOCKSIFY_DNS_UNSPEC (both | ipv4 | ipv6: what AF_UNSPEC gets, default both),
 * SOCKSIFY_HOSTS_FILE (default /etc/hosts; empty: none). */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "dnsmsg.h"
#include "fakedns.h"
#include "hosts.h"
#include "log.h"
#include "nametable.h"
#include "shim.h"
#include "util.h"

#define RS_ENV_TABLE "SOCKSIFY_NAMETABLE"
#define RS_HOSTS_MAX (4u << 20) /* a bigger hosts file is read up to this size */

/* ---- the real functions: real.c's one table ---- */

static inline const struct real_syms *rs_libc(void)
{
	return real_resolver();
}

/* ---- policy ---- */

/* True when libc should answer: our own calls, dns=local. A bad configuration counts
 * as remote: its connections fail anyway, and its names must not leak meanwhile. */
static bool rs_passthrough(void)
{
	if (shim_inside)
		return true;
	const struct socksify_conf *c = shim_conf();
	return c != NULL && c->dns == DNS_LOCAL;
}

enum rs_kind {
	RS_LIBC,    /* numeric or a `direct` name: libc resolves it */
	RS_HOSTS,   /* answered from the hosts file or as localhost */
	RS_FAKE,    /* a fake address from the name table */
	RS_BLOCKED, /* a `block` rule, or not a name at all */
};

static bool rs_is_numeric(const char *name)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[INET6_ADDRSTRLEN + 64];
	if (inet_aton(name, &a4) && strpbrk(name, " \t\n") == NULL)
		return true;
	/* An IPv6 literal may carry a scope: fe80::1%eth0. */
	size_t n = strcspn(name, "%");
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, name, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, &a6) == 1;
}

/* Name rules ignore the port when we resolve: a `direct` name must get its real
 * address whatever port it is later used with, and a `block` name with a port fails
 * only when that port is asked for (connect() checks the rest). */
static bool rs_name_rule(const struct rule *rules, size_t n, const char *canon, uint16_t port,
			 bool any_port)
{
	struct socks_addr dst = { .atyp = SOCKS5_ATYP_DOMAINNAME, .port = port };
	str_copy(dst.u.name, canon, sizeof(dst.u.name));
	for (size_t i = 0; i < n; i++) {
		if (rules[i].kind != RULE_HOST && rules[i].kind != RULE_SUFFIX)
			continue;
		if (any_port)
			dst.port = rules[i].port;
		else if (rules[i].port != 0 && port == 0)
			continue; /* the port is not known yet: connect() will judge */
		else
			dst.port = port;
		if (rule_match(&rules[i], &dst))
			return true;
	}
	return false;
}

/* ---- the hosts file: read once, re-read when it changes (checked once a second) ---- */

static pthread_rwlock_t rs_hosts_lock = PTHREAD_RWLOCK_INITIALIZER;
static char *rs_hosts_buf;
static size_t rs_hosts_len;
static struct timespec rs_hosts_mtime;
static time_t rs_hosts_checked;

static const char *rs_hosts_path(void)
{
	const char *p = getauxval(AT_SECURE) ? NULL : getenv("SOCKSIFY_HOSTS_FILE");
	/* SOCKSIFY_HOSTS_FILE= (empty) turns the hosts file off: every name is remote. */
	return p != NULL ? p : "/etc/hosts";
}

static void rs_hosts_reload(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if (__atomic_load_n(&rs_hosts_checked, __ATOMIC_RELAXED) == now.tv_sec)
		return;
	pthread_rwlock_wrlock(&rs_hosts_lock);
	if (rs_hosts_checked == now.tv_sec)
		goto out;
	rs_hosts_checked = now.tv_sec;
	const char *path = rs_hosts_path();
	struct stat st;
	int fd = path[0] ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0 || fstat(fd, &st) < 0) {
		free(rs_hosts_buf);
		rs_hosts_buf = NULL;
		rs_hosts_len = 0;
		goto close;
	}
	if (rs_hosts_buf && st.st_mtim.tv_sec == rs_hosts_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == rs_hosts_mtime.tv_nsec)
		goto close;
	size_t want = (size_t)st.st_size < RS_HOSTS_MAX ? (size_t)st.st_size : RS_HOSTS_MAX;
	char *buf = malloc(want + 1);
	if (buf == NULL)
		goto close;
	size_t have = 0;
	while (have < want) {
		ssize_t r = read(fd, buf + have, want - have);
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	buf[have] = '\0';
	free(rs_hosts_buf);
	rs_hosts_buf = buf;
	rs_hosts_len = have;
	rs_hosts_mtime = st.st_mtim;
close:
	if (fd >= 0)
		close(fd);
out:
	pthread_rwlock_unlock(&rs_hosts_lock);
}

/* Every address of name in the hosts file (common/hosts.c parses it). */
static bool rs_hosts_name(const char *name, struct host_addrs *ans)
{
	rs_hosts_reload();
	pthread_rwlock_rdlock(&rs_hosts_lock);
	bool found = hosts_find_name(rs_hosts_buf, rs_hosts_len, name, ans);
	pthread_rwlock_unlock(&rs_hosts_lock);
	return found;
}

/* The hosts file's name for addr (4 or 16 bytes, as family says). */
static bool rs_hosts_addr(int family, const void *addr, char *name, size_t cap)
{
	rs_hosts_reload();
	pthread_rwlock_rdlock(&rs_hosts_lock);
	bool found = hosts_find_addr(rs_hosts_buf, rs_hosts_len, family, addr, name, cap);
	pthread_rwlock_unlock(&rs_hosts_lock);
	return found;
}

/* Keeps only the addresses of `family` (AF_UNSPEC: all). For AF_INET6 with
 * AI_V4MAPPED, IPv4 addresses become ::ffff:a.b.c.d when there is no IPv6 one (or
 * always, with AI_ALL), as getaddrinfo(3) says. */
static void rs_answer_filter(struct host_addrs *ans, int family, int flags)
{
	int k = 0, n6 = 0;
	for (int i = 0; i < ans->n; i++)
		n6 += ans->a[i].family == AF_INET6;
	bool map = family == AF_INET6 && (flags & AI_V4MAPPED) && (n6 == 0 || (flags & AI_ALL));
	for (int i = 0; i < ans->n; i++) {
		if (map && ans->a[i].family == AF_INET) {
			uint8_t v4[4];
			memcpy(v4, ans->a[i].addr, 4);
			memset(ans->a[i].addr, 0, 10);
			ans->a[i].addr[10] = ans->a[i].addr[11] = 0xff;
			memcpy(ans->a[i].addr + 12, v4, 4);
			ans->a[i].family = AF_INET6;
		}
		if (family == AF_UNSPEC || ans->a[i].family == family)
			ans->a[k++] = ans->a[i];
	}
	ans->n = k;
}

static bool rs_is_localhost(const char *canon)
{
	size_t n = strlen(canon);
	return strcmp(canon, "localhost") == 0 ||
	       (n > 10 && strcmp(canon + n - 10, ".localhost") == 0);
}

/* ---- the name table ---- */

static struct nametable rs_table;
static int rs_table_state; /* 0 not yet, 1 attached, -1 failed (logged once) */
static pthread_mutex_t rs_table_mu = PTHREAD_MUTEX_INITIALIZER;
static struct nt_params rs_params;
static pthread_once_t rs_params_once = PTHREAD_ONCE_INIT;
enum rs_unspec { RS_UNSPEC_V4, RS_UNSPEC_V6, RS_UNSPEC_BOTH };
static enum rs_unspec rs_unspec;

static const char *rs_env(const char *name)
{
	return getauxval(AT_SECURE) ? NULL : getenv(name);
}

/* The ranges, size and grace period a table we create gets: defaults, or
 * SOCKSIFY_FAKE_NET4 / SOCKSIFY_FAKE_NET6 / SOCKSIFY_FAKE_GRACE (seconds). Children
 * inherit them with the environment, so their quick range checks agree with the
 * table's header. */
static void rs_params_load(void)
{
	const char *v;
	unsigned long n;
	nt_params_default(&rs_params);
	if ((v = rs_env("SOCKSIFY_FAKE_NET4")) && *v && !nt_params_set_net4(&rs_params, v))
		LOG_WARN("SOCKSIFY_FAKE_NET4=%s is not an IPv4 CIDR of /30 or wider, using %s", v,
			 NT_DEFAULT_NET4);
	if ((v = rs_env("SOCKSIFY_FAKE_NET6")) && *v && !nt_params_set_net6(&rs_params, v))
		LOG_WARN("SOCKSIFY_FAKE_NET6=%s is not an IPv6 /96, using %s", v, NT_DEFAULT_NET6);
	if ((v = rs_env("SOCKSIFY_FAKE_GRACE")) && *v) {
		if (parse_ulong(v, 1, 365ul * 86400, &n))
			rs_params.grace_s = (uint32_t)n;
		else
			LOG_WARN("SOCKSIFY_FAKE_GRACE=%s is not a number of seconds", v);
	}
	/* What AF_UNSPEC gets: by default an IPv4 fake and then an IPv6 one (unless
	 * AI_ADDRCONFIG and the host has no IPv6 address), as libc would answer for a
	 * dual-stack name: programs that ask AF_UNSPEC and keep only one family (curl -6)
	 * need both. Both lead to the same name through the proxy. */
	v = rs_env("SOCKSIFY_DNS_UNSPEC");
	rs_unspec = !v ? RS_UNSPEC_BOTH : strcmp(v, "ipv4") == 0 ? RS_UNSPEC_V4
				       : strcmp(v, "ipv6") == 0 ? RS_UNSPEC_V6 : RS_UNSPEC_BOTH;
	/* A table whose size we were told to change would not match the 1M default. */
	uint32_t cap = rs_params.nsmall + rs_params.nlong;
	if (cap + 2 > (1ull << (32 - rs_params.prefix4))) {
		LOG_WARN("fake IPv4 range too small for %u names, using %s", cap, NT_DEFAULT_NET4);
		nt_params_set_net4(&rs_params, NT_DEFAULT_NET4);
	}
}

static const struct nt_params *rs_get_params(void)
{
	pthread_once(&rs_params_once, rs_params_load);
	return &rs_params;
}

static bool rs_path_ok(const char *p)
{
	size_t n = strlen(NT_PATH_PREFIX);
	return p != NULL && strncmp(p, NT_PATH_PREFIX, n) == 0 && strchr(p + n, '/') == NULL &&
	       strlen(p) < NT_PATH_MAX;
}

static void rs_random_path(char *buf, size_t cap)
{
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&r;
	}
	snprintf(buf, cap, NT_PATH_PREFIX "%u-%016llx", (unsigned)geteuid(), (unsigned long long)r);
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

/* Attaches (creating if needed) the table named by SOCKSIFY_NAMETABLE. With create
 * false (connect's reverse lookup) a missing table is not created: nobody here has
 * handed out an address yet. */
static struct nametable *rs_table_get(bool create)
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
	const char *env = rs_env(RS_ENV_TABLE);
	char path[NT_PATH_MAX];
	if (rs_path_ok(env))
		str_copy(path, env, sizeof(path));
	else
		rs_random_path(path, sizeof(path)); /* private to this process (see ctor) */
	bool created = false;
	int rc = nt_attach(&rs_table, path);
	if (rc == -ENOENT && create) {
		struct nt_params p = *rs_get_params();
		rs_fit_params(&p);
		rc = nt_open(&rs_table, path, &p);
		created = rc == 0;
	}
	if (rc == 0) {
		nt_register_pid(&rs_table, getpid());
		__atomic_store_n(&rs_table_state, 1, __ATOMIC_RELEASE);
		t = &rs_table;
		/* Once per tree, by its first resolver: drop the tables of trees that
		 * ended (idle for their grace period, nobody alive). */
		if (created)
			nt_gc_stale("/dev/shm", (unsigned)geteuid());
	} else if (create) {
		rs_table_state = -1;
		LOG_ERR("remote DNS disabled: name table %s: %s; lookups fail", path, strerror(-rc));
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
static int rs_fake_answer(const char *canon, int family, int flags, struct host_addrs *ans)
{
	uint32_t idx;
	int rc = rs_fake_index(canon, &idx);
	if (rc != 0)
		return rc;
	memset(ans, 0, sizeof(*ans));
	str_copy(ans->canon, canon, sizeof(ans->canon));
	rs_get_params(); /* sets rs_unspec */
	bool v4 = family == AF_INET || (family == AF_UNSPEC && rs_unspec != RS_UNSPEC_V6);
	bool v6 = family == AF_INET6 || (family == AF_UNSPEC && rs_unspec != RS_UNSPEC_V4);
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

/* Classifies a name and, for RS_HOSTS / RS_FAKE, answers it. canon receives the
 * canonical form. Returns the kind; *eai is set for RS_BLOCKED and failures. */
static enum rs_kind rs_resolve(const char *name, int family, int flags, uint16_t port,
			       struct host_addrs *ans, int *eai)
{
	char canon[NT_NAME_MAX + 1];
	const struct socksify_conf *c = shim_conf();
	*eai = 0;
	if (rs_is_numeric(name))
		return RS_LIBC;
	if (nt_canon(name, canon, sizeof(canon)) < 0) {
		*eai = EAI_NONAME;
		return RS_BLOCKED;
	}
	if (c != NULL && rs_name_rule(c->block, c->nblock, canon, port, false)) {
		LOG_INFO("lookup of %s refused: a block rule matches", canon);
		*eai = EAI_NONAME;
		return RS_BLOCKED;
	}
	bool local = rs_is_localhost(canon);
	if (rs_hosts_name(canon, ans)) {
		rs_answer_filter(ans, family, flags);
		if (ans->n > 0 || !local) {
			if (ans->n == 0)
				*eai = EAI_NONAME; /* the hosts file knows it, not in this family */
			return RS_HOSTS;
		}
	}
	if (local) {
		/* RFC 6761: localhost is loopback, whatever the hosts file forgot. */
		memset(ans, 0, sizeof(*ans));
		str_copy(ans->canon, "localhost", sizeof(ans->canon));
		if (family != AF_INET6) {
			ans->a[ans->n].family = AF_INET;
			memcpy(ans->a[ans->n++].addr, "\x7f\0\0\x01", 4);
		}
		if (family != AF_INET) {
			ans->a[ans->n].family = AF_INET6;
			memcpy(ans->a[ans->n++].addr, &in6addr_loopback, 16);
		}
		return RS_HOSTS;
	}
	if (c != NULL && rs_name_rule(c->direct, c->ndirect, canon, port, true))
		return RS_LIBC;
	*eai = rs_fake_answer(canon, family, flags, ans);
	if (*eai == 0) {
		/* The name as the program spelled it (case kept), minus a trailing dot: what
		 * a DNS answer's canonical name would look like. */
		size_t n = str_copy(ans->canon, name, sizeof(ans->canon));
		if (n > 0 && n < sizeof(ans->canon) && ans->canon[n - 1] == '.')
			ans->canon[n - 1] = '\0';
	}
	return RS_FAKE;
}

/* ---- getaddrinfo: our results are one allocation each, known to freeaddrinfo ---- */

/* A registry of the lists we handed out, so freeaddrinfo can tell ours from libc's
 * without reading memory around a pointer it does not own. */
static pthread_mutex_t rs_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t *rs_reg;
static size_t rs_reg_cap, rs_reg_n;

static size_t rs_reg_home(uintptr_t p, size_t cap)
{
	return (size_t)(((uint64_t)p * 0x9E3779B97F4A7C15ULL) >> 40) & (cap - 1);
}

static bool rs_reg_put_locked(uintptr_t p)
{
	if ((rs_reg_n + 1) * 2 > rs_reg_cap) {
		size_t ncap = rs_reg_cap ? rs_reg_cap * 2 : 64;
		uintptr_t *n = calloc(ncap, sizeof(*n));
		if (n == NULL)
			return false;
		for (size_t i = 0; i < rs_reg_cap; i++) {
			if (rs_reg[i] == 0)
				continue;
			size_t j = rs_reg_home(rs_reg[i], ncap);
			while (n[j] != 0)
				j = (j + 1) & (ncap - 1);
			n[j] = rs_reg[i];
		}
		free(rs_reg);
		rs_reg = n;
		rs_reg_cap = ncap;
	}
	size_t j = rs_reg_home(p, rs_reg_cap);
	while (rs_reg[j] != 0)
		j = (j + 1) & (rs_reg_cap - 1);
	rs_reg[j] = p;
	rs_reg_n++;
	return true;
}

/* Removes p if present (linear probing, backward-shift delete). */
static bool rs_reg_take_locked(uintptr_t p)
{
	if (rs_reg_cap == 0)
		return false;
	size_t mask = rs_reg_cap - 1, i = rs_reg_home(p, rs_reg_cap);
	while (rs_reg[i] != p) {
		if (rs_reg[i] == 0)
			return false;
		i = (i + 1) & mask;
	}
	for (size_t j = (i + 1) & mask; rs_reg[j] != 0; j = (j + 1) & mask) {
		size_t k = rs_reg_home(rs_reg[j], rs_reg_cap);
		if (((j - k) & mask) >= ((j - i) & mask)) {
			rs_reg[i] = rs_reg[j];
			i = j;
		}
	}
	rs_reg[i] = 0;
	rs_reg_n--;
	return true;
}

struct rs_ai {
	struct addrinfo ai;
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} sa;
};

struct rs_svc {
	int socktype, protocol;
	uint16_t port; /* host order */
};

#define RS_AI_FLAGS                                                                       \
	(AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_V4MAPPED | AI_ALL | AI_ADDRCONFIG |  \
	 AI_NUMERICSERV | AI_IDN | AI_CANONIDN | 0x0100 | 0x0200)

/* Named services ("https") cost a trip through NSS and /etc/services (~25 us) on
 * every call; a small cache of the ones seen keeps a known name's lookup cheap. The
 * file changes about never, and a stale port would only be as stale as the file. */
#define RS_SVC_SLOTS 32
struct rs_svc_entry {
	char name[24];
	bool tcp;
	uint16_t port;
};
static struct rs_svc_entry rs_svc_cache[RS_SVC_SLOTS];
static pthread_mutex_t rs_svc_mu = PTHREAD_MUTEX_INITIALIZER;

static struct rs_svc_entry *rs_svc_slot(const char *name, bool tcp)
{
	uint32_t h = tcp ? 7 : 3;
	for (const char *p = name; *p; p++)
		h = h * 31 + (unsigned char)*p;
	return &rs_svc_cache[h % RS_SVC_SLOTS];
}

static bool rs_svc_cached(const char *name, bool tcp, uint16_t *port)
{
	if (strlen(name) >= sizeof(rs_svc_cache[0].name))
		return false;
	pthread_mutex_lock(&rs_svc_mu);
	const struct rs_svc_entry *e = rs_svc_slot(name, tcp);
	bool hit = e->name[0] && e->tcp == tcp && strcmp(e->name, name) == 0;
	if (hit)
		*port = e->port;
	pthread_mutex_unlock(&rs_svc_mu);
	return hit;
}

static void rs_svc_remember(const char *name, bool tcp, uint16_t port)
{
	if (strlen(name) >= sizeof(rs_svc_cache[0].name))
		return;
	pthread_mutex_lock(&rs_svc_mu);
	struct rs_svc_entry *e = rs_svc_slot(name, tcp);
	str_copy(e->name, name, sizeof(e->name));
	e->tcp = tcp;
	e->port = port;
	pthread_mutex_unlock(&rs_svc_mu);
}

static int rs_port_of(const char *service, int socktype, int flags, uint16_t *port)
{
	unsigned long n;
	*port = 0;
	if (service == NULL)
		return 0;
	if (parse_ulong(service, 0, 65535, &n)) {
		*port = (uint16_t)n;
		return 0;
	}
	if (flags & AI_NUMERICSERV)
		return EAI_NONAME;
	if (socktype != SOCK_STREAM && socktype != SOCK_DGRAM)
		return EAI_SERVICE;
	bool tcp = socktype == SOCK_STREAM;
	if (rs_svc_cached(service, tcp, port))
		return 0;
	struct servent se, *res = NULL;
	char buf[1024];
	/* /etc/services through NSS "files": no network. */
	if (getservbyname_r(service, tcp ? "tcp" : "udp", &se, buf, sizeof(buf), &res) != 0 ||
	    res == NULL)
		return EAI_SERVICE;
	*port = ntohs((uint16_t)res->s_port);
	rs_svc_remember(service, tcp, *port);
	return 0;
}

/* The socktype/protocol/port triples to answer with, as glibc does: one per socket
 * type (stream, datagram, raw unless the service is a name), or just the one the
 * hints ask for. Returns how many, or an EAI_* code (they are negative). */
static int rs_services(const char *service, const struct addrinfo *h, struct rs_svc *out)
{
	static const struct rs_svc all[] = { { SOCK_STREAM, IPPROTO_TCP, 0 },
					     { SOCK_DGRAM, IPPROTO_UDP, 0 },
					     { SOCK_RAW, 0, 0 } };
	int n = 0, last_err = EAI_SERVICE;
	if (h->ai_socktype != 0 && h->ai_socktype != SOCK_STREAM && h->ai_socktype != SOCK_DGRAM &&
	    h->ai_socktype != SOCK_RAW) {
		unsigned long p;
		if (service != NULL && !parse_ulong(service, 0, 65535, &p))
			return EAI_SERVICE;
		out[0] = (struct rs_svc){ h->ai_socktype, h->ai_protocol,
					  service ? (uint16_t)p : 0 };
		return 1;
	}
	for (size_t i = 0; i < 3; i++) {
		struct rs_svc s = all[i];
		if (h->ai_socktype != 0 && h->ai_socktype != s.socktype)
			continue;
		if (h->ai_protocol != 0) {
			if (s.socktype == SOCK_RAW)
				s.protocol = h->ai_protocol;
			else if (h->ai_protocol != s.protocol)
				continue;
		}
		/* Raw sockets have no ports: glibc still lists them for a numeric service
		 * but not for a named one (a name belongs to tcp or udp). */
		unsigned long num;
		if (s.socktype == SOCK_RAW && service != NULL &&
		    !parse_ulong(service, 0, 65535, &num)) {
			if (h->ai_socktype == SOCK_RAW)
				return EAI_SERVICE;
			continue;
		}
		int rc = rs_port_of(service, s.socktype, h->ai_flags, &s.port);
		if (rc != 0) {
			last_err = rc;
			continue;
		}
		out[n++] = s;
	}
	if (n == 0)
		return h->ai_socktype != 0 && h->ai_protocol != 0 ? EAI_SOCKTYPE : last_err;
	return n;
}

static int rs_build_ai(const struct host_addrs *ans, const struct rs_svc *svc, int nsvc,
		       const struct addrinfo *h, struct addrinfo **res)
{
	size_t n = (size_t)ans->n * (size_t)nsvc;
	bool canon = (h->ai_flags & AI_CANONNAME) != 0;
	size_t clen = canon ? strlen(ans->canon) + 1 : 0;
	struct rs_ai *v = calloc(1, n * sizeof(*v) + clen);
	if (v == NULL)
		return EAI_MEMORY;
	size_t k = 0;
	for (int i = 0; i < ans->n; i++) {
		for (int j = 0; j < nsvc; j++, k++) {
			struct addrinfo *ai = &v[k].ai;
			ai->ai_family = ans->a[i].family;
			ai->ai_socktype = svc[j].socktype;
			ai->ai_protocol = svc[j].protocol;
			ai->ai_addr = (struct sockaddr *)&v[k].sa;
			if (ans->a[i].family == AF_INET) {
				v[k].sa.v4.sin_family = AF_INET;
				v[k].sa.v4.sin_port = htons(svc[j].port);
				memcpy(&v[k].sa.v4.sin_addr, ans->a[i].addr, 4);
				ai->ai_addrlen = sizeof(struct sockaddr_in);
			} else {
				v[k].sa.v6.sin6_family = AF_INET6;
				v[k].sa.v6.sin6_port = htons(svc[j].port);
				memcpy(&v[k].sa.v6.sin6_addr, ans->a[i].addr, 16);
				ai->ai_addrlen = sizeof(struct sockaddr_in6);
			}
			ai->ai_next = k + 1 < n ? &v[k + 1].ai : NULL;
		}
	}
	if (canon) {
		char *cn = (char *)(v + n);
		memcpy(cn, ans->canon, clen);
		v[0].ai.ai_canonname = cn;
	}
	pthread_mutex_lock(&rs_reg_mu);
	bool ok = rs_reg_put_locked((uintptr_t)v);
	pthread_mutex_unlock(&rs_reg_mu);
	if (!ok) {
		free(v);
		return EAI_MEMORY;
	}
	*res = &v[0].ai;
	return 0;
}

/* musl's order of checks: flags, family, then what the name and service need. */
static int rs_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
			  struct addrinfo **res, bool *pass)
{
	static const struct addrinfo no_hints = { .ai_flags = AI_V4MAPPED | AI_ADDRCONFIG };
	const struct addrinfo *h = hints ? hints : &no_hints;
	struct host_addrs ans;
	struct rs_svc svc[3] = { { 0, 0, 0 } };
	int eai;

	*pass = true;
	if (node == NULL || res == NULL || (h->ai_flags & AI_NUMERICHOST) ||
	    (h->ai_flags & ~RS_AI_FLAGS) ||
	    (h->ai_family != AF_UNSPEC && h->ai_family != AF_INET && h->ai_family != AF_INET6))
		return 0; /* libc answers these without a query (or with the error) */
	int nsvc = rs_services(service, h, svc);
	uint16_t port = nsvc > 0 ? svc[0].port : 0;
	enum rs_kind kind = rs_resolve(node, h->ai_family, h->ai_flags, port, &ans, &eai);
	if (kind == RS_LIBC)
		return 0;
	*pass = false;
	if (eai != 0)
		return eai;
	if (nsvc < 0)
		return nsvc;
	if (ans.n == 0)
		return EAI_NONAME;
	return rs_build_ai(&ans, svc, nsvc, h, res);
}

static int rs_getaddrinfo_hook(const char *node, const char *service,
			       const struct addrinfo *hints, struct addrinfo **res)
{
	bool pass = true;
	if (rs_passthrough())
		return real()->getaddrinfo(node, service, hints, res);
	int rc = rs_getaddrinfo(node, service, hints, res, &pass);
	if (!pass)
		return rc;
	if (node != NULL && hints != NULL && (hints->ai_flags & AI_CANONNAME) &&
	    rs_is_numeric(node)) {
		/* A literal with AI_CANONNAME: libc must not go looking for a name. */
		struct addrinfo numeric = *hints;
		numeric.ai_flags |= AI_NUMERICHOST;
		return real()->getaddrinfo(node, service, &numeric, res);
	}
	return real()->getaddrinfo(node, service, hints, res);
}

SHIM_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
			    struct addrinfo **res)
{
	int rc = rs_getaddrinfo_hook(node, service, hints, res);

	/* Real addresses for a name a rule names: the routing decision needs the name
	 * (policy.c). */
	if (rc == 0 && !shim_inside)
		shim_route_note(node, *res);
	return rc;
}

SHIM_EXPORT void freeaddrinfo(struct addrinfo *ai)
{
	if (ai == NULL)
		return;
	pthread_mutex_lock(&rs_reg_mu);
	bool ours = rs_reg_take_locked((uintptr_t)ai);
	pthread_mutex_unlock(&rs_reg_mu);
	if (ours)
		free(ai);
	else
		real()->freeaddrinfo(ai);
}

/* getaddrinfo_a: glibc resolves these on its own threads, calling its internal
 * getaddrinfo, which we cannot see. So we answer every request here, at once, through
 * our getaddrinfo, and notify as asked. gai_error() reads the request's own __return
 * field, and gai_suspend()/gai_cancel() find no pending request: both then behave as
 * for finished requests (0 and EAI_ALLDONE). A direct name is resolved synchronously. */
static void *rs_gai_notify_thread(void *arg)
{
	struct sigevent *sev = arg;
	sev->sigev_notify_function(sev->sigev_value);
	free(sev);
	return NULL;
}

static void rs_gai_notify(const struct sigevent *sev)
{
	if (sev == NULL)
		return;
	if (sev->sigev_notify == SIGEV_SIGNAL) {
		sigqueue(getpid(), sev->sigev_signo, sev->sigev_value);
	} else if (sev->sigev_notify == SIGEV_THREAD && sev->sigev_notify_function) {
		struct sigevent *copy = malloc(sizeof(*copy));
		pthread_attr_t attr, *ap = sev->sigev_notify_attributes;
		pthread_t th;
		if (copy == NULL)
			return;
		*copy = *sev;
		if (ap == NULL) {
			pthread_attr_init(&attr);
			pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			ap = &attr;
		}
		if (pthread_create(&th, ap, rs_gai_notify_thread, copy) != 0)
			free(copy);
		if (ap == &attr)
			pthread_attr_destroy(&attr);
	}
}

SHIM_EXPORT int getaddrinfo_a(int mode, struct gaicb *list[], int n, struct sigevent *sev)
{
	if (rs_passthrough() && rs_libc()->getaddrinfo_a)
		return rs_libc()->getaddrinfo_a(mode, list, n, sev);
	if ((mode != GAI_WAIT && mode != GAI_NOWAIT) || n < 0) {
		errno = EINVAL;
		return EAI_SYSTEM;
	}
	for (int i = 0; i < n; i++) {
		struct gaicb *g = list[i];
		if (g == NULL)
			continue;
		g->ar_result = NULL;
		g->__return = getaddrinfo(g->ar_name, g->ar_service, g->ar_request, &g->ar_result);
	}
	if (mode == GAI_NOWAIT)
		rs_gai_notify(sev);
	return 0;
}

/* ---- gethostbyname and friends ---- */

/* Lays out a hostent in the caller's buffer: pointers first (aligned), then the
 * addresses, then the name. ERANGE if it does not fit. */
static int rs_fill_hostent(const struct host_addrs *ans, int family, struct hostent *he,
			   char *buf, size_t buflen)
{
	int alen = family == AF_INET ? 4 : 16, n = 0;
	for (int i = 0; i < ans->n; i++)
		n += ans->a[i].family == family;
	size_t nlen = strlen(ans->canon) + 1;
	uintptr_t start = (uintptr_t)buf, p = (start + sizeof(char *) - 1) & ~(uintptr_t)(sizeof(char *) - 1);
	size_t need = (p - start) + (size_t)(n + 2) * sizeof(char *) + (size_t)n * (size_t)alen + nlen;
	if (buf == NULL || need > buflen)
		return ERANGE;
	char **addrs = (char **)p, **aliases = addrs + n + 1;
	char *data = (char *)(aliases + 1);
	int k = 0;
	for (int i = 0; i < ans->n; i++) {
		if (ans->a[i].family != family)
			continue;
		memcpy(data, ans->a[i].addr, (size_t)alen);
		addrs[k++] = data;
		data += alen;
	}
	addrs[k] = NULL;
	aliases[0] = NULL;
	memcpy(data, ans->canon, nlen);
	he->h_name = data;
	he->h_aliases = aliases;
	he->h_addrtype = family;
	he->h_length = alen;
	he->h_addr_list = addrs;
	return 0;
}

/* The core of every gethostbyname variant, with the _r contract: returns 0 (found, or
 * not found with *result NULL and *h_err set) or an errno (ERANGE). 1 = ask libc. */
static int rs_gethostbyname_r(const char *name, int af, struct hostent *he, char *buf,
			      size_t buflen, struct hostent **result, int *h_err)
{
	struct host_addrs ans;
	int eai;
	*result = NULL;
	if (rs_passthrough() || name == NULL)
		return 1;
	if (af != AF_INET && af != AF_INET6) {
		*h_err = NETDB_INTERNAL;
		errno = EAFNOSUPPORT;
		return EAFNOSUPPORT;
	}
	enum rs_kind kind = rs_resolve(name, af, 0, 0, &ans, &eai);
	if (kind == RS_LIBC)
		return 1;
	if (eai != 0 || ans.n == 0) {
		*h_err = eai == EAI_AGAIN ? TRY_AGAIN : eai == EAI_FAIL ? NO_RECOVERY : HOST_NOT_FOUND;
		return eai == EAI_AGAIN ? EAGAIN : 0;
	}
	if (rs_fill_hostent(&ans, af, he, buf, buflen) != 0) {
		*h_err = NETDB_INTERNAL;
		errno = ERANGE;
		return ERANGE;
	}
	*result = he;
	*h_err = 0;
	return 0;
}

SHIM_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *he, char *buf,
				 size_t buflen, struct hostent **result, int *h_err)
{
	int rc = rs_gethostbyname_r(name, af, he, buf, buflen, result, h_err);
	return rc != 1 ? rc : rs_libc()->gethostbyname2_r(name, af, he, buf, buflen, result, h_err);
}

SHIM_EXPORT int gethostbyname_r(const char *name, struct hostent *he, char *buf, size_t buflen,
				struct hostent **result, int *h_err)
{
	return gethostbyname2_r(name, AF_INET, he, buf, buflen, result, h_err);
}

/* The non-reentrant calls get one result buffer per thread (glibc's is per process),
 * allocated on first use: a big __thread array would eat the static TLS that a
 * dlopen of this library needs. */
struct rs_he_tls {
	struct hostent he;
	char buf[512 + HOSTS_MAX_ADDRS * 24];
};
static pthread_key_t rs_he_key;
static pthread_once_t rs_he_once = PTHREAD_ONCE_INIT;
static __thread struct rs_he_tls *rs_he_mine;

static void rs_he_key_init(void)
{
	pthread_key_create(&rs_he_key, free);
}

static struct rs_he_tls *rs_he_get(void)
{
	if (rs_he_mine == NULL) {
		pthread_once(&rs_he_once, rs_he_key_init);
		rs_he_mine = calloc(1, sizeof(*rs_he_mine));
		if (rs_he_mine != NULL)
			pthread_setspecific(rs_he_key, rs_he_mine); /* freed at thread exit */
	}
	return rs_he_mine;
}

SHIM_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	struct hostent *res = NULL;
	int herr = 0;
	struct rs_he_tls *tls = rs_he_get();
	if (tls == NULL) {
		h_errno = NETDB_INTERNAL;
		errno = ENOMEM;
		return NULL;
	}
	int rc = rs_gethostbyname_r(name, af, &tls->he, tls->buf, sizeof(tls->buf), &res, &herr);
	if (rc == 1)
		return rs_libc()->gethostbyname2(name, af);
	h_errno = herr;
	return res;
}

SHIM_EXPORT struct hostent *gethostbyname(const char *name)
{
	return gethostbyname2(name, AF_INET);
}

/* The name table's index when addr (4 or 16 bytes, as family says) is one of our fake
 * addresses. */
static bool rs_fake_addr_index(int family, const void *addr, uint32_t *idx)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		memcpy(&((struct sockaddr_in *)&ss)->sin_addr, addr, 4);
	else
		memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, addr, 16);
	return nt_params_is_fake(rs_get_params(), (struct sockaddr *)&ss, sizeof(ss), idx);
}

/* Reverse: a fake address -> its name; a real one -> the hosts file; never DNS.
 * Returns 1 when libc should answer (dns=local). */
static int rs_gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *he,
			      char *buf, size_t buflen, struct hostent **result, int *h_err)
{
	struct host_addrs ans;
	*result = NULL;
	if (rs_passthrough())
		return 1;
	if (addr == NULL || (type == AF_INET && len != 4) || (type == AF_INET6 && len != 16) ||
	    (type != AF_INET && type != AF_INET6)) {
		*h_err = NETDB_INTERNAL;
		errno = EINVAL;
		return EINVAL;
	}
	uint32_t idx;
	memset(&ans, 0, sizeof(ans));
	if (rs_fake_addr_index(type, addr, &idx)) {
		struct nametable *t = rs_table_get(false);
		if (t == NULL || nt_name(t, idx, ans.canon, sizeof(ans.canon)) < 0) {
			*h_err = HOST_NOT_FOUND;
			return 0;
		}
	} else if (!rs_hosts_addr(type, addr, ans.canon, sizeof(ans.canon))) {
		*h_err = HOST_NOT_FOUND; /* dns=remote: no PTR query leaves */
		return 0;
	}
	ans.n = 1;
	ans.a[0].family = type;
	memcpy(ans.a[0].addr, addr, len);
	if (rs_fill_hostent(&ans, type, he, buf, buflen) != 0) {
		*h_err = NETDB_INTERNAL;
		errno = ERANGE;
		return ERANGE;
	}
	*result = he;
	*h_err = 0;
	return 0;
}

SHIM_EXPORT int gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *he,
				char *buf, size_t buflen, struct hostent **result, int *h_err)
{
	int rc = rs_gethostbyaddr_r(addr, len, type, he, buf, buflen, result, h_err);
	return rc != 1 ? rc
		       : rs_libc()->gethostbyaddr_r(addr, len, type, he, buf, buflen, result, h_err);
}

SHIM_EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type)
{
	struct hostent *res = NULL;
	int herr = 0;
	struct rs_he_tls *tls = rs_he_get();
	if (tls == NULL) {
		h_errno = NETDB_INTERNAL;
		errno = ENOMEM;
		return NULL;
	}
	int rc = rs_gethostbyaddr_r(addr, len, type, &tls->he, tls->buf, sizeof(tls->buf), &res,
				    &herr);
	if (rc == 1)
		return rs_libc()->gethostbyaddr(addr, len, type);
	h_errno = herr;
	return res;
}

/* ---- getnameinfo ---- */

SHIM_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
			    socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
	const struct real_syms *r = rs_libc();
	if (rs_passthrough() || host == NULL || hostlen == 0 || (flags & NI_NUMERICHOST) ||
	    sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return r->getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
	if ((sa->sa_family == AF_INET && salen < sizeof(struct sockaddr_in)) ||
	    (sa->sa_family == AF_INET6 && salen < sizeof(struct sockaddr_in6)))
		return EAI_FAMILY;
	char name[NT_NAME_MAX + 1] = "";
	uint32_t idx;
	if (nt_params_is_fake(rs_get_params(), sa, salen, &idx)) {
		struct nametable *t = rs_table_get(false);
		if (t == NULL || nt_name(t, idx, name, sizeof(name)) < 0)
			name[0] = '\0';
	} else {
		const void *a = sa->sa_family == AF_INET
					? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
					: (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (!rs_hosts_addr(sa->sa_family, a, name, sizeof(name)))
			name[0] = '\0';
	}
	if (name[0] == '\0') {
		/* No name we may give without asking DNS: the numeric form, as libc does
		 * when a PTR lookup fails, or EAI_NONAME if a name is required. */
		if (flags & NI_NAMEREQD)
			return EAI_NONAME;
		return r->getnameinfo(sa, salen, host, hostlen, serv, servlen, flags | NI_NUMERICHOST);
	}
	if (flags & NI_NOFQDN)
		name[strcspn(name, ".")] = '\0';
	if (strlen(name) >= hostlen)
		return EAI_OVERFLOW;
	if (serv != NULL && servlen != 0) {
		int rc = r->getnameinfo(sa, salen, NULL, 0, serv, servlen, flags);
		if (rc != 0)
			return rc;
	}
	memcpy(host, name, strlen(name) + 1);
	return 0;
}

/* ---- the res_* family: A/AAAA/PTR answered here, the rest refused ---- */

static void rs_set_herr(res_state st, int herr)
{
	h_errno = herr;
	if (st != NULL)
		st->res_h_errno = herr;
}

/* The answer to q with one record, or -1 (EMSGSIZE: it does not fit in out). */
static int rs_res_reply(res_state st, const struct dns_query *q, const uint8_t *addr,
			const char *ptr, unsigned char *out, int outlen)
{
	struct dns_reply r;
	dns_reply_begin(&r, out, outlen > 0 ? (size_t)outlen : 0, q, DNS_R_NOERROR);
	if (ptr != NULL)
		dns_reply_add_ptr(&r, ptr);
	else
		dns_reply_add_addr(&r, q->qtype, addr, q->qtype == DNS_T_A ? 4 : 16);
	int n = dns_reply_end(&r, q);
	if (n < 0)
		errno = EMSGSIZE;
	rs_set_herr(st, n < 0 ? NETDB_INTERNAL : 0);
	return n;
}

/* A PTR query: a fake address's name, or the hosts file's; never a query. */
static int rs_res_ptr(res_state st, const struct dns_query *q, unsigned char *out, int outlen)
{
	char host[NT_NAME_MAX + 1] = "";
	uint8_t addr[16], wire[DNS_WIRE_NAME_MAX];
	int family;
	uint32_t idx;
	if (!dns_reverse_parse(q->name, &family, addr)) {
		rs_set_herr(st, HOST_NOT_FOUND);
		return -1;
	}
	if (rs_fake_addr_index(family, addr, &idx)) {
		struct nametable *t = rs_table_get(false);
		if (t == NULL || nt_name(t, idx, host, sizeof(host)) < 0)
			host[0] = '\0';
	} else if (!rs_hosts_addr(family, addr, host, sizeof(host))) {
		host[0] = '\0';
	}
	if (host[0] == '\0' || dns_name_encode(host, wire, sizeof(wire)) < 0) {
		rs_set_herr(st, HOST_NOT_FOUND); /* dns=remote: no PTR query leaves */
		return -1;
	}
	return rs_res_reply(st, q, NULL, host, out, outlen);
}

/* A, AAAA and PTR in class IN: the questions we can answer without asking anyone. */
static bool rs_res_answerable(int class, int type)
{
	return class == DNS_C_IN && (type == DNS_T_A || type == DNS_T_AAAA || type == DNS_T_PTR);
}

/* One question: answered (length), or -1 with h_errno. No packet is ever sent. */
static int rs_res_answer(res_state st, const struct dns_query *q, unsigned char *out, int outlen)
{
	struct host_addrs ans;
	int eai;
	if (!rs_res_answerable(q->qclass, q->qtype)) {
		/* MX, TXT, SRV, HTTPS (Firefox asks for type 65)...: we cannot answer them
		 * without asking someone, so the name "has no such data". */
		LOG_DEBUG("res query type %d for %s refused (dns=remote)", q->qtype, q->name);
		rs_set_herr(st, NO_DATA);
		return -1;
	}
	if (q->qtype == DNS_T_PTR)
		return rs_res_ptr(st, q, out, outlen);
	int family = q->qtype == DNS_T_A ? AF_INET : AF_INET6;
	enum rs_kind kind = rs_resolve(q->name, family, 0, 0, &ans, &eai);
	if (kind == RS_LIBC && rs_is_numeric(q->name)) {
		rs_set_herr(st, HOST_NOT_FOUND); /* a literal is not a DNS name */
		return -1;
	}
	if (kind == RS_LIBC) {
		/* A `direct` name: the user lets it resolve locally. */
		return st ? rs_libc()->res_nquery(st, q->name, q->qclass, q->qtype, out, outlen)
			  : rs_libc()->res_query(q->name, q->qclass, q->qtype, out, outlen);
	}
	if (eai != 0 || ans.n == 0) {
		rs_set_herr(st, eai == EAI_AGAIN ? TRY_AGAIN : kind == RS_HOSTS ? NO_DATA : HOST_NOT_FOUND);
		return -1;
	}
	return rs_res_reply(st, q, ans.a[0].addr, NULL, out, outlen);
}

/* res_query and friends: the question made from the name (canonical, lower case). */
static int rs_res_query(res_state st, const char *name, int class, int type, unsigned char *out,
			int outlen)
{
	struct dns_query q = { .flags = DNS_F_RD, .has_question = true };
	if (name == NULL) {
		rs_set_herr(st, NO_RECOVERY);
		return -1;
	}
	if (!rs_res_answerable(class, type)) {
		q.qclass = (uint16_t)class;
		q.qtype = (uint16_t)type;
		str_copy(q.name, name, sizeof(q.name));
		return rs_res_answer(st, &q, out, outlen);
	}
	char canon[NT_NAME_MAX + 1];
	int n = nt_canon(name, canon, sizeof(canon));
	if (n < 0 || n > DNS_NAME_MAX) {
		rs_set_herr(st, HOST_NOT_FOUND);
		return -1;
	}
	memcpy(q.name, canon, (size_t)n + 1);
	q.qclass = (uint16_t)class;
	q.qtype = (uint16_t)type;
	return rs_res_answer(st, &q, out, outlen);
}

static int rs_res_querydomain(res_state st, const char *name, const char *domain, int class,
			      int type, unsigned char *out, int outlen)
{
	char full[NT_NAME_MAX + 2];
	if (name == NULL) {
		rs_set_herr(st, NO_RECOVERY);
		return -1;
	}
	int n = domain ? snprintf(full, sizeof(full), "%s.%s", name, domain)
		       : snprintf(full, sizeof(full), "%s", name);
	if (n < 0 || (size_t)n >= sizeof(full)) {
		rs_set_herr(st, NO_RECOVERY);
		errno = EMSGSIZE;
		return -1;
	}
	return rs_res_query(st, full, class, type, out, outlen);
}

/* res_send: the caller's message parsed (common/dnsmsg.c) and its question answered,
 * ID, flags, question and EDNS0 echoed as a server would. */
static int rs_res_send(res_state st, const unsigned char *msg, int len, unsigned char *out,
		       int outlen)
{
	struct dns_query q;
	if (msg == NULL || len < 0 || dns_parse_query(msg, (size_t)len, &q) != DNS_QUERY_OK ||
	    q.name[0] == '\0') {
		rs_set_herr(st, NO_RECOVERY);
		errno = ECONNREFUSED;
		return -1;
	}
	int rc = rs_res_answer(st, &q, out, outlen);
	if (rc < 0)
		errno = ECONNREFUSED;
	return rc;
}

SHIM_EXPORT int res_nquery(res_state st, const char *name, int class, int type,
			   unsigned char *out, int outlen)
{
	if (rs_passthrough())
		return rs_libc()->res_nquery(st, name, class, type, out, outlen);
	return rs_res_query(st, name, class, type, out, outlen);
}

SHIM_EXPORT int res_nsearch(res_state st, const char *name, int class, int type,
			    unsigned char *out, int outlen)
{
	if (rs_passthrough())
		return rs_libc()->res_nsearch(st, name, class, type, out, outlen);
	/* No search list: it would only make more names to leak. */
	return rs_res_query(st, name, class, type, out, outlen);
}

SHIM_EXPORT int res_nquerydomain(res_state st, const char *name, const char *domain, int class,
				 int type, unsigned char *out, int outlen)
{
	if (rs_passthrough())
		return rs_libc()->res_nquerydomain(st, name, domain, class, type, out, outlen);
	return rs_res_querydomain(st, name, domain, class, type, out, outlen);
}

SHIM_EXPORT int res_nsend(res_state st, const unsigned char *msg, int len, unsigned char *out,
			  int outlen)
{
	if (rs_passthrough())
		return rs_libc()->res_nsend(st, msg, len, out, outlen);
	return rs_res_send(st, msg, len, out, outlen);
}

SHIM_EXPORT int res_query(const char *name, int class, int type, unsigned char *out, int outlen)
{
	if (rs_passthrough())
		return rs_libc()->res_query(name, class, type, out, outlen);
	return rs_res_query(NULL, name, class, type, out, outlen);
}

SHIM_EXPORT int res_search(const char *name, int class, int type, unsigned char *out, int outlen)
{
	if (rs_passthrough())
		return rs_libc()->res_search(name, class, type, out, outlen);
	return rs_res_query(NULL, name, class, type, out, outlen);
}

SHIM_EXPORT int res_querydomain(const char *name, const char *domain, int class, int type,
				unsigned char *out, int outlen)
{
	if (rs_passthrough())
		return rs_libc()->res_querydomain(name, domain, class, type, out, outlen);
	return rs_res_querydomain(NULL, name, domain, class, type, out, outlen);
}

SHIM_EXPORT int res_send(const unsigned char *msg, int len, unsigned char *out, int outlen)
{
	if (rs_passthrough())
		return rs_libc()->res_send(msg, len, out, outlen);
	return rs_res_send(NULL, msg, len, out, outlen);
}

/* Programs built before glibc 2.34 call these as __res_* (libresolv's names then):
 * the same hooks under those names. */
#define RS_ALIAS(name, target) \
	SHIM_EXPORT extern __typeof(target) name __attribute__((alias(#target), copy(target)));
RS_ALIAS(__res_nquery, res_nquery)
RS_ALIAS(__res_nsearch, res_nsearch)
RS_ALIAS(__res_nquerydomain, res_nquerydomain)
RS_ALIAS(__res_nsend, res_nsend)
RS_ALIAS(__res_query, res_query)
RS_ALIAS(__res_search, res_search)
RS_ALIAS(__res_querydomain, res_querydomain)
RS_ALIAS(__res_send, res_send)

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

/* Our locks are held across fork so that the child never inherits one held by a
 * thread it does not have, and no lock is caught half-changed. */
static void rs_atfork_prepare(void)
{
	pthread_mutex_lock(&rs_table_mu);
	pthread_mutex_lock(&rs_reg_mu);
	pthread_mutex_lock(&rs_svc_mu);
	pthread_rwlock_wrlock(&rs_hosts_lock);
}

static void rs_atfork_parent(void)
{
	pthread_rwlock_unlock(&rs_hosts_lock);
	pthread_mutex_unlock(&rs_svc_mu);
	pthread_mutex_unlock(&rs_reg_mu);
	pthread_mutex_unlock(&rs_table_mu);
}

/* The child's only thread has a new TID, and glibc's rwlock unlock decides "writer or
 * reader?" by TID: unlocking would corrupt the lock (Chromium's zygote hung on it).
 * The child is single-threaded, so it starts from fresh locks instead. */
static void rs_atfork_child(void)
{
	static const pthread_rwlock_t rw_init = PTHREAD_RWLOCK_INITIALIZER;
	static const pthread_mutex_t mu_init = PTHREAD_MUTEX_INITIALIZER;
	memcpy(&rs_hosts_lock, &rw_init, sizeof(rw_init));
	memcpy(&rs_reg_mu, &mu_init, sizeof(mu_init));
	memcpy(&rs_svc_mu, &mu_init, sizeof(mu_init));
	memcpy(&rs_table_mu, &mu_init, sizeof(mu_init));
	/* The child shares the mapping: record it, so the table outlives our exit while
	 * the child may still use an address we gave it (the daemonise pattern). */
	if (__atomic_load_n(&rs_table_state, __ATOMIC_ACQUIRE) == 1)
		nt_register_pid(&rs_table, getpid());
}

/* Names the process tree's table before main() runs, while there is only one thread
 * to see the environment change: children inherit SOCKSIFY_NAMETABLE and find the
 * same table. The file itself is created only when the first name is resolved. */
__attribute__((constructor)) static void rs_init(void)
{
	pthread_atfork(rs_atfork_prepare, rs_atfork_parent, rs_atfork_child);
	if (getauxval(AT_SECURE))
		return;
	const char *dns = getenv("SOCKSIFY_DNS");
	if (dns != NULL && strcmp(dns, "local") == 0)
		return;
	if (rs_path_ok(getenv(RS_ENV_TABLE)))
		return;
	char path[NT_PATH_MAX];
	rs_random_path(path, sizeof(path));
	setenv(RS_ENV_TABLE, path, 1);
}

__attribute__((destructor)) static void rs_fini(void)
{
	if (__atomic_load_n(&rs_table_state, __ATOMIC_ACQUIRE) == 1)
		nt_release(&rs_table, getpid());
}

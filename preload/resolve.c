/* How the shim answers a name with dns=remote: numeric addresses and `direct` names
 * go to libc, `block` names fail, localhost and the hosts file are answered here
 * (libc would fall through to DNS for a family the hosts file lacks), every other
 * name gets a fake address (resolver.c). The hosts file is parsed by common/hosts.c
 * from a copy read once and re-read when it changes. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "resolver.h"
#include "shim.h"
#include "util.h"

#define RS_HOSTS_MAX (4u << 20) /* a bigger hosts file is read up to this size */

/* True when libc should answer: our own calls, dns=local. A bad configuration counts
 * as remote: its connections fail anyway, and its names must not leak meanwhile. */
bool rs_passthrough(void)
{
	if (shim_inside)
		return true;
	const struct socksify_conf *c = shim_conf();
	return c != NULL && c->dns == DNS_LOCAL;
}

bool rs_is_numeric(const char *name)
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
	struct socks_addr dst;
	bool named = false; /* dst is filled on the first name rule: most lists have none */
	for (size_t i = 0; i < n; i++) {
		if (rules[i].kind != RULE_HOST && rules[i].kind != RULE_SUFFIX)
			continue;
		if (!named) {
			dst.atyp = SOCKS5_ATYP_DOMAINNAME;
			str_copy(dst.u.name, canon, sizeof(dst.u.name));
			named = true;
		}
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
static char *rs_hosts_lower; /* the same, lower case: a name not in it is in no line */
static size_t rs_hosts_len;
static struct timespec rs_hosts_mtime;
static time_t rs_hosts_checked;

/* hosts_file = none (or SOCKSIFY_HOSTS_FILE= empty) turns the hosts file off: every
 * name is remote. A bad configuration keeps the default. */
static const char *rs_hosts_path(void)
{
	const struct socksify_conf *c = shim_conf();
	return c != NULL ? c->hosts_file : CONF_DEFAULT_HOSTS;
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
		free(rs_hosts_buf); /* and rs_hosts_lower, in the same allocation */
		rs_hosts_buf = rs_hosts_lower = NULL;
		rs_hosts_len = 0;
		goto close;
	}
	if (rs_hosts_buf && st.st_mtim.tv_sec == rs_hosts_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == rs_hosts_mtime.tv_nsec)
		goto close;
	size_t want = (size_t)st.st_size < RS_HOSTS_MAX ? (size_t)st.st_size : RS_HOSTS_MAX;
	char *buf = malloc(2 * (want + 1));
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
	char *lower = buf + have + 1;
	for (size_t i = 0; i <= have; i++)
		lower[i] = buf[i] >= 'A' && buf[i] <= 'Z' ? (char)(buf[i] - 'A' + 'a') : buf[i];
	free(rs_hosts_buf);
	rs_hosts_buf = buf;
	rs_hosts_lower = lower; /* same allocation */
	rs_hosts_len = have;
	rs_hosts_mtime = st.st_mtim;
close:
	if (fd >= 0)
		close(fd);
out:
	pthread_rwlock_unlock(&rs_hosts_lock);
}

/* Every address of name (canonical: lower case) in the hosts file (common/hosts.c
 * parses it). Most names are in no line: one memmem over the lower-case copy says so
 * without splitting a line. */
static bool rs_hosts_name(const char *name, struct host_addrs *ans)
{
	rs_hosts_reload();
	pthread_rwlock_rdlock(&rs_hosts_lock);
	bool found = rs_hosts_lower != NULL &&
		     memmem(rs_hosts_lower, rs_hosts_len, name, strlen(name)) != NULL &&
		     hosts_find_name(rs_hosts_buf, rs_hosts_len, name, ans);
	pthread_rwlock_unlock(&rs_hosts_lock);
	return found;
}

/* The hosts file's name for addr (4 or 16 bytes, as family says). */
bool rs_hosts_addr(int family, const void *addr, char *name, size_t cap)
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

enum rs_kind rs_resolve(const char *name, int family, int flags, uint16_t port,
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
			memcpy(ans->a[ans->n++].addr, &(struct in6_addr)IN6ADDR_LOOPBACK_INIT, 16);
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

/* Fork: see resolver.c. The child's only thread has a new TID, and glibc's rwlock
 * unlock decides "writer or reader?" by TID: unlocking would corrupt the lock
 * (Chromium's zygote hung on it), so the child starts from a fresh lock. */
void rs_hosts_fork(enum rs_fork phase)
{
	static const pthread_rwlock_t rw_init = PTHREAD_RWLOCK_INITIALIZER;
	if (phase == RS_FORK_PREPARE)
		pthread_rwlock_wrlock(&rs_hosts_lock);
	else if (phase == RS_FORK_PARENT)
		pthread_rwlock_unlock(&rs_hosts_lock);
	else
		memcpy(&rs_hosts_lock, &rw_init, sizeof(rw_init));
}

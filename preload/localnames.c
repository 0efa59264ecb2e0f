/* Names the program resolved on this host that a block or direct rule names (the
 * hosts file, a `direct` name under dns=remote, any name under dns=local), with the
 * addresses they resolved to: a connect to one of those addresses is then decided by
 * the name, as the user wrote the rule (policy.c). */
#include <netdb.h>
#include <pthread.h>
#include <string.h>

#include "addr.h"
#include "shim.h"
#include "util.h"

/* Names a rule matches and that the program resolved here: few (intranet hosts),
 * so a small ring, the oldest forgotten first. */
#define LOCALNAMES_MAX 64

struct localname {
	struct socks_addr addr; /* port 0 */
	char name[SOCKS_NAME_MAX + 1];
};

static struct localname localnames_names[LOCALNAMES_MAX];
static unsigned localnames_count, localnames_next;
static pthread_mutex_t localnames_mu = PTHREAD_MUTEX_INITIALIZER;

void localnames_atfork_child(void)
{
	pthread_mutex_init(&localnames_mu, NULL);
}

/* Does a host or *.suffix rule of rules name `name` (on any port)? */
static bool localnames_rule_names(const struct rule *rules, size_t n, const char *name)
{
	struct socks_addr d = { .atyp = SOCKS5_ATYP_DOMAINNAME };

	if (str_copy(d.u.name, name, sizeof(d.u.name)) >= sizeof(d.u.name))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (rules[i].kind != RULE_HOST && rules[i].kind != RULE_SUFFIX)
			continue;
		d.port = rules[i].port;
		if (rule_match(&rules[i], &d))
			return true;
	}
	return false;
}

static void localnames_remember(const struct socks_addr *a, const char *name)
{
	unsigned i;

	pthread_mutex_lock(&localnames_mu);
	for (i = 0; i < localnames_count; i++)
		if (addr_same_ip(&localnames_names[i].addr, a))
			break;
	if (i == localnames_count) {
		i = localnames_next;
		localnames_next = (localnames_next + 1) % LOCALNAMES_MAX;
		if (localnames_count < LOCALNAMES_MAX)
			localnames_count++;
	}
	localnames_names[i].addr = *a;
	str_copy(localnames_names[i].name, name, sizeof(localnames_names[i].name));
	pthread_mutex_unlock(&localnames_mu);
}

void shim_route_note(const char *node, const struct addrinfo *res)
{
	const struct socksify_conf *c;
	struct socks_addr a;

	if (node == NULL || res == NULL || shim_inside || addr_parse_ip(node, &a))
		return;
	c = shim_conf();
	if (c == NULL || (c->ndirect == 0 && c->nblock == 0))
		return;
	if (!localnames_rule_names(c->direct, c->ndirect, node) &&
	    !localnames_rule_names(c->block, c->nblock, node))
		return;
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		if (!addr_from_sockaddr(&a, ai->ai_addr, ai->ai_addrlen))
			continue;
		a.port = 0;
		localnames_remember(&a, node);
	}
}

/* The name the program resolved here to dst, if a rule named it. */
bool localnames_find(const struct socks_addr *dst, struct socks_addr *name)
{
	bool hit = false;

	if (__atomic_load_n(&localnames_count, __ATOMIC_RELAXED) == 0)
		return false;
	pthread_mutex_lock(&localnames_mu);
	for (unsigned i = 0; i < localnames_count && !hit; i++) {
		if (!addr_same_ip(&localnames_names[i].addr, dst))
			continue;
		memset(name, 0, sizeof(*name));
		name->atyp = SOCKS5_ATYP_DOMAINNAME;
		str_copy(name->u.name, localnames_names[i].name, sizeof(name->u.name));
		name->port = dst->port;
		hit = true;
	}
	pthread_mutex_unlock(&localnames_mu);
	return hit;
}


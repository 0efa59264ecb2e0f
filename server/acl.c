/* Access control. Name rules are matched against the name the client asked for and
 * CIDR rules against every address actually used, so a name cannot smuggle a
 * denied address past the rules (the SSRF hole several small servers have). */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "util.h"

static bool acl_grow(void **arr, size_t n, size_t elem)
{
	/* Powers of two: grow when n reaches one. */
	if (n && (n & (n - 1)))
		return true;
	void *p = realloc(*arr, (n ? n * 2 : 4) * elem);

	if (!p)
		return false;
	*arr = p;
	return true;
}

bool acl_add_allow(struct acl *a, const char *s, char *err, size_t errlen)
{
	struct cidr c;

	if (!cidr_parse(s, &c)) {
		snprintf(err, errlen, "bad CIDR '%s'", s);
		return false;
	}
	if (!acl_grow((void **)&a->allow, a->nallow, sizeof(*a->allow))) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	a->allow[a->nallow++] = c;
	return true;
}

bool acl_add_deny(struct acl *a, const char *s, char *err, size_t errlen)
{
	struct rule r;
	char why[128] = "";

	if (!rule_parse(s, &r, why, sizeof(why))) {
		snprintf(err, errlen, "bad rule '%s': %s", s, why);
		return false;
	}
	if (!acl_grow((void **)&a->deny, a->ndeny, sizeof(*a->deny))) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	a->deny[a->ndeny++] = r;
	return true;
}

bool acl_add_rules_of(struct acl *dst, const struct acl *src)
{
	for (size_t i = 0; i < src->nallow; i++) {
		if (!acl_grow((void **)&dst->allow, dst->nallow, sizeof(*dst->allow)))
			return false;
		dst->allow[dst->nallow++] = src->allow[i];
	}
	for (size_t i = 0; i < src->ndeny; i++) {
		if (!acl_grow((void **)&dst->deny, dst->ndeny, sizeof(*dst->deny)))
			return false;
		dst->deny[dst->ndeny++] = src->deny[i];
	}
	return true;
}

static char *acl_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

bool acl_load_file(struct acl *a, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char line[1024], why[256];
	unsigned lineno = 0;
	bool ok = false;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = acl_trim(line), *arg;

		lineno++;
		if (!*s || *s == '#')
			continue;
		arg = s + strcspn(s, " \t");
		if (*arg)
			*arg++ = '\0';
		arg = acl_trim(arg);
		if (!strcmp(s, "allow")) {
			if (!acl_add_allow(a, arg, why, sizeof(why)))
				goto bad;
		} else if (!strcmp(s, "deny-dest")) {
			if (!acl_add_deny(a, arg, why, sizeof(why)))
				goto bad;
		} else {
			snprintf(why, sizeof(why), "unknown keyword '%s' (allow, deny-dest)", s);
			goto bad;
		}
	}
	ok = true;
	goto out;
bad:
	snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
out:
	fclose(f);
	return ok;
}

bool acl_load_own(struct acl *a)
{
	struct ifaddrs *ifs, *i;
	size_t n = 0;
	struct socks_addr *own;

	if (getifaddrs(&ifs) < 0)
		return false;
	for (i = ifs; i; i = i->ifa_next)
		n++;
	own = calloc(n ? n : 1, sizeof(*own));
	if (!own) {
		freeifaddrs(ifs);
		return false;
	}
	n = 0;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET &&
		    addr_from_sockaddr(&own[n], i->ifa_addr, sizeof(struct sockaddr_in)))
			n++;
		else if (i->ifa_addr->sa_family == AF_INET6 &&
			 addr_from_sockaddr(&own[n], i->ifa_addr, sizeof(struct sockaddr_in6)))
			n++;
	}
	freeifaddrs(ifs);
	free(a->own);
	a->own = own;
	a->nown = n;
	return true;
}

void acl_free(struct acl *a)
{
	free(a->allow);
	free(a->deny);
	free(a->own);
	memset(a, 0, sizeof(*a));
}

bool acl_client_allowed(const struct acl *a, const struct sockaddr *sa)
{
	if (!a->nallow)
		return true;
	for (size_t i = 0; i < a->nallow; i++)
		if (cidr_match_sockaddr(&a->allow[i], sa))
			return true;
	return false;
}

bool acl_dest_asked_denied(const struct acl *a, const struct socks_addr *dst)
{
	return rules_match(a->deny, a->ndeny, dst);
}

static bool acl_is_own(const struct acl *a, const struct socks_addr *dst)
{
	size_t len = dst->atyp == SOCKS5_ATYP_IPV4 ? 4 : 16;

	for (size_t i = 0; i < a->nown; i++)
		if (a->own[i].atyp == dst->atyp && !memcmp(a->own[i].u.v6, dst->u.v6, len))
			return true;
	return false;
}

bool acl_dest_addr_denied(const struct acl *a, const struct socks_addr *dst, bool strict)
{
	if (rules_match(a->deny, a->ndeny, dst))
		return true;
	if (!strict)
		return false;
	return addr_is_loopback(dst) || addr_is_link_local(dst) ||
	       ((dst->atyp == SOCKS5_ATYP_IPV4 || dst->atyp == SOCKS5_ATYP_IPV6) &&
		acl_is_own(a, dst));
}

/* hosts(5) lookups over a buffer: see hosts.h. Every read stays inside [buf, buf+len);
 * the buffer need not be NUL-terminated. */
#include "hosts.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

struct hosts_line {
	const char *f[HOSTS_MAX_FIELDS];
	size_t fl[HOSTS_MAX_FIELDS];
	int nf;
	int family;
	uint8_t addr[16];
};

static bool hosts_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Splits one line into blank-separated fields, the comment cut. */
static void hosts_fields(const char *line, size_t len, struct hosts_line *l)
{
	size_t i = 0;
	l->nf = 0;
	while (i < len && l->nf < HOSTS_MAX_FIELDS) {
		while (i < len && hosts_blank(line[i]))
			i++;
		if (i >= len || line[i] == '#')
			break;
		size_t s = i;
		while (i < len && !hosts_blank(line[i]) && line[i] != '#')
			i++;
		l->f[l->nf] = line + s;
		l->fl[l->nf++] = i - s;
	}
}

static bool hosts_parse_addr(const char *s, size_t n, int *family, uint8_t *out)
{
	char buf[INET6_ADDRSTRLEN];
	if (n == 0 || n >= sizeof(buf) || memchr(s, '\0', n) != NULL)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(out, 0, 16);
	if (inet_pton(AF_INET, buf, out) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, buf, out) == 1) {
		*family = AF_INET6;
		return true;
	}
	return false;
}

/* Steps *p over the next line; false at the end. A line with an address and at least
 * one name fills l; others come back with l->nf == 0. */
static bool hosts_next(const char **p, const char *end, struct hosts_line *l)
{
	if (*p >= end)
		return false;
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t len = nl != NULL ? (size_t)(nl - *p) : (size_t)(end - *p);
	hosts_fields(*p, len, l);
	*p += len + (nl != NULL);
	if (l->nf < 2 || !hosts_parse_addr(l->f[0], l->fl[0], &l->family, l->addr))
		l->nf = 0;
	return true;
}

static bool hosts_copy(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap || memchr(s, '\0', n) != NULL)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

bool hosts_find_name(const char *buf, size_t len, const char *name, struct host_addrs *out)
{
	const char *p = buf, *end = buf != NULL ? buf + len : NULL;
	size_t nlen = strlen(name);
	struct hosts_line l;

	memset(out, 0, sizeof(*out));
	while (out->n < HOSTS_MAX_ADDRS && hosts_next(&p, end, &l)) {
		for (int i = 1; i < l.nf; i++) {
			if (l.fl[i] != nlen || strncasecmp(l.f[i], name, nlen) != 0)
				continue;
			if (out->n == 0)
				hosts_copy(out->canon, sizeof(out->canon), l.f[1], l.fl[1]);
			out->a[out->n].family = l.family;
			memcpy(out->a[out->n].addr, l.addr, 16);
			out->n++;
			break;
		}
	}
	return out->n > 0;
}

bool hosts_find_addr(const char *buf, size_t len, int family, const uint8_t *addr, char *name,
		     size_t cap)
{
	const char *p = buf, *end = buf != NULL ? buf + len : NULL;
	size_t alen = family == AF_INET ? 4 : 16;
	struct hosts_line l;

	if (family != AF_INET && family != AF_INET6)
		return false;
	while (hosts_next(&p, end, &l)) {
		if (l.nf == 0 || l.family != family || memcmp(l.addr, addr, alen) != 0)
			continue;
		if (hosts_copy(name, cap, l.f[1], l.fl[1]))
			return true;
	}
	return false;
}

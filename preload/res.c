/* The res_* family: A, AAAA and PTR answered here as a name server would (common/
 * dnsmsg.c writes the message), every other type refused (so Firefox's HTTPS-record
 * lookups cannot leak), `direct` names passed to libc. No packet is ever sent. */
#include <errno.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>

#include "dnsmsg.h"
#include "log.h"
#include "resolver.h"
#include "shim.h"
#include "util.h"

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
	if (!dns_reverse_parse(q->name, &family, addr)) {
		rs_set_herr(st, HOST_NOT_FOUND);
		return -1;
	}
	if (!rs_fake_addr_name(family, addr, host, sizeof(host)) &&
	    !rs_hosts_addr(family, addr, host, sizeof(host))) {
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


/* Snippet: the res_* query calls.
 *   dns_res query|search|querydomain|send|nquery|nsearch|nquerydomain|nsend NAME a|aaaa|ptr|mx|https
 * querydomain splits NAME at its first dot into name and domain. Prints "len N" and,
 * for an A/AAAA answer, "answer ADDR", for a PTR one "answer NAME"; on failure
 * "failed h_errno N" (exit 2). */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc < 4)
		return 64;
	const char *fn = argv[1], *name = argv[2], *t = argv[3];
	int type = !strcmp(t, "a") ? ns_t_a : !strcmp(t, "aaaa") ? ns_t_aaaa
		 : !strcmp(t, "mx") ? ns_t_mx : !strcmp(t, "ptr") ? ns_t_ptr : 65;
	unsigned char ans[4096], q[512];
	char host[256], dom[256];
	const char *dot = strchr(name, '.');
	snprintf(host, sizeof(host), "%.*s", dot ? (int)(dot - name) : (int)strlen(name), name);
	snprintf(dom, sizeof(dom), "%s", dot ? dot + 1 : "");
	struct __res_state st;
	memset(&st, 0, sizeof(st));
	if (fn[0] == 'n' && res_ninit(&st) != 0)
		return 3;
	int n = -1;
	if (!strcmp(fn, "query"))
		n = res_query(name, ns_c_in, type, ans, sizeof(ans));
	else if (!strcmp(fn, "search"))
		n = res_search(name, ns_c_in, type, ans, sizeof(ans));
	else if (!strcmp(fn, "querydomain"))
		n = res_querydomain(host, dom, ns_c_in, type, ans, sizeof(ans));
	else if (!strcmp(fn, "nquery"))
		n = res_nquery(&st, name, ns_c_in, type, ans, sizeof(ans));
	else if (!strcmp(fn, "nsearch"))
		n = res_nsearch(&st, name, ns_c_in, type, ans, sizeof(ans));
	else if (!strcmp(fn, "nquerydomain"))
		n = res_nquerydomain(&st, host, dom, ns_c_in, type, ans, sizeof(ans));
	else if (!strcmp(fn, "send") || !strcmp(fn, "nsend")) {
		int ql = res_mkquery(ns_o_query, name, ns_c_in, type, NULL, 0, NULL, q, sizeof(q));
		if (ql < 0)
			return 3;
		n = fn[0] == 'n' ? res_nsend(&st, q, ql, ans, sizeof(ans)) : res_send(q, ql, ans, sizeof(ans));
	} else {
		return 64;
	}
	if (n < 0) {
		printf("failed h_errno %d\n", h_errno);
		return 2;
	}
	printf("len %d\n", n);
	int alen = type == ns_t_a ? 4 : type == ns_t_aaaa ? 16 : 0;
	int ancount = ans[6] << 8 | ans[7];
	if (type == ns_t_ptr && ancount >= 1) {
		/* Skip the question, then the answer's owner, type, class, TTL, length. */
		char qn[NS_MAXDNAME], pn[NS_MAXDNAME];
		int l = dn_expand(ans, ans + n, ans + 12, qn, sizeof(qn));
		const unsigned char *p = ans + 12 + l + 4;
		l = dn_expand(ans, ans + n, p, qn, sizeof(qn));
		p += l + 10;
		if (l > 0 && dn_expand(ans, ans + n, p, pn, sizeof(pn)) > 0)
			printf("answer %s\n", pn);
	}
	if (alen && ancount >= 1 && n >= alen) {
		char b[INET6_ADDRSTRLEN];
		inet_ntop(alen == 4 ? AF_INET : AF_INET6, ans + n - alen, b, sizeof(b));
		printf("answer %s\n", b);
	}
	return 0;
}

/* libFuzzer target for the DNS message codec (common/dnsmsg.c): any bytes as a query
 * (exact-size copy: ASan sees a read past the end). A parsed query gets an answer
 * (A, AAAA or PTR by its type, or the error its parse asked for); the answer must fit
 * the UDP size the query allows, echo its ID and question, and, read back as a query
 * (QR cleared), parse to the same question and EDNS presence. The name decoder also
 * runs at every offset, and a reverse name round-trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsmsg.h"
#include "fuzz.h"

static void fuzz_answer(const struct dns_query *q, enum dns_parse rc)
{
	static const enum dns_rcode err[] = {
		[DNS_QUERY_FORMERR] = DNS_R_FORMERR,
		[DNS_QUERY_NOTIMP] = DNS_R_NOTIMP,
		[DNS_QUERY_BADVERS] = DNS_R_BADVERS,
	};
	uint8_t out[DNS_UDP_MIN];
	struct dns_reply r;
	struct dns_query back;
	int n;

	if (rc != DNS_QUERY_OK) {
		n = dns_reply_error(out, sizeof(out), q, err[rc]);
		CHECK(n >= DNS_HDR_LEN && (size_t)n <= sizeof(out));
		CHECK(out[0] == (uint8_t)(q->id >> 8) && out[1] == (uint8_t)q->id);
		return;
	}
	dns_reply_begin(&r, out, sizeof(out), q, DNS_R_NOERROR);
	if (q->qtype == DNS_T_A)
		dns_reply_add_addr(&r, DNS_T_A, (const uint8_t *)"\xf0\0\0\1", 4);
	else if (q->qtype == DNS_T_AAAA)
		dns_reply_add_addr(&r, DNS_T_AAAA, (const uint8_t *)"\xfd\x73\x6f\x63\x6b\x73\0\0\0\0\0\0\xf0\0\0\1", 16);
	else if (q->qtype == DNS_T_PTR)
		dns_reply_add_ptr(&r, "target.test");
	n = dns_reply_end(&r, q);
	CHECK(n > DNS_HDR_LEN && (size_t)n <= sizeof(out)); /* one name, one record, one OPT */
	CHECK(out[2] & 0x80);
	out[2] &= 0x7f;
	CHECK(dns_parse_query(out, (size_t)n, &back) == DNS_QUERY_OK);
	CHECK(back.id == q->id && back.qtype == q->qtype && back.qclass == q->qclass);
	CHECK(strcmp(back.name, q->name) == 0 && back.edns == q->edns);
	CHECK(!back.edns || back.edns_payload == DNS_EDNS_PAYLOAD);
	CHECK(dns_reply_max_udp(q) >= DNS_UDP_MIN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *m = malloc(size ? size : 1);
	struct dns_query q;
	char name[DNS_NAME_MAX + 1], rev[128];
	uint8_t addr[16], addr2[16];
	int fam, fam2;
	size_t next;

	if (m == NULL)
		return 0;
	memcpy(m, data, size);
	enum dns_parse rc = dns_parse_query(m, size, &q);
	CHECK(rc <= DNS_QUERY_BADVERS);
	if (rc != DNS_QUERY_DROP)
		fuzz_answer(&q, rc);
	for (size_t off = 0; off < size && off < 64; off++) {
		int n = dns_name_decode(m, size, off, name, sizeof(name), &next);
		if (n < 0)
			continue;
		CHECK((size_t)n == strlen(name) && n <= DNS_NAME_MAX && next > off && next <= size);
		if (dns_reverse_parse(name, &fam, addr)) {
			CHECK(dns_reverse_name(fam, addr, rev, sizeof(rev)) > 0);
			CHECK(dns_reverse_parse(rev, &fam2, addr2) && fam2 == fam);
			CHECK(memcmp(addr, addr2, fam == AF_INET ? 4 : 16) == 0);
		}
	}
	free(m);
	return 0;
}

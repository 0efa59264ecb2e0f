/* Unit tests for common/dnsmsg.c: names (encode, decode with compression pointers,
 * loops and forward pointers refused), query parsing (header, one question, EDNS0 OPT,
 * every malformed shape), responses (A/AAAA/PTR, empty NOERROR, NXDOMAIN, FORMERR,
 * NOTIMP, REFUSED, BADVERS; ID, flags and question echoed; OPT answered), reverse
 * names both ways, and every truncation and bit flip of a query parsed safely. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsmsg.h"
#include "tap.h"

/* id 0xbeef, RD+CD, one question "WwW.Example.test" A IN, an OPT (payload 1232, DO). */
static const uint8_t q_edns[] = {
	0xbe, 0xef, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 1,
	3, 'W', 'w', 'W', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0,
	0, 1, 0, 1,
	0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0,
};

static void test_names(void)
{
	uint8_t w[300];
	char out[300];
	size_t next;

	is_int(dns_name_encode("a.bc", w, sizeof(w)), 6, "encode a.bc");
	ok(memcmp(w, "\1a\2bc\0", 6) == 0, "as labels");
	is_int(dns_name_encode("a.bc.", w, sizeof(w)), 6, "a trailing dot is the same name");
	is_int(dns_name_encode("", w, sizeof(w)), 1, "the root");
	is_int(dns_name_encode(".", w, sizeof(w)), 1, "the root, dotted");
	is_int(dns_name_encode("a..b", w, sizeof(w)), -1, "empty label");
	is_int(dns_name_encode(".a", w, sizeof(w)), -1, "leading dot");
	char l64[80];
	memset(l64, 'x', 64);
	l64[64] = '\0';
	is_int(dns_name_encode(l64, w, sizeof(w)), -1, "a 64-byte label");
	l64[63] = '\0';
	is_int(dns_name_encode(l64, w, sizeof(w)), 65, "a 63-byte label");
	is_int(dns_name_encode("a.bc", w, 5), -1, "cap too small");
	char long_name[300];
	size_t o = 0;
	for (int i = 0; i < 4; i++) {
		memset(long_name + o, 'y', 63);
		o += 63;
		long_name[o++] = '.';
	}
	long_name[o - 1] = '\0'; /* 4 x 63 + 3 dots = 255 chars: 257 on the wire */
	is_int(dns_name_encode(long_name, w, sizeof(w)), -1, "over 255 bytes on the wire");
	long_name[253] = '\0'; /* 253 chars: 255 on the wire */
	is_int(dns_name_encode(long_name, w, sizeof(w)), 255, "exactly 255 on the wire");
	is_int(dns_name_decode(w, 255, 0, out, sizeof(out), &next), 253, "and decodes back");
	ok(strcmp(out, long_name) == 0 && next == 255, "same text, next past it");

	/* msg: "\3foo\0" at 0, then "\3bar" + pointer to 0 at 5. */
	static const uint8_t m[] = { 3, 'f', 'o', 'o', 0, 3, 'b', 'a', 'r', 0xc0, 0 };
	is_int(dns_name_decode(m, sizeof(m), 5, out, sizeof(out), &next), 7,
	       "a backward pointer is followed");
	ok(strcmp(out, "bar.foo") == 0 && next == 11, "bar.foo, next after the pointer");
	static const uint8_t loop[] = { 3, 'f', 'o', 'o', 0xc0, 0 };
	is_int(dns_name_decode(loop, sizeof(loop), 0, out, sizeof(out), &next), -1,
	       "a pointer to its own start (a loop)");
	static const uint8_t fwd[] = { 0xc0, 2, 0 };
	is_int(dns_name_decode(fwd, sizeof(fwd), 0, out, sizeof(out), &next), -1,
	       "a forward pointer");
	static const uint8_t chain[] = { 0, 0xc0, 0, 0xc0, 1, 0xc0, 3 };
	is_int(dns_name_decode(chain, sizeof(chain), 5, out, sizeof(out), &next), 0,
	       "a chain of backward pointers ends at the root");
	static const uint8_t ext[] = { 0x41, 'a', 0 };
	is_int(dns_name_decode(ext, sizeof(ext), 0, out, sizeof(out), &next), -1,
	       "an extended label type");
	static const uint8_t dot[] = { 3, 'a', '.', 'b', 0 };
	is_int(dns_name_decode(dot, sizeof(dot), 0, out, sizeof(out), &next), -1,
	       "a dot inside a label");
	static const uint8_t ctl[] = { 2, 'a', ' ', 0 };
	is_int(dns_name_decode(ctl, sizeof(ctl), 0, out, sizeof(out), &next), -1,
	       "a blank inside a label");
	static const uint8_t shortl[] = { 5, 'a', 'b' };
	is_int(dns_name_decode(shortl, sizeof(shortl), 0, out, sizeof(out), &next), -1,
	       "a label past the end");
	is_int(dns_name_decode(m, 4, 0, out, sizeof(out), &next), -1, "no terminating zero");
	is_int(dns_name_decode(m, sizeof(m), 0, out, 3, &next), -1, "out too small");
	is_int(dns_name_decode(m, sizeof(m), 0, out, 4, &next), 3, "out just big enough");
}

static void test_parse(void)
{
	struct dns_query q;
	uint8_t m[sizeof(q_edns)];

	is_int(dns_parse_query(q_edns, sizeof(q_edns), &q), DNS_QUERY_OK, "query with EDNS0");
	ok(q.id == 0xbeef && q.flags == 0x0110 && q.has_question &&
	   strcmp(q.name, "WwW.Example.test") == 0 && q.qtype == DNS_T_A && q.qclass == DNS_C_IN,
	   "id, flags, question (case kept)");
	ok(q.edns && q.edns_payload == 1232 && q.edns_version == 0 && q.edns_do,
	   "OPT: payload 1232, version 0, DO");
	is_int(dns_reply_max_udp(&q), 1232, "reply may be 1232 bytes");
	is_int(dns_parse_query(q_edns, sizeof(q_edns) - 11, &q), DNS_QUERY_FORMERR,
	       "ARCOUNT 1 but no record: FORMERR");

	memcpy(m, q_edns, sizeof(m));
	m[11] = 0;
	is_int(dns_parse_query(m, sizeof(m) - 11, &q), DNS_QUERY_OK, "plain query");
	ok(!q.edns && dns_reply_max_udp(&q) == 512, "no OPT: 512 bytes");
	is_int(dns_parse_query(m, sizeof(m), &q), DNS_QUERY_OK, "trailing bytes are ignored");

	is_int(dns_parse_query(m, 11, &q), DNS_QUERY_DROP, "shorter than a header: dropped");
	is_int(dns_parse_query(NULL, 0, &q), DNS_QUERY_DROP, "no message");
	memcpy(m, q_edns, sizeof(m));
	m[2] |= 0x80;
	is_int(dns_parse_query(m, sizeof(m), &q), DNS_QUERY_DROP, "a response is dropped");
	memcpy(m, q_edns, sizeof(m));
	m[2] |= 0x10; /* opcode 2, STATUS */
	is_int(dns_parse_query(m, sizeof(m), &q), DNS_QUERY_NOTIMP, "opcode STATUS: NOTIMP");
	ok(q.id == 0xbeef && !q.has_question, "id known, no question");
	memcpy(m, q_edns, sizeof(m));
	m[5] = 2;
	is_int(dns_parse_query(m, sizeof(m), &q), DNS_QUERY_FORMERR, "two questions: FORMERR");
	m[5] = 0;
	is_int(dns_parse_query(m, sizeof(m), &q), DNS_QUERY_FORMERR, "no question: FORMERR");
	memcpy(m, q_edns, sizeof(m));
	m[40] = 1; /* version 1 */
	is_int(dns_parse_query(m, sizeof(m), &q), DNS_QUERY_BADVERS, "EDNS version 1: BADVERS");
	uint8_t owned[sizeof(q_edns) + 1];
	memcpy(owned, q_edns, 34);
	memcpy(owned + 34, "\xc0\x0c\0\x29\x04\xd0\0\0\x80\0\0\0", 12);
	is_int(dns_parse_query(owned, sizeof(owned), &q), DNS_QUERY_FORMERR,
	       "an OPT owned by the question's name (not the root): FORMERR");
	owned[34] = 0;
	memmove(owned + 35, owned + 36, 10);
	is_int(dns_parse_query(owned, sizeof(owned) - 1, &q), DNS_QUERY_OK, "the same at the root");

	/* Two OPT records. */
	uint8_t two[sizeof(q_edns) + 11];
	memcpy(two, q_edns, sizeof(q_edns));
	memcpy(two + sizeof(q_edns), q_edns + sizeof(q_edns) - 11, 11);
	two[11] = 2;
	is_int(dns_parse_query(two, sizeof(two), &q), DNS_QUERY_FORMERR, "two OPT records");

	/* An answer record in a query is skipped, compressed name and all. */
	static const uint8_t withan[] = {
		0, 7, 0x01, 0, 0, 1, 0, 1, 0, 0, 0, 0,
		1, 'a', 0, 0, 28, 0, 1,
		0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4,
	};
	is_int(dns_parse_query(withan, sizeof(withan), &q), DNS_QUERY_OK, "an answer is skipped");
	ok(q.qtype == DNS_T_AAAA && strcmp(q.name, "a") == 0, "AAAA a");
	is_int(dns_parse_query(withan, sizeof(withan) - 1, &q), DNS_QUERY_FORMERR,
	       "rdata past the end");
	static const uint8_t root[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1 };
	is_int(dns_parse_query(root, sizeof(root), &q), DNS_QUERY_OK, "the root name (NS .)");
	ok(q.name[0] == '\0' && q.qtype == 2, "empty name");
}

static void test_reply(void)
{
	struct dns_query q;
	struct dns_reply r;
	uint8_t out[600], again[600];
	char name[300];
	size_t next;

	dns_parse_query(q_edns, sizeof(q_edns), &q);
	dns_reply_begin(&r, out, sizeof(out), &q, DNS_R_NOERROR);
	dns_reply_add_addr(&r, DNS_T_A, (const uint8_t *)"\xf0\0\0\x07", 4);
	dns_reply_add_addr(&r, DNS_T_A, (const uint8_t *)"\xf0\0\0\x08", 4);
	int n = dns_reply_end(&r, &q);
	is_int(n, 12 + 22 + 16 * 2 + 11, "two A records and an OPT");
	ok(out[0] == 0xbe && out[1] == 0xef, "ID echoed");
	ok(out[2] == 0x81 && out[3] == 0x90, "QR, RD echoed, RA, CD echoed, NOERROR");
	ok(out[5] == 1 && out[7] == 2 && out[9] == 0 && out[11] == 1, "counts 1/2/0/1");
	ok(memcmp(out + 12, q_edns + 12, 22) == 0, "question echoed byte for byte");
	ok(out[34] == 0xc0 && out[35] == 12 && out[37] == 1 && out[45] == 4 &&
	   memcmp(out + 46, "\xf0\0\0\x07", 4) == 0, "first A: compressed owner, TTL, rdata");
	ok(out[n - 11] == 0 && out[n - 9] == 41 && (out[n - 8] << 8 | out[n - 7]) == 1232 &&
	   out[n - 4] == 0x80, "OPT: root, payload 1232, DO copied");
	/* Our own answer parses as a message: its question decodes back. */
	is_int(dns_name_decode(out, (size_t)n, 34, name, sizeof(name), &next), 16,
	       "the answer's owner name decodes to the question's");

	dns_parse_query(q_edns, sizeof(q_edns) - 11, &q); /* ARCOUNT 1, no OPT: FORMERR */
	ok(q.has_question, "FORMERR query kept its question");
	memcpy(again, q_edns, sizeof(q_edns));
	again[11] = 0;
	dns_parse_query(again, sizeof(q_edns) - 11, &q);
	q.qtype = DNS_T_AAAA;
	dns_reply_begin(&r, out, sizeof(out), &q, DNS_R_NOERROR);
	dns_reply_add_addr(&r, DNS_T_AAAA, (const uint8_t *)"\xfd\x73\x6f\x63\x6b\x73\0\0\0\0\0\0\xf0\0\0\x07", 16);
	is_int(dns_reply_end(&r, &q), 12 + 22 + 28, "AAAA without OPT");
	dns_reply_begin(&r, out, sizeof(out), &q, DNS_R_NOERROR);
	dns_reply_add_addr(&r, DNS_T_AAAA, (const uint8_t *)"\1\2\3\4", 4);
	is_int(dns_reply_end(&r, &q), -1, "AAAA with 4 bytes is refused");

	q.qtype = DNS_T_PTR;
	dns_reply_begin(&r, out, sizeof(out), &q, DNS_R_NOERROR);
	dns_reply_add_ptr(&r, "target.test");
	n = dns_reply_end(&r, &q);
	is_int(n, 12 + 22 + 12 + 13, "PTR record");
	is_int(dns_name_decode(out, (size_t)n, 46, name, sizeof(name), &next), 11, "its rdata");
	ok(strcmp(name, "target.test") == 0, "target.test");
	dns_reply_begin(&r, out, sizeof(out), &q, DNS_R_NOERROR);
	dns_reply_add_ptr(&r, "bad..name");
	is_int(dns_reply_end(&r, &q), -1, "a PTR to a bad name is refused");

	static const struct {
		enum dns_rcode rc;
		const char *what;
	} codes[] = { { DNS_R_NOERROR, "empty NOERROR" }, { DNS_R_NXDOMAIN, "NXDOMAIN" },
		      { DNS_R_REFUSED, "REFUSED" }, { DNS_R_FORMERR, "FORMERR" } };
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		n = dns_reply_error(out, sizeof(out), &q, codes[i].rc);
		ok(n == 12 + 22 && (out[3] & 15) == codes[i].rc && out[7] == 0 && out[5] == 1,
		   "%s: header and question only", codes[i].what);
	}

	dns_parse_query(q_edns, sizeof(q_edns) - 11, &q); /* FORMERR, question known */
	memset(&q, 0, sizeof(q));
	q.id = 0x1234;
	n = dns_reply_error(out, sizeof(out), &q, DNS_R_FORMERR);
	ok(n == 12 && out[0] == 0x12 && out[3] == 0x81 && out[5] == 0,
	   "FORMERR without a question: header only");
	dns_reply_begin(&r, out, sizeof(out), &q, DNS_R_NOERROR);
	dns_reply_add_addr(&r, DNS_T_A, (const uint8_t *)"\1\2\3\4", 4);
	is_int(dns_reply_end(&r, &q), -1, "an answer needs a question");

	memcpy(again, q_edns, sizeof(q_edns));
	again[40] = 1;
	is_int(dns_parse_query(again, sizeof(q_edns), &q), DNS_QUERY_BADVERS, "BADVERS query");
	n = dns_reply_error(out, sizeof(out), &q, DNS_R_BADVERS);
	ok(n == 12 + 22 + 11 && (out[3] & 15) == 0 && out[n - 6] == 1 && out[n - 5] == 0,
	   "BADVERS: low bits 0, extended rcode 1 in the OPT, version 0");

	dns_parse_query(q_edns, sizeof(q_edns), &q);
	for (size_t cap = 0; cap < 12 + 22 + 16 + 11; cap++) {
		dns_reply_begin(&r, cap ? out : NULL, cap, &q, DNS_R_NOERROR);
		dns_reply_add_addr(&r, DNS_T_A, (const uint8_t *)"\1\2\3\4", 4);
		if (dns_reply_end(&r, &q) != -1) {
			ok(0, "a reply that does not fit in %zu bytes fails", cap);
			break;
		}
	}
	dns_reply_begin(&r, out, 12 + 22 + 16 + 11, &q, DNS_R_NOERROR);
	dns_reply_add_addr(&r, DNS_T_A, (const uint8_t *)"\1\2\3\4", 4);
	is_int(dns_reply_end(&r, &q), 12 + 22 + 16 + 11, "every smaller buffer fails, this one fits");
}

static void test_reverse(void)
{
	uint8_t a[16], want6[16];
	int fam = 0;
	char name[128];

	ok(dns_reverse_parse("4.3.2.1.in-addr.arpa", &fam, a) && fam == AF_INET &&
	   memcmp(a, "\1\2\3\4", 4) == 0, "in-addr.arpa");
	ok(dns_reverse_parse("4.3.2.255.IN-ADDR.ARPA.", &fam, a) && a[0] == 255,
	   "case and a trailing dot");
	ok(!dns_reverse_parse("3.2.1.in-addr.arpa", &fam, a), "three labels (classless) refused");
	ok(!dns_reverse_parse("5.4.3.2.1.in-addr.arpa", &fam, a), "five labels refused");
	ok(!dns_reverse_parse("256.3.2.1.in-addr.arpa", &fam, a), "256 refused");
	ok(!dns_reverse_parse("1000.3.2.1.in-addr.arpa", &fam, a), "four digits refused");
	ok(!dns_reverse_parse("+1.3.2.1.in-addr.arpa", &fam, a), "a sign refused");
	ok(!dns_reverse_parse(" 1.3.2.1.in-addr.arpa", &fam, a), "a blank refused");
	ok(!dns_reverse_parse("in-addr.arpa", &fam, a) && !dns_reverse_parse(".in-addr.arpa", &fam, a),
	   "the bare suffix refused");
	inet_pton(AF_INET6, "fd00:1::5", want6);
	int n = dns_reverse_name(AF_INET6, want6, name, sizeof(name));
	ok(n == 72 && strcmp(name, "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa") == 0,
	   "ip6.arpa name of fd00:1::5");
	ok(dns_reverse_parse(name, &fam, a) && fam == AF_INET6 && memcmp(a, want6, 16) == 0,
	   "and back");
	name[62] = 'F';
	ok(dns_reverse_parse(name, &fam, a) && a[0] == 0xfd, "upper-case nibbles");
	name[0] = 'g';
	ok(!dns_reverse_parse(name, &fam, a), "a non-hex nibble refused");
	ok(!dns_reverse_parse(name + 2, &fam, a), "31 nibbles refused");
	n = dns_reverse_name(AF_INET, (const uint8_t *)"\xc6\x12\1\1", name, sizeof(name));
	ok(n == 23 && strcmp(name, "1.1.18.198.in-addr.arpa") == 0, "in-addr.arpa name");
	is_int(dns_reverse_name(AF_INET, (const uint8_t *)"\1\2\3\4", name, 10), -1, "cap too small");
	is_int(dns_reverse_name(AF_INET6, want6, name, 72), -1, "cap too small for ip6.arpa");
	is_int(dns_reverse_name(AF_UNIX, want6, name, sizeof(name)), -1, "bad family");
}

/* Every prefix of the EDNS query and every bit flip, each in an exact-size heap copy
 * (ASan sees a read past the end): a result is one of the five, and a question is
 * only ever claimed with a name that encodes back. */
static void test_sweep(void)
{
	struct dns_query q;
	uint8_t out[600], w[300];
	size_t runs = 0, bad = 0;

	for (size_t k = 0; k <= sizeof(q_edns); k++) {
		uint8_t *m = malloc(k ? k : 1);
		memcpy(m, q_edns, k);
		enum dns_parse rc = dns_parse_query(m, k, &q);
		bad += (k < 12) != (rc == DNS_QUERY_DROP);
		bad += k == sizeof(q_edns) && rc != DNS_QUERY_OK;
		bad += k > 12 && k < sizeof(q_edns) && rc != DNS_QUERY_FORMERR;
		free(m);
		runs++;
	}
	ok(bad == 0, "every truncation (%zu): DROP under a header, FORMERR until whole", runs);
	for (size_t k = 0; k < sizeof(q_edns); k++)
		for (int bit = 0; bit < 8; bit++) {
			uint8_t *m = malloc(sizeof(q_edns));
			memcpy(m, q_edns, sizeof(q_edns));
			m[k] ^= (uint8_t)(1u << bit);
			enum dns_parse rc = dns_parse_query(m, sizeof(q_edns), &q);
			bad += rc > DNS_QUERY_BADVERS;
			if (rc == DNS_QUERY_OK)
				bad += dns_name_encode(q.name, w, sizeof(w)) < 0;
			if (rc != DNS_QUERY_DROP)
				bad += dns_reply_error(out, sizeof(out), &q, DNS_R_REFUSED) < 12;
			free(m);
			runs++;
		}
	ok(bad == 0, "bit-flip sweep (%zu runs): valid results, replies always fit", runs);
}

int main(void)
{
	test_names();
	test_parse();
	test_reply();
	test_reverse();
	test_sweep();
	return tap_done();
}

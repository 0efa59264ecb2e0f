/* DNS messages (RFC 1035, EDNS0 RFC 6891): parse a query, build the answer to it, and
 * the reverse names (in-addr.arpa, ip6.arpa). Pure: no I/O, no allocation; every read
 * is bounded by the message length, and a compression pointer may only point backwards
 * (so a decode always ends). The shim answers res_* calls with it, and it is meant to
 * answer any port-53 query a program sends: parse with dns_parse_query, then either
 * dns_reply_error or dns_reply_begin + dns_reply_add_* + dns_reply_end. */
#ifndef SOCKSIFY_DNSMSG_H
#define SOCKSIFY_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HDR_LEN 12
#define DNS_NAME_MAX 253     /* presentation form without the trailing dot */
#define DNS_WIRE_NAME_MAX 255 /* RFC 1035 2.3.4 */
#define DNS_LABEL_MAX 63
#define DNS_UDP_MIN 512      /* what a client without EDNS0 can take */
#define DNS_EDNS_PAYLOAD 1232 /* what we announce: no fragmentation (DNS flag day 2020) */
#define DNS_TTL 60           /* of every record we make up: a minute */

/* RR types and classes as the RFCs number them. */
enum {
	DNS_T_A = 1,
	DNS_T_PTR = 12,
	DNS_T_AAAA = 28,
	DNS_T_OPT = 41,
	DNS_T_HTTPS = 65,
	DNS_C_IN = 1,
};

/* Response codes; BADVERS (16) needs the OPT record's extended bits. */
enum dns_rcode {
	DNS_R_NOERROR = 0,
	DNS_R_FORMERR = 1,
	DNS_R_SERVFAIL = 2,
	DNS_R_NXDOMAIN = 3,
	DNS_R_NOTIMP = 4,
	DNS_R_REFUSED = 5,
	DNS_R_BADVERS = 16,
};

/* Header flag bits (the second 16-bit word). */
#define DNS_F_QR 0x8000
#define DNS_F_OPCODE 0x7800
#define DNS_F_AA 0x0400
#define DNS_F_TC 0x0200
#define DNS_F_RD 0x0100
#define DNS_F_RA 0x0080
#define DNS_F_CD 0x0010

/* What dns_parse_query found. */
enum dns_parse {
	DNS_QUERY_OK,      /* one question, parsed */
	DNS_QUERY_DROP,    /* not a query at all (shorter than a header, or a response): no reply */
	DNS_QUERY_FORMERR, /* id and flags known, the rest malformed: answer FORMERR */
	DNS_QUERY_NOTIMP,  /* an opcode other than QUERY: answer NOTIMP */
	DNS_QUERY_BADVERS, /* EDNS version above 0: answer BADVERS */
};

struct dns_query {
	uint16_t id;
	uint16_t flags;    /* as sent */
	bool has_question; /* name/qtype/qclass valid */
	char name[DNS_NAME_MAX + 1]; /* dotted, case kept, no trailing dot; "" is the root */
	uint16_t qtype, qclass;
	bool edns;             /* an OPT record came with it */
	uint16_t edns_payload; /* the UDP size it announced (as sent, may be < 512) */
	uint8_t edns_version;
	bool edns_do;          /* DNSSEC OK bit */
};

/* Parses a query: header, exactly one question, and the OPT record if any (every
 * record of the other sections is skipped with bounds checks). A label holding a '.'
 * or a byte outside 0x21..0x7e is FORMERR: such a name cannot be written dotted. */
enum dns_parse dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q);

/* Largest UDP response this query may get: 512 without EDNS0, else its payload size
 * (at least 512), capped at 65535. */
size_t dns_reply_max_udp(const struct dns_query *q);

/* A response being written into a caller's buffer. */
struct dns_reply {
	uint8_t *buf;
	size_t cap, len;
	uint16_t ancount;
	enum dns_rcode rcode;
	bool overflow; /* something did not fit: dns_reply_end fails */
};

/* Header (ID echoed; opcode, RD and CD echoed; QR and RA set; rcode) and, when the
 * query had one, its question echoed with the case it was sent with. */
void dns_reply_begin(struct dns_reply *r, uint8_t *buf, size_t cap, const struct dns_query *q,
		     enum dns_rcode rcode);
/* An A (4 bytes) or AAAA (16 bytes) record for the question's name. */
void dns_reply_add_addr(struct dns_reply *r, uint16_t type, const uint8_t *addr, size_t alen);
/* A PTR record for the question's name pointing at name (dotted). */
void dns_reply_add_ptr(struct dns_reply *r, const char *name);
/* The OPT record when the query had one (our payload size, the rcode's extended bits,
 * DO copied as RFC 3225 says). Returns the response's length, or -1 when something
 * did not fit in cap. */
int dns_reply_end(struct dns_reply *r, const struct dns_query *q);
/* A whole response with no answer: empty NOERROR, NXDOMAIN, FORMERR, NOTIMP,
 * REFUSED, BADVERS. Returns its length or -1. */
int dns_reply_error(uint8_t *buf, size_t cap, const struct dns_query *q, enum dns_rcode rcode);

/* Encodes a dotted name (a trailing dot is fine, "" or "." is the root) as labels.
 * Returns the length, or -1 if a label is empty or over 63 bytes, the name is over
 * 255 bytes on the wire, or cap is too small. */
int dns_name_encode(const char *name, uint8_t *out, size_t cap);
/* Decodes the name at msg[off], following backward compression pointers. Writes the
 * dotted form to out (cap bytes) and the offset just past the name as it sits at off
 * to *next. Returns the dotted length, or -1 (truncated, a pointer loop or forward
 * pointer, a bad label byte, too long). */
int dns_name_decode(const uint8_t *msg, size_t len, size_t off, char *out, size_t cap,
		    size_t *next);

/* "4.3.2.1.in-addr.arpa" -> AF_INET 1.2.3.4; 32 nibbles + "ip6.arpa" -> AF_INET6
 * (case-insensitive, a trailing dot allowed). False for anything else, including a
 * partial (classless) name. addr receives 4 or 16 bytes. */
bool dns_reverse_parse(const char *name, int *family, uint8_t *addr);
/* The other way: the reverse name of an address. Returns its length or -1. */
int dns_reverse_name(int family, const uint8_t *addr, char *out, size_t cap);

#endif

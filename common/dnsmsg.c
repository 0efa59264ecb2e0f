/* DNS message codec: see dnsmsg.h. Offsets are size_t and every read is checked
 * against the message length before it happens; names are walked with a hop rule
 * (a pointer must land before the labels it interrupts) that makes every walk end. */
#include "dnsmsg.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "util.h"

static uint16_t dns_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void dns_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* ---- names ---- */

int dns_name_encode(const char *name, uint8_t *out, size_t cap)
{
	size_t o = 0;
	const char *p = name;

	if (p[0] == '.' && p[1] == '\0')
		p++;
	while (*p) {
		size_t l = strcspn(p, ".");
		if (l == 0 || l > DNS_LABEL_MAX || o + l + 2 > cap || o + l + 2 > DNS_WIRE_NAME_MAX)
			return -1;
		out[o++] = (uint8_t)l;
		memcpy(out + o, p, l);
		o += l;
		p += l;
		if (*p == '.')
			p++;
	}
	if (o + 1 > cap)
		return -1;
	out[o++] = 0;
	return (int)o;
}

static bool dns_label_byte_ok(uint8_t c)
{
	return c >= 0x21 && c <= 0x7e && c != '.';
}

/* Walks the name at off. With out, writes the dotted form (and refuses label bytes
 * it cannot write); without, only checks the structure (skipping a record). */
static int dns_name_walk(const uint8_t *msg, size_t len, size_t off, char *out, size_t cap,
			 size_t *next)
{
	size_t o = off, limit = off, wire = 0, w = 0;
	bool jumped = false;

	for (;;) {
		if (o >= len)
			return -1;
		uint8_t l = msg[o];
		if ((l & 0xc0) == 0xc0) {
			if (o + 1 >= len)
				return -1;
			size_t target = (size_t)(l & 0x3f) << 8 | msg[o + 1];
			/* Strictly before the run of labels being read: no loop, and a
			 * decode always moves to lower offsets. */
			if (target >= limit)
				return -1;
			if (!jumped)
				*next = o + 2;
			jumped = true;
			limit = o = target;
			continue;
		}
		if (l & 0xc0)
			return -1; /* 0x40/0x80: extended label types, obsolete */
		if (l == 0) {
			if (!jumped)
				*next = o + 1;
			break;
		}
		if (o + 1 + l > len)
			return -1;
		wire += 1u + l;
		if (wire + 1 > DNS_WIRE_NAME_MAX)
			return -1;
		if (out != NULL) {
			if (w + (w > 0) + l + 1 > cap)
				return -1;
			for (size_t i = 0; i < l; i++)
				if (!dns_label_byte_ok(msg[o + 1 + i]))
					return -1;
			if (w > 0)
				out[w++] = '.';
			memcpy(out + w, msg + o + 1, l);
			w += l;
		}
		o += 1u + l;
	}
	if (out != NULL) {
		if (cap == 0)
			return -1;
		out[w] = '\0';
	}
	return (int)w;
}

int dns_name_decode(const uint8_t *msg, size_t len, size_t off, char *out, size_t cap,
		    size_t *next)
{
	if (out == NULL)
		return -1;
	return dns_name_walk(msg, len, off, out, cap, next);
}

/* ---- queries ---- */

/* One resource record at *off: name, fixed part, rdata, all inside len. */
struct dns_rr {
	size_t name_off;
	uint16_t type, class;
	uint32_t ttl;
	uint16_t rdlen;
};

static bool dns_rr_next(const uint8_t *msg, size_t len, size_t *off, struct dns_rr *rr)
{
	size_t o;
	rr->name_off = *off;
	if (dns_name_walk(msg, len, *off, NULL, 0, &o) < 0 || o + 10 > len)
		return false;
	rr->type = dns_get16(msg + o);
	rr->class = dns_get16(msg + o + 2);
	rr->ttl = (uint32_t)dns_get16(msg + o + 4) << 16 | dns_get16(msg + o + 6);
	rr->rdlen = dns_get16(msg + o + 8);
	if (o + 10 + rr->rdlen > len)
		return false;
	*off = o + 10 + rr->rdlen;
	return true;
}

enum dns_parse dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q)
{
	struct dns_rr rr;
	size_t off = DNS_HDR_LEN;

	memset(q, 0, sizeof(*q));
	if (msg == NULL || len < DNS_HDR_LEN)
		return DNS_QUERY_DROP;
	q->id = dns_get16(msg);
	q->flags = dns_get16(msg + 2);
	if (q->flags & DNS_F_QR)
		return DNS_QUERY_DROP; /* a response: answering it could start a loop */
	if (q->flags & DNS_F_OPCODE)
		return DNS_QUERY_NOTIMP;
	uint16_t qd = dns_get16(msg + 4), an = dns_get16(msg + 6), ns = dns_get16(msg + 8),
		 ar = dns_get16(msg + 10);
	if (qd != 1 || dns_name_decode(msg, len, off, q->name, sizeof(q->name), &off) < 0 ||
	    off + 4 > len)
		return DNS_QUERY_FORMERR;
	q->qtype = dns_get16(msg + off);
	q->qclass = dns_get16(msg + off + 2);
	off += 4;
	q->has_question = true;
	for (unsigned i = 0; i < (unsigned)an + ns; i++)
		if (!dns_rr_next(msg, len, &off, &rr))
			return DNS_QUERY_FORMERR;
	for (unsigned i = 0; i < ar; i++) {
		if (!dns_rr_next(msg, len, &off, &rr))
			return DNS_QUERY_FORMERR;
		if (rr.type != DNS_T_OPT)
			continue;
		/* RFC 6891 6.1.1: one OPT, owned by the root. */
		if (q->edns || msg[rr.name_off] != 0)
			return DNS_QUERY_FORMERR;
		q->edns = true;
		q->edns_payload = rr.class;
		q->edns_version = (uint8_t)(rr.ttl >> 16);
		q->edns_do = (rr.ttl & 0x8000) != 0;
	}
	return q->edns && q->edns_version != 0 ? DNS_QUERY_BADVERS : DNS_QUERY_OK;
}

size_t dns_reply_max_udp(const struct dns_query *q)
{
	if (!q->edns || q->edns_payload < DNS_UDP_MIN)
		return DNS_UDP_MIN;
	return q->edns_payload;
}

/* ---- responses ---- */

static uint8_t *dns_reply_room(struct dns_reply *r, size_t n)
{
	if (r->overflow || r->cap - r->len < n) {
		r->overflow = true;
		return NULL;
	}
	uint8_t *p = r->buf + r->len;
	r->len += n;
	return p;
}

void dns_reply_begin(struct dns_reply *r, uint8_t *buf, size_t cap, const struct dns_query *q,
		     enum dns_rcode rcode)
{
	uint8_t *p;

	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->cap = buf != NULL ? cap : 0;
	r->rcode = rcode;
	if ((p = dns_reply_room(r, DNS_HDR_LEN)) == NULL)
		return;
	uint16_t flags = (uint16_t)(DNS_F_QR | (q->flags & (DNS_F_OPCODE | DNS_F_RD | DNS_F_CD)) |
				    DNS_F_RA | ((unsigned)rcode & 0xf));
	memset(p, 0, DNS_HDR_LEN);
	dns_put16(p, q->id);
	dns_put16(p + 2, flags);
	if (!q->has_question)
		return;
	dns_put16(p + 4, 1);
	uint8_t qname[DNS_WIRE_NAME_MAX];
	int ql = dns_name_encode(q->name, qname, sizeof(qname));
	if (ql < 0 || (p = dns_reply_room(r, (size_t)ql + 4)) == NULL) {
		r->overflow = true;
		return;
	}
	memcpy(p, qname, (size_t)ql);
	dns_put16(p + ql, q->qtype);
	dns_put16(p + ql + 2, q->qclass);
}

/* One answer owned by the question's name (a pointer to offset 12). */
static void dns_reply_add(struct dns_reply *r, uint16_t type, const uint8_t *rdata, size_t rdlen)
{
	uint8_t *p;
	if (r->len <= DNS_HDR_LEN || dns_get16(r->buf + 4) != 1 || rdlen > 0xffff) {
		r->overflow = true; /* no question to own it */
		return;
	}
	if ((p = dns_reply_room(r, 12 + rdlen)) == NULL)
		return;
	dns_put16(p, 0xc000 | DNS_HDR_LEN);
	dns_put16(p + 2, type);
	dns_put16(p + 4, DNS_C_IN);
	dns_put16(p + 6, 0);
	dns_put16(p + 8, DNS_TTL);
	dns_put16(p + 10, (uint16_t)rdlen);
	memcpy(p + 12, rdata, rdlen);
	r->ancount++;
}

void dns_reply_add_addr(struct dns_reply *r, uint16_t type, const uint8_t *addr, size_t alen)
{
	if ((type == DNS_T_A && alen != 4) || (type == DNS_T_AAAA && alen != 16) ||
	    (type != DNS_T_A && type != DNS_T_AAAA)) {
		r->overflow = true;
		return;
	}
	dns_reply_add(r, type, addr, alen);
}

void dns_reply_add_ptr(struct dns_reply *r, const char *name)
{
	uint8_t wire[DNS_WIRE_NAME_MAX];
	int n = dns_name_encode(name, wire, sizeof(wire));
	if (n < 0) {
		r->overflow = true;
		return;
	}
	dns_reply_add(r, DNS_T_PTR, wire, (size_t)n);
}

int dns_reply_end(struct dns_reply *r, const struct dns_query *q)
{
	uint8_t *p;
	if (q->edns && (p = dns_reply_room(r, 11)) != NULL) {
		p[0] = 0; /* the root */
		dns_put16(p + 1, DNS_T_OPT);
		dns_put16(p + 3, DNS_EDNS_PAYLOAD);
		p[5] = (uint8_t)((unsigned)r->rcode >> 4); /* extended rcode */
		p[6] = 0;                                  /* version */
		dns_put16(p + 7, q->edns_do ? 0x8000 : 0);
		dns_put16(p + 9, 0);
		dns_put16(r->buf + 10, 1);
	}
	if (r->overflow)
		return -1;
	dns_put16(r->buf + 6, r->ancount);
	return (int)r->len;
}

int dns_reply_error(uint8_t *buf, size_t cap, const struct dns_query *q, enum dns_rcode rcode)
{
	struct dns_reply r;
	dns_reply_begin(&r, buf, cap, q, rcode);
	return dns_reply_end(&r, q);
}

/* ---- reverse names ---- */

static bool dns_reverse_v4(const char *s, size_t n, uint8_t *addr)
{
	size_t i = 0;
	for (int k = 3; k >= 0; k--) {
		unsigned v = 0, digits = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 3) {
			v = v * 10 + (unsigned)(s[i++] - '0');
			digits++;
		}
		if (digits == 0 || v > 255 || i >= n || s[i] != '.')
			return false;
		addr[k] = (uint8_t)v;
		i++;
	}
	return i == n;
}

bool dns_reverse_parse(const char *name, int *family, uint8_t *addr)
{
	static const char v4sfx[] = "in-addr.arpa", v6sfx[] = "ip6.arpa";
	size_t n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n > sizeof(v4sfx) - 1 &&
	    strncasecmp(name + n - (sizeof(v4sfx) - 1), v4sfx, sizeof(v4sfx) - 1) == 0) {
		if (!dns_reverse_v4(name, n - (sizeof(v4sfx) - 1), addr))
			return false;
		*family = AF_INET;
		return true;
	}
	/* 32 "x." pairs, then the suffix. */
	if (n != 64 + sizeof(v6sfx) - 1 || strncasecmp(name + 64, v6sfx, sizeof(v6sfx) - 1) != 0)
		return false;
	memset(addr, 0, 16);
	for (int i = 0; i < 32; i++) {
		int v = hex_value(name[2 * i]);
		if (v < 0 || name[2 * i + 1] != '.')
			return false;
		/* The first nibble in the name is the address's last. */
		addr[15 - i / 2] |= (uint8_t)(i % 2 ? v << 4 : v);
	}
	*family = AF_INET6;
	return true;
}

int dns_reverse_name(int family, const uint8_t *addr, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	int n;

	if (family == AF_INET) {
		n = snprintf(out, cap, "%u.%u.%u.%u.in-addr.arpa", addr[3], addr[2], addr[1],
			     addr[0]);
		return n < 0 || (size_t)n >= cap ? -1 : n;
	}
	if (family != AF_INET6 || cap < 64 + sizeof("ip6.arpa"))
		return -1;
	for (int i = 0; i < 32; i++) {
		uint8_t b = addr[15 - i / 2];
		out[2 * i] = hex[i % 2 ? b >> 4 : b & 15];
		out[2 * i + 1] = '.';
	}
	memcpy(out + 64, "ip6.arpa", sizeof("ip6.arpa"));
	return 64 + (int)sizeof("ip6.arpa") - 1;
}

/* Unit tests for the PROXY protocol codec (common/proxyproto.c): v1 TCP4/TCP6/UNKNOWN,
 * v2 PROXY/LOCAL over IPv4/IPv6/UNSPEC/AF_UNIX, TLVs skipped, every truncation of a
 * good header is NEED_MORE, and malformed headers are the right error. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "proxyproto.h"
#include "tap.h"

static struct socks_addr ip(const char *s, uint16_t port)
{
	struct socks_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, a.u.v4) == 1)
		a.atyp = SOCKS5_ATYP_IPV4;
	else if (inet_pton(AF_INET6, s, a.u.v6) == 1)
		a.atyp = SOCKS5_ATYP_IPV6;
	a.port = port;
	return a;
}

static bool same_addr(const struct socks_addr *a, const struct socks_addr *b)
{
	return a->atyp == b->atyp && a->port == b->port &&
	       !memcmp(a->u.v6, b->u.v6, a->atyp == SOCKS5_ATYP_IPV4 ? 4 : 16);
}

static int parse(const void *buf, size_t len, size_t *used, struct pp_header *h)
{
	*used = 0;
	return pp_parse(buf, len, used, h);
}

/* Every strict prefix of a good header needs more, and consumes nothing. */
static void every_prefix_needs_more(const uint8_t *buf, size_t len, const char *name)
{
	struct pp_header h;
	size_t used, bad = 0;

	for (size_t i = 0; i < len; i++)
		if (parse(buf, i, &used, &h) != CODEC_NEED_MORE || used != 0)
			bad++;
	is_int(bad, 0, "%s: each of its %zu prefixes needs more", name, len);
}

static void v1_good(const char *line, int has_addr, const char *src, const char *dst,
		    uint16_t sp, uint16_t dp)
{
	uint8_t buf[256];
	size_t n = strlen(line), used;
	struct pp_header h;
	struct socks_addr s = ip(src, sp), d = ip(dst, dp);

	memcpy(buf, line, n);
	memcpy(buf + n, "\x05\x01\x00", 3); /* a SOCKS greeting right behind it */
	is_int(parse(buf, n + 3, &used, &h), CODEC_DONE, "v1 %.*s parses", (int)n - 2, line);
	is_int(used, n, "  its length is the line's");
	ok(h.version == 1 && h.has_addr == has_addr, "  version 1, has_addr %d", has_addr);
	if (has_addr)
		ok(same_addr(&h.src, &s) && same_addr(&h.dst, &d), "  addresses and ports");
	every_prefix_needs_more(buf, n, "  this v1 line");
}

static void v1_bad(const char *line, int want, const char *why)
{
	struct pp_header h;
	size_t used;

	is_int(parse(line, strlen(line), &used, &h), want, "v1 refused: %s", why);
}

static void test_v1(void)
{
	char longline[200];
	uint8_t b[128];
	struct socks_addr s4 = ip("198.18.0.5", 40000), d4 = ip("198.18.1.1", 1080);
	struct socks_addr s6 = ip("fd00::5", 1), d6 = ip("fd00::1", 65535);

	v1_good("PROXY TCP4 198.18.0.5 198.18.1.1 40000 1080\r\n", 1, "198.18.0.5",
		"198.18.1.1", 40000, 1080);
	v1_good("PROXY TCP6 fd00::5 fd00::1 0 65535\r\n", 1, "fd00::5", "fd00::1", 0, 65535);
	v1_good("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
		1, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		65535, 65535);
	v1_good("PROXY UNKNOWN\r\n", 0, "", "", 0, 0);
	v1_good("PROXY UNKNOWN fd00::5 fd00::1 1 2\r\n", 0, "", "", 0, 0);

	v1_bad("PROXY TCP4 198.18.0.5 198.18.1.1 40000 1080\n", CODEC_EFIELD, "bare LF");
	v1_bad("PROXY TCP4 198.18.0.5 198.18.1.1 40000 1080\rX", CODEC_EFIELD, "CR without LF");
	v1_bad("PROXY TCP4  198.18.0.5 198.18.1.1 40000 1080\r\n", CODEC_EFIELD, "two spaces");
	v1_bad("PROXY TCP4 198.18.0.5 198.18.1.1 40000 1080 \r\n", CODEC_EFIELD, "trailing space");
	v1_bad("PROXY TCP4 198.18.0.5 198.18.1.1 40000\r\n", CODEC_EFIELD, "a port missing");
	v1_bad("PROXY TCP4 198.18.0.5 198.18.1.1 40000 1080 9\r\n", CODEC_EFIELD, "a field too many");
	v1_bad("PROXY TCP4 fd00::5 198.18.1.1 40000 1080\r\n", CODEC_EFIELD, "IPv6 under TCP4");
	v1_bad("PROXY TCP6 198.18.0.5 fd00::1 1 2\r\n", CODEC_EFIELD, "IPv4 under TCP6");
	v1_bad("PROXY TCP4 198.18.0.256 198.18.1.1 1 2\r\n", CODEC_EFIELD, "bad IPv4");
	v1_bad("PROXY TCP4 198.18.0.5 198.18.1.1 65536 1080\r\n", CODEC_EFIELD, "port 65536");
	v1_bad("PROXY TCP4 198.18.0.5 198.18.1.1 080 1080\r\n", CODEC_EFIELD, "leading zero");
	v1_bad("PROXY TCP4 198.18.0.5 198.18.1.1 -1 1080\r\n", CODEC_EFIELD, "negative port");
	v1_bad("PROXY UDP4 198.18.0.5 198.18.1.1 1 2\r\n", CODEC_EFIELD, "unknown protocol");
	v1_bad("PROXY TCP 198.18.0.5 198.18.1.1 1 2\r\n", CODEC_EFIELD, "short protocol");
	v1_bad("PROXY UNKNOWNX\r\n", CODEC_EFIELD, "UNKNOWN glued to more");
	v1_bad("PROXY \r\n", CODEC_EFIELD, "empty line");
	v1_bad("PROXY TCP4 198.18.0.5\x01 198.18.1.1 1 2\r\n", CODEC_EFIELD, "control byte");
	v1_bad("proxy TCP4 198.18.0.5 198.18.1.1 1 2\r\n", CODEC_EVERSION, "lower case signature");
	v1_bad("\x05\x01\x00", CODEC_EVERSION, "a SOCKS greeting, no header");
	v1_bad("GET / HTTP/1.0\r\n", CODEC_EVERSION, "HTTP");

	/* The longest line fits 107 bytes; one byte more is too long, CRLF or not. */
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "PROXY UNKNOWN ", 14);
	memcpy(longline + 105, "\r\n", 2);
	{
		struct pp_header h;
		size_t used;

		is_int(parse(longline, 107, &used, &h), CODEC_DONE, "a 107-byte line parses");
		memcpy(longline + 105, "x\r\n", 3);
		is_int(parse(longline, 108, &used, &h), CODEC_ELENGTH, "a 108-byte line is too long");
		is_int(parse(longline, 106, &used, &h), CODEC_ELENGTH,
		       "106 bytes and no CR yet: already too long");
	}

	/* Builders round-trip. */
	{
		struct pp_header h;
		size_t used;
		ssize_t n = pp_build_v1(b, sizeof(b), &s4, &d4);

		ok(n > 0 && parse(b, (size_t)n, &used, &h) == CODEC_DONE && used == (size_t)n &&
			   same_addr(&h.src, &s4) && same_addr(&h.dst, &d4),
		   "v1 build TCP4 round-trips");
		n = pp_build_v1(b, sizeof(b), &s6, &d6);
		ok(n > 0 && parse(b, (size_t)n, &used, &h) == CODEC_DONE && same_addr(&h.src, &s6),
		   "v1 build TCP6 round-trips");
		is_int(pp_build_v1(b, sizeof(b), &s4, &d6), CODEC_EATYP, "v1 build: mixed families");
		is_int(pp_build_v1(b, 10, &s4, &d4), CODEC_ENOSPC, "v1 build: no room");
		n = pp_build_v1(b, sizeof(b), NULL, NULL);
		ok(n == 15 && !memcmp(b, "PROXY UNKNOWN\r\n", 15), "v1 build UNKNOWN");
	}
}

/* A v2 header: sig, ver/cmd, fam/trans, then body. */
static size_t v2(uint8_t *b, uint8_t vc, uint8_t ft, const uint8_t *body, size_t blen)
{
	memcpy(b, pp_v2_sig, PP_V2_SIG_LEN);
	b[12] = vc;
	b[13] = ft;
	b[14] = (uint8_t)(blen >> 8);
	b[15] = (uint8_t)blen;
	memcpy(b + 16, body, blen);
	return 16 + blen;
}

static void test_v2(void)
{
	uint8_t b[1200], body[1100];
	struct pp_header h;
	size_t used, n;
	ssize_t m;
	struct socks_addr s4 = ip("198.18.0.5", 40000), d4 = ip("198.18.1.1", 1080);
	struct socks_addr s6 = ip("fd00::5", 1234), d6 = ip("fd00::1", 1080);

	m = pp_build_v2(b, sizeof(b), &s4, &d4);
	is_int(m, 28, "v2 TCP4 header is 28 bytes");
	is_int(parse(b, 28, &used, &h), CODEC_DONE, "v2 TCP4 parses");
	ok(used == 28 && h.version == 2 && h.has_addr && !h.dgram && same_addr(&h.src, &s4) &&
		   same_addr(&h.dst, &d4),
	   "  length, version, addresses and ports");
	every_prefix_needs_more(b, 28, "v2 TCP4");

	m = pp_build_v2(b, sizeof(b), &s6, &d6);
	is_int(m, 52, "v2 TCP6 header is 52 bytes");
	is_int(parse(b, 60, &used, &h), CODEC_DONE, "v2 TCP6 parses (with data behind)");
	ok(used == 52 && h.has_addr && same_addr(&h.src, &s6) && same_addr(&h.dst, &d6),
	   "  addresses and ports");
	every_prefix_needs_more(b, 52, "v2 TCP6");

	m = pp_build_v2(b, sizeof(b), NULL, NULL);
	is_int(m, 16, "v2 LOCAL header is 16 bytes");
	ok(parse(b, 16, &used, &h) == CODEC_DONE && used == 16 && !h.has_addr, "v2 LOCAL: no address");
	/* LOCAL with an address block and junk: skipped, not checked. */
	memset(body, 0xee, 40);
	n = v2(b, 0x20, 0x11, body, 40);
	ok(parse(b, n, &used, &h) == CODEC_DONE && used == n && !h.has_addr,
	   "v2 LOCAL with a block of junk: skipped");
	every_prefix_needs_more(b, n, "v2 LOCAL with junk");

	/* PROXY over UNSPEC and AF_UNIX: no address to use. */
	n = v2(b, 0x21, 0x00, body, 0);
	ok(parse(b, n, &used, &h) == CODEC_DONE && used == 16 && !h.has_addr, "v2 PROXY UNSPEC");
	memset(body, 'u', 216);
	n = v2(b, 0x21, 0x31, body, 216);
	ok(parse(b, n, &used, &h) == CODEC_DONE && used == n && !h.has_addr, "v2 PROXY AF_UNIX");
	n = v2(b, 0x21, 0x31, body, 215);
	is_int(parse(b, n, &used, &h), CODEC_ELENGTH, "v2 AF_UNIX block too short");

	/* DGRAM transport is reported. */
	memcpy(body, "\xc6\x12\x00\x05\xc6\x12\x01\x01\x9c\x40\x04\x38", 12);
	n = v2(b, 0x21, 0x12, body, 12);
	ok(parse(b, n, &used, &h) == CODEC_DONE && h.dgram && same_addr(&h.src, &s4),
	   "v2 UDP4: dgram, addresses");

	/* TLVs after the addresses: shape checked, skipped. */
	memcpy(body + 12, "\x01\x00\x02h2", 5);                /* ALPN */
	memcpy(body + 17, "\x02\x00\x0b" "example.com", 14);      /* authority */
	memcpy(body + 31, "\x04\x00\x00", 3);                  /* NOOP, empty */
	n = v2(b, 0x21, 0x11, body, 34);
	ok(parse(b, n, &used, &h) == CODEC_DONE && used == n && same_addr(&h.src, &s4) &&
		   same_addr(&h.dst, &d4),
	   "v2 with three TLVs: skipped, addresses kept");
	every_prefix_needs_more(b, n, "v2 with TLVs");
	n = v2(b, 0x21, 0x11, body, 33);
	is_int(parse(b, n, &used, &h), CODEC_EFIELD, "v2 TLV value overruns the header");
	n = v2(b, 0x21, 0x11, body, 14);
	is_int(parse(b, n, &used, &h), CODEC_EFIELD, "v2 TLV header cut short");

	/* Bad headers. */
	n = v2(b, 0x11, 0x11, body, 12);
	is_int(parse(b, n, &used, &h), CODEC_EVERSION, "v2 version nibble 1");
	n = v2(b, 0x31, 0x11, body, 12);
	is_int(parse(b, n, &used, &h), CODEC_EVERSION, "v2 version nibble 3");
	n = v2(b, 0x22, 0x11, body, 12);
	is_int(parse(b, n, &used, &h), CODEC_ECMD, "v2 command 2");
	n = v2(b, 0x21, 0x41, body, 12);
	is_int(parse(b, n, &used, &h), CODEC_EATYP, "v2 family 4");
	n = v2(b, 0x21, 0x13, body, 12);
	is_int(parse(b, n, &used, &h), CODEC_EATYP, "v2 transport 3");
	n = v2(b, 0x21, 0x11, body, 11);
	is_int(parse(b, n, &used, &h), CODEC_ELENGTH, "v2 IPv4 block of 11 bytes");
	n = v2(b, 0x21, 0x21, body, 35);
	is_int(parse(b, n, &used, &h), CODEC_ELENGTH, "v2 IPv6 block of 35 bytes");
	/* Too long is known from the 16-byte header alone: no waiting for 64 KiB. */
	n = v2(b, 0x21, 0x11, body, 12);
	b[14] = 0xff;
	b[15] = 0xff;
	is_int(parse(b, 16, &used, &h), CODEC_ELENGTH, "v2 length 65535: refused at once");
	n = v2(b, 0x21, 0x11, body, PP_MAX_HEADER - 16);
	is_int(parse(b, n, &used, &h), CODEC_EFIELD, "v2 at the cap is parsed (junk TLVs here)");
	n = v2(b, 0x21, 0x11, body, PP_MAX_HEADER - 15);
	is_int(parse(b, n, &used, &h), CODEC_ELENGTH, "v2 one byte over the cap");
	memcpy(b, pp_v2_sig, 12);
	b[5] = 0x0e;
	is_int(parse(b, 16, &used, &h), CODEC_EVERSION, "v2 signature with one byte wrong");
	is_int(parse(b, 5, &used, &h), CODEC_NEED_MORE, "  its first 5 bytes still need more");
	is_int(parse(b, 6, &used, &h), CODEC_EVERSION, "  and the 6th tells");
	is_int(parse(b, 0, &used, &h), CODEC_NEED_MORE, "nothing yet: need more");

	is_int(pp_build_v2(b, 20, &s4, &d4), CODEC_ENOSPC, "v2 build: no room");
	is_int(pp_build_v2(b, sizeof(b), &s4, NULL), CODEC_EATYP, "v2 build: one address");
}

int main(void)
{
	test_v1();
	test_v2();
	return tap_done();
}

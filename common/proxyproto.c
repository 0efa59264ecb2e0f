/* PROXY protocol v1 (one text line) and v2 (a binary header) parsing and building.
 * The parser looks at a read-only view of the input and reports how long the header
 * was only once it is whole, so a caller can peek at the socket, parse, then take
 * exactly the header off it. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "proxyproto.h"

const uint8_t pp_v2_sig[PP_V2_SIG_LEN] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
					   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };
static const char pp_v1_sig[] = "PROXY ";
#define PP_V1_SIG_LEN (sizeof(pp_v1_sig) - 1)

/* Address block sizes of v2 (two addresses, then two ports for IP). */
#define PP2_ADDR_INET 12
#define PP2_ADDR_INET6 36
#define PP2_ADDR_UNIX 216
#define PP2_TLV_HDR 3

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* ---- v1 ---- */

/* A decimal port 0..65535 without sign or leading zero. */
static bool v1_port(const char *s, size_t n, uint16_t *out)
{
	unsigned long v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

static bool v1_addr(const char *s, size_t n, uint8_t atyp, struct socks_addr *out)
{
	char tmp[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(out, 0, sizeof(*out));
	out->atyp = atyp;
	return inet_pton(atyp == SOCKS5_ATYP_IPV4 ? AF_INET : AF_INET6, tmp, out->u.v6) == 1;
}

/* Splits line[0..len) at single spaces into at most max tokens; false if a token
 * would be empty (two spaces, a leading or trailing space) or there are more. */
static bool v1_split(const char *line, size_t len, const char *tok[], size_t tlen[],
		     size_t max, size_t *n)
{
	size_t start = 0;

	*n = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && line[i] != ' ')
			continue;
		if (i == start || *n == max)
			return false;
		tok[*n] = line + start;
		tlen[*n] = i - start;
		(*n)++;
		start = i + 1;
	}
	return true;
}

static int v1_parse(const uint8_t *buf, size_t len, size_t *used, struct pp_header *out)
{
	const char *line = (const char *)buf + PP_V1_SIG_LEN;
	const char *tok[5];
	size_t tlen[5], ntok, eol = 0, llen;
	uint8_t atyp;

	/* The CR is at most at PP_V1_MAX - 2, its LF then ends the longest line. */
	for (size_t i = PP_V1_SIG_LEN; i < min_sz(len, PP_V1_MAX - 1); i++) {
		if (buf[i] == '\n')
			return CODEC_EFIELD; /* a bare LF */
		if (buf[i] == '\r') {
			if (i + 1 == len)
				return CODEC_NEED_MORE;
			if (buf[i + 1] != '\n')
				return CODEC_EFIELD;
			eol = i;
			break;
		}
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return CODEC_EFIELD;
	}
	if (eol == 0)
		return len >= PP_V1_MAX - 1 ? CODEC_ELENGTH : CODEC_NEED_MORE;
	llen = eol - PP_V1_SIG_LEN;
	memset(out, 0, sizeof(*out));
	out->version = 1;
	*used = eol + 2;
	if (llen >= 7 && !memcmp(line, "UNKNOWN", 7) && (llen == 7 || line[7] == ' '))
		return CODEC_DONE; /* whatever follows UNKNOWN is ignored */
	if (!v1_split(line, llen, tok, tlen, 5, &ntok) || ntok != 5 || tlen[0] != 4)
		return CODEC_EFIELD;
	if (!memcmp(tok[0], "TCP4", 4))
		atyp = SOCKS5_ATYP_IPV4;
	else if (!memcmp(tok[0], "TCP6", 4))
		atyp = SOCKS5_ATYP_IPV6;
	else
		return CODEC_EFIELD;
	if (!v1_addr(tok[1], tlen[1], atyp, &out->src) ||
	    !v1_addr(tok[2], tlen[2], atyp, &out->dst) ||
	    !v1_port(tok[3], tlen[3], &out->src.port) || !v1_port(tok[4], tlen[4], &out->dst.port))
		return CODEC_EFIELD;
	out->has_addr = true;
	return CODEC_DONE;
}

/* ---- v2 ---- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static bool v2_tlvs_ok(const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t vlen;

		if (len < PP2_TLV_HDR)
			return false;
		vlen = get16(p + 1);
		if (vlen > len - PP2_TLV_HDR)
			return false;
		p += PP2_TLV_HDR + vlen;
		len -= PP2_TLV_HDR + vlen;
	}
	return true;
}

static void v2_addr(struct socks_addr *a, uint8_t atyp, const uint8_t *ip, size_t iplen,
		    const uint8_t *port)
{
	memset(a, 0, sizeof(*a));
	a->atyp = atyp;
	memcpy(a->u.v6, ip, iplen);
	a->port = get16(port);
}

static int v2_parse(const uint8_t *buf, size_t len, size_t *used, struct pp_header *out)
{
	uint8_t cmd, fam, trans;
	size_t hlen, addrlen;
	const uint8_t *a = buf + PP_V2_HDR_LEN;

	if (len < PP_V2_HDR_LEN)
		return CODEC_NEED_MORE;
	if (buf[12] >> 4 != 2)
		return CODEC_EVERSION;
	cmd = buf[12] & 0x0f;
	fam = buf[13] >> 4;
	trans = buf[13] & 0x0f;
	hlen = get16(buf + 14);
	if (cmd != PP2_CMD_LOCAL && cmd != PP2_CMD_PROXY)
		return CODEC_ECMD;
	if (fam > PP2_FAM_UNIX || trans > PP2_TRANS_DGRAM)
		return CODEC_EATYP;
	addrlen = fam == PP2_FAM_INET ? PP2_ADDR_INET : fam == PP2_FAM_INET6 ? PP2_ADDR_INET6
		  : fam == PP2_FAM_UNIX ? PP2_ADDR_UNIX : 0;
	/* LOCAL: the address block means nothing and is skipped whatever it holds. */
	if (cmd == PP2_CMD_LOCAL)
		addrlen = 0;
	if (PP_V2_HDR_LEN + hlen > PP_MAX_HEADER || hlen < addrlen)
		return CODEC_ELENGTH;
	if (len < PP_V2_HDR_LEN + hlen)
		return CODEC_NEED_MORE;
	if (cmd == PP2_CMD_PROXY && !v2_tlvs_ok(a + addrlen, hlen - addrlen))
		return CODEC_EFIELD;
	memset(out, 0, sizeof(*out));
	out->version = 2;
	out->dgram = trans == PP2_TRANS_DGRAM;
	if (cmd == PP2_CMD_PROXY && fam == PP2_FAM_INET) {
		v2_addr(&out->src, SOCKS5_ATYP_IPV4, a, 4, a + 8);
		v2_addr(&out->dst, SOCKS5_ATYP_IPV4, a + 4, 4, a + 10);
		out->has_addr = true;
	} else if (cmd == PP2_CMD_PROXY && fam == PP2_FAM_INET6) {
		v2_addr(&out->src, SOCKS5_ATYP_IPV6, a, 16, a + 32);
		v2_addr(&out->dst, SOCKS5_ATYP_IPV6, a + 16, 16, a + 34);
		out->has_addr = true;
	}
	*used = PP_V2_HDR_LEN + hlen;
	return CODEC_DONE;
}

int pp_parse(const uint8_t *buf, size_t len, size_t *used, struct pp_header *out)
{
	if (len == 0)
		return CODEC_NEED_MORE;
	if (!memcmp(buf, pp_v1_sig, min_sz(len, PP_V1_SIG_LEN)))
		return len < PP_V1_SIG_LEN ? CODEC_NEED_MORE : v1_parse(buf, len, used, out);
	if (!memcmp(buf, pp_v2_sig, min_sz(len, PP_V2_SIG_LEN)))
		return len < PP_V2_SIG_LEN ? CODEC_NEED_MORE : v2_parse(buf, len, used, out);
	return CODEC_EVERSION;
}

/* ---- builders ---- */

static int pp_family(const struct socks_addr *src, const struct socks_addr *dst)
{
	if (!src && !dst)
		return 0;
	if (!src || !dst || src->atyp != dst->atyp ||
	    (src->atyp != SOCKS5_ATYP_IPV4 && src->atyp != SOCKS5_ATYP_IPV6))
		return -1;
	return src->atyp == SOCKS5_ATYP_IPV4 ? AF_INET : AF_INET6;
}

ssize_t pp_build_v1(uint8_t *buf, size_t cap, const struct socks_addr *src,
		    const struct socks_addr *dst)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int fam = pp_family(src, dst), n;

	if (fam < 0)
		return CODEC_EATYP;
	if (fam == 0) {
		n = snprintf((char *)buf, cap, "PROXY UNKNOWN\r\n");
	} else {
		inet_ntop(fam, src->u.v6, s, sizeof(s));
		inet_ntop(fam, dst->u.v6, d, sizeof(d));
		n = snprintf((char *)buf, cap, "PROXY %s %s %s %u %u\r\n",
			     fam == AF_INET ? "TCP4" : "TCP6", s, d, src->port, dst->port);
	}
	if (n < 0 || (size_t)n >= cap)
		return CODEC_ENOSPC;
	return n;
}

ssize_t pp_build_v2(uint8_t *buf, size_t cap, const struct socks_addr *src,
		    const struct socks_addr *dst)
{
	int fam = pp_family(src, dst);
	size_t iplen = fam == AF_INET ? 4 : 16;
	size_t addrlen = fam == 0 ? 0 : fam == AF_INET ? PP2_ADDR_INET : PP2_ADDR_INET6;
	uint8_t *a = buf + PP_V2_HDR_LEN;

	if (fam < 0)
		return CODEC_EATYP;
	if (cap < PP_V2_HDR_LEN + addrlen)
		return CODEC_ENOSPC;
	memcpy(buf, pp_v2_sig, PP_V2_SIG_LEN);
	buf[12] = (uint8_t)(0x20 | (fam ? PP2_CMD_PROXY : PP2_CMD_LOCAL));
	buf[13] = fam == 0 ? 0
		  : (uint8_t)((fam == AF_INET ? PP2_FAM_INET : PP2_FAM_INET6) << 4 | PP2_TRANS_STREAM);
	put16(buf + 14, (uint16_t)addrlen);
	if (fam) {
		memcpy(a, src->u.v6, iplen);
		memcpy(a + iplen, dst->u.v6, iplen);
		put16(a + 2 * iplen, src->port);
		put16(a + 2 * iplen + 2, dst->port);
	}
	return (ssize_t)(PP_V2_HDR_LEN + addrlen);
}

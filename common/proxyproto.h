/* The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): the header a
 * load balancer puts in front of a TCP stream to say who the client really is.
 * A pure codec over buffers, like socks.h: no I/O, no allocation.
 *
 * pp_parse() returns CODEC_DONE with *used set to the header's length (the stream
 * continues after it), CODEC_NEED_MORE while what is there is a strict prefix of a
 * header (nothing consumed), or a negative CODEC_E* error:
 *   CODEC_EVERSION  not a PROXY header (neither signature), or a v2 version nibble
 *                   other than 2;
 *   CODEC_ECMD      a v2 command other than LOCAL or PROXY;
 *   CODEC_EATYP     a v2 address family or transport that is not defined;
 *   CODEC_ELENGTH   a v1 line longer than 107 bytes, a v2 length too short for its
 *                   addresses, or one above PP_MAX_HEADER;
 *   CODEC_EFIELD    a malformed v1 line (protocol, address, port, CRLF), or v2 TLVs
 *                   that overrun the header.
 * A v2 header's TLVs are checked for shape and otherwise skipped. */
#ifndef SOCKSIFY_PROXYPROTO_H
#define SOCKSIFY_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "socks.h"

#define PP_V1_MAX 107 /* "PROXY TCP6 <39> <39> 65535 65535\r\n" */
#define PP_V2_SIG_LEN 12
#define PP_V2_HDR_LEN 16
/* Our cap on a whole v2 header: the addresses (at most 216 bytes for AF_UNIX) and
 * TLVs that a balancer adds (ALPN, authority, SSL details, unique id). */
#define PP_MAX_HEADER 1024

extern const uint8_t pp_v2_sig[PP_V2_SIG_LEN];

/* v2 command (low nibble of byte 13) and address family / transport (byte 14). */
#define PP2_CMD_LOCAL 0x0
#define PP2_CMD_PROXY 0x1
#define PP2_FAM_UNSPEC 0x0
#define PP2_FAM_INET 0x1
#define PP2_FAM_INET6 0x2
#define PP2_FAM_UNIX 0x3
#define PP2_TRANS_UNSPEC 0x0
#define PP2_TRANS_STREAM 0x1
#define PP2_TRANS_DGRAM 0x2

struct pp_header {
	uint8_t version; /* 1 or 2 */
	/* false: the header carries no usable address (v1 UNKNOWN, v2 LOCAL, UNSPEC or
	 * AF_UNIX): the connection's own endpoints stand (a balancer's health check). */
	bool has_addr;
	bool dgram;            /* v2 transport DGRAM */
	struct socks_addr src; /* IPV4 or IPV6 with port, when has_addr */
	struct socks_addr dst;
};

int pp_parse(const uint8_t *buf, size_t len, size_t *used, struct pp_header *out);

/* Builders (a balancer's side; the tests and the fuzzer use them). src and dst must
 * be of one family, IPV4 or IPV6; NULL for both builds v1 UNKNOWN / v2 LOCAL.
 * Return the bytes written or a negative CODEC_E*. */
ssize_t pp_build_v1(uint8_t *buf, size_t cap, const struct socks_addr *src,
		    const struct socks_addr *dst);
ssize_t pp_build_v2(uint8_t *buf, size_t cap, const struct socks_addr *src,
		    const struct socks_addr *dst);

#endif

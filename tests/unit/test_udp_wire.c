/* The datagram family's nested SOCKS5 UDP headers (preload/udp_wire.c): one hop is
 * exactly RFC 1928's header, a chain nests one header per hop outermost first, and
 * unwrapping gives back the real source and where the payload starts; fragments,
 * short and malformed datagrams are refused, never read past. */
#include <string.h>

#include "tap.h"
#include "udp_wire.c"

static struct socks_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	struct socks_addr x = { .atyp = SOCKS5_ATYP_IPV4, .port = port };
	x.u.v4[0] = a, x.u.v4[1] = b, x.u.v4[2] = c, x.u.v4[3] = d;
	return x;
}

static struct socks_addr name(const char *n, uint16_t port)
{
	struct socks_addr x = { .atyp = SOCKS5_ATYP_DOMAINNAME, .port = port };
	strncpy(x.u.name, n, sizeof(x.u.name) - 1);
	return x;
}

static void one_hop(void)
{
	struct socks_addr dst = v4(198, 18, 2, 2, 7), src;
	uint8_t a[64], b[64];
	size_t used = 0;
	ssize_t n = udp_wire_wrap(a, sizeof(a), NULL, 1, &dst);
	ssize_t m = s5_build_udp_header(b, sizeof(b), 0, &dst);

	is_int(n, 10, "one hop, IPv4: a 10-byte header");
	ok(n == m && memcmp(a, b, (size_t)n) == 0, "one hop is exactly the RFC 1928 header");
	ok(udp_wire_unwrap(a, (size_t)n, 1, &used, &src), "it unwraps");
	is_int(used, 10, "payload starts after the header");
	ok(src.atyp == SOCKS5_ATYP_IPV4 && src.port == 7 && memcmp(src.u.v4, dst.u.v4, 4) == 0,
	   "the source is the address in the header");
}

static void chain(void)
{
	struct socks_addr relays[3] = { v4(0, 0, 0, 0, 0), v4(10, 0, 0, 2, 4000),
					name("hop3.example", 5000) };
	struct socks_addr dst = name("target.test", 53), src;
	uint8_t buf[3 * UDP_WIRE_HDR_MAX + 16];
	size_t used = 0;
	ssize_t n = udp_wire_wrap(buf, sizeof(buf), relays, 3, &dst);

	is_int(n, 10 + (7 + 12) + (7 + 11), "three hops: three headers, outermost first");
	ok(buf[3] == SOCKS5_ATYP_IPV4 && buf[4] == 10 && buf[8] == 0x0f && buf[9] == 0xa0,
	   "hop 1 is asked for hop 2's relay");
	memcpy(buf + n, "payload", 7);
	ok(udp_wire_unwrap(buf, (size_t)n + 7, 3, &used, &src), "three headers unwrap");
	ok(used == (size_t)n && memcmp(buf + used, "payload", 7) == 0, "payload follows them");
	ok(src.atyp == SOCKS5_ATYP_DOMAINNAME && strcmp(src.u.name, "target.test") == 0 &&
		   src.port == 53,
	   "the innermost header names the real source");
	ok(!udp_wire_unwrap(buf, (size_t)n, 4, &used, &src), "a missing fourth header is refused");
	ok(udp_wire_wrap(buf, 20, relays, 3, &dst) < 0, "a short buffer is refused");
	ok(udp_wire_wrap(buf, sizeof(buf), relays, 0, &dst) < 0, "no hop is refused");
}

static void bad(void)
{
	struct socks_addr dst = v4(1, 2, 3, 4, 5), src;
	uint8_t buf[32];
	size_t used;
	ssize_t n = udp_wire_wrap(buf, sizeof(buf), NULL, 1, &dst);

	buf[2] = 1;
	ok(!udp_wire_unwrap(buf, (size_t)n, 1, &used, &src), "a fragment (FRAG 1) is dropped");
	buf[2] = 0;
	for (size_t len = 0; len < (size_t)n; len++)
		if (udp_wire_unwrap(buf, len, 1, &used, &src)) {
			ok(0, "a %zu-byte datagram unwrapped", len);
			return;
		}
	ok(1, "every truncation of a header is refused");
	buf[3] = 9;
	ok(!udp_wire_unwrap(buf, (size_t)n, 1, &used, &src), "an unknown ATYP is refused");
}

int main(void)
{
	one_hop();
	chain();
	bad();
	return tap_done();
}

/* Nested SOCKS5 UDP request headers for the datagram family (see udp_wire.h): one
 * header per hop, built and parsed with common/socks.h's codec. */
#include "udp_wire.h"

ssize_t udp_wire_wrap(uint8_t *buf, size_t cap, const struct socks_addr *relays, size_t nh,
		      const struct socks_addr *dst)
{
	size_t off = 0;

	if (nh == 0)
		return -1;
	for (size_t k = 0; k < nh; k++) {
		ssize_t h = s5_build_udp_header(buf + off, cap - off, 0,
						k + 1 < nh ? &relays[k + 1] : dst);
		if (h < 0)
			return -1;
		off += (size_t)h;
	}
	return (ssize_t)off;
}

bool udp_wire_unwrap(const uint8_t *buf, size_t len, size_t nh, size_t *used,
		     struct socks_addr *src)
{
	size_t off = 0, u;
	uint8_t frag;

	for (size_t k = 0; k < (nh ? nh : 1); k++) {
		if (s5_parse_udp_header(buf + off, len - off, &u, &frag, src) != CODEC_DONE ||
		    frag != 0)
			return false;
		off += u;
	}
	*used = off;
	return true;
}

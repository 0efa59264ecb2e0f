/* libFuzzer target for the SOCKS5 UDP request header, parsed from every datagram
 * the UDP relay and the shim receive. A datagram is whole: NEED_MORE never. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socks.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct socks_addr a;
	uint8_t frag = 0, b[300];
	size_t used = 0;
	int rc = s5_parse_udp_header(data, size, &used, &frag, &a);

	CHECK(rc >= CODEC_ECMD && rc <= CODEC_DONE);
	if (rc != CODEC_DONE)
		return 0;
	CHECK(used >= 4 && used <= size && used == 3 + socks_addr_wire_len(&a));
	CHECK(s5_build_udp_header(b, sizeof(b), frag, &a) == (ssize_t)used);
	CHECK(!memcmp(b + 2, data + 2, used - 2));
	CHECK(s5_parse_udp_header(data, used - 1, &used, &frag, &a) == CODEC_ELENGTH);
	return 0;
}

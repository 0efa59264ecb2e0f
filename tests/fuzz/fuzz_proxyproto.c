/* libFuzzer target for the PROXY protocol header (v1 line, v2 binary) that socksifyd
 * reads first on a --proxy-listen listener, from a trusted balancer or not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxyproto.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_header h, h2;
	uint8_t b[PP_MAX_HEADER];
	size_t used = 0, u2 = 0;
	ssize_t n;
	int rc = pp_parse(data, size, &used, &h);

	fuzz_check_rc(rc, used, size);
	if (rc != CODEC_DONE)
		return 0;
	CHECK(used <= (h.version == 1 ? PP_V1_MAX : PP_MAX_HEADER));
	CHECK(h.version == 1 || h.version == 2);
	/* A header is whole only at its end: one byte less always needs more. */
	CHECK(pp_parse(data, used - 1, &u2, &h2) == CODEC_NEED_MORE);
	if (!h.has_addr)
		return 0;
	CHECK(h.src.atyp == h.dst.atyp);
	CHECK(h.src.atyp == SOCKS5_ATYP_IPV4 || h.src.atyp == SOCKS5_ATYP_IPV6);
	/* What was read builds back into a header that parses to the same addresses. */
	n = h.version == 1 ? pp_build_v1(b, sizeof(b), &h.src, &h.dst)
			   : pp_build_v2(b, sizeof(b), &h.src, &h.dst);
	CHECK(n > 0);
	CHECK(pp_parse(b, (size_t)n, &u2, &h2) == CODEC_DONE && u2 == (size_t)n);
	CHECK(h2.has_addr && h2.src.port == h.src.port && h2.dst.port == h.dst.port);
	CHECK(!memcmp(h2.src.u.v6, h.src.u.v6, 16) && !memcmp(h2.dst.u.v6, h.dst.u.v6, 16));
	return 0;
}

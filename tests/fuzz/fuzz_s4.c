/* libFuzzer target for SOCKS4/4a: the request socksifyd parses (USERID and the 4a
 * host name are NUL-terminated and capped) and the 8-byte reply the shim parses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socks.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s4_request r;
	struct s4_reply rep;
	uint8_t b[600];
	size_t used = 0, u2;
	int rc = s4_parse_request(data, size, &used, &r);

	CHECK(rc >= CODEC_ECMD && rc <= CODEC_NEED_MORE);
	if (rc == CODEC_DONE) {
		CHECK(used >= 9 && used <= size);
		CHECK(strlen(r.userid) <= SOCKS_USER_MAX);
		CHECK(s4_build_request(b, sizeof(b), r.cmd, &r.addr, r.userid) == (ssize_t)used);
		/* A 4a request may carry any 0.0.0.x marker; we always build 0.0.0.1. */
		CHECK(!memcmp(b, data, 4) && !memcmp(b + 8, data + 8, used - 8));
		CHECK(s4_parse_request(data, used - 1, &u2, &r) == CODEC_NEED_MORE);
	}
	used = 0;
	rc = s4_parse_reply(data, size, &used, &rep);
	CHECK(rc == CODEC_DONE || rc == CODEC_NEED_MORE || rc == CODEC_EVERSION);
	if (rc == CODEC_DONE) {
		CHECK(used == 8 && size >= 8);
		CHECK(s4_build_reply(b, sizeof(b), rep.cd, rep.port, rep.v4) == 8);
		CHECK(!memcmp(b + 1, data + 1, 7));
	}
	return 0;
}

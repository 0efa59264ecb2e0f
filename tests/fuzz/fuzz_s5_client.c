/* libFuzzer target for the client side of SOCKS5: what a proxy sends back (method
 * reply, RFC 1929 status, request reply), parsed as the shim's dialler does, from
 * one stream, each message following the last's *used. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socks.h"
#include "fuzz.h"

static size_t reply(const uint8_t *d, size_t n)
{
	struct s5_request r;
	uint8_t b[300];
	size_t used = 0, u2;
	int rc = s5_parse_reply(d, n, &used, &r);

	fuzz_check_rc(rc, used, n);
	if (rc != CODEC_DONE)
		return 0;
	CHECK(s5_build_reply(b, sizeof(b), r.cmd, &r.addr) == (ssize_t)used);
	CHECK(!memcmp(b, d, 2) && !memcmp(b + 3, d + 3, used - 3));
	CHECK(s5_parse_reply(d, used - 1, &u2, &r) == CODEC_NEED_MORE);
	return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used = 0, off = 0;
	uint8_t method = 0, status = 0;
	int rc;

	reply(data, size);
	rc = s5_parse_auth_reply(data, size, &used, &status);
	fuzz_check_rc(rc, used, size);
	rc = s5_parse_method_reply(data, size, &used, &method);
	fuzz_check_rc(rc, used, size);
	if (rc != CODEC_DONE)
		return 0;
	off = used;
	if (method == SOCKS5_METHOD_USERPASS) {
		rc = s5_parse_auth_reply(data + off, size - off, &used, &status);
		fuzz_check_rc(rc, used, size - off);
		if (rc != CODEC_DONE)
			return 0;
		off += used;
	}
	reply(data + off, size - off);
	return 0;
}

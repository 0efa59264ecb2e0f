/* libFuzzer target for the server side of SOCKS5: greeting, RFC 1929 auth and
 * request parsed one after another from one byte stream, as socksifyd does, plus
 * each parser on the whole input. A DONE result must rebuild to the same bytes'
 * meaning and be self-delimiting (one byte less is NEED_MORE). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socks.h"
#include "fuzz.h"

static size_t greeting(const uint8_t *d, size_t n)
{
	struct s5_greeting g;
	uint8_t b[300];
	size_t used = 0, u2;
	int rc = s5_parse_greeting(d, n, &used, &g);

	fuzz_check_rc(rc, used, n);
	if (rc != CODEC_DONE)
		return 0;
	CHECK(s5_build_greeting(b, sizeof(b), g.methods, g.nmethods) == (ssize_t)used);
	CHECK(!memcmp(b, d, used));
	CHECK(s5_parse_greeting(d, used - 1, &u2, &g) == CODEC_NEED_MORE);
	return used;
}

static size_t auth(const uint8_t *d, size_t n)
{
	struct s5_auth a;
	uint8_t b[600];
	size_t used = 0, u2;
	int rc = s5_parse_auth(d, n, &used, &a);

	fuzz_check_rc(rc, used, n);
	if (rc != CODEC_DONE)
		return 0;
	CHECK(strlen(a.user) == a.ulen && strlen(a.pass) == a.plen);
	CHECK(s5_build_auth(b, sizeof(b), a.user, a.pass) == (ssize_t)used);
	CHECK(!memcmp(b, d, used));
	CHECK(s5_parse_auth(d, used - 1, &u2, &a) == CODEC_NEED_MORE);
	return used;
}

static size_t request(const uint8_t *d, size_t n)
{
	struct s5_request r;
	uint8_t b[300];
	size_t used = 0, u2;
	int rc = s5_parse_request(d, n, &used, &r);

	fuzz_check_rc(rc, used, n);
	if (rc != CODEC_DONE)
		return 0;
	CHECK(used == 3 + socks_addr_wire_len(&r.addr));
	CHECK(s5_build_request(b, sizeof(b), r.cmd, &r.addr) == (ssize_t)used);
	/* RSV is accepted as sent but always built as 0. */
	CHECK(!memcmp(b, d, 2) && !memcmp(b + 3, d + 3, used - 3));
	CHECK(s5_parse_request(d, used - 1, &u2, &r) == CODEC_NEED_MORE);
	return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, n;

	greeting(data, size);
	auth(data, size);
	request(data, size);
	/* The pipelined stream: greeting, then auth when it offered only 0x02, then
	 * the request; whatever follows is application data. */
	n = greeting(data, size);
	if (!n)
		return 0;
	off += n;
	if (data[1] == 1 && data[2] == SOCKS5_METHOD_USERPASS) {
		n = auth(data + off, size - off);
		if (!n)
			return 0;
		off += n;
	}
	request(data + off, size - off);
	return 0;
}

/* libFuzzer target for HTTP CONNECT: the request head a server parses (request
 * line, headers, Basic credentials) and the reply head the shim parses. A parsed
 * request must rebuild and parse back to the same destination and credentials. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socks.h"
#include "fuzz.h"

static int addr_eq(const struct socks_addr *a, const struct socks_addr *b)
{
	if (a->atyp != b->atyp || a->port != b->port)
		return 0;
	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4: return !memcmp(a->u.v4, b->u.v4, 4);
	case SOCKS5_ATYP_IPV6: return !memcmp(a->u.v6, b->u.v6, 16);
	default: return !strcmp(a->u.name, b->u.name);
	}
}

static void request(const uint8_t *data, size_t size)
{
	static struct http_connect_req r, r2;
	static uint8_t b[2048];
	size_t used = 0;
	ssize_t n;
	int rc = http_parse_connect_request(data, size, &used, &r);

	CHECK(rc >= CODEC_ECMD && rc <= CODEC_NEED_MORE);
	if (rc != CODEC_DONE)
		return;
	CHECK(used > 0 && used <= size && used <= HTTP_HEAD_MAX);
	n = http_build_connect(b, sizeof(b), &r.addr, r.has_auth ? r.user : NULL, r.pass);
	CHECK(n > 0);
	CHECK(http_parse_connect_request(b, (size_t)n, &used, &r2) == CODEC_DONE);
	CHECK(used == (size_t)n && addr_eq(&r.addr, &r2.addr) && r.has_auth == r2.has_auth);
	CHECK(!r.has_auth || (!strcmp(r.user, r2.user) && !strcmp(r.pass, r2.pass)));
}

static void reply(const uint8_t *data, size_t size)
{
	static uint8_t b[256];
	size_t used = 0;
	int status = 0, st2 = 0;
	ssize_t n;
	int rc = http_parse_connect_reply(data, size, &used, &status);

	CHECK(rc >= CODEC_ECMD && rc <= CODEC_NEED_MORE);
	if (rc != CODEC_DONE)
		return;
	CHECK(used > 0 && used <= size && used <= HTTP_HEAD_MAX);
	CHECK(status >= 100 && status <= 599);
	n = http_build_connect_reply(b, sizeof(b), status, NULL);
	CHECK(n > 0 && http_parse_connect_reply(b, (size_t)n, &used, &st2) == CODEC_DONE);
	CHECK(st2 == status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	request(data, size);
	reply(data, size);
	return 0;
}

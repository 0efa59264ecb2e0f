/* libFuzzer target for the DNS-over-TCP splitter (common/dnsstream.c): the input's
 * first byte seeds the piece sizes, the rest is the stream, fed in pieces. Every call
 * takes 1..n bytes; every message that comes out is exactly what its prefix said, in
 * order, and re-framed the messages equal the stream up to the last whole one; the
 * bytes held back are fewer than one more message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnsstream.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_stream s;
	size_t off = 0, whole = 0;
	unsigned seed;

	if (size < 1)
		return 0;
	seed = data[0];
	data++, size--;
	dns_stream_init(&s);
	while (off < size) {
		size_t piece = 1 + (seed = seed * 1103515245u + 12345u) % 97u;
		if (piece > size - off)
			piece = size - off;
		const uint8_t *in = data + off;
		size_t n = piece;
		while (n > 0) {
			const uint8_t *msg;
			size_t len, used = dns_stream_feed(&s, in, n, &msg, &len);
			CHECK(used >= 1 && used <= n);
			in += used, n -= used;
			if (msg == NULL)
				continue;
			/* The message is the stream's bytes right after its prefix. */
			CHECK(whole + 2 + len <= size);
			CHECK(((size_t)data[whole] << 8 | data[whole + 1]) == len);
			CHECK(len == 0 || memcmp(msg, data + whole + 2, len) == 0);
			whole += 2 + len;
		}
		off += piece;
	}
	CHECK(whole + s.have == size);
	return 0;
}

/* The DNS-over-TCP length-prefix splitter (common/dnsstream.c): a stream of three
 * messages (one of them empty) cut at every point, and at every pair of points,
 * gives back exactly those messages in order; a split inside the prefix waits. */
#include <string.h>

#include "dnsstream.h"
#include "tap.h"

static uint8_t stream[64];
static size_t stream_len;
static const size_t lens[] = { 5, 0, 9 };

static void build(void)
{
	stream_len = 0;
	for (size_t m = 0; m < 3; m++) {
		dns_stream_prefix(stream + stream_len, lens[m]);
		stream_len += 2;
		for (size_t i = 0; i < lens[m]; i++)
			stream[stream_len++] = (uint8_t)(0x10 * (m + 1) + i);
	}
}

/* Feeds stream in the pieces [0,a) [a,b) [b,end) and checks what comes out. */
static int run(struct dns_stream *s, size_t a, size_t b)
{
	size_t cuts[] = { 0, a, b, stream_len }, got = 0;

	dns_stream_init(s);
	for (size_t p = 0; p < 3; p++) {
		const uint8_t *in = stream + cuts[p];
		size_t n = cuts[p + 1] - cuts[p];
		while (n > 0) {
			const uint8_t *msg;
			size_t len, used = dns_stream_feed(s, in, n, &msg, &len);
			if (used == 0 || used > n)
				return 0;
			in += used, n -= used;
			if (msg == NULL)
				continue;
			if (got >= 3 || len != lens[got])
				return 0;
			for (size_t i = 0; i < len; i++)
				if (msg[i] != (uint8_t)(0x10 * (got + 1) + i))
					return 0;
			got++;
		}
	}
	return got == 3 && s->have == 0;
}

int main(void)
{
	static struct dns_stream s;
	const uint8_t *msg;
	size_t len, bad = 0;
	uint8_t pre[2];

	build();
	for (size_t a = 0; a <= stream_len; a++)
		ok(run(&s, a, a), "one split at byte %zu: three messages, in order", a);
	for (size_t a = 0; a <= stream_len; a++)
		for (size_t b = a; b <= stream_len; b++)
			if (!run(&s, a, b))
				bad++;
	is_int(bad, 0, "every pair of split points gives the same three messages");

	dns_stream_init(&s);
	is_int(dns_stream_feed(&s, stream, 1, &msg, &len), 1, "half a prefix is taken");
	ok(msg == NULL, "... and no message yet");
	dns_stream_prefix(pre, DNS_STREAM_MSG_MAX);
	ok(pre[0] == 0xff && pre[1] == 0xff, "the largest message's prefix");
	dns_stream_init(&s);
	dns_stream_feed(&s, pre, 2, &msg, &len);
	size_t took = 0;
	static uint8_t big[DNS_STREAM_MSG_MAX + 10];
	while (took < sizeof(big)) {
		size_t u = dns_stream_feed(&s, big + took, sizeof(big) - took, &msg, &len);
		took += u;
		if (msg != NULL)
			break;
	}
	is_int(took, DNS_STREAM_MSG_MAX, "a 65535-byte message ends where its prefix says");
	is_int(len, DNS_STREAM_MSG_MAX, "... and comes out whole");
	return tap_done();
}

/* DNS over a byte stream: the length-prefix splitter (see dnsstream.h). */
#include <string.h>

#include "dnsstream.h"

void dns_stream_init(struct dns_stream *s)
{
	s->have = 0;
}

size_t dns_stream_feed(struct dns_stream *s, const uint8_t *in, size_t n, const uint8_t **msg,
		       size_t *len)
{
	size_t want, take;

	*msg = NULL;
	*len = 0;
	if (s->have < 2)
		want = 2 - s->have; /* the prefix first */
	else
		want = 2 + (((size_t)s->buf[0] << 8) | s->buf[1]) - s->have;
	take = n < want ? n : want;
	memcpy(s->buf + s->have, in, take);
	s->have += take;
	if (s->have < 2)
		return take;
	size_t mlen = ((size_t)s->buf[0] << 8) | s->buf[1];
	if (s->have == 2 + mlen) {
		*msg = s->buf + 2;
		*len = mlen;
		s->have = 0;
	}
	return take;
}

void dns_stream_prefix(uint8_t out[2], size_t len)
{
	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
}

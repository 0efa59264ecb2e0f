/* DNS over a byte stream (RFC 1035 4.2.2, RFC 7766): each message behind a two-byte
 * big-endian length. The splitter takes whatever a program wrote, in pieces of any
 * size, and hands back whole messages, one at a time. Pure: no I/O, no allocation. */
#ifndef SOCKSIFY_DNSSTREAM_H
#define SOCKSIFY_DNSSTREAM_H

#include <stddef.h>
#include <stdint.h>

#define DNS_STREAM_MSG_MAX 65535

/* One direction of a connection: the bytes of the message being gathered. */
struct dns_stream {
	uint8_t buf[2 + DNS_STREAM_MSG_MAX];
	size_t have; /* bytes in buf: the prefix, then the message so far */
};

void dns_stream_init(struct dns_stream *s);
/* Takes bytes from in (n > 0) up to the end of the next whole message at most and
 * returns how many it took (at least one). When that completed a message, *msg points
 * at it inside s (valid until the next call) and *len is its length (0 for a
 * zero-length message); otherwise *msg is NULL. Call again with the rest. */
size_t dns_stream_feed(struct dns_stream *s, const uint8_t *in, size_t n, const uint8_t **msg,
		       size_t *len);
/* The two-byte prefix for a message of len bytes (len <= DNS_STREAM_MSG_MAX). */
void dns_stream_prefix(uint8_t out[2], size_t len);

#endif

/* libFuzzer target for the shim's chain handshake (common/dial.c): the input's first
 * byte picks the chain (types, auth, pipelining, chunk size), the rest is what the
 * proxies answer, served through a fake struct dial_io in chunks with EAGAIN between
 * them, then EOF. Every run must end in DONE or FAILED with an errno and a message,
 * and never read past what it was given. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "dial.h"
#include "util.h"
#include "fuzz.h"

static const uint8_t *rx;
static size_t rxlen, rxoff, chunk;
static int toggle;
static uint64_t clock_ms;

static ssize_t f_send(void *ctx, int fd, const void *buf, size_t len, int flags)
{
	return (ssize_t)len;
}

static ssize_t f_recv(void *ctx, int fd, void *buf, size_t len, int flags)
{
	size_t avail = rxlen - rxoff;

	if (avail == 0)
		return 0;
	if (!(flags & MSG_PEEK) && (toggle ^= 1)) {
		errno = EAGAIN;
		return -1;
	}
	if (len > avail)
		len = avail;
	if (chunk && len > chunk)
		len = chunk;
	memcpy(buf, rx + rxoff, len);
	if (!(flags & MSG_PEEK))
		rxoff += len;
	return (ssize_t)len;
}

static int f_wait(void *ctx, int fd, short events, int timeout_ms)
{
	clock_ms++;
	return events;
}

static int f_connect(void *ctx, int fd, const struct sockaddr *sa, socklen_t len)
{
	errno = EINPROGRESS;
	return -1;
}

static int f_sock_error(void *ctx, int fd)
{
	return 0;
}

static int f_getfl(void *ctx, int fd)
{
	return O_RDWR;
}

static int f_setfl(void *ctx, int fd, int fl)
{
	return 0;
}

static uint64_t f_now(void *ctx)
{
	return clock_ms;
}

static const struct dial_io fio = {
	.send = f_send, .recv = f_recv, .wait = f_wait, .connect = f_connect,
	.sock_error = f_sock_error, .getfl = f_getfl, .setfl = f_setfl, .now_ms = f_now,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum proxy_type types[4] = { PROXY_SOCKS5, PROXY_SOCKS4, PROXY_SOCKS4A,
						  PROXY_HTTP };
	static struct proxy px[3];
	static struct dial_hop hops[3];
	static struct dial d;
	struct socks_addr dst = { .atyp = SOCKS5_ATYP_DOMAINNAME, .port = 80 };
	uint8_t sel;
	size_t n;

	if (size < 1)
		return 0;
	sel = data[0];
	n = 1 + (sel & 1) + ((sel >> 1) & 1); /* 1..3 hops */
	for (size_t i = 0; i < n; i++) {
		memset(&px[i], 0, sizeof(px[i]));
		px[i].type = types[(sel >> (2 + i)) & 3];
		str_copy(px[i].host, "proxy.test", sizeof(px[i].host));
		px[i].port = 1080;
		if (sel & 0x80) {
			px[i].has_auth = true;
			str_copy(px[i].user, "u", sizeof(px[i].user));
			str_copy(px[i].pass, "p", sizeof(px[i].pass));
		}
		memset(&hops[i], 0, sizeof(hops[i]));
		hops[i].proxy = &px[i];
		hops[i].addr.atyp = SOCKS5_ATYP_IPV4;
		hops[i].addr.port = 1080;
		hops[i].salen = sizeof(struct sockaddr_in);
	}
	if (px[n - 1].type == PROXY_SOCKS4)
		dst.atyp = SOCKS5_ATYP_IPV4;
	else
		str_copy(dst.u.name, "target.test", sizeof(dst.u.name));
	rx = data + 1;
	rxlen = size - 1;
	rxoff = 0;
	chunk = (size_t)(sel >> 5) & 3;
	toggle = 0;
	clock_ms = 0;
	dial_init(&d, 3, hops, n, &dst, SOCKS_CMD_CONNECT, &fio, (sel & 0x40) ? DIAL_F_PIPELINE : 0);
	int rc = dial_run(&d, 1000000);
	CHECK(rxoff <= rxlen);
	if (rc == 0) {
		CHECK(d.state == DIAL_DONE);
	} else {
		CHECK(d.state == DIAL_FAILED && d.err != 0 && d.msg[0] != '\0');
	}
	return 0;
}

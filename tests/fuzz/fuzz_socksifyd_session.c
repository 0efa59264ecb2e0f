/* libFuzzer target for socksifyd's whole session state machine: each input is one
 * client, fed over a real loopback TCP connection to session_accept() in chunks the
 * input chooses, with the event loop run between chunks. Every destination is denied
 * (0.0.0.0/0, ::/0) and getaddrinfo is stubbed, so nothing leaves loopback; BIND and
 * UDP ASSOCIATE still bind local sockets. crypt_rn is stubbed (no libcrypt here). */
#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../server/acl.c"
#include "../../server/bind.c"
#include "../../server/connect.c"
#include "../../server/ev.c"
#include "../../server/limits.c"
#include "../../server/pool.c"
#include "../../server/relay.c"
#include "../../server/resolve.c"
#include "../../server/session.c"
#include "../../server/stats.c"
#include "../../server/udp.c"
#include "../../server/users.c"

/* One worker: srv is this thread's, and pool results come straight back to it. */
static struct server fuzz_srv;
__thread struct server *srv_tls = &fuzz_srv;
struct worker;

bool worker_submit(struct pool_job *job, enum pool_lane lane)
{
	return pool_submit(job, lane);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* No DNS from a fuzzer: every name is unknown. */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	(void)node;
	(void)service;
	(void)hints;
	*res = NULL;
	return EAI_NONAME;
}

/* "$t$" + password stands for a hash. */
char *crypt_rn(const char *phrase, const char *setting, void *d, int size)
{
	struct crypt_data *cd = d;

	(void)setting;
	if (size < (int)sizeof(*cd))
		return NULL;
	snprintf(cd->output, sizeof(cd->output), "$t$%s", phrase);
	return cd->output;
}

static int lfd = -1;
static struct sockaddr_in laddr;
static struct users *users_on;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256], path[] = "/tmp/fuzz_socksifyd_users.XXXXXX";
	socklen_t len = sizeof(laddr);
	int fd;

	(void)argc;
	(void)argv;
	log_setup("fuzz", LOG_ERROR, -1, 0);
	srv.loop = ev_new();
	if (!srv.loop || !pool_init(srv.loop, 2))
		abort();
	srv.o.handshake_ms = srv.o.connect_ms = srv.o.idle_ms = srv.o.linger_ms = 200;
	srv.o.max_sessions = 1000;
	if (!acl_add_deny(&srv.acl, "0.0.0.0/0", err, sizeof(err)) ||
	    !acl_add_deny(&srv.acl, "::/0", err, sizeof(err)))
		abort();
	fd = mkstemp(path);
	if (fd < 0 || write(fd, "alice:pw\nbob:$t$pw\n", 19) != 19)
		abort();
	close(fd);
	users_on = users_load(path, err, sizeof(err));
	unlink(path);
	if (!users_on)
		abort();
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	laddr.sin_family = AF_INET;
	laddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&laddr, sizeof(laddr)) < 0 ||
	    listen(lfd, 16) < 0 || getsockname(lfd, (struct sockaddr *)&laddr, &len) < 0)
		abort();
	return 0;
}

static void drain(int c)
{
	uint8_t sink[4096];

	while (recv(c, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	union sa46 peer;
	socklen_t plen = sizeof(peer);
	size_t chunk, off;
	int c, fd;

	if (size < 1)
		return 0;
	/* First byte: bit 0 users on, bit 1 half-close at the end, bits 2-4 chunk size. */
	srv.users = (data[0] & 1) ? users_on : NULL;
	chunk = (size_t)1 << ((data[0] >> 2) & 7);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&laddr, sizeof(laddr)) < 0)
		abort();
	fd = accept4(lfd, &peer.sa, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		abort();
	session_accept(fd, &peer, true);
	for (off = 1; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (send(c, data + off, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			break;
		ev_run_once(srv.loop, 0);
		drain(c);
	}
	if (data[0] & 2)
		shutdown(c, SHUT_WR);
	/* A few turns without sleeping; a hash check on a worker may still be out,
	 * and is dropped at close like any session's pending job. */
	for (int i = 0; i < 6; i++) {
		ev_run_once(srv.loop, 0);
		drain(c);
	}
	close(c);
	session_close_all("fuzz input done");
	ev_run_once(srv.loop, 0);
	return 0;
}

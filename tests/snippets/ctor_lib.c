/* Built as a shared object (the name holds "lib"): its constructor connects through
 * the shim before main() and maybe before the shim's own constructor, so the shim must
 * initialise lazily. Preload it after libsocksify.so; SNIP_DEST="HOST PORT" says where
 * to connect. It prints "ctor: ok" or "ctor: FAIL ..." on stdout. */
#include "snip.h"

__attribute__((constructor)) static void ctor_connect(void)
{
	struct sockaddr_storage ss;
	char host[64], port[16];
	const char *d = getenv("SNIP_DEST");

	if (d == NULL || sscanf(d, "%63s %15s", host, port) != 2)
		return;
	socklen_t len = snip_addr(host, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&ss, len) == 0 && snip_echo(fd, "ctor") == 0)
		printf("ctor: ok\n");
	else
		printf("ctor: FAIL %s\n", strerror(errno));
	fflush(stdout);
	close(fd);
}

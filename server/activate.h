/* Listening sockets handed over at start: by systemd's socket activation
 * (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES; sd_listen_fds(3) by hand, no libsystemd),
 * or by the previous socksifyd during an upgrade, which uses the same protocol. */
#ifndef SOCKSIFYD_ACTIVATE_H
#define SOCKSIFYD_ACTIVATE_H

#include <stdbool.h>

#define ACTIVATE_FDS_START 3
#define ACTIVATE_MAX 64
#define ACTIVATE_NAME_MAX 64

struct activated {
	int fd;
	char name[ACTIVATE_NAME_MAX]; /* "proxy", "metrics", or anything: SOCKS */
};

/* 0 when the environment hands us nothing (or it is meant for another process),
 * the number of sockets otherwise (each made non-blocking and close-on-exec), or -1
 * with err set when what was handed over is unusable. Clears the variables. */
int activate_fds(struct activated *out, unsigned cap, char *err, size_t errlen);

#endif

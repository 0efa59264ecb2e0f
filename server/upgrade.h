/* Upgrade in place without dropping sessions (SIGUSR2): see upgrade.c. */
#ifndef SOCKSIFYD_UPGRADE_H
#define SOCKSIFYD_UPGRADE_H

#include <stdbool.h>
#include <sys/types.h>

typedef void (*upgrade_done_cb)(bool ok, pid_t pid);

/* At start: where our binary is, and the argv to start it with again. */
bool upgrade_init(char **argv);
/* Starts the binary with these listening sockets (names as in LISTEN_FDNAMES); cb
 * runs on the loop once it serves (ok, its pid) or failed. */
bool upgrade_start(const int *fds, const char **names, unsigned n, upgrade_done_cb cb);
bool upgrade_in_progress(void);
/* In the new process: keep the pipe from children; tell the old one we serve. */
void upgrade_claim_fd(void);
void upgrade_report_ready(void);

#endif

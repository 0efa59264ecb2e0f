/* Linux-specific pieces of socksifyd kept out of the logic: systemd readiness over
 * $NOTIFY_SOCKET, the fd limit, and the signalfd. */
#ifndef SOCKSIFYD_LINUX_H
#define SOCKSIFYD_LINUX_H

#include <signal.h>
#include <stdbool.h>

/* Sends msg ("READY=1", ...) to $NOTIFY_SOCKET if set; false only on a send error. */
bool sys_notify(const char *msg);
/* Raises the soft RLIMIT_NOFILE to the hard limit; returns the resulting soft limit. */
unsigned long sys_raise_nofile(void);
/* Blocks the given signals and returns a non-blocking signalfd for them. */
int sys_signalfd(const int *signals, int n);
/* Reads one signal number from the signalfd, or -1. */
int sys_signalfd_read(int fd);

#endif

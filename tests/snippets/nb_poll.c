/* Non-blocking connect under poll(): writable only once the tunnel is up, and
 * SO_ERROR tells the truth. Usage: nb_poll HOST PORT [ok|ECONNREFUSED|...]. */
#include "snip.h"

static int wait_poll(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	return poll(&p, 1, 10000) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	return snip_nb_main(argc, argv, wait_poll);
}

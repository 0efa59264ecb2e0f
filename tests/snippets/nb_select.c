/* Non-blocking connect under select(). Usage: nb_select HOST PORT [ok|ECONN...]. */
#include <sys/select.h>

#include "snip.h"

static int wait_select(int fd)
{
	fd_set w;
	struct timeval tv = { .tv_sec = 10 };

	FD_ZERO(&w);
	FD_SET(fd, &w);
	return select(fd + 1, NULL, &w, NULL, &tv) == 1 && FD_ISSET(fd, &w) ? 0 : -1;
}

int main(int argc, char **argv)
{
	return snip_nb_main(argc, argv, wait_select);
}

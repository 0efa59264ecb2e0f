/* TCP Fast Open (sendto/sendmsg with MSG_FASTOPEN on an unconnected stream socket):
 * the connect path decides (tunnel, direct or refused), then the data goes out once. */
#include <sys/socket.h>

#include "dgram.h"
#include "shim.h"

/* TCP Fast Open on an unconnected stream socket: the connect path (tunnel, direct
 * or refused, as connect() decides), then the data, sent once. */
ssize_t shim_fastopen(int fd, const struct msghdr *msg, int flags)
{
	struct msghdr m = *msg;

	if (shim_connect(fd, msg->msg_name, msg->msg_namelen) != 0)
		return -1;
	m.msg_name = NULL;
	m.msg_namelen = 0;
	return real()->sendmsg(fd, &m, flags & ~MSG_FASTOPEN);
}


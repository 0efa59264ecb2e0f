/* raw_connect IP PORT: a TCP connect made with the raw system call (no libc connect,
 * built static: nothing LD_PRELOAD can see), then "ping" to an echo server. Prints
 * "echo: ping" or "connect: <strerror>". */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	char buf[16] = {0};

	if (argc != 3)
		return 2;
	if (strchr(argv[1], ':')) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)atoi(argv[2]));
		inet_pton(AF_INET6, argv[1], &in6->sin6_addr);
		len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((unsigned short)atoi(argv[2]));
		inet_pton(AF_INET, argv[1], &in->sin_addr);
		len = sizeof(*in);
	}
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (syscall(SYS_connect, fd, (struct sockaddr *)&ss, len) != 0) {
		printf("connect: %s\n", strerror(errno));
		return 1;
	}
	if (write(fd, "ping", 4) != 4 || read(fd, buf, 4) != 4) {
		printf("io: %s\n", strerror(errno));
		return 1;
	}
	printf("echo: %s\n", buf);
	return 0;
}

/* uring_connect IP PORT: tries a connect through io_uring (which a seccomp
 * supervisor cannot see); when the ring cannot be set up, says so and falls back to
 * connect(2) as libuv and tokio do. Then "ping" to an echo server. */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	struct io_uring ring;
	char buf[8] = {0};

	if (argc != 3)
		return 2;
	in.sin_port = htons((unsigned short)atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &in.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int rc = io_uring_queue_init(4, &ring, 0);
	if (rc == 0) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		struct io_uring_cqe *cqe;
		io_uring_prep_connect(sqe, fd, (struct sockaddr *)&in, sizeof(in));
		io_uring_submit(&ring);
		io_uring_wait_cqe(&ring, &cqe);
		rc = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		printf("io_uring connect: %s\n", rc == 0 ? "ok" : strerror(-rc));
		if (rc != 0)
			return 1;
	} else {
		printf("io_uring_setup: %s\n", strerror(-rc));
		if (connect(fd, (struct sockaddr *)&in, sizeof(in)) != 0) {
			printf("connect: %s\n", strerror(errno));
			return 1;
		}
	}
	if (write(fd, "ping", 4) != 4 || read(fd, buf, 4) != 4) {
		printf("io: %s\n", strerror(errno));
		return 1;
	}
	printf("echo: %s\n", buf);
	return 0;
}

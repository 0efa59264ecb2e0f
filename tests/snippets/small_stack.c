/* The shim on a thread with a small stack (64 KiB, as Go's and some runtimes' threads
 * have): a getaddrinfo, a tunnelled connect with an echo, and a proxied sendto with
 * its echo each run on a fresh thread whose stack is painted first, so the deepest
 * byte touched shows how much stack the call took. Each must stay under LIMIT above
 * what an empty thread uses (a few KB of the shim's own plus libc's syscall wrappers).
 * Usage: small_stack HOST PORT NAME    (HOST:PORT a TCP and UDP echo; NAME resolved) */
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#include "snip.h"

#define STACK (64 * 1024)
#define LIMIT (16 * 1024)
#define PAINT 0xa5

static const char *host, *port, *name;

static void *job_none(void *arg)
{
	return arg;
}

static void *job_getaddrinfo(void *arg)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	int rc = getaddrinfo(name, "80", &hints, &res);

	if (res != NULL)
		freeaddrinfo(res);
	return (void *)(intptr_t)(rc == 0);
}

static void *job_connect(void *arg)
{
	struct sockaddr_storage ss;
	socklen_t len = snip_addr(host, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0), ok = 0;

	if (fd >= 0 && connect(fd, (struct sockaddr *)&ss, len) == 0)
		ok = snip_echo(fd, "small-stack") == 0;
	if (fd >= 0)
		close(fd);
	return (void *)(intptr_t)ok;
}

static void *job_sendto(void *arg)
{
	struct sockaddr_storage ss;
	socklen_t len = snip_addr(host, port, &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM, 0), ok = 0;
	char buf[64];

	if (fd >= 0 && sendto(fd, "datagram", 8, 0, (struct sockaddr *)&ss, len) == 8) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ok = poll(&p, 1, 5000) == 1 && recv(fd, buf, sizeof(buf), 0) == 8 &&
		     memcmp(buf, "datagram", 8) == 0;
	}
	if (fd >= 0)
		close(fd);
	return (void *)(intptr_t)ok;
}

/* Runs job on a fresh painted 64 KiB stack; returns the bytes of it touched, or -1
 * (*ok: what the job returned). */
static long run(void *(*job)(void *), int *ok)
{
	pthread_attr_t attr;
	pthread_t t;
	void *ret = NULL;
	uint8_t *stack = mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long used = -1;

	if (stack == MAP_FAILED)
		return -1;
	memset(stack, PAINT, STACK);
	pthread_attr_init(&attr);
	if (pthread_attr_setstack(&attr, stack, STACK) == 0 &&
	    pthread_create(&t, &attr, job, (void *)1) == 0 && pthread_join(t, &ret) == 0) {
		size_t low = 0;
		while (low < STACK && stack[low] == PAINT)
			low++;
		used = (long)(STACK - low);
	}
	*ok = ret != NULL;
	pthread_attr_destroy(&attr);
	munmap(stack, STACK);
	return used;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *what;
		void *(*job)(void *);
	} jobs[] = {
		{ "getaddrinfo of a name", job_getaddrinfo },
		{ "a tunnelled connect and echo", job_connect },
		{ "a proxied sendto and its echo", job_sendto },
	};
	int ok;
	long base;

	if (argc != 4) {
		fprintf(stderr, "usage: small_stack HOST PORT NAME\n");
		return 2;
	}
	host = argv[1];
	port = argv[2];
	name = argv[3];
	base = run(job_none, &ok);
	CHECK(base > 0, "an empty thread touches %ld bytes of its stack (thread set-up, TLS)", base);
	for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
		long used = run(jobs[i].job, &ok);
		CHECK(ok, "%s works on a 64 KiB stack", jobs[i].what);
		CHECK(used >= 0 && used - base <= LIMIT, "%s: %ld bytes of stack beyond an empty thread (limit %d)",
		      jobs[i].what, used - base, LIMIT);
	}
	printf("RESULT: %s\n", snip_failed ? "FAIL" : "PASS");
	return snip_failed;
}

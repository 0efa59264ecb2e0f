/* Many threads connecting at once: THREADS x CONNECTS tunnelled connects (default
 * 32 x 100), each echoing a tag, all must succeed. Usage: threads HOST PORT [T [N]]. */
#include <pthread.h>

#include "snip.h"

static struct sockaddr_storage dst;
static socklen_t dst_len;
static int per_thread = 100;

static void *worker(void *arg)
{
	long id = (long)arg, fails = 0;
	char tag[64];

	for (int i = 0; i < per_thread; i++) {
		int fd = socket(dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(tag, sizeof(tag), "t%ld-%d", id, i);
		if (fd < 0 || connect(fd, (struct sockaddr *)&dst, dst_len) != 0 ||
		    snip_echo(fd, tag) != 0) {
			if (fails++ < 3)
				fprintf(stderr, "thread %ld connect %d: %s\n", id, i, strerror(errno));
		}
		if (fd >= 0)
			close(fd);
	}
	return (void *)fails;
}

int main(int argc, char **argv)
{
	SNIP_ARGS(3);
	int nthreads = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 32;
	pthread_t t[256];
	long total = 0;

	if (argc > 4)
		per_thread = (int)strtol(argv[4], NULL, 10);
	if (nthreads < 1 || nthreads > 256)
		return 2;
	dst_len = snip_addr(argv[1], argv[2], &dst);
	for (long i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < nthreads; i++) {
		void *r;
		pthread_join(t[i], &r);
		total += (long)r;
	}
	CHECK(total == 0, "%d threads x %d connects: %ld failed", nthreads, per_thread, total);
	return snip_done();
}

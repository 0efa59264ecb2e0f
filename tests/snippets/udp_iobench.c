/* The fast path's price: write() of 64 bytes to a pipe (drained by read) and read() of
 * 64 bytes from a regular file, REPS calls per round, 11 rounds, the median ns per call.
 * Run with and without LD_PRELOAD to compare.
 * Usage: udp_iobench [REPS]   prints "write_pipe_ns=W read_file_ns=R" */
#include <fcntl.h>
#include <stdint.h>
#include <time.h>

#include "snip.h"

#define ROUNDS 11

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long reps = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	uint64_t w[ROUNDS], r[ROUNDS];
	char buf[64] = { 0 }, drain[65536], path[] = "/tmp/udp_iobench.XXXXXX";
	int p[2], f = mkstemp(path);

	if (f < 0 || pipe(p) != 0)
		return 1;
	unlink(path);
	for (int i = 0; i < 16384; i++)
		if (write(f, buf, sizeof(buf)) != sizeof(buf))
			return 1;
	for (int k = 0; k < ROUNDS; k++) {
		uint64_t t0 = now_ns();
		for (long i = 0; i < reps; i++) {
			if (write(p[1], buf, sizeof(buf)) != sizeof(buf))
				return 1;
			if ((i & 511) == 511)
				(void)!read(p[0], drain, sizeof(drain)); /* 32 KiB: never full */
		}
		w[k] = (now_ns() - t0) / (uint64_t)reps;
		(void)!read(p[0], drain, sizeof(drain));
		lseek(f, 0, SEEK_SET);
		t0 = now_ns();
		for (long i = 0; i < reps; i++) {
			if (read(f, buf, sizeof(buf)) != sizeof(buf))
				lseek(f, 0, SEEK_SET);
		}
		r[k] = (now_ns() - t0) / (uint64_t)reps;
	}
	qsort(w, ROUNDS, sizeof(w[0]), cmp_u64);
	qsort(r, ROUNDS, sizeof(r[0]), cmp_u64);
	printf("write_pipe_ns=%llu read_file_ns=%llu\n", (unsigned long long)w[ROUNDS / 2],
	       (unsigned long long)r[ROUNDS / 2]);
	return 0;
}

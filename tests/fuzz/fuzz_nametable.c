/* libFuzzer target for the name table read as hostile input (common/nametable.c): the
 * bytes are a table file. nt_attach_fd must refuse it or map it with a geometry that
 * lies inside the mapping; then lookups, inserts, reverse lookups and the statistics
 * run over whatever the rest of the file holds (slots, entries, counters, the lock)
 * and must neither crash, hang nor read outside the mapping (ASan). An insert that
 * succeeds reads back as the same name. */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "nametable.h"

#define FUZZ_MAX_FILE (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	uint64_t magic = 0, claimed = 0;
	uint32_t uid = (uint32_t)geteuid();

	if (fd < 0) {
		fd = memfd_create("fuzz-nametable", MFD_CLOEXEC);
		CHECK(fd >= 0 && fchmod(fd, 0600) == 0);
		nt_set_lock_timeout(1);
	}
	if (size < 24 || size > FUZZ_MAX_FILE)
		return 0;
	/* All zeros is a table being created: attach waits for its magic (200 ms). */
	memcpy(&magic, data, sizeof(magic));
	if (magic == 0)
		return 0;
	/* The file is as long as the header says (up to 1 MiB), the input at its start:
	 * seeds are small valid tables, so mutations explore past the size check. */
	memcpy(&claimed, data + 16, sizeof(claimed));
	uint64_t len = claimed >= size && claimed <= FUZZ_MAX_FILE ? claimed : size;
	CHECK(ftruncate(fd, 0) == 0 && ftruncate(fd, (off_t)len) == 0);
	CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
	/* The owner in the header must be ours; the fuzzer cannot know it. */
	CHECK(pwrite(fd, &uid, sizeof(uid), 12) == (ssize_t)sizeof(uid));

	struct nametable t;
	int rc = nt_attach_fd(&t, fd, "fuzz");
	CHECK(rc == 0 || rc == -EPROTO);
	if (rc != 0)
		return 0;
	/* What validation promises: everything the geometry names is in the mapping. */
	CHECK(t.size == len);
	CHECK(t.g.slot_off + (uint64_t)t.g.nslots * 8 <= t.size);
	for (int c = 0; c < 2; c++)
		CHECK(t.g.off[c] + (uint64_t)t.g.count[c] * t.g.esize[c] <= t.size);

	char name[NT_NAME_MAX + 1];
	uint32_t idx;
	nt_find(&t, "a.example", &idx);
	rc = nt_lookup(&t, "fuzz.example", &idx);
	if (rc == 0) {
		CHECK(nt_name(&t, idx, name, sizeof(name)) == 12);
		CHECK(strcmp(name, "fuzz.example") == 0);
	}
	for (size_t i = 24; i + 4 <= size && i < 24 + 4 * 16; i += 4) {
		uint32_t x;
		memcpy(&x, data + i, sizeof(x));
		nt_name(&t, x % (nt_capacity(&t) + 16) + t.params.first, name, sizeof(name));
	}
	struct nt_stats st;
	nt_get_stats(&t, &st);
	nt_register_pid(&t, 1);
	nt_detach(&t);
	return 0;
}

/* libFuzzer target for the hosts-file parser (common/hosts.c): the input's first line
 * is a name to look up, the rest is the file, copied to an exact-size buffer with no
 * terminating NUL (ASan sees any read past it). Every answer stays within its bounds,
 * and an address found for a name has a reverse answer unless its line's first name
 * is too long to give. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "hosts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t nlen = nl != NULL ? (size_t)(nl - data) : size;
	char name[300], rev[HOSTS_NAME_MAX + 1];
	struct host_addrs a;

	if (nlen >= sizeof(name))
		nlen = sizeof(name) - 1;
	memcpy(name, data, nlen);
	name[nlen] = '\0';
	size_t flen = nl != NULL ? size - (size_t)(nl - data) - 1 : 0;
	char *file = malloc(flen ? flen : 1);
	if (file == NULL)
		return 0;
	if (flen)
		memcpy(file, nl + 1, flen);

	bool found = hosts_find_name(file, flen, name, &a);
	CHECK(found == (a.n > 0));
	CHECK(a.n >= 0 && a.n <= HOSTS_MAX_ADDRS);
	CHECK(strlen(a.canon) <= HOSTS_NAME_MAX);
	for (int i = 0; i < a.n; i++) {
		CHECK(a.a[i].family == AF_INET || a.a[i].family == AF_INET6);
		if (a.canon[0] != '\0' && i == 0)
			CHECK(hosts_find_addr(file, flen, a.a[i].family, a.a[i].addr, rev,
					      sizeof(rev)));
	}
	uint8_t addr[16] = { 127, 0, 0, 1 };
	if (hosts_find_addr(file, flen, AF_INET, addr, rev, sizeof(rev)))
		CHECK(strlen(rev) <= HOSTS_NAME_MAX && rev[0] != '\0');
	free(file);
	return 0;
}

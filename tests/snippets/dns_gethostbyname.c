/* Snippet: the gethostbyname family.
 *   dns_gethostbyname plain|2|r|2r NAME [inet|inet6] [BUFLEN]
 * Prints "name N", "addr A" lines; on failure "herr N" (and "rc ERRNO" for _r) and
 * exits 2. A BUFLEN too small for the answer must give rc ERANGE. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_he(const struct hostent *he)
{
	printf("name %s\n", he->h_name);
	for (char **a = he->h_addr_list; *a; a++) {
		char b[INET6_ADDRSTRLEN];
		inet_ntop(he->h_addrtype, *a, b, sizeof(b));
		printf("addr %s\n", b);
	}
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 64;
	const char *mode = argv[1], *name = argv[2];
	int af = argc > 3 && !strcmp(argv[3], "inet6") ? AF_INET6 : AF_INET;
	size_t buflen = argc > 4 ? strtoul(argv[4], NULL, 10) : 4096;
	struct hostent he, *res = NULL;
	char *buf = malloc(buflen ? buflen : 1);
	int herr = 0, rc = 0;
	if (!strcmp(mode, "plain")) {
		res = gethostbyname(name);
		herr = h_errno;
	} else if (!strcmp(mode, "2")) {
		res = gethostbyname2(name, af);
		herr = h_errno;
	} else if (!strcmp(mode, "r")) {
		rc = gethostbyname_r(name, &he, buf, buflen, &res, &herr);
	} else if (!strcmp(mode, "2r")) {
		rc = gethostbyname2_r(name, af, &he, buf, buflen, &res, &herr);
	} else {
		return 64;
	}
	if (rc != 0)
		printf("rc %s\n", rc == ERANGE ? "ERANGE" : strerror(rc));
	if (res == NULL) {
		printf("herr %d\n", herr);
		free(buf);
		return 2;
	}
	print_he(res);
	free(buf);
	return 0;
}

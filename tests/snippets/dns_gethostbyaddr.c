/* Snippet: gethostbyaddr / gethostbyaddr_r on an address literal.
 *   dns_gethostbyaddr plain|r ADDR
 * Prints "name N" or "herr N" (exit 2). */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	unsigned char a[16];
	int af = AF_INET;
	socklen_t len = 4;
	if (argc < 3)
		return 64;
	if (inet_pton(AF_INET, argv[2], a) != 1) {
		if (inet_pton(AF_INET6, argv[2], a) != 1)
			return 64;
		af = AF_INET6;
		len = 16;
	}
	struct hostent he, *res = NULL;
	char buf[2048];
	int herr = 0;
	if (!strcmp(argv[1], "plain")) {
		res = gethostbyaddr(a, len, af);
		herr = h_errno;
	} else {
		gethostbyaddr_r(a, len, af, &he, buf, sizeof(buf), &res, &herr);
	}
	if (res == NULL) {
		printf("herr %d\n", herr);
		return 2;
	}
	printf("name %s\n", res->h_name);
	return 0;
}

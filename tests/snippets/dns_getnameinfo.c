/* Snippet: getnameinfo on an address literal and port.
 *   dns_getnameinfo ADDR PORT [namereqd,numerichost,numericserv,nofqdn,dgram]
 * Prints "host H serv S" or "error CODE" (exit 2). */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int flags = 0;
	if (argc < 3)
		return 64;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, argv[1], &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)atoi(argv[2]));
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, argv[1], &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)atoi(argv[2]));
		len = sizeof(*s6);
	} else {
		return 64;
	}
	if (argc > 3) {
		flags |= strstr(argv[3], "namereqd") ? NI_NAMEREQD : 0;
		flags |= strstr(argv[3], "numerichost") ? NI_NUMERICHOST : 0;
		flags |= strstr(argv[3], "numericserv") ? NI_NUMERICSERV : 0;
		flags |= strstr(argv[3], "nofqdn") ? NI_NOFQDN : 0;
		flags |= strstr(argv[3], "dgram") ? NI_DGRAM : 0;
	}
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	int rc = getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), serv, sizeof(serv), flags);
	if (rc != 0) {
		printf("error %d %s\n", rc, gai_strerror(rc));
		return 2;
	}
	printf("host %s serv %s\n", host, serv);
	return 0;
}

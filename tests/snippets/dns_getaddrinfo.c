/* Snippet: getaddrinfo with the hints given on the command line, printing every
 * entry, so e2e suites check each hints combination under the shim.
 *   dns_getaddrinfo [-N] [-f unspec|inet|inet6] [-t 0|stream|dgram|raw] [-p PROTO]
 *                   [-F canonname,numerichost,passive,addrconfig,numericserv,v4mapped,all]
 *                   [-s SERVICE] NAME|-
 * -N passes NULL hints; NAME "-" passes a NULL node. Prints "ai FAMILY ADDR PORT
 * SOCKTYPE PROTO" lines and "canon NAME"; on failure "error EAI_..." and exits 2. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *eai_name(int rc)
{
	switch (rc) {
	case EAI_BADFLAGS: return "EAI_BADFLAGS";
	case EAI_NONAME: return "EAI_NONAME";
	case EAI_AGAIN: return "EAI_AGAIN";
	case EAI_FAIL: return "EAI_FAIL";
	case EAI_FAMILY: return "EAI_FAMILY";
	case EAI_SOCKTYPE: return "EAI_SOCKTYPE";
	case EAI_SERVICE: return "EAI_SERVICE";
	case EAI_MEMORY: return "EAI_MEMORY";
	case EAI_SYSTEM: return "EAI_SYSTEM";
	case EAI_NODATA: return "EAI_NODATA";
	case EAI_ADDRFAMILY: return "EAI_ADDRFAMILY";
	default: return "EAI_other";
	}
}

static int parse_flags(char *s)
{
	int f = 0;
	for (char *t = strtok(s, ","); t; t = strtok(NULL, ",")) {
		if (!strcmp(t, "canonname")) f |= AI_CANONNAME;
		else if (!strcmp(t, "numerichost")) f |= AI_NUMERICHOST;
		else if (!strcmp(t, "passive")) f |= AI_PASSIVE;
		else if (!strcmp(t, "addrconfig")) f |= AI_ADDRCONFIG;
		else if (!strcmp(t, "numericserv")) f |= AI_NUMERICSERV;
		else if (!strcmp(t, "v4mapped")) f |= AI_V4MAPPED;
		else if (!strcmp(t, "all")) f |= AI_ALL;
		else if (!strcmp(t, "bogus")) f |= 0x10000;
	}
	return f;
}

int main(int argc, char **argv)
{
	struct addrinfo h, *res = NULL;
	const char *service = NULL;
	int null_hints = 0, opt;
	memset(&h, 0, sizeof(h));
	while ((opt = getopt(argc, argv, "Nf:t:p:F:s:")) != -1) {
		switch (opt) {
		case 'N': null_hints = 1; break;
		case 'f':
			h.ai_family = !strcmp(optarg, "inet") ? AF_INET
				    : !strcmp(optarg, "inet6") ? AF_INET6
				    : !strcmp(optarg, "unspec") ? AF_UNSPEC : 12345;
			break;
		case 't':
			h.ai_socktype = !strcmp(optarg, "stream") ? SOCK_STREAM
				      : !strcmp(optarg, "dgram") ? SOCK_DGRAM
				      : !strcmp(optarg, "raw") ? SOCK_RAW : atoi(optarg);
			break;
		case 'p': h.ai_protocol = atoi(optarg); break;
		case 'F': h.ai_flags = parse_flags(optarg); break;
		case 's': service = optarg; break;
		default: return 64;
		}
	}
	if (optind >= argc)
		return 64;
	const char *node = strcmp(argv[optind], "-") ? argv[optind] : NULL;
	int rc = getaddrinfo(node, service, null_hints ? NULL : &h, &res);
	if (rc != 0) {
		printf("error %s\n", eai_name(rc));
		return 2;
	}
	for (struct addrinfo *p = res; p; p = p->ai_next) {
		char a[INET6_ADDRSTRLEN] = "?";
		int port = 0;
		if (p->ai_family == AF_INET) {
			struct sockaddr_in *s = (struct sockaddr_in *)p->ai_addr;
			inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
			port = ntohs(s->sin_port);
		} else if (p->ai_family == AF_INET6) {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)p->ai_addr;
			inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
			port = ntohs(s->sin6_port);
		}
		printf("ai %s %s %d %d %d\n", p->ai_family == AF_INET ? "inet" : "inet6", a, port,
		       p->ai_socktype, p->ai_protocol);
		if (p->ai_canonname)
			printf("canon %s\n", p->ai_canonname);
	}
	freeaddrinfo(res);
	return 0;
}

/* Snippet: one name table for a whole process tree. A parent resolves a name to its
 * fake address; a forked child, an exec'd child, and a daemonised child (whose parent
 * has exited) each connect to that bare address and must reach the named host.
 *   dns_tree resolve NAME                 print the fake IPv4 address
 *   dns_tree get ADDR PORT HOST           HTTP GET / from ADDR:PORT, print the reply
 *   dns_tree fork|exec NAME PORT          resolve here, GET from a child
 *   dns_tree daemon|daemon-exec NAME PORT OUTFILE
 *                                         resolve, fork, exit at once; the child waits
 *                                         for the parent to be gone, then GETs into
 *                                         OUTFILE (ends with "done") */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int resolve(const char *name, char *out, size_t cap)
{
	struct addrinfo h, *res;
	memset(&h, 0, sizeof(h));
	h.ai_family = AF_INET;
	h.ai_socktype = SOCK_STREAM;
	int rc = getaddrinfo(name, NULL, &h, &res);
	if (rc != 0) {
		printf("resolve %s: %s\n", name, gai_strerror(rc));
		return -1;
	}
	inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, out, (socklen_t)cap);
	freeaddrinfo(res);
	return 0;
}

static int get(const char *addr, const char *port, const char *host)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(port));
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return 64;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		printf("connect %s:%s: %m\n", addr, port);
		fflush(stdout);
		return 1;
	}
	char req[512], buf[4096];
	int n = snprintf(req, sizeof(req), "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", host);
	if (write(fd, req, (size_t)n) != n)
		return 1;
	ssize_t r;
	int ok = 0;
	while ((r = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[r] = '\0';
		ok |= strstr(buf, " 200 ") != NULL;
		fputs(buf, stdout);
	}
	printf("\n");
	fflush(stdout);
	close(fd);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	char addr[INET6_ADDRSTRLEN];
	if (argc < 3)
		return 64;
	const char *mode = argv[1];
	if (!strcmp(mode, "resolve")) {
		if (resolve(argv[2], addr, sizeof(addr)) != 0)
			return 2;
		printf("%s\n", addr);
		return 0;
	}
	if (!strcmp(mode, "get"))
		return argc < 5 ? 64 : get(argv[2], argv[3], argv[4]);
	if (argc < 4 || resolve(argv[2], addr, sizeof(addr)) != 0)
		return 2;
	printf("resolved %s %s\n", argv[2], addr);
	fflush(stdout);
	const char *name = argv[2], *port = argv[3];
	int use_exec = strstr(mode, "exec") != NULL;
	int daemon = !strncmp(mode, "daemon", 6);
	if (daemon && argc < 5)
		return 64;
	pid_t parent = getpid(), pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		if (daemon) {
			int fd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0)
				_exit(1);
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
			close(0);
			setsid();
			/* The daemonise pattern: carry on only once the parent is gone. */
			for (int i = 0; i < 500 && getppid() == parent; i++)
				usleep(10000);
			printf("parent gone: %s\n", getppid() == parent ? "no" : "yes");
			fflush(stdout);
		}
		int rc;
		if (use_exec) {
			execl("/proc/self/exe", argv[0], "get", addr, port, name, (char *)NULL);
			rc = 127;
		} else {
			rc = get(addr, port, name);
		}
		if (daemon)
			printf("done rc=%d\n", rc);
		fflush(stdout);
		_exit(rc);
	}
	if (daemon)
		return 0;
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

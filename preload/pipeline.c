/* Which proxies take a pipelined SOCKS5 handshake (greeting, authentication and
 * request in one write: one round trip per hop instead of two or three). socksifyd
 * and Dante do; microsocks answers the greeting and then waits for the request it
 * already swallowed. With pipeline = auto every proxy is tried pipelined once; one
 * that stalls (dial_pipeline_stall) is asked again step by step and written down in
 * a small per-user file, so the user's other processes (the whole process tree,
 * whatever its environment) pay that slow connection no more than once a day:
 *   /tmp/.socksify-UID-nopipe    lines "HOST PORT UNIXTIME"
 * The file is trusted only when it is a regular file owned by the user and writable
 * by nobody else; it is read once per process, on the first chain that needs it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dial.h"
#include "log.h"
#include "shim.h"
#include "util.h"

#define PIPE_MAX 32                 /* proxies remembered per process */
#define PIPE_TTL (24 * 3600)        /* seconds an entry holds */
#define PIPE_FILE_MAX 8192          /* a bigger file is stale junk: started afresh */

struct pipe_entry {
	char host[SOCKS_NAME_MAX + 1];
	uint16_t port;
};

static struct pipe_entry pipe_bad[PIPE_MAX];
static size_t pipe_nbad;
static bool pipe_loaded;
static pthread_mutex_t pipe_mu = PTHREAD_MUTEX_INITIALIZER;

unsigned shim_dial_flags(void)
{
	const struct socksify_conf *c = shim_conf();

	return c != NULL && c->pipeline == PIPELINE_OFF ? 0 : DIAL_F_PIPELINE;
}

static void pipe_path(char *buf, size_t cap)
{
	snprintf(buf, cap, "/tmp/.socksify-%u-nopipe", (unsigned)getuid());
}

static bool pipe_known(const char *host, uint16_t port)
{
	for (size_t i = 0; i < pipe_nbad; i++)
		if (pipe_bad[i].port == port && strcmp(pipe_bad[i].host, host) == 0)
			return true;
	return false;
}

static void pipe_add(const char *host, uint16_t port)
{
	if (pipe_nbad >= PIPE_MAX || pipe_known(host, port))
		return;
	str_copy(pipe_bad[pipe_nbad].host, host, sizeof(pipe_bad[pipe_nbad].host));
	pipe_bad[pipe_nbad++].port = port;
}

/* Opens the file for reading or appending; -1 if it is not one we can trust. */
static int pipe_open(int flags)
{
	char path[64];
	struct stat st;
	int fd;

	pipe_path(path, sizeof(path));
	fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 022) != 0) {
		close(fd);
		return -1;
	}
	if (st.st_size > PIPE_FILE_MAX && (flags & O_APPEND))
		(void)ftruncate(fd, 0);
	return fd;
}

/* Under pipe_mu: the file's live entries into pipe_bad, once per process. */
static void pipe_load(void)
{
	static char buf[PIPE_FILE_MAX + 1]; /* under pipe_mu; not on the program's stack */
	ssize_t n;
	size_t len = 0;
	int fd;

	if (pipe_loaded)
		return;
	pipe_loaded = true;
	shim_inside++;
	fd = pipe_open(O_RDONLY);
	shim_inside--;
	if (fd < 0)
		return;
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	time_t now = time(NULL);
	for (char *line = buf, *next; line != NULL && *line != '\0'; line = next) {
		char host[SOCKS_NAME_MAX + 1];
		unsigned port;
		long long when;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (sscanf(line, "%255s %u %lld", host, &port, &when) == 3 && port > 0 &&
		    port < 65536 && when + PIPE_TTL > (long long)now && when <= (long long)now + 60)
			pipe_add(host, (uint16_t)port);
	}
}

bool pipeline_refused(const struct socksify_conf *c, const struct proxy *p)
{
	bool bad;

	if (c->pipeline != PIPELINE_AUTO || p->type != PROXY_SOCKS5)
		return false;
	pthread_mutex_lock(&pipe_mu);
	pipe_load();
	bad = pipe_known(p->host, p->port);
	pthread_mutex_unlock(&pipe_mu);
	return bad;
}

void pipeline_note_refused(const struct socksify_conf *c, const struct proxy *p, size_t hop)
{
	char line[SOCKS_NAME_MAX + 48];
	int fd, len;

	if (c->pipeline != PIPELINE_AUTO)
		return;
	pthread_mutex_lock(&pipe_mu);
	pipe_load();
	if (pipe_known(p->host, p->port)) {
		pthread_mutex_unlock(&pipe_mu);
		return;
	}
	pipe_add(p->host, p->port);
	pthread_mutex_unlock(&pipe_mu);
	LOG_INFO("hop %zu (%s:%u) stalls on a pipelined SOCKS5 handshake: asking it step by step "
		 "from now on",
		 hop, p->host, (unsigned)p->port);
	len = snprintf(line, sizeof(line), "%s %u %lld\n", p->host, (unsigned)p->port,
		       (long long)time(NULL));
	shim_inside++;
	fd = pipe_open(O_WRONLY | O_APPEND | O_CREAT);
	shim_inside--;
	if (fd < 0)
		return;
	/* One short write with O_APPEND: lines from several processes never mix. */
	if (write(fd, line, (size_t)len) != len)
		LOG_DEBUG("could not remember the proxy in the pipeline file: %s", strerror(errno));
	close(fd);
}

/* Which proxies take a pipelined SOCKS5 handshake (greeting, authentication and
 * request in one write: one round trip per hop instead of two or three). socksifyd
 * and Dante do; microsocks answers the greeting and then waits for the request it
 * already swallowed. With pipeline = auto every proxy is tried pipelined; one that
 * seems to stall (dial_pipeline_stall) is asked again step by step on a fresh
 * connection. If that answer comes quickly, it was a stall: the proxy is written down
 * in a small per-user file, so the user's other processes (the whole process tree,
 * whatever its environment) pay that slow connection no more than once a day. If it
 * is as slow, the proxy is slow, not stalling (Tor building a circuit): it keeps
 * pipelining and loses the stall check, noted in the same file. The file:
 *   /tmp/.socksify-UID-nopipe    lines "HOST PORT UNIXTIME stall|slow"
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

enum pipe_state {
	PIPE_BAD,     /* stalls on pipelining: ask step by step (from the file, or seen) */
	PIPE_SUSPECT, /* stalled once in this process; the step-by-step retry will tell */
	PIPE_SLOW,    /* the retry was as slow: a slow proxy, not a stall; no stall check */
};

struct pipe_entry {
	char host[SOCKS_NAME_MAX + 1];
	uint16_t port;
	enum pipe_state st;
};

static struct pipe_entry pipe_seen[PIPE_MAX];
static size_t pipe_n;
static bool pipe_loaded;
static pthread_mutex_t pipe_mu = PTHREAD_MUTEX_INITIALIZER;

/* A fork while another thread holds pipe_mu (every tunnelled connect looks its proxy
 * up here) must not leave the child's next connect waiting forever on it. */
void pipe_atfork_child(void)
{
	pthread_mutex_init(&pipe_mu, NULL);
}

unsigned shim_dial_flags(void)
{
	const struct socksify_conf *c = shim_conf();

	return c != NULL && c->pipeline == PIPELINE_OFF ? 0 : DIAL_F_PIPELINE;
}

static void pipe_path(char *buf, size_t cap)
{
	snprintf(buf, cap, "/tmp/.socksify-%u-nopipe", (unsigned)getuid());
}

static struct pipe_entry *pipe_find(const char *host, uint16_t port)
{
	for (size_t i = 0; i < pipe_n; i++)
		if (pipe_seen[i].port == port && strcmp(pipe_seen[i].host, host) == 0)
			return &pipe_seen[i];
	return NULL;
}

/* Sets the proxy's state, in a new entry if it has none. A full table (a file with
 * many proxies' verdicts) gives up its oldest entry that is not a suspect waiting for
 * its retry: the file is read in the order it was written, so the newest verdicts
 * stay, and the proxy this process dials is always noted. */
static void pipe_set(const char *host, uint16_t port, enum pipe_state st)
{
	static size_t evict; /* under pipe_mu: the next slot to give up */
	struct pipe_entry *e = pipe_find(host, port);

	if (e == NULL && pipe_n < PIPE_MAX)
		e = &pipe_seen[pipe_n++];
	for (size_t k = 0; e == NULL && k < PIPE_MAX; k++) {
		size_t i = (evict + k) % PIPE_MAX;
		if (pipe_seen[i].st != PIPE_SUSPECT) {
			e = &pipe_seen[i];
			evict = (i + 1) % PIPE_MAX;
		}
	}
	if (e == NULL)
		return; /* PIPE_MAX suspects at once: this one goes unnoted */
	if (e->port != port || strcmp(e->host, host) != 0) {
		str_copy(e->host, host, sizeof(e->host));
		e->port = port;
	}
	e->st = st;
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

/* Under pipe_mu: the file's live entries into pipe_seen, once per process. */
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
		char kind[8] = "stall";
		if (sscanf(line, "%255s %u %lld %7s", host, &port, &when, kind) >= 3 && port > 0 &&
		    port < 65536 && when + PIPE_TTL > (long long)now && when <= (long long)now + 60)
			pipe_set(host, (uint16_t)port,
				 strcmp(kind, "slow") == 0 ? PIPE_SLOW : PIPE_BAD);
	}
}

/* Under pipe_mu: what is known of p (loading the file first). */
static struct pipe_entry *pipe_of(const struct proxy *p)
{
	pipe_load();
	return pipe_find(p->host, p->port);
}

/* The state of p for a new chain: -1 when nothing is known or pipeline is not auto. */
static int pipe_state_of(const struct socksify_conf *c, const struct proxy *p)
{
	int st = -1;

	if (c->pipeline != PIPELINE_AUTO || p->type != PROXY_SOCKS5)
		return -1;
	pthread_mutex_lock(&pipe_mu);
	struct pipe_entry *e = pipe_of(p);
	if (e != NULL)
		st = (int)e->st;
	pthread_mutex_unlock(&pipe_mu);
	return st;
}

bool pipeline_refused(const struct socksify_conf *c, const struct proxy *p)
{
	int st = pipe_state_of(c, p);
	return st == PIPE_BAD || st == PIPE_SUSPECT;
}

bool pipeline_slow(const struct socksify_conf *c, const struct proxy *p)
{
	return pipe_state_of(c, p) == PIPE_SLOW;
}

void pipeline_suspect(const struct socksify_conf *c, const struct proxy *p, size_t hop)
{
	pthread_mutex_lock(&pipe_mu);
	pipe_of(p);
	pipe_set(p->host, p->port, PIPE_SUSPECT);
	pthread_mutex_unlock(&pipe_mu);
	LOG_DEBUG("hop %zu (%s:%u): no reply to a pipelined request; asking step by step",
		  hop, p->host, (unsigned)p->port);
}

void pipeline_verdict(const struct socksify_conf *c, const struct proxy *p, size_t hop,
		      bool stalled)
{
	char line[SOCKS_NAME_MAX + 48];
	int fd, len;

	pthread_mutex_lock(&pipe_mu);
	struct pipe_entry *e = pipe_of(p);
	if (e == NULL || e->st != PIPE_SUSPECT) {
		pthread_mutex_unlock(&pipe_mu);
		return;
	}
	e->st = stalled ? PIPE_BAD : PIPE_SLOW;
	pthread_mutex_unlock(&pipe_mu);
	if (stalled)
		LOG_INFO("hop %zu (%s:%u) stalls on a pipelined SOCKS5 handshake: asking it step "
			 "by step from now on",
			 hop, p->host, (unsigned)p->port);
	else
		LOG_INFO("hop %zu (%s:%u) is slow to answer, not stalling: pipelining kept", hop,
			 p->host, (unsigned)p->port);
	len = snprintf(line, sizeof(line), "%s %u %lld %s\n", p->host, (unsigned)p->port,
		       (long long)time(NULL), stalled ? "stall" : "slow");
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

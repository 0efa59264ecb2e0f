/* Worker threads for blocking calls. Workers are started lazily up to the limit, so
 * a server that never resolves a name never has a thread; they block signals (the
 * loop reads them from a signalfd) and hand results back through an eventfd. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"

#define POOL_MAX_THREADS 64
/* At exit, how long to wait for workers to finish (a lookup may hang on a dead DNS
 * server); a worker that ends cleanly frees glibc's per-thread resolver state. */
#define POOL_JOIN_MS 1500

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pool_job *todo_head, *todo_tail;
	struct pool_job *done_head, *done_tail;
	unsigned max_threads, nthreads, idle;
	pthread_t tids[POOL_MAX_THREADS];
	bool stopping;
	int efd;
	struct ev_io io;
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .efd = -1 };

static void *pool_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pool.mu);
	for (;;) {
		struct pool_job *job;
		uint64_t one = 1;

		while (!pool.todo_head && !pool.stopping) {
			pool.idle++;
			pthread_cond_wait(&pool.cv, &pool.mu);
			pool.idle--;
		}
		if (pool.stopping)
			break;
		job = pool.todo_head;
		pool.todo_head = job->next;
		if (!pool.todo_head)
			pool.todo_tail = NULL;
		pthread_mutex_unlock(&pool.mu);

		job->work(job);

		pthread_mutex_lock(&pool.mu);
		job->next = NULL;
		if (pool.done_tail)
			pool.done_tail->next = job;
		else
			pool.done_head = job;
		pool.done_tail = job;
		/* An eventfd write cannot fail short of a counter overflow. */
		if (write(pool.efd, &one, sizeof(one)) < 0)
			LOG_WARN("eventfd write: %s", strerror(errno));
	}
	pthread_mutex_unlock(&pool.mu);
	return NULL;
}

static void pool_on_done(struct ev_loop *loop, struct ev_io *io, uint32_t revents)
{
	uint64_t cnt;
	struct pool_job *list;

	(void)loop;
	(void)revents;
	if (read(io->fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		LOG_WARN("eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&pool.mu);
	list = pool.done_head;
	pool.done_head = pool.done_tail = NULL;
	pthread_mutex_unlock(&pool.mu);
	while (list) {
		struct pool_job *next = list->next;

		list->done(list);
		list = next;
	}
}

bool pool_init(struct ev_loop *loop, unsigned threads)
{
	pool.max_threads = threads ? threads : 1;
	if (pool.max_threads > POOL_MAX_THREADS)
		pool.max_threads = POOL_MAX_THREADS;
	pool.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pool.efd < 0)
		return false;
	ev_io_init(&pool.io, pool.efd, pool_on_done);
	return ev_io_set(loop, &pool.io, EPOLLIN) == 0;
}

static bool pool_spawn(void)
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int rc;

	/* Workers inherit a full signal mask: signals belong to the loop's signalfd. A
	 * small stack is plenty for getaddrinfo and crypt. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	rc = pthread_create(&tid, &attr, pool_worker, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		LOG_ERR("cannot start a worker thread: %s", strerror(rc));
		return false;
	}
	pool.tids[pool.nthreads++] = tid;
	return true;
}

bool pool_submit(struct pool_job *job)
{
	bool ok = true;

	job->next = NULL;
	pthread_mutex_lock(&pool.mu);
	if (pool.idle == 0 && pool.nthreads < pool.max_threads)
		ok = pool_spawn() || pool.nthreads > 0;
	if (ok) {
		if (pool.todo_tail)
			pool.todo_tail->next = job;
		else
			pool.todo_head = job;
		pool.todo_tail = job;
		pthread_cond_signal(&pool.cv);
	}
	pthread_mutex_unlock(&pool.mu);
	return ok;
}

/* Tells the workers to exit and waits for them a bounded time; jobs still queued
 * are dropped with the process, and a worker stuck in a lookup is left behind. */
void pool_shutdown(void)
{
	struct timespec deadline;

	pthread_mutex_lock(&pool.mu);
	pool.stopping = true;
	pthread_cond_broadcast(&pool.cv);
	pthread_mutex_unlock(&pool.mu);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += POOL_JOIN_MS / 1000;
	deadline.tv_nsec += (POOL_JOIN_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	for (unsigned i = 0; i < pool.nthreads; i++)
		if (pthread_timedjoin_np(pool.tids[i], NULL, &deadline) != 0)
			pthread_detach(pool.tids[i]);
	pool.nthreads = 0;
	/* Results that came back after the loop stopped: their owners are gone. */
	while (pool.done_head) {
		struct pool_job *j = pool.done_head;

		pool.done_head = j->next;
		j->owner = NULL;
		j->done(j);
	}
	pool.done_tail = NULL;
	if (pool.efd >= 0) {
		close(pool.efd);
		pool.efd = -1;
	}
}

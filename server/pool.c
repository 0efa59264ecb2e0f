/* Worker threads for blocking calls, in lanes (see pool.h). Each lane has its own
 * threads, started lazily up to its limit (a server that never resolves a name
 * never has a resolver thread), and a bounded queue: beyond it a job is refused at
 * once, so a flood costs a refusal, not a backlog. A job whose owner went away is
 * taken off the queue before a worker spends anything on it. Workers block signals
 * (the loop reads them from a signalfd) and hand results back through an eventfd. */
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
/* Queued jobs per lane. A lookup is cheap to hold and bounded by the sessions
 * anyway; a hash check costs up to the slowest configured hash, so the auth queue
 * holds what its threads finish well inside the handshake deadline (32 checks of a
 * 50 ms hash per thread: 1.6 s). */
#define POOL_RESOLVE_QUEUE 1024
#define POOL_AUTH_QUEUE_PER_THREAD 32
/* At exit, how long to wait for workers to finish (a lookup may hang on a dead DNS
 * server); a worker that ends cleanly frees glibc's per-thread resolver state. */
#define POOL_JOIN_MS 1500

enum { JOB_QUEUED = 1, JOB_RUNNING, JOB_DONE };

struct lane {
	const char *name;
	pthread_cond_t cv;
	struct pool_job *head, *tail; /* queued, oldest first */
	unsigned queued, queue_max, running;
	unsigned max_threads, nthreads, idle;
	pthread_t tids[POOL_MAX_THREADS];
	unsigned long long submitted, full, dropped, stale;
};

static struct {
	pthread_mutex_t mu;
	struct lane lanes[POOL_LANES];
	struct pool_job *done_head, *done_tail;
	bool stopping;
	int efd;
	struct ev_io io;
} pool = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.lanes = { [POOL_RESOLVE] = { .name = "resolve", .cv = PTHREAD_COND_INITIALIZER },
		   [POOL_AUTH] = { .name = "auth", .cv = PTHREAD_COND_INITIALIZER } },
	.efd = -1,
};

/* Under pool.mu: takes a queued job off its lane's list. */
static void lane_unlink(struct lane *l, struct pool_job *job)
{
	if (job->prev)
		job->prev->next = job->next;
	else
		l->head = job->next;
	if (job->next)
		job->next->prev = job->prev;
	else
		l->tail = job->prev;
	job->prev = job->next = NULL;
	l->queued--;
}

static void *pool_worker(void *arg)
{
	struct lane *l = arg;

	pthread_mutex_lock(&pool.mu);
	for (;;) {
		struct pool_job *job;
		uint64_t one = 1;

		while (!l->head && !pool.stopping) {
			l->idle++;
			pthread_cond_wait(&l->cv, &pool.mu);
			l->idle--;
		}
		if (pool.stopping)
			break;
		job = l->head;
		lane_unlink(l, job);
		job->state = JOB_RUNNING;
		l->running++;
		pthread_mutex_unlock(&pool.mu);

		job->work(job);

		pthread_mutex_lock(&pool.mu);
		l->running--;
		job->state = JOB_DONE;
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

		/* Only the loop touches owner and the counters read with it. */
		if (!list->owner)
			pool.lanes[list->lane].stale++;
		list->done(list);
		list = next;
	}
}

static unsigned pool_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

bool pool_init(struct ev_loop *loop, unsigned threads)
{
	struct lane *r = &pool.lanes[POOL_RESOLVE], *a = &pool.lanes[POOL_AUTH];
	unsigned cpus = pool_cpus();

	r->max_threads = threads ? threads : 1;
	if (r->max_threads > POOL_MAX_THREADS)
		r->max_threads = POOL_MAX_THREADS;
	/* crypt(3) is pure CPU: more threads than cores only queue in the kernel
	 * instead of here, and one core stays for the loop, relays and lookups. */
	a->max_threads = cpus > 1 ? cpus - 1 : 1;
	if (a->max_threads > r->max_threads)
		a->max_threads = r->max_threads;
	r->queue_max = POOL_RESOLVE_QUEUE;
	a->queue_max = POOL_AUTH_QUEUE_PER_THREAD * a->max_threads;
	pool.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pool.efd < 0)
		return false;
	ev_io_init(&pool.io, pool.efd, pool_on_done);
	return ev_io_set(loop, &pool.io, EPOLLIN) == 0;
}

static bool pool_spawn(struct lane *l)
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
	rc = pthread_create(&tid, &attr, pool_worker, l);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		LOG_ERR("cannot start a %s worker thread: %s", l->name, strerror(rc));
		return false;
	}
	l->tids[l->nthreads++] = tid;
	return true;
}

bool pool_submit(struct pool_job *job, enum pool_lane lane)
{
	struct lane *l = &pool.lanes[lane];
	bool ok = true;

	job->prev = job->next = NULL;
	job->lane = lane;
	pthread_mutex_lock(&pool.mu);
	if (l->queued >= l->queue_max) {
		l->full++;
		ok = false;
	} else if (l->idle == 0 && l->nthreads < l->max_threads) {
		ok = pool_spawn(l) || l->nthreads > 0;
	}
	if (ok) {
		job->prev = l->tail;
		if (l->tail)
			l->tail->next = job;
		else
			l->head = job;
		l->tail = job;
		l->queued++;
		l->submitted++;
		job->state = JOB_QUEUED;
		pthread_cond_signal(&l->cv);
	}
	pthread_mutex_unlock(&pool.mu);
	return ok;
}

void pool_cancel(struct pool_job *job)
{
	bool unrun = false;

	job->owner = NULL;
	pthread_mutex_lock(&pool.mu);
	if (job->state == JOB_QUEUED) {
		lane_unlink(&pool.lanes[job->lane], job);
		pool.lanes[job->lane].dropped++;
		job->state = JOB_DONE;
		unrun = true;
	}
	pthread_mutex_unlock(&pool.mu);
	if (unrun)
		job->done(job); /* owner is NULL: it only frees */
}

unsigned pool_queue_max(enum pool_lane lane)
{
	return pool.lanes[lane].queue_max;
}

void pool_count_refused(enum pool_lane lane)
{
	pthread_mutex_lock(&pool.mu);
	pool.lanes[lane].full++;
	pthread_mutex_unlock(&pool.mu);
}

void pool_log_counters(void)
{
	pthread_mutex_lock(&pool.mu);
	for (unsigned i = 0; i < POOL_LANES; i++) {
		const struct lane *l = &pool.lanes[i];

		LOG_INFO("counters: %s workers threads=%u/%u running=%u queued=%u/%u jobs=%llu "
			 "refused(queue full or client share)=%llu dropped(owner gone, unrun)=%llu "
			 "stale(owner gone, ran)=%llu",
			 l->name, l->nthreads, l->max_threads, l->running, l->queued,
			 l->queue_max, l->submitted, l->full, l->dropped, l->stale);
	}
	pthread_mutex_unlock(&pool.mu);
}

/* Tells the workers to exit and waits for them a bounded time; jobs still queued
 * or finished are handed to their done() with no owner, and a worker stuck in a
 * lookup is left behind. */
void pool_shutdown(void)
{
	struct timespec deadline;
	struct pool_job *j, *list;

	pthread_mutex_lock(&pool.mu);
	pool.stopping = true;
	for (unsigned i = 0; i < POOL_LANES; i++)
		pthread_cond_broadcast(&pool.lanes[i].cv);
	pthread_mutex_unlock(&pool.mu);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += POOL_JOIN_MS / 1000;
	deadline.tv_nsec += (POOL_JOIN_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	for (unsigned i = 0; i < POOL_LANES; i++) {
		struct lane *l = &pool.lanes[i];

		for (unsigned k = 0; k < l->nthreads; k++)
			if (pthread_timedjoin_np(l->tids[k], NULL, &deadline) != 0)
				pthread_detach(l->tids[k]);
		l->nthreads = 0;
	}
	/* Jobs never run, and results that came back after the loop stopped: their
	 * owners are gone. A worker left behind only ever appends to the done list. */
	pthread_mutex_lock(&pool.mu);
	for (unsigned i = 0; i < POOL_LANES; i++) {
		struct lane *l = &pool.lanes[i];

		if (l->tail) {
			l->tail->next = pool.done_head;
			pool.done_head = l->head;
		}
		l->head = l->tail = NULL;
		l->queued = 0;
	}
	list = pool.done_head;
	pool.done_head = pool.done_tail = NULL;
	pthread_mutex_unlock(&pool.mu);
	while ((j = list) != NULL) {
		list = j->next;
		j->owner = NULL;
		j->done(j);
	}
	if (pool.efd >= 0) {
		close(pool.efd);
		pool.efd = -1;
	}
}

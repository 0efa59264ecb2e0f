/* The event loop core: one epoll set, level-triggered (backpressure is expressed by
 * changing the watched set, which reads more plainly than edge-triggered draining),
 * a binary heap of timers, and a list of frees deferred to the end of each batch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"

#define EV_BATCH 256

void ev_now_update(struct ev_loop *loop)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	loop->now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t ev_now(struct ev_loop *loop)
{
	return loop->now;
}

struct ev_loop *ev_new(void)
{
	struct ev_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	ev_now_update(loop);
	return loop;
}

static void ev_run_deferred(struct ev_loop *loop)
{
	for (size_t i = 0; i < loop->ndeferred; i++)
		free(loop->deferred[i]);
	loop->ndeferred = 0;
}

void ev_free(struct ev_loop *loop)
{
	if (!loop)
		return;
	ev_run_deferred(loop);
	close(loop->epfd);
	free(loop->heap);
	free(loop->deferred);
	free(loop);
}

void ev_break(struct ev_loop *loop)
{
	loop->stop = true;
}

void ev_io_init(struct ev_io *io, int fd, ev_io_cb cb)
{
	io->fd = fd;
	io->events = 0;
	io->added = false;
	io->cb = cb;
}

int ev_io_set(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	struct epoll_event ee = { .events = events, .data.ptr = io };

	if (io->fd < 0)
		return -1;
	if (io->added && io->events == events)
		return 0;
	if (events == 0) {
		/* Out of the set rather than registered with no events: epoll reports
		 * EPOLLHUP/EPOLLERR even then, which would spin a level-triggered loop
		 * on a side we deliberately do not read (backpressure). */
		if (io->added)
			epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
		io->added = false;
		io->events = 0;
		return 0;
	}
	if (epoll_ctl(loop->epfd, io->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, io->fd, &ee) < 0) {
		LOG_WARN("epoll_ctl fd %d: %s", io->fd, strerror(errno));
		return -1;
	}
	io->added = true;
	io->events = events;
	return 0;
}

void ev_io_stop(struct ev_loop *loop, struct ev_io *io)
{
	if (io->added && io->fd >= 0)
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->added = false;
	io->events = 0;
	io->fd = -1;
}

void ev_io_close(struct ev_loop *loop, struct ev_io *io)
{
	(void)loop;
	if (io->fd >= 0)
		close(io->fd);
	io->added = false;
	io->events = 0;
	io->fd = -1;
}

int ev_io_move(struct ev_loop *loop, struct ev_io *from, struct ev_io *to, uint32_t events)
{
	to->fd = from->fd;
	to->added = from->added;
	to->events = from->events;
	from->fd = -1;
	from->added = false;
	from->events = 0;
	if (!to->added)
		return ev_io_set(loop, to, events);
	/* MOD even with the same events: the data pointer must name the new owner. */
	struct epoll_event ee = { .events = events, .data.ptr = to };

	if (events == 0) {
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, to->fd, NULL);
		to->added = false;
		to->events = 0;
		return 0;
	}
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, to->fd, &ee) < 0)
		return -1;
	to->events = events;
	return 0;
}

/* ---- timers: a 1-based binary min-heap; t->idx is the slot + 1 ---- */

static void heap_place(struct ev_loop *loop, size_t i, struct ev_timer *t)
{
	loop->heap[i] = t;
	t->idx = i + 1;
}

static void heap_up(struct ev_loop *loop, size_t i)
{
	struct ev_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (loop->heap[parent]->when <= t->when)
			break;
		heap_place(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_place(loop, i, t);
}

static void heap_down(struct ev_loop *loop, size_t i)
{
	struct ev_timer *t = loop->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= loop->nheap)
			break;
		if (c + 1 < loop->nheap && loop->heap[c + 1]->when < loop->heap[c]->when)
			c++;
		if (loop->heap[c]->when >= t->when)
			break;
		heap_place(loop, i, loop->heap[c]);
		i = c;
	}
	heap_place(loop, i, t);
}

void ev_timer_init(struct ev_timer *t, ev_timer_cb cb)
{
	t->when = 0;
	t->idx = 0;
	t->cb = cb;
}

void ev_timer_stop(struct ev_loop *loop, struct ev_timer *t)
{
	size_t i;
	struct ev_timer *last;

	if (!t->idx)
		return;
	i = t->idx - 1;
	t->idx = 0;
	last = loop->heap[--loop->nheap];
	if (i == loop->nheap)
		return;
	heap_place(loop, i, last);
	heap_up(loop, i);
	heap_down(loop, last->idx - 1);
}

void ev_timer_at(struct ev_loop *loop, struct ev_timer *t, uint64_t when_ms)
{
	if (t->idx) {
		size_t i = t->idx - 1;

		t->when = when_ms;
		heap_up(loop, i);
		heap_down(loop, t->idx - 1);
		return;
	}
	if (loop->nheap == loop->capheap) {
		size_t cap = loop->capheap ? loop->capheap * 2 : 256;
		struct ev_timer **h = realloc(loop->heap, cap * sizeof(*h));

		if (!h) {
			/* Without memory the timer cannot be kept; firing it at once is the
			 * safe failure (timers here end or re-check sessions). */
			t->cb(loop, t);
			return;
		}
		loop->heap = h;
		loop->capheap = cap;
	}
	t->when = when_ms;
	heap_place(loop, loop->nheap++, t);
	heap_up(loop, loop->nheap - 1);
}

void ev_timer_start(struct ev_loop *loop, struct ev_timer *t, uint64_t after_ms)
{
	ev_timer_at(loop, t, loop->now + after_ms);
}

void ev_defer_free(struct ev_loop *loop, void *p)
{
	if (!p)
		return;
	if (loop->ndeferred == loop->capdeferred) {
		size_t cap = loop->capdeferred ? loop->capdeferred * 2 : 64;
		void **d = realloc(loop->deferred, cap * sizeof(*d));

		if (!d) {
			/* Leaking one object beats a use-after-free later in the batch. */
			LOG_ERR("out of memory deferring a free");
			return;
		}
		loop->deferred = d;
		loop->capdeferred = cap;
	}
	loop->deferred[loop->ndeferred++] = p;
}

static int ev_next_timeout(struct ev_loop *loop)
{
	uint64_t when;

	if (!loop->nheap)
		return -1;
	when = loop->heap[0]->when;
	if (when <= loop->now)
		return 0;
	return when - loop->now > 60000 ? 60000 : (int)(when - loop->now);
}

void ev_fire_timers(struct ev_loop *loop)
{
	/* Bounded so a timer that re-arms itself at "now" cannot starve I/O. */
	for (int n = 0; n < 4096 && loop->nheap && loop->heap[0]->when <= loop->now; n++) {
		struct ev_timer *t = loop->heap[0];

		ev_timer_stop(loop, t);
		t->cb(loop, t);
		if (loop->stop)
			break;
	}
}

int ev_run_once(struct ev_loop *loop, int max_wait_ms)
{
	struct epoll_event evs[EV_BATCH];
	int timeout = ev_next_timeout(loop), n;

	if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms))
		timeout = max_wait_ms;
	n = epoll_wait(loop->epfd, evs, EV_BATCH, timeout);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		LOG_ERR("epoll_wait: %s", strerror(errno));
		return -1;
	}
	ev_now_update(loop);
	for (int i = 0; i < n && !loop->stop; i++) {
		struct ev_io *io = evs[i].data.ptr;

		/* An earlier handler of this batch may have stopped or silenced
		 * this one. */
		if (io->fd < 0 || !io->added)
			continue;
		io->cb(loop, io, evs[i].events);
	}
	ev_run_deferred(loop);
	if (!loop->stop)
		ev_fire_timers(loop);
	ev_run_deferred(loop);
	return n;
}

int ev_run(struct ev_loop *loop)
{
	loop->stop = false;
	while (!loop->stop)
		if (ev_run_once(loop, -1) < 0)
			return -1;
	return 0;
}

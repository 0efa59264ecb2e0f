/* A tiny epoll event loop: file handlers keyed by an embedded struct ev_io,
 * millisecond timers in a binary heap, and deferred frees so that an object closed
 * while handling one event is never touched by a later event of the same batch. */
#ifndef SOCKSIFYD_EV_H
#define SOCKSIFYD_EV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct ev_io;
struct ev_timer;

typedef void (*ev_io_cb)(struct ev_loop *loop, struct ev_io *io, uint32_t revents);
typedef void (*ev_timer_cb)(struct ev_loop *loop, struct ev_timer *t);

struct ev_io {
	int fd;          /* -1 once removed: later events of the batch are skipped */
	uint32_t events; /* what epoll currently watches (EPOLLIN/EPOLLOUT) */
	bool added;
	ev_io_cb cb;
};

struct ev_timer {
	uint64_t when;   /* monotonic ms */
	size_t idx;      /* heap slot + 1; 0 when not armed */
	ev_timer_cb cb;
};

/* In the header so the unit test can check the heap (it links libserver.a). */
struct ev_loop {
	int epfd;
	bool stop;
	uint64_t now;
	struct ev_timer **heap;
	size_t nheap, capheap;
	void **deferred;
	size_t ndeferred, capdeferred;
};

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct ev_loop *ev_new(void);
void ev_free(struct ev_loop *loop);
/* Runs until ev_break(); returns 0, or -1 if epoll_wait failed. */
int ev_run(struct ev_loop *loop);
void ev_break(struct ev_loop *loop);
/* One iteration: waits at most max_wait_ms (-1: until the next timer or event),
 * dispatches, fires due timers. Returns the number of fd events, -1 on error. */
int ev_run_once(struct ev_loop *loop, int max_wait_ms);
/* Runs every timer due at loop->now (ev_run_once calls it; tests too). */
void ev_fire_timers(struct ev_loop *loop);
/* Cached monotonic time in ms, refreshed once per loop iteration. */
uint64_t ev_now(struct ev_loop *loop);
void ev_now_update(struct ev_loop *loop);

void ev_io_init(struct ev_io *io, int fd, ev_io_cb cb);
/* Sets the watched events; adds on first use, removes from the set on 0 (so not
 * even EPOLLHUP/EPOLLERR are reported), and calls epoll_ctl only on a change. */
int ev_io_set(struct ev_loop *loop, struct ev_io *io, uint32_t events);
/* Unregisters; the caller still owns (and closes) the fd. */
void ev_io_stop(struct ev_loop *loop, struct ev_io *io);
/* Unregisters and closes the fd. No EPOLL_CTL_DEL: close() drops the fd from the
 * set, since socksifyd never dups or forks its sockets. */
void ev_io_close(struct ev_loop *loop, struct ev_io *io);
/* Hands a registered fd over to another ev_io (one epoll_ctl, which also sets the
 * new events); from is left without an fd. */
int ev_io_move(struct ev_loop *loop, struct ev_io *from, struct ev_io *to, uint32_t events);

void ev_timer_init(struct ev_timer *t, ev_timer_cb cb);
void ev_timer_start(struct ev_loop *loop, struct ev_timer *t, uint64_t after_ms);
void ev_timer_at(struct ev_loop *loop, struct ev_timer *t, uint64_t when_ms);
void ev_timer_stop(struct ev_loop *loop, struct ev_timer *t);
static inline bool ev_timer_armed(const struct ev_timer *t) { return t->idx != 0; }

/* free(p) after the current batch of events has been dispatched. */
void ev_defer_free(struct ev_loop *loop, void *p);

#endif

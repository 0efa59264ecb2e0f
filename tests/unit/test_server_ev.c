/* Unit tests for socksifyd's event-loop core (server/ev.c, compiled in): the timer
 * heap keeps its order and back-indexes through random arm/re-arm/stop sequences,
 * timers fire in deadline order, and a silenced fd is out of the epoll set. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ev.h"
#include "tap.h"

#define NT 500

static struct ev_timer timers[NT];
static int fired[NT], nfired;

static void on_fire(struct ev_loop *loop, struct ev_timer *t)
{
	(void)loop;
	fired[nfired++] = (int)(t - timers);
}

static int heap_ok(const struct ev_loop *loop)
{
	for (size_t i = 0; i < loop->nheap; i++) {
		if (loop->heap[i]->idx != i + 1)
			return 0;
		if (i && loop->heap[(i - 1) / 2]->when > loop->heap[i]->when)
			return 0;
	}
	return 1;
}

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

int main(void)
{
	struct ev_loop *loop = ev_new();
	int bad = 0, armed = 0, sv[2];
	struct ev_io io;

	ok(loop != NULL, "ev_new");
	for (int i = 0; i < NT; i++)
		ev_timer_init(&timers[i], on_fire);
	for (int step = 0; step < 20000; step++) {
		struct ev_timer *t = &timers[rnd() % NT];

		switch (rnd() % 3) {
		case 0:
		case 1:
			ev_timer_at(loop, t, 1000 + rnd() % 100000);
			break;
		case 2:
			ev_timer_stop(loop, t);
			break;
		}
		if (!heap_ok(loop))
			bad++;
	}
	ok(bad == 0, "heap order and indexes hold through 20000 random operations (%d bad)", bad);
	for (int i = 0; i < NT; i++)
		armed += ev_timer_armed(&timers[i]);
	is_int(loop->nheap, armed, "every armed timer is in the heap once");

	/* Fire everything: deadlines must come out in order. */
	loop->now = UINT64_MAX - 1;
	ev_fire_timers(loop);
	is_int(nfired, armed, "all armed timers fired");
	bad = 0;
	for (int i = 1; i < nfired; i++)
		if (timers[fired[i - 1]].when > timers[fired[i]].when)
			bad++;
	ok(bad == 0, "fired in deadline order");
	is_int(loop->nheap, 0, "heap empty afterwards");

	/* A silenced fd leaves the set: epoll_ctl MOD on it must fail with ENOENT. */
	ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	ev_io_init(&io, sv[0], NULL);
	ok(ev_io_set(loop, &io, EPOLLIN) == 0 && io.added, "registered with EPOLLIN");
	ok(ev_io_set(loop, &io, 0) == 0 && !io.added, "events 0 takes it out of the set");
	{
		struct epoll_event ee = { .events = EPOLLIN };

		ok(epoll_ctl(loop->epfd, EPOLL_CTL_MOD, sv[0], &ee) < 0 && errno == ENOENT,
		   "the kernel agrees it is not registered");
	}
	ok(ev_io_set(loop, &io, EPOLLOUT) == 0 && io.added && io.events == EPOLLOUT,
	   "re-added on demand");
	ev_io_close(loop, &io);
	ok(io.fd == -1 && !io.added, "ev_io_close forgets the fd");
	close(sv[1]);
	ev_free(loop);
	return tap_done();
}

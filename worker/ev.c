/*
 * epoll + binary min-heap of timers. Timers are "lazy": pushing a deadline
 * later (every request re-arms its connection's timeout) only updates the
 * deadline; the heap entry is re-queued when it surfaces. That keeps the
 * common re-arm O(1) and the heap small.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"
#include "mtd.h"

#define EV_BATCH	256

static int		  epfd = -1;
static int		  running;
static struct ev_timer	**heap;
static int		  heap_len, heap_cap;
static void		**graveyard;
static int		  ngrave, grave_cap;
static uint64_t		  now_us;

static void	bury(void);
static time_t		  now_wall;

void
ev_update_time(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_us = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	now_wall = time(NULL);
}

uint64_t
ev_now_ms(void)
{
	return now_us / 1000;
}

uint64_t
ev_now_us(void)
{
	return now_us;
}

time_t
ev_wall(void)
{
	return now_wall;
}

int
ev_init(void)
{
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	ev_update_time();
	return 0;
}

void
ev_free(void)
{
	if (epfd != -1)
		close(epfd);
	epfd = -1;
	free(heap);
	heap = NULL;
	bury();
	free(graveyard);
	graveyard = NULL;
	grave_cap = 0;
	heap_len = heap_cap = 0;
}

static int
ev_ctl(int op, struct ev_io *io, uint32_t events)
{
	struct epoll_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = io;
	return epoll_ctl(epfd, op, io->fd, &ev);
}

int
ev_add(struct ev_io *io, uint32_t events)
{
	return ev_ctl(EPOLL_CTL_ADD, io, events);
}

int
ev_mod(struct ev_io *io, uint32_t events)
{
	return ev_ctl(EPOLL_CTL_MOD, io, events);
}

int
ev_del(struct ev_io *io)
{
	return ev_ctl(EPOLL_CTL_DEL, io, 0);
}

/* This process forked: children may share our open files for a while. */
static int	 forked;

void
ev_fork_note(void)
{
	forked = 1;
}

int
ev_close(struct ev_io *io)
{
	if (forked)
		(void)ev_del(io);
	return close(io->fd);
}

/* Heap helpers: heap[0] has the smallest <when>. */
static void
heap_place(int i, struct ev_timer *t)
{
	heap[i] = t;
	t->idx = i;
}

static void
heap_up(int i)
{
	struct ev_timer	*t = heap[i];
	int		 p;

	while (i > 0) {
		p = (i - 1) / 2;
		if (heap[p]->when <= t->when)
			break;
		heap_place(i, heap[p]);
		i = p;
	}
	heap_place(i, t);
}

static void
heap_down(int i)
{
	struct ev_timer	*t = heap[i];
	int		 c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= heap_len)
			break;
		if (c + 1 < heap_len && heap[c + 1]->when < heap[c]->when)
			c++;
		if (t->when <= heap[c]->when)
			break;
		heap_place(i, heap[c]);
		i = c;
	}
	heap_place(i, t);
}

static void
heap_remove(struct ev_timer *t)
{
	int	 i = t->idx;

	t->idx = -1;
	if (--heap_len == i)
		return;
	heap_place(i, heap[heap_len]);
	heap_down(i);
	heap_up(heap[i]->idx);
}

static void
heap_push(struct ev_timer *t)
{
	struct ev_timer	**n;
	int		  cap;

	if (heap_len == heap_cap) {
		cap = heap_cap ? heap_cap * 2 : 1024;
		if ((n = reallocarray(heap, (size_t)cap, sizeof(*n))) == NULL)
			fatal("timer heap");
		heap = n;
		heap_cap = cap;
	}
	heap_place(heap_len, t);
	heap_len++;
	heap_up(t->idx);
}

void
ev_timer_init(struct ev_timer *t, ev_timer_cb *cb)
{
	t->deadline = 0;
	t->when = 0;
	t->idx = -1;
	t->cb = cb;
}

void
ev_timer_set(struct ev_timer *t, uint64_t ms)
{
	t->deadline = ev_now_ms() + ms;
	if (t->idx != -1 && t->when <= t->deadline)
		return;		/* lazy: re-queued when it surfaces */
	if (t->idx != -1)
		heap_remove(t);
	t->when = t->deadline;
	heap_push(t);
}

void
ev_timer_del(struct ev_timer *t)
{
	t->deadline = 0;
	if (t->idx != -1)
		heap_remove(t);
}

/* Fire due timers; returns ms until the next one, -1 if none. */
static int
run_timers(void)
{
	struct ev_timer	*t;
	uint64_t	 now = ev_now_ms();

	while (heap_len > 0) {
		t = heap[0];
		if (t->when > now)
			return (int)MTD_MIN(t->when - now, 60000u);
		heap_remove(t);
		if (t->deadline > now) {
			t->when = t->deadline;
			heap_push(t);
			continue;
		}
		t->deadline = 0;
		t->cb(t);
	}
	return -1;
}

static void
ev_io_dead(struct ev_io *io, uint32_t events)
{
}

void
ev_io_kill(struct ev_io *io)
{
	io->cb = ev_io_dead;
	io->fd = -1;
}

void
ev_free_later(void *p)
{
	void	**n;
	int	  cap;

	if (ngrave == grave_cap) {
		cap = grave_cap ? grave_cap * 2 : 64;
		if ((n = reallocarray(graveyard, (size_t)cap,
		    sizeof(*n))) == NULL) {
			/* Leak rather than risk a use after free. */
			log_warnx("ev: cannot defer a free");
			return;
		}
		graveyard = n;
		grave_cap = cap;
	}
	graveyard[ngrave++] = p;
}

static void
bury(void)
{
	while (ngrave > 0)
		free(graveyard[--ngrave]);
}

void
ev_run(void)
{
	struct epoll_event	 evs[EV_BATCH];
	struct ev_io		*io;
	int			 n, i, timeout;

	running = 1;
	while (running) {
		ev_update_time();
		timeout = run_timers();
		if (!running)
			break;
		n = epoll_wait(epfd, evs, EV_BATCH, timeout);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait");
		}
		ev_update_time();
		for (i = 0; i < n; i++) {
			io = evs[i].data.ptr;
			io->cb(io, evs[i].events);
		}
		bury();
	}
}

void
ev_break(void)
{
	running = 0;
}

/*
 * The worker's event loop: epoll in edge-triggered mode plus a timer heap.
 * One loop per process, so the API has no loop handle. Callbacks get the
 * ev_io or ev_timer they were registered with; embed those in your own
 * struct and recover it with container_of-style casts (ev_io first).
 */
#ifndef EV_H
#define EV_H

#include <stdint.h>
#include <sys/epoll.h>
#include <time.h>

struct ev_io;
struct ev_timer;

typedef void ev_io_cb(struct ev_io *, uint32_t events);
typedef void ev_timer_cb(struct ev_timer *);

struct ev_io {
	int		 fd;
	ev_io_cb	*cb;
};

struct ev_timer {
	uint64_t	 deadline;	/* ms, monotonic; 0 = not armed */
	uint64_t	 when;		/* heap key: <= deadline */
	int		 idx;		/* heap index, -1 when not queued */
	ev_timer_cb	*cb;
};

int		 ev_init(void);
void		 ev_free(void);
/* Register <io> for <events> (EPOLLIN, EPOLLOUT, EPOLLET...). 0 or -1. */
int		 ev_add(struct ev_io *io, uint32_t events);
int		 ev_mod(struct ev_io *io, uint32_t events);
int		 ev_del(struct ev_io *io);
/*
 * Close <io>'s descriptor. A plain close() leaves epoll only when no other
 * descriptor refers to the same open file: a child forked by this process
 * holds copies of all of ours until it closes them or execs, and events
 * would then still come, for an object already freed. Once
 * ev_fork_note() was called, ev_close() leaves epoll explicitly first.
 */
int		 ev_close(struct ev_io *io);
void		 ev_fork_note(void);

void		 ev_timer_init(struct ev_timer *t, ev_timer_cb *cb);
/* Arm <t> to fire <ms> from now (re-arming moves it). */
void		 ev_timer_set(struct ev_timer *t, uint64_t ms);
void		 ev_timer_del(struct ev_timer *t);

/* Cached clocks, refreshed once per loop iteration. */
uint64_t	 ev_now_ms(void);
uint64_t	 ev_now_us(void);
time_t		 ev_wall(void);
void		 ev_update_time(void);

/*
 * Free <p> after the current batch of events: a callback may close an
 * object whose own event is still waiting later in the same batch. Call
 * ev_io_kill() on its ev_io first so that event is ignored.
 */
void		 ev_free_later(void *p);
void		 ev_io_kill(struct ev_io *io);

/* Run until ev_break(). */
void		 ev_run(void);
void		 ev_break(void);

#endif /* EV_H */

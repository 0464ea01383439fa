/*
 * FastCGI connections of a worker under php_keepalive: see fcgipool.h.
 * An entry that leaves the idle stack may still have an event waiting
 * later in the current batch: its ev_io is killed and the entry freed
 * after the batch.
 */
#include <sys/socket.h>
#include <sys/epoll.h>

#include <errno.h>
#include <stdlib.h>

#include "conf.h"
#include "ev.h"
#include "fcgipool.h"
#include "worker.h"

#define FCGI_IDLE_MS	1000	/* an idle connection is closed after */

struct fcgi_idle {
	struct ev_io		 io;		/* first: the loop hands it back */
	struct fcgi_idle	*prev, *next;	/* newest at the head */
	uint64_t		 since;		/* ev_now_ms() it went idle */
};

static struct fcgi_idle		*head, *tail;
static int			 nidle;
static int			 nopen;		/* idle and in use */
static struct fcgi_waiter	*wfirst, *wlast;
static struct ev_timer		 expire_timer;
static int			 expire_init;

static void
idle_unlink(struct fcgi_idle *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		tail = e->prev;
	e->prev = e->next = NULL;
	nidle--;
}

/* Out of the stack for good: the descriptor is closed or handed on. */
static void
idle_forget(struct fcgi_idle *e)
{
	idle_unlink(e);
	ev_io_kill(&e->io);
	ev_free_later(e);
}

static void
idle_close(struct fcgi_idle *e)
{
	(void)ev_close(&e->io);
	idle_forget(e);
	fcgi_pool_closed();
}

/*
 * The server wrote or closed while nothing was asked: it gave up on the
 * connection (a child that exits, a reload), or broke the protocol.
 * Nothing to read is a spurious edge.
 */
static void
idle_event(struct ev_io *io, uint32_t events)
{
	char	 b;

	if (!(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
	    recv(io->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		return;
	idle_close((struct fcgi_idle *)io);
}

/*
 * Oldest first, each one when its second is up. An idle connection holds
 * a PHP-FPM child that another worker (or a script past php_timeout
 * still running) may leave the others short of.
 */
static void
idle_expire(struct ev_timer *t)
{
	uint64_t	 now = ev_now_ms();

	while (tail != NULL && now - tail->since >= FCGI_IDLE_MS)
		idle_close(tail);
	if (tail != NULL)
		ev_timer_set(t, FCGI_IDLE_MS - (now - tail->since));
}

static void
idle_expire_arm(void)
{
	if (!expire_init) {
		ev_timer_init(&expire_timer, idle_expire);
		expire_init = 1;
	}
	if (expire_timer.deadline == 0)
		ev_timer_set(&expire_timer, FCGI_IDLE_MS);
}

static struct fcgi_waiter *
waiter_pop(void)
{
	struct fcgi_waiter	*w = wfirst;

	if (w != NULL)
		fcgi_pool_unwait(w);
	return w;
}

int
fcgi_pool_take(struct ev_io *to, uint32_t events)
{
	struct fcgi_idle	*e;

	while ((e = head) != NULL) {
		to->fd = e->io.fd;
		if (ev_mod(to, events) == 0) {
			idle_forget(e);
			return 0;
		}
		to->fd = -1;
		idle_close(e);
	}
	return -1;
}

int
fcgi_pool_room(void)
{
	return nopen < wconf->php_keepalive;
}

void
fcgi_pool_opened(void)
{
	nopen++;
}

void
fcgi_pool_wait(struct fcgi_waiter *w)
{
	w->next = NULL;
	w->prev = wlast;
	if (wlast != NULL)
		wlast->next = w;
	else
		wfirst = w;
	wlast = w;
}

void
fcgi_pool_unwait(struct fcgi_waiter *w)
{
	if (w->prev == NULL && wfirst != w)
		return;		/* not queued */
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		wfirst = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	else
		wlast = w->prev;
	w->prev = w->next = NULL;
}

/* Hand <from>'s connection to the oldest waiting request. 0 or -1. */
static int
handover(struct ev_io *from)
{
	struct fcgi_waiter	*w = waiter_pop();

	w->io->fd = from->fd;
	if (ev_mod(w->io, w->events) == -1) {
		/* Its turn comes again when the caller closes this one. */
		w->io->fd = -1;
		w->next = wfirst;
		if (wfirst != NULL)
			wfirst->prev = w;
		else
			wlast = w;
		wfirst = w;
		return -1;
	}
	from->fd = -1;
	w->ready(w, 0);
	return 0;
}

int
fcgi_pool_put(struct ev_io *from)
{
	struct fcgi_idle	*e;

	if (wfirst != NULL)
		return handover(from);
	if (worker_draining)
		return -1;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	e->io.fd = from->fd;
	e->io.cb = idle_event;
	if (ev_mod(&e->io, EPOLLIN | EPOLLRDHUP | EPOLLET) == -1) {
		free(e);
		return -1;
	}
	e->since = ev_now_ms();
	e->next = head;
	if (head != NULL)
		head->prev = e;
	else
		tail = e;
	head = e;
	nidle++;
	from->fd = -1;
	idle_expire_arm();
	return 0;
}

void
fcgi_pool_closed(void)
{
	struct fcgi_waiter	*w;

	nopen--;
	if (fcgi_pool_room() && (w = waiter_pop()) != NULL) {
		nopen++;	/* its slot */
		w->ready(w, 1);
	}
}

void
fcgi_pool_flush(void)
{
	while (head != NULL)
		idle_close(head);
}

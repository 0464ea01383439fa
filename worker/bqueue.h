/*
 * backend_max_conns: a worker's cap on the requests it has in flight to
 * each backend, with a queue in order for the requests beyond (HAProxy's
 * server maxconn and queue; nginx's max_conns, which has no queue).
 *
 * A request holds a backend's slot from the moment it may use a
 * connection to it until it gives that connection back; one that finds
 * every slot taken waits here, and the slot given back goes straight to
 * the oldest waiting one, so a newcomer never overtakes it. With the cap
 * at 0 every take succeeds and nothing is counted.
 *
 * Why a cap helps a backend that is not overloaded: each request in
 * flight costs a socket at both ends, and at a thousand clients the
 * kernel's per-socket work (cache misses over thousands of sockets, a
 * wakeup per connection) costs more than the request. A few busy
 * connections carry the same load with less of it.
 */
#ifndef BQUEUE_H
#define BQUEUE_H

#include <stdint.h>

struct bq_waiter {
	struct bq_waiter	*prev, *next;
	int			 backend;	/* queued for; -1 when not */
};

/* The cap, per backend (0: none), set when the worker starts. */
void		 bqueue_init(int max);

/* A waiter that waits for nothing. */
void		 bqueue_waiter_init(struct bq_waiter *w);

/*
 * Take a slot of <backend>: 1 when taken, 0 when <w> was put in its
 * queue (the slot comes later, from bqueue_release()).
 */
int		 bqueue_take(int backend, struct bq_waiter *w);

/* Leave the queue (safe when not in it). */
void		 bqueue_cancel(struct bq_waiter *w);

/*
 * Give a slot of <backend> back. Returns the waiter that now holds it,
 * out of the queue, or NULL when none was waiting and the slot is free.
 */
struct bq_waiter *bqueue_release(int backend);

/* Slots of <backend> held, and requests waiting for one (tests). */
int		 bqueue_held(int backend);
int		 bqueue_waiting(int backend);

#endif /* BQUEUE_H */

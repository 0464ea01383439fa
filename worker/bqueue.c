/*
 * A worker's per-backend request slots and their queues: see bqueue.h.
 * One worker, one thread: no locks.
 */
#include <stddef.h>

#include "bqueue.h"
#include "mtd.h"

struct bq_backend {
	int			 held;
	struct bq_waiter	*head, *tail;
};

static struct bq_backend	 bq[MTD_MAX_BACKENDS];
static int			 bq_max;

void
bqueue_init(int max)
{
	bq_max = max > 0 ? max : 0;
}

void
bqueue_waiter_init(struct bq_waiter *w)
{
	w->prev = w->next = NULL;
	w->backend = -1;
}

static int
bq_valid(int backend)
{
	return backend >= 0 && backend < MTD_MAX_BACKENDS;
}

int
bqueue_take(int backend, struct bq_waiter *w)
{
	struct bq_backend	*b;

	if (bq_max == 0 || !bq_valid(backend))
		return 1;
	b = &bq[backend];
	if (b->held < bq_max && b->head == NULL) {
		b->held++;
		return 1;
	}
	w->backend = backend;
	w->next = NULL;
	w->prev = b->tail;
	if (b->tail != NULL)
		b->tail->next = w;
	else
		b->head = w;
	b->tail = w;
	return 0;
}

void
bqueue_cancel(struct bq_waiter *w)
{
	struct bq_backend	*b;

	if (!bq_valid(w->backend))
		return;
	b = &bq[w->backend];
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		b->head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	else
		b->tail = w->prev;
	bqueue_waiter_init(w);
}

struct bq_waiter *
bqueue_release(int backend)
{
	struct bq_backend	*b;
	struct bq_waiter	*w;

	if (!bq_valid(backend))
		return NULL;
	b = &bq[backend];
	/* No cap: bqueue_take() counted nothing. */
	if (b->held == 0)
		return NULL;
	if ((w = b->head) != NULL) {
		bqueue_cancel(w);
		return w;	/* the slot passes on: held stays */
	}
	b->held--;
	return NULL;
}

int
bqueue_held(int backend)
{
	return bq_valid(backend) ? bq[backend].held : 0;
}

int
bqueue_waiting(int backend)
{
	const struct bq_waiter	*w;
	int			 n = 0;

	if (bq_valid(backend))
		for (w = bq[backend].head; w != NULL; w = w->next)
			n++;
	return n;
}

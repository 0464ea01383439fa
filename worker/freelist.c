/*
 * Free lists of fixed-size buffers that give their surplus back: see
 * freelist.h. One worker, one thread: no locks.
 */
#include <sys/mman.h>

#include <stddef.h>

#include "ev.h"
#include "freelist.h"

static void	freelist_tick(struct ev_timer *);

void
freelist_init(struct freelist *fl, size_t size, int max, int keep)
{
	ev_timer_init(&fl->timer, freelist_tick);
	fl->head = NULL;
	fl->size = size < sizeof(void *) ? sizeof(void *) : size;
	fl->n = fl->low = 0;
	fl->max = max;
	fl->keep = keep;
}

void *
freelist_get(struct freelist *fl)
{
	void	*p;

	if ((p = fl->head) != NULL) {
		fl->head = *(void **)p;
		if (--fl->n < fl->low)
			fl->low = fl->n;
		return p;
	}
	p = mmap(NULL, fl->size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void
freelist_put(struct freelist *fl, void *p)
{
	if (fl->n >= fl->max) {
		munmap(p, fl->size);
		return;
	}
	*(void **)p = fl->head;
	fl->head = p;
	fl->n++;
	if (fl->n > fl->keep && fl->timer.deadline == 0) {
		/* A new period: what is on the list now may be surplus. */
		fl->low = fl->n;
		ev_timer_set(&fl->timer, FREELIST_PERIOD_MS);
	}
}

/*
 * Unmap the <count> buffers at the bottom of the list: the ones put
 * there longest ago, whose pages are the coldest.
 */
static void
freelist_cut(struct freelist *fl, int count)
{
	void	**link = &fl->head, *p;
	int	  i;

	for (i = 0; i < fl->n - count; i++)
		link = (void **)*link;
	while ((p = *link) != NULL) {
		*link = *(void **)p;
		munmap(p, fl->size);
	}
	fl->n -= count;
}

/*
 * Half the surplus (rounded up) goes each period, not all of it: a load
 * that swings over longer than a period would otherwise map and unmap
 * the same buffers over and over. A burst's leftovers still shrink to
 * a sixteenth within four periods.
 */
int
freelist_decay(struct freelist *fl)
{
	int	 surplus = fl->low - fl->keep;

	if (surplus > fl->n - fl->keep)
		surplus = fl->n - fl->keep;
	if (surplus > 0) {
		surplus = (surplus + 1) / 2;
		freelist_cut(fl, surplus);
	} else
		surplus = 0;
	fl->low = fl->n;
	return surplus;
}

static void
freelist_tick(struct ev_timer *t)
{
	struct freelist	*fl = (struct freelist *)t;

	freelist_decay(fl);
	if (fl->n > fl->keep)
		ev_timer_set(&fl->timer, FREELIST_PERIOD_MS);
}

void
freelist_clear(struct freelist *fl)
{
	ev_timer_del(&fl->timer);
	if (fl->n > 0)
		freelist_cut(fl, fl->n);
	fl->low = 0;
}

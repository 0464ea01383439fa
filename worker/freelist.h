/*
 * Free lists of fixed-size buffers that give their surplus back.
 *
 * A worker keeps the large per-request buffers (a connection's request
 * and response buffers, a proxied exchange's) for reuse, so the hot path
 * neither maps memory nor faults pages in. A list that only grew would
 * keep a burst's peak for good: a burst of 10,000 connections left a
 * few MB per worker behind, as much as all the idle connections cost.
 *
 * So a list decays, as jemalloc's arenas do: it notes the fewest
 * buffers it held during each period (FREELIST_PERIOD_MS). That many
 * were not needed for a whole period: half of them are unmapped, never
 * going below <keep>. Under a steady load the low-water mark stays near
 * 0 and little is given back; a burst's surplus is down to a sixteenth
 * within five periods.
 *
 * Buffers come from mmap, not malloc, so that what is given back leaves
 * the process (the heap would keep it). The list links buffers through
 * their first pointer-sized bytes: a buffer's owner must not expect
 * them to survive a stay on the list.
 */
#ifndef FREELIST_H
#define FREELIST_H

#include <stddef.h>

#include "ev.h"

#define FREELIST_PERIOD_MS	500

struct freelist {
	struct ev_timer	 timer;		/* first: the decay callback's cast */
	void		*head;
	size_t		 size;		/* of each buffer */
	int		 n;		/* buffers on the list */
	int		 low;		/* fewest on it this period */
	int		 max;		/* more are unmapped at once */
	int		 keep;		/* decay stops here */
};

void	 freelist_init(struct freelist *fl, size_t size, int max, int keep);
/* A buffer of fl->size bytes (contents undefined), or NULL. */
void	*freelist_get(struct freelist *fl);
void	 freelist_put(struct freelist *fl, void *p);
/*
 * One period's decay (the timer calls it): unmap half the buffers the
 * period did not need, not going below <keep>. Returns how many went.
 */
int	 freelist_decay(struct freelist *fl);
/* Unmap every buffer on the list (a worker about to exit). */
void	 freelist_clear(struct freelist *fl);

#endif

/*
 * Unit tests for worker/freelist.c: buffers kept for reuse, the surplus
 * of a burst given back after a whole period without use, never below
 * <keep>, half at a time, never more than <max> kept, and the coldest buffers (put
 * there first) are the ones that go.
 */
#include <string.h>

#include "freelist.h"
#include "tap.h"

#define SIZE	40000	/* not a multiple of the page size */

static void
test_reuse(void)
{
	struct freelist	 fl;
	char		*a, *b;

	freelist_init(&fl, SIZE, 8, 2);
	a = freelist_get(&fl);
	ok(a != NULL, "an empty list maps a buffer");
	memset(a, 'x', SIZE);
	ok(a[SIZE - 1] == 'x', "all of it is writable");
	freelist_put(&fl, a);
	is_int(fl.n, 1, "a buffer put back is kept");
	b = freelist_get(&fl);
	ok(b == a, "and handed out again");
	is_int(fl.n, 0, "the list is empty again");
	freelist_put(&fl, b);
	freelist_clear(&fl);
	is_int(fl.n, 0, "clear empties the list");
}

static void
test_max(void)
{
	struct freelist	 fl;
	void		*p[12];
	int		 i;

	freelist_init(&fl, SIZE, 8, 2);
	for (i = 0; i < 12; i++)
		p[i] = freelist_get(&fl);
	for (i = 0; i < 12; i++)
		freelist_put(&fl, p[i]);
	is_int(fl.n, 8, "no more than max are kept");
	freelist_clear(&fl);
}

static void
test_burst_decays(void)
{
	struct freelist	 fl;
	void		*p[50];
	int		 i;

	freelist_init(&fl, SIZE, 64, 4);
	for (i = 0; i < 50; i++)
		p[i] = freelist_get(&fl);
	for (i = 0; i < 50; i++)
		freelist_put(&fl, p[i]);
	ok(fl.timer.deadline != 0, "beyond keep, the decay timer runs");
	/* The period the burst ended in: only what it never needed goes. */
	is_int(freelist_decay(&fl), 1, "the burst's period: 1 unneeded");
	is_int(fl.n, 49, "49 kept");
	is_int(freelist_decay(&fl), 23, "a whole idle period: half the 45 go");
	is_int(fl.n, 26, "26 kept");
	for (i = 0; i < 6; i++)
		freelist_decay(&fl);
	is_int(fl.n, 4, "idle periods after: down to keep");
	is_int(freelist_decay(&fl), 0, "never below keep");
	is_int(fl.n, 4, "keep stays");
	freelist_clear(&fl);
}

static void
test_steady_load_keeps(void)
{
	struct freelist	 fl;
	void		*p[19];
	int		 i, round, kept;

	freelist_init(&fl, SIZE, 64, 2);
	for (i = 0; i < 19; i++)
		p[i] = freelist_get(&fl);
	for (i = 0; i < 19; i++)
		freelist_put(&fl, p[i]);
	freelist_decay(&fl);
	kept = fl.n;
	for (round = 0; round < 3; round++) {
		for (i = 0; i < kept; i++)
			p[i] = freelist_get(&fl);
		for (i = 0; i < kept; i++)
			freelist_put(&fl, p[i]);
		is_int(freelist_decay(&fl), 0,
		    "a period that needed all of them gives none back");
	}
	is_int(fl.n, kept, "all kept under that load");
	freelist_clear(&fl);
}

static void
test_coldest_go(void)
{
	struct freelist	 fl;
	void		*p[5];
	int		 i;

	freelist_init(&fl, SIZE, 64, 2);
	for (i = 0; i < 5; i++)
		p[i] = freelist_get(&fl);
	for (i = 0; i < 5; i++)
		freelist_put(&fl, p[i]);
	fl.low = fl.n;		/* as after a whole idle period */
	is_int(freelist_decay(&fl), 2, "half the 3 surplus go, rounded up");
	is_int(freelist_decay(&fl), 1, "then the last");
	ok(freelist_get(&fl) == p[4], "the last put is kept");
	ok(freelist_get(&fl) == p[3], "and the one before it");
	is_int(fl.n, 0, "the older ones went");
	freelist_clear(&fl);
}

int
main(void)
{
	test_reuse();
	test_max();
	test_burst_decays();
	test_steady_load_keeps();
	test_coldest_go();
	return done_testing();
}

/*
 * Unit tests for worker/bqueue.c: backend_max_conns slots and their
 * queues. Without a cap every take succeeds and nothing is counted;
 * with one, takes beyond it wait in order, a slot given back goes to
 * the oldest waiter (never to a newcomer), a waiter that leaves is out
 * of line, and each backend counts on its own.
 */
#include <stdio.h>

#include "bqueue.h"
#include "mtd.h"
#include "tap.h"

static void
test_no_cap(void)
{
	struct bq_waiter	 w;
	int			 i, all = 1;

	bqueue_init(0);
	bqueue_waiter_init(&w);
	for (i = 0; i < 1000; i++)
		all &= bqueue_take(0, &w);
	ok(all, "no cap: every take succeeds");
	is_int(bqueue_held(0), 0, "no cap: nothing counted");
	ok(bqueue_release(0) == NULL, "no cap: a release hands nothing on");
	is_int(bqueue_held(0), 0, "no cap: the count stays at 0");
}

static void
test_order(void)
{
	struct bq_waiter	 w[5];
	int			 i;

	bqueue_init(2);
	for (i = 0; i < 5; i++)
		bqueue_waiter_init(&w[i]);
	ok(bqueue_take(1, &w[0]) && bqueue_take(1, &w[1]),
	    "cap 2: two takes succeed");
	ok(!bqueue_take(1, &w[2]) && !bqueue_take(1, &w[3]),
	    "cap 2: the third and fourth wait");
	is_int(bqueue_held(1), 2, "two held");
	is_int(bqueue_waiting(1), 2, "two waiting");
	is_int(w[2].backend, 1, "a waiter knows its backend");
	ok(bqueue_release(1) == &w[2], "a slot given back goes to the oldest");
	is_int(w[2].backend, -1, "it is out of line");
	is_int(bqueue_held(1), 2, "the slot passed on: still two held");
	is_int(bqueue_waiting(1), 1, "one waiting");
	ok(!bqueue_take(1, &w[4]), "a newcomer waits behind the line");
	bqueue_cancel(&w[3]);
	is_int(bqueue_waiting(1), 1, "a waiter that leaves is out of line");
	bqueue_cancel(&w[3]);
	is_int(bqueue_waiting(1), 1, "leaving twice changes nothing");
	ok(bqueue_release(1) == &w[4], "the next slot skips the one that left");
	ok(bqueue_release(1) == NULL && bqueue_release(1) == NULL,
	    "no one waiting: slots are freed");
	is_int(bqueue_held(1), 0, "none held");
	ok(bqueue_release(1) == NULL && bqueue_held(1) == 0,
	    "a release too many does not go below 0");
	ok(bqueue_take(1, &w[0]), "a free slot is taken at once again");
	ok(bqueue_release(1) == NULL, "and given back");
}

static void
test_backends_apart(void)
{
	struct bq_waiter	 a, b, c;

	bqueue_init(1);
	bqueue_waiter_init(&a);
	bqueue_waiter_init(&b);
	bqueue_waiter_init(&c);
	ok(bqueue_take(2, &a), "backend 2: one slot taken");
	ok(bqueue_take(3, &b), "backend 3 has its own slot");
	ok(!bqueue_take(2, &c), "backend 2 full: waits");
	ok(bqueue_release(3) == NULL, "backend 3's slot does not serve 2");
	ok(bqueue_release(2) == &c, "backend 2's does");
	ok(bqueue_release(2) == NULL, "then it is free");
	ok(bqueue_take(MTD_MAX_BACKENDS, &a) && bqueue_take(-1, &a),
	    "an index out of range is never held up");
	ok(bqueue_release(MTD_MAX_BACKENDS) == NULL, "nor counted");
}

int
main(void)
{
	test_no_cap();
	test_order();
	test_backends_apart();
	return done_testing();
}

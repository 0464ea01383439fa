/*
 * The shared blacklist (see blacklist.h). The seqlock is the classic
 * one: a slot's sequence is odd while the master writes it. A reader
 * notes the current slot and its even sequence, searches, and searches
 * again if the sequence moved meanwhile. The master only ever writes
 * the slot that is not current, so a reader retries only when it was
 * descheduled across a whole publication, and never waits for one.
 */
#include <stdatomic.h>
#include <string.h>

#include "blacklist.h"
#include "mtd.h"

struct bl_region {
	_Atomic int		 cur;		/* slot */
	_Atomic uint32_t	 version;
	/*
	 * 0, or the first epoch of the run of lists too big for a slot:
	 * a worker forked at that epoch or later matches its own copy.
	 * Workers forked before keep the last list that fitted, not the
	 * (older) list they were started with, until they are retired.
	 */
	_Atomic uint64_t	 own_from;
	uint64_t		 epochs;	/* master only */
	size_t			 cap;		/* ranges per slot */
	size_t			 slot_bytes;
	_Atomic uint64_t	 seq[2];
};

/* Set in the master before forking, so every worker inherits it. */
static struct bl_region	*region;
/* Master: the epoch of workers forked from now on. Worker: its own. */
static uint64_t		 epoch;

static size_t
align_up(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

static size_t
capacity_for(const struct conf *c)
{
	size_t	 n = cidr_set_nranges(c->blacklist);

	return MTD_MAX((size_t)BLACKLIST_MIN_RANGES, 2 * n);
}

static struct cidr_set *
slot(int k)
{
	return (struct cidr_set *)((char *)region +
	    align_up(sizeof(*region)) + (size_t)k * region->slot_bytes);
}

size_t
blacklist_region_size(const struct conf *c)
{
	return align_up(sizeof(struct bl_region)) +
	    2 * align_up(cidr_set_bytes(capacity_for(c)));
}

int
blacklist_region_init(void *mem, const struct conf *c)
{
	region = mem;
	epoch = 0;
	region->cap = capacity_for(c);
	region->slot_bytes = align_up(cidr_set_bytes(region->cap));
	atomic_store(&region->cur, 0);	/* slot 0: empty, as zeroed */
	return blacklist_publish(c->blacklist);
}

size_t
blacklist_capacity(void)
{
	return region != NULL ? region->cap : 0;
}

int
blacklist_publish(const struct cidr_set *set)
{
	int		 next;
	uint64_t	 s;

	if (cidr_set_nranges(set) > region->cap) {
		/*
		 * Only the workers forked from now on use their own copy;
		 * what the running ones match does not change.
		 */
		epoch = ++region->epochs;
		if (atomic_load(&region->own_from) == 0)
			atomic_store(&region->own_from, epoch);
		atomic_fetch_add(&region->version, 1);
		return -1;
	}
	next = atomic_load(&region->cur) == 0 ? 1 : 0;
	s = atomic_load_explicit(&region->seq[next], memory_order_relaxed);
	atomic_store_explicit(&region->seq[next], s + 1,
	    memory_order_relaxed);
	/* The odd sequence is visible before any byte of the slot moves. */
	atomic_thread_fence(memory_order_release);
	cidr_set_copy(slot(next), set);
	atomic_store_explicit(&region->seq[next], s + 2, memory_order_release);
	atomic_store_explicit(&region->cur, next, memory_order_release);
	/* After cur: a worker that sees 0 sees the new slot too. */
	atomic_store_explicit(&region->own_from, 0, memory_order_release);
	atomic_fetch_add(&region->version, 1);
	return 0;
}

/* Whether this worker matches its own copy rather than the region. */
static int
uses_own_copy(void)
{
	uint64_t	 from;

	if (region == NULL)
		return 1;
	from = atomic_load_explicit(&region->own_from, memory_order_acquire);
	return from != 0 && epoch >= from;
}

int
blacklist_match(const struct cidr_set *own, const uint8_t addr16[16])
{
	uint64_t	 s;
	int		 k, hit;

	if (uses_own_copy())
		return cidr_set_match(own, addr16);
	for (;;) {
		k = atomic_load_explicit(&region->cur, memory_order_acquire);
		s = atomic_load_explicit(&region->seq[k], memory_order_acquire);
		if (s & 1)
			continue;	/* made spare and rewritten since */
		hit = cidr_set_match(slot(k), addr16);
		/* The search's reads are done before the sequence is read. */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&region->seq[k],
		    memory_order_relaxed) == s)
			return hit;
	}
}

size_t
blacklist_entries(const struct cidr_set *own)
{
	if (uses_own_copy())
		return cidr_set_count(own);
	/* A count: a torn read is harmless. */
	return cidr_set_count(slot(atomic_load_explicit(&region->cur,
	    memory_order_acquire)));
}

uint32_t
blacklist_version(void)
{
	/* Acquire: a reader that sees a new version sees its list too. */
	return region != NULL ? atomic_load_explicit(&region->version,
	    memory_order_acquire) : 0;
}

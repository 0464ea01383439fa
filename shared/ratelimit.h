/*
 * Per-client rate limiter in the shared segment, exact across workers.
 * The master sizes and initialises the table before it forks; workers call
 * ratelimit_check() once per request. Each client (an IPv4 address, or an
 * IPv6 address masked to rate_limit_ipv6_prefix) owns one slot holding a
 * GCRA "theoretical arrival time"; slots live in fixed buckets of
 * RL_WAYS, found by a keyed SipHash and guarded by RL_STRIPES robust
 * mutexes. A full bucket evicts its least recently seen client, who then
 * simply starts afresh: the limiter never stops limiting.
 */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "lock.h"
#include "siphash.h"

#define RL_MAGIC		0x6d7464726cULL	/* "mtdrl" */
#define RL_STRIPES		64	/* locks; power of two */
#define RL_STRIPE_BITS		6	/* log2(RL_STRIPES) */
#define RL_WAYS			8	/* slots per bucket (probe window) */
#define RL_MIN_SLOTS		(RL_STRIPES * RL_WAYS)
#define RL_DEFAULT_SLOTS	65536	/* 2 MiB of slots (rate_limit_size) */

struct rl_slot {
	/*
	 * Written and read by workers only, under the lock of the stripe
	 * the slot belongs to. All zero = never used.
	 */
	uint8_t		 key[16];	/* masked client address */
	int64_t		 tat_ns;	/* theoretical arrival time */
	int64_t		 seen_ns;	/* last check, allowed or not (LRU) */
};

struct rl_stripe {
	struct mtd_lock	 lock;		/* any worker; see lock.h */
} __attribute__((aligned(64)));

struct rl_table {
	/* Written by the master at region init; read-only afterwards. */
	uint64_t	 magic;
	uint32_t	 nslots;	/* power of two, >= RL_MIN_SLOTS */
	uint32_t	 buckets;	/* per stripe, power of two */
	uint8_t		 hash_key[SIPHASH_KEY_LEN];	/* getrandom */

	/* Added to by any worker after unlocking; read by anyone. */
	_Atomic uint64_t evictions;	/* live clients pushed out */
	_Atomic uint64_t recoveries;	/* stripes reset after a death */
	_Atomic uint64_t refused;	/* checks that said "limited" */

	struct rl_stripe stripe[RL_STRIPES];
	/* Stripe s owns slots [s * buckets * RL_WAYS, (s + 1) * ...). */
	struct rl_slot	 slot[];
};

/* The verdict on one request, and what the response headers need. */
struct rl_result {
	int		 allowed;	/* 1 pass, 0 refuse (429) */
	long		 retry_after_s;	/* refused: >= 1; allowed: 0 */
	long		 remaining;	/* requests that would pass now */
	long		 reset_s;	/* until the bucket is full again */
	long		 limit;		/* count + burst */
	long		 window_s;	/* window, rounded up, >= 1 */
	long		 quota;		/* RateLimit-Policy q= ... */
	long		 quota_w;	/* ... per w= seconds (>= 1) */
	int		 recovered;	/* -1, or the stripe that was reset */
};

/*
 * Bytes the region needs: for <c> (rate_limit_size worth of slots,
 * whether the limiter is on or not, so that a reload may turn it on),
 * or for <nslots> slots (rounded up to a power of two >= RL_MIN_SLOTS).
 * No lock; any process.
 */
size_t	 ratelimit_region_size(const struct conf *c);
/* The slots <bytes> of rate_limit_size hold: the largest power of two
 * that fits, at least RL_MIN_SLOTS. No lock; any process. */
size_t	 ratelimit_slots_for(size_t bytes);
size_t	 ratelimit_region_size_slots(size_t nslots);

/*
 * Lay out the table in <mem> (the size above, MAP_SHARED, zero-filled
 * as a fresh mapping is): initialise the stripe locks, draw the hash key with
 * getrandom(2). The _slots variant takes the table size <nslots>.
 * Returns 0, or -1 logged. Master only, before forking.
 */
int	 ratelimit_region_init(void *mem, const struct conf *c);
int	 ratelimit_region_init_slots(void *mem, size_t nslots);

/*
 * Count one request from <addr16> (IPv4-mapped IPv6 form) at <now_us>
 * (CLOCK_MONOTONIC microseconds, the same clock in every process)
 * against the limit of <c> (rate_limit_count per rate_limit_window_ms,
 * plus rate_limit_burst). Fills <out>. Returns 1 when the request may
 * pass, 0 when it is over the limit: a refused request is not counted.
 * The caller applies rate_limit_on, rate_limit_exempt and
 * rate_limit_mode (log: let it through anyway). When the stripe lock was
 * left by a dead worker, the stripe is reset (its clients start afresh),
 * out->recovered names it and "rate limit stripe N recovered from a dead
 * worker" is already logged: the caller must not log it again.
 * LOCKING: takes and releases one stripe lock; the caller holds none.
 * Workers (any process with the segment mapped).
 */
int	 ratelimit_check(void *region, const struct conf *c,
	    const uint8_t addr16[16], int64_t now_us, struct rl_result *out);

/*
 * The key the limiter uses for <addr16> under <c>, into <key>: an
 * IPv4-mapped address whole, any other IPv6 address masked to
 * rate_limit_ipv6_prefix bits. No lock; any process.
 */
void	 ratelimit_client_key(const struct conf *c, const uint8_t addr16[16],
	    uint8_t key[16]);

/* The stripe (0..RL_STRIPES-1) that holds <addr16>. No lock; any. */
int	 ratelimit_stripe_of(const void *region, const struct conf *c,
	    const uint8_t addr16[16]);

/*
 * Reset stripe <s> of <t> after its owner died: every client in it
 * starts afresh (a dead worker may have left a slot half written).
 * LOCKING: the caller holds stripe <s>'s lock and calls
 * lock_consistent() afterwards. Workers.
 */
void	 ratelimit_repair_locked(struct rl_table *t, int s);

/* Counters for the status page. No lock; any process. */
uint64_t ratelimit_evictions(const void *region);
uint64_t ratelimit_recoveries(const void *region);
uint64_t ratelimit_refused(const void *region);

#ifdef MTD_TEST_HOOKS
/*
 * Test hook: take the stripe lock of <addr16> and keep it, so that a
 * test child can _exit() holding it. Returns the stripe.
 */
static inline int
ratelimit_test_hold_stripe(void *region, const struct conf *c,
    const uint8_t addr16[16])
{
	struct rl_table	*t = region;
	int		 s = ratelimit_stripe_of(region, c, addr16);

	if (lock_acquire(&t->stripe[s].lock) == LOCK_RECOVERED) {
		ratelimit_repair_locked(t, s);
		lock_consistent(&t->stripe[s].lock);
	}
	return s;
}
#endif

#endif /* RATELIMIT_H */

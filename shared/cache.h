/*
 * LRU response cache in the shared segment. The master sizes and lays
 * out the region before it forks; workers look up, fill and purge. The
 * region is split into stripes, each with its own robust mutex, hash
 * index, LRU list, entry table and share of the body arena (fixed-size
 * chunks chained by index), so eviction is per stripe and no global
 * lock exists. Everything inside is addressed by index or offset, never
 * by pointer; callers get copies, never pointers into the segment.
 */
#ifndef CACHE_H
#define CACHE_H

#include <sys/types.h>

#include <sha2.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "lock.h"
#include "siphash.h"

#define CACHE_MAGIC		0x6d7464636163ULL	/* "mtdcac" */
#define CACHE_VERSION		2
#define CACHE_MAX_STRIPES	16	/* power of two */
#define CACHE_STRIPE_MIN	(256 * 1024)	/* arena bytes per stripe */
#define CACHE_CHUNK		1024	/* body storage unit */
#define CACHE_ENTRY_BYTES	2048	/* one entry per this much arena */
#define CACHE_MIN_ENTRIES	64	/* per stripe */
#define CACHE_ETAG_MAX		96	/* with quotes, "W/" and NUL */
#define CACHE_KEY_MAX		16384	/* Host + target bytes */
#define CACHE_VARIANT_LEN	16	/* digest of the request's Vary fields */
#define CACHE_FILL_TIMEOUT	30	/* s a pending marker lives */
#define CACHE_NIL		UINT32_MAX

/* cache_lookup() and cache_fill_begin() results. */
#define CACHE_ERROR		(-1)
#define CACHE_MISS		0
#define CACHE_HIT		1	/* fresh, copied */
#define CACHE_STALE		2	/* expired, in stale window, copied */
#define CACHE_PENDING		3	/* another process is filling the key */
#define CACHE_TOO_BIG		4	/* found, but <buflen> < need */

enum cache_entry_state {
	CACHE_E_FREE = 0,
	CACHE_E_LIVE,		/* published: in the index and the LRU */
	CACHE_E_FILLING,	/* pending marker + data being streamed in */
};

/*
 * One object or pending marker. Written and read by workers only, under
 * the lock of the stripe that owns it; zeroed by the master at init.
 * Its chunks hold the key bytes, then the response head, then the body.
 */
struct cache_entry {
	uint64_t	 hash;		/* SipHash of the key */
	uint64_t	 gen;		/* FILLING: the fill's generation */
	uint32_t	 state;		/* enum cache_entry_state */
	uint32_t	 hnext;		/* hash chain; free list when FREE */
	uint32_t	 prev, next;	/* LRU (LIVE) or fill list (FILLING) */
	uint32_t	 head, tail;	/* first and last chunk */
	uint32_t	 nchunks;
	uint32_t	 klen;		/* key bytes */
	uint32_t	 head_len;	/* response head bytes */
	int32_t		 status;	/* HTTP status code */
	int32_t		 pid;		/* FILLING: the filler */
	uint32_t	 pad;
	uint64_t	 size;		/* key + head + body bytes stored */
	int64_t		 stored_at;	/* unix seconds */
	int64_t		 expires_at;	/* fresh while now < expires_at */
	int64_t		 last_modified;	/* unix seconds, -1 unknown */
	int64_t		 deadline;	/* FILLING: marker void after this */
	char		 etag[CACHE_ETAG_MAX];	/* "" = none */
	uint8_t		 variant[CACHE_VARIANT_LEN];	/* zeros: no Vary */
	uint64_t	 id;		/* LIVE: unique in the region's life */
};

struct cache_stripe {
	struct mtd_lock	 lock;		/* any worker; see lock.h */
	/* Below: written and read by workers under <lock>. */
	uint32_t	 lru_head;	/* most recently used */
	uint32_t	 lru_tail;	/* next to evict */
	uint32_t	 fill_head;	/* FILLING entries */
	uint32_t	 free_entry;	/* chained by hnext */
	uint32_t	 free_chunk;	/* chained by chunk_next */
	uint32_t	 nfree_chunks;
	uint64_t	 gen;		/* last fill generation handed out */
	/* Written by workers under <lock>; read by anyone without it. */
	_Atomic uint32_t nlive;		/* LIVE entries */
	_Atomic uint32_t nused;		/* entries in use (LIVE + FILLING) */
	_Atomic uint64_t used_bytes;	/* chunk bytes held */
	_Atomic uint64_t live_bytes;	/* key+head+body of LIVE entries */
} __attribute__((aligned(64)));

struct cache_region {
	/* Written by the master at region init; read-only afterwards. */
	uint64_t	 magic;
	uint32_t	 version;
	uint32_t	 nstripes;	/* 0 = cache disabled */
	uint32_t	 stripe_bits;	/* log2(nstripes) */
	uint32_t	 nentries;	/* per stripe */
	uint32_t	 nbuckets;	/* per stripe, power of two */
	uint32_t	 nchunks;	/* per stripe */
	size_t		 size;		/* bytes of the whole region */
	size_t		 buckets_off;	/* uint32_t[nstripes * nbuckets] */
	size_t		 entries_off;	/* struct cache_entry[...] */
	size_t		 chunk_next_off; /* uint32_t[nstripes * nchunks] */
	size_t		 arena_off;	/* CACHE_CHUNK * nstripes * nchunks */
	uint8_t		 hash_key[SIPHASH_KEY_LEN];	/* getrandom */

	/* Added to by any worker; read by anyone. */
	_Atomic uint64_t hits;
	_Atomic uint64_t stale;		/* stale copies served */
	_Atomic uint64_t misses;
	_Atomic uint64_t evictions;	/* LIVE objects pushed out */
	_Atomic uint64_t stores;	/* fills committed */
	_Atomic uint64_t refused;	/* fills given up: size, room */
	_Atomic uint64_t recoveries;	/* stripes reset after a death */
	_Atomic uint64_t next_id;	/* of published objects, never reset */

	struct cache_stripe stripe[CACHE_MAX_STRIPES];
};

/* What a lookup found; the caller's memory. */
struct cache_hit {
	int		 status;	/* 0 when no object was found */
	size_t		 head_len;	/* bytes of head at the start of buf */
	size_t		 body_len;	/* then this many body bytes */
	size_t		 need;		/* head_len + body_len */
	long		 age;		/* now - stored_at, >= 0 */
	long		 ttl;		/* expires_at - now (< 0: expired) */
	time_t		 stored_at;
	time_t		 expires_at;
	time_t		 last_modified;	/* -1 unknown */
	char		 etag[CACHE_ETAG_MAX];	/* "" = none */
	uint8_t		 variant[CACHE_VARIANT_LEN];	/* as committed */
	/*
	 * Unique to this object: a new fill of the key, even with the same
	 * content, gets another. Never 0 when an object was found.
	 */
	uint64_t	 id;
	int		 recovered;	/* -1, or the stripe reset (logged) */
};

/* A fill in progress; the filler's memory (e.g. in its connection). */
struct cache_fill {
	int		 active;	/* 1 between begin and commit/abort */
	int		 recovered;	/* -1, or the stripe reset (logged) */
	uint32_t	 stripe;
	uint32_t	 entry;		/* index of the FILLING entry */
	uint64_t	 gen;		/* must still match the entry's */
	size_t		 klen;
	size_t		 len;		/* head + body bytes appended */
	size_t		 head_len;	/* set by cache_fill_head() */
	size_t		 max;		/* limit on klen + len: the arena */
	size_t		 body_max;	/* limit on the body: max_size */
	time_t		 started;	/* <now> given to cache_fill_begin() */
	SHA2_CTX	 sha;		/* over the body, for a computed ETag */
	/*
	 * Zeroed by cache_fill_begin(); the caller may set it before the
	 * commit. The cache keeps it opaque and hands it back with a hit.
	 */
	uint8_t		 variant[CACHE_VARIANT_LEN];
};

/* Sums for the status page. */
struct cache_stats {
	uint64_t	 entries;	/* LIVE objects */
	uint64_t	 bytes;		/* arena bytes held (LIVE + FILLING) */
	uint64_t	 object_bytes;	/* key+head+body of LIVE objects */
	uint64_t	 capacity;	/* arena bytes */
	uint64_t	 max_entries;
	uint64_t	 hits, stale, misses, evictions, stores, refused;
	uint64_t	 recoveries;
	size_t		 max_object;	/* key+head+body that may fit */
	int		 stripes;	/* 0 = disabled */
};

/*
 * Bytes the region needs for <c>: header, hash index, entry table,
 * chunk links and an arena of c->cache_size bytes (rounded down to
 * whole chunks). cache_size below one chunk (0 included) disables the
 * cache and the region is the header alone. No lock; any process.
 */
size_t	 cache_region_size(const struct conf *c);

/*
 * The largest object (key, stored head and body) a region for <c> holds:
 * one stripe's arena, about cache_size / 16 from 8 MB up. No lock.
 */
size_t	 cache_max_object(const struct conf *c);

/*
 * Lay out the cache in <mem> (cache_region_size(<c>) bytes, MAP_SHARED):
 * every stripe empty, locks initialised, hash key from getrandom(2).
 * Returns 0, or -1 logged. Master only, before forking.
 */
int	 cache_region_init(void *mem, const struct conf *c);

/*
 * Look <key> (<klen> bytes: Host then target) up at <now> (unix
 * seconds). A fresh object: CACHE_HIT. An expired one still within
 * <stale_s> seconds of its expiry (pass 0 for a normal lookup, the
 * stale-if-error window after a backend failure): CACHE_STALE. In both
 * cases the stored head then the body are copied to <buf>, or, when
 * <buflen> is less than out->need, nothing is copied and the result is
 * CACHE_TOO_BIG (retry with a bigger buffer). Otherwise CACHE_PENDING
 * when another process is filling the key (retry a little later), or
 * CACHE_MISS. <out> gets the metadata whenever an object exists (even
 * expired), status 0 otherwise. A hit or stale copy moves the object to
 * the front of its LRU. A stripe left locked by a dead worker is reset,
 * logged ("cache stripe N recovered from a dead worker") and named in
 * out->recovered: the caller must not log it again.
 * LOCKING: takes and releases one stripe lock; caller holds none.
 * Workers.
 */
int	 cache_lookup(void *region, const char *key, size_t klen, time_t now,
	    long stale_s, struct cache_hit *out, char *buf, size_t buflen);

/*
 * Claim <key> for a fill at <now>: later lookups of the key report
 * CACHE_PENDING (unless a usable object exists) until the fill is
 * committed or aborted, or CACHE_FILL_TIMEOUT seconds have passed (so a
 * dead filler never blocks anyone). <max_size> bounds the body (the
 * rule's max_size, as the seed defines it); no object whose key, head and
 * body exceed a stripe's arena is kept.
 * Returns 0 (<f> set up: call cache_fill_head/append, then commit or
 * abort exactly once), CACHE_PENDING (someone else is filling the key:
 * do not cache), or -1 (cache disabled, key too long, no room).
 * LOCKING: takes and releases one stripe lock. Workers.
 */
/*
 * Forget the fills claimed by <pid>, which has died, so that nobody waits
 * for them. LOCKING: each stripe lock in turn. The master, after waitpid.
 */
void	 cache_forget_filler(void *region, pid_t pid);

int	 cache_fill_begin(void *region, const char *key, size_t klen,
	    size_t max_size, time_t now, struct cache_fill *f);

/*
 * Append the response head (<n> bytes at <p>, as it is to be served)
 * or a piece of the body to the fill <f>. Call cache_fill_head() once,
 * first, then cache_fill_append() for each piece of the body. Chunks
 * come from the stripe's free list, evicting least recently used
 * objects as needed. Returns 0, or -1 when the fill was given up (over
 * max_size or the stripe's arena, no room, or the marker expired and
 * was taken over): everything is then released, later calls on <f>
 * fail and cache_fill_abort() is optional.
 * LOCKING: takes and releases the stripe lock once per call. Workers.
 */
int	 cache_fill_head(void *region, struct cache_fill *f, const void *p,
	    size_t n);
int	 cache_fill_append(void *region, struct cache_fill *f, const void *p,
	    size_t n);

/*
 * Publish the fill <f> at <now>: HTTP <status>, fresh for <ttl_s>
 * seconds, validators <etag> (as the backend sent it, quotes included;
 * NULL or "" computes a strong ETag "\"<sha-256 hex of the body>\"";
 * one that does not fit CACHE_ETAG_MAX is stored as "") and
 * <last_modified> (-1 unknown). An older object with the same key is
 * replaced atomically. Returns 0, or -1 (fill given up before, <ttl_s>
 * <= 0, or the marker was taken over): nothing is stored then.
 * LOCKING: takes and releases the stripe lock. Workers.
 */
int	 cache_fill_commit(void *region, struct cache_fill *f, int status,
	    long ttl_s, time_t now, const char *etag, time_t last_modified);

/*
 * Give up the fill <f>: its chunks and marker are freed, lookups of the
 * key stop reporting CACHE_PENDING. Harmless on an inactive <f>.
 * LOCKING: takes and releases the stripe lock. Workers.
 */
void	 cache_fill_abort(void *region, struct cache_fill *f);

/*
 * Remove the object stored under <key> (a fill in progress is left
 * alone). Returns 1 when one was removed, 0 when there was none.
 * LOCKING: takes and releases one stripe lock. Workers.
 */
int	 cache_purge(void *region, const char *key, size_t klen);
/*
 * Remove every object whose key starts with the <plen> bytes at <prefix>
 * (fills in progress are left alone); returns how many. It reads every
 * stripe: for PURGE, not for the request path.
 * LOCKING: takes and releases each stripe lock in turn. Workers.
 */
int	 cache_purge_prefix(void *region, const char *prefix, size_t plen);

/*
 * Move one lookup from the counter of result <from> to that of <to>
 * (CACHE_HIT, CACHE_STALE, CACHE_MISS; any other: no counter), for a
 * caller that turned down what cache_lookup() returned: an object whose
 * variant belongs to other request fields is a miss, not a hit.
 * LOCKING: none (counters only). Workers.
 */
void	 cache_recount(void *region, int from, int to);

/* Sum the counters into <out>. No lock (values may be a moment old). */
void	 cache_stats(void *region, struct cache_stats *out);

/* The stripe (0..nstripes-1) holding <key>; -1 if disabled. No lock. */
int	 cache_stripe_of(const void *region, const char *key, size_t klen);

/*
 * Empty stripe <s> of <region> (after its owner died mid-change): all
 * its objects and fills are dropped, its free lists rebuilt.
 * LOCKING: the caller holds stripe <s>'s lock and calls
 * lock_consistent() afterwards. Master at init, workers on recovery.
 */
void	 cache_repair_locked(void *region, int s);

#ifdef MTD_TEST_HOOKS
/*
 * Test hook: take the stripe lock of <key> and keep it, so that a test
 * child can _exit() holding it. Returns the stripe.
 */
static inline int
cache_test_hold_stripe(void *region, const char *key, size_t klen)
{
	struct cache_region	*r = region;
	int			 s = cache_stripe_of(region, key, klen);

	if (lock_acquire(&r->stripe[s].lock) == LOCK_RECOVERED) {
		cache_repair_locked(region, s);
		lock_consistent(&r->stripe[s].lock);
	}
	return s;
}
#endif

#endif /* CACHE_H */

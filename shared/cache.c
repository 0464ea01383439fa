/*
 * The shared-memory response cache. Each stripe owns a slice of every
 * array after the header (hash buckets, entries, chunk links, arena) and
 * indexes it locally; its lock guards all of that slice, and nothing
 * else. Objects are chains of CACHE_CHUNK-byte chunks, so any size up to
 * a stripe's arena fits whatever the fragmentation. Under a lock: no
 * syscalls, no allocation, no logging; the SHA-256 of bodies, getpid()
 * and recovery logs happen outside.
 */
#include <sys/random.h>
#include <sys/types.h>

#include <sha2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "lock.h"
#include "log.h"
#include "siphash.h"

#define RLX	memory_order_relaxed

struct cache_layout {
	uint32_t	 nstripes, bits, nentries, nbuckets, nchunks;
	size_t		 buckets_off, entries_off, chunk_next_off, arena_off;
	size_t		 size;
};

static size_t
cache_align(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

static void
cache_layout(const struct conf *c, struct cache_layout *l)
{
	size_t	 total = c->cache_size / CACHE_CHUNK;
	size_t	 per, ent;

	memset(l, 0, sizeof(*l));
	l->size = sizeof(struct cache_region);
	if (total == 0)
		return;
	if (total > (size_t)CACHE_MAX_STRIPES * (UINT32_MAX / 2))
		total = (size_t)CACHE_MAX_STRIPES * (UINT32_MAX / 2);
	l->nstripes = 1;
	while (l->nstripes < CACHE_MAX_STRIPES &&
	    total / (l->nstripes * 2) * CACHE_CHUNK >= CACHE_STRIPE_MIN) {
		l->nstripes *= 2;
		l->bits++;
	}
	per = total / l->nstripes;
	ent = per * CACHE_CHUNK / CACHE_ENTRY_BYTES;
	if (ent < CACHE_MIN_ENTRIES)
		ent = CACHE_MIN_ENTRIES;
	l->nchunks = (uint32_t)per;
	l->nentries = (uint32_t)ent;
	l->nbuckets = 1;
	while (l->nbuckets < l->nentries)
		l->nbuckets *= 2;

	l->buckets_off = cache_align(l->size, 64);
	l->entries_off = cache_align(l->buckets_off +
	    (size_t)l->nstripes * l->nbuckets * sizeof(uint32_t), 64);
	l->chunk_next_off = cache_align(l->entries_off +
	    (size_t)l->nstripes * l->nentries * sizeof(struct cache_entry), 64);
	l->arena_off = cache_align(l->chunk_next_off +
	    (size_t)l->nstripes * l->nchunks * sizeof(uint32_t), 64);
	l->size = l->arena_off + (size_t)l->nstripes * l->nchunks * CACHE_CHUNK;
}

size_t
cache_region_size(const struct conf *c)
{
	struct cache_layout	 l;

	cache_layout(c, &l);
	return l.size;
}

size_t
cache_max_object(const struct conf *c)
{
	struct cache_layout	 l;

	cache_layout(c, &l);
	return (size_t)l.nchunks * CACHE_CHUNK;
}

/* Slices of stripe <s>. */
static uint32_t *
cache_buckets(struct cache_region *r, int s)
{
	return (uint32_t *)((char *)r + r->buckets_off) +
	    (size_t)s * r->nbuckets;
}

static struct cache_entry *
cache_entries(struct cache_region *r, int s)
{
	return (struct cache_entry *)((char *)r + r->entries_off) +
	    (size_t)s * r->nentries;
}

static uint32_t *
cache_chunk_next(struct cache_region *r, int s)
{
	return (uint32_t *)((char *)r + r->chunk_next_off) +
	    (size_t)s * r->nchunks;
}

static char *
cache_chunk(struct cache_region *r, int s, uint32_t c)
{
	return (char *)r + r->arena_off +
	    ((size_t)s * r->nchunks + c) * CACHE_CHUNK;
}

void
cache_repair_locked(void *region, int s)
{
	struct cache_region	*r = region;
	struct cache_stripe	*st = &r->stripe[s];
	struct cache_entry	*e = cache_entries(r, s);
	uint32_t		*b = cache_buckets(r, s);
	uint32_t		*cn = cache_chunk_next(r, s);
	uint32_t		 i;

	for (i = 0; i < r->nbuckets; i++)
		b[i] = CACHE_NIL;
	memset(e, 0, (size_t)r->nentries * sizeof(*e));
	for (i = 0; i < r->nentries; i++)
		e[i].hnext = i + 1 < r->nentries ? i + 1 : CACHE_NIL;
	for (i = 0; i < r->nchunks; i++)
		cn[i] = i + 1 < r->nchunks ? i + 1 : CACHE_NIL;
	st->lru_head = st->lru_tail = st->fill_head = CACHE_NIL;
	st->free_entry = 0;
	st->free_chunk = r->nchunks > 0 ? 0 : CACHE_NIL;
	st->nfree_chunks = r->nchunks;
	/* gen keeps counting: a fill begun before the reset must fail. */
	st->gen += 1;
	atomic_store_explicit(&st->nlive, 0, RLX);
	atomic_store_explicit(&st->nused, 0, RLX);
	atomic_store_explicit(&st->used_bytes, 0, RLX);
	atomic_store_explicit(&st->live_bytes, 0, RLX);
}

int
cache_region_init(void *mem, const struct conf *c)
{
	struct cache_region	*r = mem;
	struct cache_layout	 l;
	uint32_t		 s;

	cache_layout(c, &l);
	memset(r, 0, sizeof(*r));
	r->version = CACHE_VERSION;
	r->nstripes = l.nstripes;
	r->stripe_bits = l.bits;
	r->nentries = l.nentries;
	r->nbuckets = l.nbuckets;
	r->nchunks = l.nchunks;
	r->size = l.size;
	r->buckets_off = l.buckets_off;
	r->entries_off = l.entries_off;
	r->chunk_next_off = l.chunk_next_off;
	r->arena_off = l.arena_off;
	if (getrandom(r->hash_key, sizeof(r->hash_key), 0) !=
	    (ssize_t)sizeof(r->hash_key)) {
		log_warn("cache: getrandom");
		return -1;
	}
	for (s = 0; s < l.nstripes; s++) {
		if (lock_init(&r->stripe[s].lock) == -1) {
			log_warnx("cache: cannot initialise stripe %u", s);
			return -1;
		}
		cache_repair_locked(r, (int)s);
		r->stripe[s].gen = 0;
	}
	r->magic = CACHE_MAGIC;
	return 0;
}

static uint64_t
cache_hash(const struct cache_region *r, const char *key, size_t klen)
{
	return siphash24(key, klen, r->hash_key);
}

/* Top bits pick the stripe, low bits the bucket. */
static int
cache_stripe_of_hash(const struct cache_region *r, uint64_t h)
{
	if (r->stripe_bits == 0)
		return 0;
	return (int)(h >> (64 - r->stripe_bits));
}

int
cache_stripe_of(const void *region, const char *key, size_t klen)
{
	const struct cache_region	*r = region;

	if (r->nstripes == 0)
		return -1;
	return cache_stripe_of_hash(r, cache_hash(r, key, klen));
}

/*
 * Take stripe <s>'s lock; when its owner died holding it, empty the
 * stripe (any entry may be half linked) and return 1.
 */
static int
cache_lock(struct cache_region *r, int s)
{
	if (lock_acquire(&r->stripe[s].lock) == LOCK_RECOVERED) {
		/* EOWNERDEAD: a worker died in here; start the stripe over. */
		cache_repair_locked(r, s);
		lock_consistent(&r->stripe[s].lock);
		return 1;
	}
	return 0;
}

/* After unlocking: count and log a recovery seen by cache_lock(). */
static void
cache_recovered(struct cache_region *r, int s, int rec)
{
	if (!rec)
		return;
	atomic_fetch_add_explicit(&r->recoveries, 1, RLX);
	log_warnx("cache stripe %d recovered from a dead worker", s);
}

/*
 * Copy (<cmp> 0) or compare (<cmp> 1) <n> bytes at offset <off> of
 * entry <e>'s data with <buf>. Returns 0, or 1 on a difference.
 * Caller holds the lock.
 */
static int
cache_io_locked(struct cache_region *r, int s, const struct cache_entry *e,
    size_t off, void *buf, size_t n, int cmp)
{
	uint32_t	*cn = cache_chunk_next(r, s);
	uint32_t	 c = e->head;
	char		*p = buf;
	size_t		 k;

	while (off >= CACHE_CHUNK && c != CACHE_NIL) {
		c = cn[c];
		off -= CACHE_CHUNK;
	}
	while (n > 0 && c != CACHE_NIL) {
		k = MTD_MIN(n, CACHE_CHUNK - off);
		if (cmp) {
			if (memcmp(cache_chunk(r, s, c) + off, p, k) != 0)
				return 1;
		} else
			memcpy(p, cache_chunk(r, s, c) + off, k);
		p += k;
		n -= k;
		off = 0;
		c = cn[c];
	}
	return n != 0;
}

/* Whether entries <a> and <b> hold the same key. Caller holds the lock. */
static int
cache_same_key_locked(struct cache_region *r, int s,
    const struct cache_entry *a, const struct cache_entry *b)
{
	uint32_t	*cn = cache_chunk_next(r, s);
	uint32_t	 ca = a->head, cb = b->head;
	size_t		 n = a->klen, k;

	if (a->hash != b->hash || a->klen != b->klen)
		return 0;
	while (n > 0 && ca != CACHE_NIL && cb != CACHE_NIL) {
		k = MTD_MIN(n, CACHE_CHUNK);
		if (memcmp(cache_chunk(r, s, ca), cache_chunk(r, s, cb), k))
			return 0;
		n -= k;
		ca = cn[ca];
		cb = cn[cb];
	}
	return n == 0;
}

/*
 * The entry of stripe <s> in <state> holding <key> (hash <h>), or
 * CACHE_NIL. Caller holds the lock.
 */
static uint32_t
cache_find_locked(struct cache_region *r, int s, uint64_t h,
    const char *key, size_t klen, uint32_t state)
{
	struct cache_entry	*e = cache_entries(r, s);
	uint32_t		 i;

	i = cache_buckets(r, s)[h & (r->nbuckets - 1)];
	for (; i != CACHE_NIL; i = e[i].hnext)
		if (e[i].state == state && e[i].hash == h &&
		    e[i].klen == klen &&
		    cache_io_locked(r, s, &e[i], 0, (void *)key, klen, 1) == 0)
			return i;
	return CACHE_NIL;
}

/* Doubly-linked lists through prev/next: the LRU and the fill list. */
static void
cache_list_unlink(struct cache_entry *e, uint32_t i, uint32_t *head,
    uint32_t *tail)
{
	if (e[i].prev != CACHE_NIL)
		e[e[i].prev].next = e[i].next;
	else
		*head = e[i].next;
	if (e[i].next != CACHE_NIL)
		e[e[i].next].prev = e[i].prev;
	else if (tail != NULL)
		*tail = e[i].prev;
	e[i].prev = e[i].next = CACHE_NIL;
}

static void
cache_list_push(struct cache_entry *e, uint32_t i, uint32_t *head,
    uint32_t *tail)
{
	e[i].prev = CACHE_NIL;
	e[i].next = *head;
	if (*head != CACHE_NIL)
		e[*head].prev = i;
	else if (tail != NULL)
		*tail = i;
	*head = i;
}

/* Drop entry <i> of stripe <s> whatever its state. Caller holds the lock. */
static void
cache_free_locked(struct cache_region *r, int s, uint32_t i)
{
	struct cache_stripe	*st = &r->stripe[s];
	struct cache_entry	*e = cache_entries(r, s);
	uint32_t		*b, *pp;

	b = &cache_buckets(r, s)[e[i].hash & (r->nbuckets - 1)];
	for (pp = b; *pp != CACHE_NIL; pp = &e[*pp].hnext)
		if (*pp == i) {
			*pp = e[i].hnext;
			break;
		}
	if (e[i].state == CACHE_E_LIVE) {
		cache_list_unlink(e, i, &st->lru_head, &st->lru_tail);
		atomic_fetch_sub_explicit(&st->nlive, 1, RLX);
		atomic_fetch_sub_explicit(&st->live_bytes, e[i].size, RLX);
	} else
		cache_list_unlink(e, i, &st->fill_head, NULL);
	if (e[i].nchunks > 0) {
		cache_chunk_next(r, s)[e[i].tail] = st->free_chunk;
		st->free_chunk = e[i].head;
		st->nfree_chunks += e[i].nchunks;
		atomic_fetch_sub_explicit(&st->used_bytes,
		    (uint64_t)e[i].nchunks * CACHE_CHUNK, RLX);
	}
	atomic_fetch_sub_explicit(&st->nused, 1, RLX);
	memset(&e[i], 0, sizeof(e[i]));
	e[i].hnext = st->free_entry;
	st->free_entry = i;
}

/* Evict the least recently used object. 0, or -1 when none. */
static int
cache_evict_locked(struct cache_region *r, int s)
{
	uint32_t	 i = r->stripe[s].lru_tail;

	if (i == CACHE_NIL)
		return -1;
	cache_free_locked(r, s, i);
	atomic_fetch_add_explicit(&r->evictions, 1, RLX);
	return 0;
}

/* Drop the fills of stripe <s> whose marker expired before <now>. */
static void
cache_sweep_locked(struct cache_region *r, int s, time_t now)
{
	struct cache_entry	*e = cache_entries(r, s);
	uint32_t		 i, next;

	for (i = r->stripe[s].fill_head; i != CACHE_NIL; i = next) {
		next = e[i].next;
		if (e[i].deadline <= now)
			cache_free_locked(r, s, i);
	}
}

/*
 * Drop the fill markers of <pid>, a worker that has died: without this,
 * every request for a key it was filling would wait for the marker's
 * 30 s deadline (3 s each, then uncached).
 */
void
cache_forget_filler(void *region, pid_t pid)
{
	struct cache_region	*r = region;
	struct cache_entry	*e;
	uint32_t		 i, next;
	int			 s, rec;

	if (r == NULL)
		return;
	for (s = 0; s < (int)r->nstripes; s++) {
		rec = cache_lock(r, s);
		e = cache_entries(r, s);
		for (i = r->stripe[s].fill_head; i != CACHE_NIL; i = next) {
			next = e[i].next;
			if (e[i].pid == (int32_t)pid)
				cache_free_locked(r, s, i);
		}
		lock_release(&r->stripe[s].lock);
		cache_recovered(r, s, rec);
	}
}

/* A free chunk, evicting as needed; CACHE_NIL when none can be had. */
static uint32_t
cache_chunk_alloc_locked(struct cache_region *r, int s, time_t now)
{
	struct cache_stripe	*st = &r->stripe[s];
	uint32_t		 c;

	if (st->free_chunk == CACHE_NIL)
		cache_sweep_locked(r, s, now);
	while (st->free_chunk == CACHE_NIL)
		if (cache_evict_locked(r, s) == -1)
			return CACHE_NIL;
	c = st->free_chunk;
	st->free_chunk = cache_chunk_next(r, s)[c];
	st->nfree_chunks--;
	cache_chunk_next(r, s)[c] = CACHE_NIL;
	atomic_fetch_add_explicit(&st->used_bytes, CACHE_CHUNK, RLX);
	return c;
}

/* A free entry, evicting as needed; CACHE_NIL when none can be had. */
static uint32_t
cache_entry_alloc_locked(struct cache_region *r, int s)
{
	struct cache_stripe	*st = &r->stripe[s];
	struct cache_entry	*e = cache_entries(r, s);
	uint32_t		 i;

	while (st->free_entry == CACHE_NIL)
		if (cache_evict_locked(r, s) == -1)
			return CACHE_NIL;
	i = st->free_entry;
	st->free_entry = e[i].hnext;
	memset(&e[i], 0, sizeof(e[i]));
	e[i].hnext = e[i].prev = e[i].next = CACHE_NIL;
	e[i].head = e[i].tail = CACHE_NIL;
	atomic_fetch_add_explicit(&st->nused, 1, RLX);
	return i;
}

/*
 * Append <n> bytes at <p> to entry <i>'s chunks. 0, or -1 when the
 * stripe has no room left (the entry keeps what it had).
 */
static int
cache_write_locked(struct cache_region *r, int s, uint32_t i,
    const void *p, size_t n, time_t now)
{
	struct cache_entry	*e = &cache_entries(r, s)[i];
	const char		*q = p;
	size_t			 off, k;
	uint32_t		 c;

	while (n > 0) {
		if (e->size == (uint64_t)e->nchunks * CACHE_CHUNK) {
			if ((c = cache_chunk_alloc_locked(r, s, now)) ==
			    CACHE_NIL)
				return -1;
			if (e->tail == CACHE_NIL)
				e->head = c;
			else
				cache_chunk_next(r, s)[e->tail] = c;
			e->tail = c;
			e->nchunks++;
		}
		off = e->size - (uint64_t)(e->nchunks - 1) * CACHE_CHUNK;
		k = MTD_MIN(n, CACHE_CHUNK - off);
		memcpy(cache_chunk(r, s, e->tail) + off, q, k);
		e->size += k;
		q += k;
		n -= k;
	}
	return 0;
}

/* Fill <out> from entry <e> as seen at <now>. */
static void
cache_meta_locked(const struct cache_entry *e, time_t now,
    struct cache_hit *out)
{
	out->status = e->status;
	out->head_len = e->head_len;
	out->body_len = e->size - e->klen - e->head_len;
	out->need = out->head_len + out->body_len;
	out->stored_at = e->stored_at;
	out->expires_at = e->expires_at;
	out->age = now > e->stored_at ? (long)(now - e->stored_at) : 0;
	out->ttl = (long)(e->expires_at - now);
	out->last_modified = e->last_modified;
	memcpy(out->etag, e->etag, sizeof(out->etag));
	memcpy(out->variant, e->variant, sizeof(out->variant));
	out->id = e->id;
}

/* The lookup proper, on stripe <s>. Caller holds the lock. */
static int
cache_lookup_locked(struct cache_region *r, int s, uint64_t h,
    const char *key, size_t klen, time_t now, long stale_s,
    struct cache_hit *out, char *buf, size_t buflen)
{
	struct cache_stripe	*st = &r->stripe[s];
	struct cache_entry	*e = cache_entries(r, s);
	uint32_t		 i, fi;
	int			 rc;

	fi = cache_find_locked(r, s, h, key, klen, CACHE_E_FILLING);
	if (fi != CACHE_NIL && e[fi].deadline <= now)
		fi = CACHE_NIL;
	i = cache_find_locked(r, s, h, key, klen, CACHE_E_LIVE);
	if (i == CACHE_NIL)
		return fi != CACHE_NIL ? CACHE_PENDING : CACHE_MISS;
	cache_meta_locked(&e[i], now, out);
	if (now < e[i].expires_at)
		rc = CACHE_HIT;
	else if (stale_s > 0 && now - e[i].expires_at < stale_s)
		rc = CACHE_STALE;
	else
		return fi != CACHE_NIL ? CACHE_PENDING : CACHE_MISS;
	if (out->need > buflen)
		return CACHE_TOO_BIG;
	cache_io_locked(r, s, &e[i], klen, buf, out->need, 0);
	cache_list_unlink(e, i, &st->lru_head, &st->lru_tail);
	cache_list_push(e, i, &st->lru_head, &st->lru_tail);
	return rc;
}

int
cache_lookup(void *region, const char *key, size_t klen, time_t now,
    long stale_s, struct cache_hit *out, char *buf, size_t buflen)
{
	struct cache_region	*r = region;
	uint64_t		 h;
	int			 s, rc, rec;

	memset(out, 0, sizeof(*out));
	out->last_modified = -1;
	out->recovered = -1;
	if (r->nstripes == 0 || klen > CACHE_KEY_MAX) {
		atomic_fetch_add_explicit(&r->misses, 1, RLX);
		return CACHE_MISS;
	}
	h = cache_hash(r, key, klen);
	s = cache_stripe_of_hash(r, h);
	rec = cache_lock(r, s);
	rc = cache_lookup_locked(r, s, h, key, klen, now, stale_s, out, buf,
	    buflen);
	lock_release(&r->stripe[s].lock);

	if (rc == CACHE_HIT)
		atomic_fetch_add_explicit(&r->hits, 1, RLX);
	else if (rc == CACHE_STALE)
		atomic_fetch_add_explicit(&r->stale, 1, RLX);
	else if (rc == CACHE_MISS)
		atomic_fetch_add_explicit(&r->misses, 1, RLX);
	if (rec)
		out->recovered = s;
	cache_recovered(r, s, rec);
	return rc;
}

/* Claim on stripe <s>: see cache_fill_begin(). Caller holds the lock. */
static int
cache_claim_locked(struct cache_region *r, int s, uint64_t h,
    const char *key, size_t klen, time_t now, pid_t pid,
    struct cache_fill *f)
{
	struct cache_stripe	*st = &r->stripe[s];
	struct cache_entry	*e = cache_entries(r, s);
	uint32_t		*b;
	uint32_t		 i;

	cache_sweep_locked(r, s, now);
	if (cache_find_locked(r, s, h, key, klen, CACHE_E_FILLING) !=
	    CACHE_NIL)
		return CACHE_PENDING;
	if ((i = cache_entry_alloc_locked(r, s)) == CACHE_NIL)
		return -1;
	e[i].state = CACHE_E_FILLING;
	e[i].hash = h;
	e[i].klen = (uint32_t)klen;
	e[i].gen = ++st->gen;
	e[i].pid = (int32_t)pid;
	e[i].deadline = now + CACHE_FILL_TIMEOUT;
	e[i].last_modified = -1;
	b = &cache_buckets(r, s)[h & (r->nbuckets - 1)];
	e[i].hnext = *b;
	*b = i;
	cache_list_push(e, i, &st->fill_head, NULL);
	if (cache_write_locked(r, s, i, key, klen, now) == -1) {
		cache_free_locked(r, s, i);
		return -1;
	}
	f->entry = i;
	f->gen = e[i].gen;
	return 0;
}

int
cache_fill_begin(void *region, const char *key, size_t klen,
    size_t max_size, time_t now, struct cache_fill *f)
{
	struct cache_region	*r = region;
	uint64_t		 h, cap;
	pid_t			 pid;
	int			 s, rc, rec;

	memset(f, 0, sizeof(*f));
	f->recovered = -1;
	if (r->nstripes == 0 || klen > CACHE_KEY_MAX)
		return -1;
	cap = (uint64_t)r->nchunks * CACHE_CHUNK;
	if (klen >= cap)
		return -1;
	pid = getpid();
	h = cache_hash(r, key, klen);
	s = cache_stripe_of_hash(r, h);
	f->stripe = (uint32_t)s;
	f->klen = klen;
	f->max = cap;
	f->body_max = max_size;
	f->started = now;
	SHA256Init(&f->sha);

	rec = cache_lock(r, s);
	rc = cache_claim_locked(r, s, h, key, klen, now, pid, f);
	lock_release(&r->stripe[s].lock);

	if (rc == 0)
		f->active = 1;
	else if (rc == -1)
		atomic_fetch_add_explicit(&r->refused, 1, RLX);
	if (rec)
		f->recovered = s;
	cache_recovered(r, s, rec);
	return rc;
}

/*
 * The FILLING entry of <f> if it is still ours (not taken over after
 * its deadline, not dropped by a stripe reset), else NULL.
 */
static struct cache_entry *
cache_fill_entry_locked(struct cache_region *r, struct cache_fill *f)
{
	struct cache_entry	*e;

	if (f->entry >= r->nentries)
		return NULL;
	e = &cache_entries(r, (int)f->stripe)[f->entry];
	if (e->state != CACHE_E_FILLING || e->gen != f->gen)
		return NULL;
	return e;
}

static int
cache_fill_write(struct cache_region *r, struct cache_fill *f,
    const void *p, size_t n)
{
	int	 s = (int)f->stripe, rc = -1, rec;

	if (!f->active)
		return -1;
	if (n > f->max - f->klen - f->len || (f->head_len > 0 &&
	    n > f->body_max - (f->len - f->head_len))) {
		cache_fill_abort(r, f);
		atomic_fetch_add_explicit(&r->refused, 1, RLX);
		return -1;
	}
	rec = cache_lock(r, s);
	if (cache_fill_entry_locked(r, f) != NULL) {
		rc = cache_write_locked(r, s, f->entry, p, n, f->started);
		if (rc == -1)
			cache_free_locked(r, s, f->entry);
	}
	lock_release(&r->stripe[s].lock);

	if (rec)
		f->recovered = s;
	cache_recovered(r, s, rec);
	if (rc == -1) {
		f->active = 0;
		atomic_fetch_add_explicit(&r->refused, 1, RLX);
		return -1;
	}
	f->len += n;
	return 0;
}

int
cache_fill_head(void *region, struct cache_fill *f, const void *p,
    size_t n)
{
	if (cache_fill_write(region, f, p, n) == -1)
		return -1;
	f->head_len = f->len;
	return 0;
}

int
cache_fill_append(void *region, struct cache_fill *f, const void *p,
    size_t n)
{
	if (cache_fill_write(region, f, p, n) == -1)
		return -1;
	SHA256Update(&f->sha, p, n);
	return 0;
}

/* Publish entry <i> of <f>: see cache_fill_commit(). Caller holds it. */
static int
cache_publish_locked(struct cache_region *r, struct cache_fill *f,
    int status, long ttl_s, time_t now, const char *etag,
    time_t last_modified)
{
	int			 s = (int)f->stripe;
	struct cache_stripe	*st = &r->stripe[s];
	struct cache_entry	*e = cache_entries(r, s), *n;
	uint32_t		 i, j;

	if ((n = cache_fill_entry_locked(r, f)) == NULL)
		return -1;
	i = f->entry;
	j = cache_buckets(r, s)[n->hash & (r->nbuckets - 1)];
	for (; j != CACHE_NIL; j = e[j].hnext)
		if (e[j].state == CACHE_E_LIVE &&
		    cache_same_key_locked(r, s, &e[j], n)) {
			cache_free_locked(r, s, j);
			break;
		}
	cache_list_unlink(e, i, &st->fill_head, NULL);
	n->state = CACHE_E_LIVE;
	n->gen = 0;
	n->pid = 0;
	n->deadline = 0;
	n->status = status;
	n->head_len = (uint32_t)f->head_len;
	n->stored_at = now;
	n->expires_at = now + ttl_s;
	n->last_modified = last_modified;
	memcpy(n->etag, etag, CACHE_ETAG_MAX);
	memcpy(n->variant, f->variant, CACHE_VARIANT_LEN);
	n->id = atomic_fetch_add_explicit(&r->next_id, 1, RLX) + 1;
	cache_list_push(e, i, &st->lru_head, &st->lru_tail);
	atomic_fetch_add_explicit(&st->nlive, 1, RLX);
	atomic_fetch_add_explicit(&st->live_bytes, n->size, RLX);
	return 0;
}

int
cache_fill_commit(void *region, struct cache_fill *f, int status,
    long ttl_s, time_t now, const char *etag, time_t last_modified)
{
	struct cache_region	*r = region;
	char			 tag[CACHE_ETAG_MAX];
	char			 hex[SHA256_DIGEST_STRING_LENGTH];
	int			 s = (int)f->stripe, rc, rec;

	if (!f->active)
		return -1;
	if (ttl_s <= 0) {
		cache_fill_abort(r, f);
		return -1;
	}
	if (ttl_s > INT32_MAX)
		ttl_s = INT32_MAX;
	memset(tag, 0, sizeof(tag));
	if (etag == NULL || etag[0] == '\0') {
		SHA256End(&f->sha, hex);
		snprintf(tag, sizeof(tag), "\"%s\"", hex);
	} else if (strlen(etag) < sizeof(tag))
		memcpy(tag, etag, strlen(etag));

	rec = cache_lock(r, s);
	rc = cache_publish_locked(r, f, status, ttl_s, now, tag,
	    last_modified);
	lock_release(&r->stripe[s].lock);

	f->active = 0;
	if (rc == 0)
		atomic_fetch_add_explicit(&r->stores, 1, RLX);
	if (rec)
		f->recovered = s;
	cache_recovered(r, s, rec);
	return rc;
}

void
cache_fill_abort(void *region, struct cache_fill *f)
{
	struct cache_region	*r = region;
	int			 s = (int)f->stripe, rec;

	if (!f->active)
		return;
	rec = cache_lock(r, s);
	if (cache_fill_entry_locked(r, f) != NULL)
		cache_free_locked(r, s, f->entry);
	lock_release(&r->stripe[s].lock);
	f->active = 0;
	if (rec)
		f->recovered = s;
	cache_recovered(r, s, rec);
}

int
cache_purge(void *region, const char *key, size_t klen)
{
	struct cache_region	*r = region;
	uint64_t		 h;
	uint32_t		 i;
	int			 s, rec;

	if (r->nstripes == 0 || klen > CACHE_KEY_MAX)
		return 0;
	h = cache_hash(r, key, klen);
	s = cache_stripe_of_hash(r, h);
	rec = cache_lock(r, s);
	i = cache_find_locked(r, s, h, key, klen, CACHE_E_LIVE);
	if (i != CACHE_NIL)
		cache_free_locked(r, s, i);
	lock_release(&r->stripe[s].lock);
	cache_recovered(r, s, rec);
	return i != CACHE_NIL;
}

int
cache_purge_prefix(void *region, const char *prefix, size_t plen)
{
	struct cache_region	*r = region;
	struct cache_entry	*e;
	uint32_t		 i, next, s;
	int			 rec, n = 0;

	for (s = 0; s < r->nstripes; s++) {
		e = cache_entries(r, (int)s);
		rec = cache_lock(r, (int)s);
		for (i = r->stripe[s].lru_head; i != CACHE_NIL; i = next) {
			next = e[i].next;
			if (e[i].klen >= plen && cache_io_locked(r, (int)s,
			    &e[i], 0, (void *)prefix, plen, 1) == 0) {
				cache_free_locked(r, (int)s, i);
				n++;
			}
		}
		lock_release(&r->stripe[s].lock);
		cache_recovered(r, (int)s, rec);
	}
	return n;
}

static _Atomic uint64_t *
cache_counter(struct cache_region *r, int rc)
{
	switch (rc) {
	case CACHE_HIT:
		return &r->hits;
	case CACHE_STALE:
		return &r->stale;
	case CACHE_MISS:
		return &r->misses;
	default:
		return NULL;
	}
}

void
cache_recount(void *region, int from, int to)
{
	struct cache_region	*r = region;
	_Atomic uint64_t	*f = cache_counter(r, from);
	_Atomic uint64_t	*t = cache_counter(r, to);

	if (f != NULL)
		atomic_fetch_sub_explicit(f, 1, RLX);
	if (t != NULL)
		atomic_fetch_add_explicit(t, 1, RLX);
}

void
cache_stats(void *region, struct cache_stats *out)
{
	struct cache_region	*r = region;
	struct cache_stripe	*st;
	uint32_t		 s;

	memset(out, 0, sizeof(*out));
	out->stripes = (int)r->nstripes;
	for (s = 0; s < r->nstripes; s++) {
		st = &r->stripe[s];
		out->entries += atomic_load_explicit(&st->nlive, RLX);
		out->bytes += atomic_load_explicit(&st->used_bytes, RLX);
		out->object_bytes += atomic_load_explicit(&st->live_bytes,
		    RLX);
	}
	out->capacity = (uint64_t)r->nstripes * r->nchunks * CACHE_CHUNK;
	out->max_entries = (uint64_t)r->nstripes * r->nentries;
	out->max_object = (size_t)r->nchunks * CACHE_CHUNK;
	out->hits = atomic_load_explicit(&r->hits, RLX);
	out->stale = atomic_load_explicit(&r->stale, RLX);
	out->misses = atomic_load_explicit(&r->misses, RLX);
	out->evictions = atomic_load_explicit(&r->evictions, RLX);
	out->stores = atomic_load_explicit(&r->stores, RLX);
	out->refused = atomic_load_explicit(&r->refused, RLX);
	out->recoveries = atomic_load_explicit(&r->recoveries, RLX);
}

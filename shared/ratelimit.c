/*
 * Per-client rate limiting with GCRA in the shared segment. One slot per
 * client holds a theoretical arrival time; the check and the update
 * happen under one stripe lock, so the limit is exact however many
 * workers see the same client. Under a lock: no syscalls, no allocation,
 * no logging; counters are added and recoveries logged after unlocking.
 */
#include <sys/random.h>

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "lock.h"
#include "log.h"
#include "ratelimit.h"
#include "siphash.h"

#define NS_PER_US	1000LL
#define NS_PER_MS	1000000LL
#define NS_PER_S	1000000000LL
#define RL_TAU_MAX	(INT64_MAX / 4)	/* keeps tat + T from overflowing */

/*
 * The GCRA parameters, in nanoseconds so that odd rates (3 per second)
 * keep their precision.
 *
 *   N   = count + burst          requests a full bucket lets through
 *   T   = window / count         emission interval: one request regained
 *   tau = T * (N - 1)            burst tolerance
 *
 * A request at <now> passes when max(TAT, now) - now <= tau, and then
 * TAT = max(TAT, now) + T; a refused request leaves TAT alone. A fresh
 * client (TAT <= now) at one instant: request k sees TAT - now =
 * (k - 1) * T, which is <= tau for k = 1..N and > tau for k = N + 1.
 * After that one request passes every T. With "rate_limit 100/60s" and
 * no burst: T = 600 ms, 100 requests pass at once, the 101st is refused
 * with TAT - now = 60 s, and the next passes 60 s - tau = 600 ms later.
 */
struct rl_params {
	int64_t		 t_ns;		/* T */
	int64_t		 tau_ns;	/* tau */
	long		 n;		/* N */
	long		 window_s;
	long		 quota;		/* advertised: quota per quota_w s */
	long		 quota_w;
};

/*
 * The RateLimit-Policy a client may pace itself by: the sustained rate,
 * not count + burst (a client spending the burst every window would be
 * refused), over a whole number of seconds. 100/500ms is 200 per 1 s;
 * 100/1500ms is 133 per 2 s, rounded down so that following it never
 * earns a 429.
 */
static void
rl_quota(long count, int64_t win_ms, struct rl_params *p)
{
	int64_t	 w_ms = (win_ms + 999) / 1000 * 1000;

	p->quota_w = (long)(w_ms / 1000);
	p->quota = (long)((__int128)count * w_ms / win_ms);
	if (p->quota < 1)
		p->quota = 1;
	if (p->quota > RL_COUNT_MAX * 2)
		p->quota = RL_COUNT_MAX * 2;
}

static void
rl_params(const struct conf *c, struct rl_params *p)
{
	long	 count = c->rate_limit_count > 0 ? c->rate_limit_count : 1;
	long	 burst = c->rate_limit_burst > 0 ? c->rate_limit_burst : 0;
	int64_t	 win = c->rate_limit_window_ms;

	if (win < 1)
		win = 1;
	if (win > RL_TAU_MAX / NS_PER_MS)
		win = RL_TAU_MAX / NS_PER_MS;
	p->t_ns = win * NS_PER_MS / count;
	if (p->t_ns < 1)
		p->t_ns = 1;
	p->n = count + burst;
	if (__builtin_mul_overflow(p->t_ns, (int64_t)(p->n - 1), &p->tau_ns) ||
	    p->tau_ns > RL_TAU_MAX)
		p->tau_ns = RL_TAU_MAX;
	p->window_s = (long)((win + 999) / 1000);
	rl_quota(count, win, p);
}

static size_t
rl_slots(size_t nslots)
{
	size_t	 n = RL_MIN_SLOTS;

	while (n < nslots && n < ((size_t)1 << 30))
		n <<= 1;
	return n;
}

size_t
ratelimit_region_size_slots(size_t nslots)
{
	return sizeof(struct rl_table) +
	    rl_slots(nslots) * sizeof(struct rl_slot);
}

size_t
ratelimit_slots_for(size_t bytes)
{
	size_t	 n = RL_MIN_SLOTS;

	while (n * 2 <= bytes / sizeof(struct rl_slot) &&
	    n < ((size_t)1 << 30))
		n <<= 1;
	return n;
}

size_t
ratelimit_region_size(const struct conf *c)
{
	return ratelimit_region_size_slots(
	    ratelimit_slots_for(c->rate_limit_size));
}

int
ratelimit_region_init_slots(void *mem, size_t nslots)
{
	struct rl_table	*t = mem;
	int		 i;

	/*
	 * The slots are fresh zero pages (ftruncate, MAP_ANONYMOUS): writing
	 * zeros over them would make a large rate_limit_size resident at
	 * once instead of as clients arrive.
	 */
	memset(t, 0, sizeof(*t));
	t->nslots = (uint32_t)rl_slots(nslots);
	t->buckets = t->nslots / RL_WAYS / RL_STRIPES;
	if (getrandom(t->hash_key, sizeof(t->hash_key), 0) !=
	    (ssize_t)sizeof(t->hash_key)) {
		log_warn("rate limit: getrandom");
		return -1;
	}
	for (i = 0; i < RL_STRIPES; i++)
		if (lock_init(&t->stripe[i].lock) == -1) {
			log_warnx("rate limit: cannot initialise stripe %d",
			    i);
			return -1;
		}
	t->magic = RL_MAGIC;
	return 0;
}

int
ratelimit_region_init(void *mem, const struct conf *c)
{
	return ratelimit_region_init_slots(mem,
	    ratelimit_slots_for(c->rate_limit_size));
}

void
ratelimit_client_key(const struct conf *c, const uint8_t addr16[16],
    uint8_t key[16])
{
	static const uint8_t	 v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	int			 prefix = c->rate_limit_ipv6_prefix;
	int			 full, rem;

	memcpy(key, addr16, 16);
	if (memcmp(addr16, v4mapped, sizeof(v4mapped)) == 0)
		return;
	if (prefix < 0)
		prefix = 0;
	if (prefix >= 128)
		return;
	full = prefix / 8;
	rem = prefix % 8;
	key[full] &= (uint8_t)(0xff00 >> rem);
	memset(key + full + 1, 0, 15 - full);
}

/* Hash of a masked key: the top bits pick the stripe, the low the bucket. */
static uint64_t
rl_hash(const struct rl_table *t, const uint8_t key[16])
{
	return siphash24(key, 16, t->hash_key);
}

static int
rl_stripe_of_hash(uint64_t h)
{
	return (int)(h >> (64 - RL_STRIPE_BITS));
}

int
ratelimit_stripe_of(const void *region, const struct conf *c,
    const uint8_t addr16[16])
{
	uint8_t	 key[16];

	ratelimit_client_key(c, addr16, key);
	return rl_stripe_of_hash(rl_hash(region, key));
}

void
ratelimit_repair_locked(struct rl_table *t, int s)
{
	size_t	 per = (size_t)t->buckets * RL_WAYS;

	memset(&t->slot[(size_t)s * per], 0, per * sizeof(struct rl_slot));
}

/*
 * The slot for <key> in the bucket at <b>: its own, else one whose TAT
 * has passed (a refilled client is as good as none), else the least
 * recently seen, which is evicted (*evicted set). Caller holds the lock.
 */
static struct rl_slot *
rl_find_locked(struct rl_slot *b, const uint8_t key[16], int64_t now,
    int *evicted)
{
	struct rl_slot	*spare = NULL, *lru = &b[0];
	int		 i;

	for (i = 0; i < RL_WAYS; i++) {
		if (memcmp(b[i].key, key, 16) == 0)
			return &b[i];
		if (b[i].tat_ns <= now) {
			if (spare == NULL)
				spare = &b[i];
		} else if (b[i].seen_ns < lru->seen_ns)
			lru = &b[i];
	}
	if (spare == NULL) {
		spare = lru;
		*evicted = 1;
	}
	memcpy(spare->key, key, 16);
	spare->tat_ns = 0;
	return spare;
}

/* Apply GCRA to slot <s> at <now>; fill <out>. Caller holds the lock. */
static int
rl_update_locked(struct rl_slot *s, const struct rl_params *p, int64_t now,
    struct rl_result *out)
{
	int64_t	 tat = MTD_MAX(s->tat_ns, now), d;

	/*
	 * Under these parameters tat never passes now + tau + T (only an
	 * allowed request moves it). Beyond that it comes from a stricter
	 * limit before a reload: count the client as having used up the new
	 * allowance, no more, instead of waiting out the old one.
	 */
	if (tat - now > p->tau_ns + p->t_ns)
		tat = now + p->tau_ns;
	s->seen_ns = now;
	out->allowed = tat - now <= p->tau_ns;
	if (out->allowed) {
		tat += p->t_ns;
		s->tat_ns = tat;
		out->retry_after_s = 0;
	} else
		out->retry_after_s = (long)((tat - p->tau_ns - now +
		    NS_PER_S - 1) / NS_PER_S);
	if (out->retry_after_s < 1 && !out->allowed)
		out->retry_after_s = 1;
	d = tat - now;
	out->remaining = d > p->tau_ns ? 0 :
	    (long)((p->tau_ns - d) / p->t_ns) + 1;
	out->reset_s = (long)((d + NS_PER_S - 1) / NS_PER_S);
	return out->allowed;
}

/*
 * A live client was forgotten: it starts afresh, so the limit was not
 * exact for it. Counted, and said in the log at most once a minute per
 * process, so that a table too small for the traffic does not go unseen.
 */
static void
rl_note_eviction(struct rl_table *t, int64_t now)
{
	static int64_t	 last_ns;
	uint64_t	 n;

	n = atomic_fetch_add_explicit(&t->evictions, 1,
	    memory_order_relaxed) + 1;
	if (last_ns != 0 && now - last_ns < 60 * NS_PER_S)
		return;
	last_ns = now;
	log_warnx("rate limit: table bucket full, forgot a client still "
	    "being limited (%llu so far); the table holds %u clients, "
	    "rate_limit_size can raise that",
	    (unsigned long long)n, t->nslots);
}

int
ratelimit_check(void *region, const struct conf *c,
    const uint8_t addr16[16], int64_t now_us, struct rl_result *out)
{
	struct rl_table		*t = region;
	struct rl_params	 p;
	struct rl_slot		*b, *s;
	uint8_t			 key[16];
	uint64_t		 h;
	int64_t			 now = now_us * NS_PER_US;
	int			 st, evicted = 0;

	rl_params(c, &p);
	out->limit = p.n;
	out->window_s = p.window_s;
	out->quota = p.quota;
	out->quota_w = p.quota_w;
	out->recovered = -1;
	ratelimit_client_key(c, addr16, key);
	h = rl_hash(t, key);
	st = rl_stripe_of_hash(h);
	b = &t->slot[((size_t)st * t->buckets + (h & (t->buckets - 1))) *
	    RL_WAYS];

	if (lock_acquire(&t->stripe[st].lock) == LOCK_RECOVERED) {
		/* EOWNERDEAD: a worker died in here; start the stripe over. */
		ratelimit_repair_locked(t, st);
		lock_consistent(&t->stripe[st].lock);
		out->recovered = st;
	}
	s = rl_find_locked(b, key, now, &evicted);
	rl_update_locked(s, &p, now, out);
	lock_release(&t->stripe[st].lock);

	if (evicted)
		rl_note_eviction(t, now);
	if (!out->allowed)
		atomic_fetch_add_explicit(&t->refused, 1,
		    memory_order_relaxed);
	if (out->recovered != -1) {
		atomic_fetch_add_explicit(&t->recoveries, 1,
		    memory_order_relaxed);
		log_warnx("rate limit stripe %d recovered from a dead worker",
		    st);
	}
	return out->allowed;
}

uint64_t
ratelimit_evictions(const void *region)
{
	const struct rl_table	*t = region;

	return atomic_load_explicit(&t->evictions, memory_order_relaxed);
}

uint64_t
ratelimit_recoveries(const void *region)
{
	const struct rl_table	*t = region;

	return atomic_load_explicit(&t->recoveries, memory_order_relaxed);
}

uint64_t
ratelimit_refused(const void *region)
{
	const struct rl_table	*t = region;

	return atomic_load_explicit(&t->refused, memory_order_relaxed);
}

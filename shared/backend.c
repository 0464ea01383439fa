/*
 * Backend table and balancing strategies, shared by every process
 * through the segment. Round-robin and least-conn rotate one shared
 * atomic counter; ip-hash is weighted rendezvous hashing with a secret
 * key, so a backend going down moves only its own clients; weighted is
 * nginx's smooth weighted round-robin under the table's one robust lock.
 * Health changes are lock-free compare-and-swaps, so exactly one process
 * logs each transition.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <bsd/string.h>
#include <sha2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "conf.h"
#include "lock.h"
#include "log.h"
#include "mtd.h"
#include "siphash.h"

#define LN2	0.69314718055994530942

size_t
backend_region_size(const struct conf *c)
{
	int	 n = c != NULL ? MTD_MAX(c->nbackends, 0) : 0;

	return sizeof(struct backend_table) +
	    (size_t)n * sizeof(struct backend_slot);
}

size_t
backend_region_size_max(void)
{
	return sizeof(struct backend_table) +
	    (size_t)MTD_MAX_BACKENDS * sizeof(struct backend_slot);
}

static int
slot_init(struct backend_slot *s, const struct conf_backend *cb)
{
	if (cb->sslen > sizeof(s->ss) ||
	    strlcpy(s->name, cb->name, sizeof(s->name)) >= sizeof(s->name)) {
		log_warnx("backend %s: bad address", cb->name);
		return -1;
	}
	memcpy(&s->ss, &cb->ss, cb->sslen);
	s->sslen = cb->sslen;
	s->weight = MTD_MAX(cb->weight, 1);
	s->max_failures = MTD_MAX(cb->max_failures, 1);
	atomic_init(&s->up, 1);
	atomic_init(&s->fails, 0);
	atomic_init(&s->pfails, 0);
	atomic_init(&s->failures_total, 0);
	atomic_init(&s->checks_total, 0);
	atomic_init(&s->active, 0);
	atomic_init(&s->requests, 0);
	s->wrr_current = 0;
	return 0;
}

void
backend_carry_health(struct backend_table *to,
    const struct backend_table *from)
{
	const struct backend_slot	*o;
	struct backend_slot		*s;
	int				 i, j;

	if (to == NULL || from == NULL)
		return;
	for (i = 0; i < to->n; i++) {
		s = &to->slot[i];
		for (j = 0; j < from->n; j++) {
			o = &from->slot[j];
			if (strcmp(o->name, s->name) == 0 &&
			    o->sslen == s->sslen &&
			    memcmp(&o->ss, &s->ss, s->sslen) == 0)
				break;
		}
		if (j == from->n)
			continue;	/* new, or moved: starts up */
		atomic_store(&s->up, atomic_load(&o->up));
		atomic_store(&s->fails, atomic_load(&o->fails));
		atomic_store(&s->pfails, atomic_load(&o->pfails));
		atomic_store(&s->failures_total,
		    atomic_load(&o->failures_total));
		atomic_store(&s->checks_total, atomic_load(&o->checks_total));
		atomic_store(&s->requests, atomic_load(&o->requests));
	}
}

/*
 * The key of ip-hash placements and sticky-cookie tokens. It must not
 * change with a restart (that would move every client and void every
 * cookie) nor differ between hosts running one configuration, as nginx's
 * ip_hash does not: it comes from hash_secret (a fixed word when unset,
 * so then anyone can compute placements, as with nginx and HAProxy).
 */
static void
backend_hash_key(const struct conf *c, uint8_t key[16])
{
	static const char	 label[] = "maitred ip-hash and sticky key 1";
	uint8_t			 d[SHA256_DIGEST_LENGTH];
	SHA2_CTX		 ctx;

	SHA256Init(&ctx);
	SHA256Update(&ctx, (const uint8_t *)label, sizeof(label));
	SHA256Update(&ctx, (const uint8_t *)c->hash_secret,
	    strlen(c->hash_secret));
	SHA256Final(d, &ctx);
	memcpy(key, d, 16);
}

int
backend_region_init(void *mem, const struct conf *c)
{
	struct backend_table	*t = mem;
	int			 i, n = MTD_MAX(c->nbackends, 0);

	if (n > MTD_MAX_BACKENDS) {
		log_warnx("%d backends, at most %d", n, MTD_MAX_BACKENDS);
		return -1;
	}
	memset(mem, 0, backend_region_size(c));
	t->n = n;
	atomic_init(&t->rr, 0);
	/* Start with a full budget: the first failures may retry too. */
	atomic_init(&t->retry_budget, BACKEND_RETRY_CAP);
	backend_hash_key(c, t->hash_key);
	if (lock_init(&t->wrr_lock) == -1) {
		log_warnx("backend lock: cannot initialise");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (slot_init(&t->slot[i], &c->backends[i]) == -1)
			return -1;
		t->slot[i].place = siphash24(t->slot[i].name,
		    strlen(t->slot[i].name), t->hash_key);
	}
	t->magic = BACKEND_MAGIC;
	return 0;
}

struct backend_table *
backend_table_attach(void *mem)
{
	struct backend_table	*t = mem;

	if (t == NULL || t->magic != BACKEND_MAGIC)
		return NULL;
	return t;
}

int
backend_count(const struct backend_table *t)
{
	return t != NULL ? t->n : 0;
}

const struct backend_slot *
backend_get(const struct backend_table *t, int i)
{
	if (t == NULL || i < 0 || i >= t->n)
		return NULL;
	return &t->slot[i];
}

int
backend_is_up(const struct backend_table *t, int i)
{
	const struct backend_slot	*s = backend_get(t, i);

	return s != NULL &&
	    atomic_load_explicit(&s->up, memory_order_relaxed) != 0;
}

void
backend_info(const struct backend_table *t, int i, struct backend_info *bi)
{
	const struct backend_slot	*s = backend_get(t, i);

	memset(bi, 0, sizeof(*bi));
	if (s == NULL) {
		bi->name = "";
		return;
	}
	bi->name = s->name;
	bi->up = atomic_load(&s->up);
	bi->weight = s->weight;
	bi->max_failures = s->max_failures;
	bi->fails = MTD_MAX(atomic_load(&s->fails), atomic_load(&s->pfails));
	bi->active = atomic_load(&s->active);
	bi->requests = atomic_load(&s->requests);
	bi->failures = atomic_load(&s->failures_total);
	bi->checks = atomic_load(&s->checks_total);
}

/* Indices of the backends that are up and not in <exclude>, in order. */
static int
eligible(const struct backend_table *t, uint64_t exclude,
    int idx[MTD_MAX_BACKENDS])
{
	int	 i, m = 0;

	for (i = 0; i < t->n; i++) {
		if (exclude & ((uint64_t)1 << i))
			continue;
		if (atomic_load_explicit(&t->slot[i].up,
		    memory_order_relaxed))
			idx[m++] = i;
	}
	return m;
}

/*
 * Taking the k-th eligible backend (rather than "counter mod n, then
 * skip forward") keeps the rotation exact when some are down: with m
 * healthy backends, any m consecutive picks hit each one once.
 */
static int
pick_round_robin(struct backend_table *t, const int *idx, int m)
{
	uint64_t	 k;

	k = atomic_fetch_add_explicit(&t->rr, 1, memory_order_relaxed);
	return idx[k % (uint64_t)m];
}

/*
 * Fewest active connections. Ties are broken round-robin: the shared
 * counter chooses among the tied backends, so an idle pool is spread
 * exactly as round-robin would.
 */
static int
pick_least_conn(struct backend_table *t, const int *idx, int m)
{
	int64_t		 a[MTD_MAX_BACKENDS], min = INT64_MAX;
	int		 tied[MTD_MAX_BACKENDS];
	uint64_t	 k;
	int		 j, ntied = 0;

	for (j = 0; j < m; j++) {
		a[j] = atomic_load_explicit(&t->slot[idx[j]].active,
		    memory_order_relaxed);
		if (a[j] < min)
			min = a[j];
	}
	for (j = 0; j < m; j++)
		if (a[j] == min)
			tied[ntied++] = idx[j];
	k = atomic_fetch_add_explicit(&t->rr, 1, memory_order_relaxed);
	return tied[k % (uint64_t)ntied];
}

/* splitmix64's finaliser: a bijection that scatters every input bit. */
static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * -ln(u) for u = (top 53 bits of <x> + 1/2) / 2^53, strictly inside
 * (0, 1). Done by hand to stay out of libm: u = m * 2^e with m in
 * [1, 2), ln m = 2 atanh((m - 1) / (m + 1)), whose series converges to
 * ~1e-11 in 11 terms. Deterministic, so every process agrees.
 */
static double
neg_ln_unit(uint64_t x)
{
	double		 u, m, s, s2, term, sum = 0;
	uint64_t	 bits;
	int		 e, k;

	u = ((double)(x >> 11) + 0.5) * 0x1p-53;
	memcpy(&bits, &u, sizeof(bits));
	e = (int)((bits >> 52) & 0x7ff) - 1023;
	bits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
	memcpy(&m, &bits, sizeof(m));
	s = (m - 1) / (m + 1);
	s2 = s * s;
	term = s;
	for (k = 1; k <= 21; k += 2) {
		sum += term / k;
		term *= s2;
	}
	return -(e * LN2 + 2 * sum);
}

/*
 * Weighted rendezvous hashing: every (client, backend) pair gets a
 * pseudo-random u in (0, 1) and the backend with the smallest
 * -ln(u) / weight wins. The winner among the eligible depends only on
 * the pair scores, so removing a backend moves exactly its clients and
 * its return brings them back. A backend is known by its name, not its
 * line: a reload that adds or removes lines moves only the clients of
 * the backends added or removed. The hashes are keyed (SipHash with the
 * region's secret), so clients cannot aim at one backend.
 */
static int
pick_ip_hash(struct backend_table *t, const uint8_t client16[16],
    const int *idx, int m)
{
	static const uint8_t	 zero[16];
	uint64_t		 h;
	double			 score, best_score = 0;
	int			 j, i, best = -1;

	h = siphash24(client16 != NULL ? client16 : zero, 16, t->hash_key);
	for (j = 0; j < m; j++) {
		i = idx[j];
		score = neg_ln_unit(mix64(h ^ t->slot[i].place)) /
		    t->slot[i].weight;
		if (best == -1 || score < best_score) {
			best = i;
			best_score = score;
		}
	}
	return best;
}

/*
 * Smooth weighted round-robin (nginx): each eligible backend's current
 * weight grows by its weight, the largest wins (first on ties) and
 * gives back the total. Weights 3, 2, 1 give A B A C B A. Caller holds
 * wrr_lock.
 */
static int
pick_weighted_locked(struct backend_table *t, const int *idx, int m)
{
	struct backend_slot	*s, *best = NULL;
	int64_t			 total = 0;
	int			 j, besti = -1;

	for (j = 0; j < m; j++) {
		s = &t->slot[idx[j]];
		s->wrr_current += s->weight;
		total += s->weight;
		if (best == NULL || s->wrr_current > best->wrr_current) {
			best = s;
			besti = idx[j];
		}
	}
	if (best != NULL)
		best->wrr_current -= total;
	return besti;
}

/*
 * A process died in pick_weighted_locked(): some current weights may be
 * half-updated. Starting every backend again from zero is always a
 * valid state. Caller holds wrr_lock.
 */
static void
backend_repair_locked(struct backend_table *t)
{
	int	 i;

	for (i = 0; i < t->n; i++)
		t->slot[i].wrr_current = 0;
}

static int
pick_weighted(struct backend_table *t, uint64_t exclude)
{
	int	 idx[MTD_MAX_BACKENDS];
	int	 m, i, recovered = 0;

	if (lock_acquire(&t->wrr_lock) == LOCK_RECOVERED) {
		backend_repair_locked(t);
		lock_consistent(&t->wrr_lock);
		recovered = 1;
	}
	m = eligible(t, exclude, idx);
	i = m > 0 ? pick_weighted_locked(t, idx, m) : -1;
	lock_release(&t->wrr_lock);
	if (recovered)
		log_warnx("backend lock: owner died, weighted round-robin "
		    "state reset");
	return i;
}

int
backend_pick(struct backend_table *t, enum lb_strategy s,
    const uint8_t client16[16], uint64_t exclude_mask)
{
	int	 idx[MTD_MAX_BACKENDS];
	int	 m;

	if (t == NULL || t->n == 0)
		return -1;
	if (s == LB_WEIGHTED)
		return pick_weighted(t, exclude_mask);
	if ((m = eligible(t, exclude_mask, idx)) == 0)
		return -1;
	switch (s) {
	case LB_LEAST_CONN:
		return pick_least_conn(t, idx, m);
	case LB_IP_HASH:
		return pick_ip_hash(t, client16, idx, m);
	case LB_ROUND_ROBIN:
	default:
		return pick_round_robin(t, idx, m);
	}
}

/*
 * This process's entry in <t>->acct, claimed on first use; NULL when all
 * are taken (the counts are then not repaired if it dies).
 */
static struct backend_acct *
my_acct(struct backend_table *t)
{
	static struct backend_table	*table;
	static struct backend_acct	*mine;
	int32_t				 free_pid, pid;
	int				 j;

	/* Workers never fork one another: the pid is read once per table. */
	if (table == t)
		return mine;
	table = t;
	pid = (int32_t)getpid();
	mine = NULL;
	for (j = 0; j < BACKEND_ACCT_MAX && mine == NULL; j++) {
		free_pid = 0;
		if (atomic_compare_exchange_strong(&t->acct[j].pid, &free_pid,
		    pid))
			mine = &t->acct[j];
	}
	return mine;
}

void
backend_conn_begin(struct backend_table *t, int i)
{
	struct backend_acct	*a;

	if (backend_get(t, i) == NULL)
		return;
	if ((a = my_acct(t)) != NULL)
		atomic_fetch_add_explicit(&a->held[i], 1,
		    memory_order_relaxed);
	atomic_fetch_add_explicit(&t->slot[i].active, 1,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&t->slot[i].requests, 1,
	    memory_order_relaxed);
}

void
backend_conn_end(struct backend_table *t, int i)
{
	struct backend_acct	*a;

	if (backend_get(t, i) == NULL)
		return;
	atomic_fetch_sub_explicit(&t->slot[i].active, 1,
	    memory_order_relaxed);
	if ((a = my_acct(t)) != NULL)
		atomic_fetch_sub_explicit(&a->held[i], 1,
		    memory_order_relaxed);
}

void
backend_forget_process(struct backend_table *t, pid_t pid)
{
	int32_t	 n;
	int	 j, i;

	if (t == NULL)
		return;
	for (j = 0; j < BACKEND_ACCT_MAX; j++) {
		if (atomic_load(&t->acct[j].pid) != (int32_t)pid)
			continue;
		for (i = 0; i < t->n; i++)
			if ((n = atomic_exchange(&t->acct[j].held[i], 0)) != 0)
				atomic_fetch_sub(&t->slot[i].active, n);
		atomic_store(&t->acct[j].pid, 0);
	}
}

/* A failure, the <f>th in a row of its kind: down at max_failures. */
static void
backend_failed(struct backend_slot *s, int f, const char *kind,
    const char *why)
{
	int	 expect = 1;

	atomic_fetch_add_explicit(&s->failures_total, 1, memory_order_relaxed);
	if (why == NULL)
		why = "failed";
	/* Past max_failures the count says nothing more: "still down". */
	if (LOG_DEBUGGING() && f > s->max_failures)
		log_debug("backend %s: %s failed: %s (still down)", s->name,
		    kind, why);
	else if (LOG_DEBUGGING())
		log_debug("backend %s: %s failed: %s (%d/%d)", s->name, kind,
		    why, f, s->max_failures);
	if (f >= s->max_failures &&
	    atomic_compare_exchange_strong(&s->up, &expect, 0))
		log_warnx("backend %s down: %s (%d/%d)", s->name, why, f,
		    s->max_failures);
}

/*
 * The compare-and-swap on <up> elects the one process that logs a
 * transition. A success racing a failure may leave the fields briefly
 * out of step (down with fails 0); the next report settles it, which is
 * all health needs.
 */
void
backend_report(struct backend_table *t, int i, int ok, const char *why)
{
	struct backend_slot	*s;
	int			 expect = 0;

	if (backend_get(t, i) == NULL)
		return;
	s = &t->slot[i];
	atomic_fetch_add_explicit(&s->checks_total, 1, memory_order_relaxed);
	if (!ok) {
		backend_failed(s, atomic_fetch_add(&s->fails, 1) + 1, "check",
		    why);
		return;
	}
	if (LOG_DEBUGGING())
		log_debug("backend %s: check ok", s->name);
	atomic_store(&s->fails, 0);
	atomic_store(&s->pfails, 0);
	if (atomic_compare_exchange_strong(&s->up, &expect, 1))
		log_info("backend %s up", s->name);
}

void
backend_report_passive(struct backend_table *t, int i, int ok,
    const char *why)
{
	struct backend_slot	*s;

	if (backend_get(t, i) == NULL)
		return;
	s = &t->slot[i];
	if (ok) {
		/* Only a write to shared memory when there is news. */
		if (atomic_load_explicit(&s->pfails, memory_order_relaxed) != 0)
			atomic_store(&s->pfails, 0);
		return;
	}
	atomic_fetch_add_explicit(&s->checks_total, 1, memory_order_relaxed);
	backend_failed(s, atomic_fetch_add(&s->pfails, 1) + 1, "request",
	    why);
}

void
backend_retry_earn(struct backend_table *t, unsigned requests)
{
	int64_t	 add = (int64_t)requests * BACKEND_RETRY_EARN, old;

	old = atomic_fetch_add_explicit(&t->retry_budget, add,
	    memory_order_relaxed);
	/* Cap it; a lost race only leaves it a little over, harmlessly. */
	if (old + add > BACKEND_RETRY_CAP)
		atomic_store_explicit(&t->retry_budget, BACKEND_RETRY_CAP,
		    memory_order_relaxed);
}

int
backend_retry_spend(struct backend_table *t)
{
	int64_t	 old;

	old = atomic_load_explicit(&t->retry_budget, memory_order_relaxed);
	do {
		if (old < 1000)
			return 0;
	} while (!atomic_compare_exchange_weak_explicit(&t->retry_budget,
	    &old, old - 1000, memory_order_relaxed, memory_order_relaxed));
	return 1;
}

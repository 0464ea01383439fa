/*
 * Per-worker counters: writes are relaxed atomic adds on the worker's own
 * slot (cheap, never contended); stats_sum() adds the slots up for the
 * master's shutdown line and the status pages.
 */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "shm.h"
#include "stats.h"

struct stats_slot	*stats_self;
static struct stats_acct	*acct_self;	/* NULL: none was free */

/* floor(log2(<us>)), capped at the open-ended last bucket; see stats.h. */
static int
lat_bucket(uint64_t us)
{
	int	 b = 0;

	while (us > 1 && b < STATS_LAT_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

void
stats_request(int status, uint64_t in, uint64_t out, uint64_t us)
{
	int	 cls = status / 100;

	if (stats_self == NULL)
		return;
	if (cls < 1 || cls > 5)
		cls = 0;
	STATS_ADD(requests, 1);
	STATS_ADD(status[cls], 1);
	STATS_ADD(bytes_in, in);
	STATS_ADD(bytes_out, out);
	STATS_ADD(lat_us_sum, us);
	STATS_ADD(lat[lat_bucket(us)], 1);
}

#define LOAD(x)	atomic_load_explicit(&(x), memory_order_relaxed)

void
stats_sum(struct stats_total *t)
{
	struct stats_slot	*s;
	uint32_t		 i;
	int			 j;

	memset(t, 0, sizeof(*t));
	if (shm == NULL)
		return;
	for (i = 0; i < shm->nslots; i++) {
		s = shm_stats_slot((int)i);
		t->requests += LOAD(s->requests);
		for (j = 0; j < 6; j++)
			t->status[j] += LOAD(s->status[j]);
		t->bytes_in += LOAD(s->bytes_in);
		t->bytes_out += LOAD(s->bytes_out);
		t->bytes_spliced += LOAD(s->bytes_spliced);
		t->bytes_buffered += LOAD(s->bytes_buffered);
		t->conns_total += LOAD(s->conns_total);
		t->conns_active += LOAD(s->conns_active);
		t->blocked += LOAD(s->blocked);
		t->limited += LOAD(s->limited);
		t->cache_hits += LOAD(s->cache_hits);
		t->cache_misses += LOAD(s->cache_misses);
		t->php_waits += LOAD(s->php_waits);
		t->backend_waits += LOAD(s->backend_waits);
		t->lat_us_sum += LOAD(s->lat_us_sum);
		for (j = 0; j < STATS_LAT_BUCKETS; j++)
			t->lat[j] += LOAD(s->lat[j]);
		t->restarts += LOAD(s->restarts);
	}
}

void
stats_attach(int slot)
{
	struct stats_acct	*a = shm_stats_acct();
	int32_t			 free_pid;
	int			 j;

	stats_self = shm_stats_slot(slot);
	for (j = 0; j < STATS_ACCT_MAX; j++) {
		free_pid = 0;
		if (atomic_compare_exchange_strong(&a[j].pid, &free_pid,
		    (int32_t)getpid())) {
			a[j].slot = slot;
			atomic_store(&a[j].conns_active, 0);
			acct_self = &a[j];
			return;
		}
	}
	log_warnx("stats: no free entry: connections left open if this "
	    "worker dies stay counted as active");
}

void
stats_conns_add(int64_t n)
{
	if (stats_self == NULL)
		return;
	/*
	 * Killed between the two adds, the master takes back what the entry
	 * holds: the entry goes up last and down first, so that the slot is
	 * at worst one too high, never below zero.
	 */
	if (n < 0 && acct_self != NULL)
		atomic_fetch_add_explicit(&acct_self->conns_active, n,
		    memory_order_relaxed);
	STATS_ADD(conns_active, n);
	if (n > 0 && acct_self != NULL)
		atomic_fetch_add_explicit(&acct_self->conns_active, n,
		    memory_order_relaxed);
}

void
stats_forget_process(pid_t pid)
{
	struct stats_acct	*a;
	int64_t			 n;
	int			 j;

	if (shm == NULL)
		return;
	a = shm_stats_acct();
	for (j = 0; j < STATS_ACCT_MAX; j++) {
		if (atomic_load(&a[j].pid) != (int32_t)pid)
			continue;
		if ((n = atomic_exchange(&a[j].conns_active, 0)) != 0)
			atomic_fetch_sub(&shm_stats_slot(a[j].slot)->conns_active,
			    n);
		atomic_store(&a[j].pid, 0);
	}
}

/*
 * Per-worker counters in the shared segment. Each worker writes only its
 * own slot (relaxed atomics, no lock), except that the master takes back
 * a dead worker's open connections from conns_active. Readers (the
 * master at shutdown, the status page) sum the slots. A respawned worker
 * keeps its slot's counters, so totals survive crashes.
 */
#ifndef STATS_H
#define STATS_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "mtd.h"

/*
 * Request time histogram: bucket i counts times in [2^i, 2^(i+1))
 * microseconds (bucket 0 also 0 us), so its upper bound is 2^(i+1); the
 * last bucket has no upper bound (>= 2^23 us, about 8.4 s).
 */
#define STATS_LAT_BUCKETS	24

struct stats_slot {
	/*
	 * Written by the master; read by anyone. pid: the slot's worker of
	 * the current generation, 0 while it has none (dead and waiting to
	 * be respawned, or unused since a reload to fewer workers; retired
	 * workers still add to the counters below but are not listed).
	 */
	_Atomic int32_t		 pid;
	_Atomic uint32_t	 restarts;
	/*
	 * Written by the worker of this slot only (but conns_active, see
	 * struct stats_acct); read by anyone.
	 */
	_Atomic uint64_t	 requests;
	_Atomic uint64_t	 status[6];	/* [0] other, [1] 1xx .. [5] 5xx */
	_Atomic uint64_t	 bytes_in;
	_Atomic uint64_t	 bytes_out;
	_Atomic uint64_t	 bytes_spliced;	/* part of bytes_out */
	_Atomic uint64_t	 bytes_buffered;	/* to temp_dir files */
	_Atomic uint64_t	 conns_total;
	_Atomic int64_t		 conns_active;
	_Atomic uint64_t	 blocked;	/* blacklist */
	_Atomic uint64_t	 limited;	/* rate limit */
	_Atomic uint64_t	 cache_hits;
	_Atomic uint64_t	 cache_misses;
	/* PHP requests that waited for a FastCGI connection */
	_Atomic uint64_t	 php_waits;
	/* Proxied requests that waited for a backend slot */
	_Atomic uint64_t	 backend_waits;
	_Atomic uint64_t	 lat_us_sum;
	_Atomic uint64_t	 lat[STATS_LAT_BUCKETS];
} __attribute__((aligned(64)));

struct stats_total {
	uint64_t	 requests, status[6], bytes_in, bytes_out, bytes_spliced;
	uint64_t	 bytes_buffered;
	uint64_t	 conns_total, blocked, limited, cache_hits, cache_misses;
	uint64_t	 php_waits, backend_waits;
	uint64_t	 lat_us_sum, lat[STATS_LAT_BUCKETS];
	int64_t		 conns_active;
	uint64_t	 restarts;
};

/* Workers alive at once: current ones plus retired ones still draining. */
#define STATS_ACCT_MAX		(MTD_MAX_WORKERS + MTD_MAX_RETIRED)

/*
 * What one worker process adds to its slot's conns_active, so that the
 * master can take it back when the process dies without closing them
 * (a crash, kill -9): the slot's count is shared with the retired
 * workers of the same slot and with its respawned successors. The worker
 * claims an entry with its pid at start; the master frees it when it
 * reaps that pid.
 */
struct stats_acct {
	_Atomic int32_t		 pid;		/* 0: free */
	int32_t			 slot;
	_Atomic int64_t		 conns_active;
};

/* The calling worker's slot; set once by worker_main(). */
extern struct stats_slot	*stats_self;

#define STATS_ADD(field, n) \
	atomic_fetch_add_explicit(&stats_self->field, (n), memory_order_relaxed)

/* Count one finished request: <status>, bytes, latency. Worker only. */
void	 stats_request(int status, uint64_t in, uint64_t out, uint64_t us);
/* Sum every slot into <t>. Any process, no lock. */
void	 stats_sum(struct stats_total *t);
/* Point stats_self at <slot> and claim this process's entry. Worker. */
void	 stats_attach(int slot);
/* One connection more (1) or fewer (-1) open in this worker. */
void	 stats_conns_add(int64_t n);
/*
 * Take back from its slot what <pid>, which has died, still counted as
 * open connections. The master, after waitpid.
 */
void	 stats_forget_process(pid_t pid);

#endif /* STATS_H */

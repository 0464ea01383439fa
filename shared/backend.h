/*
 * The backend table in the shared segment and the four balancing
 * strategies. The master lays the table out before it forks; every
 * process then picks, counts and reports through the same memory, so
 * round-robin, least-conn and weighted are global across workers.
 * Only indices and offsets live here, never pointers; health and
 * counters are C11 atomics, and the one lock guards the smooth
 * weighted round-robin state.
 */
#ifndef BACKEND_H
#define BACKEND_H

#include <sys/socket.h>
#include <sys/types.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "lock.h"
#include "mtd.h"

#define BACKEND_MAGIC	0x6d74646265ULL		/* "mtdbe" */

struct backend_slot {
	/* Written by the master at region init; read-only afterwards. */
	char			 name[300];	/* "host:port", "[::1]:port" */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 weight;	/* >= 1 */
	int			 max_failures;	/* >= 1 */
	uint64_t		 place;		/* ip-hash: keyed hash of name */

	/* Written by backend_report() in any process; read by anyone. */
	_Atomic int		 up;		/* 1 healthy, 0 down */
	_Atomic int		 fails;		/* failed checks in a row */
	_Atomic int		 pfails;	/* failed requests in a row */
	_Atomic uint64_t	 failures_total;
	_Atomic uint64_t	 checks_total;	/* reports, ok or not */

	/* Written by workers (backend_conn_*); read by anyone. */
	_Atomic int64_t		 active;	/* connections in use */
	_Atomic uint64_t	 requests;	/* requests sent */

	/* Smooth weighted round-robin; guarded by backend_table.wrr_lock. */
	int64_t			 wrr_current;
} __attribute__((aligned(64)));

/* Workers alive at once: current ones plus retired ones still draining. */
#define BACKEND_ACCT_MAX	(MTD_MAX_WORKERS * 5)

/* What one worker process holds, per backend; see backend_table.acct. */
struct backend_acct {
	_Atomic int32_t		 pid;		/* 0: free */
	_Atomic int32_t		 held[MTD_MAX_BACKENDS];
};

struct backend_table {
	/* Written by the master at region init; read-only afterwards. */
	uint64_t		 magic;
	int			 n;		/* slots in use */
	uint8_t			 hash_key[16];	/* ip-hash key, getrandom */

	/* Round-robin position, also the least-conn tie rotation. */
	_Atomic uint64_t	 rr;		/* any process */

	/*
	 * Retry budget in thousandths of a retry: requests earn
	 * BACKEND_RETRY_EARN each, a retry spends 1000, the balance is capped
	 * at BACKEND_RETRY_CAP. Workers, atomics only.
	 */
	_Atomic int64_t		 retry_budget;

	/* Guards every slot's wrr_current. Any process; see lock.h. */
	struct mtd_lock		 wrr_lock;

	/*
	 * Connections each worker holds, per backend: the master gives back
	 * those of a worker that died (kill -9, a crash), which would
	 * otherwise stay in 'active' for good and skew least-conn. A worker
	 * claims an entry with its pid at its first connection; the master
	 * frees it when it reaps that pid.
	 */
	struct backend_acct	 acct[BACKEND_ACCT_MAX];

	struct backend_slot	 slot[];	/* n of them */
};

#define BACKEND_RETRY_EARN	200		/* 20% of requests may retry */
#define BACKEND_RETRY_CAP	(100 * 1000)	/* a burst of 100 retries */

/* A consistent-enough copy of one slot's state for the status page. */
struct backend_info {
	const char	*name;		/* points into the caller's mapping */
	int		 up;
	int		 weight;
	int		 max_failures;
	int		 fails;		/* consecutive */
	int64_t		 active;
	uint64_t	 requests;
	uint64_t	 failures;	/* total failed reports */
	uint64_t	 checks;	/* total reports */
};

/*
 * Retry budget shared by every worker, so that one failing backend can
 * never turn into a retry storm: <requests> finished requests earn their
 * share; backend_retry_spend() returns 1 when a retry may go, 0 when the
 * budget is spent. Any process, lock-free.
 */
void		 backend_retry_earn(struct backend_table *t, unsigned requests);
int		 backend_retry_spend(struct backend_table *t);

/* Bytes a table of MTD_MAX_BACKENDS needs (reload may grow the list). */
size_t		 backend_region_size_max(void);

/* Bytes the table needs for the backends of <c>. Any process, no lock. */
size_t		 backend_region_size(const struct conf *c);

/*
 * Lay out the table for <c> in <mem> (backend_region_size() zeroed
 * bytes, MAP_SHARED): addresses and weights copied, every backend up,
 * the ip-hash key drawn from getrandom(2), the lock initialised.
 * Returns 0, or -1 logged. Master only, before it forks.
 */
int		 backend_region_init(void *mem, const struct conf *c);

/*
 * Typed view of the region at <mem> made by backend_region_init(); NULL
 * when <mem> is not one. Any process.
 */
struct backend_table *backend_table_attach(void *mem);
/*
 * A reload's new table <to> takes over, from the current one <from>,
 * the health and counters of every backend both have (same name, same
 * address): a dead backend stays down, and its failures go on counting.
 * Master, before workers use <to>.
 */
void		 backend_carry_health(struct backend_table *to,
		    const struct backend_table *from);

/* Number of backends in <t>. Any process, no lock. */
int		 backend_count(const struct backend_table *t);

/*
 * Read-only view of backend <i> of <t> (name, ss/sslen, weight); NULL
 * when <i> is out of range. The atomics inside may change at any time.
 * Any process, no lock.
 */
const struct backend_slot *backend_get(const struct backend_table *t, int i);

/* 1 when backend <i> of <t> is healthy, else 0. Any process, no lock. */
int		 backend_is_up(const struct backend_table *t, int i);

/* Fill <bi> with a snapshot of backend <i>. Any process, no lock. */
void		 backend_info(const struct backend_table *t, int i,
		    struct backend_info *bi);

/*
 * Choose a backend of <t> with strategy <s> for client <client16> (the
 * IPv4-mapped address, see cidr_addr_from_sa(); only ip-hash reads it),
 * skipping those down and those whose bit is set in <exclude_mask>
 * (already tried for this request). Returns the index, or -1 when no
 * backend is eligible. Lock-free except LB_WEIGHTED, which takes
 * wrr_lock itself (and repairs it if its owner died). Workers.
 */
int		 backend_pick(struct backend_table *t, enum lb_strategy s,
		    const uint8_t client16[16], uint64_t exclude_mask);

/*
 * A connection to backend <i> of <t> starts (active++, requests++) or
 * ends (active--). Atomics, no lock. Workers.
 */
void		 backend_conn_begin(struct backend_table *t, int i);
void		 backend_conn_end(struct backend_table *t, int i);
/*
 * The worker <pid> is gone: give back the connections it held in <t>
 * and free its entry. Master, after waitpid().
 */
void		 backend_forget_process(struct backend_table *t, pid_t pid);

/*
 * Count one health check result for backend <i>: <ok> non-zero resets
 * both failure counts and marks the backend up; a failure increments
 * the checks' count and marks the backend down once it reaches
 * max_failures. <why> ("connect
 * refused", "timeout", "http status 500") goes into the log line. Each
 * change of state logs exactly one line, "backend NAME down: WHY
 * (F/MAX)" or "backend NAME up", from the process that made it.
 * Lock-free. Workers (passive) and the master (active checks).
 */
void		 backend_report(struct backend_table *t, int i, int ok,
		    const char *why);
/*
 * The same for what a worker met while proxying (passive checks), with
 * a count of its own: failures in a row mark the backend down as checks
 * do, but an answer only resets that count. It never marks a backend up
 * nor cancels failing checks: a backend that answers its traffic while
 * its health check fails still goes down, and an answer that was in
 * flight does not bring a down backend back. Workers.
 */
void		 backend_report_passive(struct backend_table *t, int i,
		    int ok, const char *why);

#endif /* BACKEND_H */

/*
 * The shared segment: one shared anonymous mapping made by the master
 * before it forks, inherited by every worker. It has no name, so nothing
 * outlives the processes, whatever kills them, and it is not bounded by
 * the size of /dev/shm. Regions are addressed by offsets from the header,
 * never by pointers.
 *
 * Lock order (when two are ever held together): backend lock, then cache
 * stripe, then rate-limit stripe. Today no code path holds two.
 */
#ifndef SHM_H
#define SHM_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "stats.h"

struct backend_table;

#define SHM_MAGIC	0x6d61697472656431ULL	/* "maitred1" */
#define SHM_VERSION	1

struct shm_header {
	/* Written by the master at creation; read-only afterwards. */
	uint64_t	 magic;
	uint32_t	 version;
	uint32_t	 nslots;		/* stats slots */
	size_t		 size;			/* whole mapping */
	int64_t		 start_time;		/* time(NULL) at creation */
	size_t		 stats_off;
	size_t		 stats_acct_off;	/* struct stats_acct[STATS_ACCT_MAX] */
	size_t		 backends_off[2];	/* two tables, see below */
	size_t		 ratelimit_off;
	size_t		 cache_off;
	size_t		 blacklist_off;
	/* Written by the master at each reload; read by anyone. */
	_Atomic uint64_t generation;
	/*
	 * Which backends table is current. A reload that changes the backend
	 * list fills the other table and flips this; every worker keeps the
	 * table that was current when it was forked (proxy_init()), so the
	 * master refills a table only once no worker uses it any more
	 * (spawn_table_users()). Written by the master only.
	 */
	_Atomic int	 backends_cur;
};

extern struct shm_header *shm;

/* Create and map the segment sized for <c>. 0, or -1 logged. Master. */
int	 shm_create(const struct conf *c);
/* -t: whether the segment for <c> could be mapped (then unmapped). */
int	 shm_check(const struct conf *c);
void	 shm_destroy(void);
/* Region base pointers in this process's mapping. */
void	*shm_region(size_t off);
struct stats_slot *shm_stats_slot(int slot);
/* The STATS_ACCT_MAX entries of struct stats_acct. */
struct stats_acct *shm_stats_acct(void);
struct backend_table *shm_backends(void);
/* Index (0 or 1) of the current backends table. Any process. */
int	 shm_backends_index(void);
/* Table <k> (0 or 1), current or not; NULL before it was ever set up. */
struct backend_table *shm_backends_at(int k);
/*
 * Master, on reload: fill the spare table from <c> and make it current.
 * The caller makes sure that no live worker still uses the spare table.
 */
int	 shm_backends_switch(const struct conf *c);
void	*shm_ratelimit(void);
void	*shm_cache(void);

#endif /* SHM_H */

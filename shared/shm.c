/*
 * Shared segment creation. The master sizes every region from the
 * configuration, maps one shared anonymous mapping and lets each region's
 * module initialise its part. Forked workers inherit the mapping; it has
 * no name, so a kill -9 of the master can never leave an object behind.
 * Not a POSIX shm object: those live in the /dev/shm mount, which is
 * often small (64 MB in a stock container), and a page past its end is
 * a SIGBUS in whichever process touches it first, the master included.
 * An anonymous mapping is bounded only by memory, as nginx's zones.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "blacklist.h"
#include "cache.h"
#include "log.h"
#include "ratelimit.h"
#include "shm.h"

struct shm_header	*shm;

static size_t
align_up(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

static int
shm_map(const struct conf *c, size_t size)
{
	void	*p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED) {
		/* cache_size is nearly all of it: the line to change. */
		log_warnx("%scache_size: the shared segment of %zu MB (the "
		    "cache, its index, the rate-limit table and the blacklist) "
		    "cannot be mapped: %s", conf_at(c, c->cache_size_line),
		    size >> 20, strerror(errno));
		return -1;
	}
	shm = p;
	return 0;
}

/* Lay the regions out one after the other, each cache-line aligned. */
static size_t
layout(const struct conf *c, struct shm_header *h)
{
	size_t	 off = align_up(sizeof(struct shm_header));

	h->stats_off = off;
	off += align_up(sizeof(struct stats_slot) * MTD_MAX_WORKERS);
	h->stats_acct_off = off;
	off += align_up(sizeof(struct stats_acct) * STATS_ACCT_MAX);
	h->backends_off[0] = off;
	off += align_up(backend_region_size_max());
	h->backends_off[1] = off;
	off += align_up(backend_region_size_max());
	h->ratelimit_off = off;
	off += align_up(ratelimit_region_size(c));
	h->cache_off = off;
	off += align_up(cache_region_size(c));
	h->blacklist_off = off;
	off += align_up(blacklist_region_size(c));
	return off;
}

int
shm_check(const struct conf *c)
{
	struct shm_header	 h;
	void			*keep = shm;

	memset(&h, 0, sizeof(h));
	h.size = layout(c, &h);
	if (shm_map(c, h.size) == -1)
		return -1;
	munmap(shm, h.size);
	shm = keep;
	return 0;
}

int
shm_create(const struct conf *c)
{
	struct shm_header	 h;

	memset(&h, 0, sizeof(h));
	h.size = layout(c, &h);
	if (shm_map(c, h.size) == -1)
		return -1;
	/* The mapping's pages start zeroed: only the header to fill. */
	h.magic = SHM_MAGIC;
	h.version = SHM_VERSION;
	h.nslots = MTD_MAX_WORKERS;
	h.start_time = time(NULL);
	memcpy(shm, &h, sizeof(h));
	if (backend_region_init(shm_region(shm->backends_off[0]), c) == -1 ||
	    ratelimit_region_init(shm_region(shm->ratelimit_off), c) == -1 ||
	    cache_region_init(shm_region(shm->cache_off), c) == -1 ||
	    blacklist_region_init(shm_region(shm->blacklist_off), c) == -1) {
		log_warnx("cannot initialise the shared segment");
		shm_destroy();
		return -1;
	}
	return 0;
}

struct backend_table *
shm_backends(void)
{
	int	 cur = atomic_load(&shm->backends_cur);

	return backend_table_attach(shm_region(shm->backends_off[cur]));
}

struct backend_table *
shm_backends_at(int k)
{
	return backend_table_attach(shm_region(shm->backends_off[k & 1]));
}

int
shm_backends_index(void)
{
	return atomic_load(&shm->backends_cur);
}

int
shm_backends_switch(const struct conf *c)
{
	int			 next = 1 - atomic_load(&shm->backends_cur);
	void			*mem = shm_region(shm->backends_off[next]);

	if (backend_region_init(mem, c) == -1)
		return -1;
	backend_carry_health(backend_table_attach(mem), shm_backends());
	/* hash_secret keeps ip-hash placements (and cookies) stable. */
	atomic_store(&shm->backends_cur, next);
	return 0;
}

void *
shm_cache(void)
{
	return shm_region(shm->cache_off);
}

void *
shm_ratelimit(void)
{
	return shm_region(shm->ratelimit_off);
}

void
shm_destroy(void)
{
	if (shm != NULL)
		munmap(shm, shm->size);
	shm = NULL;
}

void *
shm_region(size_t off)
{
	return off == 0 ? NULL : (char *)shm + off;
}

struct stats_slot *
shm_stats_slot(int slot)
{
	struct stats_slot	*s = shm_region(shm->stats_off);

	return &s[slot];
}

struct stats_acct *
shm_stats_acct(void)
{
	return shm_region(shm->stats_acct_off);
}

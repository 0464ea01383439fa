/*
 * Unit tests for shared/blacklist.c: publishing, the fallback to a
 * worker's own copy for a list too big for a slot, the version, and
 * readers racing a master that publishes without pause (the seqlock
 * must never let them see an address that is in every list as absent,
 * or one that is in none as present).
 */
#include <sys/mman.h>
#include <sys/wait.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blacklist.h"
#include "cidr.h"
#include "conf.h"
#include "tap.h"

#define NPUBLISH	3000
#define NREADERS	2

static void
addr_of(const char *s, uint8_t a[16])
{
	struct cidr	 c;
	const char	*err;

	if (cidr_parse(s, &c, &err) == -1)
		abort();
	memcpy(a, c.addr, 16);
}

/* <n> single IPv4 addresses from <first>, <step> apart, plus <extra>. */
static struct cidr_set *
spaced_set(uint32_t first, uint32_t step, size_t n, const char *extra)
{
	struct cidr		*b = calloc(n + 1, sizeof(*b));
	struct cidr_set		*s;
	const char		*err;
	char			 txt[32];
	size_t			 i;
	uint32_t		 a;

	for (i = 0; i < n; i++) {
		a = first + (uint32_t)i * step;
		snprintf(txt, sizeof(txt), "%u.%u.%u.%u", a >> 24,
		    a >> 16 & 255, a >> 8 & 255, a & 255);
		if (cidr_parse(txt, &b[i], &err) == -1)
			abort();
	}
	if (extra != NULL && cidr_parse(extra, &b[n++], &err) == -1)
		abort();
	s = cidr_set_build(b, n);
	free(b);
	return s;
}

static void	*mem;	/* the region of the test running */

/* A fresh region for <c>, as shm_create() makes one. */
static void
region_for(struct conf *c)
{
	size_t	 n = (blacklist_region_size(c) + 63) & ~(size_t)63;

	free(mem);
	if ((mem = aligned_alloc(64, n)) == NULL)
		abort();
	memset(mem, 0, n);
	if (blacklist_region_init(mem, c) == -1)
		abort();
}

static void
test_publish(void)
{
	struct conf	 c;
	struct cidr_set	*big, *own, *one;
	uint8_t		 a5[16], a6[16], a7[16];
	uint32_t	 v;

	memset(&c, 0, sizeof(c));
	c.blacklist = spaced_set(0x0a000000, 2, 10, "127.0.0.5");
	region_for(&c);
	addr_of("127.0.0.5", a5);
	addr_of("127.0.0.6", a6);
	addr_of("127.0.0.7", a7);
	ok(blacklist_capacity() == BLACKLIST_MIN_RANGES,
	    "a small list at start gets the minimum room");
	ok(blacklist_match(NULL, a5) && !blacklist_match(NULL, a6),
	    "the list at start is published");

	v = blacklist_version();
	one = spaced_set(0, 1, 0, "127.0.0.6");
	is_int(blacklist_publish(one), 0, "a new list fits");
	ok(blacklist_version() != v, "publishing moves the version");
	ok(!blacklist_match(NULL, a5) && blacklist_match(NULL, a6),
	    "the new list replaces the old one");
	is_int(blacklist_publish(NULL), 0, "an empty list fits");
	ok(!blacklist_match(NULL, a6), "an empty list matches nothing");

	big = spaced_set(0x0a000000, 2, BLACKLIST_MIN_RANGES + 1, NULL);
	own = spaced_set(0, 1, 0, "127.0.0.7");
	v = blacklist_version();
	is_int(blacklist_publish(big), -1, "a list over the room is refused");
	ok(blacklist_version() != v, "... and still moves the version");
	ok(blacklist_match(own, a7) && !blacklist_match(own, a6),
	    "then a worker matches its own copy");
	is_int(blacklist_publish(one), 0, "a list that fits again is taken");
	ok(blacklist_match(own, a6) && !blacklist_match(own, a7),
	    "and the shared list serves again");
	cidr_set_free(big);
	cidr_set_free(own);
	cidr_set_free(one);
	cidr_set_free(c.blacklist);
}

/*
 * A worker forked before a list too big for the region keeps matching
 * the last list that fitted (not the one it was started with); one
 * forked after matches its own copy.
 */
static void
test_fallback_spares_running_workers(void)
{
	struct conf	 c;
	struct cidr_set	*first, *second, *big;
	void		*shared;
	size_t		 n;
	uint8_t		 a5[16], a6[16], a7[16];
	int		 go[2], status;
	pid_t		 pid;
	char		 ch;

	memset(&c, 0, sizeof(c));
	c.blacklist = first = spaced_set(0, 1, 0, "127.0.0.5");
	n = (blacklist_region_size(&c) + 4095) & ~(size_t)4095;
	shared = mmap(NULL, n, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED || pipe(go) == -1)
		abort();
	if (blacklist_region_init(shared, &c) == -1)
		abort();
	addr_of("127.0.0.5", a5);
	addr_of("127.0.0.6", a6);
	addr_of("127.0.0.7", a7);
	second = spaced_set(0, 1, 0, "127.0.0.6");
	big = spaced_set(0x0a000000, 2, BLACKLIST_MIN_RANGES, "127.0.0.7");
	fflush(stdout);
	if ((pid = fork()) == 0) {
		/* The running worker: its own copy is <first>. */
		if (read(go[0], &ch, 1) != 1)
			_exit(3);
		_exit(blacklist_match(first, a6) &&
		    !blacklist_match(first, a5) &&
		    !blacklist_match(first, a7) ? 0 : 1);
	}
	is_int(blacklist_publish(second), 0, "a second list fits");
	is_int(blacklist_publish(big), -1, "then one that does not");
	ok(blacklist_match(big, a7) && !blacklist_match(big, a6),
	    "a worker forked now matches its own copy");
	if (write(go[1], "x", 1) != 1)
		abort();
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "a worker forked before keeps the last list that fitted");
	is_int(blacklist_publish(second), 0, "a list that fits again");
	ok(blacklist_match(big, a6) && !blacklist_match(big, a7),
	    "serves every worker from the region again");
	close(go[0]);
	close(go[1]);
	munmap(shared, n);
	cidr_set_free(first);
	cidr_set_free(second);
	cidr_set_free(big);
}

static void
test_room_grows_with_list(void)
{
	struct conf	 c;

	memset(&c, 0, sizeof(c));
	c.blacklist = spaced_set(0x0a000000, 2, BLACKLIST_MIN_RANGES, NULL);
	region_for(&c);
	is_int(blacklist_capacity(), 2 * (size_t)BLACKLIST_MIN_RANGES,
	    "a large list at start gets twice its size");
	is_int(blacklist_publish(c.blacklist), 0, "and fits");
	cidr_set_free(c.blacklist);
}

static atomic_int	 stop;
static atomic_long	 wrong;

/* 198.51.100.1 is in every list published, 192.0.2.1 in none. */
static void *
reader(void *arg)
{
	uint8_t	 in[16], out[16];
	long	 n = 0;

	(void)arg;
	addr_of("198.51.100.1", in);
	addr_of("192.0.2.1", out);
	while (!atomic_load(&stop)) {
		if (!blacklist_match(NULL, in) || blacklist_match(NULL, out))
			atomic_fetch_add(&wrong, 1);
		n++;
	}
	return (void *)n;
}

static void
test_readers_race_publisher(void)
{
	struct conf	 c;
	struct cidr_set	*sets[2];
	pthread_t	 t[NREADERS];
	void		*got;
	long		 reads = 0;
	int		 i;

	memset(&c, 0, sizeof(c));
	/* Different sizes and contents, so a torn read would show. */
	sets[0] = spaced_set(0x0b000000, 3, 5000, "198.51.100.1");
	sets[1] = spaced_set(0xc0000200, 0, 0, "198.51.100.1");
	c.blacklist = sets[0];
	region_for(&c);
	for (i = 0; i < NREADERS; i++)
		pthread_create(&t[i], NULL, reader, NULL);
	for (i = 0; i < NPUBLISH; i++)
		blacklist_publish(sets[i & 1]);
	atomic_store(&stop, 1);
	for (i = 0; i < NREADERS; i++) {
		pthread_join(t[i], &got);
		reads += (long)got;
	}
	ok(reads > 0, "readers ran (%ld lookups)", reads);
	is_int(atomic_load(&wrong), 0,
	    "no lookup saw a half-written list in %d publications", NPUBLISH);
	cidr_set_free(sets[0]);
	cidr_set_free(sets[1]);
}

int
main(void)
{
	test_publish();
	test_fallback_spares_running_workers();
	test_room_grows_with_list();
	test_readers_race_publisher();
	free(mem);
	return done_testing();
}

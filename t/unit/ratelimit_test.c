/*
 * Unit tests for the shared rate limiter (GCRA in a striped table) and
 * for SipHash-2-4. The table lives in a MAP_SHARED anonymous mapping so
 * that forked children hit it exactly as workers hit the segment.
 */
#define MTD_TEST_HOOKS 1

#include <sys/mman.h>
#include <sys/wait.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "ratelimit.h"
#include "siphash.h"
#include "tap.h"

#define SEC	1000000LL	/* microseconds */

/* Reference vectors: key 00..0f, message 00..(i-1), i = 0..63. */
static const uint64_t sip_vectors[64] = {
	0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL,
	0x0d6c8009d9a94f5aULL, 0x85676696d7fb7e2dULL,
	0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL,
	0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL,
	0x93f5f5799a932462ULL, 0x9e0082df0ba9e4b0ULL,
	0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
	0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL,
	0xf723ca908e7af2eeULL, 0xa129ca6149be45e5ULL,
	0x3f2acc7f57c29bdbULL, 0x699ae9f52cbe4794ULL,
	0x4bc1b3f0968dd39cULL, 0xbb6dc91da77961bdULL,
	0xbed65cf21aa2ee98ULL, 0xd0f2cbb02e3b67c7ULL,
	0x93536795e3a33e88ULL, 0xa80c038ccd5ccec8ULL,
	0xb8ad50c6f649af94ULL, 0xbce192de8a85b8eaULL,
	0x17d835b85bbb15f3ULL, 0x2f2e6163076bcfadULL,
	0xde4daaaca71dc9a5ULL, 0xa6a2506687956571ULL,
	0xad87a3535c49ef28ULL, 0x32d892fad841c342ULL,
	0x7127512f72f27cceULL, 0xa7f32346f95978e3ULL,
	0x12e0b01abb051238ULL, 0x15e034d40fa197aeULL,
	0x314dffbe0815a3b4ULL, 0x027990f029623981ULL,
	0xcadcd4e59ef40c4dULL, 0x9abfd8766a33735cULL,
	0x0e3ea96b5304a7d0ULL, 0xad0c42d6fc585992ULL,
	0x187306c89bc215a9ULL, 0xd4a60abcf3792b95ULL,
	0xf935451de4f21df2ULL, 0xa9538f0419755787ULL,
	0xdb9acddff56ca510ULL, 0xd06c98cd5c0975ebULL,
	0xe612a3cb9ecba951ULL, 0xc766e62cfcadaf96ULL,
	0xee64435a9752fe72ULL, 0xa192d576b245165aULL,
	0x0a8787bf8ecb74b2ULL, 0x81b3e73d20b49b6fULL,
	0x7fa8220ba3b2eceaULL, 0x245731c13ca42499ULL,
	0xb78dbfaf3a8d83bdULL, 0xea1ad565322a1a0bULL,
	0x60e61c23a3795013ULL, 0x6606d7e446282b93ULL,
	0x6ca4ecb15c5f91e1ULL, 0x9f626da15c9625f3ULL,
	0xe51b38608ef25f57ULL, 0x958a324ceb064572ULL,
};

static void *
region_new(size_t nslots)
{
	size_t	 sz = ratelimit_region_size_slots(nslots);
	void	*p;

	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	if (ratelimit_region_init_slots(p, nslots) == -1) {
		fprintf(stderr, "region init failed\n");
		exit(1);
	}
	return p;
}

static void
region_del(void *p, size_t nslots)
{
	munmap(p, ratelimit_region_size_slots(nslots));
}

static void
conf_rl(struct conf *c, long count, long window_ms, long burst)
{
	memset(c, 0, sizeof(*c));
	c->rate_limit_on = 1;
	c->rate_limit_count = count;
	c->rate_limit_window_ms = window_ms;
	c->rate_limit_burst = burst;
	c->rate_limit_mode = RL_MODE_ENFORCE;
	c->rate_limit_ipv6_prefix = 64;
}

static void
v4(uint8_t a[16], uint32_t ip)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = ip >> 24;
	a[13] = ip >> 16;
	a[14] = ip >> 8;
	a[15] = ip;
}

/* 2001:db8:<net>::<host>, i.e. /64 number <net>. */
static void
v6(uint8_t a[16], uint32_t net, uint32_t host)
{
	memset(a, 0, 16);
	a[0] = 0x20;
	a[1] = 0x01;
	a[2] = 0x0d;
	a[3] = 0xb8;
	a[4] = net >> 24;
	a[5] = net >> 16;
	a[6] = net >> 8;
	a[7] = net;
	a[12] = host >> 24;
	a[13] = host >> 16;
	a[14] = host >> 8;
	a[15] = host;
}

/* Requests from <a> at <now> until one is refused; the number passed. */
static long
drain(void *r, const struct conf *c, const uint8_t a[16], int64_t now,
    struct rl_result *last)
{
	long	 n = 0;

	while (ratelimit_check(r, c, a, now, last) == 1 && n < 10000000)
		n++;
	return n;
}

static void
test_siphash(void)
{
	uint8_t	 key[16], msg[64];
	int	 i, bad = -1;

	for (i = 0; i < 16; i++)
		key[i] = i;
	for (i = 0; i < 64; i++)
		msg[i] = i;
	for (i = 0; i < 64; i++)
		if (siphash24(msg, i, key) != sip_vectors[i] && bad == -1)
			bad = i;
	is_int(bad, -1, "siphash24: all 64 reference vectors (first bad)");
	ok(siphash24(msg, 0, key) == 0x726fdb47dd0e0e31ULL,
	    "siphash24: empty message");
	ok(siphash24(msg, 7, key) == sip_vectors[7], "siphash24: 7 bytes");
	ok(siphash24(msg, 8, key) == sip_vectors[8], "siphash24: 8 bytes");
	ok(siphash24(msg, 15, key) == 0xa129ca6149be45e5ULL,
	    "siphash24: 15 bytes (paper's example)");
	ok(siphash24(msg, 63, key) == sip_vectors[63], "siphash24: 63 bytes");
	key[0] ^= 1;
	ok(siphash24(msg, 15, key) != 0xa129ca6149be45e5ULL,
	    "siphash24: another key, another hash");
}

static void
test_exact_100_60(void)
{
	struct conf		 c;
	struct rl_result	 r;
	uint8_t			 a[16];
	void			*rg = region_new(RL_MIN_SLOTS);
	int64_t			 t0 = 1000 * SEC;
	long			 n;

	conf_rl(&c, 100, 60000, 0);
	v4(a, 0x0a000001);
	ok(ratelimit_check(rg, &c, a, t0, &r) == 1 && r.allowed,
	    "100/60s: first request passes");
	is_int(r.remaining, 99, "100/60s: remaining 99 after one");
	is_int(r.limit, 100, "100/60s: limit 100");
	is_int(r.window_s, 60, "100/60s: window 60 s");
	is_int(r.quota, 100, "100/60s: policy quota 100 ...");
	is_int(r.quota_w, 60, "100/60s: ... per 60 s");
	is_int(r.reset_s, 1, "100/60s: reset 1 s after one (0.6 s)");
	is_int(r.retry_after_s, 0, "100/60s: no Retry-After when allowed");
	is_int(r.recovered, -1, "100/60s: no recovery");
	n = 1 + drain(rg, &c, a, t0, &r);
	is_int(n, 100, "100/60s: exactly 100 pass at once");
	is_int(r.allowed, 0, "100/60s: the 101st is refused");
	is_int(r.retry_after_s, 1, "100/60s: Retry-After 1 (0.6 s up)");
	is_int(r.remaining, 0, "100/60s: remaining 0");
	is_int(r.reset_s, 60, "100/60s: reset 60 s");
	is_int(ratelimit_check(rg, &c, a, t0 + 599999, &r), 0,
	    "100/60s: still refused at +599.999 ms");
	is_int(ratelimit_check(rg, &c, a, t0 + 600000, &r), 1,
	    "100/60s: one regained at +600 ms");
	is_int(r.remaining, 0, "100/60s: and it was the only one");
	is_int(ratelimit_check(rg, &c, a, t0 + 600000, &r), 0,
	    "100/60s: next refused again");
	is_int(drain(rg, &c, a, t0 + 6 * SEC, &r), 9,
	    "100/60s: 9 more 6 s later");
	is_int(drain(rg, &c, a, t0 + 200 * SEC, &r), 100,
	    "100/60s: all 100 back after a full idle window");
	ok(ratelimit_refused(rg) >= 4, "refused counter counts");
	region_del(rg, RL_MIN_SLOTS);
}

static void
test_retry_after(void)
{
	struct conf		 c;
	struct rl_result	 r;
	uint8_t			 a[16];
	void			*rg = region_new(RL_MIN_SLOTS);
	int64_t			 t0 = 50 * SEC;

	/* T = 10 s / 3 = 3.333 s: refused wait is 3.33 s -> 4. */
	conf_rl(&c, 3, 10000, 0);
	v4(a, 0xc0000201);
	is_int(drain(rg, &c, a, t0, &r), 3, "3/10s: 3 pass");
	is_int(r.retry_after_s, 4, "3/10s: Retry-After rounds 3.33 up to 4");
	is_int(r.reset_s, 10, "3/10s: reset 10 s");
	is_int(ratelimit_check(rg, &c, a, t0 + 3333334, &r), 1,
	    "3/10s: passes again after T");
	is_int(ratelimit_check(rg, &c, a, t0 + 3333334, &r), 0,
	    "3/10s: only one");
	/* 1 per 500 ms: Retry-After is at least 1. */
	conf_rl(&c, 1, 500, 0);
	v4(a, 0xc0000202);
	is_int(drain(rg, &c, a, t0, &r), 1, "1/500ms: one passes");
	is_int(r.retry_after_s, 1, "1/500ms: Retry-After at least 1");
	is_int(r.window_s, 1, "1/500ms: window rounds up to 1 s");
	is_int(r.quota, 2, "1/500ms: policy says 2 ...");
	is_int(r.quota_w, 1, "1/500ms: ... per second");
	conf_rl(&c, 100, 1500, 0);
	v4(a, 0xc0000203);
	(void)ratelimit_check(rg, &c, a, t0, &r);
	is_int(r.quota, 133, "100/1500ms: 133 (rounded down) ...");
	is_int(r.quota_w, 2, "100/1500ms: ... per 2 s");
	conf_rl(&c, RL_COUNT_MAX, 1000, RL_COUNT_MAX);
	v4(a, 0xc0000204);
	is_int(ratelimit_check(rg, &c, a, t0, &r), 1,
	    "largest count and burst: passes");
	is_int(r.limit, 2 * RL_COUNT_MAX, "largest: limit does not overflow");
	region_del(rg, RL_MIN_SLOTS);
}

static void
test_burst(void)
{
	struct conf		 c;
	struct rl_result	 r;
	uint8_t			 a[16];
	void			*rg = region_new(RL_MIN_SLOTS);
	int64_t			 t0 = 10 * SEC;

	conf_rl(&c, 100, 60000, 20);
	v4(a, 0x0a000002);
	ok(ratelimit_check(rg, &c, a, t0, &r) == 1, "burst: first passes");
	is_int(r.limit, 120, "burst: limit is count + burst");
	is_int(r.quota, 100, "burst: the policy still says 100 ...");
	is_int(r.quota_w, 60, "burst: ... per 60 s");
	is_int(r.remaining, 119, "burst: remaining 119");
	is_int(1 + drain(rg, &c, a, t0, &r), 120,
	    "burst 20: exactly 120 pass at once");
	is_int(r.retry_after_s, 1, "burst: Retry-After 1");
	is_int(r.reset_s, 72, "burst: reset 72 s (120 * 0.6)");
	is_int(drain(rg, &c, a, t0 + 1200000, &r), 2,
	    "burst: 2 regained in 1.2 s");
	region_del(rg, RL_MIN_SLOTS);
}

static void
test_clients(void)
{
	struct conf		 c;
	struct rl_result	 r;
	uint8_t			 a[16], b[16], k1[16], k2[16];
	void			*rg = region_new(RL_DEFAULT_SLOTS);
	int64_t			 t0 = 10 * SEC;

	conf_rl(&c, 5, 60000, 0);
	v4(a, 0x0a000001);
	v4(b, 0x0a000002);
	is_int(drain(rg, &c, a, t0, &r), 5, "ipv4: client a gets 5");
	is_int(drain(rg, &c, b, t0, &r), 5,
	    "ipv4: neighbour address b gets its own 5");
	is_int(ratelimit_check(rg, &c, a, t0, &r), 0, "ipv4: a still limited");

	v6(a, 1, 1);
	v6(b, 1, 0xdeadbeef);
	b[8] = 0x12;		/* other interface id, same /64 */
	is_int(drain(rg, &c, a, t0, &r), 5, "ipv6: 2001:db8:0:1::1 gets 5");
	is_int(ratelimit_check(rg, &c, b, t0, &r), 0,
	    "ipv6: same /64 shares the limit");
	v6(b, 2, 1);
	is_int(drain(rg, &c, b, t0, &r), 5, "ipv6: another /64 gets its own");

	c.rate_limit_ipv6_prefix = 48;
	v6(a, 0x00010005, 1);
	v6(b, 0x00010006, 1);
	is_int(drain(rg, &c, a, t0, &r), 5, "ipv6 /48: a gets 5");
	is_int(ratelimit_check(rg, &c, b, t0, &r), 0,
	    "ipv6 /48: another /64 in the same /48 shares");
	c.rate_limit_ipv6_prefix = 128;
	v6(a, 7, 1);
	v6(b, 7, 2);
	is_int(drain(rg, &c, a, t0, &r), 5, "ipv6 /128: a gets 5");
	is_int(drain(rg, &c, b, t0, &r), 5, "ipv6 /128: b gets its own 5");

	c.rate_limit_ipv6_prefix = 61;
	v6(a, 0x12345678, 0x99);
	ratelimit_client_key(&c, a, k1);
	memcpy(k2, a, 8);
	k2[7] &= 0xf8;
	memset(k2 + 8, 0, 8);
	ok(memcmp(k1, k2, 16) == 0, "key: /61 masks mid-byte");
	c.rate_limit_ipv6_prefix = 0;
	v4(a, 0x01020304);
	ratelimit_client_key(&c, a, k1);
	ok(memcmp(k1, a, 16) == 0, "key: IPv4-mapped kept whole");
	region_del(rg, RL_DEFAULT_SLOTS);
}

/* <nchild> processes hammer one client at one instant: exact total. */
static void
test_processes(void)
{
	struct conf		 c;
	struct rl_result	 r;
	uint8_t			 a[16];
	void			*rg = region_new(RL_DEFAULT_SLOTS);
	_Atomic long		*passed;
	int			 i, st, nchild = 4, okexit = 1;
	pid_t			 pid;

	passed = mmap(NULL, sizeof(*passed), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (passed == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	atomic_store(passed, 0);
	conf_rl(&c, 20000, 60000, 37);
	v6(a, 9, 9);
	for (i = 0; i < nchild; i++) {
		if ((pid = fork()) == -1) {
			perror("fork");
			exit(1);
		}
		if (pid == 0) {
			long	 n = drain(rg, &c, a, 77 * SEC, &r);

			atomic_fetch_add(passed, n);
			_exit(0);
		}
	}
	for (i = 0; i < nchild; i++)
		if (wait(&st) == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			okexit = 0;
	ok(okexit, "processes: %d children exited cleanly", nchild);
	is_int(atomic_load(passed), 20037,
	    "processes: total passed across 4 children == count + burst");
	is_int(ratelimit_check(rg, &c, a, 77 * SEC, &r), 0,
	    "processes: parent sees the client limited");
	munmap(passed, sizeof(*passed));
	region_del(rg, RL_DEFAULT_SLOTS);
}

static void
test_pressure(void)
{
	struct conf		 c;
	struct rl_result	 r;
	uint8_t			 a[16], hot[16];
	void			*rg = region_new(RL_MIN_SLOTS);
	int64_t			 now = 5 * SEC;
	long			 i, newok = 0, hotok = 0, hotn = 0;

	conf_rl(&c, 5, 60000, 0);
	v4(hot, 0xcb007101);
	is_int(drain(rg, &c, hot, now, &r), 5, "pressure: hot client gets 5");
	for (i = 0; i < 100000; i++) {
		v4(a, 0x0a000000 + (uint32_t)i);
		newok += ratelimit_check(rg, &c, a, now++, &r);
		if (i % 4 == 0) {
			hotok += ratelimit_check(rg, &c, hot, now++, &r);
			hotn++;
		}
	}
	is_int(newok, 100000, "pressure: each of 100000 new clients passes");
	is_int(hotok, 0, "pressure: the hot client stayed limited (%ld tries)",
	    hotn);
	ok(ratelimit_evictions(rg) >= 100000 - RL_MIN_SLOTS,
	    "pressure: evictions counted (%llu)",
	    (unsigned long long)ratelimit_evictions(rg));
	/* A new client into a full table, then its limit holds. */
	v4(a, 0xac100001);
	is_int(drain(rg, &c, a, now, &r), 5,
	    "pressure: a newcomer still gets exactly 5");
	region_del(rg, RL_MIN_SLOTS);
}

static void
test_recovery(void)
{
	struct conf		 c;
	struct rl_result	 r;
	uint8_t			 a[16];
	void			*rg = region_new(RL_DEFAULT_SLOTS);
	int			 s, st = -1;
	pid_t			 pid;

	conf_rl(&c, 3, 60000, 0);
	v4(a, 0x0a0b0c0d);
	is_int(drain(rg, &c, a, 9 * SEC, &r), 3, "recovery: 3 pass");
	s = ratelimit_stripe_of(rg, &c, a);
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		ratelimit_test_hold_stripe(rg, &c, a);
		_exit(0);	/* dies holding the stripe lock */
	}
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st), "recovery: child died holding stripe %d", s);
	is_int(ratelimit_check(rg, &c, a, 9 * SEC, &r), 1,
	    "recovery: check returns; the reset client passes again");
	is_int(r.recovered, s, "recovery: reports the stripe");
	is_int(ratelimit_recoveries(rg), 1, "recovery: counted");
	ratelimit_check(rg, &c, a, 9 * SEC, &r);
	is_int(r.recovered, -1, "recovery: only once");
	is_int(1 + drain(rg, &c, a, 9 * SEC, &r), 2,
	    "recovery: limiting works after the reset");
	region_del(rg, RL_DEFAULT_SLOTS);
}

/* A reload to a looser limit applies at once to a limited client. */
static void
test_reload_looser(void)
{
	struct conf		 strict, loose;
	struct rl_result	 r;
	uint8_t			 a[16];
	void			*rg = region_new(RL_MIN_SLOTS);
	int64_t			 t0 = 1000 * SEC;
	long			 n;

	conf_rl(&strict, 5, 60000, 2);
	conf_rl(&loose, 100, 60000, 0);
	v4(a, 0x0a000009);
	n = drain(rg, &strict, a, t0, &r);
	is_int(n, 7, "reload: 5/60s burst=2 lets 7 through");
	ok(ratelimit_check(rg, &loose, a, t0, &r) == 1,
	    "reload: after 100/60s the limited client passes at once");
	ok(r.retry_after_s == 0 && r.reset_s <= 60,
	    "reload: no wait left over from the old limit");
	/* and under unchanged parameters nothing changes */
	n = drain(rg, &loose, a, t0, &r);
	ok(n <= 100, "reload: the new limit holds (%ld more)", n);
	region_del(rg, RL_MIN_SLOTS);
}

static void
test_sizes(void)
{
	struct conf	 c;

	conf_rl(&c, 100, 60000, 0);
	c.rate_limit_size = 2 * 1024 * 1024;
	ok(ratelimit_region_size(&c) ==
	    ratelimit_region_size_slots(RL_DEFAULT_SLOTS),
	    "size: default table (2m)");
	c.rate_limit_size = 3 * 1024 * 1024;
	ok(ratelimit_region_size(&c) ==
	    ratelimit_region_size_slots(RL_DEFAULT_SLOTS),
	    "size: rate_limit_size rounds down to a power of two");
	ok(ratelimit_slots_for(16 * 1024) == RL_MIN_SLOTS &&
	    ratelimit_slots_for(0) == RL_MIN_SLOTS &&
	    ratelimit_slots_for(64 * 1024 * 1024) == 2 * 1024 * 1024,
	    "size: slots for 16k, 0 and 64m");
	ok(ratelimit_region_size_slots(1) ==
	    ratelimit_region_size_slots(RL_MIN_SLOTS), "size: minimum");
	ok(ratelimit_region_size_slots(RL_MIN_SLOTS + 1) ==
	    ratelimit_region_size_slots(RL_MIN_SLOTS * 2),
	    "size: rounds up to a power of two");
}

int
main(void)
{
	test_siphash();
	test_sizes();
	test_reload_looser();
	test_exact_100_60();
	test_retry_after();
	test_burst();
	test_clients();
	test_processes();
	test_pressure();
	test_recovery();
	return done_testing();
}

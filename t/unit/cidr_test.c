/*
 * Unit tests for shared/cidr.c: parsing (good and bad, both families,
 * edge prefixes), set lookups with overlapping blocks, and 100,000 random
 * blocks checked against an independent reference on 100,000 lookups.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cidr.h"
#include "tap.h"

#define NRANDOM		100000
#define NLOOKUP		100000
#define NBRUTE		200

static uint64_t	 rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	/* xorshift64*: reproducible, good enough for test data. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static int
parses(const char *s, const char *want_err)
{
	struct cidr	 c;
	const char	*err = NULL;
	int		 r;

	r = cidr_parse(s, &c, &err);
	if (want_err == NULL)
		return r == 0 && err == NULL;
	return r == -1 && err != NULL && strcmp(err, want_err) == 0;
}

static void
test_parse_good(void)
{
	static const uint8_t	 v4[16] = { [10] = 0xff, [11] = 0xff,
	    [12] = 10 };
	struct cidr		 c;
	const char		*err;

	ok(cidr_parse("10.0.0.0/8", &c, &err) == 0, "parse 10.0.0.0/8");
	ok(memcmp(c.addr, v4, 16) == 0, "IPv4 stored mapped");
	is_int(c.prefix, 104, "IPv4 /8 is /104 mapped");
	ok(cidr_parse("1.2.3.4", &c, &err) == 0 && c.prefix == 128,
	    "bare IPv4 is a /32 (/128 mapped)");
	ok(cidr_parse("1.2.3.4/32", &c, &err) == 0 && c.prefix == 128,
	    "IPv4 /32");
	ok(cidr_parse("0.0.0.0/0", &c, &err) == 0 && c.prefix == 96,
	    "IPv4 /0 is /96 mapped");
	ok(cidr_parse("::1", &c, &err) == 0 && c.prefix == 128 &&
	    c.addr[15] == 1, "bare IPv6 is a /128");
	ok(cidr_parse("2001:db8::/32", &c, &err) == 0 && c.prefix == 32 &&
	    c.addr[0] == 0x20 && c.addr[3] == 0xb8, "IPv6 /32");
	ok(cidr_parse("::/0", &c, &err) == 0 && c.prefix == 0, "IPv6 /0");
	ok(cidr_parse("2001:db8::1/128", &c, &err) == 0 && c.prefix == 128,
	    "IPv6 /128");
	ok(parses("10.1.0.0/16", NULL), "no error message on success");
}

static void
test_parse_bad(void)
{
	ok(parses("", "invalid address"), "empty");
	ok(parses("/8", "invalid address"), "empty address");
	ok(parses("not-an-ip", "invalid address"), "word");
	ok(parses("300.1.2.3", "invalid address"), "octet > 255");
	ok(parses("1.2.3", "invalid address"), "three octets");
	ok(parses(" 1.2.3.4", "invalid address"), "leading space");
	ok(parses("1.2.3.4 ", "invalid address"), "trailing space");
	ok(parses("10.0.0.0/", "invalid prefix length"), "empty prefix");
	ok(parses("10.0.0.0/33", "invalid prefix length"), "v4 prefix 33");
	ok(parses("::/129", "invalid prefix length"), "v6 prefix 129");
	ok(parses("10.0.0.0/+8", "invalid prefix length"), "leading +");
	ok(parses("10.0.0.0/-8", "invalid prefix length"), "negative");
	ok(parses("10.0.0.0/8x", "invalid prefix length"), "trailing junk");
	ok(parses("10.0.0.0/0008", "invalid prefix length"), "4 digits");
	ok(parses("10.0.0.0/8/8", "invalid prefix length"), "two slashes");
	ok(parses("10.0.0.1/8", "host bits set"), "v4 host bits");
	ok(parses("2001:db8::1/32", "host bits set"), "v6 host bits");
	ok(parses("1.2.3.4/0", "host bits set"), "v4 /0 with bits");
}

/* Parse <s> as an address and look it up in <set>. */
static int
in_set(const struct cidr_set *set, const char *s)
{
	struct cidr	 c;
	const char	*err;

	if (cidr_parse(s, &c, &err) == -1)
		return -1;
	return cidr_set_match(set, c.addr);
}

static struct cidr_set *
build(const char *const *list, size_t n)
{
	struct cidr	 b[16];
	const char	*err;
	size_t		 i;

	for (i = 0; i < n; i++)
		if (cidr_parse(list[i], &b[i], &err) == -1)
			return NULL;
	return cidr_set_build(b, n);
}

static void
test_set_small(void)
{
	static const char *const list[] = {
		"10.0.0.0/8", "10.1.0.0/16", "10.255.255.255",
		"192.168.1.0/24", "192.168.2.0/24", "2001:db8::/32",
		"2001:db8:1::/48", "::1",
	};
	struct cidr_set	*s;

	s = build(list, 8);
	ok(s != NULL, "build overlapping set");
	is_int(cidr_set_count(s), 8, "count is the number of blocks");
	is_int(in_set(s, "10.0.0.0"), 1, "first of 10/8");
	is_int(in_set(s, "10.255.255.255"), 1, "last of 10/8");
	is_int(in_set(s, "11.0.0.0"), 0, "just after 10/8");
	is_int(in_set(s, "9.255.255.255"), 0, "just before 10/8");
	is_int(in_set(s, "192.168.1.77"), 1, "adjacent /24 (1)");
	is_int(in_set(s, "192.168.2.254"), 1, "adjacent /24 (2)");
	is_int(in_set(s, "192.168.3.0"), 0, "after adjacent /24s");
	is_int(in_set(s, "2001:db8:ffff::1"), 1, "inside v6 /32");
	is_int(in_set(s, "2001:db9::"), 0, "after v6 /32");
	is_int(in_set(s, "::1"), 1, "::1");
	is_int(in_set(s, "::2"), 0, "::2");
	is_int(in_set(s, "::a00:1"), 0,
	    "v4-compatible ::10.0.0.1 is not mapped 10.0.0.1");
	is_int(in_set(s, "::ffff:10.0.0.1"), 1, "::ffff:10.0.0.1 is 10.0.0.1");
	cidr_set_free(s);
}

static void
test_set_edges(void)
{
	static const char *const all4[] = { "0.0.0.0/0" };
	static const char *const all6[] = { "::/0" };
	static const char *const v4_96[] = { "::ffff:0:0/96" };
	static const char *const low8[] = { "::/8", "10.0.0.0/8" };
	static const char *const top[] = { "ffff:ffff:ffff:ffff:ffff:ffff:"
	    "ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124" };
	struct cidr_set	*s;

	s = build(all4, 1);
	is_int(in_set(s, "255.255.255.255"), 1, "0.0.0.0/0 has all IPv4");
	is_int(in_set(s, "2001:db8::1"), 0, "0.0.0.0/0 has no IPv6");
	cidr_set_free(s);
	s = build(all6, 1);
	is_int(in_set(s, "1.2.3.4"), 0, "::/0 has no IPv4 client");
	is_int(in_set(s, "::ffff:1.2.3.4"), 0, "... even written mapped");
	is_int(in_set(s, "::fffe:ffff:ffff"), 1, "::/0 has just below v4");
	is_int(in_set(s, "::1:0:0:0"), 1, "::/0 has just above v4");
	is_int(in_set(s, "::1"), 1, "::/0 has ::1");
	is_int(in_set(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 1,
	    "::/0 has the last address");
	cidr_set_free(s);
	s = build(v4_96, 1);
	is_int(in_set(s, "1.2.3.4"), 1, "::ffff:0:0/96 has all IPv4");
	is_int(in_set(s, "::1"), 0, "::ffff:0:0/96 has no IPv6");
	cidr_set_free(s);
	s = build(low8, 2);
	is_int(in_set(s, "10.1.2.3"), 1, "an IPv4 entry beside ::/8 holds");
	is_int(in_set(s, "11.1.2.3"), 0, "::/8 has no other IPv4 client");
	is_int(in_set(s, "::2"), 1, "::/8 has ::2");
	cidr_set_free(s);
	s = build(top, 2);
	is_int(in_set(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), 1,
	    "merge at the top of the space");
	is_int(in_set(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffef"), 0,
	    "below it");
	cidr_set_free(s);
	s = cidr_set_build(NULL, 0);
	ok(s != NULL && cidr_set_count(s) == 0, "empty set");
	is_int(in_set(s, "1.2.3.4"), 0, "empty set matches nothing");
	cidr_set_free(s);
	is_int(in_set(NULL, "1.2.3.4"), 0, "NULL set matches nothing");
	is_int(cidr_set_count(NULL), 0, "NULL set count");
	cidr_set_free(NULL);
}

static void
test_sockaddr(void)
{
	static const char *const list[] = { "127.0.0.0/8", "::1" };
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct sockaddr		 other;
	struct cidr_set		*s = build(list, 2);
	uint8_t			 a[16];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.9", &sin.sin_addr);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
	memset(&other, 0, sizeof(other));
	other.sa_family = AF_UNIX;
	is_int(cidr_set_match_sa(s, (struct sockaddr *)&sin), 1,
	    "match_sa AF_INET");
	is_int(cidr_set_match_sa(s, (struct sockaddr *)&sin6), 1,
	    "match_sa AF_INET6");
	is_int(cidr_set_match_sa(s, &other), 0, "match_sa AF_UNIX");
	is_int(cidr_set_match_sa(NULL, (struct sockaddr *)&sin), 0,
	    "match_sa NULL set");
	ok(cidr_addr_from_sa((struct sockaddr *)&sin, a) == 0 &&
	    a[10] == 0xff && a[11] == 0xff && a[12] == 127 && a[15] == 9,
	    "addr_from_sa maps IPv4");
	is_int(cidr_addr_from_sa(&other, a), -1, "addr_from_sa AF_UNIX");
	cidr_set_free(s);
}

static void
rand_addr(uint8_t a[16])
{
	uint64_t	 x = rng(), y = rng();

	memcpy(a, &x, 8);
	memcpy(a + 8, &y, 8);
}

/* Clear the bits of <a> below <prefix>. */
static void
mask_addr(uint8_t a[16], unsigned int prefix)
{
	unsigned int	 i;

	for (i = 0; i < 16; i++) {
		if (prefix >= 8)
			prefix -= 8;
		else {
			a[i] &= (uint8_t)(0xff00 >> prefix);
			prefix = 0;
		}
	}
}

/* Half IPv4 /16../32, half IPv6 /24../128. */
static void
rand_block(struct cidr *b)
{
	rand_addr(b->addr);
	if (rng() & 1) {
		memset(b->addr, 0, 10);
		b->addr[10] = b->addr[11] = 0xff;
		b->prefix = (uint8_t)(96 + 16 + rng() % 17);
	} else
		b->prefix = (uint8_t)(24 + rng() % 105);
	mask_addr(b->addr, b->prefix);
}

/* Keep the first <keep> bits of <a> and randomise the rest. */
static void
randomise_tail(uint8_t a[16], unsigned int keep)
{
	uint8_t		 r[16], m[16];
	unsigned int	 i;

	memset(m, 0xff, sizeof(m));
	mask_addr(m, keep);
	rand_addr(r);
	for (i = 0; i < 16; i++)
		a[i] = (uint8_t)((a[i] & m[i]) | (r[i] & ~m[i]));
}

/* Half near a block (its prefix give or take 8 bits), half anywhere. */
static void
rand_lookup(const struct cidr *blocks, uint8_t a[16])
{
	const struct cidr	*b = &blocks[rng() % NRANDOM];

	if (rng() & 1) {
		rand_addr(a);
		return;
	}
	memcpy(a, b->addr, 16);
	randomise_tail(a, b->prefix - 8 + (unsigned int)(rng() % 9));
}

#define HSIZE		(1 << 18)	/* > 2 * NRANDOM, power of two */
#define HEMPTY		255		/* prefix of a free slot */

static size_t
hash_block(const uint8_t a[16], unsigned int prefix)
{
	uint64_t	 h = 14695981039346656037ULL;	/* FNV-1a */
	unsigned int	 i;

	for (i = 0; i < 16; i++)
		h = (h ^ a[i]) * 1099511628211ULL;
	h = (h ^ prefix) * 1099511628211ULL;
	return (size_t)(h & (HSIZE - 1));
}

/* Slot of block <a>/<prefix> in <tab>: where it is, or a free one. */
static struct cidr *
hash_slot(struct cidr *tab, const uint8_t a[16], unsigned int prefix)
{
	size_t	 i = hash_block(a, prefix);

	while (tab[i].prefix != HEMPTY && (tab[i].prefix != prefix ||
	    memcmp(tab[i].addr, a, 16) != 0))
		i = (i + 1) & (HSIZE - 1);
	return &tab[i];
}

/* Reference: for each prefix length, mask and look up that exact block. */
static int
ref_match(struct cidr *tab, const uint8_t a[16])
{
	uint8_t		 m[16];
	unsigned int	 p;

	for (p = 0; p <= 128; p++) {
		memcpy(m, a, 16);
		mask_addr(m, p);
		if (hash_slot(tab, m, p)->prefix != HEMPTY)
			return 1;
	}
	return 0;
}

/* Slowest and most obvious: scan every block. */
static int
brute_match(const struct cidr *b, size_t n, const uint8_t a[16])
{
	uint8_t	 m[16];
	size_t	 i;

	for (i = 0; i < n; i++) {
		memcpy(m, a, 16);
		mask_addr(m, b[i].prefix);
		if (memcmp(m, b[i].addr, 16) == 0)
			return 1;
	}
	return 0;
}

static void
test_random(void)
{
	struct cidr	*blocks, *tab;
	struct cidr_set	*s;
	uint8_t		(*look)[16];
	size_t		 i, hits = 0, bad_ref = 0, bad_brute = 0;
	clock_t		 t0;
	double		 secs;
	int		*got;

	blocks = calloc(NRANDOM, sizeof(*blocks));
	tab = malloc(HSIZE * sizeof(*tab));
	look = calloc(NLOOKUP, sizeof(*look));
	got = calloc(NLOOKUP, sizeof(*got));
	if (blocks == NULL || tab == NULL || look == NULL || got == NULL)
		abort();
	for (i = 0; i < NRANDOM; i++)
		rand_block(&blocks[i]);
	for (i = 0; i < HSIZE; i++)
		tab[i].prefix = HEMPTY;
	for (i = 0; i < NRANDOM; i++)
		*hash_slot(tab, blocks[i].addr, blocks[i].prefix) = blocks[i];
	for (i = 0; i < NLOOKUP; i++)
		rand_lookup(blocks, look[i]);

	s = cidr_set_build(blocks, NRANDOM);
	ok(s != NULL && cidr_set_count(s) == NRANDOM, "build 100,000 blocks");
	t0 = clock();
	for (i = 0; i < NLOOKUP; i++)
		hits += (size_t)(got[i] = cidr_set_match(s, look[i]));
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	ok(secs < 1.0, "100,000 lookups in %.3f s", secs);
	ok(hits > NLOOKUP / 10 && hits < NLOOKUP - NLOOKUP / 10,
	    "lookups hit and miss (%zu hits)", hits);
	for (i = 0; i < NLOOKUP; i++)
		bad_ref += got[i] != ref_match(tab, look[i]);
	is_int(bad_ref, 0, "100,000 lookups agree with the reference");
	for (i = 0; i < NBRUTE; i++)
		bad_brute += got[i] != brute_match(blocks, NRANDOM, look[i]);
	is_int(bad_brute, 0, "%d lookups agree with a linear scan", NBRUTE);
	cidr_set_free(s);
	free(blocks);
	free(tab);
	free(look);
	free(got);
}

int
main(void)
{
	test_parse_good();
	test_parse_bad();
	test_set_small();
	test_set_edges();
	test_sockaddr();
	test_random();
	return done_testing();
}

/*
 * CIDR blocks and address sets. A set is built once, in the master, as a
 * sorted array of disjoint, merged 128-bit ranges (IPv4 mapped into
 * ::ffff:0:0/96); a lookup is one binary search, with no lock and no
 * allocation, so forked workers read it as they inherit it.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "mtd.h"

struct u128 {
	uint64_t	 hi;
	uint64_t	 lo;
};

struct cidr_range {
	struct u128	 first;
	struct u128	 last;
};

struct cidr_set {
	size_t			 nblocks;	/* as given to build */
	size_t			 nranges;	/* after merging */
	struct cidr_range	 r[];
};

static const uint8_t	 v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

static struct u128
u128_load(const uint8_t b[16])
{
	struct u128	 v = { 0, 0 };
	int		 i;

	for (i = 0; i < 8; i++) {
		v.hi = v.hi << 8 | b[i];
		v.lo = v.lo << 8 | b[i + 8];
	}
	return v;
}

static int
u128_cmp(struct u128 a, struct u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

/* Netmask of <prefix> (0..128) bits. Shifts by 64 are avoided (UB). */
static struct u128
u128_mask(unsigned int prefix)
{
	struct u128	 m;

	if (prefix == 0)
		m.hi = 0;
	else if (prefix < 64)
		m.hi = ~0ULL << (64 - prefix);
	else
		m.hi = ~0ULL;
	if (prefix <= 64)
		m.lo = 0;
	else if (prefix < 128)
		m.lo = ~0ULL << (128 - prefix);
	else
		m.lo = ~0ULL;
	return m;
}

/* Digits only, no sign, 0..<max>. Returns 0 or -1. */
static int
parse_prefix(const char *s, unsigned int max, unsigned int *out)
{
	unsigned int	 v = 0;
	size_t		 n;

	for (n = 0; s[n] != '\0'; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 3)
			return -1;
		v = v * 10 + (unsigned int)(s[n] - '0');
	}
	if (n == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * Parse <s> into <out>; see cidr.h. Any process may call it (pure).
 */
int
cidr_parse(const char *s, struct cidr *out, const char **err)
{
	char		 buf[INET6_ADDRSTRLEN];
	const char	*slash;
	struct u128	 a, m;
	unsigned int	 max = 128, off = 0, prefix;
	size_t		 len;

	slash = strchr(s, '/');
	len = slash != NULL ? (size_t)(slash - s) : strlen(s);
	*err = "invalid address";
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr + 12) == 1) {
		memcpy(out->addr, v4mapped, sizeof(v4mapped));
		max = 32;
		off = 96;
	} else if (inet_pton(AF_INET6, buf, out->addr) != 1)
		return -1;
	prefix = max;
	if (slash != NULL && parse_prefix(slash + 1, max, &prefix) == -1) {
		*err = "invalid prefix length";
		return -1;
	}
	out->prefix = (uint8_t)(prefix + off);
	a = u128_load(out->addr);
	m = u128_mask(out->prefix);
	if ((a.hi & ~m.hi) != 0 || (a.lo & ~m.lo) != 0) {
		*err = "host bits set";
		return -1;
	}
	*err = NULL;
	return 0;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct cidr_range	*x = a, *y = b;

	return u128_cmp(x->first, y->first);
}

/* <b> starts at most one address after <a> ends. */
static int
range_touches(const struct cidr_range *a, const struct cidr_range *b)
{
	struct u128	 next = a->last;

	if (next.hi == ~0ULL && next.lo == ~0ULL)
		return 1;
	if (++next.lo == 0)
		next.hi++;
	return u128_cmp(b->first, next) <= 0;
}

/* Sort and merge the ranges of <s> in place. */
static void
set_merge(struct cidr_set *s)
{
	size_t	 i, n = 0;

	qsort(s->r, s->nranges, sizeof(s->r[0]), range_cmp);
	for (i = 0; i < s->nranges; i++) {
		if (n > 0 && range_touches(&s->r[n - 1], &s->r[i])) {
			if (u128_cmp(s->r[i].last, s->r[n - 1].last) > 0)
				s->r[n - 1].last = s->r[i].last;
		} else
			s->r[n++] = s->r[i];
	}
	s->nranges = n;
}

/*
 * Append <r>, an IPv6 block shorter than /96, less the IPv4-mapped block
 * ::ffff:0:0/96 inside it: "::/0" or "::/8" in a blacklist means IPv6
 * clients, as in nginx, not every IPv4 client too. IPv4 space is matched
 * only by IPv4 entries or entries written as ::ffff:a.b.c.d/96 and longer.
 */
static void
add_without_v4(struct cidr_set *s, const struct cidr_range *r)
{
	static const struct cidr_range	 v4 = {
		{ 0, 0x0000ffff00000000ULL }, { 0, 0x0000ffffffffffffULL }
	};
	struct cidr_range		 part;

	if (u128_cmp(r->last, v4.first) < 0 ||
	    u128_cmp(r->first, v4.last) > 0) {
		s->r[s->nranges++] = *r;
		return;
	}
	/* A block shorter than /96 that meets v4 holds all of it. */
	if (u128_cmp(r->first, v4.first) < 0) {
		part.first = r->first;
		part.last = (struct u128){ 0, v4.first.lo - 1 };
		s->r[s->nranges++] = part;
	}
	if (u128_cmp(r->last, v4.last) > 0) {
		part.first = (struct u128){ 0, v4.last.lo + 1 };
		part.last = r->last;
		s->r[s->nranges++] = part;
	}
}

/*
 * Build a set from the <n> blocks at <blocks> (host bits are masked off).
 * Returns the set, or NULL when out of memory. Called by the master.
 */
struct cidr_set *
cidr_set_build(const struct cidr *blocks, size_t n)
{
	struct cidr_set		*s;
	struct cidr_range	 r;
	struct u128		 a, m;
	size_t			 i;

	if (n > (SIZE_MAX - sizeof(*s)) / sizeof(s->r[0]) / 2)
		return NULL;
	if ((s = malloc(sizeof(*s) + 2 * n * sizeof(s->r[0]))) == NULL)
		return NULL;
	s->nblocks = n;
	s->nranges = 0;
	for (i = 0; i < n; i++) {
		a = u128_load(blocks[i].addr);
		m = u128_mask(MTD_MIN(blocks[i].prefix, 128u));
		r.first.hi = a.hi & m.hi;
		r.first.lo = a.lo & m.lo;
		r.last.hi = a.hi | ~m.hi;
		r.last.lo = a.lo | ~m.lo;
		if (blocks[i].prefix < 96)
			add_without_v4(s, &r);
		else
			s->r[s->nranges++] = r;
	}
	set_merge(s);
	return s;
}

/*
 * Free <set>; NULL is fine. Called by whoever built it.
 */
void
cidr_set_free(struct cidr_set *set)
{
	free(set);
}

/*
 * Number of blocks <set> was built from (0 for NULL). Any process.
 */
size_t
cidr_set_count(const struct cidr_set *set)
{
	return set != NULL ? set->nblocks : 0;
}

size_t
cidr_set_bytes(size_t nranges)
{
	return sizeof(struct cidr_set) + nranges * sizeof(struct cidr_range);
}

size_t
cidr_set_nranges(const struct cidr_set *set)
{
	return set != NULL ? set->nranges : 0;
}

/*
 * The count is written last: a reader of <dst> that races with the copy
 * (shared/blacklist.c retries such a read) never searches past what
 * either the old or the new count allows, both within <dst>'s room.
 */
void
cidr_set_copy(struct cidr_set *dst, const struct cidr_set *src)
{
	size_t	 n = cidr_set_nranges(src);

	if (n > 0)
		memcpy(dst->r, src->r, n * sizeof(src->r[0]));
	dst->nblocks = cidr_set_count(src);
	dst->nranges = n;
}

/*
 * 1 when <addr16> lies in a block of <set>, else 0 (also for NULL).
 * Read-only binary search: any process, no lock. It stays within the
 * set's room even if the set is rewritten under it (the answer is then
 * meaningless, and the caller's seqlock has it retried).
 */
int
cidr_set_match(const struct cidr_set *set, const uint8_t addr16[16])
{
	struct u128	 a;
	size_t		 lo, hi, mid;

	/* Read once: a set in shared memory may be rewritten meanwhile. */
	if (set == NULL || (hi = *(const volatile size_t *)&set->nranges) == 0)
		return 0;
	a = u128_load(addr16);
	/* Find the last range whose first address is <= a. */
	lo = 0;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (u128_cmp(set->r[mid].first, a) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	return u128_cmp(set->r[lo].first, a) <= 0 &&
	    u128_cmp(a, set->r[lo].last) <= 0;
}

/*
 * Fill <addr16> from <sa> (AF_INET is mapped). Returns 0, or -1 for
 * another family. Any process.
 */
int
cidr_addr_from_sa(const struct sockaddr *sa, uint8_t addr16[16])
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (sa == NULL)
		return -1;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		memcpy(addr16, v4mapped, sizeof(v4mapped));
		memcpy(addr16 + 12, &sin->sin_addr, 4);
		return 0;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		memcpy(addr16, &sin6->sin6_addr, 16);
		return 0;
	default:
		return -1;
	}
}

/*
 * cidr_set_match() for the socket address <sa>; 0 for a NULL set or an
 * unknown family. Any process.
 */
int
cidr_set_match_sa(const struct cidr_set *set, const struct sockaddr *sa)
{
	uint8_t	 a[16];

	if (set == NULL || cidr_addr_from_sa(sa, a) == -1)
		return 0;
	return cidr_set_match(set, a);
}

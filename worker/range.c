/*
 * Byte-range parsing: "bytes=first-last", "bytes=first-" and
 * "bytes=-suffix", and lists of them. Pure: no I/O, no allocation.
 * Numbers saturate at UINT64_MAX instead of overflowing, which gives the
 * right answer for every position larger than any file (unsatisfiable
 * first-pos, clipped last-pos, whole-file suffix).
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "range.h"

struct range_cur {
	const char	*p;
	const char	*e;
};

static void
range_ows(struct range_cur *c)
{
	while (c->p < c->e && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* Reads 1*DIGIT into *<v>, saturating. Returns 0, or -1 with no digit. */
static int
range_num(struct range_cur *c, uint64_t *v)
{
	const char	*start = c->p;
	unsigned	 d;

	*v = 0;
	for (; c->p < c->e && *c->p >= '0' && *c->p <= '9'; c->p++) {
		d = *c->p - '0';
		if (*v > (UINT64_MAX - d) / 10)
			*v = UINT64_MAX;
		else
			*v = *v * 10 + d;
	}
	return c->p == start ? -1 : 0;
}

/*
 * Compares the digit runs [a, ae) and [b, be) as numbers, however long:
 * saturation makes two numbers beyond UINT64_MAX look equal.
 */
static int
range_digits_cmp(const char *a, const char *ae, const char *b,
    const char *be)
{
	while (ae - a > 1 && *a == '0')
		a++;
	while (be - b > 1 && *b == '0')
		b++;
	if (ae - a != be - b)
		return ae - a < be - b ? -1 : 1;
	return memcmp(a, b, (size_t)(ae - a));
}

/*
 * Parses one range-spec ("a-b", "a-", "-n") ending at a comma or the end
 * of the value, OWS aside. For "-n" sets *<suffix> and *<last> = n; else
 * sets *<first> and *<last> (UINT64_MAX when open). Returns 0, or -1 on
 * bad syntax, including last < first.
 */
static int
range_spec(struct range_cur *c, uint64_t *first, uint64_t *last,
    int *suffix)
{
	const char	*fs = c->p, *fe, *ls = NULL, *le = NULL;

	*suffix = c->p < c->e && *c->p == '-';
	if (!*suffix && range_num(c, first) == -1)
		return -1;
	fe = c->p;
	if (c->p == c->e || *c->p++ != '-')
		return -1;
	*last = UINT64_MAX;
	if (*suffix || (c->p < c->e && *c->p >= '0' && *c->p <= '9')) {
		ls = c->p;
		if (range_num(c, last) == -1)
			return -1;
		le = c->p;
	}
	range_ows(c);
	if (c->p != c->e && *c->p != ',')
		return -1;	/* trailing junk */
	if (!*suffix && *first > *last)
		return -1;
	/* Both saturated: "...617-...616" is still last < first. */
	if (!*suffix && ls != NULL && *first == UINT64_MAX &&
	    *last == UINT64_MAX && range_digits_cmp(fs, fe, ls, le) > 0)
		return -1;
	return 0;
}

/*
 * Skips list separators: commas and OWS. RFC 9110 5.6.1 has recipients
 * accept empty list elements ("0-1,,5-6"). Returns how many commas.
 */
static int
range_commas(struct range_cur *c)
{
	int	 n = 0;

	for (;;) {
		range_ows(c);
		if (c->p == c->e || *c->p != ',')
			return n;
		c->p++;
		n++;
	}
}

/*
 * Adds the spec just parsed to <rs> when <size> satisfies it (RFC 9110
 * 14.1.2): a first position inside the representation, or a non-empty
 * suffix. Returns 0, or -1 when <rs> is full.
 */
static int
range_add(struct range_set *rs, uint64_t size, uint64_t first,
    uint64_t last, int suffix)
{
	if (suffix) {
		if (last == 0 || size == 0)
			return 0;
		first = last >= size ? 0 : size - last;
		last = size - 1;
	} else {
		if (first >= size)
			return 0;
		if (last >= size)
			last = size - 1;
	}
	if (rs->n == RANGE_MAX)
		return -1;
	rs->first[rs->n] = first;
	rs->last[rs->n] = last;
	rs->n++;
	return 0;
}

/* Whether the ranges of <rs> add up to more than <size> bytes. */
static int
range_set_oversized(const struct range_set *rs, uint64_t size)
{
	uint64_t	 sum = 0, n;
	int		 i;

	for (i = 0; i < rs->n; i++) {
		n = rs->last[i] - rs->first[i] + 1;
		if (n > size - sum)
			return 1;
		sum += n;
	}
	return 0;
}

/*
 * Parses the Range header value <v> of <len> bytes against a
 * representation of <size> bytes into <rs>: the satisfiable ranges, in
 * the order asked, inclusive, clipped to <size> - 1. Returns RANGE_OK
 * (rs->n >= 1); RANGE_NONE when the header must be ignored: bad syntax,
 * another unit, more than RANGE_MAX satisfiable ranges, or ranges that
 * add up to more than the representation (overlaps asking for the same
 * bytes again and again, as nginx refuses too); RANGE_UNSATISFIABLE
 * when no range is satisfiable. Any process may call it.
 */
int
range_parse_set(const char *v, size_t len, uint64_t size,
    struct range_set *rs)
{
	struct range_cur	 c = { v, v + len };
	uint64_t		 first = 0, last;
	int			 suffix, specs = 0;

	rs->n = 0;
	range_ows(&c);
	if (c.e - c.p < 6 || strncasecmp(c.p, "bytes=", 6) != 0)
		return RANGE_NONE;
	c.p += 6;
	range_commas(&c);
	while (c.p < c.e) {
		if (specs > 0 && range_commas(&c) == 0)
			return RANGE_NONE;	/* "0-1 2-3" */
		if (c.p == c.e)
			break;
		if (range_spec(&c, &first, &last, &suffix) == -1 ||
		    range_add(rs, size, first, last, suffix) == -1)
			return RANGE_NONE;
		specs++;
	}
	if (specs == 0)
		return RANGE_NONE;
	if (rs->n == 0)
		return RANGE_UNSATISFIABLE;
	if (range_set_oversized(rs, size))
		return RANGE_NONE;
	return RANGE_OK;
}

/*
 * Single byte-range parsing: "bytes=first-last", "bytes=first-" and
 * "bytes=-suffix". Pure: no I/O, no allocation. Numbers saturate at
 * UINT64_MAX instead of overflowing, which gives the right answer for
 * every position larger than any file (unsatisfiable first-pos, clipped
 * last-pos, whole-file suffix).
 */
#include <stdint.h>
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
 * Parses one range-spec ("a-b", "a-", "-n") that must run to the end of
 * the value, OWS aside. For "-n" sets *<suffix> and *<last> = n; else
 * sets *<first> and *<last> (UINT64_MAX when open). Returns 0, or -1 on
 * bad syntax, including last < first.
 */
static int
range_spec(struct range_cur *c, uint64_t *first, uint64_t *last,
    int *suffix)
{
	*suffix = c->p < c->e && *c->p == '-';
	if (!*suffix && range_num(c, first) == -1)
		return -1;
	if (c->p == c->e || *c->p++ != '-')
		return -1;
	*last = UINT64_MAX;
	if (*suffix || (c->p < c->e && *c->p >= '0' && *c->p <= '9')) {
		if (range_num(c, last) == -1)
			return -1;
	}
	range_ows(c);
	if (c->p != c->e)
		return -1;	/* a list, or trailing junk */
	if (!*suffix && *first > *last)
		return -1;
	return 0;
}

/*
 * Parses the Range header value <v> of <len> bytes against a
 * representation of <size> bytes. Returns RANGE_OK with the inclusive
 * range in *<start>, *<end> (clipped to <size> - 1); RANGE_NONE when the
 * header must be ignored (bad syntax, another unit, several ranges);
 * RANGE_UNSATISFIABLE when the first position is at or past <size>, the
 * suffix is empty, or <size> is 0. Any process may call it.
 */
int
range_parse(const char *v, size_t len, uint64_t size, uint64_t *start,
    uint64_t *end)
{
	struct range_cur	 c = { v, v + len };
	uint64_t		 first = 0, last;
	int			 suffix;

	range_ows(&c);
	if (c.e - c.p < 6 || strncasecmp(c.p, "bytes=", 6) != 0)
		return RANGE_NONE;
	c.p += 6;
	range_ows(&c);
	if (range_spec(&c, &first, &last, &suffix) == -1)
		return RANGE_NONE;
	if (size == 0)
		return RANGE_UNSATISFIABLE;
	if (suffix) {
		if (last == 0)
			return RANGE_UNSATISFIABLE;
		*start = last >= size ? 0 : size - last;
		*end = size - 1;
		return RANGE_OK;
	}
	if (first >= size)
		return RANGE_UNSATISFIABLE;
	*start = first;
	*end = last >= size ? size - 1 : last;
	return RANGE_OK;
}

/*
 * libFuzzer target for worker/range.c. The first byte picks the size of
 * the representation (small sizes, where the edges are, or a large one);
 * the rest is the Range value. A RANGE_OK set must hold 1 to RANGE_MAX
 * ranges, each first <= last < size, adding up to at most size, and a
 * second parse must give the same set. A value whose last byte is
 * dropped may not crash either (no read past <len>).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "range.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const char *v, size_t len, uint64_t size)
{
	struct range_set	 rs, again;
	uint64_t		 sum = 0;
	int			 rc, i;

	rc = range_parse_set(v, len, size, &rs);
	if (rc != RANGE_OK && rc != RANGE_NONE && rc != RANGE_UNSATISFIABLE)
		abort();
	/* No hidden state: the same value gives the same set. */
	if (range_parse_set(v, len, size, &again) != rc || (rc == RANGE_OK &&
	    (again.n != rs.n || memcmp(again.first, rs.first,
	    sizeof(rs.first[0]) * (size_t)rs.n) != 0 || memcmp(again.last,
	    rs.last, sizeof(rs.last[0]) * (size_t)rs.n) != 0)))
		abort();
	if (rc != RANGE_OK)
		return;
	if (rs.n < 1 || rs.n > RANGE_MAX)
		abort();
	for (i = 0; i < rs.n; i++) {
		if (rs.first[i] > rs.last[i] || rs.last[i] >= size)
			abort();
		sum += rs.last[i] - rs.first[i] + 1;
		if (sum > size)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t	 rsize;
	char		*v;
	size_t		 len;

	if (size < 1)
		return 0;
	rsize = data[0] < 250 ? data[0] : (uint64_t)1 << (data[0] - 192);
	len = size - 1;
	/* A copy of exactly <len> bytes: ASan sees any read past it. */
	if ((v = malloc(len ? len : 1)) == NULL)
		return 0;
	memcpy(v, data + 1, len);
	check(v, len, rsize);
	if (len > 0)
		check(v, len - 1, rsize);
	free(v);
	return 0;
}

/*
 * Range request header parsing (RFC 9110 14.1.2) for the static-file
 * server and the cache, which answer several ranges with
 * multipart/byteranges (worker/byteranges.c).
 */
#ifndef RANGE_H
#define RANGE_H

#include <stddef.h>
#include <stdint.h>

#define RANGE_OK		1	/* 206 with [start, end] */
#define RANGE_NONE		0	/* ignore the header: 200 */
#define RANGE_UNSATISFIABLE	(-1)	/* 416 */

/* Satisfiable ranges one response serves; more: the whole file. */
#define RANGE_MAX		16

struct range_set {
	int		 n;
	uint64_t	 first[RANGE_MAX], last[RANGE_MAX];	/* inclusive */
};

int	range_parse_set(const char *v, size_t len, uint64_t size,
	    struct range_set *rs);

#endif /* RANGE_H */

/*
 * Range request header parsing (RFC 9110 14.1.2) for the static-file
 * server. Only a single byte range is honoured; anything else makes the
 * server ignore the header and send the whole representation.
 */
#ifndef RANGE_H
#define RANGE_H

#include <stddef.h>
#include <stdint.h>

#define RANGE_OK		1	/* 206 with [start, end] */
#define RANGE_NONE		0	/* ignore the header: 200 */
#define RANGE_UNSATISFIABLE	(-1)	/* 416 */

int	range_parse(const char *v, size_t len, uint64_t size, uint64_t *start,
	    uint64_t *end);

#endif /* RANGE_H */

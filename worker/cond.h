/*
 * Conditional requests (RFC 9110 13) against one representation: the
 * preconditions of a GET or HEAD, in the order of RFC 9110 13.2.2, for
 * static files and cache hits alike. Pure: no I/O.
 */
#ifndef COND_H
#define COND_H

#include <stddef.h>
#include <time.h>

#include "http.h"

#define COND_PERFORM		0	/* answer as usual (200, 206) */
#define COND_NOT_MODIFIED	304
#define COND_FAILED		412	/* Precondition Failed */

/*
 * Whether the entity-tag list <list>/<len> (If-Match, If-None-Match)
 * names <etag> ("" or NULL: the representation has none). "*" matches
 * only as the whole value. <strong>: weak tags never match (If-Match).
 */
int	cond_etag_listed(const char *list, size_t len, const char *etag,
	    int strong);

/*
 * The answer the validators of <req> call for, for a representation with
 * <etag> and last modified at <mtime> (-1: unknown), at <now>.
 */
int	cond_evaluate(const struct http_request *req, const char *etag,
	    time_t mtime, time_t now);

#endif /* COND_H */

/*
 * Vary (RFC 9111 4.1): a stored response may answer a request only when
 * the request fields its Vary names match those of the request that
 * fetched it. The cache keeps a digest of those fields with the object;
 * this file computes it, from one or more Vary values and a request.
 *
 * Accept-Encoding is noted but left out of the digest: the cache stores
 * identity bodies and codes each answer for its client (pcache.c).
 * "*" is noted too: such a response is never stored.
 * Pure: no I/O, no global state.
 */
#ifndef VARY_H
#define VARY_H

#include <sys/types.h>
#include <sha2.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "http.h"

struct vary {
	SHA2_CTX	 sha;
	int		 fields;	/* names that went into the digest */
	int		 star;		/* "*" was listed */
	int		 accept_encoding; /* Accept-Encoding was listed */
};

void	vary_init(struct vary *v);

/*
 * Add one Vary value <p>/<len> (a comma-separated list of field names)
 * for <req>: each name, lower-cased, then the request's values of that
 * field in order, comma-joined; an absent field and an empty one differ.
 * Call once per Vary line, in the order the response gave them.
 * With <req> NULL, only "*" and Accept-Encoding are noted (no digest).
 */
void	vary_add(struct vary *v, const struct http_request *req,
	    const char *p, size_t len);

/*
 * The digest into <out>; all zeros when no name other than
 * Accept-Encoding was seen (the response does not vary for the cache).
 */
void	vary_final(struct vary *v, uint8_t out[CACHE_VARIANT_LEN]);

/* Whether <d> is the all-zero "does not vary" digest. */
int	vary_none(const uint8_t d[CACHE_VARIANT_LEN]);

#endif /* VARY_H */

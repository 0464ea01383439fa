/*
 * The seed's cache rules (cache_rules.cfg, "pattern:max_age:max_size"):
 * wildcard patterns matched against a request path, first match wins.
 * '*' matches any run of bytes, '/' included; '?' matches exactly one.
 * Pure functions over the loaded configuration: no state, no locks, any
 * process.
 */
#ifndef CACHERULE_H
#define CACHERULE_H

#include <stddef.h>

#include "conf.h"

/*
 * Whether the NUL-terminated wildcard <pattern> matches the whole of the
 * <len> bytes at <s> (which need not be NUL-terminated and may hold any
 * byte). Iterative, backtracking to the last '*' only: O(pattern * len)
 * at worst, never exponential. Returns 1 on a match, 0 otherwise.
 * No lock; any process.
 */
int	 cacherule_match(const char *pattern, const char *s, size_t len);

/*
 * Whether every path the pattern <later> matches is also matched by
 * <earlier>, so that <later>, listed after <earlier>, can never be the
 * first match. Sound, not complete: a 1 is certain, a 0 may miss an
 * exotic case (e.g. "*?" covers "?*"). Both NUL-terminated, at most
 * CACHERULE_PATTERN_MAX bytes each (longer: 0). No lock; any process.
 */
#define CACHERULE_PATTERN_MAX	255
int	 cacherule_covers(const char *earlier, const char *later);

/*
 * The first rule of <c> whose pattern matches the request path <path>
 * (<len> bytes). The path is cut at its first '?', so a whole request
 * target may be given: rules see the path without the query. Returns the
 * rule (owned by <c>; max_age 0 means "never cache"), or NULL when none
 * matches. No lock; any process (workers use the copy of <c> they got
 * through fork()).
 */
const struct conf_cache_rule *cacherule_find(const struct conf *c,
	    const char *path, size_t len);

#endif /* CACHERULE_H */

/*
 * Wildcard matching for cache_rules.cfg and the first-match rule lookup.
 * The matcher is the classic greedy one with a single backtrack point:
 * on a mismatch it retries from the last '*' one byte further on. That
 * is complete for patterns made of '*', '?' and literals (a later star
 * can absorb whatever an earlier one would have), and bounded by
 * O(pattern * subject), so a hostile path cannot make it blow up.
 */
#include <stddef.h>
#include <string.h>

#include "cacherule.h"
#include "conf.h"

int
cacherule_match(const char *pattern, const char *s, size_t len)
{
	const char	*p = pattern, *star = NULL;
	size_t		 i = 0, mark = 0;

	while (i < len) {
		if (*p == '*') {
			/* Remember where to resume: star absorbs 0 bytes. */
			star = ++p;
			mark = i;
		} else if (*p != '\0' && (*p == '?' || *p == s[i])) {
			p++;
			i++;
		} else if (star != NULL) {
			/* Let the last star absorb one more byte. */
			p = star;
			i = ++mark;
		} else
			return 0;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

const struct conf_cache_rule *
cacherule_find(const struct conf *c, const char *path, size_t len)
{
	const char	*q;
	int		 i;

	if ((q = memchr(path, '?', len)) != NULL)
		len = q - path;
	for (i = 0; i < c->ncache_rules; i++)
		if (cacherule_match(c->cache_rules[i].pattern, path, len))
			return &c->cache_rules[i];
	return NULL;
}

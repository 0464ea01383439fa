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

/*
 * Matching <earlier> against <later> read as a string of tokens, where
 * a literal in <earlier> takes only the same literal, '?' takes a
 * literal or a '?', and '*' takes any run of tokens, '*' included.
 * Whatever path <later> matches, such a token match maps it onto a match
 * of <earlier>. Dynamic programming over two rows: O(|earlier| x
 * |later|) time, no recursion.
 */
int
cacherule_covers(const char *earlier, const char *later)
{
	unsigned char	 row[2][CACHERULE_PATTERN_MAX + 2];
	size_t		 ne = strlen(earlier), nl = strlen(later), i, j;
	unsigned char	*prev = row[0], *cur = row[1], *t;

	if (ne > CACHERULE_PATTERN_MAX || nl > CACHERULE_PATTERN_MAX)
		return 0;
	/* prev[j]: earlier[0..i) takes later[0..j); i = 0 first. */
	memset(prev, 0, nl + 1);
	prev[0] = 1;
	for (i = 0; i < ne; i++) {
		char	 e = earlier[i];

		cur[0] = e == '*' && prev[0];
		for (j = 1; j <= nl; j++) {
			char	 l = later[j - 1];

			if (e == '*')
				cur[j] = prev[j] || cur[j - 1];
			else if (e == '?')
				cur[j] = prev[j - 1] && l != '*';
			else
				cur[j] = prev[j - 1] && l == e;
		}
		t = prev, prev = cur, cur = t;
	}
	return prev[nl];
}

/*
 * The first rule that matches decides, except that a "never cache" rule
 * (max_age 0) that matches wins wherever it stands: the seed lists its
 * never-cache API rule after its catch-all and means the API to stay
 * out.
 */
const struct conf_cache_rule *
cacherule_find(const struct conf *c, const char *path, size_t len)
{
	const struct conf_cache_rule	*first = NULL, *r;
	const char			*q;
	int				 i;

	if ((q = memchr(path, '?', len)) != NULL)
		len = q - path;
	for (i = 0; i < c->ncache_rules; i++) {
		r = &c->cache_rules[i];
		if ((first != NULL && r->max_age > 0) ||
		    !cacherule_match(r->pattern, path, len))
			continue;
		if (r->max_age == 0)
			return r;
		first = r;
	}
	return first;
}

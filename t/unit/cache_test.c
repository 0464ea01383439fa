/*
 * Unit tests for shared/cacherule.c and shared/cache.c. The cache lives
 * in a MAP_SHARED anonymous mapping, so forked children use it exactly
 * as workers use the segment: fills, hits, collapsed misses, and a child
 * that dies holding a stripe lock.
 */
#define MTD_TEST_HOOKS 1

#include <sys/mman.h>
#include <sys/wait.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "cacherule.h"
#include "conf.h"
#include "tap.h"

#define NOW	1700000000

static const char HEAD[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";

static int
m(const char *pat, const char *s)
{
	return cacherule_match(pat, s, strlen(s));
}

static double
since(const struct timespec *t0)
{
	struct timespec	 t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
test_match(void)
{
	struct timespec	 t0;
	char		*big;
	int		 r1, r2, r3;

	ok(m("*.html", "/page.html"), "*.html matches /page.html");
	ok(m("*.html", "/a/b/c.html"), "*.html matches across /");
	ok(!m("*.html", "/page.htm"), "*.html does not match /page.htm");
	ok(!m("*.html", "/page.html/x"), "*.html is anchored at the end");
	ok(m("/*", "/api/data"), "/* matches /api/data");
	ok(m("/*", "/"), "/* matches /");
	ok(!m("/*", "api"), "/* does not match api");
	ok(m("/api/*", "/api/data"), "/api/* matches /api/data");
	ok(m("/api/*", "/api/"), "/api/* matches /api/");
	ok(!m("/api/*", "/apix/data"), "/api/* does not match /apix/data");
	ok(m("/?.css", "/a.css"), "? matches one byte");
	ok(!m("/?.css", "/.css"), "? needs a byte");
	ok(!m("/?.css", "/ab.css"), "? matches exactly one");
	ok(m("/a?c", "/a/c"), "? matches /");
	ok(m("*", ""), "* matches the empty string");
	ok(m("", ""), "empty matches empty");
	ok(!m("", "/"), "empty matches nothing else");
	ok(m("**a**", "xxa"), "runs of stars");
	ok(m("*a*b*c", "/xaybzc"), "several stars");
	ok(!m("*a*b*c", "/xaybz"), "several stars, no match");
	ok(m("/x*y?z", "/xqqyyqz") == 1, "backtrack to the last star");
	ok(cacherule_match("/a?", "/a\0", 3), "? matches a NUL byte");
	ok(!cacherule_match("/a", "/a\0", 3), "a NUL byte is not the end");

	big = malloc(20001);
	memset(big, 'a', 20000);
	big[20000] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r1 = cacherule_match("a*a*a*a*a*a*a*b", big, 10000);
	r2 = cacherule_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*ab", big,
	    20000);
	r3 = cacherule_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a", big,
	    20000);
	ok(!r1 && !r2 && r3, "pathological patterns give the right answers");
	ok(since(&t0) < 0.5, "pathological patterns are fast (%.3f s)",
	    since(&t0));
	free(big);
}

/* A random pattern over a small alphabet, so that patterns meet. */
static void
random_pattern(char *buf, size_t max)
{
	static const char	 alphabet[] = "ab*?";
	size_t			 n = (size_t)rand() % max, i;

	for (i = 0; i < n; i++)
		buf[i] = alphabet[rand() % 4];
	buf[n] = '\0';
}

/* A random path that <pat> matches: each wildcard filled at random. */
static void
instance_of(const char *pat, char *path)
{
	int	 n;

	for (; *pat != '\0'; pat++) {
		if (*pat == '*')
			for (n = rand() % 4; n > 0; n--)
				*path++ = "abc"[rand() % 3];
		else if (*pat == '?')
			*path++ = "abc"[rand() % 3];
		else
			*path++ = *pat;
	}
	*path = '\0';
}

static void
test_covers(void)
{
	char	 e[12], l[12], path[64];
	int	 i, k, claimed = 0, wrong = 0;

	ok(cacherule_covers("/*", "/api/*"), "/* covers /api/*");
	ok(cacherule_covers("*", "*.css"), "* covers everything");
	ok(cacherule_covers("/api/*", "/api/*"), "a pattern covers itself");
	ok(cacherule_covers("/api/*", "/api/v?/*"), "* covers ? and literals");
	ok(cacherule_covers("*.css", "/static/*.css"), "suffix patterns");
	ok(cacherule_covers("/a?c", "/abc"), "? covers a literal");
	ok(!cacherule_covers("/abc", "/a?c"), "a literal does not cover ?");
	ok(!cacherule_covers("/a?c", "/a*c"), "? does not cover *");
	ok(!cacherule_covers("/api/*", "/*"), "narrower does not cover wider");
	ok(!cacherule_covers("*.css", "*.html"), "other suffix");
	ok(!cacherule_covers("*.html", "/*"), "a suffix does not cover /*");
	ok(!cacherule_covers("/api/*", "/apix"), "prefix needs its /");
	ok(cacherule_covers("", ""), "empty covers empty");
	ok(!cacherule_covers("", "*"), "empty does not cover *");

	/*
	 * Soundness: whenever covers() says yes, every path the later
	 * pattern matches must match the earlier one.
	 */
	srand(7);
	for (i = 0; i < 20000; i++) {
		random_pattern(e, sizeof(e) - 1);
		random_pattern(l, sizeof(l) - 1);
		if (!cacherule_covers(e, l))
			continue;
		claimed++;
		for (k = 0; k < 50; k++) {
			instance_of(l, path);
			if (!m(l, path) || !m(e, path))
				wrong++;
		}
	}
	ok(claimed > 100 && wrong == 0,
	    "covers() is sound on random patterns (%d claims, %d wrong)",
	    claimed, wrong);
}

static void
test_rules(void)
{
	struct conf_cache_rule	 rules[4] = {
		{ "*.html", 10, 102400, 1 },
		{ "*.css", 30, 1048576, 2 },
		{ "/*", 5, 51200, 3 },
		{ "/api/*", 0, 0, 4 },
	};
	struct conf		*c = calloc(1, sizeof(*c));
	const struct conf_cache_rule *r;
	const char		*p;

	c->cache_rules = rules;
	c->ncache_rules = 4;
	p = "/page.html";
	ok(cacherule_find(c, p, strlen(p)) == &rules[0], "/page.html: rule 1");
	p = "/s/site.css?v=3";
	ok(cacherule_find(c, p, strlen(p)) == &rules[1],
	    "/s/site.css?v=3: rule 2, query ignored");
	p = "/api/data";
	r = cacherule_find(c, p, strlen(p));
	ok(r == &rules[3] && r->max_age == 0,
	    "/api/data: a never-cache rule wins after /*");
	p = "/api/x.html";
	ok(cacherule_find(c, p, strlen(p)) == &rules[3],
	    "/api/x.html: a never-cache rule wins after *.html");
	p = "/apix";
	ok(cacherule_find(c, p, strlen(p)) == &rules[2],
	    "/apix: /* (the never-cache rule does not match)");
	p = "/x.html.bak?a.html";
	ok(cacherule_find(c, p, strlen(p)) == &rules[2],
	    "query bytes are not matched");
	p = "*";
	ok(cacherule_find(c, p, strlen(p)) == NULL, "no rule matches");
	c->cache_rules = &rules[3];
	c->ncache_rules = 1;
	p = "/api/data";
	r = cacherule_find(c, p, strlen(p));
	ok(r == &rules[3] && r->max_age == 0, "/api/*: never cache");
	free(c);
}

static void *
region(size_t cache_size)
{
	struct conf	*c = calloc(1, sizeof(*c));
	size_t		 sz;
	void		*p;

	c->cache_size = cache_size;
	sz = cache_region_size(c);
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	if (cache_region_init(p, c) == -1) {
		fprintf(stderr, "cache_region_init failed\n");
		exit(1);
	}
	free(c);
	return p;
}

static void
unmap(void *r)
{
	munmap(r, ((struct cache_region *)r)->size);
}

/* Store <body> under <key>: head, body in 3 pieces, commit. 0 or -1. */
static int
put(void *r, const char *key, const char *head, const void *body,
    size_t blen, long ttl, time_t now, const char *etag)
{
	struct cache_fill	 f;
	const char		*b = body;
	size_t			 k = blen / 3;

	if (cache_fill_begin(r, key, strlen(key), SIZE_MAX, now, &f) != 0)
		return -1;
	if (cache_fill_head(r, &f, head, strlen(head)) == -1 ||
	    cache_fill_append(r, &f, b, k) == -1 ||
	    cache_fill_append(r, &f, b + k, k) == -1 ||
	    cache_fill_append(r, &f, b + 2 * k, blen - 2 * k) == -1)
		return -1;
	return cache_fill_commit(r, &f, 200, ttl, now, etag, -1);
}

static int
look(void *r, const char *key, time_t now, long stale, struct cache_hit *h,
    char *buf, size_t len)
{
	return cache_lookup(r, key, strlen(key), now, stale, h, buf, len);
}

static int
puts_(void *r, const char *key, const char *body, long ttl)
{
	return put(r, key, HEAD, body, strlen(body), ttl, NOW, NULL);
}

/* PURGE of a Vary resource: every key with the prefix, in any stripe. */
static void
test_purge_prefix(void)
{
	void			*r = region(64 << 20);
	struct cache_stats	 st;
	struct cache_hit	 h;
	char			 buf[4096], key[32];
	int			 i;

	for (i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "h/v|%d", i);
		puts_(r, key, "variant", 60);
	}
	puts_(r, "h/vx", "other", 60);
	puts_(r, "h/v", "base", 60);
	is_int(cache_purge_prefix(r, "h/v|", 4), 40,
	    "purge_prefix: the 40 keys with the prefix, over the stripes");
	cache_stats(r, &st);
	is_int(st.entries, 2, "purge_prefix: the others stay");
	is_int(look(r, "h/vx", NOW, 0, &h, buf, sizeof(buf)), CACHE_HIT,
	    "purge_prefix: a longer key without the prefix stays");
	is_int(look(r, "h/v|7", NOW, 0, &h, buf, sizeof(buf)), CACHE_MISS,
	    "purge_prefix: a purged key misses");
	is_int(cache_purge_prefix(r, "h/v|", 4), 0, "purge_prefix again: 0");
	unmap(r);
}

static void
test_basic(void)
{
	void			*r = region(64 << 20);
	struct cache_stats	 st;
	struct cache_hit	 h;
	char			 buf[4096];
	size_t			 hl = strlen(HEAD);
	int			 rc;

	cache_stats(r, &st);
	ok(st.stripes == 16 && st.capacity == 64 << 20 && st.entries == 0,
	    "64m: 16 stripes, capacity 64m, empty");
	ok(st.max_object == 4 << 20, "64m: objects up to 4m");
	is_int(look(r, "h/a", NOW, 0, &h, buf, sizeof(buf)), CACHE_MISS,
	    "empty cache misses");
	ok(h.status == 0 && h.last_modified == -1 && h.recovered == -1,
	    "miss: no metadata");
	is_int(puts_(r, "h/a", "hello", 10), 0, "insert");
	rc = look(r, "h/a", NOW + 3, 0, &h, buf, sizeof(buf));
	is_int(rc, CACHE_HIT, "lookup hits");
	ok(h.status == 200 && h.head_len == hl && h.body_len == 5 &&
	    h.need == hl + 5, "hit: status and lengths");
	ok(memcmp(buf, HEAD, hl) == 0 && memcmp(buf + hl, "hello", 5) == 0,
	    "hit: head then body copied");
	ok(h.age == 3 && h.ttl == 7 && h.stored_at == NOW &&
	    h.expires_at == NOW + 10, "hit: age 3, ttl 7");
	ok(h.etag[0] == '"' && strlen(h.etag) == 66, "computed etag: %s",
	    h.etag);
	is_int(look(r, "h/b", NOW, 0, &h, buf, sizeof(buf)), CACHE_MISS,
	    "other key misses");
	is_int(look(r, "h/a", NOW, 0, &h, buf, 10), CACHE_TOO_BIG,
	    "small buffer: too big");
	is_int(h.need, hl + 5, "too big reports the size needed");

	is_int(look(r, "h/a", NOW + 9, 0, &h, buf, sizeof(buf)), CACHE_HIT,
	    "fresh until now + ttl - 1");
	is_int(look(r, "h/a", NOW + 10, 0, &h, buf, sizeof(buf)), CACHE_MISS,
	    "expired at now + ttl");
	ok(h.status == 200 && h.ttl == 0, "expired: metadata still given");
	rc = look(r, "h/a", NOW + 15, 30, &h, buf, sizeof(buf));
	ok(rc == CACHE_STALE && memcmp(buf + hl, "hello", 5) == 0 &&
	    h.ttl == -5, "within the stale window: stale copy");
	is_int(look(r, "h/a", NOW + 40, 30, &h, buf, sizeof(buf)), CACHE_MISS,
	    "past the stale window: miss");

	is_int(puts_(r, "h/a", "second version", 10), 0, "replace");
	rc = look(r, "h/a", NOW, 0, &h, buf, sizeof(buf));
	ok(rc == CACHE_HIT && h.body_len == 14 &&
	    memcmp(buf + hl, "second version", 14) == 0,
	    "replace: new body served");
	cache_stats(r, &st);
	is_int(st.entries, 1, "replace: one entry");

	is_int(cache_purge(r, "h/a", 3), 1, "purge removes");
	is_int(cache_purge(r, "h/a", 3), 0, "purge again: absent");
	is_int(look(r, "h/a", NOW, 0, &h, buf, sizeof(buf)), CACHE_MISS,
	    "purged key misses");
	cache_stats(r, &st);
	ok(st.entries == 0 && st.bytes == 0 && st.object_bytes == 0,
	    "purge frees everything");
	ok(st.hits == 3 && st.stale == 1 && st.stores == 2,
	    "counters: hits %llu stale %llu stores %llu",
	    (unsigned long long)st.hits, (unsigned long long)st.stale,
	    (unsigned long long)st.stores);

	is_int(put(r, "h/z", HEAD, "x", 1, 0, NOW, NULL), -1,
	    "ttl 0 stores nothing");
	is_int(look(r, "h/z", NOW, 0, &h, buf, sizeof(buf)), CACHE_MISS,
	    "ttl 0: miss, not pending");
	unmap(r);
}

static void
test_disabled(void)
{
	void			*r = region(0);
	struct cache_stats	 st;
	struct cache_fill	 f;
	struct cache_hit	 h;
	char			 buf[64];
	struct conf		 c;

	memset(&c, 0, sizeof(c));
	ok(cache_region_size(&c) == sizeof(struct cache_region),
	    "cache_size 0: header only");
	cache_stats(r, &st);
	ok(st.stripes == 0 && st.capacity == 0, "cache_size 0: disabled");
	is_int(cache_fill_begin(r, "k", 1, 100, NOW, &f), -1,
	    "disabled: fill refused");
	is_int(look(r, "k", NOW, 0, &h, buf, sizeof(buf)), CACHE_MISS,
	    "disabled: miss");
	unmap(r);
}

static void
test_etag(void)
{
	void			*r = region(1 << 20);
	struct cache_hit	 h;
	char			 buf[512], longtag[200];

	is_int(put(r, "k1", HEAD, "abc", 3, 60, NOW, NULL), 0, "store abc");
	look(r, "k1", NOW, 0, &h, buf, sizeof(buf));
	ok(strcmp(h.etag, "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a"
	    "9cb410ff61f20015ad\"") == 0, "ETag = SHA-256 of the body only");
	put(r, "k2", HEAD, "abc", 3, 60, NOW, "");
	look(r, "k2", NOW, 0, &h, buf, sizeof(buf));
	ok(strncmp(h.etag, "\"ba7816bf", 9) == 0, "empty etag: computed");
	put(r, "k3", HEAD, "abc", 3, 60, NOW, "W/\"v1\"");
	look(r, "k3", NOW, 0, &h, buf, sizeof(buf));
	ok(strcmp(h.etag, "W/\"v1\"") == 0, "backend etag kept");
	memset(longtag, 'x', sizeof(longtag) - 1);
	longtag[sizeof(longtag) - 1] = '\0';
	put(r, "k4", HEAD, "abc", 3, 60, NOW, longtag);
	look(r, "k4", NOW, 0, &h, buf, sizeof(buf));
	ok(h.etag[0] == '\0', "oversized etag: none");
	unmap(r);
}

/*
 * The variant set before the commit comes back with every hit; zeros
 * unless set; a new fill of the key replaces object and variant; the
 * counters move with cache_recount().
 */
static void
test_variant(void)
{
	void			*r = region(1 << 20);
	struct cache_fill	 f;
	struct cache_hit	 h;
	struct cache_stats	 st;
	uint8_t			 v1[CACHE_VARIANT_LEN], zero[CACHE_VARIANT_LEN];
	char			 buf[512];

	memset(zero, 0, sizeof(zero));
	memset(v1, 0xa5, sizeof(v1));
	put(r, "k1", HEAD, "abc", 3, 60, NOW, NULL);
	uint64_t		 id1;

	look(r, "k1", NOW, 0, &h, buf, sizeof(buf));
	ok(memcmp(h.variant, zero, sizeof(zero)) == 0, "no variant: zeros");
	id1 = h.id;
	ok(id1 != 0, "an object has an id");
	is_int(cache_fill_begin(r, "k1", 2, SIZE_MAX, NOW, &f), 0,
	    "a live key can be filled again");
	ok(memcmp(f.variant, zero, sizeof(zero)) == 0, "begin zeroes it");
	memcpy(f.variant, v1, sizeof(v1));
	cache_fill_head(r, &f, HEAD, strlen(HEAD));
	cache_fill_append(r, &f, "xyz", 3);
	is_int(cache_fill_commit(r, &f, 200, 60, NOW, NULL, -1), 0, "commit");
	is_int(look(r, "k1", NOW, 0, &h, buf, sizeof(buf)), CACHE_HIT, "hit");
	ok(memcmp(h.variant, v1, sizeof(v1)) == 0, "variant handed back");
	ok(h.id != 0 && h.id != id1, "a new object under the key: a new id");
	ok(memcmp(buf + h.head_len, "xyz", 3) == 0, "the new object");
	is_int(look(r, "k1", NOW + 61, 60, &h, buf, sizeof(buf)), CACHE_STALE,
	    "stale copy");
	ok(memcmp(h.variant, v1, sizeof(v1)) == 0, "with its variant too");
	cache_stats(r, &st);
	ok(st.hits == 2 && st.stale == 1 && st.misses == 0,
	    "before: two hits, one stale copy");
	cache_recount(r, CACHE_HIT, CACHE_MISS);
	cache_recount(r, CACHE_STALE, CACHE_ERROR);
	cache_stats(r, &st);
	ok(st.hits == 1 && st.stale == 0 && st.misses == 1,
	    "recount: a hit became a miss, a stale copy nothing");
	unmap(r);
}

static void
test_lru(void)
{
	void			*r = region(16 * 1024);
	struct cache_stats	 st;
	struct cache_hit	 h;
	char			*body = malloc(4500), *buf = malloc(8192);

	memset(body, 'b', 4500);
	cache_stats(r, &st);
	ok(st.stripes == 1 && st.capacity == 16384, "16k: one stripe");
	put(r, "A", HEAD, body, 4400, 60, NOW, NULL);
	put(r, "B", HEAD, body, 4400, 60, NOW, NULL);
	put(r, "C", HEAD, body, 4400, 60, NOW, NULL);
	cache_stats(r, &st);
	ok(st.entries == 3 && st.evictions == 0, "A B C fit");
	is_int(look(r, "A", NOW, 0, &h, buf, 8192), CACHE_HIT, "touch A");
	put(r, "D", HEAD, body, 4400, 60, NOW, NULL);
	is_int(look(r, "B", NOW, 0, &h, buf, 8192), CACHE_MISS,
	    "D pushed out B, the least recently used");
	ok(look(r, "A", NOW, 0, &h, buf, 8192) == CACHE_HIT &&
	    look(r, "C", NOW, 0, &h, buf, 8192) == CACHE_HIT &&
	    look(r, "D", NOW, 0, &h, buf, 8192) == CACHE_HIT,
	    "A, C and D remain");
	cache_stats(r, &st);
	ok(st.evictions == 1 && st.bytes <= st.capacity, "one eviction");

	is_int(put(r, "E", HEAD, body, 4500, 60, NOW, NULL), 0,
	    "4.5k object fits");
	memset(body, 'c', 4500);
	free(body);
	body = calloc(1, 20000);
	is_int(put(r, "BIG", HEAD, body, 20000, 60, NOW, NULL), -1,
	    "object bigger than the stripe refused");
	is_int(look(r, "BIG", NOW, 0, &h, buf, 8192), CACHE_MISS,
	    "refused object: miss, not pending");
	cache_stats(r, &st);
	ok(st.bytes <= st.capacity && st.refused == 1, "refusal counted");
	free(body);
	free(buf);
	unmap(r);
}

static void
test_max_size_abort(void)
{
	void			*r = region(1 << 20);
	struct cache_stats	 st;
	struct cache_fill	 f;
	struct cache_hit	 h;
	char			 buf[1024], body[300];

	memset(body, 'x', sizeof(body));
	is_int(cache_fill_begin(r, "k", 1, 200, NOW, &f), 0, "begin");
	ok(cache_fill_head(r, &f, HEAD, strlen(HEAD)) == 0 &&
	    cache_fill_append(r, &f, body, 100) == 0 &&
	    cache_fill_append(r, &f, body, 100) == 0,
	    "a body of exactly max_size: the head does not count");
	is_int(cache_fill_append(r, &f, body, 1), -1,
	    "over max_size: fill given up");
	is_int(cache_fill_commit(r, &f, 200, 60, NOW, NULL, -1), -1,
	    "commit after give-up fails");
	cache_stats(r, &st);
	ok(st.bytes == 0 && st.entries == 0, "given-up fill freed");

	is_int(cache_fill_begin(r, "k", 1, 1000, NOW, &f), 0, "begin again");
	cache_fill_head(r, &f, HEAD, strlen(HEAD));
	cache_fill_append(r, &f, body, sizeof(body));
	cache_stats(r, &st);
	ok(st.bytes > 0 && st.entries == 0, "a fill holds chunks, no entry");
	cache_fill_abort(r, &f);
	cache_fill_abort(r, &f);
	cache_stats(r, &st);
	ok(st.bytes == 0 && st.entries == 0, "abort leaves nothing");
	is_int(look(r, "k", NOW, 0, &h, buf, sizeof(buf)), CACHE_MISS,
	    "aborted key misses");
	unmap(r);
}

static void
test_entry_bound(void)
{
	void			*r = region(256 * 1024);
	struct cache_stats	 st;
	struct cache_hit	 h;
	char			 key[32], buf[256];
	int			 i, hits = 0, bad = 0;

	cache_stats(r, &st);
	ok(st.stripes == 1 && st.max_entries == 128, "256k: 128 entries");
	for (i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		if (put(r, key, "H", "b", 1, 60, NOW, "\"e\"") != 0)
			bad++;
		cache_stats(r, &st);
		if (st.entries > st.max_entries)
			bad++;
	}
	is_int(bad, 0, "entry table never exceeded");
	cache_stats(r, &st);
	is_int(st.entries, 128, "table full");
	for (i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		if (look(r, key, NOW, 0, &h, buf, sizeof(buf)) == CACHE_HIT)
			hits += i >= 172 ? 1 : 1000;
	}
	is_int(hits, 128, "the 128 most recent remain");
	unmap(r);
}

/* Body of version <v> of key <k>: bytes derived from both. */
static void
body_of(int k, int v, char *b, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		b[i] = (char)(k * 31 + v * 7 + i);
}

static void
test_random(void)
{
	void			*r = region(300 * 1024);
	struct cache_stats	 st;
	struct cache_hit	 h;
	static int		 ver[64];
	static size_t		 len[64];
	char			*b = malloc(60000), *x = malloc(60000);
	char			 key[32], head[32];
	int			 i, k, rc, over = 0, wrong = 0, hits = 0;

	srandom(7);
	for (i = 0; i < 3000; i++) {
		k = random() % 64;
		snprintf(key, sizeof(key), "host/obj%d", k);
		if (random() % 3 == 0) {
			rc = look(r, key, NOW, 0, &h, x, 60000);
			if (rc == CACHE_HIT) {
				hits++;
				snprintf(head, sizeof(head), "v%d ", ver[k]);
				body_of(k, ver[k], b, len[k]);
				if (h.head_len != strlen(head) ||
				    memcmp(x, head, h.head_len) != 0 ||
				    h.body_len != len[k] ||
				    memcmp(x + h.head_len, b, len[k]) != 0)
					wrong++;
			} else if (rc != CACHE_MISS)
				wrong++;
		} else {
			ver[k]++;
			len[k] = random() % (random() % 4 ? 5000 : 60000);
			snprintf(head, sizeof(head), "v%d ", ver[k]);
			body_of(k, ver[k], b, len[k]);
			rc = put(r, key, head, b, len[k], 60, NOW, NULL);
			if (rc != 0 && len[k] < 290 * 1024)
				wrong++;
		}
		cache_stats(r, &st);
		if (st.bytes > st.capacity || st.entries > st.max_entries ||
		    st.object_bytes > st.bytes)
			over++;
	}
	is_int(over, 0, "byte budget and entry table respected");
	is_int(wrong, 0, "every hit is the latest version (%d hits)", hits);
	ok(st.evictions > 0, "evictions happened (%llu)",
	    (unsigned long long)st.evictions);
	free(b);
	free(x);
	unmap(r);
}

static void
test_collapsed(void)
{
	void			*r = region(1 << 20);
	struct cache_fill	 f1, f2, f3;
	struct cache_hit	 h;
	char			 buf[1024];
	pid_t			 pid;
	int			 status;

	is_int(cache_fill_begin(r, "k", 1, 1000, NOW, &f1), 0, "first claims");
	is_int(look(r, "k", NOW, 0, &h, buf, sizeof(buf)), CACHE_PENDING,
	    "lookup during the fill: pending");
	is_int(cache_fill_begin(r, "k", 1, 1000, NOW, &f2), CACHE_PENDING,
	    "second claimer: pending");
	cache_fill_head(r, &f1, HEAD, strlen(HEAD));
	cache_fill_append(r, &f1, "body", 4);
	is_int(cache_fill_commit(r, &f1, 200, 10, NOW, NULL, 1234), 0,
	    "commit");
	is_int(look(r, "k", NOW + 1, 0, &h, buf, sizeof(buf)), CACHE_HIT,
	    "commit cleared the marker: hit");
	is_int(h.last_modified, 1234, "last_modified kept");

	/* Expired object being refilled: pending, or stale if asked. */
	is_int(cache_fill_begin(r, "k", 1, 1000, NOW + 20, &f1), 0,
	    "refill claims");
	is_int(look(r, "k", NOW + 20, 0, &h, buf, sizeof(buf)), CACHE_PENDING,
	    "expired + refill: pending");
	is_int(look(r, "k", NOW + 20, 60, &h, buf, sizeof(buf)), CACHE_STALE,
	    "expired + refill, stale window: stale");
	cache_fill_abort(r, &f1);
	is_int(look(r, "k", NOW + 20, 0, &h, buf, sizeof(buf)), CACHE_MISS,
	    "abort cleared the marker");

	/* A filler that dies. */
	if ((pid = fork()) == 0) {
		_exit(cache_fill_begin(r, "dead", 4, 1000, NOW, &f1) == 0 ?
		    0 : 1);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child claimed");
	is_int(look(r, "dead", NOW + CACHE_FILL_TIMEOUT - 1, 0, &h, buf,
	    sizeof(buf)), CACHE_PENDING, "dead filler: pending until deadline");
	is_int(look(r, "dead", NOW + CACHE_FILL_TIMEOUT, 0, &h, buf,
	    sizeof(buf)), CACHE_MISS, "dead filler: miss after deadline");

	/* A slow filler whose marker is taken over. */
	is_int(cache_fill_begin(r, "slow", 4, 1000, NOW, &f2), 0,
	    "slow claims");
	is_int(cache_fill_begin(r, "slow", 4, 1000, NOW + CACHE_FILL_TIMEOUT,
	    &f3), 0, "after the deadline another claims");
	is_int(cache_fill_head(r, &f2, HEAD, strlen(HEAD)), -1,
	    "the slow filler's append fails");
	cache_fill_head(r, &f3, HEAD, strlen(HEAD));
	is_int(cache_fill_commit(r, &f3, 200, 10, NOW + CACHE_FILL_TIMEOUT,
	    NULL, -1), 0, "the new filler commits");
	is_int(cache_fill_commit(r, &f2, 200, 10, NOW, NULL, -1), -1,
	    "the slow filler's commit fails");
	is_int(look(r, "slow", NOW + CACHE_FILL_TIMEOUT, 0, &h, buf,
	    sizeof(buf)), CACHE_HIT, "and the object is there");
	unmap(r);
}

static void
test_fork(void)
{
	void			*r = region(4 << 20);
	struct cache_hit	 h;
	char			 buf[256];
	pid_t			 pid;
	int			 status;

	if ((pid = fork()) == 0)
		_exit(puts_(r, "shared/key", "from the child", 60) == 0 ?
		    0 : 1);
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child inserted");
	ok(look(r, "shared/key", NOW, 0, &h, buf, sizeof(buf)) == CACHE_HIT &&
	    memcmp(buf + h.head_len, "from the child", 14) == 0,
	    "parent hits what the child stored");
	unmap(r);
}

/* One child of test_concurrent(): random puts and checked lookups. */
static int
hammer(void *r)
{
	struct cache_hit	 h;
	char			*b = malloc(40000), *w = malloc(40000);
	char			 key[32], head[32];
	int			 j, k, v, wrong = 0;
	size_t			 n;

	srandom(getpid());
	for (j = 0; j < 4000; j++) {
		k = random() % 32;
		snprintf(key, sizeof(key), "k%d", k);
		if (random() % 2 == 0) {
			v = (int)(random() % 1000);
			n = random() % 30000;
			snprintf(head, sizeof(head), "%d %zu\n", v, n);
			body_of(k, v, b, n);
			put(r, key, head, b, n, 60, NOW, NULL);
			continue;
		}
		if (look(r, key, NOW, 0, &h, b, 40000) != CACHE_HIT)
			continue;
		/* The head names the version and the length. */
		if (sscanf(b, "%d %zu", &v, &n) != 2 || h.body_len != n) {
			wrong++;
			continue;
		}
		body_of(k, v, w, n);
		if (memcmp(b + h.head_len, w, n) != 0)
			wrong++;
	}
	free(b);
	free(w);
	return wrong;
}

/* Several processes hammer one small cache; hits must be whole. */
static void
test_concurrent(void)
{
	void			*r = region(512 * 1024);
	struct cache_stats	 st;
	pid_t			 pid[4];
	int			 i, status, bad = 0;

	for (i = 0; i < 4; i++)
		if ((pid[i] = fork()) == 0)
			_exit(hammer(r) != 0);
	for (i = 0; i < 4; i++) {
		waitpid(pid[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad++;
	}
	is_int(bad, 0, "4 processes: every hit whole and consistent");
	cache_stats(r, &st);
	ok(st.bytes <= st.capacity, "4 processes: within budget");
	unmap(r);
}

static void
test_recovery(void)
{
	void			*r = region(64 << 20);
	struct cache_stats	 st;
	struct cache_hit	 h;
	char			 buf[256], other[32];
	pid_t			 pid;
	int			 s, status, i;

	puts_(r, "victim", "lost", 60);
	s = cache_stripe_of(r, "victim", 6);
	for (i = 0;; i++) {
		snprintf(other, sizeof(other), "other%d", i);
		if (cache_stripe_of(r, other, strlen(other)) != s)
			break;
	}
	puts_(r, other, "kept", 60);
	if ((pid = fork()) == 0) {
		cache_test_hold_stripe(r, "victim", 6);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status), "child died holding stripe %d", s);
	fprintf(stderr, "# a recovery message is expected below\n");
	is_int(look(r, "victim", NOW, 0, &h, buf, sizeof(buf)), CACHE_MISS,
	    "lookup returns: the stripe was reset");
	is_int(h.recovered, s, "the reset stripe is reported");
	is_int(look(r, other, NOW, 0, &h, buf, sizeof(buf)), CACHE_HIT,
	    "other stripes untouched");
	is_int(h.recovered, -1, "no second recovery");
	cache_stats(r, &st);
	ok(st.recoveries == 1 && st.entries == 1, "recovery counted");
	is_int(puts_(r, "victim", "again", 60), 0, "stripe usable again");
	is_int(look(r, "victim", NOW, 0, &h, buf, sizeof(buf)), CACHE_HIT,
	    "and hits");
	unmap(r);
}

int
main(void)
{
	test_match();
	test_covers();
	test_rules();
	test_basic();
	test_purge_prefix();
	test_disabled();
	test_etag();
	test_variant();
	test_lru();
	test_max_size_abort();
	test_entry_bound();
	test_random();
	test_collapsed();
	test_fork();
	test_concurrent();
	test_recovery();
	return done_testing();
}

/*
 * Unit tests for worker/uri.c: percent-decoding, dot-segment removal,
 * the path-traversal battery, forbidden bytes and buffer limits.
 */
#include <string.h>

#include "tap.h"
#include "uri.h"

struct uri_case {
	const char	*in;
	const char	*want;	/* NULL: expect <rc> */
	int		 rc;
};

static const struct uri_case cases[] = {
	/* plain paths */
	{ "/", "/", 0 },
	{ "/index.html", "/index.html", 0 },
	{ "/a/b/c", "/a/b/c", 0 },
	{ "/a/b/", "/a/b/", 0 },
	{ "//", "/", 0 },
	{ "///a////b//", "/a/b/", 0 },
	{ "//etc/passwd", "/etc/passwd", 0 },
	/* dot segments */
	{ "/./a", "/a", 0 },
	{ "/a/./b", "/a/b", 0 },
	{ "/a/.", "/a/", 0 },
	{ "/a/..", "/", 0 },
	{ "/a/b/..", "/a/", 0 },
	{ "/a/b/../c", "/a/c", 0 },
	{ "/a/b/../../c", "/c", 0 },
	{ "/.", "/", 0 },
	{ "/...", "/...", 0 },
	{ "/a/.../b", "/a/.../b", 0 },
	{ "/..a/b..", "/..a/b..", 0 },
	{ "/.well-known/x", "/.well-known/x", 0 },
	/* percent-decoding */
	{ "/a%20b", "/a b", 0 },
	{ "/%41%62%7e", "/Ab~", 0 },
	{ "/%e2%82%AC", "/\xe2\x82\xac", 0 },
	{ "/%252e", "/%2e", 0 },
	{ "/%252e%252e/x", "/%2e%2e/x", 0 },
	{ "/a/%2e/b", "/a/b", 0 },
	{ "/a/%2e%2e/b", "/b", 0 },
	{ "/a/.%2E/b", "/b", 0 },
	/* traversal battery */
	{ "/..", NULL, URI_BAD },
	{ "/../", NULL, URI_BAD },
	{ "/../etc/passwd", NULL, URI_BAD },
	{ "/a/../../b", NULL, URI_BAD },
	{ "/a/./../..", NULL, URI_BAD },
	{ "/%2e%2e/etc/passwd", NULL, URI_BAD },
	{ "/%2E%2E%2Fetc", NULL, URI_NOT_A_FILE },
	{ "/..%2fetc", NULL, URI_NOT_A_FILE },
	{ "/a%2F..%2F..%2Fetc", NULL, URI_NOT_A_FILE },
	{ "/.%2e/", NULL, URI_BAD },
	{ "/..\\etc", NULL, URI_BAD },
	{ "/a%5c..%5cetc", NULL, URI_NOT_A_FILE },
	{ "/a/b/../../../etc", NULL, URI_BAD },
	/* escaped bytes no file name holds: a URL for the backends */
	{ "/a%00.html", NULL, URI_NOT_A_FILE },
	{ "/a%0a", NULL, URI_NOT_A_FILE },
	{ "/a%0D%0Ab", NULL, URI_NOT_A_FILE },
	{ "/a%7f", NULL, URI_NOT_A_FILE },
	{ "/api/a%2Fb", NULL, URI_NOT_A_FILE },
	/* ... unless it also climbs above the root */
	{ "/a%2F/../../x", NULL, URI_BAD },
	{ "/%2f/../../x", NULL, URI_BAD },
	/* literal bytes a request path may not hold */
	{ "/a\tb", NULL, URI_BAD },
	{ "/a\x7f", NULL, URI_BAD },
	/* broken escapes */
	{ "/%", NULL, URI_BAD },
	{ "/%4", NULL, URI_BAD },
	{ "/%zz", NULL, URI_BAD },
	{ "/%4g", NULL, URI_BAD },
	{ "/a%", NULL, URI_BAD },
	/* not a path */
	{ "", NULL, URI_BAD },
	{ "a/b", NULL, URI_BAD },
	{ "*", NULL, URI_BAD },
};

static void
check_case(const struct uri_case *c)
{
	char	 out[64];
	int	 rc;

	memset(out, 'X', sizeof(out));
	rc = uri_normalize(c->in, strlen(c->in), out, sizeof(out));
	if (c->want == NULL) {
		is_int(rc, c->rc, "\"%s\" -> error %d", c->in, c->rc);
		return;
	}
	if (!ok(rc == (int)strlen(c->want) && strcmp(out, c->want) == 0,
	    "\"%s\" -> \"%s\"", c->in, c->want))
		printf("#   got %d \"%s\"\n", rc, rc > 0 ? out : "");
}

static void
test_embedded_nul(void)
{
	char	 out[16];

	is_int(uri_normalize("/a\0b", 4, out, sizeof(out)), URI_BAD,
	    "raw NUL inside the length is rejected");
	is_int(uri_normalize("/ab", 2, out, sizeof(out)), 2,
	    "only <len> bytes are read");
}

static void
test_sizes(void)
{
	char	 out[8];

	is_int(uri_normalize("/abcdef", 7, out, 8), 7, "fits exactly");
	is_int(uri_normalize("/abcdefg", 8, out, 8), URI_TOOLONG,
	    "one byte too long");
	is_int(uri_normalize("/abc/de/", 8, out, 8), URI_TOOLONG,
	    "trailing slash does not fit");
	is_int(uri_normalize("/abcdefgh/..", 12, out, 8), URI_TOOLONG,
	    "intermediate output too long");
	is_int(uri_normalize("/ab/./.", 7, out, 5), 4,
	    "dot segments need no room");
	ok(strcmp(out, "/ab/") == 0, "... and give \"/ab/\"");
	is_int(uri_normalize("/ab/..", 6, out, 4), 1,
	    "\"..\" needs no room");
	is_int(uri_normalize("/", 1, out, 2), 1, "root in two bytes");
	is_int(uri_normalize("/", 1, out, 1), URI_TOOLONG, "no room for NUL");
	is_int(uri_normalize("/", 1, out, 0), URI_TOOLONG, "zero-size out");
}

static void
test_dot_segment(void)
{
	ok(uri_has_dot_segment("/.git/config"), "/.git/config");
	ok(uri_has_dot_segment("/a/.htaccess"), "/a/.htaccess");
	ok(uri_has_dot_segment("/a/.well-known/"), "/a/.well-known/");
	ok(!uri_has_dot_segment("/"), "/ has none");
	ok(!uri_has_dot_segment("/a.b/c.d"), "/a.b/c.d has none");
	ok(!uri_has_dot_segment("/a/b./c"), "/a/b./c has none");
}

int
main(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
	test_embedded_nul();
	test_sizes();
	test_dot_segment();
	return done_testing();
}

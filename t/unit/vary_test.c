/*
 * Unit tests for worker/vary.c: the digest of the request fields a
 * response's Vary names. Same fields give the same digest whatever the
 * name case, list layout or number of Vary lines; any change in a named
 * field's value, presence or emptiness gives another; fields not named
 * and Accept-Encoding do not count; "*" is reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "tap.h"
#include "vary.h"

static struct http_request	 req;
static char			 reqbuf[4096];

/* Parse request head <head> (fields only, CRLF-separated) into req. */
static void
parse(const char *fields)
{
	int	 status = 0, n;

	n = snprintf(reqbuf, sizeof(reqbuf),
	    "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n", fields);
	if (n < 0 || (size_t)n >= sizeof(reqbuf) ||
	    http_parse_request(reqbuf, (size_t)n, &req, &status) <= 0) {
		printf("Bail out! cannot parse %s\n", fields);
		exit(1);
	}
}

/* Digest of request <fields> for the Vary lines <v1> and <v2> (or NULL). */
static void
digest(const char *fields, const char *v1, const char *v2,
    uint8_t out[CACHE_VARIANT_LEN], struct vary *v)
{
	parse(fields);
	vary_init(v);
	vary_add(v, &req, v1, strlen(v1));
	if (v2 != NULL)
		vary_add(v, &req, v2, strlen(v2));
	vary_final(v, out);
}

/* Whether two requests give the same digest for the same Vary. */
static int
same(const char *f1, const char *f2, const char *vary)
{
	uint8_t		 a[CACHE_VARIANT_LEN], b[CACHE_VARIANT_LEN];
	struct vary	 v;

	digest(f1, vary, NULL, a, &v);
	digest(f2, vary, NULL, b, &v);
	return memcmp(a, b, sizeof(a)) == 0;
}

static void
test_matching(void)
{
	const char	*al = "Accept-Language: fr\r\n";

	ok(same(al, al, "Accept-Language"), "same value, same digest");
	ok(same(al, "accept-language: fr\r\n", "Accept-Language"),
	    "the request's field name case does not count");
	ok(same(al, al, "ACCEPT-language"), "nor the Vary name case");
	ok(!same(al, "Accept-Language: en\r\n", "Accept-Language"),
	    "another value, another digest");
	ok(!same(al, "Accept-Language: FR\r\n", "Accept-Language"),
	    "values are compared exactly");
	ok(!same(al, "", "Accept-Language"), "absent differs from present");
	ok(!same("Accept-Language:\r\n", "", "Accept-Language"),
	    "absent differs from empty");
	ok(same("Accept-Language: a\r\nAccept-Language: b\r\n",
	    "Accept-Language: a,b\r\n", "Accept-Language"),
	    "repeated field lines read as one comma-joined value");
	ok(same("Accept-Language: fr\r\nX-Other: 1\r\n",
	    "X-Other: 2\r\nAccept-Language: fr\r\n", "Accept-Language"),
	    "fields Vary does not name do not count");
	ok(!same("X-A: 1\r\nX-B: 2\r\n", "X-A: 2\r\nX-B: 1\r\n", "X-A, X-B"),
	    "each name keeps its own value");
	ok(!same("X-A: 1,\r\n", "X-A: 1\r\nX-B:\r\n", "X-A, X-B"),
	    "one field's value cannot stand in for the next field");
}

static void
test_lists(void)
{
	const char	*f = "X-A: 1\r\nX-B: 2\r\n";
	uint8_t		 a[CACHE_VARIANT_LEN], b[CACHE_VARIANT_LEN];
	struct vary	 v;

	digest(f, "X-A, X-B", NULL, a, &v);
	is_int(v.fields, 2, "a list of two names: two fields");
	digest(f, "X-A", "X-B", b, &v);
	ok(memcmp(a, b, sizeof(a)) == 0, "two Vary lines read as one list");
	digest(f, " ,X-A ,\t, X-B,", NULL, b, &v);
	ok(memcmp(a, b, sizeof(a)) == 0, "empty list members and OWS ignored");
	digest(f, "X-B, X-A", NULL, b, &v);
	ok(memcmp(a, b, sizeof(a)) != 0, "the order of the names counts");
}

static void
test_special(void)
{
	uint8_t		 d[CACHE_VARIANT_LEN];
	struct vary	 v;

	digest("Accept-Encoding: gzip\r\n", "Accept-Encoding", NULL, d, &v);
	ok(v.accept_encoding && v.fields == 0 && vary_none(d),
	    "Accept-Encoding alone: noted, no digest");
	digest("", "accept-encoding, X-A", NULL, d, &v);
	ok(v.accept_encoding && v.fields == 1 && !vary_none(d),
	    "Accept-Encoding and a field: the field digested");
	digest("", "*", NULL, d, &v);
	ok(v.star && vary_none(d), "* is reported");
	digest("", "X-A, *", NULL, d, &v);
	ok(v.star, "* in a list is reported");
	digest("", "", NULL, d, &v);
	ok(!v.star && v.fields == 0 && vary_none(d), "an empty Vary: nothing");
	digest("", "X-A", NULL, d, &v);
	ok(!vary_none(d), "a varying object's digest is never all zeros");
	vary_init(&v);
	vary_add(&v, NULL, "X-A, Accept-Encoding", 20);
	ok(v.accept_encoding && v.fields == 0,
	    "no request: Accept-Encoding noted, nothing digested");
}

int
main(void)
{
	test_matching();
	test_lists();
	test_special();
	return done_testing();
}

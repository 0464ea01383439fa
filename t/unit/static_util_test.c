/*
 * Unit tests for the static server's pure helpers: worker/mime.c
 * (file loading, built-in overrides, extension lookup), worker/range.c
 * (every Range form and boundary) and worker/httpdate.c (format, the
 * three parse formats, garbage, round trips, the cached Date string).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpdate.h"
#include "mime.h"
#include "range.h"
#include "tap.h"

#define HTML	"text/html"

static void
is_str(const char *got, const char *want, const char *name)
{
	if (!ok(strcmp(got, want) == 0, "%s", name))
		printf("#   got \"%s\", want \"%s\"\n", got, want);
}

/* Writes <text> to a new temporary file; its name goes to <path>. */
static void
write_tmp(char *path, const char *text)
{
	FILE	*f;
	int	 fd;

	strcpy(path, "/tmp/mime_test.XXXXXX");
	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		perror("mkstemp");
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static void
test_mime_file(void)
{
	char	 path[32];

	write_tmp(path,
	    "# comment line application/x-no no\n"
	    "application/x-foo\tfoo FOO2\t# gone gone2\n"
	    "text/x-over html\r\n"
	    "notatype bar\n"
	    "\n"
	    "application/x-dup dup\n"
	    "application/x-dup2 dup\n"
	    "image/x-last last");
	mime_init(path, NULL);
	unlink(path);
	is_str(mime_type("/a.foo"), "application/x-foo", "file: foo");
	is_str(mime_type("/a.Foo2"), "application/x-foo", "file: FOO2 any case");
	is_str(mime_type("/a.gone"), MIME_DEFAULT, "file: comment ignored");
	is_str(mime_type("/a.no"), MIME_DEFAULT, "file: comment line ignored");
	is_str(mime_type("/a.html"), HTML, "built-in overrides the file");
	is_str(mime_type("/a.bar"), MIME_DEFAULT, "file: line without type");
	is_str(mime_type("/a.dup"), "application/x-dup2", "file: last wins");
	is_str(mime_type("/a.last"), "image/x-last", "file: no final newline");
	is_str(mime_type("/a.png"), "image/png", "built-in present too");
}

static void
test_mime_grow(void)
{
	char	 path[32], *text, name[16];
	size_t	 i, off = 0;

	if ((text = malloc(3000 * 32)) == NULL)
		exit(1);
	for (i = 0; i < 3000; i++)
		off += sprintf(text + off, "application/x-%zu e%zu\n", i, i);
	write_tmp(path, text);
	free(text);
	mime_init(path, NULL);
	unlink(path);
	is_str(mime_type("x.e0"), "application/x-0", "3000 types: first");
	is_str(mime_type("x.e1777"), "application/x-1777", "3000 types: mid");
	is_str(mime_type("x.e2999"), "application/x-2999", "3000 types: last");
	is_str(mime_type("x.e3000"), MIME_DEFAULT, "3000 types: absent");
	is_str(mime_type("x.css"), "text/css", "3000 types: built-in");
	snprintf(name, sizeof(name), "x.E%d", 42);
	is_str(mime_type(name), "application/x-42", "3000 types: case");
}

static void
test_mime_lookup(void)
{
	mime_init("/nonexistent/mime.types", NULL);
	is_str(mime_type("/index.html"), HTML, "built-in only: html");
	is_str(mime_type("/a/b/INDEX.HTM"), HTML, "uppercase extension");
	is_str(mime_type("/app.mjs"), "text/javascript", "mjs");
	is_str(mime_type("/x.tar.gz"), "application/gzip", "last dot wins");
	is_str(mime_type("/a.b/c"), MIME_DEFAULT, "dot in a directory only");
	is_str(mime_type("/a/README"), MIME_DEFAULT, "no extension");
	is_str(mime_type("/.htaccess"), MIME_DEFAULT, "dotfile, no extension");
	is_str(mime_type("/a/.html"), MIME_DEFAULT, "\".html\" is a dotfile");
	is_str(mime_type("/a/.site.css"), "text/css",
	    "dotfile with extension");
	is_str(mime_type("/a/b."), MIME_DEFAULT, "trailing dot");
	is_str(mime_type("/a/"), MIME_DEFAULT, "directory");
	is_str(mime_type("logo.SVG"), "image/svg+xml", "no slash");
	is_str(mime_type("/a.unknownext"), MIME_DEFAULT, "unknown extension");
	is_str(mime_type("/a.htmlhtmlhtmlhtmlhtmlhtml"), MIME_DEFAULT,
	    "overlong extension");
	mime_init(NULL, "utf-8");
	is_str(mime_type("/x.woff2"), "font/woff2", "system file + built-in");
	is_str(mime_type("/seg1.ts"), "video/mp2t",
	    ".ts: the web's type, not the system's");
	is_str(mime_type("/a.html"), "text/html; charset=utf-8",
	    "charset: text types");
	is_str(mime_type("/a.TXT"), "text/plain; charset=utf-8",
	    "charset: uppercase");
	is_str(mime_type("/a.json"), "application/json", "charset: not json");
	is_str(mime_type("/a.png"), "image/png", "charset: not images");
	mime_init(NULL, "");
	is_str(mime_type("/a.html"), "text/html", "charset \"\": none");
	mime_free();
	is_str(mime_type("/x.html"), MIME_DEFAULT, "after mime_free");
}

/* One satisfiable range of range_parse_set() in *<s>, *<e>; several:
 * RANGE_NONE (the single-range cases below predate lists). */
static int
range_parse(const char *v, size_t len, uint64_t size, uint64_t *s,
    uint64_t *e)
{
	struct range_set	 rs;
	int			 rc;

	if ((rc = range_parse_set(v, len, size, &rs)) != RANGE_OK)
		return rc;
	if (rs.n > 1)
		return RANGE_NONE;
	*s = rs.first[0];
	*e = rs.last[0];
	return RANGE_OK;
}

struct range_case {
	const char	*v;
	uint64_t	 size;
	int		 rc;
	uint64_t	 start, end;
};

static const struct range_case range_cases[] = {
	{ "bytes=0-99", 1000, RANGE_OK, 0, 99 },
	{ "bytes=100-", 1000, RANGE_OK, 100, 999 },
	{ "bytes=-500", 1000, RANGE_OK, 500, 999 },
	{ "bytes=-1000", 1000, RANGE_OK, 0, 999 },
	{ "bytes=-5000", 1000, RANGE_OK, 0, 999 },
	{ "bytes=0-0", 1, RANGE_OK, 0, 0 },
	{ "bytes=999-999", 1000, RANGE_OK, 999, 999 },
	{ "bytes=0-5000", 1000, RANGE_OK, 0, 999 },
	{ " \tbytes=1-2 \t", 1000, RANGE_OK, 1, 2 },
	{ "bytes= 1-2", 1000, RANGE_OK, 1, 2 },
	{ "BYTES=1-2", 1000, RANGE_OK, 1, 2 },
	{ "bytes=0-99999999999999999999999", 1000, RANGE_OK, 0, 999 },
	{ "bytes=-99999999999999999999999", 1000, RANGE_OK, 0, 999 },
	{ "bytes=18446744073709551614-18446744073709551614", UINT64_MAX,
	    RANGE_OK, UINT64_MAX - 1, UINT64_MAX - 1 },
	{ "bytes=1000-", 1000, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=1000-2000", 1000, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=-0", 1000, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=0-", 0, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=-1", 0, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=99999999999999999999999-", 1000, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=18446744073709551615-", UINT64_MAX, RANGE_UNSATISFIABLE,
	    0, 0 },
	{ "", 1000, RANGE_NONE, 0, 0 },
	{ "bytes", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=-", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=--1", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=5", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=a-b", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=1-2x", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=1-x", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=-5-", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=5-3", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=18446744073709551617-18446744073709551616", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=99999999999999999999-99999999999999999999", 1000, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=0-1,18446744073709551617-18446744073709551616", 1000, RANGE_NONE, 0, 0 },
	{ "bytes =1-2", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=1 -2", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=1- 2", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=0-1,5-6", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=0-1, 5-6", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=0-1,", 1000, RANGE_OK, 0, 1 },
	{ "bytes=,0-1", 1000, RANGE_OK, 0, 1 },
	{ "bytes=0-1,2000-3000", 1000, RANGE_OK, 0, 1 },
	{ "bytes=2000-3000,0-1", 1000, RANGE_OK, 0, 1 },
	{ "bytes=2000-3000,-0", 1000, RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=,", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=0-1 2-3", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=0-1,x", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=0-1,2000-3000,5-4", 1000, RANGE_NONE, 0, 0 },
	{ "items=0-1", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=+1-2", 1000, RANGE_NONE, 0, 0 },
	{ "bytes=5-3", 0, RANGE_NONE, 0, 0 },
};

static void
test_range_case(const struct range_case *c)
{
	uint64_t	 s = 7, e = 7;
	int		 rc;

	rc = range_parse(c->v, strlen(c->v), c->size, &s, &e);
	if (c->rc != RANGE_OK) {
		is_int(rc, c->rc, "range \"%s\" size %ju -> %d", c->v,
		    (uintmax_t)c->size, c->rc);
		return;
	}
	if (!ok(rc == RANGE_OK && s == c->start && e == c->end,
	    "range \"%s\" size %ju -> %ju-%ju", c->v, (uintmax_t)c->size,
	    (uintmax_t)c->start, (uintmax_t)c->end))
		printf("#   got %d %ju-%ju\n", rc, (uintmax_t)s, (uintmax_t)e);
}

struct range_set_case {
	const char	*v;
	uint64_t	 size;
	int		 rc;
	const char	*want;	/* "a-b a-b ...", RANGE_OK only */
};

static const struct range_set_case range_set_cases[] = {
	{ "bytes=0-1,4-5", 19, RANGE_OK, "0-1 4-5" },
	{ "bytes=4-5, 0-1", 19, RANGE_OK, "4-5 0-1" },
	{ "bytes=0-0,-1", 19, RANGE_OK, "0-0 18-18" },
	{ "bytes=0-1,,\t, 10-", 19, RANGE_OK, "0-1 10-18" },
	{ "bytes=0-1,100-200,3-4", 19, RANGE_OK, "0-1 3-4" },
	{ "bytes=0-9,5-13", 19, RANGE_OK, "0-9 5-13" },
	{ "bytes=0-9,5-14", 19, RANGE_NONE, NULL },
	{ "bytes=0-9,5-15", 19, RANGE_NONE, NULL },
	{ "bytes=0-,0-", 19, RANGE_NONE, NULL },
	{ "bytes=-19,-1", 19, RANGE_NONE, NULL },
	{ "bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,"
	    "12-12,13-13,14-14,15-15", 19, RANGE_OK,
	    "0-0 1-1 2-2 3-3 4-4 5-5 6-6 7-7 8-8 9-9 10-10 11-11 12-12 "
	    "13-13 14-14 15-15" },
	{ "bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,"
	    "12-12,13-13,14-14,15-15,16-16", 19, RANGE_NONE, NULL },
	{ "bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,"
	    "12-12,13-13,14-14,15-15,99-,98-", 19, RANGE_OK, NULL },
	{ "bytes=50-60,70-", 19, RANGE_UNSATISFIABLE, NULL },
};

static void
test_range_set_case(const struct range_set_case *c)
{
	struct range_set	 rs;
	char			 got[512];
	size_t			 n = 0;
	int			 rc, i;

	rc = range_parse_set(c->v, strlen(c->v), c->size, &rs);
	got[0] = '\0';
	for (i = 0; rc == RANGE_OK && i < rs.n && n < sizeof(got); i++)
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%ju-%ju",
		    i ? " " : "", (uintmax_t)rs.first[i],
		    (uintmax_t)rs.last[i]);
	if (!ok(rc == c->rc && (c->want == NULL || strcmp(got, c->want) == 0),
	    "range set \"%s\" size %ju", c->v, (uintmax_t)c->size))
		printf("#   got %d \"%s\"\n", rc, got);
}

static void
test_range(void)
{
	uint64_t	 s, e;
	size_t		 i;

	for (i = 0; i < sizeof(range_cases) / sizeof(range_cases[0]); i++)
		test_range_case(&range_cases[i]);
	for (i = 0; i < sizeof(range_set_cases) / sizeof(range_set_cases[0]);
	    i++)
		test_range_set_case(&range_set_cases[i]);
	ok(range_parse("bytes=0-12345", 9, 100, &s, &e) == RANGE_OK &&
	    s == 0 && e == 1, "only <len> bytes are read");
	is_int(range_parse("bytes=0-1\0", 10, 100, &s, &e), RANGE_NONE,
	    "embedded NUL");
}

static void
test_date_format(void)
{
	char	 buf[HTTPDATE_LEN];

	is_int(httpdate_format(0, buf), 29, "epoch: length");
	is_str(buf, "Thu, 01 Jan 1970 00:00:00 GMT", "epoch");
	httpdate_format(784111777, buf);
	is_str(buf, "Sun, 06 Nov 1994 08:49:37 GMT", "RFC example");
	httpdate_format(951782400, buf);
	is_str(buf, "Tue, 29 Feb 2000 00:00:00 GMT", "leap day 2000");
	httpdate_format(253402300799, buf);
	is_str(buf, "Fri, 31 Dec 9999 23:59:59 GMT", "last 4-digit second");
	is_int(httpdate_format(253402300800, buf), 0, "year 10000 -> 0");
	is_str(buf, "", "year 10000 -> empty");
}

static void
date_is(const char *s, time_t want, const char *name)
{
	is_int(httpdate_parse(s, strlen(s)), want, "parse %s: \"%s\"", name, s);
}

static void
test_date_parse(void)
{
	date_is("Sun, 06 Nov 1994 08:49:37 GMT", 784111777, "IMF");
	date_is("Sunday, 06-Nov-94 08:49:37 GMT", 784111777, "RFC 850");
	date_is("Sun Nov  6 08:49:37 1994", 784111777, "asctime");
	date_is("Wed Nov 16 08:49:37 1994", 784975777, "asctime 2-digit");
	date_is("Tue, 29 Feb 2000 00:00:00 GMT", 951782400, "leap day");
	date_is("Sat, 31 Dec 2016 23:59:60 GMT", 1483228800, "leap second");
	date_is("Thu, 01 Jan 1970 00:00:00 GMT", 0, "epoch");
	date_is("", -1, "empty");
	date_is("garbage", -1, "garbage");
	date_is("Sun, 06 Nov 1994 08:49:37", -1, "no GMT");
	date_is("Sun, 06 Nov 1994 08:49:37 GMT ", -1, "trailing space");
	date_is("Sun, 06 Nov 1994 08:49:37 UTC", -1, "UTC");
	date_is("Sun, 6 Nov 1994 08:49:37 GMT", -1, "1-digit day");
	date_is("sun, 06 nov 1994 08:49:37 GMT", -1, "lowercase names");
	date_is("Sun, 06 Xyz 1994 08:49:37 GMT", -1, "bad month");
	date_is("Sun, 31 Feb 1994 08:49:37 GMT", -1, "Feb 31");
	date_is("Thu, 29 Feb 1900 00:00:00 GMT", -1, "no Feb 29 in 1900");
	date_is("Sun, 00 Nov 1994 08:49:37 GMT", -1, "day 0");
	date_is("Sun, 06 Nov 1994 24:00:00 GMT", -1, "hour 24");
	date_is("Sun, 06 Nov 1994 08:60:00 GMT", -1, "minute 60");
	date_is("Sun, 06 Nov 1994 08:49:61 GMT", -1, "second 61");
	date_is("Sun, 06 Nov 94 08:49:37 GMT", -1, "IMF 2-digit year");
	date_is("Sunday, 06 Nov 1994 08:49:37 GMT", -1, "long day in IMF");
	date_is("Sun, 06-Nov-94 08:49:37 GMT", -1, "short day in RFC 850");
	date_is("Sun Nov 6 08:49:37 1994", -1, "asctime single space");
	date_is("Sun Nov  6 08:49:37 1994 GMT", -1, "asctime with zone");
	is_int(httpdate_parse("Sun, 06 Nov 1994 08:49:37 GMT", 28), -1,
	    "parse stops at <len>");
}

static void
test_date_roundtrip(void)
{
	char	 buf[HTTPDATE_LEN];
	time_t	 t;
	int	 bad = 0;

	for (t = 0; t < 4102444800; t += 7919 * 997)
		if (httpdate_format(t, buf) != 29 ||
		    httpdate_parse(buf, 29) != t)
			bad++;
	is_int(bad, 0, "format/parse round trip 1970-2100");
}

static void
test_date_now(void)
{
	const char	*a, *b;
	char		 copy[HTTPDATE_LEN];

	a = httpdate_now(784111777);
	is_str(a, "Sun, 06 Nov 1994 08:49:37 GMT", "now: first call");
	strcpy(copy, a);
	b = httpdate_now(784111777);
	ok(a == b && strcmp(b, copy) == 0, "now: same second, same string");
	b = httpdate_now(784111778);
	is_str(b, "Sun, 06 Nov 1994 08:49:38 GMT", "now: next second");
	b = httpdate_now(0);
	is_str(b, "Thu, 01 Jan 1970 00:00:00 GMT", "now: back to epoch");
}

int
main(void)
{
	is_str(mime_type("/a.html"), MIME_DEFAULT, "mime before init");
	test_mime_file();
	test_mime_grow();
	test_mime_lookup();
	test_range();
	test_date_format();
	test_date_parse();
	test_date_roundtrip();
	test_date_now();
	return done_testing();
}

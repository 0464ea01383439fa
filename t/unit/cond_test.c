/*
 * Unit tests for worker/cond.c: entity-tag lists (strong and weak
 * comparison, "*" only as the whole value, odd spacing) and the order of
 * RFC 9110 13.2.2 over all four validators.
 */
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cond.h"
#include "http.h"
#include "tap.h"

#define T0	1700000000	/* the representation's mtime */
#define NOW	1800000000

static const char	*const d_before = "Sat, 11 Nov 2023 22:13:19 GMT";
static const char	*const d_same = "Tue, 14 Nov 2023 22:13:20 GMT";
static const char	*const d_future = "Fri, 01 Jan 2100 00:00:00 GMT";

static int
listed(const char *list, const char *etag, int strong)
{
	return cond_etag_listed(list, strlen(list), etag, strong);
}

static void
test_lists(void)
{
	is_int(listed("\"a\"", "\"a\"", 1), 1, "one strong tag, strong");
	is_int(listed(" \"b\" ,\t\"a\" ", "\"a\"", 1), 1, "spaced list");
	is_int(listed("\"b\", \"c\"", "\"a\"", 0), 0, "not in the list");
	is_int(listed("W/\"a\"", "\"a\"", 1), 0, "weak tag, strong comparison");
	is_int(listed("W/\"a\"", "\"a\"", 0), 1, "weak tag, weak comparison");
	is_int(listed("\"a\"", "W/\"a\"", 0), 1, "our weak tag, weak");
	is_int(listed("\"a\"", "W/\"a\"", 1), 0, "our weak tag, strong");
	is_int(listed("*", "\"a\"", 1), 1, "* alone");
	is_int(listed("  * ", "", 1), 1, "* with spaces, no tag of ours");
	is_int(listed("*junk", "\"a\"", 0), 0, "*junk is not *");
	is_int(listed("\"b\", *", "\"a\"", 0), 0, "* inside a list");
	is_int(listed("\"a\"", "", 0), 0, "no tag of ours");
	is_int(listed("\"a\"", NULL, 0), 0, "no tag of ours (NULL)");
	is_int(listed("", "\"a\"", 0), 0, "empty list");
	is_int(listed(",,", "\"a\"", 0), 0, "commas only");
	is_int(listed("\"a", "\"a\"", 0), 0, "unterminated tag");
	is_int(listed("\"a\"x", "\"a\"", 0), 0, "tag with a tail");
	is_int(listed("W/", "\"a\"", 0), 0, "W/ alone");
	/* etagc includes ',' (RFC 9110 8.8.3): a quoted tag is one item. */
	is_int(listed("\"x\", \"a,b\"", "\"a,b\"", 1), 1, "a comma in a tag");
	is_int(listed("W/\"a,b\" , \"c\"", "\"a,b\"", 0), 1,
	    "a comma in a weak tag");
	is_int(listed("\"a,b\"", "\"a\"", 0), 0, "\"a,b\" is not \"a\"");
	is_int(listed("\"a,b\"", "\"b\"", 0), 0, "\"a,b\" is not \"b\"");
}

/*
 * cond() with the fields given as (name, value) pairs, NULL-ended: each
 * a header line, and the first of a name in its field, as http.c does.
 */
static int
cond(const char *etag, time_t mtime, ...)
{
	static struct http_request	 req;
	struct http_header		*h;
	struct http_str			*f;
	const char			*name, *value;
	va_list				 ap;

	memset(&req, 0, sizeof(req));
	va_start(ap, mtime);
	while ((name = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		h = &req.headers[req.nheaders++];
		h->name.p = name;
		h->name.len = strlen(name);
		h->value.p = value;
		h->value.len = strlen(value);
		if (strcasecmp(name, "If-Match") == 0)
			f = &req.if_match;
		else if (strcasecmp(name, "If-None-Match") == 0)
			f = &req.if_none_match;
		else if (strcasecmp(name, "If-Modified-Since") == 0)
			f = &req.if_modified_since;
		else
			f = &req.if_unmodified_since;
		if (f->p == NULL)
			*f = h->value;
	}
	va_end(ap);
	return cond_evaluate(&req, etag, mtime, NOW);
}

static void
test_order(void)
{
	const char	*e = "\"a\"";

	is_int(cond(e, T0, NULL), COND_PERFORM, "no validator");
	is_int(cond(e, T0, "If-Match", "\"b\"", NULL), COND_FAILED,
	    "If-Match false: 412");
	is_int(cond(e, T0, "If-Match", "\"a\"", NULL), COND_PERFORM,
	    "If-Match true");
	is_int(cond(e, T0, "If-Match", "*", NULL), COND_PERFORM, "If-Match *");
	is_int(cond("", T0, "If-Match", "\"a\"", NULL), COND_FAILED,
	    "If-Match, no ETag of ours: 412");
	is_int(cond(e, T0, "If-Match", "\"b\"", "If-None-Match", "\"a\"",
	    NULL), COND_FAILED, "If-Match is evaluated before If-None-Match");
	is_int(cond(e, T0, "If-Unmodified-Since", d_before, NULL),
	    COND_FAILED, "modified since: 412");
	is_int(cond(e, T0, "If-Unmodified-Since", d_same, NULL),
	    COND_PERFORM, "not modified since");
	is_int(cond(e, T0, "If-Unmodified-Since", "garbage", NULL),
	    COND_PERFORM, "an invalid date is ignored");
	is_int(cond(e, -1, "If-Unmodified-Since", d_before, NULL),
	    COND_PERFORM, "no date of ours: ignored");
	is_int(cond(e, T0, "If-Match", "\"a\"", "If-Unmodified-Since",
	    d_before, NULL), COND_PERFORM,
	    "If-Unmodified-Since is ignored beside If-Match");
	is_int(cond(e, T0, "If-None-Match", "W/\"a\"", NULL),
	    COND_NOT_MODIFIED, "If-None-Match, weak comparison: 304");
	is_int(cond(e, T0, "If-None-Match", "\"b\"", "If-Modified-Since",
	    d_same, NULL), COND_PERFORM,
	    "If-Modified-Since is ignored beside If-None-Match");
	is_int(cond(e, T0, "If-Modified-Since", d_same, NULL),
	    COND_NOT_MODIFIED, "not modified since: 304");
	is_int(cond(e, T0, "If-Modified-Since", d_before, NULL),
	    COND_PERFORM, "modified since: 200");
	is_int(cond(e, T0, "If-Modified-Since", d_future, NULL),
	    COND_PERFORM, "a date in the future is ignored");
	is_int(cond(e, -1, "If-Modified-Since", d_same, NULL), COND_PERFORM,
	    "no date of ours: 200");
}

/* RFC 9110 5.3: the lines of a list field make one list. */
static void
test_lines(void)
{
	const char	*e = "\"a\"";

	is_int(cond(e, T0, "If-None-Match", "\"b\"", "If-None-Match",
	    "\"a\"", NULL), COND_NOT_MODIFIED,
	    "If-None-Match: our tag on the second line: 304");
	is_int(cond(e, T0, "If-None-Match", "\"b\"", "if-none-match",
	    "W/\"a\"", NULL), COND_NOT_MODIFIED,
	    "If-None-Match: second line in lower case, weak: 304");
	is_int(cond(e, T0, "If-None-Match", "\"b\"", "If-None-Match",
	    "\"c\"", NULL), COND_PERFORM, "If-None-Match: on no line: 200");
	is_int(cond(e, T0, "If-None-Match", "", "If-None-Match", "\"a\"",
	    NULL), COND_NOT_MODIFIED, "If-None-Match: empty first line");
	is_int(cond(e, T0, "If-None-Match", "", "If-Modified-Since", d_same,
	    NULL), COND_NOT_MODIFIED,
	    "If-None-Match with no value is absent: If-Modified-Since counts");
	is_int(cond(e, T0, "If-Match", "\"b\"", "If-Match", "\"a\"", NULL),
	    COND_PERFORM, "If-Match: our tag on the second line");
	is_int(cond(e, T0, "If-Match", "\"b\"", "If-Match", "\"c\"", NULL),
	    COND_FAILED, "If-Match: on no line: 412");
	is_int(cond(e, T0, "If-Match", "\"b\"", "If-Match", "W/\"a\"", NULL),
	    COND_FAILED, "If-Match: weak on the second line: 412");
	is_int(cond(e, T0, "If-Match", "\"b\"", "If-Match", "*", NULL),
	    COND_PERFORM, "If-Match: * alone on the second line");
}

int
main(void)
{
	test_lists();
	test_order();
	test_lines();
	return done_testing();
}

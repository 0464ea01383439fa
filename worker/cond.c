/*
 * Conditional requests (RFC 9110 13.1, 13.2.2). If-Match, then (without
 * it) If-Unmodified-Since, may fail with 412; then If-None-Match, or
 * (without it) If-Modified-Since, may give 304. Dates that do not parse,
 * and an If-Modified-Since in the future, are ignored as the RFC says.
 * If-Match and If-None-Match are lists: on several lines, they are one.
 */
#include <string.h>
#include <strings.h>

#include "cond.h"
#include "httpdate.h"

static int
cond_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Trim optional whitespace from both ends of [*p, *end). */
static void
cond_trim(const char **p, const char **end)
{
	while (*p < *end && cond_ows(**p))
		(*p)++;
	while (*end > *p && cond_ows((*end)[-1]))
		(*end)--;
}

int
cond_etag_listed(const char *list, size_t len, const char *etag, int strong)
{
	const char	*p = list, *end = list + len, *s, *e, *q, *tag;
	size_t		 tlen;

	cond_trim(&p, &end);
	if (end - p == 1 && *p == '*')
		return 1;
	if (etag == NULL || *etag == '\0' || (strong && etag[0] == 'W'))
		return 0;
	/* Compare opaque-tags: a weak tag is W/ and the quoted string. */
	tag = etag[0] == 'W' ? etag + 2 : etag;
	tlen = strlen(tag);
	while (p < end) {
		s = p;
		/* A quoted tag may hold commas: it ends at its closing quote. */
		while (p < end && cond_ows(*p))
			p++;
		if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
			p += 2;
		if (p < end && *p == '"' &&
		    (q = memchr(p + 1, '"', (size_t)(end - p - 1))) != NULL)
			p = q + 1;
		for (; p < end && *p != ','; p++)
			;
		e = p++;	/* and past the comma */
		cond_trim(&s, &e);
		if (e - s >= 2 && s[0] == 'W' && s[1] == '/') {
			if (strong)
				continue;
			s += 2;
		}
		if ((size_t)(e - s) == tlen && memcmp(s, tag, tlen) == 0)
			return 1;
	}
	return 0;
}

/*
 * Whether the field <name> of <req> names <etag> (as cond_etag_listed),
 * taking every line of it: RFC 9110 5.3 makes several lines of a list
 * field one list. -1 when no line has a value. <first> is the first
 * line's value as the parser kept it (p NULL: no such line at all, and
 * nothing to walk).
 */
static int
cond_etag_field(const struct http_request *req, struct http_str first,
    const char *name, const char *etag, int strong)
{
	const struct http_header	*h;
	size_t				 n = strlen(name);
	int				 i, seen = 0;

	if (first.p == NULL)
		return -1;
	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		if (h->name.len != n || strncasecmp(h->name.p, name, n) != 0 ||
		    h->value.len == 0)
			continue;
		if (cond_etag_listed(h->value.p, h->value.len, etag, strong))
			return 1;
		seen = 1;
	}
	return seen ? 0 : -1;
}

static time_t
cond_date(const struct http_str *v)
{
	return v->len > 0 ? httpdate_parse(v->p, v->len) : -1;
}

int
cond_evaluate(const struct http_request *req, const char *etag, time_t mtime,
    time_t now)
{
	time_t	 t;
	int	 m;

	m = cond_etag_field(req, req->if_match, "If-Match", etag, 1);
	if (m == 0)
		return COND_FAILED;
	if (m == -1 && mtime != -1 &&
	    (t = cond_date(&req->if_unmodified_since)) != -1 && mtime > t)
		return COND_FAILED;
	m = cond_etag_field(req, req->if_none_match, "If-None-Match", etag, 0);
	if (m != -1)
		return m ? COND_NOT_MODIFIED : COND_PERFORM;
	if (mtime != -1 && (t = cond_date(&req->if_modified_since)) != -1 &&
	    t <= now && mtime <= t)
		return COND_NOT_MODIFIED;
	return COND_PERFORM;
}

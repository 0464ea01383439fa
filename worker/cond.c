/*
 * Conditional requests (RFC 9110 13.1, 13.2.2). If-Match, then (without
 * it) If-Unmodified-Since, may fail with 412; then If-None-Match, or
 * (without it) If-Modified-Since, may give 304. Dates that do not parse,
 * and an If-Modified-Since in the future, are ignored as the RFC says.
 */
#include <string.h>

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
	const char	*p = list, *end = list + len, *s, *e, *tag;
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
		for (s = p; p < end && *p != ','; p++)
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

	if (req->if_match.len > 0) {
		if (!cond_etag_listed(req->if_match.p, req->if_match.len,
		    etag, 1))
			return COND_FAILED;
	} else if (mtime != -1 && (t = cond_date(&req->if_unmodified_since))
	    != -1 && mtime > t)
		return COND_FAILED;
	if (req->if_none_match.len > 0)
		return cond_etag_listed(req->if_none_match.p,
		    req->if_none_match.len, etag, 0) ? COND_NOT_MODIFIED :
		    COND_PERFORM;
	if (mtime != -1 && (t = cond_date(&req->if_modified_since)) != -1 &&
	    t <= now && mtime <= t)
		return COND_NOT_MODIFIED;
	return COND_PERFORM;
}

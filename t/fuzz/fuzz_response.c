/*
 * libFuzzer target for the response-head parser of worker/http.c, plus a
 * differential check of request framing.
 *
 * Response (input parsed as a response to GET, HEAD and CONNECT):
 *  - results in range, every string inside the head, the head the same
 *    length whatever the method;
 *  - body kind consistent: bodiless statuses and HEAD give NONE, LENGTH
 *    iff content_length > 0, CLOSE never keep-alive, 2xx to CONNECT
 *    bodiless;
 *  - appending bytes never changes a verdict (nor status, body kind,
 *    length, field count), and every strict prefix of a complete head is
 *    INCOMPLETE;
 *  - a reference framing computed here from the raw head lines (RFC 9112
 *    6.3) agrees with the parser; a head the reference finds ambiguous
 *    (TE with CL, differing CLs, TE in 1.0, chunked twice) must be
 *    rejected.
 * Request (the same input parsed as a request head):
 *  - when http_parse_request accepts it, a small strict reference framing
 *    (written here, independently of http.c) must accept it too and give
 *    the same body kind and length. A disagreement aborts: it is the kind
 *    of difference request smuggling lives on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

#define REF_MAX_CL	(UINT64_C(1) << 62)

enum ref_verdict {
	REF_OK,
	REF_SKIP,	/* the reference cannot read the head: no comparison */
	REF_AMBIGUOUS,	/* smuggling-grade ambiguity: must be rejected */
	REF_UNSUPPORTED, /* request with a coding other than chunked */
};

struct ref_framing {
	int		 nte, ncl, nchunked, last_chunked, other, bad_cl;
	uint64_t	 cl;
};

static const char	 suffix[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";

static void
check_str(const struct http_str *s, const char *buf, size_t len)
{
	if (s->len == 0)
		return;
	CHECK(s->p >= buf && s->p + s->len <= buf + len);
}

static int
ref_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim OWS around [*p, *p + *n). */
static void
trim(const char **p, size_t *n)
{
	while (*n > 0 && ows(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && ows((*p)[*n - 1]))
		(*n)--;
}

static int
ieq(const char *p, size_t n, const char *lit)
{
	return n == strlen(lit) && strncasecmp(p, lit, n) == 0;
}

/* One comma-separated element of a Content-Length value. */
static void
ref_cl_elem(struct ref_framing *f, const char *p, size_t n)
{
	uint64_t	 v = 0;
	size_t		 i;

	trim(&p, &n);
	if (n == 0) {
		f->bad_cl = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' || v > REF_MAX_CL / 10) {
			f->bad_cl = 1;
			return;
		}
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v > REF_MAX_CL || (f->ncl > 0 && v != f->cl))
		f->bad_cl = 1;
	f->cl = v;
	f->ncl++;
}

static void
ref_te_elem(struct ref_framing *f, const char *p, size_t n)
{
	trim(&p, &n);
	if (n == 0) {
		f->bad_cl = 1;	/* an empty coding: bad framing */
		return;
	}
	f->last_chunked = ieq(p, n, "chunked");
	if (f->last_chunked)
		f->nchunked++;
	else
		f->other++;
}

static void
ref_list(struct ref_framing *f, const char *p, size_t n,
    void (*elem)(struct ref_framing *, const char *, size_t))
{
	const char	*c;

	while ((c = memchr(p, ',', n)) != NULL) {
		elem(f, p, (size_t)(c - p));
		n -= (size_t)(c - p) + 1;
		p = c + 1;
	}
	elem(f, p, n);
}

/*
 * Split the head [buf, buf + len) into lines (LF, optional CR before it),
 * skip leading empty lines, give the first line to the caller through
 * <first>/<firstlen> and gather framing from the field lines.
 */
static enum ref_verdict
ref_scan(const char *buf, size_t len, struct ref_framing *f,
    const char **first, size_t *firstlen)
{
	const char	*p = buf, *end = buf + len, *nl, *colon, *v;
	size_t		 n, vn;
	int		 line = 0;

	memset(f, 0, sizeof(*f));
	*first = NULL;
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return REF_SKIP;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (memchr(p, '\r', n) != NULL || memchr(p, '\0', n) != NULL)
			return REF_SKIP;
		if (*first == NULL) {
			if (n > 0) {
				*first = p;
				*firstlen = n;
			}
		} else if (n == 0)
			return nl + 1 == end ? REF_OK : REF_SKIP;
		else {
			if (ows(p[0]))
				return REF_SKIP;	/* obs-fold */
			if ((colon = memchr(p, ':', n)) == NULL || colon == p)
				return REF_SKIP;
			for (v = p; v < colon; v++)
				if (!ref_tchar((unsigned char)*v))
					return REF_SKIP;
			v = colon + 1;
			vn = n - (size_t)(v - p);
			trim(&v, &vn);
			if (ieq(p, (size_t)(colon - p), "content-length"))
				ref_list(f, v, vn, ref_cl_elem);
			else if (ieq(p, (size_t)(colon - p),
			    "transfer-encoding")) {
				f->nte++;
				ref_list(f, v, vn, ref_te_elem);
			}
		}
		p = nl + 1;
		if (++line > 10000)
			return REF_SKIP;
	}
	return REF_SKIP;
}

/* Request framing by RFC 9112 6.3, strictly. */
static enum ref_verdict
ref_request(const char *buf, size_t len, enum http_body *body, uint64_t *cl)
{
	struct ref_framing	 f;
	const char		*line;
	size_t			 n;
	enum ref_verdict	 v;
	int			 minor;

	if ((v = ref_scan(buf, len, &f, &line, &n)) != REF_OK)
		return v;
	/* "... HTTP/1.x" */
	if (line == NULL || n < 10 || memcmp(line + n - 8, "HTTP/1.", 7) != 0 ||
	    (line[n - 1] != '0' && line[n - 1] != '1'))
		return REF_SKIP;
	minor = line[n - 1] - '0';
	*body = HTTP_BODY_NONE;
	*cl = 0;
	if (f.bad_cl)
		return REF_AMBIGUOUS;
	if (f.nte > 0) {
		if (f.ncl > 0 || minor == 0 || f.nchunked > 1)
			return REF_AMBIGUOUS;
		if (f.other > 0 || !f.last_chunked)
			return REF_UNSUPPORTED;
		*body = HTTP_BODY_CHUNKED;
	} else if (f.ncl > 0 && f.cl > 0) {
		*body = HTTP_BODY_LENGTH;
		*cl = f.cl;
	}
	return REF_OK;
}

/* Response framing by RFC 9112 6.3. */
static enum ref_verdict
ref_response(const char *buf, size_t len, enum http_method m,
    enum http_body *body, uint64_t *cl)
{
	struct ref_framing	 f;
	const char		*line;
	size_t			 n;
	enum ref_verdict	 v;
	int			 minor, status, i;

	if ((v = ref_scan(buf, len, &f, &line, &n)) != REF_OK)
		return v;
	if (line != buf || n < 12 || memcmp(line, "HTTP/1.", 7) != 0 ||
	    (line[7] != '0' && line[7] != '1') || line[8] != ' ')
		return REF_SKIP;
	minor = line[7] - '0';
	for (status = 0, i = 9; i < 12; i++) {
		if (line[i] < '0' || line[i] > '9')
			return REF_SKIP;
		status = status * 10 + line[i] - '0';
	}
	*body = HTTP_BODY_NONE;
	*cl = 0;
	if (f.bad_cl)
		return REF_AMBIGUOUS;
	if (f.nte > 0 && (f.ncl > 0 || minor == 0 || f.nchunked > 1))
		return REF_AMBIGUOUS;
	if (status < 200 || status == 204 || status == 304 ||
	    m == HTTP_M_HEAD || (m == HTTP_M_CONNECT && status < 300))
		*body = HTTP_BODY_NONE;
	else if (f.nte > 0)
		*body = f.last_chunked ? HTTP_BODY_CHUNKED : HTTP_BODY_CLOSE;
	else if (f.ncl == 0)
		*body = HTTP_BODY_CLOSE;
	else if (f.cl > 0) {
		*body = HTTP_BODY_LENGTH;
		*cl = f.cl;
	}
	return REF_OK;
}

static void
fuzz_request_framing(const char *buf, size_t size)
{
	static struct http_request	 r;
	enum http_body			 body;
	uint64_t			 cl;
	enum ref_verdict		 v;
	int				 rc, status = 0;

	rc = http_parse_request(buf, size, &r, &status);
	if (rc <= 0)
		return;
	v = ref_request(buf, (size_t)rc, &body, &cl);
	if (v == REF_SKIP)
		return;
	/* accepted by the product: the reference must see no ambiguity */
	CHECK(v == REF_OK);
	CHECK(r.body == body);
	CHECK(r.content_length == cl);
}

static int
same_response(const struct http_response *a, const struct http_response *b)
{
	return a->status == b->status && a->minor == b->minor &&
	    a->body == b->body && a->content_length == b->content_length &&
	    a->nheaders == b->nheaders && a->keep_alive == b->keep_alive;
}

static int
fuzz_response_method(const char *buf, size_t size, enum http_method m,
    struct http_response *r)
{
	static struct http_response	 r2;
	enum http_body			 body;
	uint64_t			 cl;
	enum ref_verdict		 v;
	char				*more;
	int				 rc, rc2, n, step, i;

	rc = http_parse_response(buf, size, m, r);
	CHECK(rc == HTTP_INCOMPLETE || rc == HTTP_ERROR ||
	    (rc > 0 && (size_t)rc <= size && rc <= 2 * MTD_MAX_HEAD));

	/* appending bytes never changes a verdict */
	if (rc != HTTP_INCOMPLETE) {
		more = malloc(size + sizeof(suffix));
		memcpy(more, buf, size);
		memcpy(more + size, suffix, sizeof(suffix));
		rc2 = http_parse_response(more, size + sizeof(suffix) - 1, m,
		    &r2);
		CHECK(rc2 == rc);
		if (rc > 0)
			CHECK(same_response(r, &r2));
		free(more);
	}
	if (rc <= 0)
		return rc;

	/* every strict prefix of the head is INCOMPLETE */
	step = rc > 512 ? rc / 97 + 1 : 1;
	for (n = 0; n < rc; n += step)
		CHECK(http_parse_response(buf, (size_t)n, m, &r2) ==
		    HTTP_INCOMPLETE);
	CHECK(http_parse_response(buf, (size_t)rc - 1, m, &r2) ==
	    HTTP_INCOMPLETE);

	/* the result itself */
	CHECK(r->status >= 100 && r->status <= 999);
	CHECK(r->minor == 0 || r->minor == 1);
	check_str(&r->reason, buf, (size_t)rc);
	CHECK(r->nheaders >= 0 && r->nheaders <= MTD_MAX_RESP_HEADERS);
	for (i = 0; i < r->nheaders; i++) {
		CHECK(r->headers[i].name.len > 0);
		check_str(&r->headers[i].name, buf, (size_t)rc);
		check_str(&r->headers[i].value, buf, (size_t)rc);
	}
	CHECK(r->keep_alive == 0 || r->keep_alive == 1);
	switch (r->body) {
	case HTTP_BODY_NONE:
		CHECK(r->content_length == 0);
		break;
	case HTTP_BODY_LENGTH:
		CHECK(r->content_length > 0 &&
		    r->content_length <= REF_MAX_CL);
		break;
	case HTTP_BODY_CHUNKED:
		CHECK(r->content_length == 0 && r->minor == 1);
		CHECK(http_header_get(r->headers, r->nheaders,
		    "content-length") == NULL);
		break;
	case HTTP_BODY_CLOSE:
		CHECK(r->content_length == 0 && r->keep_alive == 0);
		break;
	default:
		abort();
	}
	if (r->status < 200 || r->status == 204 || r->status == 304 ||
	    m == HTTP_M_HEAD || (m == HTTP_M_CONNECT && r->status < 300))
		CHECK(r->body == HTTP_BODY_NONE);

	/* reference framing */
	v = ref_response(buf, (size_t)rc, m, &body, &cl);
	if (v != REF_SKIP) {
		CHECK(v == REF_OK);
		CHECK(r->body == body && r->content_length == cl);
	}
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_response	 rg, rh, rc;
	const char			*buf = (const char *)data;
	int				 a, b, c;

	a = fuzz_response_method(buf, size, HTTP_M_GET, &rg);
	b = fuzz_response_method(buf, size, HTTP_M_HEAD, &rh);
	c = fuzz_response_method(buf, size, HTTP_M_CONNECT, &rc);
	/* the method decides the body, never the verdict nor the head */
	CHECK(a == b && b == c);
	if (a > 0)
		CHECK(rg.status == rh.status && rg.nheaders == rh.nheaders &&
		    rg.status == rc.status);

	fuzz_request_framing(buf, size);
	return 0;
}

/*
 * HTTP/1.1 message parser (RFC 9112): request heads, response heads and
 * chunked bodies. Workers call it on the bytes received so far; it does no
 * I/O and no allocation, and re-parses a head from its first byte on every
 * call. One pass over the bytes with a table lookup per byte, then one pass
 * over the parsed fields for framing. Any message two parsers could frame
 * differently is rejected, never repaired.
 */
#include <string.h>

#include "http.h"

#define MAX_EMPTY_LINES		4	/* CRLFs tolerated before a request */
#define MAX_CONTENT_LENGTH	(UINT64_C(1) << 62)
#define MAX_CHUNK_DIGITS	15	/* keeps a chunk size below 2^60 */
#define MAX_CHUNK_LINE		4096	/* chunk-size line with extensions */
#define MAX_TRAILER		MTD_MAX_HEAD

/*
 * Character classes. The table is built by the preprocessor so the hot
 * loops cost one load and one test per byte.
 */
#define C_TCHAR		0x01	/* token: method, field name */
#define C_TARGET	0x02	/* request-target: VCHAR and obs-text */
#define C_FIELD		0x04	/* field value: HTAB, SP, VCHAR, obs-text */
#define C_HEX		0x08	/* chunk size */
#define C_HOST		0x10	/* uri-host [":" port], IP literals too */

#define IS_ALNUM(c)	(((c) >= '0' && (c) <= '9') ||			\
			 ((c) >= 'A' && (c) <= 'Z') ||			\
			 ((c) >= 'a' && (c) <= 'z'))
#define IS_TSYM(c)	((c) == '!' || (c) == '#' || (c) == '$' ||	\
			 (c) == '%' || (c) == '&' || (c) == '\'' ||	\
			 (c) == '*' || (c) == '+' || (c) == '-' ||	\
			 (c) == '.' || (c) == '^' || (c) == '_' ||	\
			 (c) == '`' || (c) == '|' || (c) == '~')
#define IS_HEX(c)	(((c) >= '0' && (c) <= '9') ||			\
			 ((c) >= 'A' && (c) <= 'F') ||			\
			 ((c) >= 'a' && (c) <= 'f'))
#define IS_HOST(c)	(IS_ALNUM(c) || (c) == '-' || (c) == '.' ||	\
			 (c) == '_' || (c) == '~' || (c) == '!' ||	\
			 (c) == '$' || (c) == '&' || (c) == '\'' ||	\
			 (c) == '(' || (c) == ')' || (c) == '*' ||	\
			 (c) == '+' || (c) == ',' || (c) == ';' ||	\
			 (c) == '=' || (c) == '%' || (c) == ':' ||	\
			 (c) == '[' || (c) == ']')
#define CLASS(c)	((IS_ALNUM(c) || IS_TSYM(c) ? C_TCHAR : 0) |	\
			 ((c) >= 0x21 && (c) != 0x7f ? C_TARGET : 0) |	\
			 ((c) == '\t' || ((c) >= 0x20 && (c) != 0x7f) ?	\
			  C_FIELD : 0) |				\
			 (IS_HEX(c) ? C_HEX : 0) |			\
			 (IS_HOST(c) ? C_HOST : 0))
#define CLASS4(c)	CLASS(c), CLASS((c) + 1), CLASS((c) + 2), CLASS((c) + 3)
#define CLASS16(c)	CLASS4(c), CLASS4((c) + 4), CLASS4((c) + 8),	\
			CLASS4((c) + 12)
#define CLASS64(c)	CLASS16(c), CLASS16((c) + 16), CLASS16((c) + 32), \
			CLASS16((c) + 48)

static const unsigned char cclass[256] = {
	CLASS64(0), CLASS64(64), CLASS64(128), CLASS64(192)
};

#define HAS(c, cls)	(cclass[(unsigned char)(c)] & (cls))

/*
 * Word-at-a-time tests (the classic "has a zero byte" bit tricks). They
 * only say whether some byte of <w> qualifies, which is all the skipping
 * loops below need: a word that might stop the scan goes byte by byte.
 */
#define WORD_ONES		UINT64_C(0x0101010101010101)
#define WORD_HIGHS		UINT64_C(0x8080808080808080)
#define WORD_HAS_LESS(w, n)	(((w) - WORD_ONES * (n)) & ~(w) & WORD_HIGHS)
#define WORD_HAS_BYTE(w, b)	WORD_HAS_LESS((w) ^ (WORD_ONES * (b)), 1)

/* Framing and connection facts gathered from the fields of one head. */
struct framing {
	int		 ncl;		/* Content-Length fields */
	uint64_t	 cl;		/* their (identical) value */
	int		 nte;		/* Transfer-Encoding fields */
	int		 chunked;	/* "chunked" codings among them */
	int		 other;		/* other codings */
	int		 last_chunked;	/* the final coding is chunked */
	int		 bad;		/* malformed CL or TE */
	int		 close;		/* Connection: close */
	int		 keep;		/* Connection: keep-alive */
	int		 upgrade;	/* Connection: upgrade */
};

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static unsigned char
to_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c | 0x20 : c;
}

/* <s> (<slen> bytes) equals <lit> (<n> bytes), ASCII case ignored. */
static int
str_ieq(const char *s, size_t slen, const char *lit, size_t n)
{
	size_t	 i;

	if (slen != n)
		return 0;
	for (i = 0; i < n; i++)
		if (to_lower(s[i]) != to_lower(lit[i]))
			return 0;
	return 1;
}

#define STR_IS(s, lit)	str_ieq((s).p, (s).len, lit, sizeof(lit) - 1)

/*
 * RFC 9112 3.2 wants a 400 for an invalid Host; rejecting '/', '\\', '@'
 * and the like here also keeps them out of vhost lookups and logs. The
 * shape is uri-host [":" port] (RFC 9110 4.2.1, RFC 3986 3.2.2): an IP
 * literal in brackets or a reg-name without ':' or brackets, then only
 * digits after the colon, so "h:x" or "a:b:c" never reaches a backend.
 */
static int
host_valid(struct http_str h)
{
	const char	*p = h.p, *end = h.p + h.len;

	if (p < end && *p == '[') {
		for (p++; p < end && *p != ']'; p++)
			if (!HAS(*p, C_HOST) || *p == '[')
				return 0;
		if (p == end || p == h.p + 1)
			return 0;
		p++;
	} else
		for (; p < end && *p != ':'; p++) {
			if (!HAS(*p, C_HOST) || *p == '[' || *p == ']')
				return 0;
			/* pct-encoded is '%' and two hex digits, nothing less */
			if (*p == '%' && (end - p < 3 || !HAS(p[1], C_HEX) ||
			    !HAS(p[2], C_HEX)))
				return 0;
		}
	if (p == end)
		return 1;	/* an empty Host is allowed (RFC 9112 3.2) */
	/* ":80" has a port and no host (RFC 9110 4.2.1: reject). */
	if (*p != ':' || p == h.p)
		return 0;
	for (p++; p < end; p++)
		if (!is_digit(*p))
			return 0;
	return 1;
}

static struct http_str
str_make(const char *p, const char *end)
{
	struct http_str	 s = { p, (size_t)(end - p) };

	return s;
}

void
http_list_init(struct http_list *it, struct http_str v)
{
	it->p = v.p;
	it->end = v.p + v.len;
	it->done = 0;
}

int
http_list_next(struct http_list *it, struct http_str *elem)
{
	const char	*s, *e;

	if (it->done)
		return 0;
	s = it->p;
	e = memchr(s, ',', it->end - s);
	if (e == NULL) {
		e = it->end;
		it->done = 1;
	} else
		it->p = e + 1;
	while (s < e && is_ows(*s))
		s++;
	while (e > s && is_ows(e[-1]))
		e--;
	*elem = str_make(s, e);
	return 1;
}

/*
 * Head helpers share one convention: they return the position after what
 * they parsed, or NULL with <*st> set to 0 when the bytes end too early
 * ("need more") or to the HTTP status that rejects the message.
 */
static const char *
fail(int *st, int status)
{
	*st = status;
	return NULL;
}

/* CRLF or a bare LF at <p>; a CR followed by anything else is an error. */
static const char *
parse_eol(const char *p, const char *end, int *st)
{
	if (p == end)
		return fail(st, 0);
	if (*p == '\n')
		return p + 1;
	if (*p != '\r')
		return fail(st, 400);
	if (p + 1 == end)
		return fail(st, 0);
	if (p[1] != '\n')
		return fail(st, 400);
	return p + 2;
}

/* "HTTP/" DIGIT "." DIGIT; any major version but 1 is a 505. */
static const char *
parse_version(const char *p, const char *end, int *minor, int *st)
{
	static const char	 pattern[] = "HTTP/#.#";
	size_t			 i;

	for (i = 0; i < sizeof(pattern) - 1; i++) {
		if (p + i == end)
			return fail(st, 0);
		if (pattern[i] == '#' ? !is_digit(p[i]) : p[i] != pattern[i])
			return fail(st, 400);
	}
	if (p[5] != '1')
		return fail(st, 505);
	*minor = p[7] == '0' ? 0 : 1;
	return p + sizeof(pattern) - 1;
}

static uint64_t
load_word(const char *p)
{
	uint64_t	 w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/* Past the field-value bytes at <p>; HTAB words take the slow path. */
static const char *
skip_field_value(const char *p, const char *end)
{
	uint64_t	 w;

	for (; end - p >= 8; p += 8) {
		w = load_word(p);
		if (WORD_HAS_LESS(w, 0x20) | WORD_HAS_BYTE(w, 0x7f))
			break;
	}
	while (p < end && HAS(*p, C_FIELD))
		p++;
	return p;
}

/*
 * Past the request-target bytes at <p>, stopping at <end>: VCHAR, and
 * bytes 0x80-0xff too, because curl and scripts send UTF-8 file names
 * unencoded and nginx and Apache take them; they go on to backends and
 * file lookups as they came, and the access log escapes them.
 */
static const char *
skip_target(const char *p, const char *end)
{
	uint64_t	 w;

	for (; end - p >= 8; p += 8) {
		w = load_word(p);
		if (WORD_HAS_LESS(w, 0x21) | WORD_HAS_BYTE(w, 0x7f))
			break;
	}
	while (p < end && HAS(*p, C_TARGET))
		p++;
	return p;
}

/* One field line "name: value" up to its line end, into <*h>. */
static const char *
parse_field(const char *p, const char *end, struct http_header *h, int *st)
{
	const char	*name = p, *value, *vend;

	while (p < end && HAS(*p, C_TCHAR))
		p++;
	if (p == end)
		return fail(st, 0);
	/* Also catches obs-fold and whitespace before the colon. */
	if (*p != ':' || p == name)
		return fail(st, 400);
	h->name = str_make(name, p);
	for (p++; p < end && is_ows(*p); p++)
		;
	value = p;
	p = skip_field_value(p, end);
	for (vend = p; vend > value && is_ows(vend[-1]); vend--)
		;
	h->value = str_make(value, vend);
	/* The scan stopped on a CTL: only a line end is acceptable. */
	return parse_eol(p, end, st);
}

/* Field lines up to and including the empty line ending the head. */
static const char *
parse_fields(const char *p, const char *end, struct http_header *h,
    int max, int *nh, int *st)
{
	for (;;) {
		if (p == end)
			return fail(st, 0);
		if (*p == '\r' || *p == '\n')
			return parse_eol(p, end, st);
		if (*nh == max)
			return fail(st, 431);
		if ((p = parse_field(p, end, &h[*nh], st)) == NULL)
			return NULL;
		(*nh)++;
	}
}

static const char *
skip_empty_lines(const char *p, const char *end, int *st)
{
	int	 n;

	for (n = 0; p < end && (*p == '\r' || *p == '\n'); n++) {
		if (n == MAX_EMPTY_LINES)
			return fail(st, 400);
		if ((p = parse_eol(p, end, st)) == NULL)
			return NULL;
	}
	return p == end ? fail(st, 0) : p;
}

static const char *
parse_method(const char *p, const char *end, struct http_request *req,
    int *st)
{
	const char	*start = p;

	while (p < end && HAS(*p, C_TCHAR))
		p++;
	if (p == end)
		return fail(st, 0);
	if (*p != ' ' || p == start)
		return fail(st, 400);
	req->method_str = str_make(start, p);
	req->method = http_method_parse(start, p - start);
	return p + 1;
}

/* The target and its single trailing SP; 414 as soon as it is too long. */
static const char *
parse_target(const char *p, const char *end, struct http_request *req,
    int *st)
{
	const char	*start = p, *lim;

	lim = end - p > MTD_MAX_TARGET ? p + MTD_MAX_TARGET + 1 : end;
	p = skip_target(p, lim);
	if (p - start > MTD_MAX_TARGET)
		return fail(st, 414);
	if (p == end)
		return fail(st, 0);
	if (*p != ' ' || p == start)
		return fail(st, 400);
	req->target = str_make(start, p);
	return p + 1;
}

/* <path>[?<query>] from the <n> bytes at <s>. */
static void
split_path(struct http_request *req, const char *s, size_t n)
{
	const char	*q = memchr(s, '?', n);

	if (q == NULL) {
		req->path = str_make(s, s + n);
		return;
	}
	req->path = str_make(s, q);
	req->query = str_make(q + 1, s + n);
}

/* CONNECT's host ":" port; userinfo and paths are not allowed. */
static int
authority_form_ok(const char *s, size_t n)
{
	const char	*colon = memrchr(s, ':', n), *p;

	if (colon == NULL || colon == s || colon + 1 == s + n)
		return 0;
	for (p = colon + 1; p < s + n; p++)
		if (!is_digit(*p))
			return 0;
	for (p = s; p < colon; p++)
		if (*p == '/' || *p == '?' || *p == '#' || *p == '@')
			return 0;
	return 1;
}

/* "http://authority/path?query"; the authority becomes the host. */
static int
absolute_form(struct http_request *req, const char *s, size_t n)
{
	const char	*auth, *end = s + n, *p;

	if (n >= 7 && str_ieq(s, 7, "http://", 7))
		auth = s + 7;
	else if (n >= 8 && str_ieq(s, 8, "https://", 8))
		auth = s + 8;
	else
		return 400;
	for (p = auth; p < end && *p != '/' && *p != '?' && *p != '#'; p++)
		if (*p == '@')
			return 400;
	req->host = str_make(auth, p);
	if (p == auth || !host_valid(req->host))
		return 400;
	if (p < end && *p == '/') {
		split_path(req, p, end - p);
		return 0;
	}
	/* No path: use "/", taken from the scheme's "//" to stay in buf. */
	req->path = str_make(auth - 1, auth);
	if (p < end && *p == '?')
		req->query = str_make(p + 1, end);
	return 0;
}

/* The four request-target forms of RFC 9112 3.2, checked per method. */
static int
classify_target(struct http_request *req)
{
	const char	*s = req->target.p;
	size_t		 n = req->target.len;

	/* Tunnels to anywhere are not ours to open (nor a backend's). */
	if (req->method == HTTP_M_CONNECT)
		return authority_form_ok(s, n) ? 501 : 400;
	/* A fragment is the client's own business (RFC 9112 3.2). */
	if (memchr(s, '#', n) != NULL)
		return 400;
	if (s[0] == '/') {
		split_path(req, s, n);
		return 0;
	}
	if (n == 1 && s[0] == '*') {
		if (req->method != HTTP_M_OPTIONS)
			return 400;
		req->path = req->target;
		return 0;
	}
	return absolute_form(req, s, n);
}

static const char *
parse_request_line(const char *p, const char *end, struct http_request *req,
    int *st)
{
	int	 err;

	if ((p = skip_empty_lines(p, end, st)) == NULL ||
	    (p = parse_method(p, end, req, st)) == NULL ||
	    (p = parse_target(p, end, req, st)) == NULL ||
	    (p = parse_version(p, end, &req->minor, st)) == NULL ||
	    (p = parse_eol(p, end, st)) == NULL)
		return NULL;
	req->line_read = 1;
	if ((err = classify_target(req)) != 0)
		return fail(st, err);
	return p;
}

/* Content-Length, perhaps "5, 5": every value must be the same. */
static void
content_length_field(struct framing *f, struct http_str v)
{
	struct http_list	 it;
	struct http_str		 e;
	uint64_t		 n;
	size_t			 i;

	http_list_init(&it, v);
	while (http_list_next(&it, &e)) {
		if (e.len == 0) {
			f->bad = 1;
			return;
		}
		for (n = 0, i = 0; i < e.len; i++) {
			/* Checked before the product so it cannot wrap. */
			if (!is_digit(e.p[i]) || n > MAX_CONTENT_LENGTH / 10) {
				f->bad = 1;
				return;
			}
			n = n * 10 + (uint64_t)(e.p[i] - '0');
		}
		if (n > MAX_CONTENT_LENGTH || (f->ncl > 0 && n != f->cl))
			f->bad = 1;
		f->cl = n;
		f->ncl++;
	}
}

static void
transfer_encoding_field(struct framing *f, struct http_str v)
{
	struct http_list	 it;
	struct http_str		 e;

	f->nte++;
	http_list_init(&it, v);
	while (http_list_next(&it, &e)) {
		if (e.len == 0)
			f->bad = 1;
		f->last_chunked = STR_IS(e, "chunked");
		if (f->last_chunked)
			f->chunked++;
		else
			f->other++;
	}
}

static void
connection_field(struct framing *f, struct http_str v)
{
	struct http_list	 it;
	struct http_str		 e;

	http_list_init(&it, v);
	while (http_list_next(&it, &e)) {
		if (STR_IS(e, "close"))
			f->close = 1;
		else if (STR_IS(e, "keep-alive"))
			f->keep = 1;
		else if (STR_IS(e, "upgrade"))
			f->upgrade = 1;
	}
}

/* Returns 1 when <h> is a framing or Connection field, now accounted. */
static int
framing_field(struct framing *f, const struct http_header *h)
{
	if (STR_IS(h->name, "content-length"))
		content_length_field(f, h->value);
	else if (STR_IS(h->name, "transfer-encoding"))
		transfer_encoding_field(f, h->value);
	else if (STR_IS(h->name, "connection"))
		connection_field(f, h->value);
	else
		return 0;
	return 1;
}

static int
keep_alive(const struct framing *f, int minor)
{
	return minor >= 1 ? !f->close : f->keep && !f->close;
}

static void
request_reset(struct http_request *req)
{
	static const struct http_str	 empty;

	req->method = HTTP_M_OTHER;
	req->method_str = req->target = req->path = req->query = empty;
	req->host = req->if_none_match = req->if_modified_since = empty;
	req->if_match = req->if_unmodified_since = empty;
	req->range = req->if_range = empty;
	req->minor = 0;
	req->line_read = 0;
	req->nheaders = 0;
	req->body = HTTP_BODY_NONE;
	req->content_length = 0;
	req->keep_alive = req->expect_continue = req->expect_other = 0;
	req->upgrade = 0;
}

static void
expect_field(struct http_request *req, struct http_str v)
{
	if (STR_IS(v, "100-continue"))
		req->expect_continue = 1;
	else if (v.len > 0)	/* an empty list expects nothing */
		req->expect_other = 1;
}

/* What request_field() saw beyond the fields it keeps. */
struct request_seen {
	int	 nhost, bad_host;
	int	 websocket;		/* Upgrade names it */
};

/*
 * Whether an Upgrade list offers WebSocket, the one protocol tunnelled:
 * tunnelling whatever a backend agrees to (h2c, ...) would let later
 * requests on the connection past every per-request check.
 */
int
http_upgrade_websocket(struct http_str v)
{
	struct http_list	 it;
	struct http_str		 e;

	http_list_init(&it, v);
	while (http_list_next(&it, &e))
		if (STR_IS(e, "websocket"))
			return 1;
	return 0;
}

/* Remember the fields the request handlers read. */
static void
request_field(struct http_request *req, const struct http_header *h,
    struct request_seen *seen)
{
	if (STR_IS(h->name, "host")) {
		/* Each one, also beside an absolute-form target's. */
		seen->bad_host |= !host_valid(h->value);
		/* An absolute-form target already set the host. */
		if (seen->nhost++ == 0 && req->host.p == NULL)
			req->host = h->value;
	} else if (STR_IS(h->name, "upgrade"))
		seen->websocket |= http_upgrade_websocket(h->value);
	else if (STR_IS(h->name, "expect"))
		expect_field(req, h->value);
	else if (STR_IS(h->name, "if-none-match")) {
		if (req->if_none_match.p == NULL)
			req->if_none_match = h->value;
	} else if (STR_IS(h->name, "if-modified-since")) {
		if (req->if_modified_since.p == NULL)
			req->if_modified_since = h->value;
	} else if (STR_IS(h->name, "if-match")) {
		if (req->if_match.p == NULL)
			req->if_match = h->value;
	} else if (STR_IS(h->name, "if-unmodified-since")) {
		if (req->if_unmodified_since.p == NULL)
			req->if_unmodified_since = h->value;
	} else if (STR_IS(h->name, "range")) {
		if (req->range.p == NULL)
			req->range = h->value;
	} else if (STR_IS(h->name, "if-range")) {
		if (req->if_range.p == NULL)
			req->if_range = h->value;
	}
}

/* Body kind of a request (RFC 9112 6.1-6.3); 0 or the error status. */
static int
request_framing(struct http_request *req, const struct framing *f)
{
	if (f->bad)
		return 400;
	if (f->nte > 0) {
		/* CL beside TE, or TE in 1.0, is the classic smuggling. */
		if (f->ncl > 0 || req->minor == 0 || f->chunked > 1)
			return 400;
		/*
		 * chunked, then another coding: the length cannot be told,
		 * which RFC 9112 6.3 answers with 400 (a MUST), not with the
		 * 501 of 6.1 for a coding we do not know ("gzip" alone).
		 */
		if (f->chunked > 0 && !f->last_chunked)
			return 400;
		if (f->other > 0)
			return 501;
		req->body = HTTP_BODY_CHUNKED;
	} else if (f->ncl > 0 && f->cl > 0) {
		req->body = HTTP_BODY_LENGTH;
		req->content_length = f->cl;
	}
	return 0;
}

/* Everything the fields say, once the head is complete. */
static int
request_semantics(struct http_request *req)
{
	struct framing		 f;
	struct request_seen	 seen = { 0, 0, 0 };
	int			 i, err;

	memset(&f, 0, sizeof(f));
	for (i = 0; i < req->nheaders; i++)
		if (!framing_field(&f, &req->headers[i]))
			request_field(req, &req->headers[i], &seen);
	/*
	 * HTTP/1.1 needs one Host, and an http URI an authority that is
	 * not empty (RFC 9110 4.2.1, RFC 9112 3.2).
	 */
	if (seen.nhost > 1 || seen.bad_host || !host_valid(req->host) ||
	    (req->minor == 1 && (seen.nhost == 0 || req->host.len == 0)))
		return 400;
	if ((err = request_framing(req, &f)) != 0)
		return err;
	req->keep_alive = keep_alive(&f, req->minor);
	/* RFC 9110 7.8: Upgrade in an HTTP/1.0 request is ignored. */
	req->upgrade = f.upgrade && seen.websocket && req->minor == 1;
	/* RFC 9110 10.1.1: a 1.0 client cannot wait for a 100. */
	if (req->minor == 0)
		req->expect_continue = 0;
	return 0;
}

/*
 * Parse the request head at the start of <buf> (<len> bytes) into <req>.
 * Returns the head length, HTTP_INCOMPLETE, or HTTP_ERROR with <*status>
 * set (400, 414, 431, 501, 505); see http.h. Pure function, any process.
 */
int
http_parse_request(const char *buf, size_t len, struct http_request *req,
    int *status)
{
	size_t		 window = MTD_MIN(len, MTD_MAX_HEAD);
	const char	*end = buf + window, *p;
	int		 st = 0;

	request_reset(req);
	if ((p = parse_request_line(buf, end, req, &st)) != NULL)
		p = parse_fields(p, end, req->headers, MTD_MAX_HEADERS,
		    &req->nheaders, &st);
	if (p == NULL && st == 0 && len > window)
		st = 431;
	if (p == NULL && st == 0)
		return HTTP_INCOMPLETE;
	if (p != NULL)
		st = request_semantics(req);
	if (st != 0) {
		if (status != NULL)
			*status = st;
		return HTTP_ERROR;
	}
	return (int)(p - buf);
}

/* "HTTP/1.x" SP 3DIGIT [SP reason] line end. */
static const char *
parse_status_line(const char *p, const char *end, struct http_response *resp,
    int *st)
{
	const char	*reason;
	int		 i;

	if ((p = parse_version(p, end, &resp->minor, st)) == NULL)
		return NULL;
	for (i = 0; i < 4; i++) {
		if (p + i == end)
			return fail(st, 0);
		if (i == 0 ? p[i] != ' ' : !is_digit(p[i]))
			return fail(st, 502);
	}
	resp->status = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
	/* RFC 9110 15: outside 100..599 is invalid (and in no class). */
	if (resp->status < 100 || resp->status > 599)
		return fail(st, 502);
	p += 4;
	/* The SP before an empty reason is often left out. */
	if (p < end && *p == ' ')
		p++;
	else if (p < end && *p != '\r' && *p != '\n')
		return fail(st, 502);
	for (reason = p; p < end && HAS(*p, C_FIELD); p++)
		;
	resp->reason = str_make(reason, p);
	return parse_eol(p, end, st);
}

static int
bodiless_response(int status, enum http_method req_method)
{
	if (status < 200 || status == 204 || status == 304)
		return 1;
	if (req_method == HTTP_M_HEAD)
		return 1;
	return req_method == HTTP_M_CONNECT && status < 300;
}

/* Body kind of a response (RFC 9112 6.3); -1 on ambiguous framing. */
static int
response_framing(struct http_response *resp, const struct framing *f,
    enum http_method req_method)
{
	if (f->bad)
		resp->why = "invalid or conflicting Content-Length, or empty "
		    "Transfer-Encoding";
	else if (f->nte > 0 && f->ncl > 0)
		resp->why = "both Content-Length and Transfer-Encoding";
	else if (f->nte > 0 && resp->minor == 0)
		resp->why = "Transfer-Encoding in an HTTP/1.0 response";
	else if (f->nte > 0 && f->chunked > 1)
		resp->why = "chunked more than once";
	/*
	 * A coding other than chunked (gzip, ...) that no client asked for:
	 * we send no TE, so the backend may not use one (RFC 9112 6.1), and
	 * we cannot pass it on to clients that never offered it.
	 */
	else if (f->other > 0)
		resp->why = "a transfer coding other than chunked";
	if (resp->why != NULL)
		return -1;
	if (bodiless_response(resp->status, req_method))
		resp->body = HTTP_BODY_NONE;
	else if (f->nte > 0)
		resp->body = f->last_chunked ? HTTP_BODY_CHUNKED :
		    HTTP_BODY_CLOSE;
	else if (f->ncl == 0)
		resp->body = HTTP_BODY_CLOSE;
	else if (f->cl > 0) {
		resp->body = HTTP_BODY_LENGTH;
		resp->content_length = f->cl;
	}
	return 0;
}

static void
response_reset(struct http_response *resp)
{
	static const struct http_str	 empty;

	resp->status = 0;
	resp->minor = 0;
	resp->reason = empty;
	resp->nheaders = 0;
	resp->too_many_fields = 0;
	resp->why = NULL;
	resp->body = HTTP_BODY_NONE;
	resp->content_length = 0;
	resp->keep_alive = 0;
}

/*
 * Parse the response head at the start of <buf> (<len> bytes) into
 * <resp>; <req_method> is the method of the request it answers. Returns
 * the head length, HTTP_INCOMPLETE or HTTP_ERROR (heads longer than
 * 2 * MTD_MAX_HEAD too). Pure function, any process.
 */
int
http_parse_response(const char *buf, size_t len, enum http_method req_method,
    struct http_response *resp)
{
	size_t		 window = MTD_MIN(len, 2 * MTD_MAX_HEAD);
	const char	*end = buf + window, *p;
	struct framing	 f;
	int		 st = 0, i;

	response_reset(resp);
	if ((p = parse_status_line(buf, end, resp, &st)) == NULL)
		resp->why = "invalid status line";
	else if ((p = parse_fields(p, end, resp->headers,
	    MTD_MAX_RESP_HEADERS, &resp->nheaders, &st)) == NULL)
		resp->why = "invalid header field";
	if (p == NULL) {
		if (st == 0 && len == window)
			return HTTP_INCOMPLETE;
		resp->too_many_fields = st == 431 &&
		    resp->nheaders == MTD_MAX_RESP_HEADERS;
		if (st == 0)
			resp->why = "head too large";
		return HTTP_ERROR;
	}
	memset(&f, 0, sizeof(f));
	for (i = 0; i < resp->nheaders; i++)
		framing_field(&f, &resp->headers[i]);
	if (response_framing(resp, &f, req_method) == -1)
		return HTTP_ERROR;
	resp->keep_alive = resp->body != HTTP_BODY_CLOSE &&
	    keep_alive(&f, resp->minor);
	return (int)(p - buf);
}

/*
 * Chunked bodies. The state machine takes one byte at a time except in
 * chunk data, which it skips (or moves) in bulk.
 */
enum chunked_state {
	CH_SIZE_FIRST,		/* first hex digit of a chunk-size */
	CH_SIZE,		/* more digits, BWS, ';' or the line end */
	CH_SIZE_BWS,		/* whitespace after the size: ';' must follow */
	CH_EXT,			/* chunk extensions, until CR */
	CH_EXT_QUOTED,		/* inside a quoted-string of an extension */
	CH_EXT_QPAIR,		/* after its backslash */
	CH_SIZE_LF,		/* CR seen at the end of the size line */
	CH_DATA,		/* <remaining> data bytes to go */
	CH_DATA_CR,		/* CRLF (or LF) right after the data */
	CH_DATA_LF,
	CH_TRAILER,		/* start of a trailer line or the last line */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_END_LF,		/* CR of the final empty line seen */
	CH_DONE,
	CH_ERROR,
};

/*
 * Reset <ch> to the start of a chunked body. Pure, any process.
 */
void
http_chunked_init(struct http_chunked *ch)
{
	memset(ch, 0, sizeof(*ch));
	ch->state = CH_SIZE_FIRST;
}

void
http_chunked_init_relayed(struct http_chunked *ch)
{
	http_chunked_init(ch);
	ch->crlf_only = 1;
}

static unsigned int
hex_value(unsigned char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* The size line is over: data next, or trailers after the last chunk. */
static int
chunk_start(struct http_chunked *ch)
{
	ch->line_len = 0;
	ch->state = ch->remaining > 0 ? CH_DATA : CH_TRAILER;
	return 0;
}

/* After the hex digits of a size; <c> is not a digit. */
static int
chunk_size_end(struct http_chunked *ch, unsigned char c)
{
	switch (c) {
	case ';':
		ch->state = CH_EXT;
		return 0;
	case ' ':
	case '\t':
		ch->state = CH_SIZE_BWS;
		return 0;
	case '\r':
		ch->state = CH_SIZE_LF;
		return 0;
	case '\n':
		return ch->crlf_only ? -1 : chunk_start(ch);
	default:
		return -1;
	}
}

static int
chunk_size_byte(struct http_chunked *ch, unsigned char c)
{
	if (++ch->line_len > MAX_CHUNK_LINE)
		return -1;
	switch (ch->state) {
	case CH_SIZE_FIRST:
	case CH_SIZE:
		if (!HAS(c, C_HEX) && ch->state == CH_SIZE)
			return chunk_size_end(ch, c);
		if (!HAS(c, C_HEX))
			return -1;
		/* 1*HEXDIG: leading zeros are allowed, whatever their count. */
		if ((ch->remaining != 0 || hex_value(c) != 0) &&
		    ++ch->digits > MAX_CHUNK_DIGITS)
			return -1;
		ch->remaining = ch->remaining << 4 | hex_value(c);
		ch->state = CH_SIZE;
		return 0;
	case CH_SIZE_BWS:
		if (c == ';')
			ch->state = CH_EXT;
		return is_ows(c) || c == ';' ? 0 : -1;
	case CH_EXT:
		/*
		 * Only CRLF ends an extension: a bare LF here is where
		 * lenient parsers disagree about the chunk boundary.
		 */
		if (c == '\r')
			ch->state = CH_SIZE_LF;
		else if (c == '"')
			ch->state = CH_EXT_QUOTED;
		return c == '\r' || HAS(c, C_FIELD) ? 0 : -1;
	case CH_EXT_QUOTED:
		/*
		 * A quoted string cannot hold CR or LF (RFC 9110 5.6.4);
		 * one left open at the line end is where a client that
		 * honours quotes and one that does not would disagree on
		 * the chunk boundary.
		 */
		if (c == '"')
			ch->state = CH_EXT;
		else if (c == '\\')
			ch->state = CH_EXT_QPAIR;
		return HAS(c, C_FIELD) ? 0 : -1;
	case CH_EXT_QPAIR:
		ch->state = CH_EXT_QUOTED;
		return HAS(c, C_FIELD) ? 0 : -1;
	default: /* CH_SIZE_LF */
		return c == '\n' ? chunk_start(ch) : -1;
	}
}

static int
chunk_trailer_byte(struct http_chunked *ch, unsigned char c)
{
	if (++ch->line_len > MAX_TRAILER)
		return -1;
	switch (ch->state) {
	case CH_TRAILER:
		if (c == '\r')
			ch->state = CH_END_LF;
		else if (c == '\n' && !ch->crlf_only)
			ch->state = CH_DONE;
		else if (HAS(c, C_TCHAR))
			ch->state = CH_TRAILER_NAME;
		else
			return -1;
		return ch->state == CH_DONE;
	case CH_TRAILER_NAME:
		if (c == ':')
			ch->state = CH_TRAILER_VALUE;
		return c == ':' || HAS(c, C_TCHAR) ? 0 : -1;
	case CH_TRAILER_VALUE:
		if (c == '\r')
			ch->state = CH_TRAILER_LF;
		else if (c == '\n' && ch->crlf_only)
			return -1;
		else if (c == '\n')
			ch->state = CH_TRAILER;
		return c == '\r' || c == '\n' || HAS(c, C_FIELD) ? 0 : -1;
	case CH_TRAILER_LF:
		ch->state = CH_TRAILER;
		return c == '\n' ? 0 : -1;
	default: /* CH_END_LF */
		ch->state = CH_DONE;
		return c == '\n' ? 1 : -1;
	}
}

/* One framing byte (not chunk data): 0 go on, 1 body complete, -1 bad. */
static int
chunk_byte(struct http_chunked *ch, unsigned char c)
{
	switch (ch->state) {
	case CH_DATA_CR:
		if (c == '\n' && ch->crlf_only)
			return -1;
		if (c == '\r')
			ch->state = CH_DATA_LF;
		else if (c == '\n')
			ch->state = CH_SIZE_FIRST;
		return c == '\r' || c == '\n' ? 0 : -1;
	case CH_DATA_LF:
		ch->state = CH_SIZE_FIRST;
		return c == '\n' ? 0 : -1;
	case CH_SIZE_FIRST:
		ch->digits = 0;
		ch->remaining = 0;
		/* FALLTHROUGH */
	case CH_SIZE:
	case CH_SIZE_BWS:
	case CH_EXT:
	case CH_EXT_QUOTED:
	case CH_EXT_QPAIR:
	case CH_SIZE_LF:
		return chunk_size_byte(ch, c);
	default:
		return chunk_trailer_byte(ch, c);
	}
}

/*
 * The scanner and the decoder in one: with <out> set, data bytes are
 * moved to <out> (which may be <buf>: the write position never passes
 * the read position) and counted in <*nout>.
 */
static int
chunked_run(struct http_chunked *ch, const char *buf, size_t len,
    size_t *used, char *out, size_t *nout)
{
	size_t	 i = 0, n;

	*nout = 0;
	while (i < len && ch->state < CH_DONE) {
		if (ch->state == CH_DATA) {
			n = MTD_MIN(ch->remaining, len - i);
			if (out != NULL)
				memmove(out + *nout, buf + i, n);
			*nout += n;
			i += n;
			ch->total += n;
			if ((ch->remaining -= n) == 0)
				ch->state = CH_DATA_CR;
			continue;
		}
		if (chunk_byte(ch, (unsigned char)buf[i]) == -1) {
			ch->state = CH_ERROR;
			break;
		}
		i++;
	}
	*used = i;
	if (ch->state == CH_ERROR)
		return -1;
	return ch->state == CH_DONE;
}

/*
 * Scan <len> more bytes of a chunked body at <buf>. Sets <*used> to the
 * bytes that belong to the body (all of them unless it ended or broke).
 * Returns 1 complete, 0 need more, -1 bad framing; both are sticky.
 * Pure, any process.
 */
int
http_chunked_scan(struct http_chunked *ch, const char *buf, size_t len,
    size_t *used)
{
	size_t	 ndata;

	return chunked_run(ch, buf, len, used, NULL, &ndata);
}

/*
 * As http_chunked_scan(), and the chunk data among the <*used> bytes is
 * moved to the start of <buf>, <*out> bytes of it. Trailers are dropped.
 * Pure, any process.
 */
int
http_chunked_decode(struct http_chunked *ch, char *buf, size_t len,
    size_t *used, size_t *out)
{
	return chunked_run(ch, buf, len, used, buf, out);
}

/*
 * Bytes of the trailer section (the lines after the last chunk, its final
 * empty line included) that <ch> has scanned, 0 before it starts. Within
 * one scan they are the last of the <*used> bytes. Pure, any process.
 */
size_t
http_chunked_trailer_len(const struct http_chunked *ch)
{
	return ch->state >= CH_TRAILER && ch->state <= CH_DONE ?
	    ch->line_len : 0;
}

/*
 * RFC 9110 6.5.1: no trailer may frame, route or control the message, nor
 * say how to process its content; the caller drops these. Prefixes end
 * in '-'.
 */
static const char *const trailer_banned[] = {
	"Age", "Authorization", "Cache-Control", "Connection",
	"Content-Encoding", "Content-Length", "Content-Range", "Content-Type",
	"Cookie", "Date", "ETag", "Expect", "Expires", "Host", "If-",
	"Keep-Alive", "Last-Modified", "Location", "Max-Forwards", "Pragma",
	"Proxy-", "Range", "Retry-After", "Set-Cookie", "TE", "Trailer",
	"Transfer-Encoding", "Upgrade", "Vary", "Warning", "WWW-Authenticate",
};

static int
trailer_is_banned(const char *name, size_t len)
{
	size_t	 i, n;

	for (i = 0; i < MTD_ARRLEN(trailer_banned); i++) {
		n = strlen(trailer_banned[i]);
		if (trailer_banned[i][n - 1] == '-' ? len > n &&
		    str_ieq(name, n, trailer_banned[i], n) :
		    str_ieq(name, len, trailer_banned[i], n))
			return 1;
	}
	return 0;
}

/*
 * Drop, in place, the fields a trailer may not carry from the trailer
 * section at <p> (<len> bytes that a relaying scanner accepted: field
 * lines, then the empty line). Returns the new length. Pure, any process.
 */
size_t
http_trailers_filter(char *p, size_t len)
{
	const char	*lf, *colon;
	size_t		 r = 0, w = 0, n;

	while (r < len) {
		lf = memchr(p + r, '\n', len - r);
		n = lf != NULL ? (size_t)(lf - (p + r)) + 1 : len - r;
		colon = memchr(p + r, ':', n);
		if (colon == NULL ||
		    !trailer_is_banned(p + r, (size_t)(colon - (p + r)))) {
			memmove(p + w, p + r, n);
			w += n;
		}
		r += n;
	}
	return w;
}

/*
 * Find the field named <name> (any case) among the <n> headers at <h>.
 * Returns its value, or NULL. Pure, any process.
 */
const struct http_str *
http_header_get(const struct http_header *h, int n, const char *name)
{
	size_t	 len = strlen(name);
	int	 i;

	for (i = 0; i < n; i++)
		if (str_ieq(h[i].name.p, h[i].name.len, name, len))
			return &h[i].value;
	return NULL;
}

static const char *const method_names[HTTP_M_PURGE + 1] = {
	[HTTP_M_OTHER] = "OTHER",
	[HTTP_M_GET] = "GET",
	[HTTP_M_HEAD] = "HEAD",
	[HTTP_M_POST] = "POST",
	[HTTP_M_PUT] = "PUT",
	[HTTP_M_DELETE] = "DELETE",
	[HTTP_M_OPTIONS] = "OPTIONS",
	[HTTP_M_PATCH] = "PATCH",
	[HTTP_M_CONNECT] = "CONNECT",
	[HTTP_M_TRACE] = "TRACE",
	[HTTP_M_PURGE] = "PURGE",
};

/*
 * The method named by the <len> bytes at <p>, case-sensitively (RFC 9110
 * 9.1); HTTP_M_OTHER when unknown. Pure, any process.
 */
enum http_method
http_method_parse(const char *p, size_t len)
{
	enum http_method	 m;

	switch (len) {
	case 3:
		m = p[0] == 'G' ? HTTP_M_GET : HTTP_M_PUT;
		break;
	case 4:
		m = p[0] == 'H' ? HTTP_M_HEAD : HTTP_M_POST;
		break;
	case 5:
		m = p[0] == 'P' ? (p[1] == 'A' ? HTTP_M_PATCH : HTTP_M_PURGE) :
		    HTTP_M_TRACE;
		break;
	case 6:
		m = HTTP_M_DELETE;
		break;
	case 7:
		m = p[0] == 'O' ? HTTP_M_OPTIONS : HTTP_M_CONNECT;
		break;
	default:
		return HTTP_M_OTHER;
	}
	/* The guess above only picks the one candidate worth comparing. */
	return memcmp(method_names[m], p, len) == 0 ? m : HTTP_M_OTHER;
}

/*
 * Name of <m>, "OTHER" for HTTP_M_OTHER or out-of-range values.
 * Pure, any process.
 */
const char *
http_method_str(enum http_method m)
{
	if ((size_t)m >= MTD_ARRLEN(method_names))
		return method_names[HTTP_M_OTHER];
	return method_names[m];
}

/*
 * Reason phrase of <status> (RFC 9110 15), "Unknown" when we have none.
 * Pure, any process.
 */
const char *
http_status_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

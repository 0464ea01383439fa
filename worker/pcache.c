/*
 * Response cache glue for the reverse proxy. A GET or HEAD without
 * Authorization or body whose path matches a cache rule with a max_age
 * is looked up under Host + target; a fresh hit is answered from a copy
 * without touching a backend, a miss is forwarded and, when the rules
 * and the response allow, copied into a fill as it is relayed. A key
 * being filled by another request makes later requests wait for it
 * (collapsed misses), bounded by PCACHE_WAIT_MAX_MS. The stored head is
 * the head as relayed, without its blank line, framing, connection and
 * per-response fields (Age, X-Cache, Cache-Status, a computed ETag):
 * those are written for each answer. Vary: the object under the key is
 * stored with the digest of the fields it names (vary.c); other variants
 * live under keys derived from that object (pc_variant_key()).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "byteranges.h"
#include "cache.h"
#include "cacherule.h"
#include "cidr.h"
#include "cond.h"
#include "conn.h"
#include "ev.h"
#include "gzip.h"
#include "http.h"
#include "httpdate.h"
#include "log.h"
#include "pcache.h"
#include "range.h"
#include "shm.h"
#include "stats.h"
#include "uri.h"
#include "vary.h"
#include "worker.h"

#define PC_LABEL_HIT	0
#define PC_LABEL_STALE	1

static char	 keybuf[CACHE_KEY_MAX];
static char	 scratch[CONN_OUT_SIZE > 32768 ? CONN_OUT_SIZE : 32768];
static int	 pc_enabled = -1;

static int
lit_is(const struct http_str *s, const char *lit)
{
	size_t	 n = strlen(lit);

	return s->len == n && strncasecmp(s->p, lit, n) == 0;
}

static void *
pc_region(void)
{
	struct cache_stats	 cs;

	if (pc_enabled == -1) {
		pc_enabled = 0;
		if (shm != NULL && shm_cache() != NULL) {
			cache_stats(shm_cache(), &cs);
			pc_enabled = cs.stripes > 0;
		}
	}
	return pc_enabled ? shm_cache() : NULL;
}

/* The largest object a stripe holds: fixed for a worker's lifetime. */
static size_t
pc_max_object(void)
{
	static size_t	 max;

	if (max == 0)
		max = cache_max_object(wconf);
	return max;
}

/*
 * "scheme host path?query", the host lower-cased: what the backend is
 * asked for. The spaces cannot occur in a host or a target, so no two
 * requests share a key by shifting bytes from one part to the next; an
 * absolute-form target is keyed by its path, its authority being the
 * host (as it is forwarded). <https>: the scheme. NULL when too long.
 */
static const char *
pc_key_scheme(const struct conn *c, int https, size_t *klen)
{
	const struct http_request	*req = &c->r->req;
	const char			*scheme = https ? "https " : "http ";
	size_t				 n, i, s = strlen(scheme);

	n = s + req->host.len + 1 + 1 + req->path.len + 1 + req->query.len;
	if (n > sizeof(keybuf))
		return NULL;
	memcpy(keybuf, scheme, s);
	for (i = 0; i < req->host.len; i++)
		keybuf[s + i] = (char)tolower((unsigned char)req->host.p[i]);
	n = s + i;
	keybuf[n++] = ' ';
	if (!http_target_absolute(req)) {
		memcpy(keybuf + n, req->target.p, req->target.len);
		n += req->target.len;
	} else {
		if (req->path.len == 0)
			keybuf[n++] = '/';
		memcpy(keybuf + n, req->path.p, req->path.len);
		n += req->path.len;
		if (req->query.len > 0) {
			keybuf[n++] = '?';
			memcpy(keybuf + n, req->query.p, req->query.len);
			n += req->query.len;
		}
	}
	*klen = n;
	return keybuf;
}

/* The key of the request, for its own scheme. */
static const char *
pc_key(const struct conn *c, size_t *klen)
{
	return pc_key_scheme(c, c->ssl != NULL, klen);
}

/* The key this request looks up and fills: pc_key(), or its variant's. */
static const char *
pc_req_key(const struct pcache *pc, const struct conn *c, size_t *klen)
{
	if (pc_key(c, klen) == NULL)
		return NULL;
	if (pc->vkey_len == 0)
		return keybuf;
	if (*klen + pc->vkey_len > sizeof(keybuf))
		return NULL;
	memcpy(keybuf + *klen, pc->vkey, pc->vkey_len);
	*klen += pc->vkey_len;
	return keybuf;
}

/*
 * The rule for the request's path as the backend will most likely read
 * it: percent-decoded, dot segments and repeated slashes resolved. Rules
 * on the raw path would let "//api/x" or "/%61pi/x" dodge a rule that
 * never caches the API. A path that does not normalise is not cached.
 */
static const struct conf_cache_rule *
pc_rule(const struct http_request *req)
{
	char	 norm[MTD_MAX_TARGET + 1];
	int	 n;

	n = uri_normalize(req->path.p, req->path.len, norm, sizeof(norm));
	if (n < 0)
		return NULL;
	return cacherule_find(wconf, norm, (size_t)n);
}

/* Whether the request may use the cache at all; sets pc->rule. */
static int
pc_eligible(struct pcache *pc, const struct conn *c)
{
	const struct http_request	*req = &c->r->req;
	size_t				 klen;

	if (req->method != HTTP_M_GET && req->method != HTTP_M_HEAD)
		return 0;
	if (req->body != HTTP_BODY_NONE ||
	    http_header_get(req->headers, req->nheaders,
	    "Authorization") != NULL)
		return 0;
	if ((pc->rule = pc_rule(req)) == NULL || pc->rule->max_age <= 0)
		return 0;
	return pc_key(c, &klen) != NULL;
}

/* Append a formatted piece to out[]; -1 when it does not fit. */
static int __attribute__((format(printf, 2, 3)))
pc_out(struct conn *c, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 room = CONN_OUT_SIZE - c->out_len;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(c->r->out + c->out_len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return -1;
	c->out_len += (uint32_t)n;
	return 0;
}

/* How a hit is answered: its body's coding and the fields that go with it. */
struct pc_variant {
	int		 gzip;		/* compress the body for this client */
	int		 add_vary;	/* Vary: Accept-Encoding is missing */
	char		*gzbody;	/* heap, when compressed */
	size_t		 gzlen;
};

static const struct pc_variant	 pc_identity;

/*
 * The next field <name> of the stored head <head>/<len> after *<pos>
 * (start at <head>: the status line is skipped) into <v>, *<pos> moved
 * on; 0 when there is none.
 */
static int
pc_head_next(const char *head, size_t len, const char **pos,
    const char *name, struct http_str *v)
{
	const char	*p = *pos, *end = head + len, *nl, *q;
	size_t		 nlen = strlen(name);

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		p = nl + 1;
		*pos = p;
		if ((size_t)(end - p) <= nlen || p[nlen] != ':' ||
		    strncasecmp(p, name, nlen) != 0)
			continue;
		for (q = p + nlen + 1; q < end && (*q == ' ' || *q == '\t'); q++)
			;
		nl = memchr(q, '\n', (size_t)(end - q));
		v->p = q;
		v->len = (size_t)((nl != NULL ? nl : end) - q);
		while (v->len > 0 && (v->p[v->len - 1] == '\r' ||
		    v->p[v->len - 1] == ' ' || v->p[v->len - 1] == '\t'))
			v->len--;
		return 1;
	}
	return 0;
}

/* The first field <name> of a stored head; 0 when absent. */
static int
pc_head_field(const char *head, size_t len, const char *name,
    struct http_str *v)
{
	const char	*pos = head;

	return pc_head_next(head, len, &pos, name, v);
}

/*
 * What the Vary lines of the stored head <obj> say about <req> (NULL:
 * only whether they list * or Accept-Encoding).
 */
static void
pc_head_vary(const char *obj, size_t head_len,
    const struct http_request *req, struct vary *v)
{
	struct http_str	 f;
	const char	*pos = obj;

	vary_init(v);
	while (pc_head_next(obj, head_len, &pos, "Vary", &f))
		vary_add(v, req, f.p, f.len);
}

static int
pc_vary_has_ae(const char *obj, size_t head_len)
{
	struct vary	 v;

	pc_head_vary(obj, head_len, NULL, &v);
	return v.accept_encoding;
}

/*
 * Whether object <obj> was stored for this request's values of the
 * fields its Vary names (RFC 9111 4.1); the request's digest goes to
 * <d>. The stored digest is all zeros for an object that does not vary,
 * the common case: no work then (and <d> is left alone).
 */
static int
pc_vary_match(const struct conn *c, const struct cache_hit *hit,
    const char *obj, uint8_t d[CACHE_VARIANT_LEN])
{
	struct vary	 v;

	if (vary_none(hit->variant))
		return 1;
	pc_head_vary(obj, hit->head_len, &c->r->req, &v);
	vary_final(&v, d);
	return memcmp(d, hit->variant, CACHE_VARIANT_LEN) == 0;
}

/*
 * The key of this request's variant of object <hit> found under the
 * request's key: that key, a NUL (no Host or target holds one), the
 * object's id, the request's digest <d>. With the id in it, a new object
 * under the key (refilled, purged) leaves the old variants unreachable
 * until the LRU takes them. -1 when the key would be too long.
 */
static int
pc_variant_key(struct pcache *pc, const struct conn *c,
    const struct cache_hit *hit, const uint8_t d[CACHE_VARIANT_LEN])
{
	size_t	 klen;

	if (pc_key(c, &klen) == NULL ||
	    klen + sizeof(pc->vkey) > sizeof(keybuf))
		return -1;
	pc->vkey[0] = '\0';
	memcpy(pc->vkey + 1, &hit->id, sizeof(hit->id));
	memcpy(pc->vkey + 1 + sizeof(hit->id), d, CACHE_VARIANT_LEN);
	pc->vkey_len = sizeof(pc->vkey);
	return 0;
}

/*
 * gzip and cache hits: what a miss would have sent this client, the
 * object is sent. A client that accepts gzip gets the stored identity
 * body compressed (as nginx's gzip filter does to its cached answers),
 * and a compressible type carries Vary: Accept-Encoding.
 */
static void
pc_variant_pick(const struct conn *c, const struct cache_hit *hit,
    const char *obj, struct pc_variant *v)
{
	const struct http_request	*req = &c->r->req;
	struct http_str			 ct;
	int				 vary;

	memset(v, 0, sizeof(*v));
	if (!wconf->gzip_on || hit->status != 200 ||
	    pc_head_field(obj, hit->head_len, "Content-Encoding", &ct) ||
	    (pc_head_field(obj, hit->head_len, "Cache-Control", &ct) &&
	    gz_no_transform(&ct)) ||
	    !pc_head_field(obj, hit->head_len, "Content-Type", &ct))
		return;
	v->gzip = gz_wanted(c, ct.p, ct.len, (int64_t)hit->body_len, &vary);
	v->add_vary = vary && !pc_vary_has_ae(obj, hit->head_len);
	if (hit->body_len == 0 || req->method != HTTP_M_GET ||
	    http_header_get(req->headers, req->nheaders, "Range") != NULL)
		v->gzip = 0;
}

/*
 * The per-answer fields of a hit, then the blank line. <length> is the
 * Content-Length, -1 for none (a 304).
 */
static int
pc_hit_fields(struct conn *c, const struct cache_hit *hit, int label,
    const struct pc_variant *v, int64_t length)
{
	size_t	 n;
	int	 rc = 0;

	if (length >= 0)
		rc |= pc_out(c, "Content-Length: %" PRId64 "\r\n", length);
	if (v->gzip && length >= 0)
		rc |= pc_out(c, "Content-Encoding: gzip\r\n");
	if (v->add_vary)
		rc |= pc_out(c, "Vary: Accept-Encoding\r\n");
	if (hit->etag[0] != '\0')
		rc |= pc_out(c, "ETag: %s%s\r\n", v->gzip && hit->etag[0] == '"' ?
		    "W/" : "", hit->etag);
	if (label == PC_LABEL_STALE)	/* RFC 9211: a stale hit, ttl < 0 */
		rc |= pc_out(c, "Age: %ld\r\nX-Cache: STALE\r\n"
		    "Cache-Status: maitred; hit; ttl=%ld\r\n", hit->age,
		    hit->ttl < 0 ? hit->ttl : -1L);
	else
		rc |= pc_out(c, "Age: %ld\r\nX-Cache: HIT\r\n"
		    "Cache-Status: maitred; hit; ttl=%ld\r\n", hit->age,
		    hit->ttl);
	n = conn_ratelimit_fields(c, c->r->out + c->out_len,
	    CONN_OUT_SIZE - c->out_len);
	c->out_len += (uint32_t)n;
	if (!c->keep_alive)
		rc |= pc_out(c, "Connection: close\r\n\r\n");
	else if (c->r->req.minor == 0)
		rc |= pc_out(c, "Connection: keep-alive\r\n\r\n");
	else
		rc |= pc_out(c, "\r\n");
	return rc;
}

/* Compress the hit's body for a gzip variant; identity when that fails. */
static void
pc_variant_compress(const struct cache_hit *hit, const char *obj,
    struct pc_variant *v)
{
	ssize_t	 n;

	if (!v->gzip)
		return;
	n = gz_compress(obj + hit->head_len, hit->body_len, wconf->gzip_level,
	    &v->gzbody);
	if (n == -1)
		v->gzip = 0;
	else
		v->gzlen = (size_t)n;
}

/*
 * Whether the head line <p> (<n> bytes with its line end) names one of
 * <names>, each written "Name:".
 */
static int
field_is_one_of(const char *p, size_t n, const char *const *names,
    size_t count)
{
	size_t	 i, l;

	for (i = 0; i < count; i++) {
		l = strlen(names[i]);
		if (n > l && strncasecmp(p, names[i], l) == 0)
			return 1;
	}
	return 0;
}

/* Whether <s> (<n> bytes) holds <word>, any case. */
static int
pc_has_word(const char *s, size_t n, const char *word)
{
	size_t	 w = strlen(word), i;

	for (i = 0; i + w <= n; i++)
		if (strncasecmp(s + i, word, w) == 0)
			return 1;
	return 0;
}

/*
 * RFC 9111 4.2.4: a stored response with must-revalidate (or, for a
 * shared cache, proxy-revalidate, which s-maxage implies: 5.2.2.10)
 * MUST NOT be served stale.
 */
static int
pc_must_revalidate(const char *head, size_t len)
{
	static const char *const	 cc[] = { "Cache-Control:" };
	const char			*p = head, *end = head + len, *nl;
	size_t				 n;

	for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL;
	    p = nl + 1) {
		n = (size_t)(nl + 1 - p);
		if (field_is_one_of(p, n, cc, 1) &&
		    (pc_has_word(p, n, "must-revalidate") ||
		    pc_has_word(p, n, "proxy-revalidate") ||
		    pc_has_word(p, n, "s-maxage")))
			return 1;
	}
	return 0;
}

/*
 * A 304 repeats the stored answer's fields that a 200 would have carried
 * and that a cache updates from it (RFC 9110 15.4.5): Cache-Control,
 * Content-Location, Expires and Vary. Date and ETag are written apart.
 */
static int
pc_304_fields(struct conn *c, const char *head, size_t len)
{
	static const char	*const keep[] = {
		"Cache-Control:", "Content-Location:", "Expires:", "Vary:",
	};
	const char		*p = head, *end = head + len, *nl;
	size_t			 n;

	/* The status line first. */
	if ((nl = memchr(p, '\n', len)) == NULL)
		return 0;
	for (p = nl + 1; p < end &&
	    (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1) {
		n = (size_t)(nl + 1 - p);
		if (field_is_one_of(p, n, keep, MTD_ARRLEN(keep)) &&
		    resp_append(c, p, n) == -1)
			return -1;
	}
	return 0;
}

/*
 * The byte ranges of the stored 200 that a GET asks for (RFC 9110 14.2),
 * as static files answer them: RANGE_NONE when there is none or when
 * If-Range no longer names this copy (a weak ETag never does).
 */
static int
pc_range(const struct conn *c, const struct cache_hit *hit,
    struct range_set *rs)
{
	const struct http_request	*req = &c->r->req;
	const struct http_str		*ir = &req->if_range;

	if (req->range.len == 0 || req->method != HTTP_M_GET ||
	    hit->status != 200)
		return RANGE_NONE;
	if (ir->len > 0 && ir->p[0] == '"' && (ir->len != strlen(hit->etag) ||
	    memcmp(ir->p, hit->etag, ir->len) != 0))
		return RANGE_NONE;
	if (ir->len > 0 && ir->p[0] != '"' && (hit->last_modified < 0 ||
	    httpdate_parse(ir->p, ir->len) != hit->last_modified))
		return RANGE_NONE;
	return range_parse_set(req->range.p, req->range.len, hit->body_len,
	    rs);
}

/*
 * The head of a multipart/byteranges 206 for the ranges <rs> of a hit
 * into out[], its body built whole in a new heap buffer, *<body>,
 * *<blen>; the stored Content-Type goes into each part. -1 when the head
 * does not fit or memory is short.
 */
static int
pc_serve_parts(struct pcache *pc, struct conn *c, const struct cache_hit *hit,
    const char *obj, int label, const struct range_set *rs,
    const char **body, size_t *blen)
{
	static const char *const	 ctype[] = { "Content-Type:" };
	const char			*p, *end = obj + hit->head_len, *nl;
	char				 type[256], *buf = NULL;
	struct byteranges		*br;
	struct http_str			 t;
	uint64_t			 len;
	int				 rc = -1;

	type[0] = '\0';
	if (pc_head_field(obj, hit->head_len, "Content-Type", &t)) {
		if (t.len >= sizeof(type))
			return -1;
		memcpy(type, t.p, t.len);
		type[t.len] = '\0';
	}
	if ((br = byteranges_new(rs, type[0] != '\0' ? type : NULL,
	    hit->body_len)) == NULL)
		return -1;
	len = byteranges_length(br);
	if ((buf = malloc(len)) == NULL ||
	    byteranges_build(br, obj + hit->head_len, buf, len) == -1)
		goto out;
	c->status = 206;
	if (pc_out(c, "HTTP/1.1 206 Partial Content\r\n") == -1 ||
	    (nl = memchr(obj, '\n', hit->head_len)) == NULL)
		goto out;
	for (p = nl + 1; p < end &&
	    (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1)
		if (!field_is_one_of(p, (size_t)(nl + 1 - p), ctype, 1) &&
		    resp_append(c, p, (size_t)(nl + 1 - p)) == -1)
			goto out;
	if (pc_out(c, "Content-Type: multipart/byteranges; boundary=%s\r\n",
	    byteranges_boundary(br)) == -1 ||
	    pc_hit_fields(c, hit, label, &pc_identity, (int64_t)len) == -1)
		goto out;
	/* <obj> may be pc->big: the head is copied, the body built. */
	free(pc->big);
	pc->big = buf;
	buf = NULL;
	*body = pc->big;
	*blen = len;
	rc = 0;
out:
	free(buf);
	byteranges_free(br);
	return rc;
}

/*
 * The head of a 206 for bytes [<start>, <end>] of a hit (<rc> RANGE_OK),
 * or of a 416 (RANGE_UNSATISFIABLE), into out[]: the stored fields under
 * the new status line, and a Content-Range. -1 when it does not fit.
 */
static int
pc_serve_range(struct conn *c, const struct cache_hit *hit, const char *obj,
    int label, int rc, uint64_t start, uint64_t end)
{
	const char			*nl = memchr(obj, '\n', hit->head_len);
	size_t				 skip;

	if (nl == NULL)
		return -1;
	if (rc == RANGE_UNSATISFIABLE) {
		c->status = 416;
		return pc_out(c, "HTTP/1.1 416 Range Not Satisfiable\r\n"
		    "Date: %s\r\nContent-Range: bytes */%zu\r\n",
		    httpdate_now(ev_wall()), hit->body_len) == -1 ||
		    pc_hit_fields(c, hit, label, &pc_identity, 0) == -1 ? -1 : 0;
	}
	c->status = 206;
	skip = (size_t)(nl + 1 - obj);
	return pc_out(c, "HTTP/1.1 206 Partial Content\r\n") == -1 ||
	    resp_append(c, nl + 1, hit->head_len - skip) == -1 ||
	    pc_out(c, "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%zu\r\n",
	    start, end, hit->body_len) == -1 ||
	    pc_hit_fields(c, hit, label, &pc_identity,
	    (int64_t)(end - start + 1)) == -1 ? -1 : 0;
}

/*
 * Write the answer for object <obj> (<hit>: head then body) into out[].
 * Returns 0, or -1 when the head does not fit (nothing usable written).
 */
static int
pc_serve(struct pcache *pc, struct conn *c, const struct cache_hit *hit,
    const char *obj, int label)
{
	const char		*body = obj + hit->head_len;
	size_t			 blen = hit->body_len, room;
	uint64_t		 start = 0, end = 0;
	struct range_set	 rs;
	struct pc_variant	 v;
	int			 rc, cond;

	c->out_len = c->out_off = 0;
	pc_variant_pick(c, hit, obj, &v);
	/* The validators are evaluated for a stored 200 only. */
	cond = hit->status != 200 ? COND_PERFORM : cond_evaluate(&c->r->req,
	    hit->etag, hit->last_modified, ev_wall());
	if (cond == COND_FAILED) {
		c->status = 412;
		if (pc_out(c, "HTTP/1.1 412 Precondition Failed\r\n"
		    "Date: %s\r\n", httpdate_now(ev_wall())) == -1 ||
		    pc_hit_fields(c, hit, label, &pc_identity, 0) == -1)
			goto toolong;
		blen = 0;
	} else if (cond == COND_NOT_MODIFIED) {
		c->status = 304;
		if (pc_out(c, "HTTP/1.1 304 Not Modified\r\nDate: %s\r\n",
		    httpdate_now(ev_wall())) == -1 ||
		    pc_304_fields(c, obj, hit->head_len) == -1 ||
		    pc_hit_fields(c, hit, label, &v, -1) == -1)
			goto toolong;
		blen = 0;
	} else if ((rc = pc_range(c, hit, &rs)) == RANGE_OK && rs.n > 1 &&
	    pc_serve_parts(pc, c, hit, obj, label, &rs, &body, &blen) == 0) {
		/* Several parts, built whole (else the whole object). */
	} else if (rc == RANGE_UNSATISFIABLE || (rc == RANGE_OK &&
	    rs.n == 1)) {
		if (rc == RANGE_OK) {
			start = rs.first[0];
			end = rs.last[0];
		}
		if (pc_serve_range(c, hit, obj, label, rc, start, end) == -1)
			goto toolong;
		body += start;
		blen = rc == RANGE_OK ? end - start + 1 : 0;
	} else {
		c->out_len = c->out_off = 0;	/* parts that did not fit */
		c->status = hit->status;
		pc_variant_compress(hit, obj, &v);
		if (resp_append(c, obj, hit->head_len) == -1 ||
		    pc_hit_fields(c, hit, label, &v, (int64_t)(v.gzip ?
		    v.gzlen : hit->body_len)) == -1)
			goto toolong;
		if (c->r->req.method == HTTP_M_HEAD)
			blen = 0;
		else if (v.gzip) {
			/* <obj> may be pc->big: its head is copied already. */
			free(pc->big);
			pc->big = v.gzbody;
			body = v.gzbody;
			blen = v.gzlen;
		}
	}
	c->head_out = c->out_len;
	c->body_len = blen;
	c->cache = label == PC_LABEL_STALE ? "STALE" : "HIT";
	room = CONN_OUT_SIZE - c->out_len;
	if (blen <= room) {
		memcpy(c->r->out + c->out_len, body, blen);
		c->out_len += (uint32_t)blen;
		blen = 0;
	}
	pc->body = body;
	pc->body_left = blen;
	if (label == PC_LABEL_HIT)
		STATS_ADD(cache_hits, 1);
	return 0;
toolong:
	free(v.gzbody);
	c->out_len = c->out_off = 0;
	c->status = 0;
	return -1;
}

/*
 * cache_stale_if_error in the cache's whole seconds, rounded up: "500ms"
 * must not silently mean off.
 */
static long
pc_stale_window(void)
{
	return ((long)wconf->cache_stale_ms + 999) / 1000;
}

/*
 * Look the key up with <stale_s>, into <buf> or, for a large object, a
 * heap copy; *<obj> says where it went. Returns a cache_lookup() code.
 */
static int
pc_fetch(struct pcache *pc, struct conn *c, long stale_s, char *buf,
    size_t buflen, struct cache_hit *hit, const char **obj)
{
	void		*region = pc_region();
	const char	*key;
	size_t		 klen;
	int		 rc;

	if ((key = pc_req_key(pc, c, &klen)) == NULL)
		return CACHE_MISS;
	rc = cache_lookup(region, key, klen, ev_wall(), stale_s, hit, buf,
	    buflen);
	*obj = buf;
	if (rc != CACHE_TOO_BIG)
		return rc;
	free(pc->big);
	if ((pc->big = malloc(hit->need)) == NULL)
		return CACHE_MISS;
	rc = cache_lookup(region, key, klen, ev_wall(), stale_s, hit, pc->big,
	    hit->need);
	*obj = pc->big;
	return rc == CACHE_TOO_BIG ? CACHE_MISS : rc;
}

static void
pc_drop_big(struct pcache *pc)
{
	free(pc->big);
	pc->big = NULL;
}

/*
 * pc_fetch() through Vary. When the object under the request's key was
 * stored for other values of the fields its Vary names, this request's
 * variant is looked up under its own key (pc_variant_key()), which a
 * miss then fills: variants live side by side. An object that still
 * does not match reads as a miss; its lookup is counted as <unusable>
 * (CACHE_MISS, or CACHE_ERROR for no counter).
 */
static int
pc_fetch_vary(struct pcache *pc, struct conn *c, long stale_s, char *buf,
    size_t buflen, struct cache_hit *hit, const char **obj, int unusable)
{
	uint8_t	 d[CACHE_VARIANT_LEN];
	long	 window = pc_stale_window();
	int	 rc;

	rc = pc_fetch(pc, c, stale_s, buf, buflen, hit, obj);
	if ((rc == CACHE_MISS || rc == CACHE_PENDING) && pc->vkey_len == 0 &&
	    window > stale_s) {
		/*
		 * The object under the key may have expired but still be
		 * servable stale: if it is another variant, this request's
		 * variant is under its own key, and a miss must fill that
		 * one rather than replace the expired copy, which then
		 * could no longer stand in when the backend fails.
		 */
		int	 peek = pc_fetch(pc, c, window, buf, buflen, hit, obj);

		/* A look, not a lookup: whatever it found is not counted. */
		cache_recount(pc_region(), peek, CACHE_ERROR);
		if (peek != CACHE_STALE) {
			pc_drop_big(pc);
			return rc;
		}
		if (pc_vary_match(c, hit, *obj, d) ||
		    pc_variant_key(pc, c, hit, d) == -1) {
			pc_drop_big(pc);
			return rc;
		}
		pc->vary_miss = 1;
		cache_recount(pc_region(), rc, CACHE_ERROR);
		pc_drop_big(pc);
		rc = pc_fetch(pc, c, stale_s, buf, buflen, hit, obj);
	}
	if ((rc != CACHE_HIT && rc != CACHE_STALE) ||
	    pc_vary_match(c, hit, *obj, d))
		return rc;
	pc->vary_miss = 1;
	if (pc->vkey_len == 0 && pc_variant_key(pc, c, hit, d) == 0) {
		/* Only the variant's own lookup counts. */
		cache_recount(pc_region(), rc, CACHE_ERROR);
		pc_drop_big(pc);
		rc = pc_fetch(pc, c, stale_s, buf, buflen, hit, obj);
		if ((rc != CACHE_HIT && rc != CACHE_STALE) ||
		    pc_vary_match(c, hit, *obj, d))
			return rc;
	}
	cache_recount(pc_region(), rc, unusable);
	pc_drop_big(pc);
	return CACHE_MISS;
}

static int	pc_cc_is(const char *, size_t, const char *);

/*
 * Whether the request's Cache-Control has <directive>: "no-store" (no
 * part of its response may be stored, RFC 9111 5.2.1.5; a hit may
 * still answer), "only-if-cached" (a hit or a 504, 5.2.1.7).
 */
static int
pc_req_cc_has(const struct http_request *req, const char *directive)
{
	struct http_list	 it;
	struct http_str		 e;
	int			 i;

	for (i = 0; i < req->nheaders; i++) {
		if (req->headers[i].name.len != 13 || strncasecmp(
		    req->headers[i].name.p, "Cache-Control", 13) != 0)
			continue;
		http_list_init(&it, req->headers[i].value);
		while (http_list_next(&it, &e))
			if (pc_cc_is(e.p, e.len, directive))
				return 1;
	}
	return 0;
}

/*
 * A miss: claim the key for a GET. Not after waiting for a fill that
 * stored nothing: the answer may be one that is never stored, and each
 * waiter in turn would fill and fail while the others wait. But a wait
 * that ended with another variant stored is a miss of this variant's
 * own key, which the waiter fills (later ones wait for it in turn).
 */
static int
pc_miss(struct pcache *pc, struct conn *c)
{
	const char	*key;
	size_t		 klen;
	int		 rc;

	STATS_ADD(cache_misses, 1);
	if ((pc->waited && !pc->vary_miss) || c->r->req.method != HTTP_M_GET ||
	    pc_req_cc_has(&c->r->req, "no-store") ||
	    (key = pc_req_key(pc, c, &klen)) == NULL)
		return PCACHE_FORWARD;
	rc = cache_fill_begin(pc_region(), key, klen,
	    (size_t)pc->rule->max_size, ev_wall(), &pc->fill);
	if (rc == CACHE_PENDING)
		return PCACHE_WAIT;
	return PCACHE_FORWARD;
}

/*
 * Another request is refreshing this expired object: answer at once
 * with the expired copy, if it is within cache_stale_if_error's window,
 * rather than wait for the refresh (nginx's proxy_cache_use_stale
 * updating, Varnish's grace). Only the refreshing request waits for the
 * backend. 0 when answered.
 */
static int
pc_serve_updating(struct pcache *pc, struct conn *c, char *buf,
    size_t buflen)
{
	struct cache_hit	 hit;
	const char		*obj;
	long			 window = pc_stale_window();
	int			 rc;

	if (!wconf->cache_stale_updating || window <= 0)
		return -1;
	rc = pc_fetch_vary(pc, c, window, buf, buflen, &hit, &obj,
	    CACHE_ERROR);
	if (rc != CACHE_HIT && rc != CACHE_STALE)
		return -1;
	if (rc == CACHE_STALE && pc_must_revalidate(obj, hit.head_len))
		return -1;
	return pc_serve(pc, c, &hit, obj, rc == CACHE_HIT ? PC_LABEL_HIT :
	    PC_LABEL_STALE);
}

static int
pc_lookup(struct pcache *pc, struct conn *c, char *buf, size_t buflen)
{
	struct cache_hit	 hit;
	const char		*obj;
	int			 rc;

	rc = pc_fetch_vary(pc, c, 0, buf, buflen, &hit, &obj, CACHE_MISS);
	if (rc == CACHE_HIT && pc_serve(pc, c, &hit, obj, PC_LABEL_HIT) == 0)
		return PCACHE_HIT;
	/*
	 * A Range request that misses goes on with its Range and fills
	 * nothing: a fill asks for the whole object, which the client would
	 * get as 200 (and again at every seek of an object too big to
	 * store) where the backend can answer 206. The same for If-Match
	 * and If-Unmodified-Since, where it can answer 412.
	 */
	/* Not even waiting for a fill: the client wants no backend. */
	if ((rc == CACHE_MISS || rc == CACHE_PENDING) &&
	    pc_req_cc_has(&c->r->req, "only-if-cached")) {
		c->cache = "MISS";
		return PCACHE_NOT_STORED;
	}
	if ((rc == CACHE_MISS || rc == CACHE_PENDING) &&
	    (http_header_get(c->r->req.headers, c->r->req.nheaders,
	    "Range") != NULL || c->r->req.if_match.p != NULL ||
	    c->r->req.if_unmodified_since.p != NULL)) {
		c->cache = "MISS";
		return PCACHE_FORWARD;
	}
	if (rc == CACHE_MISS)
		rc = pc_miss(pc, c) == PCACHE_WAIT ? CACHE_PENDING : CACHE_MISS;
	if (rc == CACHE_PENDING && pc_serve_updating(pc, c, buf, buflen) == 0)
		return PCACHE_HIT;
	if (rc == CACHE_PENDING) {
		if (!pc->waited) {
			pc->waited = 1;
			pc->wait_until = ev_now_ms() + PCACHE_WAIT_MAX_MS;
		}
		if (ev_now_ms() < pc->wait_until)
			return PCACHE_WAIT;
	}
	c->cache = "MISS";
	return PCACHE_FORWARD;
}

#ifdef MTD_TEST_HOOKS
/* Test builds: die holding the key's stripe lock when asked to. */
static void
pc_test_hooks(struct conn *c)
{
	const struct http_request	*req = &c->r->req;
	const char			*key;
	size_t				 klen;
	int				 s;

	if (http_header_get(req->headers, req->nheaders,
	    "X-Maitred-Test-Hold-Lock") == NULL ||
	    (key = pc_key(c, &klen)) == NULL)
		return;
	s = cache_test_hold_stripe(pc_region(), key, klen);
	log_warnx("test hook: exiting with cache stripe %d locked", s);
	_exit(1);
}
#endif

/* log_level debug: what the cache made of a request, and by which rule. */
static void
pc_debug(const struct pcache *pc, const struct conn *c)
{
	const struct http_request	*req = &c->r->req;
	const char			*why = "no rule matches";

	if (req->method != HTTP_M_GET && req->method != HTTP_M_HEAD)
		why = "not GET or HEAD";
	else if (pc->rule != NULL)
		why = pc->rule->pattern;
	log_debug("cache: %.*s %s (%s%s%s)", (int)MTD_MIN(req->target.len,
	    200), req->target.p, c->cache != NULL ? c->cache : "-",
	    pc->rule != NULL ? "rule \"" : "", why,
	    pc->rule != NULL ? "\"" : "");
}

int
pcache_start(struct pcache *pc, struct conn *c, char *buf, size_t buflen)
{
	int	 rc;

	pc->rule = NULL;
	if (pc_region() == NULL || wconf->ncache_rules == 0 ||
	    c->r->req.upgrade) {
		pc->mode = PCACHE_OFF;
		return PCACHE_FORWARD;
	}
	if (!pc_eligible(pc, c)) {
		pc->mode = PCACHE_BYPASS;
		c->cache = "BYPASS";
		if (LOG_DEBUGGING())
			pc_debug(pc, c);
		return PCACHE_FORWARD;
	}
	pc->mode = PCACHE_MISS;
#ifdef MTD_TEST_HOOKS
	pc_test_hooks(c);
#endif
	rc = pc_lookup(pc, c, buf, buflen);
	if (LOG_DEBUGGING() && rc != PCACHE_WAIT)
		pc_debug(pc, c);
	return rc;
}

int
pcache_retry(struct pcache *pc, struct conn *c, char *buf, size_t buflen)
{
	return pc_lookup(pc, c, buf, buflen);
}

int
pcache_stale(struct pcache *pc, struct conn *c, char *buf, size_t buflen)
{
	struct cache_hit	 hit;
	const char		*obj;
	int			 rc;

	if (pc->mode != PCACHE_MISS)
		return PCACHE_FORWARD;
	cache_fill_abort(pc_region(), &pc->fill);
	pc->storing = 0;
	rc = pc_fetch_vary(pc, c, pc_stale_window(), buf, buflen,
	    &hit, &obj, CACHE_ERROR);
	if (rc != CACHE_HIT && rc != CACHE_STALE)
		return PCACHE_FORWARD;
	if (rc == CACHE_STALE && pc_must_revalidate(obj, hit.head_len))
		return PCACHE_FORWARD;
	if (pc_serve(pc, c, &hit, obj, rc == CACHE_HIT ? PC_LABEL_HIT :
	    PC_LABEL_STALE) == -1)
		return PCACHE_FORWARD;
	return PCACHE_HIT;
}

size_t
pcache_body_take(struct pcache *pc, char *dst, size_t room)
{
	size_t	 n = MTD_MIN(room, pc->body_left);

	memmove(dst, pc->body, n);
	pc->body += n;
	pc->body_left -= n;
	if (pc->body_left == 0 && pc->big != NULL) {
		free(pc->big);
		pc->big = NULL;
	}
	return n;
}

/* Parse "name=N" at <p> (<len> bytes); -1 when it is not that. */
static long
pc_cc_num(const char *p, size_t len, const char *name)
{
	size_t	 n = strlen(name);
	long	 v = 0;

	if (len < n + 1 || strncasecmp(p, name, n) != 0 || p[n] != '=')
		return -1;
	if (len == n + 1)
		return -2;
	for (p += n + 1, len -= n + 1; len > 0; p++, len--) {
		if (*p == '"')
			continue;
		if (!isdigit((unsigned char)*p))
			return -2;
		if (v <= 100000000)
			v = v * 10 + (*p - '0');
	}
	return v;
}

/* Whether the directive at <s>/<n> is <name>, with or without "=...". */
static int
pc_cc_is(const char *s, size_t n, const char *name)
{
	size_t	 len = strlen(name);

	return n >= len && strncasecmp(s, name, len) == 0 &&
	    (n == len || s[len] == '=');
}

/*
 * Cache-Control of a response: 0 when it forbids storing, else 1 with
 * s-maxage in *<smax> and max-age in *<max> when present. An invalid
 * value (max-age=-1, max-age=abc) counts as 0, already stale, as RFC
 * 9111 4.2.1 advises and nginx does, not as an absent directive.
 */
static int
pc_cache_control(const struct http_str *v, long *smax, long *max)
{
	const char	*p = v->p, *end = v->p + v->len, *s;
	size_t		 n;
	long		 x;

	while (p < end) {
		while (p < end && (*p == ',' || *p == ' ' || *p == '\t'))
			p++;
		for (s = p; p < end && *p != ',' && *p != ' ' && *p != '\t';
		    p++)
			;
		n = (size_t)(p - s);
		if (pc_cc_is(s, n, "no-store") || pc_cc_is(s, n, "private") ||
		    pc_cc_is(s, n, "no-cache"))
			return 0;
		if ((x = pc_cc_num(s, n, "s-maxage")) != -1)
			*smax = MTD_MAX(x, 0);
		else if ((x = pc_cc_num(s, n, "max-age")) != -1)
			*max = MTD_MAX(x, 0);
	}
	return 1;
}

#define PC_NO_DATE	((time_t)-2)	/* header absent (-1: invalid) */

/*
 * Freshness from Expires (RFC 9111 4.2.1), counted from the response's
 * Date (our clock when it has none): an invalid date means already
 * expired (5.3).
 */
static long
pc_expires_ttl(time_t expires, time_t date)
{
	if (expires == -1)
		return 0;
	if (date == -1)
		date = ev_wall();
	return expires > date ? (long)MTD_MIN(expires - date, 1L << 30) : 0;
}

/* An Age value (delta-seconds); junk counts as 0, huge is clamped. */
static long
pc_age(const struct http_str *v)
{
	long	 n = 0;
	size_t	 i;

	for (i = 0; i < v->len && v->p[i] >= '0' && v->p[i] <= '9'; i++)
		if ((n = n * 10 + (v->p[i] - '0')) > (1L << 30))
			return 1L << 30;
	return i == v->len ? n : 0;
}

static int
pc_status_storable(int status)
{
	switch (status) {
	case 200: case 203: case 300: case 301: case 308: case 404: case 410:
		return 1;
	default:
		return 0;
	}
}

/*
 * Whether <resp> to <req> may be stored; sets pc->ttl, etag,
 * last_modified and the fill's variant.
 */
static int
pc_storable(struct pcache *pc, const struct http_response *resp,
    const struct http_request *req)
{
	const struct http_header	*h;
	long				 smax = -1, max = -1, life;
	time_t				 expires = PC_NO_DATE, date = -1;
	struct vary			 vary;
	int				 i, encoded = 0;

	/* Nor a sized body no stripe can hold: the head would say "stored". */
	if (!pc_status_storable(resp->status) ||
	    resp->body == HTTP_BODY_CLOSE ||
	    (resp->body == HTTP_BODY_LENGTH &&
	    (resp->content_length > (uint64_t)pc->rule->max_size ||
	    resp->content_length >= (uint64_t)pc_max_object())))
		return 0;
	pc->ttl = pc->rule->max_age;
	pc->age = 0;
	pc->last_modified = -1;
	pc->etag[0] = '\0';
	vary_init(&vary);
	for (i = 0; i < resp->nheaders; i++) {
		h = &resp->headers[i];
		if (lit_is(&h->name, "Set-Cookie"))
			return 0;
		if (lit_is(&h->name, "Cache-Control") &&
		    !pc_cache_control(&h->value, &smax, &max))
			return 0;
		if (lit_is(&h->name, "Vary"))
			vary_add(&vary, req, h->value.p, h->value.len);
		if (lit_is(&h->name, "Content-Encoding"))
			encoded = 1;
		if (lit_is(&h->name, "ETag")) {
			/* Too long to keep: hits would make up another. */
			if (h->value.len >= sizeof(pc->etag))
				return 0;
			memcpy(pc->etag, h->value.p, h->value.len);
			pc->etag[h->value.len] = '\0';
		}
		if (lit_is(&h->name, "Last-Modified"))
			pc->last_modified = httpdate_parse(h->value.p,
			    h->value.len);
		if (lit_is(&h->name, "Expires"))
			expires = httpdate_parse(h->value.p, h->value.len);
		if (lit_is(&h->name, "Date"))
			date = httpdate_parse(h->value.p, h->value.len);
		if (lit_is(&h->name, "Age"))
			pc->age = pc_age(&h->value);
	}
	/* A coded body would be served to clients that cannot decode it. */
	if (vary.star || (vary.accept_encoding && encoded))
		return 0;
	if (vary.fields > 0)
		vary_final(&vary, pc->fill.variant);
	life = smax >= 0 ? smax : max >= 0 ? max :
	    expires != PC_NO_DATE ? pc_expires_ttl(expires, date) : -1;
	/*
	 * The backend's lifetime bounds our rule's max_age; a copy from an
	 * upstream cache is already Age seconds into it (RFC 9111 4.2.3).
	 */
	if (life >= 0)
		pc->ttl = MTD_MIN(pc->ttl, life - pc->age);
	return pc->ttl > 0;
}

void
pcache_response(struct pcache *pc, const struct http_response *resp,
    const struct http_request *req, int raw_chunked)
{
	if (!pc->fill.active)
		return;
	if (!pc_storable(pc, resp, req)) {
		cache_fill_abort(pc_region(), &pc->fill);
		return;
	}
	pc->storing = 1;
	/* Only then may the head say "stored" (RFC 9211 2.7). */
	pc->sized = resp->body != HTTP_BODY_CHUNKED;
	pc->status = resp->status;
	pc->raw_chunked = raw_chunked != 0;
	http_chunked_init(&pc->ch);
}

int
pcache_own_field(const struct pcache *pc, const struct http_str *name)
{
	/* A backend's Age passes on: it is the answer's age on a miss. */
	return pc->mode != PCACHE_OFF && (lit_is(name, "X-Cache") ||
	    lit_is(name, "Cache-Status"));
}

int
pcache_fields(const struct pcache *pc, char *p, size_t room)
{
	/* [vary_miss][storing]; no snprintf: this is every forwarded answer. */
	static const char *const miss[2][2] = {
		{ "X-Cache: MISS\r\nCache-Status: maitred; fwd=uri-miss\r\n",
		  "X-Cache: MISS\r\n"
		  "Cache-Status: maitred; fwd=uri-miss; stored\r\n" },
		{ "X-Cache: MISS\r\nCache-Status: maitred; fwd=vary-miss\r\n",
		  "X-Cache: MISS\r\n"
		  "Cache-Status: maitred; fwd=vary-miss; stored\r\n" },
	};
	const char	*s;
	size_t		 n;

	switch (pc->mode) {
	case PCACHE_BYPASS:
		s = "X-Cache: BYPASS\r\nCache-Status: maitred; fwd=bypass\r\n";
		break;
	case PCACHE_MISS:
		s = miss[pc->vary_miss][pc->storing && pc->sized];
		break;
	default:
		return 0;
	}
	if ((n = strlen(s)) > room)
		return -1;
	memcpy(p, s, n);
	return (int)n;
}

/* Whether the head line <p> (<n> bytes) is left out of a stored head. */
static int
pc_head_skip(const struct pcache *pc, const char *p, size_t n)
{
	static const char	*const skip[] = {
		"Content-Length:", "Transfer-Encoding:", "Connection:",
		"Keep-Alive:", "X-Cache:", "Cache-Status:", "Age:",
		/* A backend's cookie makes it unstorable: this is ours. */
		"Set-Cookie:",
		/* One client's quota (ours, or the backend's for it). */
		"RateLimit:", "RateLimit-Policy:",
	};

	if (field_is_one_of(p, n, skip, MTD_ARRLEN(skip)))
		return 1;
	/* A backend ETag that fits is kept beside the object. */
	return pc->etag[0] != '\0' && n >= 5 && strncasecmp(p, "ETag:", 5) == 0;
}

void
pcache_head(struct pcache *pc, const char *p, size_t len)
{
	const char	*end = p + len, *nl;
	size_t		 n, out = 0;

	if (!pc->storing)
		return;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n = (size_t)(nl + 1 - p);
		if (n <= 2)
			break;		/* the blank line */
		if (out == 0 || !pc_head_skip(pc, p, n)) {
			if (out + n > sizeof(scratch))
				break;
			memcpy(scratch + out, p, n);
			out += n;
		}
		p = nl + 1;
	}
	if (cache_fill_head(pc_region(), &pc->fill, scratch, out) == -1)
		pc->storing = 0;
}

void
pcache_body(struct pcache *pc, const char *p, size_t n, int done)
{
	void	*region = pc_region();
	size_t	 used, out;

	if (!pc->storing)
		return;
	if (n > 0 && pc->raw_chunked) {
		n = MTD_MIN(n, sizeof(scratch));
		memcpy(scratch, p, n);
		if (http_chunked_decode(&pc->ch, scratch, n, &used, &out) ==
		    -1) {
			cache_fill_abort(region, &pc->fill);
			pc->storing = 0;
			return;
		}
		p = scratch;
		n = out;
	}
	if (n > 0 && cache_fill_append(region, &pc->fill, p, n) == -1) {
		pc->storing = 0;
		return;
	}
	if (done) {
		/* Stored Age seconds ago: hits then show the whole age. */
		cache_fill_commit(region, &pc->fill, pc->status,
		    pc->ttl + pc->age, ev_wall() - pc->age,
		    pc->etag[0] != '\0' ? pc->etag : NULL, pc->last_modified);
		pc->storing = 0;
		if (LOG_DEBUGGING())
			log_debug("cache: stored a %d answer for %ld s",
			    pc->status, pc->ttl);
	}
}

void
pcache_end(struct pcache *pc)
{
	if (pc->fill.active)
		cache_fill_abort(pc_region(), &pc->fill);
	pc->storing = 0;
	free(pc->big);
	pc->big = NULL;
	pc->body_left = 0;
}

static int
pc_method_safe(int method)
{
	return method == HTTP_M_GET || method == HTTP_M_HEAD ||
	    method == HTTP_M_OPTIONS || method == HTTP_M_TRACE;
}

/*
 * Remove the object stored for <c>'s target under either scheme (a
 * resource, whichever way it was reached). Its Vary variants, keyed by
 * its id, become unreachable with it. 1 when something went.
 */
static int
pc_remove_target(struct conn *c, void *region)
{
	const char	*key;
	size_t		 klen;
	int		 removed = 0, https;

	for (https = 0; https <= 1; https++)
		if ((key = pc_key_scheme(c, https, &klen)) != NULL)
			removed |= cache_purge(region, key, klen);
	return removed;
}

void
pcache_invalidate(const struct pcache *pc, struct conn *c, int status)
{
	void	*region = pc_region();

	if (pc->mode != PCACHE_BYPASS || region == NULL ||
	    pc_method_safe(c->r->req.method) || status < 200 || status >= 400)
		return;
	if (pc_remove_target(c, region) && LOG_DEBUGGING())
		log_debug("cache: %.*s: removed after a %d to an unsafe method",
		    (int)MTD_MIN(c->r->req.target.len, 200),
		    c->r->req.target.p, status);
}

int
pcache_purge(struct conn *c)
{
	void		*region = pc_region();
	const char	*key;
	size_t		 klen;
	int		 removed = 0, https;

	if (region == NULL || wconf->ncache_rules == 0)
		return 0;	/* no cache: maybe the backends' */
	if (!cidr_set_match(wconf->status_allow, c->peer16)) {
		resp_error(c, 403, NULL);
		return 1;
	}
	/*
	 * Both schemes: a purge is about the resource. Its Vary variants
	 * are stored under the key, a NUL, then more (pc_variant_key()):
	 * all of them go, of this object and of those it replaced.
	 */
	for (https = 0; https <= 1; https++) {
		if ((key = pc_key_scheme(c, https, &klen)) == NULL)
			continue;
		removed |= cache_purge(region, key, klen);
		if (klen == sizeof(keybuf))
			continue;	/* too long to have variants */
		keybuf[klen] = '\0';
		removed |= cache_purge_prefix(region, key, klen + 1) > 0;
	}
	resp_head(c, removed ? 200 : 404);
	resp_header(c, "Content-Type: text/plain");
	resp_end_head(c, removed ? 7 : 10);
	if (c->r->req.method != HTTP_M_HEAD)
		resp_append(c, removed ? "purged\n" : "not found\n",
		    removed ? 7 : 10);
	conn_respond(c);
	return 1;
}

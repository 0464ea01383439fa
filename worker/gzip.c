/*
 * gzip content coding. gz_feed() wraps deflate (gzip framing, windowBits
 * 15 + 16) behind a staging buffer so callers may offer any output room,
 * and optionally frames each piece as an HTTP/1.1 chunk. The file sender
 * is a connection handler: it refills c->r->out from the file through
 * deflate only when the socket has taken the previous piece, so memory
 * stays flat whatever the size of the file. static.c and php.c decide
 * when to compress with gz_wanted().
 */
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <zlib.h>

#include "conn.h"
#include "ev.h"
#include "gzip.h"
#include "http.h"
#include "worker.h"

#define GZ_HDR_ROOM	8	/* "1ff0\r\n" before the data */
#define GZ_TAIL_ROOM	7	/* "\r\n" after it, "0\r\n\r\n" at the end */
#define GZF_IN_SIZE	16384

int
gz_init(struct gz_stream *gz, int level, int chunked)
{
	memset(&gz->zs, 0, sizeof(gz->zs));
	gz->chunked = chunked ? 1 : 0;
	gz->ended = 0;
	gz->poff = gz->plen = 0;
	if (level < 1 || level > 9)
		level = Z_DEFAULT_COMPRESSION;
	if (deflateInit2(&gz->zs, level, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		gz->inited = 0;
		return -1;
	}
	gz->inited = 1;
	return 0;
}

void
gz_free(struct gz_stream *gz)
{
	if (gz->inited)
		deflateEnd(&gz->zs);
	gz->inited = 0;
}

/* Run deflate once into the empty staging buffer, framing the output. */
static int
gz_stage(struct gz_stream *gz, const unsigned char *in, size_t inlen,
    size_t *consumed, int finish)
{
	unsigned char	*data = gz->pend + GZ_HDR_ROOM;
	size_t		 cap = GZ_PEND_SIZE - GZ_HDR_ROOM - GZ_TAIL_ROOM, n;
	char		 hex[GZ_HDR_ROOM + 1];
	int		 rc, h;

	gz->zs.next_in = (unsigned char *)(uintptr_t)in;
	gz->zs.avail_in = (uInt)inlen;
	gz->zs.next_out = data;
	gz->zs.avail_out = (uInt)cap;
	rc = deflate(&gz->zs, finish ? Z_FINISH : Z_NO_FLUSH);
	if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
		return -1;
	*consumed += inlen - gz->zs.avail_in;
	n = cap - gz->zs.avail_out;
	gz->poff = GZ_HDR_ROOM;
	gz->plen = (uint32_t)(GZ_HDR_ROOM + n);
	if (gz->chunked && n > 0) {
		h = snprintf(hex, sizeof(hex), "%zx\r\n", n);
		gz->poff = (uint32_t)(GZ_HDR_ROOM - h);
		memcpy(gz->pend + gz->poff, hex, (size_t)h);
		memcpy(gz->pend + gz->plen, "\r\n", 2);
		gz->plen += 2;
	}
	if (rc == Z_STREAM_END) {
		gz->ended = 1;
		if (gz->chunked) {
			memcpy(gz->pend + gz->plen, "0\r\n\r\n", 5);
			gz->plen += 5;
		}
	}
	return 0;
}

int
gz_feed(struct gz_stream *gz, const void *in, size_t inlen, void *out,
    size_t outcap, size_t *consumed, size_t *produced, int finish)
{
	const unsigned char	*ip = in;
	unsigned char		*op = out;
	size_t			 n, used;

	*consumed = *produced = 0;
	if (!gz->inited)
		return -1;
	for (;;) {
		n = MTD_MIN(gz->plen - gz->poff, outcap - *produced);
		memcpy(op + *produced, gz->pend + gz->poff, n);
		gz->poff += (uint32_t)n;
		*produced += n;
		if (gz->poff < gz->plen)
			return 0;	/* out is full */
		gz->poff = gz->plen = 0;
		if (gz->ended)
			return 1;
		if (*consumed == inlen && !finish)
			return 0;	/* deflate holds the rest */
		used = *consumed;
		if (gz_stage(gz, ip + used, inlen - used, consumed,
		    finish) == -1)
			return -1;
		if (gz->plen > GZ_HDR_ROOM || gz->ended)
			continue;
		/* Nothing came out: deflate wants more input. */
		if (*consumed == inlen && !finish)
			return 0;
		if (*consumed == used)
			return -1;	/* no progress: cannot happen */
	}
}

/*
 * Negotiation
 */

/* Is the q parameter value <v>/<len> zero ("0", "0.", "0.000")? */
static int
q_is_zero(const char *v, size_t len)
{
	size_t	 i;

	if (len == 0 || v[0] != '0')
		return 0;
	for (i = 1; i < len; i++)
		if (v[i] != '.' && v[i] != '0')
			return 0;
	return 1;
}

/* The q of one list member <p>/<len> ("gzip;q=0.5"): 0 or 1 (> 0). */
static int
member_q(const char *p, size_t len)
{
	const char	*semi, *end = p + len, *v;

	while ((semi = memchr(p, ';', (size_t)(end - p))) != NULL) {
		p = semi + 1;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=')
			continue;
		v = p + 2;
		for (p = v; p < end && *p != ';' && *p != ' ' && *p != '\t';
		    p++)
			;
		return !q_is_zero(v, (size_t)(p - v));
	}
	return 1;
}

/* One Accept-Encoding value: update the gzip and "*" verdicts. */
static void
scan_accept(const struct http_str *v, int *gzip_q, int *star_q)
{
	const char	*p = v->p, *end = v->p + v->len, *m, *tok;
	size_t		 tlen;

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		m = p;
		while (p < end && *p != ',')
			p++;
		tok = m;
		for (tlen = 0; tok + tlen < p && tok[tlen] != ';' &&
		    tok[tlen] != ' ' && tok[tlen] != '\t'; tlen++)
			;
		if ((tlen == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
		    (tlen == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
			*gzip_q = member_q(m, (size_t)(p - m));
		else if (tlen == 1 && tok[0] == '*')
			*star_q = member_q(m, (size_t)(p - m));
	}
}

/*
 * Cache hits compress a whole body at once. The deflate state (about
 * 256 KB) is made on first use and reset for each body, so a hit pays
 * for compressing, not for allocating and clearing zlib's tables anew.
 */
ssize_t
gz_compress(const void *in, size_t len, int level, char **out)
{
	static z_stream	 zs;
	static int	 zs_level = -1;
	uLong		 bound;
	char		*buf;

	if (len > UINT_MAX / 2)
		return -1;
	if (zs_level == -1) {
		if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8,
		    Z_DEFAULT_STRATEGY) != Z_OK)
			return -1;
		zs_level = level;
	} else if (deflateReset(&zs) != Z_OK)
		return -1;
	if (level != zs_level && deflateParams(&zs, level,
	    Z_DEFAULT_STRATEGY) == Z_OK)
		zs_level = level;
	bound = deflateBound(&zs, (uLong)len);
	if ((buf = malloc(bound)) == NULL)
		return -1;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)buf;
	zs.avail_out = (uInt)bound;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		free(buf);
		return -1;
	}
	*out = buf;
	return (ssize_t)(bound - zs.avail_out);
}

int
gz_no_transform(const struct http_str *cache_control)
{
	struct http_list	 it;
	struct http_str		 e;

	http_list_init(&it, *cache_control);
	while (http_list_next(&it, &e))
		if (e.len == 12 && strncasecmp(e.p, "no-transform", 12) == 0)
			return 1;
	return 0;
}

int
gz_accepts(const struct http_request *req)
{
	int	 i, gzip_q = -1, star_q = -1;

	for (i = 0; i < req->nheaders; i++)
		if (req->headers[i].name.len == 15 &&
		    strncasecmp(req->headers[i].name.p, "accept-encoding",
		    15) == 0)
			scan_accept(&req->headers[i].value, &gzip_q, &star_q);
	return gzip_q == 1 || (gzip_q == -1 && star_q == 1);
}

int
gz_type_matches(const char *ctype, size_t len)
{
	const char	*t;
	size_t		 n, tl;
	int		 i;

	for (n = 0; n < len && ctype[n] != ';' && ctype[n] != ' ' &&
	    ctype[n] != '\t'; n++)
		;
	for (i = 0; i < wconf->ngzip_types; i++) {
		t = wconf->gzip_types[i];
		tl = strlen(t);
		if (strcmp(t, "*/*") == 0)
			return 1;
		if (tl >= 2 && t[tl - 1] == '*' && t[tl - 2] == '/') {
			if (n > tl - 1 && strncasecmp(ctype, t, tl - 1) == 0)
				return 1;
		} else if (n == tl && strncasecmp(ctype, t, n) == 0)
			return 1;
	}
	return 0;
}

int
gz_wanted(const struct conn *c, const char *ctype, size_t len,
    int64_t length, int *vary)
{
	*vary = 0;
	if (!wconf->gzip_on || !gz_type_matches(ctype, len))
		return 0;
	if (length >= 0 && (uint64_t)length < wconf->gzip_min_length)
		return 0;
	*vary = 1;
	return gz_accepts(&c->r->req);
}

/*
 * The file sender (CS_HANDLER)
 */

struct gzf {
	struct conn	*c;
	struct ev_timer	 kick;		/* first run, outside the dispatch */
	int		 fd;
	int		 eof, done;
	uint64_t	 left;		/* file bytes not read yet */
	uint32_t	 ioff, ilen;
	struct gz_stream gz;
	char		 in[GZF_IN_SIZE];
};

static void	gzf_event(struct conn *, uint32_t);
static void	gzf_timeout(struct conn *);
static void	gzf_abort(struct conn *);

static const struct handler_ops gzf_ops = {
	gzf_event, gzf_timeout, gzf_abort,
};

/* Refill c->r->out (empty) with the next compressed piece. 0 or -1. */
static int
gzf_fill(struct gzf *g)
{
	struct conn	*c = g->c;
	size_t		 cons, prod;
	ssize_t		 n;
	int		 rc;

	c->out_off = c->out_len = 0;
	while (c->out_len == 0 && !g->done) {
		if (g->ioff == g->ilen && !g->eof) {
			n = read(g->fd, g->in, MTD_MIN(sizeof(g->in), g->left));
			if (n == -1 && errno == EINTR)
				continue;
			/*
			 * Cut short (the file shrank as it was sent): a
			 * stream ended here would look complete.
			 */
			if (n == -1 || (n == 0 && g->left > 0))
				return -1;
			g->ioff = 0;
			g->ilen = (uint32_t)n;
			g->left -= (uint64_t)n;
			g->eof = g->left == 0;
		}
		rc = gz_feed(&g->gz, g->in + g->ioff, g->ilen - g->ioff,
		    c->r->out, CONN_OUT_SIZE, &cons, &prod, g->eof);
		if (rc == -1)
			return -1;
		g->ioff += (uint32_t)cons;
		c->out_len = (uint32_t)prod;
		g->done = rc == 1;
	}
	return 0;
}

/* Send what is in c->r->out, refill, until EAGAIN or the end. */
static void
gzf_run(struct gzf *g)
{
	struct conn	*c = g->c;
	ssize_t		 n;

	for (;;) {
		if (c->out_off < c->out_len) {
			if (!c->writable)
				return;
			n = conn_io_send(c, c->r->out + c->out_off,
			    c->out_len - c->out_off, 0);
			if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
				conn_write_blocked(c);
				return;
			}
			if (n <= 0) {
				conn_handler_fail(c);
				return;
			}
			c->out_off += (uint32_t)n;
			c->bytes_out += (uint64_t)n;
			ev_timer_set(&c->timer,
			    (uint64_t)wconf->client_timeout_ms);
			continue;
		}
		if (g->done) {
			conn_handler_done(c);	/* frees <g> */
			return;
		}
		if (gzf_fill(g) == -1) {
			conn_handler_fail(c);
			return;
		}
	}
}

static void
gzf_event(struct conn *c, uint32_t events)
{
	if (events & (EPOLLHUP | EPOLLERR)) {
		conn_handler_fail(c);
		return;
	}
	gzf_run(c->handler);
}

static void
gzf_timeout(struct conn *c)
{
	if (conn_client_draining(c))
		return;
	conn_handler_fail(c);	/* slow client */
}

static void
gzf_abort(struct conn *c)
{
	struct gzf	*g = c->handler;

	if (g == NULL)
		return;
	ev_timer_del(&g->kick);
	gz_free(&g->gz);
	if (g->fd != -1)
		close(g->fd);
	free(g);
	c->handler = NULL;
}

static void
gzf_kick(struct ev_timer *t)
{
	struct gzf	*g = (struct gzf *)((char *)t -
	    offsetof(struct gzf, kick));

	gzf_run(g);
}

void
gzip_send_file(struct conn *c, int fd, uint64_t size)
{
	struct gzf	*g;

	if ((g = malloc(sizeof(*g))) == NULL ||
	    gz_init(&g->gz, wconf->gzip_level, c->r->req.minor >= 1) == -1) {
		free(g);
		close(fd);
		resp_error(c, 503, NULL);
		return;
	}
	g->c = c;
	g->fd = fd;
	g->eof = size == 0;
	g->done = 0;
	g->left = size;
	g->ioff = g->ilen = 0;
	if (c->r->req.minor == 0)
		c->keep_alive = 0;	/* the end of the body is the close */
	c->hops = &gzf_ops;
	c->handler = g;
	c->state = CS_HANDLER;
	ev_timer_set(&c->timer, (uint64_t)wconf->client_timeout_ms);
	/* Not from here: our caller still holds <c>. */
	ev_timer_init(&g->kick, gzf_kick);
	ev_timer_set(&g->kick, 0);
}

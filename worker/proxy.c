/*
 * Reverse proxy handler. One struct proxy per proxied request, recycled
 * through a free list; its buffer first holds the request head rewritten
 * for the backend, then the response on its way to the client (read from
 * the backend only once the client has taken the previous bytes). The
 * request body travels through the connection's own input buffer.
 * Callbacks from the upstream socket never end the client connection
 * themselves: they arm a zero timer ("kick") and the end happens from
 * the timer, outside the event batch.
 */
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend.h"
#include "bqueue.h"
#include "conn.h"
#include "ev.h"
#include "freelist.h"
#include "gzip.h"
#include "http.h"
#include "httpdate.h"
#include "log.h"
#include "pcache.h"
#include "proxy.h"
#include "request.h"
#include "shm.h"
#include "stats.h"
#include "splice.h"
#include "spool.h"
#include "sticky.h"
#include "upstream.h"
#include "worker.h"

#define PX_BUF_SIZE	(32 * 1024)
#define PX_MAX_TRIES	3
#define PX_MAX_STALE	2	/* pooled connections found dead, per req */
#define PX_FREE_MAX	256	/* exchanges kept for reuse */
#define PX_FREE_KEEP	16	/* ...and never given back */
#define PX_MAX_TOKENS	16	/* names listed in Connection */
/*
 * Bodies with at least this much left after the first read are spliced
 * (backend socket -> pipe -> client socket) rather than copied: below
 * it the pipe's extra syscalls cost more than the copies they save.
 */
#define PX_SPLICE_MIN	(16 * 1024)
/*
 * The first read of a response takes at most this much when its body
 * may go by splice: what the head's read takes of the body is copied
 * twice (recv, then send), which was a third of a 100 KB body with a
 * read of PX_BUF_SIZE. A body that will not be spliced fills the rest
 * of buf with one more read before anything is sent (px_top_up_due).
 */
#define PX_HEAD_READ	(4 * 1024)

enum px_phase {
	PX_CONNECT,	/* non-blocking connect in progress */
	PX_RELAY,	/* request out, response back */
	PX_TUNNEL,	/* after 101: bytes both ways */
	PX_ERROR,	/* sending an error response held in out[] */
	PX_WAIT,	/* another request fills the cache for this key */
	PX_SEND,	/* sending a cached answer: out[], then pc.body */
	PX_BODY,	/* reading a small body whole before connecting */
	PX_QUEUE,	/* every slot of the backend taken: waiting in line */
};

enum px_step {
	STEP_WAIT,	/* blocked: wait for events */
	STEP_PHASE,	/* phase changed: run the new one */
	STEP_STOP,	/* the request is over (the proxy may be freed) */
};

struct proxy {
	void			*link;		/* the free list's, while unused */
	struct conn		*c;
	struct upstream		*up;
	int			 backend;	/* -1: none yet */
	uint64_t		 tried;		/* backends that failed */
	int			 ntries, nstale;
	int			 sticky;	/* backend the cookie named, -1 */
	int			 slot;		/* backend whose slot we hold, -1 */
	struct bq_waiter	 queue;		/* in line for px->backend */
	uint8_t			 phase;		/* enum px_phase */
	uint8_t			 may_end:1, pending_end:2, kick:1,
				 timed_out:1, moved:1, wait_client:1,
				 fresh:1;

	/*
	 * Request: head in buf[hoff, hlen), body in r->in[bsend, bend). A
	 * chunked body is decoded as it comes and sent in our own framing:
	 * fpre[fpre_off, fpre_len) before those bytes, fpost[...] after.
	 */
	uint32_t		 hoff, hlen;
	uint32_t		 bsend, bend;
	char			 fpre[20], fpost[8];
	uint8_t			 fpre_off, fpre_len, fpost_off, fpost_len;
	uint64_t		 req_left;	/* Content-Length still to read */
	struct http_chunked	 req_ch;
	uint8_t			 req_complete:1, req_sent:1, req_abandon:1,
				 body_dropped:1, sent_100:1, early_tried:1,
				 client_gone:1, cut:1,
				 tun_ceof:1, tun_beof:1; /* half-closed */

	/*
	 * Response: buf[roff, rlen) goes to the client after out[]. A
	 * relayed chunked body's trailer section waits whole in buf[rlen,
	 * rlen + thold) to be filtered before it goes on.
	 */
	uint32_t		 roff, rlen, thold;
	uint64_t		 head_by;	/* ev_now_ms() deadline, 0 unset */
	uint64_t		 resp_left;
	struct http_chunked	 resp_ch;
	uint8_t			 resp_kind;	/* enum http_body */
	uint8_t			 resp_byte:1, resp_head:1, resp_done:1,
				 reusable:1, dechunk:1, vary:1, gz_done:1;
	/* gzip: buf[roff, rlen) is identity body deflate has not taken. */
	struct gz_stream	*gz;
	/* Splicing: the rest of the body goes through this pipe. */
	struct splice_pipe	*sp;
	/*
	 * Body bytes a slow client was not ready for while the backend
	 * had more: they go out after out[] and before buf[roff, rlen) or
	 * the pipe, and the backend is freed at its own pace (nginx's
	 * proxy_buffering).
	 */
	struct spool		 spool;

	struct pcache		 pc;		/* response cache state */
	char			 buf[PX_BUF_SIZE];
};

/*
 * The names the Connection fields list. Past PX_MAX_TOKENS, the fields
 * themselves (<h>, <nh>) are read again for each name asked about.
 */
struct tokens {
	struct http_str			 t[PX_MAX_TOKENS];
	int				 n, overflow;
	const struct http_header	*h;
	int				 nh;
};

/* Output into a fixed buffer; <err> once anything did not fit. */
struct ob {
	char	*p;
	size_t	 len, cap;
	int	 err;
};

static struct backend_table	*bt;	/* this generation's, see proxy_init */
static struct freelist		 px_pool;
static struct http_response	 resp_scratch;	/* parsed, used at once */

static void	proxy_event(struct conn *, uint32_t);
static void	proxy_timeout(struct conn *);
static void	proxy_abort(struct conn *);
static void	px_run(struct proxy *, int);
static int	px_open(struct proxy *, int);
static int	px_send_begin(struct proxy *);
static void	px_up_event(struct upstream *, uint32_t);
static void	px_kick(struct proxy *);

static const struct handler_ops proxy_ops = {
	proxy_event,
	proxy_timeout,
	proxy_abort,
};

/*
 * Not on the first request: by then a reload may have made another
 * table current, one filled for a configuration this worker does not
 * have, and the master would not know this worker uses it.
 */
void
proxy_init(void)
{
	if ((wconf->nbackends > 0 || wconf->backends_path[0] != '\0') &&
	    shm != NULL)
		bt = shm_backends();
	bqueue_init(wconf->backend_max_conns);
}

int
proxy_enabled(void)
{
	/* A backends file with none in it still means "proxy": 503. */
	return bt != NULL && (backend_count(bt) > 0 ||
	    wconf->backends_path[0] != '\0');
}

/* Small helpers. */

static int
name_is(const struct http_str *n, const char *s, size_t len)
{
	return n->len == len && strncasecmp(n->p, s, len) == 0;
}
#define NAME_IS(n, lit)	name_is((n), (lit), sizeof(lit) - 1)

static void
ob_put(struct ob *ob, const void *p, size_t len)
{
	if (len > ob->cap - ob->len) {
		ob->err = 1;
		return;
	}
	memcpy(ob->p + ob->len, p, len);
	ob->len += len;
}
#define OB_LIT(ob, lit)	ob_put((ob), (lit), sizeof(lit) - 1)

static void
ob_str(struct ob *ob, const struct http_str *s)
{
	ob_put(ob, s->p, s->len);
}

static void
ob_cstr(struct ob *ob, const char *s)
{
	ob_put(ob, s, strlen(s));
}

static void
ob_header(struct ob *ob, const struct http_header *h)
{
	ob_str(ob, &h->name);
	OB_LIT(ob, ": ");
	ob_str(ob, &h->value);
	OB_LIT(ob, "\r\n");
}

/* Collect the names listed in the Connection fields of <h>. */
static void
tokens_collect(struct tokens *tk, const struct http_header *h, int n)
{
	const char	*p, *end, *s;
	int		 i;

	tk->n = tk->overflow = 0;
	tk->h = h;
	tk->nh = n;
	for (i = 0; i < n; i++) {
		if (!NAME_IS(&h[i].name, "Connection"))
			continue;
		p = h[i].value.p;
		end = p + h[i].value.len;
		while (p < end) {
			while (p < end && (*p == ',' || *p == ' ' ||
			    *p == '\t'))
				p++;
			for (s = p; p < end && *p != ',' && *p != ' ' &&
			    *p != '\t'; p++)
				;
			if (p == s)
				continue;
			if (tk->n == PX_MAX_TOKENS) {
				tk->overflow = 1;
				return;
			}
			tk->t[tk->n].p = s;
			tk->t[tk->n].len = (size_t)(p - s);
			tk->n++;
		}
	}
}

/* Whether some Connection field of <tk> lists <name>: the long way. */
static int
tokens_listed(const struct tokens *tk, const struct http_str *name)
{
	struct http_list	 it;
	struct http_str		 e;
	int			 i;

	for (i = 0; i < tk->nh; i++) {
		if (!NAME_IS(&tk->h[i].name, "Connection"))
			continue;
		http_list_init(&it, tk->h[i].value);
		while (http_list_next(&it, &e))
			if (e.len > 0 && name_is(name, e.p, e.len))
				return 1;
	}
	return 0;
}

static int
tokens_has(const struct tokens *tk, const struct http_str *name)
{
	int	 i;

	if (tk->overflow)
		return tokens_listed(tk, name);
	for (i = 0; i < tk->n; i++)
		if (name_is(name, tk->t[i].p, tk->t[i].len))
			return 1;
	return 0;
}

/*
 * Hop-by-hop fields (RFC 9110 7.6.1) and those the Connection field
 * names; the framing fields are never dropped that way, so a
 * "Connection: Content-Length" cannot change where a message ends.
 */
static int
hop_by_hop(const struct http_str *n, const struct tokens *tk)
{
	if (NAME_IS(n, "Connection") || NAME_IS(n, "Keep-Alive") ||
	    NAME_IS(n, "Proxy-Connection") || NAME_IS(n, "TE") ||
	    NAME_IS(n, "Trailer") || NAME_IS(n, "Upgrade"))
		return 1;
	if (tk->n == 0 || NAME_IS(n, "Content-Length") ||
	    NAME_IS(n, "Transfer-Encoding") || NAME_IS(n, "Host"))
		return 0;
	return tokens_has(tk, n);
}

static int
idempotent(enum http_method m)
{
	switch (m) {
	case HTTP_M_GET:
	case HTTP_M_HEAD:
	case HTTP_M_PUT:
	case HTTP_M_DELETE:
	case HTTP_M_OPTIONS:
	case HTTP_M_TRACE:
		return 1;
	default:
		return 0;
	}
}

static const char *
px_name(struct proxy *px)
{
	const struct backend_slot	*s = backend_get(bt, px->backend);

	return s != NULL ? s->name : "?";
}

/* Allocation: a free list, so the hot path neither maps nor faults. */

static struct proxy *
px_alloc(void)
{
	struct proxy	*px;

	if (px_pool.size == 0)
		freelist_init(&px_pool, sizeof(*px), PX_FREE_MAX, PX_FREE_KEEP);
	if ((px = freelist_get(&px_pool)) == NULL)
		return NULL;
	/* Everything before the buffer. */
	memset(px, 0, offsetof(struct proxy, buf));
	px->backend = -1;
	px->sticky = -1;
	px->slot = -1;
	bqueue_waiter_init(&px->queue);
	spool_init(&px->spool, wconf->proxy_buffer_max, "proxy");
	return px;
}

/*
 * Give back the backend slot this request holds, or its place in line.
 * A slot given back goes to the oldest request waiting for it, which
 * is woken to open its connection.
 */
static void
px_slot_put(struct proxy *px)
{
	struct bq_waiter	*w;
	struct proxy		*next;
	int			 b = px->slot;

	bqueue_cancel(&px->queue);
	if (b < 0)
		return;
	px->slot = -1;
	if ((w = bqueue_release(b)) == NULL)
		return;
	next = (struct proxy *)((char *)w - offsetof(struct proxy, queue));
	next->slot = b;
	px_kick(next);
}

static void
px_free(struct proxy *px)
{
	px_slot_put(px);
	pcache_end(&px->pc);
	spool_free(&px->spool);
	if (px->sp != NULL) {
		splice_pipe_put(px->sp);
		px->sp = NULL;
	}
	if (px->gz != NULL) {
		gz_free(px->gz);
		free(px->gz);
		px->gz = NULL;
	}
	freelist_put(&px_pool, px);
}

/* Done with the connection; the backend slot stays ours. */
static void
px_put_conn(struct proxy *px, int reuse)
{
	if (px->up == NULL)
		return;
	upstream_put(px->up, reuse);
	px->up = NULL;
	backend_conn_end(bt, px->backend);
}

/* Done with the backend: its connection and its slot. */
static void
px_drop_upstream(struct proxy *px, int reuse)
{
	px_put_conn(px, reuse);
	px_slot_put(px);
}

/* Ending: never from an upstream callback (see the file comment). */

static void
px_kick(struct proxy *px)
{
	px->kick = 1;
	ev_timer_set(&px->c->timer, 0);
}

/*
 * Whether the client learns where the answer it is getting ends from the
 * close alone: a close-delimited body, or one we decode or compress for
 * HTTP/1.0. Cut short for any reason (the backend failed, the client
 * was too slow), such an answer must end with a reset, or a plain close
 * would say "complete".
 */
static int
px_close_frames(const struct proxy *px)
{
	return px->phase == PX_RELAY && px->resp_head &&
	    (px->resp_kind == HTTP_BODY_CLOSE || (px->c->r->req.minor == 0 &&
	    (px->dechunk || px->gz != NULL)));
}

static int
px_end(struct proxy *px, int ok)
{
	struct conn	*c = px->c;

	if (!px->may_end) {
		px->pending_end = ok ? 1 : 2;
		px_kick(px);
		return STEP_STOP;
	}
	px_drop_upstream(px, 0);
	if (ok)
		conn_handler_done(c);
	else if (px->cut || px_close_frames(px))
		conn_handler_reset(c);
	else
		conn_handler_fail(c);
	return STEP_STOP;
}

/*
 * Warn about backend <i> (<name>): at most a line a second for each,
 * since a failing backend fails every request sent to it.
 */
static void
px_warn_backend(int i, const char *name, const char *why)
{
	static struct log_limit	 lim[MTD_MAX_BACKENDS + 1];

	if (i < 0 || i >= MTD_MAX_BACKENDS)
		i = MTD_MAX_BACKENDS;
	log_warnx_limited(&lim[i], "upstream %s: %s", name, why);
}

static void
px_warn(struct proxy *px, const char *why)
{
	px_warn_backend(px->backend, px_name(px), why);
}

/*
 * A failure after response bytes reached the client: close it (reset
 * it where the close frames the answer, see px_close_frames()).
 */
static int
px_fail_mid(struct proxy *px, const char *why)
{
	px_warn(px, why);
	px_drop_upstream(px, 0);
	return px_end(px, 0);
}

/* A read of the body returned <n> (0 or -1, errno set): say which. */
static int
px_fail_body(struct proxy *px, ssize_t n)
{
	char	 why[96];

	snprintf(why, sizeof(why), "%s in the middle of the response body",
	    n == 0 ? "closed" : strerror(errno));
	return px_fail_mid(px, why);
}

/*
 * Whether the connection outlives our own error answer: as nginx, after
 * a gateway error (no backend up, none reachable, a bad or late answer)
 * when the request was read whole, so that the next one (pipelined
 * perhaps) starts where it ended; and after what resp_error() keeps.
 * A body still coming (the 408 and 413 among them) closes.
 */
static int
px_error_keeps_alive(struct proxy *px, int status)
{
	struct conn			*c = px->c;
	const struct http_request	*req = &c->r->req;

	if (status < 502 || status > 504) {
		c->keep_alive = 0;	/* the body may be partly read */
		return 0;
	}
	if (req->body == HTTP_BODY_NONE)
		return 1;	/* head_len already ends the request */
	if (px->req_complete) {
		c->head_len = px->bend;
		return 1;
	}
	/* Read whole (PX_BODY), then no backend: px_req_scan() never ran. */
	if (req->body == HTTP_BODY_LENGTH && px->bend == 0 &&
	    c->in_len - c->head_len >= req->content_length) {
		c->head_len += (uint32_t)req->content_length;
		return 1;
	}
	return 0;
}

/* Answer <status> ourselves (nothing of the response was sent yet). */
static int
px_error(struct proxy *px, int status, const char *why)
{
	struct conn	*c = px->c;
	char		 extra[128];
	int		 n;

	if (why != NULL && px->backend >= 0)
		px_warn(px, why);
	px_drop_upstream(px, 0);
	/* Part of an interim answer is out: no clean place for ours. */
	if (px->resp_head || (c->out_off > 0 && c->out_off < c->out_len))
		return px_end(px, 0);
	if (status >= 502 && status <= 504 && pcache_stale(&px->pc, c,
	    px->buf, PX_BUF_SIZE) == PCACHE_HIT)
		return px_send_begin(px);
	/* Still a proxied answer: it says how the cache saw it. */
	n = pcache_fields(&px->pc, extra, sizeof(extra) - 1);
	extra[n > 0 ? n : 0] = '\0';
	resp_error_keep(c, status, extra, px_error_keeps_alive(px, status));
	c->state = CS_HANDLER;
	px->phase = PX_ERROR;
	px->moved = 1;
	return STEP_PHASE;
}

/* An answer other than a 5xx: the backend's requests went well. */
static void
px_health_ok(struct proxy *px, int status)
{
	if (status < 500)
		backend_report_passive(bt, px->backend, 1, NULL);
}

/* The retry budget ran out: say so, at most every 10 s per worker. */
static void
budget_spent_warn(void)
{
	static uint64_t	 last;
	uint64_t	 now = ev_now_ms();

	if (last != 0 && now - last < 10000)
		return;
	last = now;
	log_warnx("retry budget exhausted: failing requests without retry");
}

/* Give up on this backend for this request; try another one. */
static int
px_retry(struct proxy *px)
{
	int	 max = MTD_MIN(backend_count(bt), PX_MAX_TRIES);

	px_drop_upstream(px, 0);
	px->tried |= 1ULL << px->backend;
	px->ntries++;
	px->fresh = 0;
	if (px->ntries >= max)
		return px_error(px, 502, NULL);
	if (!backend_retry_spend(bt)) {
		budget_spent_warn();
		return px_error(px, 502, NULL);
	}
	return px_open(px, 1);
}

static int
px_connect_fail(struct proxy *px, const char *why)
{
	px_warn(px, why);
	backend_report_passive(bt, px->backend, 0, why);
	return px_retry(px);
}

/*
 * The connection failed after connect and before any response byte.
 * A pooled connection the backend had closed is replaced by a fresh
 * one to the same backend; otherwise another backend is tried. Either
 * way only when the request can be sent again as it was.
 */
static int
px_early_fail(struct proxy *px, const char *why)
{
	int	 stale = px->up != NULL && px->up->nreq > 0;

	/*
	 * A pooled connection may have been closed by the backend while
	 * idle: normal keep-alive wear. A fresh one closed before any
	 * answer is a failure of the backend (nginx counts it too), or a
	 * backend that accepts and drops everything would never go down.
	 */
	if (!stale)
		backend_report_passive(bt, px->backend, 0, why);
	if (!idempotent(px->c->r->req.method) || px->body_dropped)
		return px_error(px, 502, why);
	if (stale && px->nstale < PX_MAX_STALE) {
		px->nstale++;
		px_put_conn(px, 0);	/* and try again in our slot */
		px->fresh = 1;
		return px_open(px, 0);
	}
	px_warn(px, why);
	return px_retry(px);
}

/*
 * A request filling the cache asks for the whole, current object: its
 * validators and ranges are the client's business, answered from what
 * is stored (a 304 or 206 from the backend could not be stored, and
 * would send every collapsed waiter to the backend). nginx drops the
 * same fields when it fetches for its cache.
 */
static int
px_cache_drops(const struct http_str *name)
{
	return NAME_IS(name, "If-None-Match") ||
	    NAME_IS(name, "If-Modified-Since") ||
	    NAME_IS(name, "If-Match") ||
	    NAME_IS(name, "If-Unmodified-Since") ||
	    NAME_IS(name, "If-Range") || NAME_IS(name, "Range");
}

/* The client's fields, less hop-by-hop ones and those we set ourselves. */
static void
px_copy_fields(struct ob *ob, const struct http_request *req, int filling,
    int absolute)
{
	const struct http_header	*h;
	struct tokens			 tk;
	int				 i;

	tokens_collect(&tk, req->headers, req->nheaders);
	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		if (hop_by_hop(&h->name, &tk) ||
		    NAME_IS(&h->name, "Expect") ||
		    NAME_IS(&h->name, "X-Forwarded-For") ||
		    NAME_IS(&h->name, "X-Forwarded-Proto") ||
		    NAME_IS(&h->name, "X-Forwarded-Host") ||
		    NAME_IS(&h->name, "X-Real-IP") ||
		    NAME_IS(&h->name, "Content-Length") ||
		    NAME_IS(&h->name, "Transfer-Encoding") ||
		    /* Ours replaces it: the target's, or the backend's. */
		    ((absolute || req->host.len == 0) &&
		    NAME_IS(&h->name, "Host")) ||
		    (filling && px_cache_drops(&h->name)))
			continue;
		else
			ob_header(ob, h);
	}
}

/* X-Forwarded-For (appended to the client's), X-Real-IP, -Proto, -Host. */
static void
px_forwarded_fields(struct ob *ob, const struct conn *c)
{
	const struct http_request	*req = &c->r->req;
	const struct http_header	*h;
	char				 ip[64];
	int				 i;

	conn_peer_str(c, ip, sizeof(ip));
	OB_LIT(ob, "X-Forwarded-For: ");
	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		if (NAME_IS(&h->name, "X-Forwarded-For") && h->value.len > 0) {
			ob_str(ob, &h->value);
			OB_LIT(ob, ", ");
		}
	}
	ob_cstr(ob, ip);
	OB_LIT(ob, "\r\nX-Real-IP: ");
	ob_cstr(ob, ip);
	if (c->ssl != NULL)
		OB_LIT(ob, "\r\nX-Forwarded-Proto: https\r\n");
	else
		OB_LIT(ob, "\r\nX-Forwarded-Proto: http\r\n");
	if (req->host.len > 0) {
		OB_LIT(ob, "X-Forwarded-Host: ");
		ob_str(ob, &req->host);
		OB_LIT(ob, "\r\n");
	}
}

/*
 * "GET http://a/x" goes on as "GET /x" with "Host: a": the target's
 * authority wins over Host (RFC 9112 3.2.2), and a backend must not see
 * the two disagree. "OPTIONS http://a" goes on as "OPTIONS *".
 */
static void
px_request_line(struct ob *ob, const struct http_request *req,
    int absolute)
{
	ob_str(ob, &req->method_str);
	OB_LIT(ob, " ");
	if (http_target_options_star(req))
		OB_LIT(ob, "*");
	else if (absolute) {
		if (req->path.len == 0)
			OB_LIT(ob, "/");
		ob_str(ob, &req->path);
		if (req->query.len > 0) {
			OB_LIT(ob, "?");
			ob_str(ob, &req->query);
		}
	} else
		ob_str(ob, &req->target);
	OB_LIT(ob, " HTTP/1.1\r\n");
}

/* Request head for the backend, into px->buf. 0, or -1 if too big. */
static int
px_build_request(struct proxy *px)
{
	struct conn		*c = px->c;
	struct http_request	*req = &c->r->req;
	struct ob		 ob = { px->buf, 0, PX_BUF_SIZE, 0 };
	char			 num[24];
	int			 absolute = http_target_absolute(req);

	px_request_line(&ob, req, absolute);
	px_copy_fields(&ob, req, px->pc.fill.active, absolute);
	if (req->host.len == 0) {
		OB_LIT(&ob, "Host: ");
		ob_cstr(&ob, px_name(px));
		OB_LIT(&ob, "\r\n");
	} else if (absolute) {
		OB_LIT(&ob, "Host: ");
		ob_str(&ob, &req->host);
		OB_LIT(&ob, "\r\n");
	}
	/*
	 * One plain Content-Length, however the client wrote it; "chunked"
	 * in lower case, however it did (the only coding the parser lets
	 * through), for a backend that would compare it case by case.
	 */
	if (req->body == HTTP_BODY_CHUNKED)
		OB_LIT(&ob, "Transfer-Encoding: chunked\r\n");
	else if (req->body == HTTP_BODY_LENGTH) {
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)req->content_length);
		OB_LIT(&ob, "Content-Length: ");
		ob_cstr(&ob, num);
		OB_LIT(&ob, "\r\n");
	} else if (req->body == HTTP_BODY_NONE && http_header_get(req->headers,
	    req->nheaders, "Content-Length") != NULL)
		OB_LIT(&ob, "Content-Length: 0\r\n");
	px_forwarded_fields(&ob, c);
	/* The one protocol offered, whatever else the client listed. */
	if (req->upgrade)
		OB_LIT(&ob, "Upgrade: websocket\r\nConnection: upgrade\r\n");
	OB_LIT(&ob, "\r\n");
	if (ob.err)
		return -1;
	px->hoff = 0;
	px->hlen = (uint32_t)ob.len;
	return 0;
}

/*
 * The framing around <n> decoded bytes of a chunked request body, the
 * last chunk after them once the body is complete. Whatever the client
 * wrote (leading zeros, extensions, trailers, any of which a backend's
 * parser might read another way), the backend gets plain hex sizes.
 */
static void
px_req_frame(struct proxy *px, size_t n)
{
	static const char	 last[] = "0\r\n\r\n";
	int			 k;

	px->fpre_off = px->fpost_off = 0;
	px->fpre_len = px->fpost_len = 0;
	if (n > 0) {
		k = snprintf(px->fpre, sizeof(px->fpre), "%zx\r\n", n);
		px->fpre_len = (uint8_t)k;
		memcpy(px->fpost, "\r\n", 2);
		px->fpost_len = 2;
	}
	if (px->req_complete) {
		memcpy(px->fpost + px->fpost_len, last, sizeof(last) - 1);
		px->fpost_len += sizeof(last) - 1;
	}
}

/*
 * Account <n> new body bytes of the request at r->in + <off>, already
 * counted in c->in_len. 0, -1 bad chunked framing, -2 a chunked body
 * past client_max_body_size.
 */
static int
px_req_scan(struct proxy *px, uint32_t off, size_t n)
{
	struct conn	*c = px->c;
	size_t		 used, out;
	int		 rc;

	switch (c->r->req.body) {
	case HTTP_BODY_LENGTH:
		used = MTD_MIN((uint64_t)n, px->req_left);
		px->req_left -= used;
		px->bend = off + (uint32_t)used;
		px->req_complete = px->req_left == 0;
		return 0;
	case HTTP_BODY_CHUNKED:
		rc = http_chunked_decode(&px->req_ch, c->r->in + off, n, &used,
		    &out);
		if (rc == -1)
			return -1;
		if (wconf->client_max_body > 0 &&
		    px->req_ch.total > wconf->client_max_body)
			return -2;
		/* A pipelined next request follows the decoded bytes. */
		memmove(c->r->in + off + out, c->r->in + off + used, n - used);
		c->in_len -= (uint32_t)(used - out);
		px->bend = off + (uint32_t)out;
		px->req_complete = rc == 1;
		px_req_frame(px, out);
		return 0;
	default:
		px->bend = off;
		px->req_complete = 1;
		return 0;
	}
}

/*
 * Reading the spool back gave <n> (0: the file is shorter than what was
 * written to it): the answer cannot be whole. -1.
 */
static int
px_spool_lost(struct proxy *px, ssize_t n)
{
	log_warnx("proxy: read back from temp_dir %s: %s", wconf->temp_dir,
	    n == 0 ? "file cut short" : strerror(errno));
	px->cut = 1;	/* the answer is not whole */
	return -1;
}

/*
 * gzip: out[] is empty; deflate the next identity bytes into it, ending
 * the stream once the body is complete. The spool holds identity bytes
 * older than buf[roff, rlen) (see px_spool_take): they go first. 1 when
 * there is nothing more to send for now (or ever), 0 when out[] was
 * refilled or input taken, -1 error.
 */
static int
px_gz_pump(struct proxy *px)
{
	struct conn	*c = px->c;
	char		 in[16 * 1024];
	const char	*src = px->buf + px->roff;
	size_t		 len = px->rlen - px->roff, cons, prod;
	ssize_t		 n;
	int		 rc, spooled = spool_pending(&px->spool);

	if (px->gz_done || (!spooled && len == 0 && !px->resp_done))
		return 1;
	if (spooled) {
		if ((n = spool_peek(&px->spool, in, sizeof(in))) <= 0)
			return px_spool_lost(px, n);
		src = in;
		len = (size_t)n;
	}
	c->out_off = c->out_len = 0;
	rc = gz_feed(px->gz, src, len, c->r->out, CONN_OUT_SIZE, &cons,
	    &prod, !spooled && px->resp_done);
	if (rc == -1)
		return -1;
	if (spooled)
		spool_done(&px->spool, cons);
	else
		px->roff += (uint32_t)cons;
	c->out_len = (uint32_t)prod;
	px->gz_done = rc == 1;
	return prod == 0 && cons == 0 && !px->gz_done;
}

/*
 * A small body goes out in one buffer behind its head: the kernel copies
 * one user buffer (ITER_UBUF) cheaper than walking an iovec array, and
 * 100 bytes cost less to move here than a second segment of the walk.
 */
#define PX_GATHER_MAX	2048

static void
px_gather_body(struct proxy *px, size_t bl)
{
	struct conn	*c = px->c;

	memcpy(c->r->out + c->out_len, px->buf + px->roff, bl);
	c->out_len += (uint32_t)bl;
	px->roff += (uint32_t)bl;
}

/*
 * Spooled bytes to the client, after out[]: 1 when some went (through
 * out[] under TLS, which has no sendfile), 0 when the socket is full,
 * -1 on error.
 */
static int
px_spool_out(struct proxy *px)
{
	struct conn	*c = px->c;
	ssize_t		 n;

	if (!c->writable)
		return 0;
	if (c->ssl != NULL)
		n = spool_peek(&px->spool, c->r->out, CONN_OUT_SIZE);
	else
		n = spool_send(&px->spool, c->io.fd, 1 << 20);
	if (n == -1 && c->ssl == NULL && (errno == EAGAIN || errno == EINTR)) {
		conn_write_blocked(c);
		return 0;
	}
	if (n <= 0) {
		if (n == 0 || c->ssl != NULL)
			return px_spool_lost(px, n);
		px->cut = 1;	/* sendfile failed: the answer is not whole */
		return -1;
	}
	px->moved = 1;
	if (c->ssl != NULL) {
		spool_done(&px->spool, (size_t)n);
		c->out_off = 0;
		c->out_len = (uint32_t)n;
	} else
		c->bytes_out += (uint64_t)n;
	return 1;
}

/*
 * Client to us: send everything in out[] (interim or final head, error
 * page), then any spooled bytes, then the response bytes in buf[roff,
 * rlen) once the response head went out (when gzip-coding, these go
 * through deflate into out[] first). 1 when all sent, 0 when the socket
 * is full, -1 error.
 */
static int
px_flush_client(struct proxy *px)
{
	struct conn	*c = px->c;
	struct iovec	 iov[2];
	size_t		 ol, bl;
	ssize_t		 n;
	int		 niov, rc;

	for (;;) {
		ol = c->out_len - c->out_off;
		if (ol == 0 && spool_pending(&px->spool) && px->gz == NULL) {
			if ((rc = px_spool_out(px)) != 1)
				return rc;
			continue;
		}
		bl = px->resp_head && px->gz == NULL &&
		    !spool_pending(&px->spool) ? px->rlen - px->roff : 0;
		if (ol + bl == 0) {
			if (px->gz == NULL || !px->resp_head ||
			    px->phase != PX_RELAY)
				return 1;
			if ((rc = px_gz_pump(px)) != 0)
				return rc;
			continue;
		}
		if (!c->writable)
			return 0;
		if (ol > 0 && bl > 0 && bl <= PX_GATHER_MAX &&
		    c->out_len + bl <= CONN_OUT_SIZE) {
			px_gather_body(px, bl);
			continue;
		}
		niov = 0;
		if (ol > 0) {
			iov[niov].iov_base = c->r->out + c->out_off;
			iov[niov++].iov_len = ol;
		}
		if (bl > 0) {
			iov[niov].iov_base = px->buf + px->roff;
			iov[niov++].iov_len = bl;
		}
		n = conn_io_sendv(c, iov, niov, px->resp_done &&
		    px->gz == NULL && px->sp == NULL && conn_closes_after(c));
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				conn_write_blocked(c);
				return 0;
			}
			return -1;
		}
		px->moved = 1;
		c->bytes_out += (uint64_t)n;
		if ((size_t)n < ol + bl)
			conn_write_blocked(c);
		if ((size_t)n <= ol) {
			c->out_off += (uint32_t)n;
			continue;
		}
		c->out_off = c->out_len;
		px->roff += (uint32_t)((size_t)n - ol);
	}
}

/* A client that sent Expect: 100-continue is invited to send its body. */
static void
px_queue_100(struct proxy *px)
{
	static const char	 cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct conn		*c = px->c;

	if (!c->r->req.expect_continue || px->sent_100)
		return;
	px->sent_100 = 1;
	c->out_len = c->out_off = 0;
	resp_append(c, cont, sizeof(cont) - 1);
	c->head_out += sizeof(cont) - 1;
}

/* Read more request body from the client into r->in. */
static int
px_req_read(struct proxy *px)
{
	struct conn		*c = px->c;
	size_t			 room;
	ssize_t			 n;
	int			 rc;

	/* Everything buffered was sent: reuse the space. */
	if (c->in_len > c->head_len)
		px->body_dropped = 1;
	c->in_len = px->bsend = px->bend = c->head_len;
	if (!px->resp_head)
		px_queue_100(px);
	if (px_flush_client(px) == -1)
		return px_end(px, 0);
	if (!c->readable)
		return STEP_WAIT;
	room = CONN_IN_SIZE - c->in_len;
	if (c->r->req.body == HTTP_BODY_LENGTH)
		room = MTD_MIN(room, px->req_left);
	n = conn_io_recv(c, c->r->in + c->in_len, room);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		c->readable = 0;
		return STEP_WAIT;
	}
	if (n <= 0)
		return px_end(px, 0);	/* client gone mid-body */
	if (conn_drained(c, (size_t)n, room))
		c->readable = 0;
	STATS_ADD(bytes_in, (uint64_t)n);
	px->moved = 1;
	c->in_len += (uint32_t)n;
	if ((rc = px_req_scan(px, c->in_len - (uint32_t)n, (size_t)n)) == -2)
		return px_error(px, 413, NULL);
	if (rc == -1)
		return px_end(px, 0);
	return STEP_PHASE;
}

/* One piece of what goes to the backend, when there is any left. */
static void
px_iov_add(struct iovec *iov, int *n, char *base, uint32_t off,
    uint32_t len, size_t *total)
{
	if (off >= len)
		return;
	iov[*n].iov_base = base + off;
	iov[*n].iov_len = len - off;
	*total += len - off;
	(*n)++;
}

/* <n> bytes went out: move the offsets on, in wire order. */
static void
px_req_sent(struct proxy *px, size_t n)
{
	size_t	 k;

	k = MTD_MIN(n, (size_t)(px->hlen - px->hoff));
	px->hoff += (uint32_t)k;
	n -= k;
	k = MTD_MIN(n, (size_t)(px->fpre_len - px->fpre_off));
	px->fpre_off += (uint8_t)k;
	n -= k;
	k = MTD_MIN(n, (size_t)(px->bend - px->bsend));
	px->bsend += (uint32_t)k;
	n -= k;
	px->fpost_off += (uint8_t)MTD_MIN(n,
	    (size_t)(px->fpost_len - px->fpost_off));
}

/* Us to the backend: the head, then the body as the client sends it. */
static int
px_req_step(struct proxy *px)
{
	struct conn	*c = px->c;
	struct upstream	*up = px->up;
	struct iovec	 iov[4];
	size_t		 total;
	ssize_t		 n;
	int		 rc, niov;

	while (!px->req_sent && !px->req_abandon) {
		niov = 0;
		total = 0;
		px_iov_add(iov, &niov, px->buf, px->hoff, px->hlen, &total);
		px_iov_add(iov, &niov, px->fpre, px->fpre_off, px->fpre_len,
		    &total);
		px_iov_add(iov, &niov, c->r->in, px->bsend, px->bend, &total);
		px_iov_add(iov, &niov, px->fpost, px->fpost_off,
		    px->fpost_len, &total);
		if (total == 0) {
			if (px->req_complete) {
				px->req_sent = 1;
				break;
			}
			if ((rc = px_req_read(px)) != STEP_PHASE)
				return rc;
			/* px_error() (a 413) dropped the backend: answer it. */
			if (px->phase != PX_RELAY)
				return STEP_PHASE;
			continue;
		}
		if (!up->writable)
			return STEP_WAIT;
		n = upstream_sendv(up, iov, niov, !px->req_complete);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				up->writable = 0;
				return STEP_WAIT;
			}
			if (px->resp_byte)
				return px_fail_mid(px, strerror(errno));
			return px_early_fail(px, strerror(errno));
		}
		px->moved = 1;
		if ((size_t)n < total)
			up->writable = 0;
		px_req_sent(px, (size_t)n);
	}
	return STEP_WAIT;
}

/*
 * Begin an answer head for the client behind what out[] holds: <ob>
 * over its free room, then <resp>'s status line (HTTP/1.1 to ours).
 */
static void
px_head_start(struct conn *c, struct ob *ob, const struct http_response *resp)
{
	char	 st[13];

	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	ob->p = c->r->out + c->out_len;
	ob->len = 0;
	ob->cap = CONN_OUT_SIZE - c->out_len;
	ob->err = 0;
	/* The parser keeps statuses to three digits; no snprintf per reply. */
	memcpy(st, "HTTP/1.1 000 ", 13);
	st[9] = (char)('0' + resp->status / 100 % 10);
	st[10] = (char)('0' + resp->status / 10 % 10);
	st[11] = (char)('0' + resp->status % 10);
	ob_put(ob, st, 13);
	ob_str(ob, &resp->reason);
	OB_LIT(ob, "\r\n");
}

/*
 * The Content-Length field <h>, the first of the answer, as one plain
 * number however the backend wrote it ("5, 5"). The parser took it only
 * as a list of one same number, so its first element is that number.
 * Not resp->content_length: that is 0 for a length of 0, and for answers
 * without a body (HEAD, 304), and a 200 that lost its "0, 0" would go to
 * a keep-alive client with no framing at all, its body then running into
 * the next answer.
 */
static void
px_content_length(struct ob *ob, const struct http_header *h)
{
	struct http_list	 it;
	struct http_str		 n;

	http_list_init(&it, h->value);
	if (!http_list_next(&it, &n))
		return;
	/* Digits only (the parser saw to it); "007" goes on as "7". */
	while (n.len > 1 && *n.p == '0') {
		n.p++;
		n.len--;
	}
	OB_LIT(ob, "Content-Length: ");
	ob_str(ob, &n);
	OB_LIT(ob, "\r\n");
}

/* Does a Vary field of <resp> already name Accept-Encoding? */
static int
vary_has_ae(const struct http_response *resp)
{
	const struct http_str	*v;
	size_t			 i;
	int			 k;

	for (k = 0; k < resp->nheaders; k++) {
		if (!NAME_IS(&resp->headers[k].name, "Vary"))
			continue;
		v = &resp->headers[k].value;
		for (i = 0; i + 15 <= v->len; i++)
			if (strncasecmp(v->p + i, "accept-encoding", 15) == 0)
				return 1;
	}
	return 0;
}

/*
 * Decide whether the response <resp> is gzip-coded on its way to the
 * client: a 200 with a body and no Content-Encoding, of a type in
 * gzip_types, long enough, to a GET (not a range) from a client that
 * accepts gzip. Sets px->vary when the answer depends on
 * Accept-Encoding, and px->gz when compressing. 0, or -1 (no memory).
 */
static int
px_gz_decide(struct proxy *px, const struct http_response *resp)
{
	struct http_request	*req = &px->c->r->req;
	const struct http_str	*ct;
	int64_t			 length = -1;
	int			 vary, want, i;

	if (!wconf->gzip_on || resp->status != 200 ||
	    http_header_get(resp->headers, resp->nheaders,
	    "Content-Encoding") != NULL ||
	    (ct = http_header_get(resp->headers, resp->nheaders,
	    "Content-Type")) == NULL)
		return 0;
	for (i = 0; i < resp->nheaders; i++)
		if (NAME_IS(&resp->headers[i].name, "Cache-Control") &&
		    gz_no_transform(&resp->headers[i].value))
			return 0;
	if (resp->body == HTTP_BODY_LENGTH)
		length = (int64_t)resp->content_length;
	want = gz_wanted(px->c, ct->p, ct->len, length, &vary);
	px->vary = vary && !vary_has_ae(resp);
	if (!want || resp->body == HTTP_BODY_NONE ||
	    req->method != HTTP_M_GET ||
	    http_header_get(req->headers, req->nheaders, "Range") != NULL)
		return 0;
	if ((px->gz = malloc(sizeof(*px->gz))) == NULL)
		return -1;
	if (gz_init(px->gz, wconf->gzip_level, req->minor >= 1) == -1) {
		free(px->gz);
		px->gz = NULL;
		return -1;
	}
	return 0;
}

/*
 * The gzip variant's own fields: after the common part of the head,
 * which is what the cache stores (the identity variant).
 */
static void
px_gz_fields(struct proxy *px, struct ob *ob, const struct http_response *resp)
{
	const struct http_str	*etag;

	OB_LIT(ob, "Content-Encoding: gzip\r\n");
	etag = http_header_get(resp->headers, resp->nheaders, "ETag");
	if (etag != NULL) {
		OB_LIT(ob, "ETag: ");
		if (etag->len > 0 && etag->p[0] == '"')
			OB_LIT(ob, "W/");
		ob_str(ob, etag);
		OB_LIT(ob, "\r\n");
	}
	if (px->c->r->req.minor >= 1)
		OB_LIT(ob, "Transfer-Encoding: chunked\r\n");
}

/*
 * After the backend's fields: ours (Vary, cache status, sticky cookie,
 * gzip's) and the connection's fate, which ends the head.
 */
static void
px_own_fields(struct proxy *px, struct ob *ob,
    const struct http_response *resp, int tunnel)
{
	struct conn	*c = px->c;
	int		 n;

	if (px->vary)
		OB_LIT(ob, "Vary: Accept-Encoding\r\n");
	n = pcache_fields(&px->pc, ob->p + ob->len, ob->cap - ob->len);
	if (n < 0)
		ob->err = 1;
	else
		ob->len += (size_t)n;
	/* A new client, or its backend changed: (re)set the cookie. */
	if (wconf->sticky_cookie[0] != '\0' && px->sticky != px->backend) {
		if ((n = sticky_field(bt, px->backend, c->ssl != NULL,
		    ob->p + ob->len, ob->cap - ob->len)) < 0)
			ob->err = 1;
		else
			ob->len += (size_t)n;
	}
	if (px->gz != NULL) {
		/* The cache keeps the identity variant (and its ETag). */
		if (!ob->err)
			pcache_head(&px->pc, ob->p, ob->len);
		px_gz_fields(px, ob, resp);
	}
	if (c->rl_limit != 0) {
		/* This client's quota: never part of a stored head. */
		n = (int)conn_ratelimit_fields(c, ob->p + ob->len,
		    ob->cap - ob->len);
		ob->err |= n == 0;
		ob->len += (size_t)n;
	}
	if (tunnel)
		OB_LIT(ob, "Connection: upgrade\r\n\r\n");
	else if (!c->keep_alive)
		OB_LIT(ob, "Connection: close\r\n\r\n");
	else if (c->r->req.minor == 0)
		OB_LIT(ob, "Connection: keep-alive\r\n\r\n");
	else
		OB_LIT(ob, "\r\n");
}

/* Response head for the client, into out[] after anything pending. */
static int
px_build_response(struct proxy *px, const struct http_response *resp,
    int tunnel)
{
	struct conn	*c = px->c;
	struct ob	 ob;
	struct tokens	 tk;
	const struct http_header *h;
	int		 i, has_date = 0, ncl = 0;
	/* RFC 9110 8.6: a 1xx or 204 has no Content-Length to pass on. */
	int		 no_length = resp->status < 200 || resp->status == 204;
	/* Nor, RFC 9112 6.1, a Transfer-Encoding, nor to an HTTP/1.0 client. */
	int		 no_te = no_length || px->dechunk ||
	    c->r->req.minor == 0;
	/* The chunked body's trailers go on with it: so does their list. */
	int		 trailers = resp->body == HTTP_BODY_CHUNKED &&
	    !px->dechunk && px->gz == NULL;

	px_head_start(c, &ob, resp);
	tokens_collect(&tk, resp->headers, resp->nheaders);
	for (i = 0; i < resp->nheaders; i++) {
		h = &resp->headers[i];
		if ((NAME_IS(&h->name, "Upgrade") && tunnel) ||
		    (NAME_IS(&h->name, "Trailer") && trailers))
			ob_header(&ob, h);
		else if (hop_by_hop(&h->name, &tk) || (no_te &&
		    NAME_IS(&h->name, "Transfer-Encoding")) ||
		    pcache_own_field(&px->pc, &h->name) || (px->gz != NULL &&
		    NAME_IS(&h->name, "ETag")))
			continue;
		else if (NAME_IS(&h->name, "Content-Length")) {
			/*
			 * One plain value however the backend wrote it
			 * ("5, 5", twice), none where there is no length.
			 */
			if (ncl++ == 0 && !no_length && px->gz == NULL)
				px_content_length(&ob, h);
		} else {
			ob_header(&ob, h);
			has_date |= NAME_IS(&h->name, "Date");
		}
	}
	/* RFC 9110 6.6.1: a recipient with a clock adds the missing Date. */
	if (!has_date) {
		OB_LIT(&ob, "Date: ");
		ob_cstr(&ob, httpdate_now(ev_wall()));
		OB_LIT(&ob, "\r\n");
	}
	px_own_fields(px, &ob, resp, tunnel);
	if (ob.err)
		return -1;
	if (px->gz == NULL)
		pcache_head(&px->pc, ob.p, ob.len);
	c->out_len += (uint32_t)ob.len;
	c->head_out += ob.len;
	return 0;
}

/*
 * A chunked body relayed as it came, but for its trailer section: that
 * is held until whole, then sent without the fields no trailer may carry
 * (a malformed one fails the scan, and none of it goes out). The <n> new
 * bytes are at buf + <off>, right after any held ones.
 */
static int
px_resp_relay_chunked(struct proxy *px, uint32_t off, size_t n)
{
	size_t	 used, t;
	int	 rc;

	t = http_chunked_trailer_len(&px->resp_ch);
	rc = http_chunked_scan(&px->resp_ch, px->buf + off, n, &used);
	if (rc == -1)
		return -1;
	px->thold += (uint32_t)(http_chunked_trailer_len(&px->resp_ch) - t);
	px->rlen = off + (uint32_t)used - px->thold;
	if (rc == 1) {
		px->rlen += (uint32_t)http_trailers_filter(px->buf + px->rlen,
		    px->thold);
		px->thold = 0;
		px->resp_done = 1;
	}
	if (used < n)
		px->reusable = 0;	/* bytes after the response */
	return 0;
}

/* Account <n> new response body bytes at buf + <off>. */
static int
px_resp_scan(struct proxy *px, uint32_t off, size_t n)
{
	size_t	 used, out;
	int	 rc;

	switch (px->resp_kind) {
	case HTTP_BODY_LENGTH:
		used = MTD_MIN((uint64_t)n, px->resp_left);
		px->resp_left -= used;
		px->resp_done = px->resp_left == 0;
		break;
	case HTTP_BODY_CHUNKED:
		if (!px->dechunk)
			return px_resp_relay_chunked(px, off, n);
		rc = http_chunked_decode(&px->resp_ch, px->buf + off, n,
		    &used, &out);
		if (rc == -1)
			return -1;
		px->rlen = off + (uint32_t)out;
		px->resp_done = rc == 1;
		if (used < n)
			px->reusable = 0;
		return 0;
	case HTTP_BODY_CLOSE:
		return 0;
	default:
		used = 0;
		break;
	}
	if (used < n)
		px->reusable = 0;	/* bytes after the response */
	px->rlen = off + (uint32_t)used;
	return 0;
}

/*
 * Whether the rest of this body may bypass user space: plain sockets
 * both ways (TLS bytes must go through OpenSSL), a Content-Length body
 * with enough left, nothing that must see the bytes (deflate, a cache
 * fill).
 */
static int
px_splice_ok(const struct proxy *px)
{
	return wconf->proxy_splice && px->c->ssl == NULL &&
	    px->up->ssl == NULL && px->gz == NULL &&
	    !px->pc.storing && px->resp_kind == HTTP_BODY_LENGTH &&
	    !px->resp_done && px->resp_left >= PX_SPLICE_MIN;
}

/* Bad chunked framing found before the head went out: 502, or a cut. */
static int
px_resp_unframed(struct proxy *px)
{
	struct conn	*c = px->c;

	if (c->out_off == 0) {
		/* The head is still ours: answer 502 instead. */
		pcache_end(&px->pc);
		px->resp_head = 0;
		return px_error(px, 502, "bad chunked framing");
	}
	c->status = 502;	/* the log must not say 200 */
	return px_fail_mid(px, "bad chunked framing");
}

/*
 * Interim answers still wholly in out[] (the client was not writable, or
 * they came in the same read as the final one) are hints: dropped when
 * the final head would not fit behind them. Not once part of one is out.
 */
static int
px_drop_interims(struct proxy *px)
{
	struct conn	*c = px->c;

	if (c->out_off != 0 || c->out_len == 0)
		return -1;
	c->head_out -= c->out_len;
	c->out_len = 0;
	return 0;
}

/* A response head is complete in buf[0, len): take it. */
static int
px_resp_head(struct proxy *px, const struct http_response *resp, int len)
{
	struct conn	*c = px->c;
	int		 tunnel = resp->status == 101;

	px_health_ok(px, resp->status);
	c->status = resp->status;
	if (!px->req_sent) {
		/* Answered before the body was in: no next request. */
		px->req_abandon = 1;
		c->keep_alive = 0;
	}
	px->resp_kind = (uint8_t)resp->body;
	px->reusable = resp->keep_alive && !tunnel;
	if (resp->body == HTTP_BODY_CLOSE)
		c->keep_alive = 0;
	if (resp->body == HTTP_BODY_CHUNKED && c->r->req.minor == 0) {
		px->dechunk = 1;
		c->keep_alive = 0;
	}
	/* Unavailable, as nginx's http_502..504; a 500 is an answer. */
	if (resp->status >= 502 && resp->status <= 504 && !tunnel &&
	    pcache_stale(&px->pc, c, px->buf, PX_BUF_SIZE) == PCACHE_HIT) {
		px_drop_upstream(px, 0);
		return px_send_begin(px);
	}
	if (!tunnel && px_gz_decide(px, resp) == -1)
		return px_error(px, 503, "out of memory");
	if (px->gz != NULL) {
		/* Deflate takes the identity body: decode chunks first. */
		if (resp->body == HTTP_BODY_CHUNKED)
			px->dechunk = 1;
		if (c->r->req.minor == 0)
			c->keep_alive = 0;	/* the close ends the body */
	}
	pcache_invalidate(&px->pc, c, resp->status);
	pcache_response(&px->pc, resp, &c->r->req,
	    resp->body == HTTP_BODY_CHUNKED &&
	    !px->dechunk);
	if (px_build_response(px, resp, tunnel) == -1 &&
	    (px_drop_interims(px) == -1 ||
	    px_build_response(px, resp, tunnel) == -1))
		return px_error(px, 502, "response head too large");
	px->resp_head = 1;
	px->roff = (uint32_t)len;
	if (tunnel) {
		px->phase = PX_TUNNEL;
		px->bsend = px->bend;
		return STEP_PHASE;
	}
	px->resp_left = resp->content_length;
	http_chunked_init_relayed(&px->resp_ch);
	if (resp->body == HTTP_BODY_NONE)
		px->resp_done = 1;
	if (px_resp_scan(px, (uint32_t)len, px->rlen - (uint32_t)len) == -1)
		return px_resp_unframed(px);
	pcache_body(&px->pc, px->buf + len, px->rlen - (uint32_t)len,
	    px->resp_done);
	if (px_splice_ok(px))
		px->sp = splice_pipe_get();	/* NULL: copy as usual */
	return STEP_PHASE;
}

/*
 * An interim answer (102, 103 Early Hints, ...) goes on to an HTTP/1.1
 * client ahead of the final one (RFC 9110 15.2), without hop-by-hop or
 * framing fields. 100 is ours alone to send (we answer Expect), and one
 * that does not fit behind what out[] holds is dropped: it is a hint.
 */
static void
px_interim(struct proxy *px, const struct http_response *resp)
{
	struct conn			*c = px->c;
	const struct http_header	*h;
	struct tokens			 tk;
	struct ob			 ob;
	int				 i;

	if (resp->status == 100 || c->r->req.minor == 0)
		return;
	px_head_start(c, &ob, resp);
	tokens_collect(&tk, resp->headers, resp->nheaders);
	for (i = 0; i < resp->nheaders; i++) {
		h = &resp->headers[i];
		if (!hop_by_hop(&h->name, &tk) &&
		    !NAME_IS(&h->name, "Content-Length") &&
		    !NAME_IS(&h->name, "Transfer-Encoding"))
			ob_header(&ob, h);
	}
	OB_LIT(&ob, "\r\n");
	if (ob.err)
		return;
	c->out_len += (uint32_t)ob.len;
	c->head_out += ob.len;
}

/*
 * A 408 on a pooled connection is the backend's idle timeout crossing
 * our reuse: it answers a request it was waiting for, not ours, which it
 * did not read. Like the close that usually comes instead, keep-alive
 * wear: sent again on a fresh connection when it can be (as browsers
 * do), else 502; never passed on to this unrelated request.
 */
static int
px_idle_408(struct proxy *px)
{
	px->roff = px->rlen = 0;
	px->resp_byte = 0;
	/* The answer took buf[], where the request head was: again. */
	if (px_build_request(px) == -1)
		return px_error(px, 431, NULL);
	return px_early_fail(px, "408 on a reused connection");
}

/*
 * A 101 must name the protocol it switches to, one the client offered
 * (RFC 9110 7.8, 15.2.2): a tunnel to anything else would carry the
 * client's later requests past access control.
 */
static int
px_switched_to_websocket(const struct http_response *resp)
{
	int	 i;

	for (i = 0; i < resp->nheaders; i++)
		if (NAME_IS(&resp->headers[i].name, "Upgrade") &&
		    http_upgrade_websocket(resp->headers[i].value))
			return 1;
	return 0;
}

static int
px_parse_head(struct proxy *px)
{
	struct http_response	*resp = &resp_scratch;
	struct http_request	*req = &px->c->r->req;
	char			 why[96];
	int			 rc;

	for (;;) {
		rc = http_parse_response(px->buf, px->rlen, req->method, resp);
		if (rc == HTTP_INCOMPLETE) {
			if (px->rlen == PX_BUF_SIZE)
				return px_error(px, 502,
				    "response head too large");
			return STEP_PHASE;
		}
		if (rc == HTTP_ERROR) {
			snprintf(why, sizeof(why), "invalid response head: %s",
			    resp->too_many_fields ? "more than 1000 header "
			    "fields" : resp->why != NULL ? resp->why : "?");
			return px_error(px, 502, why);
		}
		_Static_assert(MTD_MAX_RESP_HEADERS == 1000, "the message above");
		if (resp->status == 408 && px->up->nreq > 0)
			return px_idle_408(px);
		if (resp->status >= 200 ||
		    (resp->status == 101 && req->upgrade &&
		    px_switched_to_websocket(resp)))
			return px_resp_head(px, resp, rc);
		if (resp->status == 101 && req->upgrade)
			return px_error(px, 502,
			    "101 response without \"Upgrade: websocket\"");
		if (resp->status == 101)
			return px_error(px, 502, "unexpected 101 response");
		/* Interim 1xx: passed on; the final response follows. */
		px_interim(px, resp);
		if (px->c->writable && px_flush_client(px) == -1)
			return px_end(px, 0);
		memmove(px->buf, px->buf + rc, px->rlen - (uint32_t)rc);
		px->rlen -= (uint32_t)rc;
		if (px->rlen == 0)
			return STEP_PHASE;
	}
}

/* Backend to the pipe: as much of the body as the pipe takes. */
static int
px_splice_in(struct proxy *px)
{
	struct upstream	*up = px->up;
	size_t		 want;
	ssize_t		 n;

	want = MTD_MIN(px->resp_left, SPLICE_PIPE_SIZE - px->sp->len);
	if (want == 0)
		return STEP_WAIT;	/* client first */
	n = splice_in(px->sp, up->io.fd, want);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		/*
		 * A pipe holds a bounded number of page fragments, so it
		 * can be full with fewer bytes than its size: only an
		 * empty pipe proves the socket has nothing to read.
		 */
		if (px->sp->len == 0 && errno == EAGAIN)
			up->readable = 0;
		return STEP_WAIT;
	}
	if (n <= 0)
		return px_fail_body(px, n);
	px->moved = 1;
	px->resp_left -= (uint64_t)n;
	px->resp_done = px->resp_left == 0;
	return STEP_PHASE;
}

/* The pipe to the client; 1 when empty, 0 when the socket is full. */
static int
px_splice_out(struct proxy *px)
{
	struct conn	*c = px->c;
	ssize_t		 n;

	while (px->sp->len > 0) {
		if (!c->writable)
			return 0;
		n = splice_out(px->sp, c->io.fd);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				conn_write_blocked(c);
				return 0;
			}
			return -1;
		}
		if (n == 0)
			return -1;
		px->moved = 1;
		c->bytes_out += (uint64_t)n;
		STATS_ADD(bytes_spliced, (uint64_t)n);
	}
	return 1;
}

/* Whether the first read of a response is kept to PX_HEAD_READ. */
static int
px_head_read_short(const struct proxy *px)
{
	return px->rlen == 0 && !px->resp_head && wconf->proxy_splice &&
	    px->c->ssl == NULL && px->up->ssl == NULL;
}

/*
 * After a head read kept short that filled up: unless the body goes by
 * splice after all, buf fills before the first write (the "top-up"),
 * so that a mid-sized answer costs one more read, not one more write.
 */
static int
px_top_up_due(const struct proxy *px)
{
	return px->resp_head && px->phase == PX_RELAY && px->up != NULL &&
	    px->up->readable && px->sp == NULL && !px->resp_done &&
	    px->rlen + px->thold < PX_BUF_SIZE;
}

/*
 * Backend to us: the response head, then the body with back-pressure.
 * <top_up>: the read right after a short head read, which leaves
 * buf[roff, rlen + thold) in place for the client's first write.
 */
static int
px_resp_recv(struct proxy *px, int top_up)
{
	struct upstream	*up = px->up;
	size_t		 room;
	ssize_t		 n;
	uint32_t	 from, off;
	int		 rc;

	if (px->hoff < px->hlen || px->resp_done || !up->readable)
		return STEP_WAIT;	/* buf holds the request head */
	if (px->resp_head && !top_up) {
		if (px->roff < px->rlen)
			return STEP_WAIT;	/* client first */
		/* A held trailer section moves up, leaving room. */
		if (px->thold > 0)
			memmove(px->buf, px->buf + px->rlen, px->thold);
		px->roff = px->rlen = 0;
		if (px->sp != NULL)
			return px_splice_in(px);
	}
	room = PX_BUF_SIZE - px->rlen - px->thold;
	if (px_head_read_short(px))
		room = PX_HEAD_READ;
	n = upstream_recv(up, px->buf + px->rlen + px->thold, room);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return STEP_WAIT;
	if (n <= 0) {
		char	 why[96];

		snprintf(why, sizeof(why), "%s before responding", n == 0 ?
		    "closed" : strerror(errno));
		if (!px->resp_byte)
			return px_early_fail(px, why);
		if (!px->resp_head)
			return px_error(px, 502, "incomplete response head");
		/* A close ends such a body; a reset cuts it. */
		if (px->resp_kind == HTTP_BODY_CLOSE && n == 0) {
			px->resp_done = 1;
			px->reusable = 0;
			return STEP_PHASE;
		}
		return px_fail_body(px, n);
	}
	px->moved = 1;
	px->resp_byte = 1;
	from = px->rlen;
	off = px->rlen + px->thold;
	px->rlen = off + (uint32_t)n;
	if (!px->resp_head) {
		rc = px_parse_head(px);
		if (rc == STEP_PHASE && room == PX_HEAD_READ &&
		    (size_t)n == room && px_top_up_due(px))
			return px_resp_recv(px, 1);
		return rc;
	}
	if (px_resp_scan(px, off, (size_t)n) == -1)
		return top_up ? px_resp_unframed(px) :
		    px_fail_mid(px, "bad chunked framing");
	/* What goes to the client now: new body bytes or whole trailers. */
	pcache_body(&px->pc, px->buf + from, px->rlen - from, px->resp_done);
	return STEP_PHASE;
}

/*
 * The backend sent its whole response: its connection goes back to the
 * pool (or is closed) whatever the client has still to read.
 */
static void
px_upstream_done(struct proxy *px)
{
	/*
	 * Whether the backend sent more than its response: a pooled
	 * connection must be drained, since its next edge is all that
	 * would tell. Asked only when the last read did not prove the
	 * socket empty (a splice that took exactly the body's end, a read
	 * that filled the buffer).
	 */
	if (px->reusable && px->up != NULL && px->up->readable &&
	    upstream_has_more(px->up))
		px->reusable = 0;
	px_drop_upstream(px, px->reusable && px->req_sent);
}

/* The whole response reached the client: recycle and finish. */
static int
px_finish(struct proxy *px)
{
	struct conn	*c = px->c;

	if (px->req_sent)
		c->head_len = px->bend;
	else
		c->keep_alive = 0;
	px_upstream_done(px);
	return px_end(px, 1);
}

/*
 * Whether the rest of the answer fits in the backend socket's receive
 * buffer: the backend has then written it, or can, and waits for
 * nothing. When the client first falls behind with so little left, a
 * file and its syscalls would buy nothing; once one is in use, it takes
 * the rest too, so that the backend connection goes back to the pool.
 */
static int
px_rest_fits(const struct proxy *px)
{
	uint64_t	 room = wconf->backend_rcvbuf > 0 ?
			    (uint64_t)wconf->backend_rcvbuf : 64 * 1024;

	return px->resp_kind == HTTP_BODY_LENGTH && px->resp_left <= room;
}

/*
 * The client is not ready and the backend has more: what waits for the
 * client moves to the spool, so that the backend's answer keeps coming.
 * A body being compressed is spooled before deflate (as PHP's is):
 * out[] holds only deflate's output, which precedes the spool, and
 * px_gz_pump() reads the spool back first. Otherwise not while out[] is
 * being sent: a TLS write that must be retried has to be retried with
 * the same bytes, and out[] went out gathered with the body. 0, or -1
 * when a pipe's bytes were lost.
 */
static int
px_spool_take(struct proxy *px)
{
	ssize_t	 n;

	if (px->resp_done || px->up == NULL || (px->gz == NULL &&
	    px->c->out_off < px->c->out_len) || !spool_room(&px->spool) ||
	    (px->spool.fd < 0 && px_rest_fits(px)))
		return 0;
	if (px->sp != NULL) {
		if (px->sp->len == 0)
			return 0;
		if ((n = spool_put_pipe(&px->spool, px->sp->rfd,
		    px->sp->len)) == -1)
			return -1;
		px->sp->len -= (size_t)n;
	} else {
		if (px->roff == px->rlen || !px->up->readable)
			return 0;	/* nothing waits, or nothing comes */
		n = (ssize_t)spool_put(&px->spool, px->buf + px->roff,
		    px->rlen - px->roff);
		px->roff += (uint32_t)n;
	}
	if (n > 0)
		px->moved = 1;
	return 0;
}

static int
px_step_relay(struct proxy *px)
{
	int	 rc, any = 0;

	for (;;) {
		px->moved = 0;
		if ((rc = px_req_step(px)) != STEP_WAIT)
			return rc;
		if ((rc = px_resp_recv(px, 0)) == STEP_STOP ||
		    px->phase != PX_RELAY)
			return rc;
		if (px->resp_head) {
			if ((rc = px_flush_client(px)) == 1 && px->sp != NULL)
				rc = px_splice_out(px);
			if (rc == -1)
				return px_end(px, 0);
			if (rc == 1 && px->resp_done &&
			    (px->gz == NULL || px->gz_done))
				return px_finish(px);
			if (rc == 0 && px_spool_take(px) == -1)
				return px_fail_mid(px, "buffer file lost bytes");
			if (px->resp_done && px->req_sent && px->up != NULL)
				px_upstream_done(px);
		} else if (px->c->out_off < px->c->out_len &&
		    px_flush_client(px) == -1)
			return px_end(px, 0);	/* interim answers */
		if (!px->moved)
			break;
		any = 1;
	}
	px->moved = any;
	return STEP_WAIT;
}

/*
 * The head at once on a connection still handshaking: to a nearby
 * backend the handshake is usually over by the time connect() returns,
 * and waiting for EPOLLOUT first costs a trip through epoll_wait() with
 * the backend idle (the FastCGI side does the same). EAGAIN: not yet,
 * the EPOLLOUT edge of the finished handshake comes as before.
 */
static int
px_send_early(struct proxy *px)
{
	struct upstream	*up = px->up;
	size_t		 hl = px->hlen - px->hoff;
	char		 why[128];
	ssize_t		 n;

	px->early_tried = 1;
	n = send(up->io.fd, px->buf + px->hoff, hl, MSG_NOSIGNAL |
	    (px->req_complete && px->bsend == px->bend ? 0 : MSG_MORE));
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return STEP_WAIT;
		snprintf(why, sizeof(why), "connect: %s", strerror(errno));
		return px_connect_fail(px, why);
	}
	up->connecting = 0;
	up->writable = (size_t)n == hl;
	px->hoff += (uint32_t)n;
	px->phase = PX_RELAY;
	px->moved = 1;
	return STEP_PHASE;
}

/*
 * Connecting, then (backend_tls) handshaking; either failure is a
 * connect failure of the backend. The early send is for plain
 * connections only: a TLS backend gets nothing before its handshake.
 */
static int
px_step_connect(struct proxy *px)
{
	struct upstream	*up = px->up;
	char		 why[256];

	switch (upstream_ready(up, why, sizeof(why))) {
	case UPSTREAM_WAIT:
		if (up->connecting && up->ssl == NULL && !px->early_tried)
			return px_send_early(px);
		return STEP_WAIT;
	case UPSTREAM_FAIL:
		return px_connect_fail(px, why);
	}
	px->phase = PX_RELAY;
	px->moved = 1;
	return STEP_PHASE;
}

/*
 * One side of a tunnel said EOF: pass the half-close on (shutdown for
 * writing) and go on the other way, as HAProxy does, so that a reply
 * sent after the client's FIN still arrives. Over TLS, or once both
 * sides are done, the tunnel ends. 1: ended (px_end() called).
 */
static int
px_tunnel_eof(struct proxy *px, int client)
{
	struct conn	*c = px->c;
	struct upstream	*up = px->up;

	if (client) {
		px->tun_ceof = 1;
		c->readable = 0;
	} else {
		px->tun_beof = 1;
		up->readable = 0;
	}
	if ((px->tun_ceof && px->tun_beof) || c->ssl != NULL ||
	    up->ssl != NULL)
		return 1;
	(void)shutdown(client ? up->io.fd : c->io.fd, SHUT_WR);
	return 0;
}

static int
px_tunnel_banned(struct proxy *px)
{
	char	 ip[INET6_ADDRSTRLEN];

	log_info("tunnel closed: client %s is now blacklisted",
	    conn_peer_str(px->c, ip, sizeof(ip)));
	return px_end(px, 1);
}

/* After 101: copy both ways until both sides have closed. */
static int
px_step_tunnel(struct proxy *px)
{
	struct conn	*c = px->c;
	struct upstream	*up = px->up;
	ssize_t		 n;
	int		 moved;

	c->keep_alive = 0;
	/*
	 * A tunnel is one request that can last for hours: a client listed
	 * meanwhile would otherwise keep it. An idle one ends at read_timeout.
	 */
	if (request_banned_since_check(c))
		return px_tunnel_banned(px);
	do {
		moved = 0;
		if (px_flush_client(px) == -1)
			return px_end(px, 1);
		if (px->roff == px->rlen && up->readable && !px->tun_beof) {
			px->roff = px->rlen = 0;
			n = upstream_recv(up, px->buf, PX_BUF_SIZE);
			if (n > 0) {
				px->rlen = (uint32_t)n;
				moved = 1;
			} else if (n == 0 && !px_tunnel_eof(px, 0))
				moved = 1;
			else if (n == 0 || (errno != EAGAIN &&
			    errno != EINTR))
				return px_end(px, 1);
		}
		if (px->bsend < c->in_len && up->writable) {
			n = upstream_send(up, c->r->in + px->bsend,
			    c->in_len - px->bsend);
			if (n > 0) {
				px->bsend += (uint32_t)n;
				moved = 1;
			} else if (n == -1 && (errno == EAGAIN ||
			    errno == EINTR))
				up->writable = 0;
			else
				return px_end(px, 1);
		}
		if (px->bsend == c->in_len && c->readable && !px->tun_ceof) {
			c->in_len = px->bsend = c->head_len;
			n = conn_io_recv(c, c->r->in + c->in_len,
			    CONN_IN_SIZE - c->in_len);
			if (n > 0) {
				c->in_len += (uint32_t)n;
				moved = 1;
			} else if (n == -1 && (errno == EAGAIN ||
			    errno == EINTR))
				c->readable = 0;
			else if (n == 0 && !px_tunnel_eof(px, 1))
				moved = 1;
			else
				return px_end(px, 1);
		}
		if (moved)
			px->moved = 1;
	} while (moved);
	return STEP_WAIT;
}

static int
px_step_error(struct proxy *px)
{
	switch (px_flush_client(px)) {
	case 1:
		return px_end(px, 1);
	case 0:
		return STEP_WAIT;
	default:
		return px_end(px, 0);
	}
}

/* A cached answer is in out[] (and pc.body): send it, then end. */
static int
px_send_begin(struct proxy *px)
{
	px->phase = PX_SEND;
	px->resp_head = 1;
	px->roff = px->rlen = 0;
	px->moved = 1;
	return STEP_PHASE;
}

static int
px_step_send(struct proxy *px)
{
	for (;;) {
		switch (px_flush_client(px)) {
		case -1:
			return px_end(px, 0);
		case 0:
			return STEP_WAIT;
		}
		if (px->pc.body_left == 0)
			return px_end(px, 1);
		px->roff = 0;
		px->rlen = (uint32_t)pcache_body_take(&px->pc, px->buf,
		    PX_BUF_SIZE);
	}
}

/* Pick a backend, build the request head and connect. */
static int
px_forward(struct proxy *px)
{
	struct conn		*c = px->c;
	struct http_request	*req = &c->r->req;
	int			 i;

	i = -1;
	if (wconf->sticky_cookie[0] != '\0')
		i = px->sticky = sticky_backend(bt, req);
	if (i < 0)
		i = backend_pick(bt, wconf->strategy, c->peer16, 0);
	if (i < 0)
		return px_error(px, 503, NULL);
	px->backend = i;
	c->upstream = backend_get(bt, i)->name;
	if (px_build_request(px) == -1)
		return px_error(px, 431, NULL);
	/* The body bytes that came with the head. */
	px->req_left = req->content_length;
	http_chunked_init_relayed(&px->req_ch);
	switch (px_req_scan(px, c->head_len, c->in_len - c->head_len)) {
	case -1:
		return px_error(px, 400, NULL);
	case -2:
		return px_error(px, 413, NULL);
	}
	return px_open(px, 0);
}

/*
 * A request body that fits in the connection's buffer is read whole
 * before a backend is chosen, as nginx's proxy_request_buffering does:
 * a client trickling its body (slow POST) then holds one of our cheap
 * connections, not one of the backend's few workers. Larger and chunked
 * bodies stream.
 */
static int
px_body_buffers(const struct conn *c)
{
	const struct http_request	*req = &c->r->req;

	return req->body == HTTP_BODY_LENGTH && !req->upgrade &&
	    req->content_length <= CONN_IN_SIZE - c->head_len &&
	    c->in_len < c->head_len + req->content_length;
}

/* PX_BODY: read until the whole body is in r->in, then forward. */
static int
px_step_body(struct proxy *px)
{
	struct conn		*c = px->c;
	size_t			 need;
	ssize_t			 n;

	px_queue_100(px);
	if (px_flush_client(px) == -1)
		return px_end(px, 0);
	need = c->head_len + c->r->req.content_length - c->in_len;
	while (need > 0) {
		if (!c->readable)
			return STEP_WAIT;
		n = conn_io_recv(c, c->r->in + c->in_len, need);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			c->readable = 0;
			return STEP_WAIT;
		}
		if (n <= 0)
			return px_end(px, 0);	/* client gone mid-body */
		STATS_ADD(bytes_in, (uint64_t)n);
		c->in_len += (uint32_t)n;
		need -= (size_t)n;
		px->moved = 1;
	}
	return px_forward(px);
}

/*
 * "Cache-Control: only-if-cached" and nothing stored: 504, and no
 * backend asked (RFC 9111 5.2.1.7). Ends <px>; <c> answers.
 */
static void
px_not_stored(struct proxy *px)
{
	struct conn	*c = px->c;
	char		 extra[128];
	int		 n;

	n = pcache_fields(&px->pc, extra, sizeof(extra) - 1);
	extra[n > 0 ? n : 0] = '\0';
	px_free(px);
	/* Nothing left unread unless a body follows: the connection stays. */
	resp_error_keep(c, 504, extra, c->r->req.body == HTTP_BODY_NONE);
}

/* Waiting for another request's fill: look again. */
static int
px_wait_step(struct proxy *px)
{
	switch (pcache_retry(&px->pc, px->c, px->buf, PX_BUF_SIZE)) {
	case PCACHE_NOT_STORED:
		/* Not reached: such a request never waits. */
		return px_error(px, 504, NULL);
	case PCACHE_WAIT:
		ev_timer_set(&px->c->timer, PCACHE_WAIT_MS);
		return STEP_WAIT;
	case PCACHE_HIT:
		return px_send_begin(px);
	default:
		px->moved = 1;
		return px_forward(px);
	}
}

/* Relaying, everything read of the request body is sent: more must come. */
static int
px_waits_body(const struct proxy *px)
{
	return px->phase == PX_RELAY && !px->req_sent && !px->req_abandon &&
	    px->hoff == px->hlen && px->bsend == px->bend;
}

static int
px_on_timeout(struct proxy *px)
{
	char	 why[160];

	switch (px->phase) {
	case PX_WAIT:
		return px_wait_step(px);
	case PX_CONNECT:
		return px_connect_fail(px, px->up != NULL &&
		    px->up->ssl != NULL && !px->up->connecting ?
		    "connect timeout (TLS handshake)" : "connect timeout");
	case PX_BODY:
		return px_error(px, 408, NULL);
	case PX_QUEUE:
		snprintf(why, sizeof(why), "no connection free within "
		    "connect_timeout (%d ms): all %d of backend_max_conns busy",
		    wconf->connect_timeout_ms, wconf->backend_max_conns);
		return px_error(px, 503, why);
	case PX_RELAY:
		/*
		 * A body that stopped coming is a 408, as before any of it
		 * went to the backend (PX_BODY) and as nginx's
		 * client_body_timeout; a client that stopped reading our
		 * answer is only let go.
		 */
		if (px->wait_client && px_waits_body(px))
			return px_error(px, 408, NULL);
		if (px->wait_client)
			return px_end(px, 0);
		if (!px->resp_byte) {
			backend_report_passive(bt, px->backend, 0,
			    "read timeout");
			return px_error(px, 504, "read timeout");
		}
		if (!px->resp_head)
			return px_error(px, 504, "read timeout");
		return px_fail_mid(px, "read timeout");
	default:
		return px_end(px, 0);
	}
}

/* Re-arm the connection timer for what we are waiting for now. */
static void
px_arm(struct proxy *px)
{
	struct conn	*c = px->c;
	uint64_t	 now;
	int		 out, body;

	if (px->phase == PX_CONNECT || px->phase == PX_WAIT ||
	    px->phase == PX_QUEUE)
		return;
	out = c->out_off < c->out_len || spool_pending(&px->spool) ||
	    (px->sp != NULL && px->sp->len > 0) ||
	    (px->resp_head && px->roff < px->rlen);
	body = px_waits_body(px);
	px->wait_client = out || body || px->phase == PX_ERROR ||
	    px->phase == PX_SEND || px->phase == PX_BODY;
	if (px->wait_client) {
		ev_timer_set(&c->timer, (uint64_t)wconf->client_timeout_ms);
		return;
	}
	/*
	 * The answer's head must come within read_timeout of the request,
	 * however it trickles in (a byte each second would hold us for
	 * ever); its body, within read_timeout of each read, as nginx.
	 */
	if (px->resp_head || !px->req_sent) {
		ev_timer_set(&c->timer, (uint64_t)wconf->read_timeout_ms);
		return;
	}
	now = ev_now_ms();
	if (px->head_by == 0)
		px->head_by = now + (uint64_t)wconf->read_timeout_ms;
	ev_timer_set(&c->timer, px->head_by > now ? px->head_by - now : 0);
}

/*
 * Run the proxy state machine as far as it goes. <may_end> says whether
 * this caller may end the client connection (not from an upstream
 * callback nor from inside request_dispatch()).
 */
static void
px_run(struct proxy *px, int may_end)
{
	int	 rc = STEP_WAIT, any = 0;

	px->may_end = may_end;
	if (px->pending_end) {
		if (may_end)
			px_end(px, px->pending_end == 1);
		return;
	}
	if (px->client_gone) {
		if (px->c->status == 0)
			px->c->status = 499;	/* as nginx logs it */
		px_end(px, 0);
		return;
	}
	if (px->timed_out) {
		px->timed_out = 0;
		px->moved = 0;
		if ((rc = px_on_timeout(px)) == STEP_STOP)
			return;
		any = px->moved;
	}
	for (;;) {
		px->moved = 0;
		switch (px->phase) {
		case PX_CONNECT:
			rc = px_step_connect(px);
			break;
		case PX_RELAY:
			rc = px_step_relay(px);
			break;
		case PX_TUNNEL:
			rc = px_step_tunnel(px);
			break;
		case PX_WAIT:
			rc = STEP_WAIT;
			break;
		case PX_QUEUE:	/* px_slot_put() hands a slot and kicks */
			rc = px->slot == px->backend ? px_open(px, 0) :
			    STEP_WAIT;
			break;
		case PX_SEND:
			rc = px_step_send(px);
			break;
		case PX_BODY:
			rc = px_step_body(px);
			break;
		default:
			rc = px_step_error(px);
			break;
		}
		if (rc == STEP_STOP)
			return;
		any |= px->moved;
		if (rc == STEP_WAIT)
			break;
		any = 1;
	}
	if (any || px->c->timer.deadline == 0)
		px_arm(px);
}

/* A connect that failed for want of our own resources, not the peer's. */
static int
local_shortage(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM || err == EADDRNOTAVAIL;
}

/* log_level debug: who goes where, and why, request by request. */
static void
px_debug_route(struct proxy *px, const char *backend)
{
	const struct http_request	*req = &px->c->r->req;
	char				 peer[64];

	log_debug("proxy: %s %.*s %.*s to backend %s (%s%s)",
	    conn_peer_str(px->c, peer, sizeof(peer)),
	    (int)req->method_str.len, req->method_str.p,
	    (int)MTD_MIN(req->target.len, 200), req->target.p, backend,
	    px->sticky >= 0 && px->ntries == 0 ? "sticky cookie" :
	    conf_strategy_str(wconf->strategy),
	    px->ntries > 0 ? ", retry" : "");
}

/* Every slot of px->backend is taken: wait in line, connect_timeout. */
static int
px_queue(struct proxy *px)
{
	STATS_ADD(backend_waits, 1);
	px->phase = PX_QUEUE;
	px->moved = 1;
	ev_timer_set(&px->c->timer, (uint64_t)wconf->connect_timeout_ms);
	return STEP_PHASE;
}

/*
 * Connect to px->backend (or first pick one when <pick>), retrying
 * other backends while connects fail at once. Under backend_max_conns
 * a slot of the backend comes first: without one, wait in line, and
 * come back here when px_slot_put() hands one over.
 */
static int
px_open(struct proxy *px, int pick)
{
	struct conn			*c = px->c;
	const struct backend_slot	*s;
	struct upstream			*up;
	char				 why[128];
	int				 i, max;

	max = MTD_MIN(backend_count(bt), PX_MAX_TRIES);
	for (;;) {
		if (pick) {
			i = backend_pick(bt, wconf->strategy, c->peer16,
			    px->tried);
			if (i < 0)
				return px_error(px, px->ntries ? 502 : 503,
				    NULL);
			px->backend = i;
			/* A request without Host names its backend: anew. */
			if (c->r->req.host.len == 0 &&
			    px_build_request(px) == -1)
				return px_error(px, 431, NULL);
		}
		pick = 1;
		s = backend_get(bt, px->backend);
		c->upstream = s->name;
		if (px->slot != px->backend) {
			px_slot_put(px);
			if (!bqueue_take(px->backend, &px->queue))
				return px_queue(px);
			px->slot = px->backend;
		}
		if (LOG_DEBUGGING())
			px_debug_route(px, s->name);
		up = upstream_get(px->backend, (const struct sockaddr *)&s->ss,
		    s->sslen, px->fresh, px, px_up_event);
		if (up != NULL)
			break;
		snprintf(why, sizeof(why), "connect: %s", strerror(errno));
		px_warn_backend(px->backend, s->name, why);
		if (local_shortage(errno)) {
			/* Ours, not the backend's: never mark it down. */
			c->keep_alive = 0;
			return px_error(px, 503, NULL);
		}
		backend_report_passive(bt, px->backend, 0, why);
		px->tried |= 1ULL << px->backend;
		px->fresh = 0;
		if (++px->ntries >= max)
			return px_error(px, 502, NULL);
	}
	backend_conn_begin(bt, px->backend);
	px->up = up;
	/* From the start: nothing of the request was dropped yet. */
	px->hoff = 0;
	px->bsend = c->head_len;
	px->fpre_off = px->fpost_off = 0;
	px->req_sent = 0;
	px->head_by = 0;
	px->early_tried = 0;
	px->moved = 1;
	if (upstream_pending(up)) {
		px->phase = PX_CONNECT;
		ev_timer_set(&c->timer, (uint64_t)wconf->connect_timeout_ms);
	} else
		px->phase = PX_RELAY;
	return STEP_PHASE;
}

static void
px_up_event(struct upstream *up, uint32_t events)
{
	px_run(up->owner, 0);
}

static void
proxy_event(struct conn *c, uint32_t events)
{
	struct proxy	*px = c->handler;

	if (px == NULL)
		return;
	/*
	 * A client that reset (or fully closed) is gone for good, unlike
	 * one that half-closed after its request: stop waiting for an
	 * answer nobody will read, and free the backend connection now
	 * rather than at the answer or at read_timeout.
	 */
	if ((events & (EPOLLERR | EPOLLHUP)) && !px->resp_head)
		px->client_gone = 1;
	px_run(px, 1);
}

static void
proxy_timeout(struct conn *c)
{
	struct proxy	*px = c->handler;

	if (px == NULL)
		return;
	if (px->wait_client && !px->kick && !px->pending_end &&
	    conn_client_draining(c))
		return;
	if (px->kick)
		px->kick = 0;
	else if (!px->pending_end)
		px->timed_out = 1;
	px_run(px, 1);
}

static void
proxy_abort(struct conn *c)
{
	struct proxy	*px = c->handler;

	if (px == NULL)
		return;
	px_drop_upstream(px, 0);
	c->handler = NULL;
	px_free(px);
}

void
proxy_start(struct conn *c)
{
	struct proxy		*px;
	int			 rc;

	static unsigned		 earned;

	if ((px = px_alloc()) == NULL) {
		resp_error(c, 500, NULL);
		return;
	}
	/* Earn retry budget in batches: one shared write per 16 requests. */
	if (++earned == 16) {
		backend_retry_earn(bt, earned);
		earned = 0;
	}
	px->c = c;
	rc = pcache_start(&px->pc, c, px->buf, PX_BUF_SIZE);
	if (rc == PCACHE_NOT_STORED) {
		px_not_stored(px);
		return;
	}
	if (rc == PCACHE_HIT && px->pc.body_left == 0) {
		/* The whole answer is in out[]: the connection sends it. */
		px_free(px);
		conn_respond(c);
		return;
	}
	c->hops = &proxy_ops;
	c->handler = px;
	c->state = CS_HANDLER;
	if (rc == PCACHE_WAIT) {
		px->phase = PX_WAIT;
		ev_timer_set(&c->timer, PCACHE_WAIT_MS);
		return;
	}
	/*
	 * We are inside the connection's own read loop: the connection
	 * must survive this call, so px_run() may not end it (may_end 0).
	 */
	if (rc == PCACHE_HIT)
		rc = px_send_begin(px);
	else if (px_body_buffers(c)) {
		px->phase = PX_BODY;
		rc = STEP_PHASE;
	} else
		rc = px_forward(px);
	if (rc != STEP_STOP)
		px_run(px, 0);
}

/*
 * Routing and the access log. A request whose path is a file under htdocs
 * is served locally; anything else goes to a backend when backends are
 * configured, or gets 404.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bsd/string.h>

#include "blacklist.h"
#include "cidr.h"
#include "conn.h"
#include "ev.h"
#include "http.h"
#include "log.h"
#include "pcache.h"
#include "proxy.h"
#include "request.h"
#include "ratelimit.h"
#include "shm.h"
#include "static.h"
#include "status.h"
#include "stats.h"
#include "worker.h"

/*
 * Whether the client is blacklisted now (counted when it is). The
 * version is read first: a list published meanwhile is looked at again
 * at the next request.
 */
static int
blacklisted(struct conn *c)
{
	c->bl_version = blacklist_version();
	if (!blacklist_match(wconf->blacklist, c->peer16))
		return 0;
	STATS_ADD(blocked, 1);
	return 1;
}

int
request_banned_since_check(struct conn *c)
{
	return c->bl_version != blacklist_version() && blacklisted(c);
}

int
request_accept_check(struct conn *c)
{
	if (!blacklisted(c))
		return 0;
	if (conn_ensure_req(c) == -1)
		return -1;
	conn_begin_request(c);
	resp_error(c, 403, NULL);
	return -1;
}

static int
method_known(enum http_method m)
{
	return m != HTTP_M_OTHER;
}

/*
 * "rate_limit_mode log": one line a second at most per worker, naming the
 * client and how many other over-limit requests went unlogged, so that a
 * flood being measured does not also flood the error log.
 */
static void
ratelimit_log(struct conn *c)
{
	static int64_t	 last_us;
	static uint64_t	 quiet;
	char		 peer[64];
	int64_t		 now = ev_now_us();

	if (last_us != 0 && now - last_us < 1000000) {
		quiet++;
		return;
	}
	last_us = now;
	if (quiet == 0)
		log_info("rate limit exceeded by %s (not enforced)",
		    conn_peer_str(c, peer, sizeof(peer)));
	else
		log_info("rate limit exceeded by %s (not enforced; %llu more "
		    "in the last second(s) not logged)",
		    conn_peer_str(c, peer, sizeof(peer)),
		    (unsigned long long)quiet);
	quiet = 0;
}

/*
 * Rate limit, shared by all workers: 0 to go on, 1 when refused (429
 * queued). In "log" mode an over-limit request is counted and logged but
 * served. The RateLimit fields ride on every response of a limited client.
 */
static int
ratelimit_refuse(struct conn *c)
{
	struct rl_result	 rl;
	char			 hdr[128];

	if (!wconf->rate_limit_on ||
	    cidr_set_match(wconf->rate_limit_exempt, c->peer16))
		return 0;
	if (ratelimit_check(shm_ratelimit(), wconf, c->peer16, ev_now_us(),
	    &rl) == 1) {
		conn_set_ratelimit(c, &rl);
		return 0;
	}
	STATS_ADD(limited, 1);
	conn_set_ratelimit(c, &rl);
	if (wconf->rate_limit_mode == RL_MODE_LOG) {
		ratelimit_log(c);
		return 0;
	}
	if (c->r->req.body != HTTP_BODY_NONE)
		c->keep_alive = 0;	/* the body is not read */
	snprintf(hdr, sizeof(hdr), "Retry-After: %ld\r\n", rl.retry_after_s);
	resp_error(c, 429, hdr);
	return 1;
}

/*
 * client_max_body_size against a declared length: refused before any of
 * the body is read and before a 100 Continue could invite it. Chunked
 * bodies are counted as they arrive (proxy.c, php.c).
 */
static int
body_too_large(struct conn *c)
{
	const struct http_request	*req = &c->r->req;

	if (wconf->client_max_body == 0 || req->body != HTTP_BODY_LENGTH ||
	    req->content_length <= wconf->client_max_body)
		return 0;
	c->keep_alive = 0;
	resp_error(c, 413, NULL);
	return 1;
}

void
request_dispatch(struct conn *c)
{
	struct http_request	*req = &c->r->req;
	int			 keep = c->keep_alive;

	/* The list changed since this connection was let in. */
	if (request_banned_since_check(c)) {
		c->keep_alive = 0;
		resp_error(c, 403, NULL);
		return;
	}
	if (req->expect_other) {
		resp_error(c, 417, NULL);
		return;
	}
	if (body_too_large(c))
		return;
	if (ratelimit_refuse(c))
		return;
	/* Local handlers never read a request body: close after them. */
	if (req->body != HTTP_BODY_NONE)
		c->keep_alive = 0;
	if (status_serve(c) != STATUS_NOT_MINE)
		return;
	if (req->method == HTTP_M_PURGE && pcache_purge(c))
		return;
	if (static_serve(c) == STATIC_DONE)
		return;
	c->keep_alive = keep;
	if (proxy_enabled()) {
		proxy_start(c);
		return;
	}
	if (req->body != HTTP_BODY_NONE)
		c->keep_alive = 0;
	if (!method_known(req->method)) {
		resp_error(c, 501, NULL);
		return;
	}
	/* "OPTIONS *" with no backend to ask: what this server takes. */
	if (http_target_options_star(req)) {
		resp_head(c, 200);
		resp_header(c, "Allow: GET, HEAD");
		resp_end_head(c, 0);
		conn_respond(c);
		return;
	}
	resp_error(c, 404, NULL);
}

/* Copy <s> for a quoted log field, escaping quotes and control bytes. */
static size_t
log_escape(char *dst, size_t room, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 n = 0, i;
	unsigned char		 ch;

	for (i = 0; i < len && n + 4 < room; i++) {
		ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x7f) {
			dst[n++] = '\\';
			dst[n++] = 'x';
			dst[n++] = hex[ch >> 4];
			dst[n++] = hex[ch & 15];
		} else
			dst[n++] = (char)ch;
	}
	dst[n] = '\0';
	return n;
}

static const char *
log_time(void)
{
	static char	 buf[64];
	static time_t	 last = -1;
	time_t		 now = ev_wall();
	struct tm	 tm;

	if (now != last) {
		localtime_r(&now, &tm);
		strftime(buf, sizeof(buf), "%d/%b/%Y:%H:%M:%S %z", &tm);
		last = now;
	}
	return buf;
}

static void
log_field(char *dst, size_t room, const struct http_str *s)
{
	if (s == NULL || s->len == 0)
		strlcpy(dst, "-", room);
	else
		log_escape(dst, room, s->p, s->len);
}

void
request_log(struct conn *c, uint64_t us)
{
	char			 line[4096], peer[64], rl[2048];
	char			 ref[512], ua[512];
	struct http_request	*req = &c->r->req;
	int			 n;

	/* A 400 for a bad target or no Host still shows its line, as nginx. */
	if (c->head_done || req->line_read) {
		n = snprintf(rl, sizeof(rl), "%.*s ", (int)req->method_str.len,
		    req->method_str.p);
		/* A method may fill the whole head: the log line is cut. */
		if (n < 0 || (size_t)n >= sizeof(rl))
			n = sizeof(rl) - 1;
		log_escape(rl + n, sizeof(rl) - (size_t)n, req->target.p,
		    req->target.len);
		strlcat(rl, req->minor ? " HTTP/1.1" : " HTTP/1.0",
		    sizeof(rl));
	} else
		strlcpy(rl, "-", sizeof(rl));
	if (c->head_done) {
		log_field(ref, sizeof(ref), http_header_get(req->headers,
		    req->nheaders, "Referer"));
		log_field(ua, sizeof(ua), http_header_get(req->headers,
		    req->nheaders, "User-Agent"));
	} else {
		strlcpy(ref, "-", sizeof(ref));
		strlcpy(ua, "-", sizeof(ua));
	}
	n = snprintf(line, sizeof(line),
	    "%s - - [%s] \"%s\" %d %llu \"%s\" \"%s\" rt=%.3f up=%s "
	    "cache=%s\n", conn_peer_str(c, peer, sizeof(peer)), log_time(),
	    rl, c->status, (unsigned long long)(c->bytes_out > c->head_out ?
	    c->bytes_out - c->head_out : 0), ref, ua,
	    (double)us / 1e6, c->upstream ? c->upstream : "-",
	    c->cache ? c->cache : "-");
	if (n > 0)
		access_log_write(line, MTD_MIN((size_t)n, sizeof(line) - 1));
}

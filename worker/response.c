/*
 * Response heads and error pages, built into the connection's out buffer.
 * Every response gets Server and Date; resp_end_head() decides the
 * Connection header from the connection's keep-alive state so handlers
 * never have to.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "ev.h"
#include "http.h"
#include "httpdate.h"
#include "ratelimit.h"
#include "worker.h"

static void
out_vprintf(struct conn *c, const char *fmt, va_list ap)
{
	size_t	 room = CONN_OUT_SIZE - c->out_len;
	int	 n;

	n = vsnprintf(c->r->out + c->out_len, room, fmt, ap);
	if (n > 0)
		c->out_len += (size_t)n < room ? (uint32_t)n : (uint32_t)room;
}

static void __attribute__((format(printf, 2, 3)))
out_printf(struct conn *c, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	out_vprintf(c, fmt, ap);
	va_end(ap);
}

void
resp_head(struct conn *c, int status)
{
	c->status = status;
	c->out_len = c->out_off = 0;
	out_printf(c, "HTTP/1.1 %d %s\r\nServer: maitred\r\nDate: %s\r\n",
	    status, http_status_reason(status), httpdate_now(ev_wall()));
}

void
resp_header(struct conn *c, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	out_vprintf(c, fmt, ap);
	va_end(ap);
	out_printf(c, "\r\n");
}

void
conn_set_ratelimit(struct conn *c, const struct rl_result *rl)
{
	/* A burst can leave more than the quota; never advertise it. */
	c->rl_limit = (uint32_t)rl->quota;
	c->rl_remaining = (uint32_t)MTD_MIN(rl->remaining, rl->quota);
	c->rl_reset = (uint32_t)MTD_MIN(rl->reset_s, (long)UINT32_MAX);
	c->rl_window = (uint32_t)MTD_MIN(rl->quota_w, (long)UINT32_MAX);
}

#define RL_POLICY	"RateLimit-Policy: \"default\""
#define RL_Q		";q="
#define RL_W		";w="
#define RL_NOW		"RateLimit: \"default\""
#define RL_R		";r="
#define RL_T		";t="
/* The literals, four 32-bit numbers and two CRLFs. */
#define RL_MAX_FIELDS	(sizeof(RL_POLICY RL_Q RL_W RL_NOW RL_R RL_T) - 1 \
			    + 4 * 10 + 2 * 2)

/* <lit> then the decimal <v> at <p>; the end. */
static char *
put_u32(char *p, const char *lit, size_t litlen, uint32_t v)
{
	char	 d[10];
	int	 n = 0;

	memcpy(p, lit, litlen);
	p += litlen;
	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = d[--n];
	return p;
}

#define PUT(p, lit, v)	put_u32((p), (lit), sizeof(lit) - 1, (v))

/*
 * IETF draft-ietf-httpapi-ratelimit-headers (-09 and later) structured
 * fields: the policy (q units per w seconds) and what is left of it now
 * (r units, full again in t seconds).
 *
 * On every response to a limited client: built by hand, as snprintf()
 * alone cost about 2% of a worker's time at 28,000 requests a second.
 */
size_t
conn_ratelimit_fields(const struct conn *c, char *buf, size_t len)
{
	char	*p = buf;

	if (c->rl_limit == 0 || len < RL_MAX_FIELDS)
		return 0;
	p = PUT(p, RL_POLICY RL_Q, c->rl_limit);
	p = PUT(p, RL_W, c->rl_window);
	p = PUT(p, "\r\n" RL_NOW RL_R, c->rl_remaining);
	p = PUT(p, RL_T, c->rl_reset);
	memcpy(p, "\r\n", 2);
	return (size_t)(p + 2 - buf);
}

void
resp_end_head(struct conn *c, int64_t len)
{
	size_t	 n;

	n = conn_ratelimit_fields(c, c->r->out + c->out_len,
	    CONN_OUT_SIZE - c->out_len);
	c->out_len += (uint32_t)n;
	if (len >= 0) {
		out_printf(c, "Content-Length: %lld\r\n", (long long)len);
		c->body_len = (uint64_t)len;
	}
	if (!c->keep_alive)
		out_printf(c, "Connection: close\r\n\r\n");
	else if (c->r->req.minor == 0)
		out_printf(c, "Connection: keep-alive\r\n\r\n");
	else
		out_printf(c, "\r\n");
	c->head_out = c->out_len;
}

int
resp_append(struct conn *c, const void *p, size_t len)
{
	if (len > CONN_OUT_SIZE - c->out_len)
		return -1;
	memcpy(c->r->out + c->out_len, p, len);
	c->out_len += (uint32_t)len;
	return 0;
}

/*
 * A redirect or refusal of a well-framed request leaves the connection
 * usable, as nginx and HAProxy keep it: a client paced by 429s, probing
 * for 404s or sent from /dir to /dir/ should not pay a new handshake. Anything that may leave
 * unread bytes (a parse error, a body the handler did not read) or a
 * server fault closes. Callers clear keep_alive when a body is pending.
 */
static int
error_keeps_alive(const struct conn *c, int status)
{
	if (!c->head_done || !c->keep_alive)
		return 0;
	switch (status) {
	case 301: case 302: case 307: case 308:
	case 403: case 404: case 405: case 410: case 416: case 429:
		return 1;
	default:
		return 0;
	}
}

void
resp_error(struct conn *c, int status, const char *extra_headers)
{
	resp_error_keep(c, status, extra_headers, error_keeps_alive(c, status));
}

void
resp_error_keep(struct conn *c, int status, const char *extra_headers,
    int keep)
{
	char		 body[256];
	const char	*reason = http_status_reason(status);
	int		 n;

	n = snprintf(body, sizeof(body), "<html><head><title>%d %s</title>"
	    "</head><body><h1>%d %s</h1></body></html>\n",
	    status, reason, status, reason);
	if (!keep || !c->head_done)
		c->keep_alive = 0;
	resp_head(c, status);
	out_printf(c, "Content-Type: text/html; charset=utf-8\r\n");
	if (extra_headers != NULL)
		out_printf(c, "%s", extra_headers);
	resp_end_head(c, n);
	if (c->head_done && c->r->req.method == HTTP_M_HEAD)
		c->body_len = 0;
	else
		resp_append(c, body, (size_t)n);
	conn_respond(c);
}

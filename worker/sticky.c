/*
 * Sticky-session cookies. Tokens are 16 hex digits of SipHash-2-4 over the
 * backend's name, keyed with the backend table's random key (kept across
 * reloads), so clients cannot forge a token for a backend they were never
 * sent to, nor learn its address.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "backend.h"
#include "http.h"
#include "siphash.h"
#include "sticky.h"
#include "worker.h"

#define TOKEN_LEN	16

static void
token_of(struct backend_table *t, int i, char out[TOKEN_LEN + 1])
{
	const char	*name = backend_get(t, i)->name;
	uint64_t	 h;

	h = siphash24(name, strlen(name), t->hash_key);
	snprintf(out, TOKEN_LEN + 1, "%016llx", (unsigned long long)h);
}

/* Find NAME=value in one Cookie field value; 1 and <val> when found. */
static int
cookie_find(const struct http_str *v, const char *name, struct http_str *val)
{
	const char	*p = v->p, *end = v->p + v->len, *eq, *semi;
	size_t		 nlen = strlen(name);

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
			p++;
		semi = memchr(p, ';', (size_t)(end - p));
		if (semi == NULL)
			semi = end;
		eq = memchr(p, '=', (size_t)(semi - p));
		if (eq != NULL && (size_t)(eq - p) == nlen &&
		    memcmp(p, name, nlen) == 0) {
			val->p = eq + 1;
			val->len = (size_t)(semi - eq - 1);
			return 1;
		}
		p = semi;
	}
	return 0;
}

int
sticky_backend(struct backend_table *t, const struct http_request *req)
{
	const char	*name = wconf->sticky_cookie;
	struct http_str	 val;
	char		 tok[TOKEN_LEN + 1];
	int		 i, h, n = backend_count(t);

	for (h = 0; h < req->nheaders; h++) {
		if (req->headers[h].name.len != 6 ||
		    strncasecmp(req->headers[h].name.p, "Cookie", 6) != 0 ||
		    !cookie_find(&req->headers[h].value, name, &val) ||
		    val.len != TOKEN_LEN)
			continue;
		for (i = 0; i < n; i++) {
			token_of(t, i, tok);
			if (memcmp(val.p, tok, TOKEN_LEN) == 0)
				return backend_is_up(t, i) ? i : -1;
		}
	}
	return -1;
}

int
sticky_field(struct backend_table *t, int i, int secure, char *buf,
    size_t len)
{
	char	 tok[TOKEN_LEN + 1];
	int	 n;

	/* Over HTTPS the cookie must not leak onto plain HTTP. */
	token_of(t, i, tok);
	n = snprintf(buf, len, "Set-Cookie: %s=%s; Path=/; HttpOnly; "
	    "SameSite=Lax%s\r\n", wconf->sticky_cookie, tok,
	    secure ? "; Secure" : "");
	return n > 0 && (size_t)n < len ? n : -1;
}

/*
 * The digest of the request fields a response's Vary names (vary.h).
 * SHA-256, cut to CACHE_VARIANT_LEN bytes: request fields such as Cookie
 * come from clients, and a digest they could make collide would let one
 * client be answered with another's variant.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "vary.h"

void
vary_init(struct vary *v)
{
	memset(v, 0, sizeof(*v));
	SHA256Init(&v->sha);
}

/* The field name, lower-cased, and a ':' after it. */
static void
vary_hash_name(struct vary *v, const char *name, size_t len)
{
	char	 buf[64];
	size_t	 i, n;

	while (len > 0) {
		n = len < sizeof(buf) ? len : sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = (char)tolower((unsigned char)name[i]);
		SHA256Update(&v->sha, (const uint8_t *)buf, n);
		name += n;
		len -= n;
	}
	SHA256Update(&v->sha, (const uint8_t *)":", 1);
}

/*
 * Name then every value of that field in <req>, each followed by a
 * comma (so "absent" and "empty" differ), then a newline.
 */
static void
vary_hash_field(struct vary *v, const struct http_request *req,
    const char *name, size_t len)
{
	const struct http_header	*h;
	int				 i;

	vary_hash_name(v, name, len);
	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		if (h->name.len != len || strncasecmp(h->name.p, name, len) != 0)
			continue;
		SHA256Update(&v->sha, (const uint8_t *)h->value.p, h->value.len);
		SHA256Update(&v->sha, (const uint8_t *)",", 1);
	}
	SHA256Update(&v->sha, (const uint8_t *)"\n", 1);
	v->fields++;
}

void
vary_add(struct vary *v, const struct http_request *req, const char *p,
    size_t len)
{
	struct http_list	 it;
	struct http_str		 name = { p, len };

	http_list_init(&it, name);
	while (http_list_next(&it, &name)) {
		if (name.len == 0)
			continue;
		if (name.len == 1 && name.p[0] == '*')
			v->star = 1;
		else if (name.len == 15 &&
		    strncasecmp(name.p, "accept-encoding", 15) == 0)
			v->accept_encoding = 1;
		else if (req != NULL)
			vary_hash_field(v, req, name.p, name.len);
	}
}

void
vary_final(struct vary *v, uint8_t out[CACHE_VARIANT_LEN])
{
	uint8_t	 d[SHA256_DIGEST_LENGTH];

	SHA256Final(d, &v->sha);
	if (v->fields == 0)
		memset(out, 0, CACHE_VARIANT_LEN);
	else {
		memcpy(out, d, CACHE_VARIANT_LEN);
		/* A real digest of all zeros would read as "no Vary". */
		if (vary_none(out))
			out[0] = 1;
	}
}

int
vary_none(const uint8_t d[CACHE_VARIANT_LEN])
{
	size_t	 i;

	for (i = 0; i < CACHE_VARIANT_LEN; i++)
		if (d[i] != 0)
			return 0;
	return 1;
}

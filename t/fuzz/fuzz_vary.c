/*
 * libFuzzer target for worker/vary.c. The input's first line is a Vary
 * value (as a backend sends it), the rest the header fields of a request.
 * Invariants, besides finishing without a sanitizer report:
 *   - the digest is a function of its input (twice the same);
 *   - splitting the list at a comma into two Vary lines changes nothing;
 *   - the case of the names in Vary changes nothing;
 *   - no more names are digested than the list has members, and the
 *     digest is all zeros exactly when none was.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "vary.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char			 head[MTD_MAX_HEAD + 64];
static struct http_request	 req;

static void
digest(const char *a, size_t alen, const char *b, size_t blen,
    uint8_t out[CACHE_VARIANT_LEN], struct vary *v)
{
	vary_init(v);
	vary_add(v, &req, a, alen);
	if (b != NULL)
		vary_add(v, &req, b, blen);
	vary_final(v, out);
}

static void
check(const char *vl, size_t vlen)
{
	uint8_t		 d1[CACHE_VARIANT_LEN], d2[CACHE_VARIANT_LEN];
	struct vary	 v1, v2;
	const char	*comma;
	char		*up;
	size_t		 i, members = 1;

	digest(vl, vlen, NULL, 0, d1, &v1);
	digest(vl, vlen, NULL, 0, d2, &v2);
	if (memcmp(d1, d2, sizeof(d1)) != 0)
		abort();
	for (i = 0; i < vlen; i++)
		members += vl[i] == ',' || vl[i] == ' ' || vl[i] == '\t';
	if ((size_t)v1.fields > members || (v1.fields == 0) != vary_none(d1))
		abort();
	if ((comma = memchr(vl, ',', vlen)) != NULL) {
		i = (size_t)(comma - vl);
		digest(vl, i, comma + 1, vlen - i - 1, d2, &v2);
		if (memcmp(d1, d2, sizeof(d1)) != 0)
			abort();
	}
	if ((up = malloc(vlen + 1)) == NULL)
		return;
	for (i = 0; i < vlen; i++)
		up[i] = (char)toupper((unsigned char)vl[i]);
	digest(up, vlen, NULL, 0, d2, &v2);
	if (memcmp(d1, d2, sizeof(d1)) != 0)
		abort();
	free(up);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*nl = memchr(data, '\n', size);
	size_t		 vlen, flen, n;
	int		 status;

	vlen = nl != NULL ? (size_t)(nl - data) : size;
	flen = size - vlen - (nl != NULL);
	n = sizeof("GET / HTTP/1.1\r\n") - 1;
	if (flen + n + 2 > sizeof(head))
		return 0;
	memcpy(head, "GET / HTTP/1.1\r\n", n);
	memcpy(head + n, data + vlen + (nl != NULL), flen);
	memcpy(head + n + flen, "\r\n", 2);
	memset(&req, 0, sizeof(req));
	if (http_parse_request(head, n + flen + 2, &req, &status) <= 0)
		req.nheaders = 0;	/* still digest: every field absent */
	check((const char *)data, vlen);
	return 0;
}

/*
 * libFuzzer target for worker/http.c. The input is parsed as a request
 * head, a response head and a chunked body. Results must be in range,
 * every returned string must lie inside the head, framing fields must
 * agree with the body kind, more bytes after the input must not change a
 * verdict, and the chunked scanner must give the same answer whether fed
 * in one call or one byte at a time (the decoder too, with the same data).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

static const char	 suffix[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n\r\n";

static void
check_str(const struct http_str *s, const char *buf, size_t len)
{
	if (s->len == 0)
		return;
	CHECK(s->p >= buf && s->p + s->len <= buf + len);
}

static void
check_headers(const struct http_header *h, int n, const char *buf,
    size_t len)
{
	int	 i;

	CHECK(n >= 0 && n <= MTD_MAX_HEADERS);
	for (i = 0; i < n; i++) {
		CHECK(h[i].name.len > 0);
		check_str(&h[i].name, buf, len);
		check_str(&h[i].value, buf, len);
	}
}

static void
check_request(const struct http_request *r, const char *buf, size_t len)
{
	check_str(&r->method_str, buf, len);
	check_str(&r->target, buf, len);
	check_str(&r->path, buf, len);
	check_str(&r->query, buf, len);
	check_str(&r->host, buf, len);
	check_str(&r->if_none_match, buf, len);
	check_str(&r->if_modified_since, buf, len);
	check_str(&r->range, buf, len);
	check_str(&r->if_range, buf, len);
	check_headers(r->headers, r->nheaders, buf, len);
	CHECK(r->method_str.len > 0 && r->target.len > 0 && r->path.len > 0);
	CHECK(r->target.len <= MTD_MAX_TARGET);
	CHECK(r->method == http_method_parse(r->method_str.p,
	    r->method_str.len));
	CHECK(r->minor == 0 || r->minor == 1);
	CHECK(r->minor == 0 || http_header_get(r->headers, r->nheaders,
	    "host") != NULL);
	switch (r->body) {
	case HTTP_BODY_NONE:
		CHECK(r->content_length == 0);
		break;
	case HTTP_BODY_LENGTH:
		CHECK(r->content_length > 0 &&
		    r->content_length <= UINT64_C(1) << 62);
		break;
	case HTTP_BODY_CHUNKED:
		CHECK(r->content_length == 0 && r->minor == 1);
		CHECK(http_header_get(r->headers, r->nheaders,
		    "content-length") == NULL);
		break;
	default:
		abort();
	}
	CHECK(r->keep_alive == 0 || r->keep_alive == 1);
	CHECK(!r->expect_continue || r->minor == 1);
}

/* The same bytes followed by more: a verdict, once given, stands. */
static void
check_suffix(const char *buf, size_t size, int rc, int status)
{
	static struct http_request	 r2;
	char				*more;
	int				 rc2, status2 = 0;

	if (rc == HTTP_INCOMPLETE)
		return;
	more = malloc(size + sizeof(suffix));
	memcpy(more, buf, size);
	memcpy(more + size, suffix, sizeof(suffix));
	rc2 = http_parse_request(more, size + sizeof(suffix) - 1, &r2,
	    &status2);
	CHECK(rc2 == rc);
	CHECK(rc != HTTP_ERROR || status2 == status);
	free(more);
}

/* Every strict prefix of a complete head is still INCOMPLETE. */
static void
check_prefixes(const char *buf, int head)
{
	static struct http_request	 r2;
	int				 n, status, step;

	step = head > 512 ? head / 97 + 1 : 1;
	for (n = 0; n < head; n += step)
		CHECK(http_parse_request(buf, n, &r2, &status) ==
		    HTTP_INCOMPLETE);
	CHECK(http_parse_request(buf, head - 1, &r2, &status) ==
	    HTTP_INCOMPLETE);
}

static void
fuzz_request(const char *buf, size_t size)
{
	static struct http_request	 r;
	int				 rc, status = 0;

	rc = http_parse_request(buf, size, &r, &status);
	CHECK(rc == HTTP_INCOMPLETE || rc == HTTP_ERROR ||
	    (rc > 0 && (size_t)rc <= size && rc <= MTD_MAX_HEAD));
	if (rc == HTTP_ERROR)
		CHECK(status == 400 || status == 414 || status == 431 ||
		    status == 501 || status == 505);
	if (rc > 0) {
		check_request(&r, buf, rc);
		check_prefixes(buf, rc);
	}
	check_suffix(buf, size, rc, status);
}

static void
fuzz_response(const char *buf, size_t size)
{
	static struct http_response	 r;
	enum http_method		 m;
	int				 rc;

	m = size > 0 ? (enum http_method)((unsigned char)buf[size - 1] %
	    (HTTP_M_PURGE + 1)) : HTTP_M_GET;
	rc = http_parse_response(buf, size, m, &r);
	CHECK(rc == HTTP_INCOMPLETE || rc == HTTP_ERROR ||
	    (rc > 0 && (size_t)rc <= size));
	if (rc <= 0)
		return;
	CHECK(r.status >= 100 && r.status <= 999);
	check_str(&r.reason, buf, rc);
	check_headers(r.headers, r.nheaders, buf, rc);
	CHECK(r.body == HTTP_BODY_LENGTH ? r.content_length > 0 :
	    r.content_length == 0);
	CHECK(r.body != HTTP_BODY_CLOSE || r.keep_alive == 0);
	CHECK(r.body == HTTP_BODY_NONE || (r.status >= 200 &&
	    r.status != 204 && r.status != 304 && m != HTTP_M_HEAD));
}

/* One call vs one byte per call: same verdict, same length, same data. */
static void
fuzz_chunked(const char *buf, size_t size)
{
	struct http_chunked	 whole, bytes;
	char			*copy, *data, b;
	size_t			 used, out, total = 0, nout = 0, u, o, i;
	int			 rc, rc2 = 0;

	http_chunked_init(&whole);
	rc = http_chunked_scan(&whole, buf, size, &used);
	CHECK(rc >= -1 && rc <= 1 && used <= size);
	CHECK(rc != 0 || used == size);

	copy = malloc(size + 1);
	data = malloc(size + 1);
	memcpy(copy, buf, size);
	http_chunked_init(&whole);
	CHECK(http_chunked_decode(&whole, copy, size, &u, &out) == rc);
	CHECK(u == used && out <= used);

	http_chunked_init(&bytes);
	for (i = 0; i < size && rc2 == 0; i++) {
		b = buf[i];
		rc2 = http_chunked_decode(&bytes, &b, 1, &u, &o);
		CHECK(u <= 1 && o <= u);
		total += u;
		if (o == 1)
			data[nout++] = b;
	}
	CHECK(rc2 == rc && total == used);
	CHECK(nout == out && memcmp(data, copy, out) == 0);
	free(copy);
	free(data);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*buf = (const char *)data;

	fuzz_request(buf, size);
	fuzz_response(buf, size);
	fuzz_chunked(buf, size);
	return 0;
}

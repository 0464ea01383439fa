/*
 * gzip.c: gz_feed() round trips through inflate (plain and chunk-framed,
 * many sizes, 1-byte output buffers, 1-byte input pieces), and the
 * negotiation helpers (Accept-Encoding with q values, gzip_types).
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "conf.h"
#include "gzip.h"
#include "http.h"
#include "tap.h"
#include "worker.h"

/* Undo chunked framing in place; -1 on bad framing or no last chunk. */
static long
dechunk(unsigned char *b, size_t len)
{
	size_t	 i = 0, o = 0, n;
	char	*end;

	for (;;) {
		if (i >= len)
			return -1;
		n = strtoul((char *)b + i, &end, 16);
		i = (size_t)((unsigned char *)end - b);
		if (i + 2 > len || b[i] != '\r' || b[i + 1] != '\n')
			return -1;
		i += 2;
		if (n == 0)
			return i + 2 == len && b[i] == '\r' &&
			    b[i + 1] == '\n' ? (long)o : -1;
		if (i + n + 2 > len || b[i + n] != '\r' || b[i + n + 1] != '\n')
			return -1;
		memmove(b + o, b + i, n);
		o += n;
		i += n + 2;
	}
}

/* Inflate gzip <z>/<zlen>; compare with <want>/<wlen>. */
static int
inflates_to(const unsigned char *z, size_t zlen, const unsigned char *want,
    size_t wlen)
{
	z_stream	 zs;
	unsigned char	*out = malloc(wlen + 16);
	int		 rc, same;

	memset(&zs, 0, sizeof(zs));
	if (out == NULL || inflateInit2(&zs, 15 + 16) != Z_OK)
		return 0;
	zs.next_in = (unsigned char *)(uintptr_t)z;
	zs.avail_in = (uInt)zlen;
	zs.next_out = out;
	zs.avail_out = (uInt)wlen + 16;
	rc = inflate(&zs, Z_FINISH);
	same = rc == Z_STREAM_END && zs.total_out == wlen &&
	    zs.avail_in == 0 && memcmp(out, want, wlen) == 0;
	inflateEnd(&zs);
	free(out);
	return same;
}

/* Compress <in> with <inpiece>-byte input and <outcap>-byte output. */
static int
round_trip(const unsigned char *in, size_t len, int chunked, size_t inpiece,
    size_t outcap)
{
	struct gz_stream	*gz = malloc(sizeof(*gz));
	size_t			 cap = len + len / 2 + 4096, zlen = 0, off = 0;
	size_t			 cons, prod, give, loops = 0;
	unsigned char		*z = malloc(cap);
	long			 dl;
	int			 rc = 0, okay;

	if (gz == NULL || z == NULL || gz_init(gz, 5, chunked) == -1)
		return 0;
	while (rc == 0 && loops++ < 50000000) {
		give = MTD_MIN(inpiece, len - off);
		rc = gz_feed(gz, in + off, give, z + zlen,
		    MTD_MIN(outcap, cap - zlen), &cons, &prod,
		    off + give == len);
		off += cons;
		zlen += prod;
	}
	gz_free(gz);
	okay = rc == 1 && off == len;
	if (okay && chunked) {
		dl = dechunk(z, zlen);
		okay = dl >= 0;
		zlen = dl >= 0 ? (size_t)dl : 0;
	}
	okay = okay && inflates_to(z, zlen, in, len);
	free(gz);
	free(z);
	return okay;
}

static void
test_round_trips(void)
{
	static const size_t	 sizes[] = {
		0, 1, 2, 100, 255, 4096, 8191, 8192, 8193, 65536, 300000,
	};
	unsigned char		*text, *noise;
	size_t			 i, max = 300000;
	uint32_t		 x = 12345;

	text = malloc(max);
	noise = malloc(max);
	for (i = 0; i < max; i++) {
		text[i] = (unsigned char)("lorem ipsum dolor sit amet\n"[i %
		    27]);
		x = x * 1103515245 + 12345;
		noise[i] = (unsigned char)(x >> 16);
	}
	for (i = 0; i < MTD_ARRLEN(sizes); i++) {
		ok(round_trip(text, sizes[i], 0, 16384, 16384),
		    "text %zu bytes, plain", sizes[i]);
		ok(round_trip(text, sizes[i], 1, 16384, 16384),
		    "text %zu bytes, chunked", sizes[i]);
		ok(round_trip(noise, sizes[i], 1, 4000, 16384),
		    "noise %zu bytes, chunked", sizes[i]);
		ok(round_trip(noise, sizes[i], 1, sizes[i] + 1, 1),
		    "noise %zu bytes, chunked, 1-byte output", sizes[i]);
	}
	ok(round_trip(text, 5000, 1, 1, 1), "1-byte input and output");
	ok(round_trip(noise, 70000, 0, 7, 3), "7-byte input, 3-byte output");
	free(text);
	free(noise);
}

static int
accepts(const char *value)
{
	struct http_request	 req;

	memset(&req, 0, sizeof(req));
	if (value != NULL) {
		req.headers[0].name.p = "Accept-Encoding";
		req.headers[0].name.len = 15;
		req.headers[0].value.p = value;
		req.headers[0].value.len = strlen(value);
		req.nheaders = 1;
	}
	return gz_accepts(&req);
}

static void
test_accept(void)
{
	ok(!accepts(NULL), "no Accept-Encoding");
	ok(accepts("gzip"), "gzip");
	ok(accepts("GZip, deflate, br"), "case, list");
	ok(accepts("deflate, gzip;q=0.5"), "q=0.5");
	ok(!accepts("gzip;q=0"), "q=0");
	ok(!accepts("gzip; q=0.000, deflate"), "q=0.000");
	ok(!accepts("deflate, br"), "not listed");
	ok(accepts("*"), "star");
	ok(!accepts("*, gzip;q=0"), "star, but gzip refused");
	ok(!accepts("*;q=0"), "star q=0");
	ok(accepts("x-gzip"), "x-gzip");
	ok(!accepts("gzipx, xgzip"), "no prefix matches");
	ok(!accepts("identity"), "identity only");
}

static void
test_types(void)
{
	ok(gz_type_matches("text/html; charset=utf-8", 24), "text/html;...");
	ok(gz_type_matches("text/plain", 10), "text/plain");
	ok(gz_type_matches("application/json", 16), "application/json");
	ok(gz_type_matches("Image/SVG+xml", 13), "image/svg+xml, case");
	ok(!gz_type_matches("image/png", 9), "image/png");
	ok(!gz_type_matches("application/gzip", 16), "application/gzip");
	ok(!gz_type_matches("text", 4), "bare text");
	ok(!gz_type_matches("application/jsonx", 17), "no prefix for exact");
}

int
main(void)
{
	static struct conf	 conf;

	conf_defaults(&conf);
	conf.gzip_on = 1;
	wconf = &conf;
	test_round_trips();
	test_accept();
	test_types();
	return done_testing();
}

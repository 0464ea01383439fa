/*
 * libFuzzer target for the chunked-body scanner and decoder of
 * worker/http.c. For every input:
 *  - http_chunked_scan and http_chunked_decode agree on the verdict and
 *    on <used>; the decoder's output never exceeds <used>;
 *  - a small reference decoder written here (byte-exact reading of the
 *    rules documented in http.h: at most 15 significant hex digits,
 *    size line of at most 4096 bytes, BWS only before ';', bare LF ends
 *    a line except after an extension, a quoted string in an extension
 *    closes before the line end, trailers validated and dropped)
 *    gives the same verdict, the same <used> and the same data; in
 *    particular the decoded length is the sum of the chunk sizes;
 *  - feeding the input in one call, one byte per call, or in pieces
 *    whose sizes come from the input gives identical results;
 *  - a verdict (complete or bad) is sticky: more bytes change nothing;
 *  - relayed (CRLF only) and complete, the trailer section is the tail
 *    of <used> that http_chunked_trailer_len() gives; filtered, it is
 *    still a section the scanner takes whole, and a second filtering
 *    changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

#define REF_MAX_DIGITS	15
#define REF_MAX_LINE	4096
#define REF_MAX_TRAILER	MTD_MAX_HEAD

static int
ref_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
ref_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* HTAB, SP, VCHAR, obs-text */
static int
ref_field(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/*
 * Reference decoder over the whole input at once. Returns 1 complete,
 * 0 need more, -1 bad; <*used> as the product's (on -1: the offset of
 * the offending byte); data bytes appended to <out> (<*nout>).
 */
static int
ref_decode(const unsigned char *b, size_t n, size_t *used, char *out,
    size_t *nout)
{
	size_t		 i = 0, line_start, trailer_start, k;
	uint64_t	 size;
	int		 digits, h;

	*nout = 0;
#define NEED()	do { if (i >= n) { *used = n; return 0; } } while (0)
#define BAD()	do { *used = i; return -1; } while (0)
#define LINE_OK() do { if (i - line_start + 1 > REF_MAX_LINE) BAD(); } while (0)
	for (;;) {
		/* chunk-size line */
		line_start = i;
		size = 0;
		digits = 0;
		NEED();
		LINE_OK();
		if (ref_hex(b[i]) < 0)
			BAD();
		while (i < n && (h = ref_hex(b[i])) >= 0) {
			LINE_OK();
			if ((size != 0 || h != 0) && ++digits > REF_MAX_DIGITS)
				BAD();
			size = size << 4 | (uint64_t)h;
			i++;
		}
		NEED();
		LINE_OK();
		if (b[i] == ' ' || b[i] == '\t') {
			while (i < n && (b[i] == ' ' || b[i] == '\t')) {
				LINE_OK();
				i++;
			}
			NEED();
			LINE_OK();
			if (b[i] != ';')
				BAD();
		}
		if (b[i] == ';') {
			/*
			 * extension: field bytes up to CR, then LF; a quoted
			 * string (with backslash pairs) closes before the CR
			 */
			int	 quoted = 0;

			i++;
			for (;;) {
				NEED();
				LINE_OK();
				if (b[i] == '\r' && !quoted)
					break;
				if (!ref_field(b[i]))
					BAD();
				if (b[i] == '"')
					quoted = !quoted;
				else if (b[i] == '\\' && quoted) {
					i++;
					NEED();
					LINE_OK();
					if (!ref_field(b[i]))
						BAD();
				}
				i++;
			}
		}
		if (b[i] == '\r') {
			i++;
			NEED();
			LINE_OK();
			if (b[i] != '\n')
				BAD();
			i++;
		} else if (b[i] == '\n')
			i++;
		else
			BAD();
		if (size == 0)
			break;
		/* data */
		k = n - i < size ? n - i : (size_t)size;
		memcpy(out + *nout, b + i, k);
		*nout += k;
		i += k;
		if (k < size) {
			*used = n;
			return 0;
		}
		NEED();
		if (b[i] == '\r') {
			i++;
			NEED();
			if (b[i] != '\n')
				BAD();
			i++;
		} else if (b[i] == '\n')
			i++;
		else
			BAD();
	}
	/* trailer section, then the empty line */
	trailer_start = i;
#define TR_OK() do { if (i - trailer_start + 1 > REF_MAX_TRAILER) BAD(); } while (0)
	for (;;) {
		NEED();
		TR_OK();
		if (b[i] == '\n') {
			*used = i + 1;
			return 1;
		}
		if (b[i] == '\r') {
			i++;
			NEED();
			TR_OK();
			if (b[i] != '\n')
				BAD();
			*used = i + 1;
			return 1;
		}
		if (!ref_tchar(b[i]))
			BAD();
		while (i < n && ref_tchar(b[i])) {
			TR_OK();
			i++;
		}
		NEED();
		TR_OK();
		if (b[i] != ':')
			BAD();
		i++;
		for (;;) {
			NEED();
			TR_OK();
			if (b[i] == '\n') {
				i++;
				break;
			}
			if (b[i] == '\r') {
				i++;
				NEED();
				TR_OK();
				if (b[i] != '\n')
					BAD();
				i++;
				break;
			}
			if (!ref_field(b[i]))
				BAD();
			i++;
		}
	}
#undef NEED
#undef BAD
#undef LINE_OK
#undef TR_OK
}

/* Feed <buf> in pieces; sizes taken from <sizes> cyclically (0 -> 1). */
static int
feed(const char *buf, size_t size, const uint8_t *sizes, size_t nsizes,
    size_t *used, char *data, size_t *ndata)
{
	struct http_chunked	 ch;
	char			*piece;
	size_t			 i = 0, k = 0, len, u, o;
	int			 rc = 0;

	http_chunked_init(&ch);
	*used = *ndata = 0;
	piece = malloc(size + 1);
	while (i < size && rc == 0) {
		len = nsizes > 0 ? sizes[k++ % nsizes] % 17 : 1;
		if (len == 0)
			len = 1;
		if (len > size - i)
			len = size - i;
		memcpy(piece, buf + i, len);
		rc = http_chunked_decode(&ch, piece, len, &u, &o);
		CHECK(rc >= -1 && rc <= 1);
		CHECK(u <= len && o <= u);
		CHECK(rc != 0 || u == len);
		memcpy(data + *ndata, piece, o);
		*ndata += o;
		*used += u;
		i += len;
	}
	/* sticky verdict: nothing more is taken */
	if (rc != 0) {
		len = size < 5 ? size : 5;
		memcpy(piece, "0\r\n\r\n", len);
		CHECK(http_chunked_decode(&ch, piece, len, &u, &o) == rc &&
		    u == 0 && o == 0);
	}
	free(piece);
	return rc;
}

/* The trailer section of a relayed body, before and after filtering. */
static void
check_trailers(const char *buf, size_t size)
{
	struct http_chunked	 ch;
	char			*t;
	size_t			 used, tl, n, u;

	http_chunked_init_relayed(&ch);
	if (http_chunked_scan(&ch, buf, size, &used) != 1)
		return;
	tl = http_chunked_trailer_len(&ch);
	CHECK(tl >= 2 && tl <= used);
	CHECK(memcmp(buf + used - 2, "\r\n", 2) == 0);
	t = malloc(tl + 3);
	memcpy(t, "0\r\n", 3);
	memcpy(t + 3, buf + used - tl, tl);
	n = http_trailers_filter(t + 3, tl);
	CHECK(n >= 2 && n <= tl);
	http_chunked_init_relayed(&ch);
	CHECK(http_chunked_scan(&ch, t, n + 3, &u) == 1 && u == n + 3);
	CHECK(http_chunked_trailer_len(&ch) == n);
	CHECK(http_trailers_filter(t + 3, n) == n);
	free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*buf = (const char *)data;
	struct http_chunked	 ch;
	char			*copy, *ref, *bytes, *pieces;
	size_t			 used, u2, out, ref_used, ref_out, b_used;
	size_t			 b_out, p_used, p_out;
	int			 rc, rc_dec, rc_ref, rc_b, rc_p;

	copy = malloc(size + 1);
	ref = malloc(size + 1);
	bytes = malloc(size + 1);
	pieces = malloc(size + 1);

	/* scan vs decode, one shot */
	http_chunked_init(&ch);
	rc = http_chunked_scan(&ch, buf, size, &used);
	CHECK(rc >= -1 && rc <= 1 && used <= size);
	CHECK(rc != 0 || used == size);
	memcpy(copy, buf, size);
	http_chunked_init(&ch);
	rc_dec = http_chunked_decode(&ch, copy, size, &u2, &out);
	CHECK(rc_dec == rc && u2 == used && out <= used);

	/* reference: same verdict, same used, same data */
	rc_ref = ref_decode(data, size, &ref_used, ref, &ref_out);
	CHECK(rc_ref == rc);
	CHECK(ref_used == used);
	CHECK(ref_out == out && memcmp(ref, copy, out) == 0);

	/* byte by byte, and in input-sized pieces */
	rc_b = feed(buf, size, NULL, 0, &b_used, bytes, &b_out);
	CHECK(rc_b == rc && b_used == used && b_out == out &&
	    memcmp(bytes, copy, out) == 0);
	rc_p = feed(buf, size, data, size, &p_used, pieces, &p_out);
	CHECK(rc_p == rc && p_used == used && p_out == out &&
	    memcmp(pieces, copy, out) == 0);
	check_trailers(buf, size);

	free(copy);
	free(ref);
	free(bytes);
	free(pieces);
	return 0;
}

/*
 * libFuzzer target for the CGI header-block parser, worker/cgihead.c:
 * what php-cgi writes on stdout and php-fpm in FCGI_STDOUT before the
 * body.
 *
 * The first byte picks the buffer (bit 0: the 8192 bytes of php.c, or a
 * small one of 1-128 bytes, so that "too long" is reached) and, with the
 * second, seeds the splits; the rest is the script's output.
 * cgi_head_add():
 *  - the block ends exactly at the first empty line as a reference
 *    finds it here (LF or CR LF at the start or after a LF), and is "too
 *    long" exactly when that line does not end within the buffer;
 *  - the output fed whole or in pieces of pseudo-random size gives the
 *    same verdict, the same block and the same bytes used; every strict
 *    prefix of a complete block is "more";
 *  - the block is a copy of the output's first bytes.
 * cgi_head_line() / cgi_head_split() over a complete block:
 *  - the lines end exactly at the block's end;
 *  - a split field has a token name and a value with no blank at
 *    either end and no control byte but HTAB.
 * cgi_head_parse():
 *  - agrees with a reference written here from RFC 3875 6.2 and the
 *    rules of php.c: the verdict, Status (200-599; else 302 with a
 *    Location, 200), Content-Type (the last non-empty one, inside the
 *    block), Content-Encoding and Content-Length (-1 none, -2 bad or
 *    conflicting).
 * The warnings go to /dev/null (log_open), fd 2 stays libFuzzer's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cgihead.h"
#include "log.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

#define HDR_MAX		8192	/* PHP_HDR_MAX of php.c */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	CHECK(log_open("/dev/null") == 0);
	return 0;
}

static uint32_t
rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

/* Offset just past the first empty line, or 0 when there is none. */
static size_t
ref_end(const char *d, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (d[i] != '\n')
			continue;
		if (i == 0 || d[i - 1] == '\n' || (i == 1 && d[0] == '\r') ||
		    (i >= 2 && d[i - 1] == '\r' && d[i - 2] == '\n'))
			return i + 1;
	}
	return 0;
}

static int
ref_tchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
ref_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int
ieq(const char *p, size_t n, const char *lit)
{
	return n == strlen(lit) && strncasecmp(p, lit, n) == 0;
}

/* Content-Length <v>/<n> after <prev> (-1 none, -2 bad). */
static int64_t
ref_clen(const char *v, size_t n, int64_t prev)
{
	int64_t	 x = 0;
	size_t	 i;

	if (prev == -2 || n == 0 || n > 18)
		return -2;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -2;
		x = x * 10 + (v[i] - '0');
	}
	return prev == -1 || prev == x ? x : -2;
}

/* One field: 0, or -1 for a bad Status. */
static int
ref_field(struct cgi_head *h, int *loc, const char *name, size_t nl,
    const char *v, size_t vl)
{
	if (ieq(name, nl, "status")) {
		if (vl < 3 || (vl > 3 && v[3] != ' '))
			return -1;
		if (v[0] < '0' || v[0] > '9' || v[1] < '0' || v[1] > '9' ||
		    v[2] < '0' || v[2] > '9')
			return -1;
		h->status = (v[0] - '0') * 100 + (v[1] - '0') * 10 +
		    (v[2] - '0');
		if (h->status < 200 || h->status > 599)
			return -1;
	} else if (ieq(name, nl, "location"))
		*loc = 1;
	else if (ieq(name, nl, "content-type")) {
		if (vl > 0) {
			h->ct = v;
			h->ctlen = vl;
		}
	} else if (ieq(name, nl, "content-encoding"))
		h->encoded = 1;
	else if (ieq(name, nl, "content-length"))
		h->clen = ref_clen(v, vl, h->clen);
	return 0;
}

static int
ref_parse(const char *b, size_t blen, struct cgi_head *h)
{
	const char	*l = b, *nl, *v;
	size_t		 len, i, vl;
	int		 loc = 0, n = 0;

	memset(h, 0, sizeof(*h));
	h->clen = -1;
	while ((nl = memchr(l, '\n', blen - (size_t)(l - b))) != NULL) {
		len = (size_t)(nl - l);
		if (len > 0 && l[len - 1] == '\r')
			len--;
		if (len == 0)
			break;
		n++;
		for (i = 0; i < len && ref_tchar(l[i]); i++)
			;
		if (i == len)
			goto next;		/* a bare name: skipped */
		if (i == 0 || l[i] != ':')
			return -1;
		v = l + i + 1;
		vl = len - i - 1;
		while (vl > 0 && ref_blank(v[0])) {
			v++;
			vl--;
		}
		while (vl > 0 && ref_blank(v[vl - 1]))
			vl--;
		for (size_t k = 0; k < vl; k++)
			if (((unsigned char)v[k] < 0x20 && v[k] != '\t') ||
			    v[k] == 0x7f)
				return -1;
		if (ref_field(h, &loc, l, i, v, vl) == -1)
			return -1;
next:
		l = nl + 1;
	}
	if (n == 0)
		return -1;
	if (h->status == 0)
		h->status = loc ? 302 : 200;
	return 0;
}

/* Walk the lines of a complete block and check every split field. */
static void
check_lines(const char *b, size_t blen)
{
	const char	*l, *v;
	size_t		 off = 0, len, nlen, vlen, i;

	while (cgi_head_line(b, blen, &off, &l, &len)) {
		CHECK(off <= blen && l >= b && l + len <= b + blen);
		CHECK(len > 0 && memchr(l, '\n', len) == NULL);
		if (cgi_head_split(l, len, &nlen, &v, &vlen) == -1)
			continue;
		CHECK(nlen > 0 && nlen < len && l[nlen] == ':');
		for (i = 0; i < nlen; i++)
			CHECK(ref_tchar(l[i]));
		CHECK(v > l + nlen && v + vlen <= l + len);
		if (vlen > 0)
			CHECK(!ref_blank(v[0]) && !ref_blank(v[vlen - 1]));
		for (i = 0; i < vlen; i++)
			CHECK(((unsigned char)v[i] >= 0x20 &&
			    v[i] != 0x7f) || v[i] == '\t');
	}
	CHECK(off == blen);
}

static void
check_parse(const char *b, size_t blen)
{
	struct cgi_head	 h, r;
	int		 rc, rrc;

	rc = cgi_head_parse(b, blen, "fuzz.php", &h);
	rrc = ref_parse(b, blen, &r);
	CHECK(rc == 0 || rc == -1);
	CHECK(rc == rrc);
	if (rc == -1)
		return;
	CHECK(h.status >= 200 && h.status <= 599 && h.status == r.status);
	CHECK(h.encoded == r.encoded && h.clen == r.clen && h.clen >= -2);
	CHECK(h.ct == r.ct && h.ctlen == r.ctlen);
	if (h.ct != NULL)
		CHECK(h.ctlen > 0 && h.ct >= b && h.ct + h.ctlen <= b + blen);
}

/* Feed <d>/<n> into a buffer of <cap> bytes; <seed> 0: in one piece. */
static int
feed(const char *d, size_t n, size_t cap, uint32_t seed, char *buf,
    size_t *blen, size_t *total)
{
	size_t	 pos = 0, piece, used;
	char	*p;
	int	 rc = CGI_HEAD_MORE, whole = seed == 0;

	*blen = 0;
	do {
		piece = whole ? n : 1 + rnd(&seed) % 64;
		if (piece > n - pos)
			piece = n - pos;
		p = malloc(piece + 1);
		CHECK(p != NULL);
		memcpy(p, d + pos, piece);
		rc = cgi_head_add(buf, cap, blen, p, piece, &used);
		free(p);
		CHECK(used <= piece && *blen <= cap);
		CHECK(rc == CGI_HEAD_DONE || used == piece);
		pos += used;
	} while (rc == CGI_HEAD_MORE && pos < n);
	*total = pos;
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*d = (const char *)data + 2;
	char		*b1, *b2;
	size_t		 n, cap, end, l1, l2, u1, u2;
	uint32_t	 seed;
	int		 rc1, rc2;

	if (size < 2)
		return 0;
	n = size - 2;
	cap = data[0] & 1 ? (size_t)(data[0] >> 1) + 1 : HDR_MAX;
	seed = (uint32_t)(data[0] << 8 | data[1]) | 0x10000u;
	b1 = malloc(cap);
	b2 = malloc(cap);
	CHECK(b1 != NULL && b2 != NULL);

	rc1 = feed(d, n, cap, 0, b1, &l1, &u1);
	rc2 = feed(d, n, cap, seed, b2, &l2, &u2);
	CHECK(rc1 == rc2 && l1 == l2 && memcmp(b1, b2, l1) == 0);
	CHECK(memcmp(b1, d, l1) == 0);
	end = ref_end(d, n);
	if (end > 0 && end <= cap) {
		CHECK(rc1 == CGI_HEAD_DONE && l1 == end && u1 == end &&
		    u2 == end);
		/* a strict prefix is not whole */
		CHECK(feed(d, end - 1, cap, 0, b2, &l2, &u2) ==
		    CGI_HEAD_MORE && l2 == end - 1);
		check_lines(b1, l1);
		check_parse(b1, l1);
	} else if (n > cap)
		CHECK(rc1 == CGI_HEAD_TOOLONG && l1 == cap);
	else
		CHECK(rc1 == CGI_HEAD_MORE && l1 == n && u1 == n);
	free(b1);
	free(b2);
	return 0;
}

/*
 * Unit tests for the parsers php.c hands the script's answer to:
 * worker/fcgi.c (the FastCGI record stream: content, padding, the end
 * of the request, records of another request or version, a stream cut
 * anywhere) and worker/cgihead.c (the end of the header block, Status,
 * Location, Content-Length, bad lines).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgihead.h"
#include "fcgi.h"
#include "log.h"
#include "tap.h"

static size_t
rec(uint8_t *d, int type, int id, const char *content, int pad)
{
	size_t	 n = strlen(content);

	d[0] = 1;
	d[1] = (uint8_t)type;
	d[2] = (uint8_t)(id >> 8);
	d[3] = (uint8_t)id;
	d[4] = (uint8_t)(n >> 8);
	d[5] = (uint8_t)n;
	d[6] = (uint8_t)pad;
	d[7] = 0;
	memcpy(d + 8, content, n);
	memset(d + 8 + n, 'P', (size_t)pad);
	return 8 + n + (size_t)pad;
}

/*
 * Read <d>/<len> fed <step> bytes at a time, as php.c does: STDOUT
 * content into <out>. Returns the last verdict.
 */
static int
read_stream(const uint8_t *d, size_t len, size_t step, char *out,
    size_t *olen)
{
	struct fcgi_rd	 rd;
	size_t		 pos = 0, lim = 0, used, n;
	int		 rc;

	memset(&rd, 0, sizeof(rd));
	*olen = 0;
	for (;;) {
		rc = fcgi_rd_frame(&rd, d + pos, lim - pos, 1, &used);
		pos += used;
		if (rc == FCGI_RD_CONTENT) {
			n = lim - pos < rd.rec_left ? lim - pos : rd.rec_left;
			if (rd.type == FCGI_STDOUT) {
				memcpy(out + *olen, d + pos, n);
				*olen += n;
			}
			fcgi_rd_took(&rd, n);
			pos += n;
			continue;
		}
		if (rc != FCGI_RD_MORE || lim == len)
			return rc;
		lim = lim + step > len ? len : lim + step;
	}
}

static void
test_fcgi(void)
{
	uint8_t		 d[1024];
	char		 out[1024];
	size_t		 len = 0, olen, step;
	int		 all = 1;

	len += rec(d + len, FCGI_STDOUT, 1, "Status: 200\r\n\r\nhel", 5);
	len += rec(d + len, FCGI_STDERR, 1, "a warning", 0);
	len += rec(d + len, 0, 1, "type 0", 2);
	len += rec(d + len, FCGI_STDOUT, 1, "lo", 0);
	len += rec(d + len, FCGI_STDOUT, 1, "", 0);
	len += rec(d + len, FCGI_END_REQUEST, 1, "\1\1\1\1\1\1\1\1", 0);
	for (step = 1; step <= len; step++) {
		if (read_stream(d, len, step, out, &olen) != FCGI_RD_END ||
		    olen != 20 || memcmp(out, "Status: 200\r\n\r\nhello",
		    20) != 0)
			all = 0;
	}
	ok(all, "fcgi: the same output and END whatever the split");

	len = rec(d, FCGI_END_REQUEST, 1, "", 0);
	is_int(read_stream(d, len, len, out, &olen), FCGI_RD_END,
	    "fcgi: an empty END_REQUEST ends at once");
	is_int(read_stream(d, len - 1, len, out, &olen), FCGI_RD_MORE,
	    "fcgi: a cut header waits");

	len = rec(d, FCGI_STDOUT, 1, "abc", 0);
	len += rec(d + len, FCGI_STDOUT, 2, "xyz", 0);
	is_int(read_stream(d, len, 4, out, &olen), FCGI_RD_BAD_ID,
	    "fcgi: a record of another request is refused");
	ok(olen == 3, "fcgi: after our own content");

	len = rec(d, FCGI_STDOUT, 1, "abc", 0);
	d[0] = 2;
	is_int(read_stream(d, len, len, out, &olen), FCGI_RD_BAD_VERSION,
	    "fcgi: version 2 is refused");
}

static int
head(const char *s, struct cgi_head *h)
{
	char	 buf[256];
	size_t	 blen = 0, used;

	if (cgi_head_add(buf, sizeof(buf), &blen, s, strlen(s), &used) !=
	    CGI_HEAD_DONE)
		return -2;
	return cgi_head_parse(buf, blen, "t.php", h);
}

static void
test_cgihead(void)
{
	struct cgi_head	 h;
	char		 buf[16];
	size_t		 blen = 0, used;

	is_int(cgi_head_add(buf, sizeof(buf), &blen, "A: b\r\n\r\nbody", 12,
	    &used), CGI_HEAD_DONE, "head: ends at the empty line");
	ok(used == 8 && blen == 8, "head: the body is left");
	blen = 0;
	is_int(cgi_head_add(buf, sizeof(buf), &blen, "X-Long: 1234567890\r\n",
	    20, &used), CGI_HEAD_TOOLONG, "head: too long for the buffer");

	ok(head("Content-Type: text/html\r\n\r\n", &h) == 0 &&
	    h.status == 200 && h.ctlen == 9 && h.clen == -1,
	    "head: a plain block");
	ok(head("Location: /x\n\n", &h) == 0 && h.status == 302,
	    "head: Location alone is a 302");
	ok(head("Status: 404 Not Found\r\nLocation: /x\r\n\r\n", &h) == 0 &&
	    h.status == 404, "head: Status wins over Location");
	ok(head("Status: 99\r\n\r\n", &h) == -1, "head: Status 99 fails");
	ok(head("Status: 2000\r\n\r\n", &h) == -1, "head: Status 2000 fails");
	ok(head("Content-Length: 5\r\nContent-Length: 6\r\n\r\n", &h) == 0 &&
	    h.clen == -2, "head: conflicting lengths are no length");
	ok(head("Content-Length: 007\r\n\r\n", &h) == 0 && h.clen == 7,
	    "head: a length with leading zeros");
	ok(head("Word\r\nA: b\r\n\r\n", &h) == 0, "head: a bare name is "
	    "skipped");
	ok(head("A b\r\n\r\n", &h) == -1, "head: a line with a space fails");
	ok(head("\r\n", &h) == -1, "head: an empty block fails");
}

int
main(void)
{
	log_open("/dev/null");
	test_fcgi();
	test_cgihead();
	return done_testing();
}

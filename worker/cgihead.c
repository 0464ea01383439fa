/*
 * The header block of a CGI script's answer (see cgihead.h). The block
 * is in a fixed buffer and not NUL-terminated: every scan is bounded by
 * its length.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "cgihead.h"
#include "log.h"
#include "mtd.h"

static int
line_ci(const char *p, size_t n, const char *s)
{
	return n == strlen(s) && strncasecmp(p, s, n) == 0;
}

int
cgi_head_add(char *buf, size_t cap, size_t *blen, const char *d,
    size_t len, size_t *used)
{
	size_t	 i, n = *blen;

	for (i = 0; i < len; i++) {
		if (n == cap) {
			*blen = n;
			*used = len;
			return CGI_HEAD_TOOLONG;
		}
		buf[n++] = d[i];
		if (d[i] != '\n')
			continue;
		if ((n >= 2 && buf[n - 2] == '\n') ||
		    (n >= 3 && buf[n - 2] == '\r' && buf[n - 3] == '\n') ||
		    n == 1 || (n == 2 && buf[0] == '\r')) {
			*blen = n;
			*used = i + 1;
			return CGI_HEAD_DONE;
		}
	}
	*blen = n;
	*used = len;
	return CGI_HEAD_MORE;
}

/* How many of <l>'s first bytes are token characters (RFC 9110 5.6.2). */
static size_t
hdr_token_len(const char *l, size_t len)
{
	static const char	 tok[] = "!#$%&'*+-.^_`|~";
	size_t			 i;

	for (i = 0; i < len; i++)
		if (!((l[i] >= '0' && l[i] <= '9') ||
		    (l[i] >= 'a' && l[i] <= 'z') ||
		    (l[i] >= 'A' && l[i] <= 'Z') ||
		    (l[i] != '\0' && strchr(tok, l[i]) != NULL)))
			break;
	return i;
}

int
cgi_head_split(const char *l, size_t len, size_t *nlen, const char **v,
    size_t *vlen)
{
	size_t	 i = hdr_token_len(l, len);

	if (i == 0 || i == len || l[i] != ':')
		return -1;
	*nlen = i;
	for (i++; i < len && (l[i] == ' ' || l[i] == '\t'); i++)
		;
	*v = l + i;
	*vlen = len - i;
	while (*vlen > 0 && ((*v)[*vlen - 1] == ' ' || (*v)[*vlen - 1] == '\t'))
		(*vlen)--;
	for (i = 0; i < *vlen; i++)
		if (((unsigned char)(*v)[i] < 0x20 && (*v)[i] != '\t') ||
		    (*v)[i] == 0x7f)
			return -1;
	return 0;
}

/*
 * A line that is only a field name, as header('Word') writes: PHP lets
 * it through, and nginx passes it over; so do we, rather than fail the
 * whole answer. Bytes a name may not hold still fail it.
 */
static int
hdr_colonless(const char *l, size_t len)
{
	return hdr_token_len(l, len) == len;
}

int
cgi_head_line(const char *buf, size_t blen, size_t *off, const char **l,
    size_t *len)
{
	const char	*s = buf + *off, *nl;

	nl = memchr(s, '\n', blen - *off);
	if (nl == NULL)
		return 0;
	*l = s;
	*len = (size_t)(nl - s);
	if (*len > 0 && s[*len - 1] == '\r')
		(*len)--;
	*off += (size_t)(nl - s) + 1;
	return *len > 0;
}

/*
 * A Content-Length line of the script: its value, or -2 when it is not
 * a plain number or disagrees with an earlier one (<prev>: -1 none, -2
 * already bad): then the body goes out chunked as without one.
 */
static int64_t
cgi_content_length(const char *v, size_t len, int64_t prev)
{
	int64_t	 n = 0;
	size_t	 i;

	if (len == 0 || len > 18 || prev == -2)
		return -2;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -2;
		n = n * 10 + (v[i] - '0');
	}
	return prev >= 0 && prev != n ? -2 : n;
}

/*
 * The three digits a Status value starts with, or -1. Not sscanf(3):
 * glibc's measures the whole string first, and the block is not
 * NUL-terminated.
 */
static int
status_digits(const char *v)
{
	int	 i, n = 0;

	for (i = 0; i < 3; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n;
}

int
cgi_head_parse(const char *buf, size_t blen, const char *script,
    struct cgi_head *h)
{
	const char	*l, *v;
	size_t		 off = 0, len, nlen, vlen;
	int		 location = 0, n = 0;

	memset(h, 0, sizeof(*h));
	h->clen = -1;
	while (cgi_head_line(buf, blen, &off, &l, &len)) {
		n++;
		if (cgi_head_split(l, len, &nlen, &v, &vlen) == -1) {
			if (hdr_colonless(l, len)) {
				log_warnx("php: %s: header line without a "
				    "colon ignored: \"%.*s\"", script,
				    (int)MTD_MIN(len, 80), l);
				continue;
			}
			log_warnx("php: %s: invalid header line \"%.*s\"",
			    script, (int)MTD_MIN(len, 80), l);
			return -1;
		}
		if (line_ci(l, nlen, "Status")) {
			if (vlen < 3 || (vlen > 3 && v[3] != ' ') ||
			    (h->status = status_digits(v)) < 200 ||
			    h->status > 599) {
				log_warnx("php: %s: bad Status \"%.*s\"",
				    script, (int)MTD_MIN(vlen, 80), v);
				return -1;
			}
		} else if (line_ci(l, nlen, "Location"))
			location = 1;
		else if (line_ci(l, nlen, "Content-Type") && vlen > 0) {
			h->ct = v;
			h->ctlen = vlen;
		} else if (line_ci(l, nlen, "Content-Encoding"))
			h->encoded = 1;
		else if (line_ci(l, nlen, "Content-Length"))
			h->clen = cgi_content_length(v, vlen, h->clen);
	}
	if (n == 0) {
		log_warnx("php: %s: empty header block", script);
		return -1;
	}
	if (h->status == 0)
		h->status = location ? 302 : 200;
	return 0;
}

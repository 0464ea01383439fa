/*
 * Request-path normalisation. The static-file server calls
 * uri_normalize() on every request path before it touches the file
 * system; on success the result starts with '/', holds no "//", no "."
 * or ".." segment, no NUL, control byte or backslash, and never names
 * anything above the root. Runs in time linear in the input (an output
 * byte is removed by ".." at most once) and allocates nothing.
 */
#include <limits.h>
#include <string.h>

#include "uri.h"

static int
uri_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes the byte at <p>[*<i>] (a literal or a %XX escape) and advances
 * *<i> past it. Returns the byte; URI_BAD for a broken escape or a
 * literal backslash or control byte; URI_NOT_A_FILE for an escape of a
 * byte a file name may not hold: '/' (it would change the segment
 * structure after normalisation), a backslash, NUL or another control.
 */
static int
uri_decode_byte(const char *p, size_t len, size_t *i)
{
	unsigned char	 c = p[*i];
	int		 hi, lo;

	if (c == '%') {
		if (len - *i < 3 ||
		    (hi = uri_hexval(p[*i + 1])) == -1 ||
		    (lo = uri_hexval(p[*i + 2])) == -1)
			return URI_BAD;
		c = hi << 4 | lo;
		*i += 3;
		if (c == '/' || c < 0x20 || c == 0x7f || c == '\\')
			return URI_NOT_A_FILE;
		return c;
	}
	(*i)++;
	if (c < 0x20 || c == 0x7f || c == '\\')
		return URI_BAD;
	return c;
}

/*
 * Classifies the non-empty segment starting at <p>[*<i>]: returns 1 for
 * ".", 2 for ".." (either may be percent-encoded) and advances *<i> to
 * the segment's end; returns 0 and leaves *<i> alone for anything else,
 * including a broken escape, which the copy in uri_normalize() reports.
 * Decodes at most three bytes, so the pass stays linear.
 */
static int
uri_dots(const char *p, size_t len, size_t *i)
{
	size_t	 j = *i;
	int	 n = 0;

	while (j < len && p[j] != '/') {
		if (n == 2 || uri_decode_byte(p, len, &j) != '.')
			return 0;
		n++;
	}
	*i = j;
	return n;
}

/*
 * Normalises the request path <path> of <len> bytes (no query; must
 * start with '/') into <out> of <outsz> bytes: percent-decodes, collapses
 * "//", drops "." and resolves ".." segments. A trailing '/' (or a final
 * "." or ".." segment) leaves a trailing '/'. The result is
 * NUL-terminated. Returns its length (> 0), URI_BAD (-1) for a malformed
 * path, a literal backslash or control byte or a ".." above the root,
 * URI_TOOLONG (-2) when <out> is too small, URI_NOT_A_FILE (-3) for an
 * otherwise valid path with an escaped '/', backslash or control byte
 * (<out> then holds nothing usable). Any process may call it.
 */
int
uri_normalize(const char *path, size_t len, char *out, size_t outsz)
{
	size_t	 i = 0, o = 0;
	int	 c, dots, dir = 0, not_a_file = 0;

	if (len == 0 || path[0] != '/')
		return URI_BAD;
	if (outsz > INT_MAX)
		outsz = INT_MAX;
	while (i < len) {
		if (path[i] == '/') {
			i++;
			dir = 1;
			continue;
		}
		if ((dots = uri_dots(path, len, &i)) == 2) {
			if (o == 0)
				return URI_BAD;
			/* out[0] is '/', so this stops. */
			while (out[--o] != '/')
				;
		}
		if (dots != 0) {
			dir = 1;
			continue;
		}
		/* Each byte written keeps room for the final NUL. */
		if (o + 1 >= outsz)
			return URI_TOOLONG;
		out[o++] = '/';
		while (i < len && path[i] != '/') {
			if ((c = uri_decode_byte(path, len, &i)) == URI_BAD)
				return URI_BAD;
			/* Go on: a ".." above the root further on is a 400. */
			if (c == URI_NOT_A_FILE) {
				not_a_file = 1;
				c = '_';
			}
			if (o + 1 >= outsz)
				return URI_TOOLONG;
			out[o++] = c;
		}
		dir = 0;
	}
	if (dir || o == 0) {
		if (o + 1 >= outsz)
			return URI_TOOLONG;
		out[o++] = '/';
	}
	out[o] = '\0';
	return not_a_file ? URI_NOT_A_FILE : (int)o;
}

/*
 * Returns 1 when a segment of the normalised path <norm> starts with '.'
 * (".git", ".htaccess", ".well-known"), else 0. The static server answers
 * 404 for those. Any process may call it.
 */
int
uri_has_dot_segment(const char *norm)
{
	const char	*p;

	for (p = norm; (p = strchr(p, '/')) != NULL; p++)
		if (p[1] == '.')
			return 1;
	return 0;
}

/*
 * Request-path normalisation for the static-file server: percent-decoding
 * plus RFC 3986 dot-segment removal, in one linear pass with no
 * allocation. A path that would climb above the document root, or that
 * decodes to a slash, backslash or control byte, is an error, never
 * silently clamped, so the caller can map the result straight onto htdocs.
 */
#ifndef URI_H
#define URI_H

#include <stddef.h>

#define URI_BAD		(-1)	/* malformed or hostile path: 400 */
#define URI_TOOLONG	(-2)	/* output buffer too small: 414 */

int	uri_normalize(const char *path, size_t len, char *out, size_t outsz);
int	uri_has_dot_segment(const char *norm);

#endif /* URI_H */

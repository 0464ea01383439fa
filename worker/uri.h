/*
 * Request-path normalisation for the static-file server: percent-decoding
 * plus RFC 3986 dot-segment removal, in one linear pass with no
 * allocation. A path that would climb above the document root is an
 * error, never silently clamped, so the caller can map the result straight
 * onto htdocs; one that decodes to a slash, backslash or control byte is
 * a valid URL that names no file (a backend may still answer it).
 */
#ifndef URI_H
#define URI_H

#include <stddef.h>

#define URI_BAD		(-1)	/* malformed or hostile path: 400 */
#define URI_TOOLONG	(-2)	/* output buffer too small: 414 */
#define URI_NOT_A_FILE	(-3)	/* a valid URL no file can have: %2F, %00 */

int	uri_normalize(const char *path, size_t len, char *out, size_t outsz);
int	uri_has_dot_segment(const char *norm);

#endif /* URI_H */

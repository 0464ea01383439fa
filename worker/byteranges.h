/*
 * multipart/byteranges (RFC 9110 14.6): the answer to a Range with
 * several ranges. For a file, each part is a short head made in the
 * connection's output buffer, then the part's bytes straight from the
 * file (sendfile, or pread under TLS), so a part costs no copy; conn.c
 * asks for the next part each time the file region in progress is out.
 * A cached answer, already in memory, is built whole.
 */
#ifndef BYTERANGES_H
#define BYTERANGES_H

#include <stdint.h>

#include "range.h"

struct conn;
struct byteranges;

/*
 * Longest part head byteranges_build() makes (with a media type that
 * long, a cached answer is served whole instead).
 */
#define BYTERANGES_HEAD_MAX	512

/*
 * Parts for the ranges of <rs> (at least two) of a <size>-byte file of
 * media type <type> (kept by pointer, until the last part is queued or
 * built; NULL: parts without Content-Type). NULL when out of memory.
 */
struct byteranges	*byteranges_new(const struct range_set *rs,
			    const char *type, uint64_t size);
void			 byteranges_free(struct byteranges *);
/* The boundary, for the Content-Type field. */
const char		*byteranges_boundary(const struct byteranges *);
/* The body's whole length: part heads, part bytes and the last line. */
uint64_t		 byteranges_length(const struct byteranges *);

/*
 * The whole body into <dst> of <len> bytes (byteranges_length()), the
 * parts' bytes taken from <body>, the representation in memory. 0, or
 * -1 when <len> is not the body's length or a part head is longer than
 * BYTERANGES_HEAD_MAX.
 */
int			 byteranges_build(const struct byteranges *br,
			    const char *body, char *dst, size_t len);

/*
 * Queue what comes next on <c> (which owns c->br and c->file_fd): the
 * next part's head appended to the output buffer and its bytes as the
 * file region, or the closing line. 1 when something was queued, 0 when
 * the body is complete (or <c> has no parts), -1 when the head does not
 * fit in the buffer.
 */
int			 byteranges_next(struct conn *c);

#endif /* BYTERANGES_H */

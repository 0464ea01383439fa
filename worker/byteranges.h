/*
 * multipart/byteranges (RFC 9110 14.6): a file's answer to a Range with
 * several ranges. Each part is a short head made in the connection's
 * output buffer, then the part's bytes straight from the file (sendfile,
 * or pread under TLS), so a part costs no copy. conn.c asks for the next
 * part each time the file region in progress is out.
 */
#ifndef BYTERANGES_H
#define BYTERANGES_H

#include <stdint.h>

#include "range.h"

struct conn;
struct byteranges;

/*
 * Parts for the ranges of <rs> (at least two) of a <size>-byte file of
 * media type <type> (kept by pointer: a static string). NULL when out of
 * memory.
 */
struct byteranges	*byteranges_new(const struct range_set *rs,
			    const char *type, uint64_t size);
void			 byteranges_free(struct byteranges *);
/* The boundary, for the Content-Type field. */
const char		*byteranges_boundary(const struct byteranges *);
/* The body's whole length: part heads, part bytes and the last line. */
uint64_t		 byteranges_length(const struct byteranges *);

/*
 * Queue what comes next on <c> (which owns c->br and c->file_fd): the
 * next part's head appended to the output buffer and its bytes as the
 * file region, or the closing line. 1 when something was queued, 0 when
 * the body is complete (or <c> has no parts), -1 when the head does not
 * fit in the buffer.
 */
int			 byteranges_next(struct conn *c);

#endif /* BYTERANGES_H */

/*
 * multipart/byteranges bodies (see byteranges.h). The body is
 *
 *	--B CRLF Content-Type: T CRLF Content-Range: bytes a-b/size CRLF CRLF
 *	<bytes a..b> CRLF --B CRLF ... <bytes> CRLF --B-- CRLF
 *
 * Every part head is made by one function, both to count the body's
 * length for Content-Length beforehand and to write the head when its
 * turn comes, so the two cannot disagree.
 */
#include <sys/random.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byteranges.h"
#include "conn.h"

struct byteranges {
	struct range_set	 rs;
	int			 next;	/* to queue; rs.n: the last line */
	uint64_t		 size;
	const char		*type;
	char			 boundary[24];
};

/*
 * A boundary must not occur in the parts. 64 bits drawn once per worker
 * and counted up per answer, as nginx does, make that as unlikely as a
 * random one would.
 */
static void
make_boundary(char *b, size_t len)
{
	static uint64_t	 next;
	static int	 seeded;

	if (!seeded) {
		if (getrandom(&next, sizeof(next), GRND_NONBLOCK) !=
		    (ssize_t)sizeof(next))
			next = (uint64_t)(uintptr_t)b ^ 0x6d61697472656431ULL;
		seeded = 1;
	}
	snprintf(b, len, "%020" PRIu64, next++);
}

struct byteranges *
byteranges_new(const struct range_set *rs, const char *type, uint64_t size)
{
	struct byteranges	*br;

	if ((br = calloc(1, sizeof(*br))) == NULL)
		return NULL;
	br->rs = *rs;
	br->size = size;
	br->type = type;
	make_boundary(br->boundary, sizeof(br->boundary));
	return br;
}

void
byteranges_free(struct byteranges *br)
{
	free(br);
}

const char *
byteranges_boundary(const struct byteranges *br)
{
	return br->boundary;
}

/*
 * Part <i>'s head into <buf> of <room> bytes (may be 0), or the closing
 * line when <i> is rs.n. Returns its length, as snprintf does.
 */
static int
part_head(const struct byteranges *br, int i, char *buf, size_t room)
{
	const char	*crlf = i == 0 ? "" : "\r\n";

	if (i == br->rs.n)
		return snprintf(buf, room, "\r\n--%s--\r\n", br->boundary);
	return snprintf(buf, room, "%s--%s\r\n%s%s%s"
	    "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n\r\n",
	    crlf, br->boundary, br->type != NULL ? "Content-Type: " : "",
	    br->type != NULL ? br->type : "", br->type != NULL ? "\r\n" : "",
	    br->rs.first[i], br->rs.last[i], br->size);
}

uint64_t
byteranges_length(const struct byteranges *br)
{
	uint64_t	 n = 0;
	int		 i;

	for (i = 0; i <= br->rs.n; i++) {
		n += (uint64_t)part_head(br, i, NULL, 0);
		if (i < br->rs.n)
			n += br->rs.last[i] - br->rs.first[i] + 1;
	}
	return n;
}

int
byteranges_build(const struct byteranges *br, const char *body, char *dst,
    size_t len)
{
	char	 head[BYTERANGES_HEAD_MAX];
	size_t	 off = 0, n;
	int	 i, h;

	for (i = 0; i <= br->rs.n; i++) {
		h = part_head(br, i, head, sizeof(head));
		if (h < 0 || (size_t)h >= sizeof(head) || (size_t)h > len - off)
			return -1;
		memcpy(dst + off, head, (size_t)h);
		off += (size_t)h;
		if (i == br->rs.n)
			break;
		n = (size_t)(br->rs.last[i] - br->rs.first[i] + 1);
		if (n > len - off)
			return -1;
		memcpy(dst + off, body + br->rs.first[i], n);
		off += n;
	}
	return off == len ? 0 : -1;
}

int
byteranges_next(struct conn *c)
{
	struct byteranges	*br = c->br;
	size_t			 room;
	int			 n;

	if (br == NULL || br->next > br->rs.n)
		return 0;
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	room = CONN_OUT_SIZE - c->out_len;
	n = part_head(br, br->next, c->r->out + c->out_len, room);
	if (n < 0 || (size_t)n >= room)
		return -1;
	c->out_len += (uint32_t)n;
	if (br->next < br->rs.n) {
		c->file_off = (off_t)br->rs.first[br->next];
		c->file_left = br->rs.last[br->next] -
		    br->rs.first[br->next] + 1;
	}
	br->next++;
	return 1;
}

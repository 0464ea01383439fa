/*
 * FastCGI record framing for the responses of php-fpm (see fcgi.h). A
 * record ends as soon as its content and padding are read, so that the
 * end of FCGI_END_REQUEST is seen without waiting for a byte after it.
 */
#include <stddef.h>
#include <stdint.h>

#include "fcgi.h"

/* The current record is read whole: END_REQUEST ends the request. */
static int
fcgi_rd_over(struct fcgi_rd *rd)
{
	int	 end = rd->type == FCGI_END_REQUEST;

	rd->in_rec = 0;
	rd->type = 0;
	return end;
}

enum fcgi_rd_rc
fcgi_rd_frame(struct fcgi_rd *rd, const void *buf, size_t len, uint16_t id,
    size_t *used)
{
	const uint8_t	*p = buf, *h;
	size_t		 off = 0, n;

	for (;;) {
		if (rd->in_rec && rd->rec_left == 0 && rd->pad_left == 0) {
			if (fcgi_rd_over(rd)) {
				*used = off;
				return FCGI_RD_END;
			}
			continue;
		}
		if (rd->in_rec && rd->rec_left > 0) {
			*used = off;
			return off < len ? FCGI_RD_CONTENT : FCGI_RD_MORE;
		}
		if (rd->in_rec) {
			n = len - off < rd->pad_left ? len - off : rd->pad_left;
			off += n;
			rd->pad_left -= (uint32_t)n;
			if (rd->pad_left > 0)
				break;
			continue;
		}
		if (len - off < FCGI_HDR)
			break;
		h = p + off;
		if (h[0] != FCGI_VERSION) {
			rd->bad = h[0];
			*used = off;
			return FCGI_RD_BAD_VERSION;
		}
		if ((h[2] << 8 | h[3]) != id) {
			rd->bad = (uint16_t)(h[2] << 8 | h[3]);
			*used = off;
			return FCGI_RD_BAD_ID;
		}
		rd->in_rec = 1;
		rd->type = h[1];
		rd->rec_left = (uint32_t)(h[4] << 8 | h[5]);
		rd->pad_left = h[6];
		off += FCGI_HDR;
	}
	*used = off;
	return FCGI_RD_MORE;
}

void
fcgi_rd_took(struct fcgi_rd *rd, size_t n)
{
	rd->rec_left -= (uint32_t)n;
}

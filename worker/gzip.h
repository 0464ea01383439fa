/*
 * gzip content coding: a streaming deflate wrapper that can also emit
 * HTTP/1.1 chunked framing, the negotiation helpers (Accept-Encoding,
 * gzip_types, gzip_min_length) and the handler that sends a static file
 * compressed as the client drains it. Memory per stream is fixed (zlib
 * state plus a small staging buffer), whatever the body's size.
 */
#ifndef GZIP_H
#define GZIP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <zlib.h>

struct http_str;

#define GZ_PEND_SIZE	8192	/* staging buffer: one chunk, framed */

struct conn;
struct http_request;

struct gz_stream {
	z_stream	 zs;
	uint8_t		 chunked:1;	/* wrap the output in HTTP chunks */
	uint8_t		 inited:1;	/* deflateInit2 succeeded */
	uint8_t		 ended:1;	/* Z_STREAM_END (and last chunk) staged */
	uint32_t	 poff, plen;	/* staged bytes: pend[poff, plen) */
	unsigned char	 pend[GZ_PEND_SIZE];
};

/*
 * Start a gzip stream at compression <level> (1-9); <chunked> adds
 * HTTP/1.1 chunked framing, last chunk included. 0, or -1 when zlib is
 * out of memory. Pair with gz_free().
 */
int	 gz_init(struct gz_stream *gz, int level, int chunked);
/* Release the zlib state; idempotent. */
void	 gz_free(struct gz_stream *gz);

/*
 * Compress <in>/<inlen> into <out>/<outcap>. <*consumed> and <*produced>
 * say how much of each was used. With <finish>, the stream is ended once
 * all of <in> is taken. Any <outcap> works (even 1): output that does not
 * fit is staged and handed out by the next calls. Returns 1 once the
 * whole stream (trailer and last chunk) has been handed out, 0 when more
 * calls are needed, -1 on a zlib error.
 */
int	 gz_feed(struct gz_stream *gz, const void *in, size_t inlen,
	    void *out, size_t outcap, size_t *consumed, size_t *produced,
	    int finish);

/*
 * Compress <in>/<len> as one gzip member into a new heap buffer (*<out>,
 * to free()). Returns its length, or -1 (zlib error, no memory, <len>
 * over 4 GB). Worker: one deflate state per process, reset per call.
 */
ssize_t	 gz_compress(const void *in, size_t len, int level, char **out);

/*
 * Does the request accept the gzip coding? Reads every Accept-Encoding
 * field; "gzip;q=0" refuses it, "*" with q > 0 accepts it unless gzip is
 * listed.
 */
int	 gz_accepts(const struct http_request *req);
/* Is the media type <ctype>/<len> (parameters allowed) in gzip_types? */
int	 gz_type_matches(const char *ctype, size_t len);
/*
 * Whether a Cache-Control value says no-transform: a proxy must then not
 * change the coding (RFC 9110 7.7). Pure.
 */
int	 gz_no_transform(const struct http_str *cache_control);

/*
 * Should a response of type <ctype>/<len> and body length <length> (-1:
 * unknown) be compressed for the request on <c>? Checks gzip on, the
 * type, the minimum length and Accept-Encoding. Sets <*vary> when the
 * answer depends on Accept-Encoding (the response should say Vary).
 */
int	 gz_wanted(const struct conn *c, const char *ctype, size_t len,
	    int64_t length, int *vary);

/*
 * Send the file <fd> (<size> bytes from offset 0) gzip-compressed after the
 * head already built in c->r->out, chunked when the request is HTTP/1.1.
 * Takes the connection over (CS_HANDLER) and owns <fd>. Worker only,
 * from a request dispatch.
 */
void	 gzip_send_file(struct conn *c, int fd, uint64_t size);

#endif /* GZIP_H */

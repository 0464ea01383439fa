/*
 * The FastCGI record stream a responder sends back (FastCGI Specification
 * 1.0): headers, content, padding. The reader only frames: it says where
 * each record's content is and when FCGI_END_REQUEST is over, and leaves
 * the content to its caller (worker/php.c), which may take it a little at
 * a time. Pure: no I/O, no allocation, any split of the stream reads the
 * same.
 */
#ifndef FCGI_H
#define FCGI_H

#include <stddef.h>
#include <stdint.h>

#define FCGI_VERSION		1
#define FCGI_BEGIN_REQUEST	1
#define FCGI_END_REQUEST	3
#define FCGI_PARAMS		4
#define FCGI_STDIN		5
#define FCGI_STDOUT		6
#define FCGI_STDERR		7
#define FCGI_RESPONDER		1
#define FCGI_HDR		8
#define FCGI_MAX_CONTENT	65535

/* Where the reader is in the stream; all zero before the first record. */
struct fcgi_rd {
	uint32_t	 rec_left;	/* content bytes still to come */
	uint32_t	 pad_left;	/* then its padding bytes */
	uint8_t		 in_rec;	/* inside a record (header read) */
	uint8_t		 type;		/* the record's type, when in_rec */
	uint16_t	 bad;		/* FCGI_RD_BAD_*: the version or id */
};

enum fcgi_rd_rc {
	FCGI_RD_MORE,		/* all taken, or part of a header: read on */
	FCGI_RD_CONTENT,	/* content of rd->type comes next */
	FCGI_RD_END,		/* an FCGI_END_REQUEST record is over */
	FCGI_RD_BAD_VERSION,	/* a header not of version 1 (rd->bad) */
	FCGI_RD_BAD_ID,		/* a record of another request (rd->bad) */
};

/*
 * Read the framing at the start of <buf>/<len>: record headers, padding
 * and record ends, up to content, the end of the request, a bad header or
 * the end of <buf>. Records must be for request <id>. Sets *<used> to the
 * bytes read. On FCGI_RD_CONTENT, MIN(rec_left, len - *used) content
 * bytes follow; the caller takes some and says so with fcgi_rd_took().
 * After FCGI_RD_END the reader is between records again.
 */
enum fcgi_rd_rc	 fcgi_rd_frame(struct fcgi_rd *rd, const void *buf,
		    size_t len, uint16_t id, size_t *used);

/* The caller took <n> (at most rd->rec_left) content bytes. */
void		 fcgi_rd_took(struct fcgi_rd *rd, size_t n);

#endif /* FCGI_H */

/*
 * libFuzzer target for the FastCGI record reader, worker/fcgi.c.
 *
 * The first two input bytes seed the splits; the rest is the stream
 * php-fpm would send for request 1. It is read three ways:
 *  - by a reference written here from the specification, over the whole
 *    stream at once;
 *  - by fcgi_rd_frame() over the whole stream, taking each run of
 *    content at once;
 *  - by fcgi_rd_frame() fed in pieces of pseudo-random size, each in a
 *    buffer of its own (ASan sees any read past it), keeping unread bytes
 *    for the next call as php.c does, and taking content a few bytes at
 *    a time as a client that is slow to drain does.
 * All three must give the same transcript (each content byte with its
 * record type, each end of FCGI_END_REQUEST), the same final verdict
 * (more / end / bad version / bad id, with the bad value) and the same
 * count of bytes used. On the way: *used within the buffer, the state in
 * range (content <= 65535, padding <= 255), CONTENT only with content
 * bytes there, MORE only when the buffer is used up or holds a part of a
 * header, and no record open after END.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

#define REQ_ID		1
#define EV_END		0x10000u	/* in a transcript: END_REQUEST over */

struct run {
	uint32_t	*ev;		/* transcript */
	size_t		 nev;
	int		 verdict;	/* enum fcgi_rd_rc at the end */
	unsigned	 bad;
	size_t		 used;		/* stream bytes used */
};

static void
run_init(struct run *r, size_t size)
{
	memset(r, 0, sizeof(*r));
	r->ev = calloc(size + 1, sizeof(*r->ev));
	CHECK(r->ev != NULL);
}

/* The specification read once, over the whole stream. */
static void
reference(const uint8_t *d, size_t size, struct run *r)
{
	size_t	 off = 0, clen, pad, n, i;
	unsigned type;

	for (;;) {
		if (size - off < 8) {
			r->verdict = FCGI_RD_MORE;
			break;
		}
		if (d[off] != 1) {
			r->verdict = FCGI_RD_BAD_VERSION;
			r->bad = d[off];
			break;
		}
		if ((unsigned)(d[off + 2] << 8 | d[off + 3]) != REQ_ID) {
			r->verdict = FCGI_RD_BAD_ID;
			r->bad = (unsigned)(d[off + 2] << 8 | d[off + 3]);
			break;
		}
		type = d[off + 1];
		clen = (size_t)(d[off + 4] << 8 | d[off + 5]);
		pad = d[off + 6];
		off += 8;
		n = clen < size - off ? clen : size - off;
		for (i = 0; i < n; i++)
			r->ev[r->nev++] = type << 8 | d[off + i];
		off += n;
		if (n < clen) {
			r->verdict = FCGI_RD_MORE;
			break;
		}
		n = pad < size - off ? pad : size - off;
		off += n;
		if (n < pad) {
			r->verdict = FCGI_RD_MORE;
			break;
		}
		if (type == 3) {
			r->ev[r->nev++] = EV_END;
			r->verdict = FCGI_RD_END;
			break;
		}
	}
	r->used = off;
}

static uint32_t
rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

static void
check_state(const struct fcgi_rd *rd)
{
	CHECK(rd->rec_left <= 65535 && rd->pad_left <= 255);
	CHECK(rd->in_rec || (rd->rec_left == 0 && rd->pad_left == 0 &&
	    rd->type == 0));
}

/*
 * The reader over <d>/<size>. <seed> 0: the whole stream in one buffer,
 * content taken whole; else pieces and takes of pseudo-random sizes.
 */
static void
stream(const uint8_t *d, size_t size, uint32_t seed, struct run *r)
{
	struct fcgi_rd	 rd;
	enum fcgi_rd_rc	 rc;
	uint8_t		*win;
	size_t		 pos = 0, lim, wlen, used, avail, k, i;
	int		 whole = seed == 0;

	memset(&rd, 0, sizeof(rd));
	lim = whole ? size : 0;
	for (;;) {
		wlen = lim - pos;
		win = malloc(wlen + 1);		/* +1: malloc(0) */
		CHECK(win != NULL);
		memcpy(win, d + pos, wlen);
		rc = fcgi_rd_frame(&rd, win, wlen, REQ_ID, &used);
		CHECK(used <= wlen);
		check_state(&rd);
		pos += used;
		if (rc == FCGI_RD_CONTENT) {
			CHECK(rd.in_rec && rd.rec_left > 0 && used < wlen);
			avail = wlen - used;
			if (avail > rd.rec_left)
				avail = rd.rec_left;
			k = whole ? avail : 1 + rnd(&seed) % avail;
			for (i = 0; i < k; i++)
				r->ev[r->nev++] = (uint32_t)rd.type << 8 |
				    win[used + i];
			fcgi_rd_took(&rd, k);
			check_state(&rd);
			pos += k;
			free(win);
			continue;
		}
		free(win);
		if (rc == FCGI_RD_MORE) {
			CHECK(used == wlen || (!rd.in_rec &&
			    wlen - used < FCGI_HDR));
			if (lim == size)
				break;
			lim += 1 + rnd(&seed) % 40;
			if (lim > size)
				lim = size;
			continue;
		}
		if (rc == FCGI_RD_END) {
			CHECK(!rd.in_rec && rd.type == 0);
			r->ev[r->nev++] = EV_END;
		} else {
			CHECK(rc == FCGI_RD_BAD_VERSION ||
			    rc == FCGI_RD_BAD_ID);
			CHECK(!rd.in_rec && wlen - used >= FCGI_HDR);
			r->bad = rd.bad;
		}
		break;
	}
	r->verdict = rc;
	r->used = pos;
}

static void
same(const struct run *a, const struct run *b)
{
	CHECK(a->verdict == b->verdict && a->bad == b->bad);
	CHECK(a->used == b->used);
	CHECK(a->nev == b->nev);
	CHECK(memcmp(a->ev, b->ev, a->nev * sizeof(*a->ev)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run	 ref, whole, split;
	uint32_t	 seed;

	if (size < 2)
		return 0;
	seed = (uint32_t)(data[0] << 8 | data[1]) | 0x10000u;
	data += 2;
	size -= 2;

	run_init(&ref, size);
	run_init(&whole, size);
	run_init(&split, size);
	reference(data, size, &ref);
	stream(data, size, 0, &whole);
	stream(data, size, seed, &split);
	same(&ref, &whole);
	same(&ref, &split);
	free(ref.ev);
	free(whole.ev);
	free(split.ev);
	return 0;
}

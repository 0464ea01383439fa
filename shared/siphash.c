/*
 * SipHash-2-4, written from the paper: 2 compression rounds per 8-byte
 * little-endian word, 4 finalisation rounds. Byte order is explicit, so
 * the result is the same on any host; the unit test checks the reference
 * vectors.
 */
#include <stddef.h>
#include <stdint.h>

#include "siphash.h"

#define ROTL64(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND do {							\
	v0 += v1; v1 = ROTL64(v1, 13); v1 ^= v0; v0 = ROTL64(v0, 32);	\
	v2 += v3; v3 = ROTL64(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = ROTL64(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = ROTL64(v1, 17); v1 ^= v2; v2 = ROTL64(v2, 32);	\
} while (0)

static uint64_t
load_le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 |
	    (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	    (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	    (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

uint64_t
siphash24(const void *data, size_t len, const uint8_t key[SIPHASH_KEY_LEN])
{
	const uint8_t	*in = data;
	uint64_t	 k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t	 v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t	 v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t	 v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t	 v3 = 0x7465646279746573ULL ^ k1;
	uint64_t	 m, b;
	size_t		 i, tail = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = load_le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	/* Last word: the remaining bytes, and the length in the top byte. */
	b = (uint64_t)len << 56;
	while (tail > 0) {
		tail--;
		b |= (uint64_t)in[i + tail] << (8 * tail);
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash for
 * every table indexed by data a client controls (addresses, cache keys),
 * so that nobody who does not know the key can aim many inputs at one
 * bucket. Pure function: no state, no locks, safe in any process.
 */
#ifndef SIPHASH_H
#define SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN	16

/*
 * SipHash-2-4 of the <len> bytes at <data> under the 16-byte <key>,
 * as the reference implementation (64-bit output, read little-endian).
 * Returns the hash. No lock; any process, any context.
 */
uint64_t	 siphash24(const void *data, size_t len,
		    const uint8_t key[SIPHASH_KEY_LEN]);

#endif /* SIPHASH_H */

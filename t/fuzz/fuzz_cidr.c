/*
 * libFuzzer target for shared/cidr.c, the addresses and blocks of
 * blacklist.txt, status_allow and rate_limit_exempt. (conf_load() over
 * blacklist.txt is fuzzed by fuzz_conf; this one checks the results.)
 *
 * The input is up to 64 lines, each given to cidr_parse(). An accepted
 * block:
 *  - has a prefix of at most 128, and an IPv4 one is stored mapped
 *    (::ffff:0:0/96) with a prefix of at least 96;
 *  - has no host bit set below its prefix;
 *  - reads back the same from inet_ntop()'s text with its prefix.
 * A refused line has an error message. The accepted blocks make a set
 * (cidr_set_build) and a copy of it (cidr_set_copy, as into the shared
 * segment). For the first and last address of every block, the ones
 * just outside it, and addresses taken from the input, both answer
 * cidr_set_match() as a reference does: in some block, except that a
 * block shorter than /96 leaves out the IPv4-mapped range. So a block
 * holds its own network address. The count of blocks is kept.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

#define MAX_LINES	64
#define MAX_PROBES	(4 * MAX_LINES + 16)

static const uint8_t	 v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Bit <i> (0 = most significant) of <a>. */
static int
bit(const uint8_t a[16], unsigned i)
{
	return a[i / 8] >> (7 - i % 8) & 1;
}

/* <a> with the bits from <prefix> on set (<ones>) or cleared. */
static void
fill_host(uint8_t a[16], unsigned prefix, int ones)
{
	unsigned	 i;

	for (i = prefix; i < 128; i++) {
		if (ones)
			a[i / 8] |= (uint8_t)(1u << (7 - i % 8));
		else
			a[i / 8] &= (uint8_t)~(1u << (7 - i % 8));
	}
}

/* <a> += <d> (1 or -1), modulo 2^128. */
static void
step(uint8_t a[16], int d)
{
	int	 i;

	for (i = 15; i >= 0; i--) {
		a[i] = (uint8_t)(a[i] + d);
		if ((d > 0 && a[i] != 0) || (d < 0 && a[i] != 0xff))
			break;
	}
}

static int
in_block(const struct cidr *b, const uint8_t a[16])
{
	unsigned	 i;

	for (i = 0; i < b->prefix; i++)
		if (bit(a, i) != bit(b->addr, i))
			return 0;
	if (b->prefix < 96 && memcmp(a, v4mapped, 12) == 0)
		return 0;
	return 1;
}

static int
ref_match(const struct cidr *v, size_t n, const uint8_t a[16])
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (in_block(&v[i], a))
			return 1;
	return 0;
}

static void
check_block(const char *s, const struct cidr *b)
{
	struct cidr	 again;
	const char	*err;
	char		 text[INET6_ADDRSTRLEN + 8];
	size_t		 n;
	uint8_t		 v4[4];
	unsigned	 i;

	CHECK(b->prefix <= 128);
	n = strcspn(s, "/");
	if (n < sizeof(text)) {
		memcpy(text, s, n);
		text[n] = '\0';
		if (inet_pton(AF_INET, text, v4) == 1)
			CHECK(memcmp(b->addr, v4mapped, 12) == 0 &&
			    memcmp(b->addr + 12, v4, 4) == 0 &&
			    b->prefix >= 96);
	}
	for (i = b->prefix; i < 128; i++)
		CHECK(bit(b->addr, i) == 0);
	CHECK(inet_ntop(AF_INET6, b->addr, text, INET6_ADDRSTRLEN) != NULL);
	n = strlen(text);
	snprintf(text + n, sizeof(text) - n, "/%u", b->prefix);
	CHECK(cidr_parse(text, &again, &err) == 0 && err == NULL);
	CHECK(memcmp(again.addr, b->addr, 16) == 0 &&
	    again.prefix == b->prefix);
}

/* Addresses around every block, and some from the input bytes. */
static size_t
probes(const struct cidr *v, size_t n, const uint8_t *data, size_t size,
    uint8_t (*p)[16])
{
	size_t	 np = 0, i;

	for (i = 0; i < n; i++) {
		memcpy(p[np], v[i].addr, 16);
		memcpy(p[np + 1], v[i].addr, 16);
		step(p[np + 1], -1);
		memcpy(p[np + 2], v[i].addr, 16);
		fill_host(p[np + 2], v[i].prefix, 1);
		memcpy(p[np + 3], p[np + 2], 16);
		step(p[np + 3], 1);
		np += 4;
	}
	for (i = 0; i + 16 <= size && np < MAX_PROBES - 1; i += 16) {
		memcpy(p[np++], data + i, 16);
		memcpy(p[np], v4mapped, 12);	/* the same as IPv4 */
		memcpy(p[np++] + 12, data + i, 4);
	}
	return np;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cidr	 v[MAX_LINES];
	static uint8_t		 p[MAX_PROBES][16];
	struct cidr_set		*set, *copy;
	const char		*err;
	char			*text, *line, *save = NULL;
	size_t			 n = 0, np, i;
	int			 m;

	text = malloc(size + 1);
	CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = strtok_r(text, "\n", &save); line != NULL && n < MAX_LINES;
	    line = strtok_r(NULL, "\n", &save)) {
		err = NULL;
		if (cidr_parse(line, &v[n], &err) == -1) {
			CHECK(err != NULL);
			continue;
		}
		CHECK(err == NULL);
		check_block(line, &v[n]);
		n++;
	}
	free(text);

	set = cidr_set_build(v, n);
	CHECK(set != NULL && cidr_set_count(set) == n);
	CHECK(cidr_set_nranges(set) <= 2 * n);
	copy = malloc(cidr_set_bytes(cidr_set_nranges(set)));
	CHECK(copy != NULL);
	cidr_set_copy(copy, set);
	CHECK(cidr_set_count(copy) == n &&
	    cidr_set_nranges(copy) == cidr_set_nranges(set));
	np = probes(v, n, data, size, p);
	for (i = 0; i < np; i++) {
		m = ref_match(v, n, p[i]);
		CHECK(cidr_set_match(set, p[i]) == m);
		CHECK(cidr_set_match(copy, p[i]) == m);
	}
	/* A block shorter than /96 never starts inside ::ffff:0:0/96. */
	for (i = 0; i < n; i++)
		CHECK(cidr_set_match(set, v[i].addr));
	cidr_set_free(set);
	free(copy);
	return 0;
}

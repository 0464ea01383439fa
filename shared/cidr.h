/*
 * IPv4/IPv6 addresses and CIDR blocks: parsing and a lookup set built once
 * at configuration load (blacklist, status_allow, rate_limit_exempt).
 * IPv4 is stored as IPv4-mapped IPv6 (::ffff:a.b.c.d) so one tree serves
 * both families. The set is read-only after cidr_set_build(); lookups are
 * lock-free and allocation-free, safe in any process.
 */
#ifndef CIDR_H
#define CIDR_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

struct cidr {
	uint8_t		 addr[16];	/* network, IPv4 mapped */
	uint8_t		 prefix;	/* 0..128, in mapped space */
};

struct cidr_set;

/*
 * Parse "1.2.3.4", "10.0.0.0/8", "::1", "2001:db8::/32" into <out>.
 * Host bits set below the prefix are an error. Returns 0, or -1 and a
 * static message in <*err>.
 */
int		 cidr_parse(const char *s, struct cidr *out, const char **err);

/* Build a lookup set from <n> blocks (copied). NULL on allocation error. */
struct cidr_set	*cidr_set_build(const struct cidr *blocks, size_t n);
void		 cidr_set_free(struct cidr_set *);
size_t		 cidr_set_count(const struct cidr_set *);

/*
 * A set is one flat block with no pointer in it, so it can be copied
 * into shared memory and searched there. Bytes a set of <nranges> merged
 * ranges takes; ranges in <set> (0 for NULL); copy <src> (NULL: empty)
 * into <dst>, which has room for cidr_set_nranges(src) ranges.
 */
size_t		 cidr_set_bytes(size_t nranges);
size_t		 cidr_set_nranges(const struct cidr_set *);
void		 cidr_set_copy(struct cidr_set *dst,
		    const struct cidr_set *src);

/* 1 when <addr16> (mapped IPv6 form) is inside any block of <set>. */
int		 cidr_set_match(const struct cidr_set *set,
		    const uint8_t addr16[16]);
/* Same for a socket address (AF_INET or AF_INET6). NULL set: 0. */
int		 cidr_set_match_sa(const struct cidr_set *set,
		    const struct sockaddr *sa);

/* Fill <addr16> with the mapped form of <sa>. Returns 0 or -1. */
int		 cidr_addr_from_sa(const struct sockaddr *sa,
		    uint8_t addr16[16]);

#endif /* CIDR_H */

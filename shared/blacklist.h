/*
 * The blacklist every worker reads: a region of the shared segment that
 * holds the parsed list, so that an edit of the file reaches the running
 * workers without renewing them (a tool such as fail2ban may add an
 * address every few seconds; each renewal would drain every worker and
 * drop its keep-alive pools). Two slots under a seqlock: the master
 * writes the spare one and makes it current; a reader that raced with a
 * rewrite searches again. A list too big for the slots, sized at start,
 * is left to new workers, which match their own copy (struct conf), as
 * after a reload; the running ones keep the last list that fitted.
 */
#ifndef BLACKLIST_H
#define BLACKLIST_H

#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "conf.h"

/*
 * Ranges a slot holds at least, whatever the list at start: 8 MB each,
 * touched only as far as the list goes.
 */
#define BLACKLIST_MIN_RANGES	(1u << 18)

/* Bytes the region needs for <c>'s list (and room to grow). Any process. */
size_t	 blacklist_region_size(const struct conf *c);
/*
 * Lay the region out in <mem> (blacklist_region_size(<c>) bytes, zeroed)
 * and publish <c>'s list. Master, before forking. 0 or -1.
 */
int	 blacklist_region_init(void *mem, const struct conf *c);
/* Ranges a slot holds. Any process. */
size_t	 blacklist_capacity(void);

/*
 * Master: make <set> (NULL: empty) the list every worker matches. 0, or
 * -1 when it has more ranges than a slot holds: the workers forked from
 * then on match their own copy, the running ones keep the last list
 * published, and the caller must renew them for the change to be seen.
 */
int	 blacklist_publish(const struct cidr_set *set);

/*
 * Worker: 1 when <addr16> is blacklisted. <own> is this worker's copy,
 * used only while the list is too big for the region. Lock-free.
 */
int	 blacklist_match(const struct cidr_set *own,
	    const uint8_t addr16[16]);
/* Entries (lines) of the list workers match now; for the status page. */
size_t	 blacklist_entries(const struct cidr_set *own);
/*
 * Bumped by every blacklist_publish(): a connection checked at an older
 * version is checked again at its next request. Any process.
 */
uint32_t blacklist_version(void);

#endif /* BLACKLIST_H */

/*
 * The docroot index: the names directly in htdocs, kept current with
 * inotify, so that static_serve() can route a path whose first segment is
 * none of them elsewhere without asking the kernel. While the index
 * cannot be trusted it is off and every name "may exist": its "no" is
 * never stale, only late (see docindex.c). One per worker.
 */
#ifndef DOCINDEX_H
#define DOCINDEX_H

#include <stddef.h>

#define DOCINDEX_MAX	4096	/* more names in htdocs: index off */

/*
 * Index the directory <dirfd> (kept open by the caller) and watch it
 * through the event loop, which must exist. 0 when the index is on, -1
 * when it stays off (logged if unexpected). Worker, after ev_init().
 */
int	 docindex_open(int dirfd);
/*
 * 0 when no entry named by the <len> bytes at <name> is in the directory
 * right now, else 1 (also whenever the index is off). Worker.
 */
int	 docindex_may_exist(const char *name, size_t len);
/*
 * Read pending inotify events and rescan when the names may have changed.
 * The event loop calls it; tests call it to skip the loop.
 */
void	 docindex_update(void);
/* 1 when the index answers, 0 when it is off. */
int	 docindex_active(void);
/* Stop watching and free the index; it is off afterwards. */
void	 docindex_close(void);

#endif /* DOCINDEX_H */

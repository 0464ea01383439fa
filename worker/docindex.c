/*
 * The docroot index: the set of names directly in htdocs, one per worker.
 * static_serve() asks it about the first segment of a path; a name that
 * is not there could only make the openat2() fail with ENOENT, so such a
 * request goes to the proxy without that syscall.
 *
 * inotify on the directory keeps the set current; on any change of names
 * the directory is read again, whole (no incremental bookkeeping to get
 * wrong). A "no" must never be stale, so whenever the set cannot be
 * trusted (no inotify, the watch is gone, a scan failed or found more
 * than DOCINDEX_MAX names, a filesystem whose changes inotify may miss or
 * whose lookups fold case) the index is off and every name may exist.
 * A "no" can be late, though: a name created in htdocs is seen once this
 * worker's loop has read the inotify event, so a request racing the
 * creation is routed as if it had arrived a moment earlier.
 */
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/statfs.h>
#include <linux/fs.h>
#include <linux/magic.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docindex.h"
#include "ev.h"
#include "log.h"
#include "siphash.h"

#ifndef ZFS_SUPER_MAGIC
#define ZFS_SUPER_MAGIC		0x2fc12fc1
#endif

/*
 * IN_ATTRIB for htdocs itself: its mode decides whether lookups in it
 * work at all, and a rescan finds out (see set_scan()).
 */
#define DOCINDEX_EVENTS	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | \
	IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB | IN_ONLYDIR)

struct docname {
	uint64_t	 hash;
	uint32_t	 off;		/* of the name in docset.names */
	uint32_t	 len;		/* 0: empty slot */
};

/* Open addressing with linear probing; at most half the slots are used. */
struct docset {
	char		*names;		/* NUL-terminated, back to back */
	size_t		 len, cap;	/* bytes of names used, allocated */
	size_t		 count;		/* names appended */
	struct docname	*slot;
	size_t		 mask;		/* number of slots - 1 */
};

static struct ev_io	 dx_io = { -1, NULL };	/* the inotify descriptor */
static int		 dx_dirfd = -1;
static int		 dx_valid;	/* dx_set answers */
static int		 dx_scanned;	/* a scan was tried since open */
static struct docset	 dx_set;
static uint8_t		 dx_key[SIPHASH_KEY_LEN];

static void
set_free(struct docset *s)
{
	free(s->names);
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

static int
set_append(struct docset *s, const char *name)
{
	size_t	 n = strlen(name) + 1, cap;
	char	*p;

	if (s->len + n > s->cap) {
		cap = s->cap ? s->cap : 1024;
		while (cap < s->len + n)
			cap *= 2;
		if ((p = realloc(s->names, cap)) == NULL)
			return -1;
		s->names = p;
		s->cap = cap;
	}
	memcpy(s->names + s->len, name, n);
	s->len += n;
	s->count++;
	return 0;
}

/*
 * The slot holding the <len> bytes at <name> (hash <h>), or the empty
 * slot where it would go.
 */
static struct docname *
set_probe(const struct docset *s, const char *name, size_t len, uint64_t h)
{
	struct docname	*d;
	size_t		 i;

	for (i = h & s->mask; (d = &s->slot[i])->len != 0;
	    i = (i + 1) & s->mask)
		if (d->hash == h && d->len == len &&
		    memcmp(s->names + d->off, name, len) == 0)
			break;
	return d;
}

/* Hash the appended names into a table of the right size. */
static int
set_build(struct docset *s)
{
	struct docname	*d;
	size_t		 n = 16, off, len;
	uint64_t	 h;

	while (n < 2 * s->count)
		n *= 2;
	if ((s->slot = calloc(n, sizeof(*s->slot))) == NULL)
		return -1;
	s->mask = n - 1;
	for (off = 0; off < s->len; off += len + 1) {
		len = strlen(s->names + off);
		h = siphash24(s->names + off, len, dx_key);
		/* readdir may repeat a name that moves during the scan */
		if ((d = set_probe(s, s->names + off, len, h))->len != 0)
			continue;
		d->hash = h;
		d->off = (uint32_t)off;
		d->len = (uint32_t)len;
	}
	return 0;
}

/*
 * Read the names in <dirfd> into <s>. 0, or -1 with errno (EFBIG: more
 * than DOCINDEX_MAX). Opening "." needs search permission on htdocs, as
 * every request's lookup does: an htdocs nobody may enter is never
 * indexed, because there a missing name is 403, not "not found".
 */
static int
set_scan(struct docset *s, int dirfd)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd, rc = -1, saved;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			rc = errno == 0 ? 0 : -1;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (s->count == DOCINDEX_MAX) {
			errno = EFBIG;
			break;
		}
		if (set_append(s, de->d_name) == -1)
			break;
	}
	saved = errno;
	closedir(d);
	errno = saved;
	return rc == 0 ? set_build(s) : -1;
}

/* Replace the set with a fresh scan; off while the scan fails. */
static void
docindex_rescan(void)
{
	struct docset	 s;
	int		 was_on = dx_valid, first = !dx_scanned;

	memset(&s, 0, sizeof(s));
	set_free(&dx_set);
	dx_valid = 0;
	dx_scanned = 1;
	if (set_scan(&s, dx_dirfd) == 0) {
		if (!was_on)
			log_debug("docroot index on: %zu names", s.count);
		dx_set = s;
		dx_valid = 1;
		return;
	}
	/* Said once, when the index goes off. */
	if ((was_on || first) && errno == EFBIG)
		log_info("docroot index off: more than %d names in htdocs",
		    DOCINDEX_MAX);
	else if (was_on || first)
		log_warn("docroot index off: reading htdocs");
	set_free(&s);
}

/*
 * Can inotify be trusted with <dirfd>? It reports only what this kernel
 * changes (on NFS, CIFS, FUSE... another host may add a file we would
 * never hear of), and in a casefolded directory "README" opens for
 * "readme": there the listed names are not all the names that open.
 */
static int
fs_watchable(int dirfd)
{
	struct statfs	 sfs;
	int		 flags = 0;

	if (fstatfs(dirfd, &sfs) == -1)
		return 0;
	switch (sfs.f_type) {
	case EXT4_SUPER_MAGIC:		/* also ext2 and ext3 */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case F2FS_SUPER_MAGIC:
	case TMPFS_MAGIC:
	case OVERLAYFS_SUPER_MAGIC:
	case ZFS_SUPER_MAGIC:
		break;
	default:
		return 0;
	}
	/* The kernel reads an int, whatever the ioctl number says. */
	if (ioctl(dirfd, FS_IOC_GETFLAGS, &flags) == 0 &&
	    (flags & FS_CASEFOLD_FL))
		return 0;
	return 1;
}

/*
 * Read every pending event. 1 when the names may have changed, 0 when
 * not, -1 when the watch is gone (IN_IGNORED: htdocs was deleted or its
 * filesystem unmounted) or inotify failed. IN_Q_OVERFLOW counts as a
 * change: the rescan does not need the lost events.
 */
static int
docindex_drain(void)
{
	char				 buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event	*ev;
	ssize_t				 n, i;
	int				 changed = 0;

	for (;;) {
		n = read(dx_io.fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return changed;
		if (n <= 0)
			return -1;
		for (i = 0; i < n; i += (ssize_t)(sizeof(*ev) + ev->len)) {
			ev = (const struct inotify_event *)(buf + i);
			if (ev->mask & IN_IGNORED)
				return -1;
			/* A child's attributes are not its name. */
			if (!(ev->mask & IN_ATTRIB) || ev->len == 0)
				changed = 1;
		}
	}
}

void
docindex_update(void)
{
	int	 rc;

	if (dx_io.fd == -1)
		return;
	if ((rc = docindex_drain()) == -1) {
		log_warnx("docroot index off: htdocs is no longer watched");
		docindex_close();
	} else if (rc == 1)
		docindex_rescan();
}

static void
docindex_io(struct ev_io *io, uint32_t events)
{
	docindex_update();
}

int
docindex_open(int dirfd)
{
	char	 path[64];

	docindex_close();
	if (!fs_watchable(dirfd)) {
		log_debug("docroot index off: htdocs filesystem not indexed");
		return -1;
	}
	if (getrandom(dx_key, sizeof(dx_key), 0) != (ssize_t)sizeof(dx_key)) {
		log_warn("docroot index off: getrandom");
		return -1;
	}
	if ((dx_io.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warn("docroot index off: inotify_init1");
		return -1;
	}
	dx_io.cb = docindex_io;
	dx_dirfd = dirfd;
	/* The descriptor's own directory, wherever htdocs has moved. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
	if (inotify_add_watch(dx_io.fd, path, DOCINDEX_EVENTS) == -1) {
		/* ENOSPC: fs.inotify.max_user_watches is used up. */
		log_warn("docroot index off: inotify_add_watch");
		docindex_close();
		return -1;
	}
	if (ev_add(&dx_io, EPOLLIN) == -1) {
		log_warn("docroot index off: epoll add inotify");
		docindex_close();
		return -1;
	}
	/* Watch first, then scan: a change in between is an event. */
	docindex_rescan();
	return dx_valid ? 0 : -1;
}

int
docindex_may_exist(const char *name, size_t len)
{
	/* A longer name fails with ENAMETOOLONG: static_serve() says 404. */
	if (!dx_valid || len == 0 || len > NAME_MAX)
		return 1;
	return set_probe(&dx_set, name, len,
	    siphash24(name, len, dx_key))->len != 0;
}

int
docindex_active(void)
{
	return dx_valid;
}

void
docindex_close(void)
{
	if (dx_io.fd != -1) {
		ev_del(&dx_io);
		close(dx_io.fd);
		dx_io.fd = -1;
	}
	set_free(&dx_set);
	dx_valid = 0;
	dx_scanned = 0;
	dx_dirfd = -1;
}

/*
 * The blacklist file is watched. The seed's program opened it on every
 * request, so an edit took effect at once; so it does here, without a
 * reload. Once a second the master looks at the file with stat(2); a
 * change is taken once the file has stayed the same for a whole second,
 * so that a file still being written is not read half done. The master
 * reads it and publishes it in the shared segment (shared/blacklist.c),
 * where the running workers see it at their next connection or request;
 * maitred.conf and the other files are left alone, so that a half-edited
 * maitred.conf is not applied behind the operator's back. A list too big
 * for the shared slots is given to a new generation of workers instead,
 * as a reload does. A file with an error, or gone, is named in the error
 * log and the running list kept.
 */
#include <sys/stat.h>

#include <errno.h>
#include <string.h>
#include <time.h>

#include "blacklist.h"
#include "cidr.h"
#include "log.h"
#include "master.h"

#define BLACKLIST_CHECK_MS	1000

/* What stat(2) says of the file; all zero when it is not there. */
struct file_sig {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime, ctime;
};

static struct file_sig	 taken;		/* the file the running list is */
static struct file_sig	 last;		/* at the previous look */
static struct timespec	 next_look;
static const char	*path;		/* NULL: no blacklist */
static int		 renew_pending;	/* a list new workers must take */
static int		 renew_said;	/* the wait for them was logged */

static void
file_sig_from(const struct stat *st, struct file_sig *sig)
{
	memset(sig, 0, sizeof(*sig));
	sig->dev = st->st_dev;
	sig->ino = st->st_ino;
	sig->size = st->st_size;
	sig->mtime = st->st_mtim;
	sig->ctime = st->st_ctim;
}

static void
file_sig_of(const char *p, struct file_sig *sig)
{
	struct stat	 st;

	memset(sig, 0, sizeof(*sig));
	if (stat(p, &st) == -1)
		return;
	file_sig_from(&st, sig);
}

static int
file_sig_same(const struct file_sig *a, const struct file_sig *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static long
ms_until(const struct timespec *t)
{
	struct timespec	 now;
	long		 ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (t->tv_sec - now.tv_sec) * 1000 +
	    (t->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? ms : 0;
}

static void
look_later(void)
{
	clock_gettime(CLOCK_MONOTONIC, &next_look);
	next_look.tv_sec += BLACKLIST_CHECK_MS / 1000;
}

void
blacklist_watch(const struct conf *c)
{
	path = c->blacklist_path[0] != '\0' ? c->blacklist_path : NULL;
	renew_pending = renew_said = 0;	/* a reload or start renews */
	if (path == NULL)
		return;
	/*
	 * The file as it was when the configuration read it, not as it is
	 * now: an edit made meanwhile (during a reload) is still taken.
	 */
	if (c->blacklist_st.st_ino != 0)
		file_sig_from(&c->blacklist_st, &taken);
	else
		file_sig_of(path, &taken);
	last = taken;
	look_later();
}

int
blacklist_timeout_ms(void)
{
	return path == NULL ? -1 : (int)ms_until(&next_look);
}

/*
 * Start the workers that take a list too big for the shared segment, as
 * soon as the retired ones leave room: the file is not read again for
 * that, and the wait is said once.
 */
static void
blacklist_renew(struct conf *c)
{
	if (!renew_pending)
		return;
	if (!spawn_can_retire()) {
		if (!renew_said)
			log_warnx("blacklist %s: too many retired workers still "
			    "draining; new workers start once they have exited",
			    path);
		renew_said = 1;
		return;
	}
	renew_pending = renew_said = 0;
	log_info("blacklist %s: workers renewed", path);
	spawn_generation(c);
}

/* Read the changed file into <c> and serve with it. */
static void
blacklist_apply(struct conf *c)
{
	size_t	 n;

	if (conf_reload_blacklist(c) == -1) {
		taken = last;	/* said once, not every second */
		log_warnx("blacklist %s changed but cannot be used, keeping "
		    "the running list", path);
		return;
	}
	n = cidr_set_count(c->blacklist);
	if (blacklist_publish(c->blacklist) == 0) {
		taken = last;
		renew_pending = renew_said = 0;	/* the region serves all */
		log_info("blacklist %s changed: %zu entr%s", path, n,
		    n == 1 ? "y" : "ies");
		return;
	}
	/*
	 * Only workers forked from now match their own copy: renew them.
	 * Until then the running ones keep the last list published.
	 */
	taken = last;
	log_info("blacklist %s changed: %zu entr%s, more ranges than the "
	    "shared segment holds (%zu, sized at start): new workers take it",
	    path, n, n == 1 ? "y" : "ies", blacklist_capacity());
	renew_pending = 1;
	blacklist_renew(c);
}

void
blacklist_tick(struct conf *c)
{
	struct file_sig	 now;

	if (path == NULL || ms_until(&next_look) > 0)
		return;
	look_later();
	blacklist_renew(c);
	file_sig_of(path, &now);
	/* Changed since the last look: still being written, perhaps. */
	if (!file_sig_same(&now, &last)) {
		last = now;
		return;
	}
	if (!file_sig_same(&now, &taken))
		blacklist_apply(c);
}

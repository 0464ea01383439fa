/*
 * Spool files for slow clients: see spool.h.
 */
#include <sys/sendfile.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "mtd.h"
#include "spool.h"
#include "stats.h"
#include "tmpfile.h"
#include "worker.h"

static struct log_limit	 spool_warn;

void
spool_init(struct spool *s, uint64_t max, const char *who)
{
	s->fd = max > 0 ? -1 : -2;
	s->r = s->w = 0;
	s->max = max;
	s->who = who;
	s->stuck = s->sent = 0;
}

void
spool_free(struct spool *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -2;
	s->r = s->w = 0;
}

int
spool_open(const char *who, const char *what)
{
	int	 fd;

	if ((fd = tmpfile_in(wconf->temp_dir, who)) == -1)
		log_warnx_limited(&spool_warn, "%s: cannot buffer %s in "
		    "temp_dir %s: %s", who, what, wconf->temp_dir,
		    strerror(errno));
	return fd;
}

/* The file, opened on first use; 0 when there is none to be had. */
static int
spool_ready(struct spool *s)
{
	if (!spool_room(s))
		return 0;
	if (s->fd == -1 && (s->fd = spool_open(s->who, "an answer")) == -1) {
		s->fd = -2;
		return 0;
	}
	return 1;
}

static void
spool_write_failed(struct spool *s, ssize_t n)
{
	log_warnx_limited(&spool_warn, "%s: write to a buffer file in "
	    "temp_dir %s: %s", s->who, wconf->temp_dir,
	    n == 0 ? "no space" : strerror(errno));
	s->stuck = 1;	/* what is there still goes out */
}

size_t
spool_put(struct spool *s, const void *d, size_t len)
{
	ssize_t	 n;

	if (!spool_ready(s))
		return 0;
	len = (size_t)MTD_MIN((uint64_t)len, s->max - s->w);
	n = pwrite(s->fd, d, len, (off_t)s->w);
	if (n <= 0) {
		spool_write_failed(s, n);
		return 0;
	}
	s->w += (uint64_t)n;
	STATS_ADD(bytes_buffered, (uint64_t)n);
	return (size_t)n;
}

ssize_t
spool_put_pipe(struct spool *s, int rfd, size_t len)
{
	char	 buf[16 * 1024];
	loff_t	 off;
	ssize_t	 n;

	if (!spool_ready(s))
		return 0;
	len = (size_t)MTD_MIN((uint64_t)len, s->max - s->w);
	off = (loff_t)s->w;
	n = splice(rfd, NULL, s->fd, &off, len, SPLICE_F_NONBLOCK);
	if (n == -1 && errno == EINVAL) {
		/* A file system without splice: through user space. */
		if ((n = read(rfd, buf, MTD_MIN(len, sizeof(buf)))) <= 0)
			return -1;
		if (spool_put(s, buf, (size_t)n) < (size_t)n)
			return -1;	/* the pipe's bytes are lost */
		return n;
	}
	if (n <= 0) {
		spool_write_failed(s, n);
		return 0;
	}
	s->w += (uint64_t)n;
	STATS_ADD(bytes_buffered, (uint64_t)n);
	return n;
}

ssize_t
spool_peek(struct spool *s, void *buf, size_t len)
{
	len = (size_t)MTD_MIN((uint64_t)len, s->w - s->r);
	return pread(s->fd, buf, len, (off_t)s->r);
}

/*
 * Once empty the file is reused from its start. After sendfile(2) the
 * socket may still hold the file's own pages, unsent: writing over them
 * would change bytes already "sent". A truncation takes the pages from
 * the file and leaves them to the socket, so new writes get new pages.
 */
void
spool_done(struct spool *s, size_t n)
{
	s->r += (uint64_t)n;
	if (s->r < s->w)
		return;
	if (s->sent && ftruncate(s->fd, 0) == -1) {
		log_warn("%s: truncate a buffer file", s->who);
		s->stuck = 1;	/* never written over, then */
		return;
	}
	s->r = s->w = 0;
	s->sent = 0;
}

ssize_t
spool_send(struct spool *s, int sock, size_t len)
{
	off_t	 off = (off_t)s->r;
	ssize_t	 n;

	len = (size_t)MTD_MIN((uint64_t)len, s->w - s->r);
	n = sendfile(sock, s->fd, &off, len);
	if (n > 0) {
		s->sent = 1;
		spool_done(s, (size_t)n);
	}
	return n;
}

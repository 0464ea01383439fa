/*
 * Error and access logging. One write(2) per line on O_APPEND descriptors
 * keeps lines whole across processes. A failing write is ignored: a full
 * or unwritable disk must never stop serving.
 */
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "log.h"
#include "mtd.h"

static int	 log_fd = 2;
int		 log_threshold = LOG_LVL_INFO;
static int	 log_tee;
static int	 log_startup = 1;	/* plain "maitred: msg" lines */
static char	 log_path[4096];
static int	 alog_fd = -1;
static char	 alog_path[4096];

static const char *const level_names[] = {
	"DEBUG", "INFO", "WARNING", "ERROR"
};

int
log_level_parse(const char *s)
{
	static const char *const lower[] = {
		"debug", "info", "warning", "error"
	};
	size_t	 i;

	for (i = 0; i < sizeof(lower) / sizeof(lower[0]); i++)
		if (strcasecmp(s, lower[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "warn") == 0)
		return LOG_LVL_WARNING;
	return -1;
}

const char *
log_level_str(int level)
{
	if (level < 0 || level > LOG_LVL_ERROR)
		return "?";
	return level_names[level];
}

void
log_set_level(int level)
{
	log_threshold = level;
}

void
log_set_tee(int on)
{
	log_tee = on;
}

/*
 * O_NONBLOCK for the open only: a FIFO nobody reads would block it, and
 * the master with it (at start, -t, reload or USR1); it fails with ENXIO
 * instead. Writes stay blocking, as to a file.
 */
static int
open_append(const char *path)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NONBLOCK | O_NOCTTY, 0644);
	if (fd != -1 && fcntl(fd, F_SETFL, O_APPEND) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
log_path_usable(const char *path)
{
	int	 fd;

	if (path == NULL || *path == '\0' || strcmp(path, "stderr") == 0 ||
	    strcmp(path, "off") == 0)
		return 0;
	if ((fd = open_append(path)) == -1)
		return -1;
	close(fd);
	return 0;
}

int
log_open(const char *path)
{
	int	 fd;

	log_startup = 0;
	if (path == NULL || *path == '\0' || strcmp(path, "stderr") == 0) {
		log_path[0] = '\0';
		if (log_fd > 2)
			close(log_fd);
		log_fd = 2;
		return 0;
	}
	if ((fd = open_append(path)) == -1)
		return -1;
	if (log_fd > 2)
		close(log_fd);
	log_fd = fd;
	strlcpy(log_path, path, sizeof(log_path));
	return 0;
}

int
access_log_open(const char *path)
{
	int	 fd;

	if (path == NULL || *path == '\0' || strcmp(path, "off") == 0 ||
	    strcmp(path, "stderr") == 0) {
		if (alog_fd > 2)
			close(alog_fd);
		/* stderr: nothing to reopen, as for the error log */
		alog_fd = path != NULL && strcmp(path, "stderr") == 0 ? 2 : -1;
		alog_path[0] = '\0';
		return 0;
	}
	if ((fd = open_append(path)) == -1)
		return -1;
	if (alog_fd > 2)
		close(alog_fd);
	alog_fd = fd;
	strlcpy(alog_path, path, sizeof(alog_path));
	return 0;
}

int
access_log_enabled(void)
{
	return alog_fd != -1;
}

void
access_log_write(const char *line, size_t len)
{
	if (alog_fd != -1)
		(void)!write(alog_fd, line, len);
}

/* Reopen by path so logrotate's rename + USR1 starts fresh files. */
void
log_reopen(void)
{
	char	 p[sizeof(log_path)];

	if (log_path[0] != '\0') {
		strlcpy(p, log_path, sizeof(p));
		if (log_open(p) == -1)
			log_warn("reopen %s", p);
	}
	if (alog_path[0] != '\0') {
		strlcpy(p, alog_path, sizeof(p));
		if (access_log_open(p) == -1)
			log_warn("reopen %s", p);
	}
}

void
log_close(void)
{
	if (log_fd > 2)
		close(log_fd);
	log_fd = 2;
	if (alog_fd > 2)
		close(alog_fd);
	alog_fd = -1;
}

/* Before the logs are open: what a command-line user wants to read. */
static void
vlog_plain(int with_errno, int saved, const char *fmt, va_list ap)
{
	char	 line[2048];
	size_t	 n;
	int	 r;

	n = strlcpy(line, "maitred: ", sizeof(line));
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n = MTD_MIN(n + (size_t)r, sizeof(line) - 2);
	if (with_errno && n < sizeof(line) - 2) {
		r = snprintf(line + n, sizeof(line) - n, ": %s",
		    strerror(saved));
		if (r > 0)
			n = MTD_MIN(n + (size_t)r, sizeof(line) - 2);
	}
	line[n++] = '\n';
	(void)!write(2, line, n);
}

static void
vlog(int level, int with_errno, const char *fmt, va_list ap)
{
	char		 line[2048];
	struct timeval	 tv;
	struct tm	 tm;
	size_t		 n;
	int		 r, saved = errno;

	if (level < log_threshold)
		return;
	if (log_startup) {
		vlog_plain(with_errno, saved, fmt, ap);
		return;
	}
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "[%Y-%m-%d %H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ld] [%s] [%ld] ",
	    (long)(tv.tv_usec / 1000), level_names[level], (long)getpid());
	n += (size_t)r;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n = MTD_MIN(n + (size_t)r, sizeof(line) - 1);
	if (with_errno && n < sizeof(line) - 1) {
		r = snprintf(line + n, sizeof(line) - n, ": %s",
		    strerror(saved));
		if (r > 0)
			n = MTD_MIN(n + (size_t)r, sizeof(line) - 1);
	}
	/* Make room for the newline even when the message was cut. */
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(log_fd, line, n);
	if (log_tee && log_fd != 2 && level >= LOG_LVL_WARNING)
		(void)!write(2, line, n);
	errno = saved;
}

#define LOG_FN(name, level, with_errno)				\
void									\
name(const char *fmt, ...)						\
{									\
	va_list	 ap;							\
									\
	va_start(ap, fmt);						\
	vlog(level, with_errno, fmt, ap);				\
	va_end(ap);							\
}

LOG_FN(log_debug, LOG_LVL_DEBUG, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_warn, LOG_LVL_WARNING, 1)
LOG_FN(log_warnx, LOG_LVL_WARNING, 0)
LOG_FN(log_error, LOG_LVL_ERROR, 0)

void
log_warnx_limited(struct log_limit *lim, const char *fmt, ...)
{
	char		 msg[1024];
	struct timespec	 ts;
	va_list		 ap;
	uint32_t	 h = 2166136261u;	/* FNV-1a */
	const char	*p;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (p = msg; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	/* +1: a limiter at zero has written nothing yet. */
	if (lim->second == (long)ts.tv_sec + 1 && lim->hash == h) {
		lim->dropped++;
		return;
	}
	lim->hash = h;
	if (lim->dropped > 0)
		log_warnx("%s (and %u repeated lines not logged)", msg,
		    lim->dropped);
	else
		log_warnx("%s", msg);
	lim->second = (long)ts.tv_sec + 1;
	lim->dropped = 0;
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

/*
 * Error log and access log. Every line is built in a stack buffer and
 * written with one write(2) on an O_APPEND descriptor, so lines from many
 * workers never interleave. Before log_open() everything goes to stderr.
 * Format (seed, plus the pid): [2026-02-06 11:20:12.970] [INFO] [1234] msg
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_LVL_DEBUG,
	LOG_LVL_INFO,
	LOG_LVL_WARNING,
	LOG_LVL_ERROR,
};

/* "debug" -> LOG_LVL_DEBUG ...; -1 when unknown. */
int		 log_level_parse(const char *);
const char	*log_level_str(int);

void	 log_set_level(int);
/* Error log to <path> (NULL: stderr). Returns 0, or -1 with errno. */
int	 log_open(const char *path);
/*
 * Whether <path> (error_log or access_log value) can be opened for
 * appending; creates it, as the start would. "stderr", "off" and "" are
 * fine. 0, or -1 with errno. Any process.
 */
int	 log_path_usable(const char *path);
/* Copy warnings and errors to stderr too (foreground on a terminal). */
void	 log_set_tee(int);
/* USR1: reopen the error log and access log by path. */
void	 log_reopen(void);
void	 log_close(void);

/*
 * The lowest level written. Test LOG_DEBUGGING() before building the
 * arguments of a log_debug() on a hot path: it costs one load.
 */
extern int	 log_threshold;
#define LOG_DEBUGGING()	(log_threshold <= LOG_LVL_DEBUG)

void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * For a warning that a fault can repeat at the rate of requests (a
 * backend failing every one): the same message at most once a second
 * per limiter (another message goes out at once), and the next line
 * written says how many were left out. Zeroed to start. One process's
 * own (not shared).
 */
struct log_limit {
	long		 second;	/* monotonic second of the last line */
	unsigned	 dropped;	/* lines left out since */
	uint32_t	 hash;		/* of the last message written */
};

void	 log_warnx_limited(struct log_limit *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* Access log: <path> NULL or "off" disables it. */
int	 access_log_open(const char *path);
int	 access_log_enabled(void);
void	 access_log_write(const char *line, size_t len);

#endif /* LOG_H */

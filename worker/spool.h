/*
 * Spool files: what a slow client is not ready for yet, kept in an
 * unnamed file in temp_dir, so that the program or backend producing it
 * goes free at its own pace rather than the client's (nginx's
 * fastcgi_buffering and proxy_buffering temp files). A spool is a queue
 * of bytes [r, w) in that file. Once empty it is reused from its start
 * (truncated first after sendfile, see spool_done), so an answer a
 * client reads steadily never grows the file.
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct spool {
	int		 fd;	/* -1: none yet, -2: none possible */
	uint64_t	 r, w;	/* [r, w) is still to send */
	uint64_t	 max;	/* most bytes the file may hold */
	const char	*who;	/* "php", "proxy": for the warnings */
	uint8_t		 stuck:1,	/* a write failed: no more bytes */
			 sent:1;	/* pages lent to a socket, see spool_done */
};

/* A spool of at most <max> bytes (0: none) for <who>, not yet opened. */
void	spool_init(struct spool *s, uint64_t max, const char *who);
void	spool_free(struct spool *s);

static inline int
spool_pending(const struct spool *s)
{
	return s->r < s->w;
}

/* Whether the spool may take more bytes now. */
static inline int
spool_room(const struct spool *s)
{
	return s->fd != -2 && !s->stuck && s->w < s->max;
}

/*
 * An unnamed file in temp_dir for <what> ("an answer", "a request
 * body"), or -1 after a warning (rate-limited) naming <who>.
 */
int	spool_open(const char *who, const char *what);

/*
 * Keep <d>/<len>. Returns the bytes kept: fewer, even 0, once the file
 * holds max bytes or cannot be had or written (then a warning); the
 * caller then waits for the client, as without a spool.
 */
size_t	spool_put(struct spool *s, const void *d, size_t len);
/* The same, taking up to <len> bytes from pipe <rfd>; -1 on a read error. */
ssize_t	spool_put_pipe(struct spool *s, int rfd, size_t len);

/*
 * The oldest bytes: spool_peek copies up to <len> of them into <buf>
 * (as pread(2); 0 means the file was cut short) and spool_done() then
 * drops the <n> of them that went on. spool_send() sends up to <len>
 * to socket <sock> with sendfile(2), and drops them itself.
 */
ssize_t	spool_peek(struct spool *s, void *buf, size_t len);
void	spool_done(struct spool *s, size_t n);
ssize_t	spool_send(struct spool *s, int sock, size_t len);

#endif /* SPOOL_H */

/*
 * Kernel pipes for zero-copy relaying: a large proxied body goes from the
 * backend socket into a pipe and from the pipe to the client socket with
 * splice(2), so its bytes are never copied through user space. Pipes are
 * pooled per worker; their number is bounded because the kernel charges
 * pipe pages to the user (fs.pipe-user-pages-soft) and shrinks new pipes
 * to one page past that.
 */
#ifndef SPLICE_H
#define SPLICE_H

#include <stddef.h>
#include <sys/types.h>

struct splice_pipe {
	struct splice_pipe	*next;	/* free list */
	int			 rfd, wfd;
	size_t			 len;	/* bytes in the pipe */
};

/* Capacity we ask for and require of a pipe. */
#define SPLICE_PIPE_SIZE	(64 * 1024)

/*
 * An empty pipe from the pool or a new one; NULL when the per-worker
 * limit is reached or the kernel refuses (no fds, small pipes): the
 * caller then copies as usual.
 */
struct splice_pipe	*splice_pipe_get(void);
/* Return <p>: pooled when empty, closed when it still holds bytes. */
void			 splice_pipe_put(struct splice_pipe *p);

/*
 * Move up to <want> bytes from socket <fd> into <p> (the caller keeps
 * want <= SPLICE_PIPE_SIZE - p->len). As splice(2): bytes moved, 0 at
 * end of stream, -1 with errno (EAGAIN: nothing to read, or the pipe
 * is full when it is not empty).
 */
ssize_t			 splice_in(struct splice_pipe *p, int fd, size_t want);
/* Move what <p> holds to socket <fd>; as splice(2). */
ssize_t			 splice_out(struct splice_pipe *p, int fd);

#endif /* SPLICE_H */

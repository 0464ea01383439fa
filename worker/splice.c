/*
 * Per-worker pool of pipes for splice(2) relaying (see splice.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "splice.h"

/*
 * At most this many pipes in use per worker: 64 KB each, 128 pipes is
 * 8 MB of pipe pages, well under the default per-user soft limit of
 * 64 MB even with several workers. Past it, bodies are copied.
 */
#define SPLICE_MAX_INUSE	128
#define SPLICE_POOL_MAX		32

static struct splice_pipe	*pool;
static int			 npool, ninuse;

static void
pipe_close(struct splice_pipe *p)
{
	close(p->rfd);
	close(p->wfd);
	free(p);
}

static struct splice_pipe *
pipe_new(void)
{
	struct splice_pipe	*p;
	int			 fds[2];

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
		free(p);
		return NULL;
	}
	p->rfd = fds[0];
	p->wfd = fds[1];
	/*
	 * A pipe made past the user's page budget has a single page: the
	 * syscalls per byte would cost more than the copy they save.
	 */
	if (fcntl(p->wfd, F_GETPIPE_SZ) < SPLICE_PIPE_SIZE &&
	    fcntl(p->wfd, F_SETPIPE_SZ, SPLICE_PIPE_SIZE) < SPLICE_PIPE_SIZE) {
		pipe_close(p);
		return NULL;
	}
	return p;
}

struct splice_pipe *
splice_pipe_get(void)
{
	struct splice_pipe	*p;

	if (ninuse >= SPLICE_MAX_INUSE)
		return NULL;
	if ((p = pool) != NULL) {
		pool = p->next;
		npool--;
	} else if ((p = pipe_new()) == NULL)
		return NULL;
	p->next = NULL;
	p->len = 0;
	ninuse++;
	return p;
}

void
splice_pipe_put(struct splice_pipe *p)
{
	ninuse--;
	if (p->len > 0 || npool >= SPLICE_POOL_MAX) {
		pipe_close(p);
		return;
	}
	p->next = pool;
	pool = p;
	npool++;
}

ssize_t
splice_in(struct splice_pipe *p, int fd, size_t want)
{
	ssize_t	 n;

	n = splice(fd, NULL, p->wfd, NULL, want,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0)
		p->len += (size_t)n;
	return n;
}

ssize_t
splice_out(struct splice_pipe *p, int fd)
{
	ssize_t	 n;

	n = splice(p->rfd, NULL, fd, NULL, p->len,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0)
		p->len -= (size_t)n;
	return n;
}

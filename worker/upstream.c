/*
 * Upstream connections and the per-worker keep-alive pool. Idle
 * connections stay in epoll (edge-triggered): any byte or EOF on one
 * means the backend gave up on it, and it is closed (over TLS, a
 * session ticket that arrives late is taken and the connection kept).
 * With backend_tls, I/O goes through tls_io_*() on the connection's SSL
 * object, with the same edge-triggered rules as plain sockets. The
 * event loop has no protection against an event for an object freed
 * earlier in the same batch, so closed connections wait on a dead list
 * that a zero timer empties before the next epoll_wait().
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conn.h"
#include "ev.h"
#include "log.h"
#include "mtd.h"
#include "tls.h"
#include "tls_client.h"
#include "upstream.h"
#include "worker.h"

#define UPSTREAM_IDLE_MAX	1024	/* idle connections per backend */

/* LIFO stacks: the newest on top, the oldest at the tail. */
static struct upstream	*idle[MTD_MAX_BACKENDS];
static struct upstream	*idle_tail[MTD_MAX_BACKENDS];
static int		 nidle[MTD_MAX_BACKENDS];
static int		 nidle_all;
static struct ev_timer	 expire_timer;
static int		 expire_init;
static struct upstream	*dead;
static struct ev_timer	 reap_timer;
static int		 reap_init;

static void	upstream_event(struct ev_io *, uint32_t);

static void
upstream_reap(struct ev_timer *t)
{
	struct upstream	*u;

	while ((u = dead) != NULL) {
		dead = u->next;
		free(u);
	}
}

static void
dead_cb(struct ev_io *io, uint32_t events)
{
	/* A late event for a closed connection: nothing to do. */
}

static void
upstream_close(struct upstream *u)
{
	tls_client_free(u->ssl, 1);	/* close_notify needs the socket */
	u->ssl = NULL;
	ev_close(&u->io);
	u->io.fd = -1;
	u->io.cb = dead_cb;
	u->owner = NULL;
	u->next = dead;
	dead = u;
	if (!reap_init) {
		ev_timer_init(&reap_timer, upstream_reap);
		reap_init = 1;
	}
	if (reap_timer.deadline == 0)
		ev_timer_set(&reap_timer, 0);
}

static void
idle_unlink(struct upstream *u)
{
	int	 b = u->backend;

	if (u->prev != NULL)
		u->prev->next = u->next;
	else
		idle[b] = u->next;
	if (u->next != NULL)
		u->next->prev = u->prev;
	else
		idle_tail[b] = u->prev;
	u->prev = u->next = NULL;
	u->idle = 0;
	nidle[b]--;
	nidle_all--;
}

/*
 * Close the connections idle for backend_keepalive_timeout, oldest
 * first, and come back while any is left. Once a second at most: a
 * connection may live up to a second longer than the timeout.
 */
static void
idle_expire(struct ev_timer *t)
{
	uint64_t		 now = ev_now_ms();
	uint64_t		 limit = (uint64_t)wconf->backend_keepalive_ms;
	struct upstream		*u;
	int			 b;

	for (b = 0; b < MTD_MAX_BACKENDS && nidle_all > 0; b++)
		while ((u = idle_tail[b]) != NULL &&
		    now - u->idle_since >= limit) {
			idle_unlink(u);
			upstream_close(u);
		}
	if (nidle_all > 0)
		ev_timer_set(&expire_timer, 1000);
}

static void
idle_expire_arm(void)
{
	if (wconf->backend_keepalive_ms <= 0)
		return;
	if (!expire_init) {
		ev_timer_init(&expire_timer, idle_expire);
		expire_init = 1;
	}
	if (expire_timer.deadline == 0)
		ev_timer_set(&expire_timer, 1000);
}

/*
 * An idle connection stirred: nothing to read is a spurious edge (or,
 * over TLS, a session ticket), else the backend gave up on it.
 */
static void
idle_check(struct upstream *u)
{
	if (!upstream_has_more(u))
		return;
	idle_unlink(u);
	upstream_close(u);
}

static void
upstream_event(struct ev_io *io, uint32_t events)
{
	struct upstream	*u = (struct upstream *)io;

	if (u->owner == NULL) {
		if (u->idle)
			idle_check(u);
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		u->readable = 1;
	/*
	 * With edge-triggered epoll, data and FIN arriving together make one
	 * event: the short read that takes the data must not end the reads,
	 * or the close is only seen at read_timeout.
	 */
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		u->peer_shut = 1;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		u->writable = 1;
	/* TLS: a read waiting for the socket to drain, or the reverse. */
	if ((events & EPOLLOUT) && u->tls_rwant)
		u->readable = 1;
	if ((events & EPOLLIN) && u->tls_wwant)
		u->writable = 1;
	u->cb(u, events);
}

static struct upstream *
upstream_connect(int backend, const struct sockaddr *sa, socklen_t salen)
{
	struct upstream	*u = NULL;
	int		 fd, one = 1, saved;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	/* The pool may hold the descriptors: give one back and retry. */
	if (fd == -1 && (errno == EMFILE || errno == ENFILE) &&
	    upstream_shed_idle(1) == 1)
		fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/*
	 * A receive window that takes a whole response lets the backend
	 * write it in one go and move on, instead of waking up again each
	 * time we drain a window's worth (autotuning starts far smaller).
	 */
	if (wconf->backend_rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &wconf->backend_rcvbuf,
		    sizeof(wconf->backend_rcvbuf));
	if ((u = calloc(1, sizeof(*u))) == NULL)
		goto fail;
	u->io.fd = fd;
	u->io.cb = upstream_event;
	u->backend = backend;
	if (wconf->backend_tls && (u->ssl = tls_client_new(
	    wconf->backend_tls_ctx, fd, tls_client_name(wconf, backend),
	    backend)) == NULL)
		goto fail;
	if (connect(fd, sa, salen) == 0)
		u->writable = 1;
	else if (errno == EINPROGRESS)
		u->connecting = 1;
	else
		goto fail;
	if (ev_add(&u->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) == -1)
		goto fail;
	return u;
fail:
	saved = errno;
	if (u != NULL)
		tls_client_free(u->ssl, 0);
	close(fd);
	free(u);
	errno = saved;
	return NULL;
}

struct upstream *
upstream_get(int backend, const struct sockaddr *sa, socklen_t salen,
    int fresh, void *owner, upstream_cb *cb)
{
	struct upstream	*u;

	if (backend < 0 || backend >= MTD_MAX_BACKENDS) {
		errno = EINVAL;
		return NULL;
	}
	if (!fresh && (u = idle[backend]) != NULL) {
		idle_unlink(u);
		/* Drained when it went idle; the next edge will say more. */
		u->readable = 0;
		u->writable = 1;
	} else if ((u = upstream_connect(backend, sa, salen)) == NULL)
		return NULL;
	u->owner = owner;
	u->cb = cb;
	return u;
}

int
upstream_pending(const struct upstream *u)
{
	return u->connecting || (u->ssl != NULL && !u->tls_done);
}

/* The outcome of a connect in progress: 0, else the errno value. */
static int
connect_result(struct upstream *u)
{
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (getsockopt(u->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	if (err == 0)
		u->connecting = 0;
	return err;
}

/*
 * Any event may call this: SSL_connect() with nothing new to read or no
 * room to write only says what it wants again.
 */
static int
handshake_step(struct upstream *u, char *why, size_t len)
{
	int	 want = 0;

	switch (tls_client_handshake(u->ssl, &want, why, len)) {
	case 1:
		u->tls_done = 1;
		/* Records after the last handshake one may wait unread. */
		u->readable = u->writable = 1;
		return UPSTREAM_READY;
	case 0:
		if (want == TLS_CLIENT_WANT_READ)
			u->readable = 0;
		else
			u->writable = 0;
		return UPSTREAM_WAIT;
	default:
		return UPSTREAM_FAIL;
	}
}

int
upstream_ready(struct upstream *u, char *why, size_t len)
{
	int	 err;

	if (u->connecting) {
		if (!u->writable)
			return UPSTREAM_WAIT;
		if ((err = connect_result(u)) != 0) {
			snprintf(why, len, "connect: %s", strerror(err));
			return UPSTREAM_FAIL;
		}
	}
	if (u->ssl == NULL || u->tls_done)
		return UPSTREAM_READY;
	return handshake_step(u, why, len);
}

ssize_t
upstream_recv(struct upstream *u, void *buf, size_t len)
{
	ssize_t	 n;
	int	 st = 0;

	if (u->ssl == NULL)
		n = recv(u->io.fd, buf, len, 0);
	else {
		n = tls_io_recv(u->ssl, buf, len, &st);
		u->tls_rwant = (st & TLS_IO_CROSS) != 0;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		u->readable = 0;
	else if (n > 0 && (size_t)n < len && !(st & TLS_IO_MORE) &&
	    !u->peer_shut)
		u->readable = 0;
	return n;
}

ssize_t
upstream_sendv(struct upstream *u, const struct iovec *iov, int iovcnt,
    int more)
{
	ssize_t	 n;
	int	 st;

	if (u->ssl == NULL)
		return sock_sendv(u->io.fd, iov, iovcnt, more ? MSG_MORE : 0);
	n = tls_io_sendv(u->ssl, iov, iovcnt, &st);
	u->tls_wwant = (st & TLS_IO_CROSS) != 0;
	return n;
}

ssize_t
upstream_send(struct upstream *u, const void *buf, size_t len)
{
	struct iovec	 iov;

	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	return upstream_sendv(u, &iov, 1, 0);
}

int
upstream_has_more(struct upstream *u)
{
	char	 b;

	if (u->ssl != NULL)
		return tls_client_has_more(u->ssl);
	return recv(u->io.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) != -1 ||
	    (errno != EAGAIN && errno != EINTR);
}

void
upstream_put(struct upstream *u, int reuse)
{
	int	 b = u->backend;

	u->owner = NULL;
	u->cb = NULL;
	if (!reuse || upstream_pending(u) || nidle[b] >= UPSTREAM_IDLE_MAX) {
		upstream_close(u);
		return;
	}
	u->nreq++;
	u->idle = 1;
	u->idle_since = ev_now_ms();
	u->prev = NULL;
	u->next = idle[b];
	if (idle[b] != NULL)
		idle[b]->prev = u;
	else
		idle_tail[b] = u;
	idle[b] = u;
	nidle[b]++;
	nidle_all++;
	idle_expire_arm();
}

int
upstream_shed_idle(int n)
{
	struct upstream	*u, *oldest;
	int		 b, done;

	for (done = 0; done < n && nidle_all > 0; done++) {
		oldest = NULL;
		for (b = 0; b < MTD_MAX_BACKENDS; b++)
			if ((u = idle_tail[b]) != NULL && (oldest == NULL ||
			    u->idle_since < oldest->idle_since))
				oldest = u;
		idle_unlink(oldest);
		upstream_close(oldest);
	}
	return done;
}

int
upstream_idle_count(int backend)
{
	if (backend < 0 || backend >= MTD_MAX_BACKENDS)
		return 0;
	return nidle[backend];
}

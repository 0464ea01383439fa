/*
 * Client connection state machine. Sockets are registered for
 * EPOLLIN|EPOLLRDHUP in edge-triggered mode, and for EPOLLOUT too from the
 * first write that did not go through (TLS connections from the start):
 * registering EPOLLOUT at once would report the fresh socket writable, a
 * wakeup for nothing on every connection. The readable and writable bits
 * remember what the last edge promised, and are cleared by a short read
 * or write (the socket is then drained or full). Pipelined requests are
 * answered one after the other from the same input buffer.
 */
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "byteranges.h"
#include "cidr.h"
#include "conn.h"
#include "ev.h"
#include "freelist.h"
#include "http.h"
#include "log.h"
#include "request.h"
#include "stats.h"
#include "tls.h"
#include "upstream.h"
#include "worker.h"

#define FREE_REQ_MAX	512	/* request buffers kept for reuse */
#define FREE_REQ_KEEP	16	/* ...and never given back */
#define LINGER_MS	2000
#define DRAIN_GRACE_MS	1000	/* idle connections, on QUIT or reload */

static struct conn	*conns;		/* all open connections */
static int		 nconns;
static struct freelist	 req_pool;

static void	conn_event(struct ev_io *, uint32_t);
static void	conn_timeout(struct ev_timer *);
static void	conn_run(struct conn *);
static void	conn_close(struct conn *);
static int	conn_finish(struct conn *);

int
conn_count(void)
{
	return nconns;
}

/* Request buffers: kept for reuse, a burst's surplus given back. */
static struct conn_req *
req_alloc(void)
{
	if (req_pool.size == 0)
		freelist_init(&req_pool, sizeof(struct conn_req), FREE_REQ_MAX,
		    FREE_REQ_KEEP);
	return freelist_get(&req_pool);
}

static void
req_release(struct conn_req *r)
{
	freelist_put(&req_pool, r);
}

int
conn_ensure_req(struct conn *c)
{
	if (c->r == NULL && (c->r = req_alloc()) == NULL)
		return -1;
	return 0;
}

/*
 * Dotted quad of <a> into <buf>: glibc's inet_ntop() goes through
 * sprintf, and every proxied request formats its client's address.
 */
static void
ipv4_str(const uint8_t *a, char *buf, size_t len)
{
	char	 tmp[16], *p = tmp;
	int	 i;

	for (i = 0; i < 4; i++) {
		if (a[i] >= 100)
			*p++ = (char)('0' + a[i] / 100);
		if (a[i] >= 10)
			*p++ = (char)('0' + a[i] / 10 % 10);
		*p++ = (char)('0' + a[i] % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
	strlcpy(buf, tmp, len);
}

const char *
conn_peer_str(const struct conn *c, char *buf, size_t len)
{
	static const uint8_t	 mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	if (memcmp(c->peer16, mapped, sizeof(mapped)) == 0)
		ipv4_str(c->peer16 + 12, buf, len);
	else
		inet_ntop(AF_INET6, c->peer16, buf, (socklen_t)len);
	return buf;
}

/*
 * Client socket I/O (see conn.h). TLS connections go through tls.c,
 * which keeps the same semantics.
 */
ssize_t
conn_io_recv(struct conn *c, void *buf, size_t len)
{
	if (c->ssl != NULL)
		return tls_recv(c, buf, len);
	return recv(c->io.fd, buf, len, 0);
}

ssize_t
conn_io_send(struct conn *c, const void *buf, size_t len, int more)
{
	if (c->ssl != NULL)
		return tls_send(c, buf, len);
	return send(c->io.fd, buf, len, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
}

ssize_t
sock_sendv(int fd, const struct iovec *iov, int iovcnt, int flags)
{
	struct msghdr	 msg;

	flags |= MSG_NOSIGNAL;
	if (iovcnt == 1)	/* send(2) skips the msghdr and iovec imports */
		return send(fd, iov[0].iov_base, iov[0].iov_len, flags);
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = (struct iovec *)iov;
	msg.msg_iovlen = (size_t)iovcnt;
	return sendmsg(fd, &msg, flags);
}

ssize_t
conn_io_sendv(struct conn *c, const struct iovec *iov, int iovcnt, int more)
{
	if (c->ssl != NULL)
		return tls_sendv(c, iov, iovcnt);
	return sock_sendv(c->io.fd, iov, iovcnt, more ? MSG_MORE : 0);
}

int
conn_io_peek(struct conn *c)
{
	char	 b;

	if (c->ssl != NULL && tls_pending(c))
		return 1;
	return (int)recv(c->io.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
}

static struct conn *
conn_new(int fd, const struct sockaddr_storage *ss)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->io.fd = fd;
	c->io.cb = conn_event;
	c->file_fd = -1;
	c->writable = 1;
	c->state = CS_READ;
	c->t_start_us = ev_now_us();	/* waiting for a head: see conn_408() */
	ev_timer_init(&c->timer, conn_timeout);
	cidr_addr_from_sa((const struct sockaddr *)ss, c->peer16);
	c->peer_port = ss->ss_family == AF_INET6 ?
	    ntohs(((const struct sockaddr_in6 *)ss)->sin6_port) :
	    ntohs(((const struct sockaddr_in *)ss)->sin_port);
	c->next = conns;
	if (conns != NULL)
		conns->prev = c;
	conns = c;
	nconns++;
	STATS_ADD(conns_total, 1);
	stats_conns_add(1);
	return c;
}

static int
accept_one(int lfd, int ssl)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	struct conn		*c;
	int			 fd;

	fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1)
		return -1;
	/* TCP_NODELAY comes from the listener (master/listen.c). */
	if ((c = conn_new(fd, &ss)) == NULL) {
		log_warnx("out of memory for a new connection");
		close(fd);
		return 0;
	}
	if (ssl && tls_conn_new(c) == -1) {
		log_warnx("cannot set up TLS for a new connection");
		conn_close(c);
		return 0;
	}
	c->out_watched = ssl;
	if (ev_add(&c->io, EPOLLIN | EPOLLRDHUP | EPOLLET |
	    (ssl ? EPOLLOUT : 0)) == -1) {
		log_warn("epoll add");
		conn_close(c);
		return 0;
	}
	ev_timer_set(&c->timer, (uint64_t)wconf->client_timeout_ms);
	/* The first bytes usually arrive with the ACK: try right away. */
	c->readable = 1;
	if (request_accept_check(c) == -1)
		c->readable = 0;	/* refused: just send the answer */
	conn_run(c);
	return 0;
}

/* Bytes the client has yet to take from the socket (0 when unknown). */
static uint32_t
conn_unsent(const struct conn *c)
{
	int	 q;

	return ioctl(c->io.fd, SIOCOUTQ, &q) == 0 && q > 0 ? (uint32_t)q : 0;
}

void
conn_write_blocked(struct conn *c)
{
	c->writable = 0;
	c->outq = conn_unsent(c);
	if (c->out_watched)
		return;
	c->out_watched = 1;
	/* A socket that drained meanwhile is reported by the MOD itself. */
	if (ev_mod(&c->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) == -1)
		log_warn("epoll mod");
}

int
conn_client_draining(struct conn *c)
{
	uint32_t	 q, before = c->outq;

	if (!c->out_watched || c->writable)
		return 0;
	q = conn_unsent(c);
	c->outq = q;
	if (q >= before || before - q < CONN_MIN_DRAIN)
		return 0;
	ev_timer_set(&c->timer, (uint64_t)wconf->client_timeout_ms);
	return 1;
}

/* Say it once every 10 s at most: the shortage may last. */
static void
accept_shortage_warn(void)
{
	static uint64_t	 last;
	uint64_t	 now = ev_now_ms();

	if (last != 0 && now - last < 10000)
		return;
	last = now;
	log_warn("accept (pausing new connections)");
}

/*
 * One connection per readiness event. The listener is level-triggered
 * and this worker's own (SO_REUSEPORT per slot): what is still queued
 * is reported by the next epoll_wait(), which the loop makes anyway,
 * so draining the queue to EAGAIN would only add a failing accept4()
 * per wakeup.
 */
void
conn_accept(struct ev_io *listener, uint32_t events)
{
	int	 ssl = worker_listener_ssl(listener);

	if (worker_draining)
		return;
	if (nconns >= worker_conn_limit) {
		worker_accept_pause(0);
		return;
	}
	if (accept_one(listener->fd, ssl) == 0)
		return;
	switch (errno) {
	case EAGAIN:
	case EINTR:
	case ECONNABORTED:
		/* Another wakeup took it, or the client gave up. */
		return;
	case EMFILE:
	case ENFILE:
		/* Idle backend connections first: the listener says again. */
		if (upstream_shed_idle(16) > 0)
			return;
		/* FALLTHROUGH */
	case ENOBUFS:
	case ENOMEM:
		/* Out of descriptors: back off instead of spinning. */
		accept_shortage_warn();
		worker_accept_pause(100);
		return;
	default:
		log_warn("accept");
		return;
	}
}

void
conn_accept_queued(struct ev_io *listener)
{
	int	 ssl = worker_listener_ssl(listener);

	while (nconns < worker_conn_limit && accept_one(listener->fd, ssl) == 0)
		;
}

static void
conn_unlink(struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	nconns--;
}

static void
conn_file_close(struct conn *c)
{
	if (c->file_fd != -1)
		close(c->file_fd);
	c->file_fd = -1;
	c->file_left = 0;
	byteranges_free(c->br);
	c->br = NULL;
}

static void
conn_close(struct conn *c)
{
	int	 was_full = nconns >= worker_conn_limit;

	if (c->hops != NULL)
		c->hops->abort(c);
	c->hops = NULL;
	ev_timer_del(&c->timer);
	conn_file_close(c);
	tls_conn_free(c);
	ev_close(&c->io);
	if (c->r != NULL)
		req_release(c->r);
	conn_unlink(c);
	stats_conns_add(-1);
	ev_io_kill(&c->io);
	ev_free_later(c);
	if (was_full && !worker_draining)
		worker_accept_resume();
}

/*
 * First bytes of a request on a connection without scratch space: read
 * them into a per-worker buffer and attach a request buffer only when
 * something arrived, so idle and silent connections stay small.
 */
static ssize_t
conn_recv_first(struct conn *c)
{
	static char	 scratch[CONN_IN_SIZE];
	ssize_t		 n;

	n = conn_io_recv(c, scratch, sizeof(scratch));
	if (n <= 0)
		return n;
	if (conn_ensure_req(c) == -1) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(c->r->in, scratch, (size_t)n);
	return n;
}

/* Returns 1 when bytes were added, 0 on EAGAIN, -1 on EOF or error. */
static int
conn_read(struct conn *c)
{
	size_t	 room;
	ssize_t	 n;

	room = CONN_IN_SIZE - c->in_len;
	if (room == 0)
		return 0;	/* parser will report 431 */
	if (c->r == NULL)
		n = conn_recv_first(c);
	else
		n = conn_io_recv(c, c->r->in + c->in_len, room);
	if (n > 0) {
		if (c->in_len == 0 && c->nreq > 0)
			ev_timer_set(&c->timer,
			    (uint64_t)wconf->client_timeout_ms);
		c->in_len += (uint32_t)n;
		if (conn_drained(c, (size_t)n, room))
			c->readable = 0;
		STATS_ADD(bytes_in, (uint64_t)n);
		return 1;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		c->readable = 0;
		return 0;
	}
	return -1;
}

void
conn_begin_request(struct conn *c)
{
	c->t_start_us = ev_now_us();
	c->nreq++;
	c->status = 0;
	c->upstream = c->cache = NULL;
	c->head_out = c->bytes_out = c->body_len = 0;
	c->head_done = 0;
	c->rl_limit = 0;
}

/* Try to parse a head from what is buffered; dispatch when complete. */
static int
conn_parse(struct conn *c)
{
	int	 rc, status = 0;

	rc = http_parse_request(c->r->in, c->in_len, &c->r->req, &status);
	if (rc == HTTP_INCOMPLETE)
		return 0;
	conn_begin_request(c);
	if (rc == HTTP_ERROR) {
		c->head_done = 0;
		c->head_len = c->in_len;
		resp_error(c, status, NULL);
		return 1;
	}
	c->head_done = 1;
	c->head_len = (uint32_t)rc;
	c->keep_alive = c->r->req.keep_alive && !worker_draining &&
	    wconf->keepalive_timeout_ms > 0;
	request_dispatch(c);
	return 1;
}

/* Returns -1 when the connection was closed, else 0. */
static int
conn_step_read(struct conn *c)
{
	int	 rc;

	for (;;) {
		if (c->in_len > 0 && conn_parse(c))
			return 0;
		if (!c->readable)
			return 0;
		rc = conn_read(c);
		if (rc == 0)
			return 0;
		if (rc == -1) {
			conn_close(c);
			return -1;
		}
	}
}

void
conn_respond(struct conn *c)
{
	c->state = CS_WRITE;
	ev_timer_set(&c->timer, (uint64_t)wconf->client_timeout_ms);
}

/* Send r->out from out_off. 1 when all sent, 0 on EAGAIN, -1 on error. */
static int
conn_send_out(struct conn *c)
{
	ssize_t	 n;
	size_t	 len;

	while (c->out_off < c->out_len) {
		len = c->out_len - c->out_off;
		n = conn_io_send(c, c->r->out + c->out_off, len,
		    c->file_left > 0 || conn_closes_after(c));
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR)
				return -1;
			conn_write_blocked(c);
			return 0;
		}
		c->out_off += (uint32_t)n;
		c->bytes_out += (uint64_t)n;
		if ((size_t)n < len) {
			conn_write_blocked(c);
			return 0;
		}
	}
	return 1;
}

/*
 * No sendfile() through TLS: the file goes through r->out, one record's
 * worth at a time. Same return values as conn_send().
 */
static int
conn_send_tls_file(struct conn *c)
{
	ssize_t	 n;
	size_t	 len;
	int	 rc;

	for (;;) {
		if ((rc = conn_send_out(c)) != 1)
			return rc;
		if (c->file_left == 0) {
			if ((rc = byteranges_next(c)) != 1)
				return rc == 0 ? 1 : -1;
			continue;	/* the part's head goes first */
		}
		len = MTD_MIN(c->file_left, (uint64_t)CONN_OUT_SIZE);
		n = pread(c->file_fd, c->r->out, len, c->file_off);
		if (n <= 0)
			return -1;	/* error, or the file shrank */
		c->file_off += n;
		c->file_left -= (uint64_t)n;
		c->out_off = 0;
		c->out_len = (uint32_t)n;
	}
}

/* Returns 1 when everything is sent, 0 on EAGAIN, -1 on error. */
static int
conn_send(struct conn *c)
{
	ssize_t	 n;
	size_t	 len;
	int	 rc;

	if (c->ssl != NULL)
		return conn_send_tls_file(c);
next_part:
	if ((rc = conn_send_out(c)) != 1)
		return rc;
	while (c->file_left > 0) {
		len = c->file_left > (1 << 20) ? (1 << 20) : c->file_left;
		n = sendfile(c->io.fd, c->file_fd, &c->file_off, len);
		if (n == -1)
			goto error;
		if (n == 0)
			return -1;	/* file shrank under us */
		c->file_left -= (uint64_t)n;
		c->bytes_out += (uint64_t)n;
		if ((size_t)n < len) {
			conn_write_blocked(c);
			return 0;
		}
	}
	if (c->br == NULL)
		return 1;
	if ((rc = byteranges_next(c)) == 1)
		goto next_part;
	return rc == 0 ? 1 : -1;
error:
	if (errno == EAGAIN || errno == EINTR) {
		conn_write_blocked(c);
		return 0;
	}
	return -1;
}

static void
conn_log_request(struct conn *c)
{
	uint64_t	 us = ev_now_us() - c->t_start_us;

	/* Gone before any answer (an upload cut short): as nginx logs it. */
	if (c->status == 0)
		c->status = 499;

	stats_request(c->status, 0, c->bytes_out, us);
	if (access_log_enabled())
		request_log(c, us);
}

/*
 * Whether a connection that ends may be closed at once: the client asked
 * for the close and sent nothing we have not read (a head without body,
 * nothing after it), so no reset can follow. Otherwise we linger: unread
 * bytes would make the kernel answer with a reset, which can destroy the
 * response before the client has read it.
 */
static int
conn_close_now_ok(const struct conn *c)
{
	return c->r != NULL && c->head_done && !c->r->req.keep_alive &&
	    c->r->req.body == HTTP_BODY_NONE && c->in_len == c->head_len;
}

/*
 * The response's last bytes are about to be sent and close() follows at
 * once: send them with MSG_MORE. They then wait in the socket until the
 * close, which sets FIN on that same segment; the client gets the answer
 * and the end of the connection in one packet and one wakeup instead of
 * two. Only when the close is certain: corked bytes are otherwise held.
 */
int
conn_closes_after(const struct conn *c)
{
	return c->ssl == NULL && !c->keep_alive && conn_close_now_ok(c);
}

/* The response is out: keep-alive (next request) or close (-1). */
static int
conn_finish(struct conn *c)
{
	uint32_t	 rest;

	conn_file_close(c);
	conn_log_request(c);
	c->t_start_us = ev_now_us();	/* the next head's wait begins */
	if (!c->keep_alive && conn_close_now_ok(c)) {
		tls_shutdown(c);
		conn_close(c);
		return -1;
	}
	if (!c->keep_alive) {
		tls_shutdown(c);
		shutdown(c->io.fd, SHUT_WR);
		c->state = CS_LINGER;
		c->in_len = 0;
		ev_timer_set(&c->timer, LINGER_MS);
		return 0;
	}
	rest = c->in_len - c->head_len;
	if (rest > 0)
		memmove(c->r->in, c->r->in + c->head_len, rest);
	c->in_len = rest;
	c->head_len = c->out_len = c->out_off = 0;
	c->head_done = 0;
	c->state = CS_READ;
	if (rest == 0) {
		req_release(c->r);
		c->r = NULL;
		ev_timer_set(&c->timer, (uint64_t)wconf->keepalive_timeout_ms);
	} else
		ev_timer_set(&c->timer, (uint64_t)wconf->client_timeout_ms);
	return 0;
}

/*
 * Draining: a connection whose answer went out as keep-alive, now idle.
 * Its client may already be sending the next request, which a close
 * would fail: give it the grace of conn_drain()'s idle ones.
 */
static void
conn_drain_idle(struct conn *c)
{
	ev_timer_set(&c->timer, MTD_MIN(DRAIN_GRACE_MS,
	    (uint64_t)wconf->keepalive_timeout_ms));
}

void
conn_handler_done(struct conn *c)
{
	if (c->hops != NULL)
		c->hops->abort(c);
	c->hops = NULL;
	c->handler = NULL;
	if (conn_finish(c) == -1)
		return;
	if (c->state == CS_READ && c->in_len == 0 && worker_draining) {
		conn_drain_idle(c);
		return;
	}
	conn_run(c);
}

void
conn_handler_fail(struct conn *c)
{
	conn_log_request(c);
	conn_close(c);
}

void
conn_handler_reset(struct conn *c)
{
	static const struct linger	 rst = { 1, 0 };

	(void)setsockopt(c->io.fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	tls_no_close_notify(c);
	conn_handler_fail(c);
}

static void
conn_step_linger(struct conn *c)
{
	char	 junk[4096];
	ssize_t	 n;

	for (;;) {
		n = conn_io_recv(c, junk, sizeof(junk));
		if (n > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			c->readable = 0;
			return;
		}
		conn_close(c);
		return;
	}
}

/*
 * The client went away, or stopped reading, in the middle of an answer we
 * send ourselves: it is still a request, logged with what went out.
 */
static void
conn_write_failed(struct conn *c)
{
	conn_log_request(c);
	conn_close(c);
}

static void
conn_run(struct conn *c)
{
	uint64_t	 sent;
	int		 rc;

	for (;;) {
		switch (c->state) {
		case CS_READ:
			if (conn_step_read(c) == -1)
				return;
			/* Dispatch may have produced a response. */
			if (c->state != CS_WRITE)
				return;
			break;
		case CS_WRITE:
			if (!c->writable)
				return;
			sent = c->bytes_out;
			if ((rc = conn_send(c)) == 0) {
				/* It took bytes: client_timeout again. */
				if (c->bytes_out != sent)
					ev_timer_set(&c->timer,
					    (uint64_t)wconf->client_timeout_ms);
				return;
			}
			if (rc == -1) {
				conn_write_failed(c);
				return;
			}
			if (conn_finish(c) == -1)
				return;
			if (c->state == CS_LINGER)
				return;
			if (c->in_len == 0 && worker_draining) {
				conn_drain_idle(c);
				return;
			}
			break;
		case CS_HANDLER:
			return;
		case CS_LINGER:
			if (c->readable)
				conn_step_linger(c);
			return;
		}
	}
}

static void
conn_event(struct ev_io *io, uint32_t events)
{
	struct conn	*c = (struct conn *)io;

	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = 1;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->peer_shut = 1;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->writable = 1;
	/* TLS: a read waiting for the socket to drain, or the reverse. */
	if ((events & EPOLLOUT) && c->tls_rwant)
		c->readable = 1;
	if ((events & EPOLLIN) && c->tls_wwant)
		c->writable = 1;
	if (c->state == CS_HANDLER) {
		c->hops->event(c, events);
		return;
	}
	conn_run(c);
}

/*
 * A head that did not arrive in time. What the log shows comes from the
 * bytes this connection sent, parsed again (the request's state may be an
 * earlier connection's), and its time from when the connection began to
 * wait for this head.
 */
static void
conn_408(struct conn *c)
{
	uint64_t	 since = c->t_start_us;
	int		 status;

	(void)http_parse_request(c->r->in, c->in_len, &c->r->req, &status);
	conn_begin_request(c);
	c->t_start_us = since;
	c->head_len = c->in_len;
}

void
conn_log_plain_http(struct conn *c, const char *in, size_t len, size_t sent)
{
	uint64_t	 since = c->t_start_us;
	int		 status;

	if (conn_ensure_req(c) == -1)
		return;
	len = MTD_MIN(len, sizeof(c->r->in));
	memcpy(c->r->in, in, len);
	c->in_len = c->head_len = (uint32_t)len;
	(void)http_parse_request(c->r->in, c->in_len, &c->r->req, &status);
	conn_begin_request(c);
	c->t_start_us = since;
	c->status = 400;
	c->bytes_out = sent;
	conn_log_request(c);
}

static void
conn_timeout(struct ev_timer *t)
{
	struct conn	*c = (struct conn *)((char *)t -
	    offsetof(struct conn, timer));

	if (!tls_handshake_done(c)) {
		conn_close(c);	/* a stalled handshake: nobody to answer */
		return;
	}
	/*
	 * A head begun and not finished in time: say so, then close. One
	 * that never began (a browser's pre-connect, a port probe) is
	 * closed without a word or a log line, as nginx and HAProxy's
	 * http-ignore-probes do: a 408 there could cross a request sent
	 * at that moment, which would take it for its answer.
	 */
	if (c->state == CS_READ && c->in_len > 0 &&
	    conn_ensure_req(c) == 0) {
		conn_408(c);
		resp_error(c, 408, NULL);
		conn_run(c);
		return;
	}
	if (c->state == CS_HANDLER) {
		c->hops->timeout(c);
		return;
	}
	if (c->state == CS_WRITE && conn_client_draining(c))
		return;
	if (c->state == CS_WRITE) {
		conn_write_failed(c);
		return;
	}
	conn_close(c);
}

/*
 * Graceful stop: everything in progress (a head partly read, requests
 * being served) finishes, without keep-alive where the answer can still
 * say so, and with the idle grace below where it cannot. An idle
 * connection is not
 * closed at once: its client may be sending a request right now, which a
 * close would fail (it may not be retried). A keep-alive connection idle
 * between requests stays readable for DRAIN_GRACE_MS (at most its
 * keepalive_timeout), a fresh one that has sent nothing for
 * DRAIN_GRACE_MS rather than client_timeout; a request arriving meanwhile
 * is answered with "Connection: close" (conn_parse() sees
 * worker_draining), and then conn_timeout() closes the connection. One
 * whose next request is already here is served at once.
 */
void
conn_drain(void)
{
	struct conn	*c, *next;
	uint64_t	 grace;

	grace = MTD_MIN(DRAIN_GRACE_MS, (uint64_t)wconf->keepalive_timeout_ms);
	for (c = conns; c != NULL; c = next) {
		next = c->next;
		/*
		 * An answer not begun yet says "Connection: close"; one whose
		 * head went out as keep-alive gets the grace once done.
		 */
		if (c->status == 0)
			c->keep_alive = 0;
		/* TLS: one whose client has not begun its handshake too. */
		if (c->state == CS_READ && c->in_len == 0 && c->nreq == 0 &&
		    (tls_handshake_done(c) || !c->tls_peeked)) {
			ev_timer_set(&c->timer, DRAIN_GRACE_MS);
			continue;
		}
		if (c->state != CS_READ || c->in_len > 0 || c->nreq == 0)
			continue;
		if (conn_io_peek(c) == 1) {
			c->readable = 1;
			conn_run(c);
		} else
			ev_timer_set(&c->timer, grace);
	}
}

/*
 * Stopping (TERM, or worker_shutdown_timeout run out): a request still
 * under way, a tunnel or a long answer, ends here and is logged with
 * what went out (499 when nothing did), as nginx does; otherwise it
 * would vanish from the access log and the counters just when a reload
 * cut it.
 */
void
conn_close_all(void)
{
	struct conn	*c;

	while ((c = conns) != NULL) {
		if (c->head_done && c->state != CS_LINGER)
			conn_log_request(c);
		conn_close(c);
	}
}

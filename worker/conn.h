/*
 * Client connections: one struct conn per accepted socket, driven by the
 * worker's edge-triggered event loop through a small state machine
 * (read head -> handle -> write -> keep-alive or linger/close). Request
 * scratch space (buffers, the parsed head) is attached only while a
 * request is in progress, so an idle keep-alive connection costs a few
 * hundred bytes.
 */
#ifndef CONN_H
#define CONN_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <stdint.h>

#include "ev.h"
#include "http.h"
#include "mtd.h"

#define CONN_IN_SIZE	(MTD_MAX_HEAD + 4096)	/* head + pipelined bytes */
#define CONN_OUT_SIZE	16384			/* response head + small body */
/* Least a client must take per client_timeout not to be dropped. */
#define CONN_MIN_DRAIN	32768

enum conn_state {
	CS_READ,	/* waiting for (the rest of) a request head */
	CS_WRITE,	/* sending a response held in out[] and/or a file */
	CS_HANDLER,	/* a handler (proxy, PHP) owns the connection */
	CS_LINGER,	/* response sent, half-closed, draining input */
};

struct conn_req {
	void			*link;		/* the free list's, while unused */
	struct http_request	 req;
	char			 path[MTD_MAX_TARGET + 1];	/* normalised */
	char			 in[CONN_IN_SIZE];
	char			 out[CONN_OUT_SIZE];
};

struct ssl_st;

struct conn {
	struct ev_io		 io;		/* first: the loop hands it back */
	struct ev_timer		 timer;
	struct conn		*prev, *next;	/* worker's list, for draining */
	struct conn_req		*r;		/* NULL while idle */

	uint8_t			 state;		/* enum conn_state */
	uint8_t			 readable:1, writable:1, keep_alive:1,
				 head_done:1;
	/* TLS: the last read wanted to write, the last write to read. */
	uint8_t			 tls_rwant:1, tls_wwant:1;
	/* The last TLS read stopped short of an end or error it holds. */
	uint8_t			 tls_more:1;
	/*
	 * The peer's FIN (EPOLLRDHUP) or an error was reported: a short read
	 * no longer means "drained", since no new edge will announce the end.
	 */
	uint8_t			 peer_shut:1;
	/* TLS: the first byte was looked at (plain HTTP or a handshake). */
	uint8_t			 tls_peeked:1;
	uint8_t			 out_watched:1;	/* EPOLLOUT registered */
	uint16_t		 peer_port;
	uint8_t			 peer16[16];	/* IPv4 mapped */
	uint32_t		 bl_version;	/* blacklist it was checked at */
	uint32_t		 outq;	/* unsent bytes when a write last blocked */

	uint32_t		 in_len;	/* bytes in r->in */
	uint32_t		 head_len;	/* parsed head of this request */
	uint32_t		 out_len, out_off;	/* r->out */
	struct ssl_st		*ssl;		/* NULL: plain TCP */
	int			 file_fd;	/* -1: none */
	off_t			 file_off;
	uint64_t		 file_left;
	struct byteranges	*br;		/* multipart parts, or NULL */

	/* Per-request accounting for the access log and stats. */
	uint32_t		 nreq;
	int			 status;
	uint64_t		 t_start_us;
	uint64_t		 bytes_out;	/* whole response */
	uint64_t		 head_out;	/* response head bytes */
	uint64_t		 body_len;	/* announced body length */
	const char		*upstream;	/* access log "up=" or NULL */
	const char		*cache;		/* access log "cache=" or NULL */

	/* RateLimit response fields for this request; rl_limit 0 = none. */
	uint32_t		 rl_limit, rl_remaining, rl_reset, rl_window;

	/* CS_HANDLER: a handler (proxy, PHP) drives the connection. */
	const struct handler_ops *hops;
	void			*handler;	/* the handler's state */
};

/*
 * A handler takes a connection over after request_dispatch(): set
 * c->hops/c->handler, c->state = CS_HANDLER. The connection then calls
 * hops->event on every client socket event (c->readable/c->writable are
 * updated first), hops->timeout when c->timer fires, and hops->abort when
 * the connection closes for any reason (free everything, idempotent).
 * The handler writes to the client itself, counting c->bytes_out and
 * setting c->status, c->head_out, c->upstream, and ends with
 * conn_handler_done() or conn_handler_fail().
 *
 * Request body bytes: c->r->in holds the head in [0, head_len) and may
 * hold body (and pipelined) bytes after it, up to in_len. A handler that
 * reads the body keeps using c->r->in from head_len on as its buffer and,
 * before conn_handler_done(), sets c->head_len to the end of this request
 * (body included) so bytes after it are kept for the next request.
 */
struct handler_ops {
	void	(*event)(struct conn *c, uint32_t events);
	void	(*timeout)(struct conn *c);
	void	(*abort)(struct conn *c);
};

/* Accept loop callback for a listening socket. */
void	 conn_accept(struct ev_io *listener, uint32_t events);
/*
 * Accept what waits in <listener>'s queue, as far as worker_connections
 * allows: before its last close, which would reset every connection in
 * it (a slot that a reload removed is closed by its draining worker).
 */
void	 conn_accept_queued(struct ev_io *listener);
/*
 * Stop keeping connections alive; idle ones close after a short grace
 * (a request arriving meanwhile is answered, with Connection: close).
 * Worker, on QUIT.
 */
void	 conn_drain(void);
int	 conn_count(void);
/* Close every connection now (fast shutdown). */
void	 conn_close_all(void);

/* Response building into c->r->out (response.c). */
void	 resp_head(struct conn *c, int status);
void	 resp_header(struct conn *c, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Ends the head: Content-Length <len> unless <len> < 0, Connection. */
void	 resp_end_head(struct conn *c, int64_t len);
int	 resp_append(struct conn *c, const void *p, size_t len);
/*
 * Complete error response with an HTML body. The connection is kept for
 * the next request after a redirect or a refusal of a well-framed one
 * (see response.c), else closed after sending.
 */
void	 resp_error(struct conn *c, int status, const char *extra_headers);
/*
 * resp_error(), the caller saying whether the connection can carry the
 * next request (<keep>: the request was read whole, and the client and
 * the worker's state allow keep-alive).
 */
void	 resp_error_keep(struct conn *c, int status,
	    const char *extra_headers, int keep);
/* Start sending what resp_* built (and the file, if any). */
void	 conn_respond(struct conn *c);

/* The handler sent the whole response: log, then keep-alive or close. */
void	 conn_handler_done(struct conn *c);
/* The handler gives up mid-response: log and close at once. */
void	 conn_handler_fail(struct conn *c);
/*
 * Plain HTTP sent to a TLS port, answered 400 (<sent> bytes) by tls.c:
 * logged as any 400, from the <len> bytes at <in> it read of it.
 */
void	 conn_log_plain_http(struct conn *c, const char *in, size_t len,
	    size_t sent);
/*
 * As conn_handler_fail(), for an answer cut short: the client sees an
 * error (a reset, and over TLS no close_notify) rather than an end,
 * which a close-delimited body could not tell from a complete one.
 */
void	 conn_handler_reset(struct conn *c);
struct rl_result;
/* Remember the limiter's verdict for the RateLimit response fields. */
void	 conn_set_ratelimit(struct conn *c, const struct rl_result *rl);
/* Append the RateLimit fields (if any) to <buf>; returns bytes added. */
size_t	 conn_ratelimit_fields(const struct conn *c, char *buf, size_t len);

/*
 * After a read of <n> bytes when <asked> were asked for: whether the
 * socket is drained, so that the next read must wait for an event. A
 * short TLS read that stopped at the peer's close is not: that close
 * comes from the next call, and no event would announce it.
 */
static inline int
conn_drained(const struct conn *c, size_t n, size_t asked)
{
	return n < asked && !c->tls_more && !c->peer_shut;
}
/* Start a new request's accounting (status, byte counts, clock). */
void	 conn_begin_request(struct conn *c);

/*
 * Client socket I/O, plain or TLS, with recv(2)/send(2) semantics: -1 and
 * errno EAGAIN when it would block, 0 from recv at EOF. A short count
 * means the socket is drained (recv) or full (send). <more>: more data
 * follows at once (MSG_MORE).
 */
ssize_t	 conn_io_recv(struct conn *c, void *buf, size_t len);
ssize_t	 conn_io_send(struct conn *c, const void *buf, size_t len, int more);
/* <more>: MSG_MORE, for the last bytes before a close (conn_closes_after). */
ssize_t	 conn_io_sendv(struct conn *c, const struct iovec *iov, int iovcnt,
	    int more);
/*
 * Gather-send on a plain socket (MSG_NOSIGNAL added to <flags>): send(2)
 * for one buffer, which is cheaper in the kernel, sendmsg(2) otherwise.
 */
ssize_t	 sock_sendv(int fd, const struct iovec *iov, int iovcnt, int flags);
/* 1 when the response being sent ends the connection at once. */
int	 conn_closes_after(const struct conn *c);
/* recv(MSG_PEEK) of one byte: 1 data, 0 EOF, -1 nothing (errno). */
int	 conn_io_peek(struct conn *c);
/*
 * A write to the client did not go through (EAGAIN or short): clear
 * c->writable and make sure EPOLLOUT is watched, so that an edge says
 * when to write again. Every such write must end with this.
 */
void	 conn_write_blocked(struct conn *c);
/*
 * For a timer that fired while a write waits on the client: whether the
 * client took at least CONN_MIN_DRAIN bytes of the socket's queue since
 * the write blocked or the last such look. A client that reads slowly
 * but steadily frees too little of a large send buffer for the kernel
 * to report it writable (a third of it), yet it is no idle client: when
 * it did, its timer is set for another client_timeout.
 */
int	 conn_client_draining(struct conn *c);

/* Attach request scratch space. 0, or -1 when out of memory. */
int	 conn_ensure_req(struct conn *c);
/* Peer address as text (for logs, CGI). */
const char *conn_peer_str(const struct conn *c, char *buf, size_t len);

#endif /* CONN_H */

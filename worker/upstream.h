/*
 * The worker's pool of upstream (backend) connections. Each backend has
 * a LIFO stack of idle keep-alive connections that stay registered in
 * epoll, so a backend that closes one is noticed and the socket closed
 * at once. A connection in use belongs to one owner (the proxy) and its
 * events go to the owner's callback. Closed connections are freed only
 * after the current batch of events, so a pending event never reaches
 * freed memory. With backend_tls a connection carries its SSL object:
 * the handshake belongs to the connect phase, and a pooled connection
 * keeps its TLS state for the next request.
 */
#ifndef UPSTREAM_H
#define UPSTREAM_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <stddef.h>
#include <stdint.h>

#include "ev.h"

struct upstream;
struct ssl_st;
typedef void upstream_cb(struct upstream *, uint32_t events);

struct upstream {
	struct ev_io	 io;		/* first: the loop hands it back */
	struct upstream	*prev, *next;	/* idle stack of its backend */
	void		*owner;		/* NULL while idle */
	upstream_cb	*cb;		/* the owner's event callback */
	int		 backend;	/* index in the backend table */
	uint32_t	 nreq;		/* requests completed on it */
	uint64_t	 idle_since;	/* ev_now_ms() when it went idle */
	uint8_t		 readable:1, writable:1, connecting:1, idle:1;
	/* FIN or error reported: a short read is no longer "drained". */
	uint8_t		 peer_shut:1;
	/* TLS: handshake done; the last read wanted to write, or reverse. */
	uint8_t		 tls_done:1, tls_rwant:1, tls_wwant:1;
	struct ssl_st	*ssl;		/* NULL: plain TCP (backend_tls off) */
};

/* upstream_ready() */
#define UPSTREAM_READY	0	/* send the request */
#define UPSTREAM_WAIT	1	/* connect or TLS handshake in progress */
#define UPSTREAM_FAIL	(-1)

/*
 * Get a connection to backend <backend> at <sa>/<salen> for <owner>,
 * whose events then go to <cb>: the most recently used idle one unless
 * <fresh>, else a new non-blocking connect (with backend_tls, a TLS
 * client on it). upstream_pending() says whether upstream_ready() must
 * be asked before the request goes out. Returns NULL with errno set
 * when the connect failed at once. Worker only.
 */
struct upstream	*upstream_get(int backend, const struct sockaddr *sa,
		    socklen_t salen, int fresh, void *owner, upstream_cb *cb);

/* 1 while the connect or the TLS handshake of <u> is not over. */
int		 upstream_pending(const struct upstream *u);

/*
 * Drive a pending connection <u> on from any event: the connect's
 * outcome once writable, then the TLS handshake. UPSTREAM_READY when
 * the request may go out, UPSTREAM_WAIT for more events, UPSTREAM_FAIL
 * with the reason in <why> (<len> bytes), such as "connect: Connection
 * refused" or "TLS handshake: certificate verify failed: ...". A plain
 * connection still connecting and not yet writable gives UPSTREAM_WAIT
 * (the caller may try an early send). Worker only.
 */
int		 upstream_ready(struct upstream *u, char *why, size_t len);

/*
 * I/O on a ready connection, plain or TLS, with recv(2)/send(2)
 * semantics (-1 and errno EAGAIN when it would block). upstream_recv()
 * clears u->readable once the socket is drained; the senders leave
 * u->writable to the caller, as send(2) would. <more>: MSG_MORE (plain
 * only). Worker only.
 */
ssize_t		 upstream_recv(struct upstream *u, void *buf, size_t len);
ssize_t		 upstream_sendv(struct upstream *u, const struct iovec *iov,
		    int iovcnt, int more);
ssize_t		 upstream_send(struct upstream *u, const void *buf,
		    size_t len);

/*
 * 1 when bytes (or EOF, or an error) wait on <u> beyond what was read:
 * such a connection must not go back to the pool. Worker only.
 */
int		 upstream_has_more(struct upstream *u);

/*
 * The owner is done with <u>: back to the idle stack of its backend
 * when <reuse> (and the stack is not full), else closed. <u> must not
 * be used afterwards. Worker only.
 */
void		 upstream_put(struct upstream *u, int reuse);

/*
 * Out of descriptors: close up to <n> idle pooled connections, the
 * oldest first, whatever their backend, so that a request or a client
 * gets the descriptor rather than a 503. Returns how many were closed.
 * Worker only.
 */
int		 upstream_shed_idle(int n);

/* Idle connections of backend <backend> (tests, status). Worker only. */
int		 upstream_idle_count(int backend);

#endif /* UPSTREAM_H */

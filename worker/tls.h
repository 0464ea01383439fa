/*
 * TLS termination (OpenSSL): contexts built by the master at
 * configuration load and inherited by the workers, and the client side
 * of conn_io_*() for connections accepted on an "ssl" listener. The
 * tls_io_*() functions under them work on any SSL object: the upstream
 * side (upstream.c) uses them too.
 */
#ifndef TLS_H
#define TLS_H

#include <sys/types.h>
#include <sys/uio.h>

struct conf;
struct conn;
struct ssl_st;

/* What tls_io_*() leave in <*st>. */
#define TLS_IO_CROSS	0x01	/* the read must wait for POLLOUT, the
				   write for POLLIN (not the usual way) */
#define TLS_IO_MORE	0x02	/* recv: a short count that did not drain
				   the socket: the next call says EOF or
				   the error */

/*
 * Build the SSL contexts <c> asks for (default certificate, SNI ones)
 * into c->tls. Errors are logged as "file:line: message". 0 or -1.
 * Master only: conf_load().
 */
int	 tls_conf_build(struct conf *c);
/* Free c->tls (NULL is fine). */
void	 tls_conf_free(struct conf *c);
/*
 * Log "<file>:<line>: <message>: <OpenSSL reason>" for the main file of
 * <c>, and clear OpenSSL's error queue. Master, at configuration load.
 */
void	 tls_err(const struct conf *c, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* Attach a server-side SSL object to the new connection <c>. 0 or -1. */
int	 tls_conn_new(struct conn *c);
/* Send close_notify (once, best effort, non-blocking). */
void	 tls_shutdown(struct conn *c);
/* The coming close is a failure: send no close_notify, which says "end". */
void	 tls_no_close_notify(struct conn *c);
/* Shut down if not done yet and free the SSL object. */
void	 tls_conn_free(struct conn *c);
/* 1 once the handshake is complete. */
int	 tls_handshake_done(const struct conn *c);
/* 1 when bytes wait in the SSL buffers (records read ahead too). */
int	 tls_pending(const struct conn *c);

/*
 * recv(2)/send(2) semantics on the non-blocking SSL object <ssl>: -1
 * with errno EAGAIN when it would block, 0 from recv at EOF. A recv
 * reads until <len> bytes or the socket is drained (unless TLS_IO_MORE),
 * a send writes until done or the socket is full. A retried send must
 * start with the same bytes (OpenSSL's rule). Any process.
 */
ssize_t	 tls_io_recv(struct ssl_st *ssl, void *buf, size_t len, int *st);
ssize_t	 tls_io_send(struct ssl_st *ssl, const void *buf, size_t len,
	    int *st);
ssize_t	 tls_io_sendv(struct ssl_st *ssl, const struct iovec *iov,
	    int iovcnt, int *st);

/* conn_io_recv/send/sendv for TLS connections: same semantics. */
ssize_t	 tls_recv(struct conn *c, void *buf, size_t len);
ssize_t	 tls_send(struct conn *c, const void *buf, size_t len);
ssize_t	 tls_sendv(struct conn *c, const struct iovec *iov, int iovcnt);

#endif /* TLS_H */

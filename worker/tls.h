/*
 * TLS termination (OpenSSL): contexts built by the master at
 * configuration load and inherited by the workers, and the client side
 * of conn_io_*() for connections accepted on an "ssl" listener.
 */
#ifndef TLS_H
#define TLS_H

#include <sys/types.h>
#include <sys/uio.h>

struct conf;
struct conn;

/*
 * Build the SSL contexts <c> asks for (default certificate, SNI ones)
 * into c->tls. Errors are logged as "file:line: message". 0 or -1.
 * Master only: conf_load().
 */
int	 tls_conf_build(struct conf *c);
/* Free c->tls (NULL is fine). */
void	 tls_conf_free(struct conf *c);

/* Attach a server-side SSL object to the new connection <c>. 0 or -1. */
int	 tls_conn_new(struct conn *c);
/* Send close_notify (once, best effort, non-blocking). */
void	 tls_shutdown(struct conn *c);
/* Shut down if not done yet and free the SSL object. */
void	 tls_conn_free(struct conn *c);
/* 1 once the handshake is complete. */
int	 tls_handshake_done(const struct conn *c);
/* 1 when decrypted bytes wait in the SSL buffers. */
int	 tls_pending(const struct conn *c);

/* conn_io_recv/send/sendv for TLS connections: same semantics. */
ssize_t	 tls_recv(struct conn *c, void *buf, size_t len);
ssize_t	 tls_send(struct conn *c, const void *buf, size_t len);
ssize_t	 tls_sendv(struct conn *c, const struct iovec *iov, int iovcnt);

#endif /* TLS_H */

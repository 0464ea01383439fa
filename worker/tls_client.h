/*
 * TLS to backends ("backend_tls on"): the client SSL context, built by
 * the master at configuration load and inherited by the workers, and
 * the non-blocking handshake of one connection, used by upstream.c in
 * the workers and by the health checks in the master.
 */
#ifndef TLS_CLIENT_H
#define TLS_CLIENT_H

#include <stddef.h>

struct conf;
struct ssl_st;
struct ssl_ctx_st;

/* tls_client_handshake(): what the handshake waits for. */
#define TLS_CLIENT_WANT_READ	1
#define TLS_CLIENT_WANT_WRITE	2

/*
 * Build c->backend_tls_ctx when c->backend_tls is on: TLS 1.2 or
 * later, ALPN http/1.1, the peer verified against c->backend_tls_ca or
 * the system store unless c->backend_tls_verify is off. Errors are
 * logged as "file:line: message". 0 or -1. Master only: conf_load().
 */
int	 tls_client_conf_build(struct conf *c);
/* Free c->backend_tls_ctx (NULL is fine). */
void	 tls_client_conf_free(struct conf *c);

/*
 * The name checked in backend <i>'s certificate and sent as SNI:
 * backend_tls_name, else the host as written in backends.cfg.
 */
const char *tls_client_name(const struct conf *c, int i);

/*
 * A client SSL object on the connected (or connecting) socket <fd>,
 * checking <name> (an IP address is checked as such and not sent as
 * SNI). <slot> >= 0 keeps and offers a session for resumption in this
 * process's cache slot <slot> (a backend index); -1: none. NULL when
 * out of memory. Any process.
 */
struct ssl_st *tls_client_new(struct ssl_ctx_st *ctx, int fd,
	    const char *name, int slot);

/*
 * Advance the handshake of <ssl>: 1 done, 0 in progress (<*want> says
 * for what, the caller waits for that event), -1 failed: <why> (of
 * <len> bytes) names the OpenSSL reason, such as "TLS handshake:
 * certificate verify failed: self-signed certificate". A failure also
 * forgets the slot's session. Any process.
 */
int	 tls_client_handshake(struct ssl_st *ssl, int *want, char *why,
	    size_t len);

/*
 * Free <ssl> (NULL is fine). With <notify>, first say close_notify (best
 * effort, non-blocking) if the handshake was done, which also keeps the
 * session resumable; a process that only holds a copy made by fork()
 * must not write to the connection and passes 0.
 */
void	 tls_client_free(struct ssl_st *ssl, int notify);

/* 1 when the TLS connection <ssl> has data or EOF to read; 0 if not. */
int	 tls_client_has_more(struct ssl_st *ssl);

#endif /* TLS_CLIENT_H */

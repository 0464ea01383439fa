/*
 * TLS to backends with OpenSSL. The master builds the client context
 * when it loads the configuration, so -t reports a bad CA bundle, and
 * loads the whole CA store into memory then: the workers inherit it
 * through fork() and no handshake ever reads a file. Each worker (and
 * the master, for its health checks) drives handshakes on non-blocking
 * sockets; the caller waits for the event the handshake asks for.
 *
 * Sessions: a worker keeps the last session a backend gave it, one per
 * backend, and offers it on the next connection to that backend, so a
 * new upstream connection usually costs an abbreviated handshake. The
 * cache is per process (a static array), never in the shared segment.
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "conf.h"
#include "log.h"
#include "mtd.h"
#include "tls.h"
#include "tls_client.h"

static SSL_SESSION	*sessions[MTD_MAX_BACKENDS];
static int		 slot_index = -1;	/* SSL ex_data: slot + 1 */

static int
sess_slot(SSL *ssl)
{
	if (slot_index == -1)
		return -1;
	return (int)(intptr_t)SSL_get_ex_data(ssl, slot_index) - 1;
}

/*
 * A new session from a backend (TLS 1.3: a ticket after the handshake,
 * read by any SSL_read): keep it for the connection's slot. Returning 1
 * keeps the reference OpenSSL hands us.
 */
static int
sess_new(SSL *ssl, SSL_SESSION *sess)
{
	int	 slot = sess_slot(ssl);

	if (slot < 0 || slot >= MTD_MAX_BACKENDS ||
	    !SSL_SESSION_is_resumable(sess))
		return 0;
	SSL_SESSION_free(sessions[slot]);
	sessions[slot] = sess;
	return 1;
}

static void
sess_forget(SSL *ssl)
{
	int	 slot = sess_slot(ssl);

	if (slot < 0 || slot >= MTD_MAX_BACKENDS)
		return;
	SSL_SESSION_free(sessions[slot]);
	sessions[slot] = NULL;
}

/*
 * The system store, read now: the bundle file OpenSSL names (or
 * SSL_CERT_FILE), else OpenSSL's default paths, whose directory part
 * is read lazily.
 */
static int
load_system_store(SSL_CTX *ctx)
{
	const char	*f;

	if ((f = getenv(X509_get_default_cert_file_env())) == NULL)
		f = X509_get_default_cert_file();
	if (SSL_CTX_load_verify_locations(ctx, f, NULL) == 1)
		return 0;
	ERR_clear_error();
	return SSL_CTX_set_default_verify_paths(ctx) == 1 ? 0 : -1;
}

static int
verify_setup(struct conf *c, SSL_CTX *ctx)
{
	if (!c->backend_tls_verify) {
		/* For test setups with self-signed certificates. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (c->backend_tls_ca[0] == '\0') {
		if (load_system_store(ctx) == -1) {
			tls_err(c, c->backend_tls_line, "backend_tls: cannot "
			    "load the system CA store");
			return -1;
		}
		return 0;
	}
	if (SSL_CTX_load_verify_locations(ctx, c->backend_tls_ca,
	    NULL) != 1) {
		tls_err(c, c->backend_tls_ca_line, "backend_tls_ca %s",
		    c->backend_tls_ca);
		return -1;
	}
	return 0;
}

int
tls_client_conf_build(struct conf *c)
{
	static const unsigned char	 alpn[] = "\x08http/1.1";
	SSL_CTX				*ctx;

	if (!c->backend_tls)
		return 0;
	if (slot_index == -1 && (slot_index = SSL_get_ex_new_index(0, NULL,
	    NULL, NULL, NULL)) == -1) {
		tls_err(c, c->backend_tls_line, "backend_tls");
		return -1;
	}
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_err(c, c->backend_tls_line, "backend_tls: SSL_CTX_new");
		return -1;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/*
	 * Many backends (Python's ssl among them) close without
	 * close_notify: that end is the end, as on a plain connection.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Pooled connections sit idle: no 34 KB of buffers each then. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, sess_new);
	/* 0 is success here, unlike the rest of OpenSSL. */
	if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0) {
		tls_err(c, c->backend_tls_line, "backend_tls: ALPN");
		goto fail;
	}
	if (verify_setup(c, ctx) == -1)
		goto fail;
	c->backend_tls_ctx = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return -1;
}

void
tls_client_conf_free(struct conf *c)
{
	SSL_CTX_free(c->backend_tls_ctx);
	c->backend_tls_ctx = NULL;
}

const char *
tls_client_name(const struct conf *c, int i)
{
	if (c->backend_tls_name[0] != '\0')
		return c->backend_tls_name;
	if (i < 0 || i >= c->nbackends)
		return "";
	return c->backends[i].host;
}

static int
is_ip(const char *name)
{
	struct in6_addr	 a;

	return inet_pton(AF_INET, name, &a) == 1 ||
	    inet_pton(AF_INET6, name, &a) == 1;
}

/* The name to check; an IP address is never sent as SNI (RFC 6066). */
static int
peer_name(SSL *ssl, const char *name)
{
	if (name[0] == '\0')
		return 0;
	if (is_ip(name))
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    name) == 1 ? 0 : -1;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (SSL_set1_host(ssl, name) != 1 ||
	    SSL_set_tlsext_host_name(ssl, name) != 1)
		return -1;
	return 0;
}

SSL *
tls_client_new(SSL_CTX *ctx, int fd, const char *name, int slot)
{
	SSL	*ssl;

	if (ctx == NULL || (ssl = SSL_new(ctx)) == NULL)
		goto fail;
	if (SSL_set_fd(ssl, fd) != 1 || peer_name(ssl, name) == -1)
		goto fail_ssl;
	if (slot >= 0 && slot < MTD_MAX_BACKENDS) {
		if (SSL_set_ex_data(ssl, slot_index,
		    (void *)(intptr_t)(slot + 1)) != 1)
			goto fail_ssl;
		if (sessions[slot] != NULL)
			(void)SSL_set_session(ssl, sessions[slot]);
	}
	SSL_set_connect_state(ssl);
	return ssl;
fail_ssl:
	SSL_free(ssl);
fail:
	ERR_clear_error();
	errno = ENOMEM;
	return NULL;
}

/* Why the handshake failed, after SSL_get_error() said <err>. */
static void
handshake_why(SSL *ssl, int err, int saved, char *why, size_t len)
{
	unsigned long	 e = ERR_peek_last_error();
	long		 vr = SSL_get_verify_result(ssl);
	const char	*r;

	if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) && vr != X509_V_OK)
		snprintf(why, len, "TLS handshake: certificate verify "
		    "failed: %s", X509_verify_cert_error_string(vr));
	else if (err == SSL_ERROR_SYSCALL && e == 0)
		snprintf(why, len, "TLS handshake: %s", saved != 0 ?
		    strerror(saved) : "connection closed");
	else {
		r = e != 0 ? ERR_reason_error_string(e) : NULL;
		snprintf(why, len, "TLS handshake: %s", r != NULL ? r :
		    "protocol error");
	}
}

int
tls_client_handshake(SSL *ssl, int *want, char *why, size_t len)
{
	int	 n, err, saved;

	ERR_clear_error();
	errno = 0;
	if ((n = SSL_connect(ssl)) == 1)
		return 1;
	saved = errno;
	switch ((err = SSL_get_error(ssl, n))) {
	case SSL_ERROR_WANT_READ:
		*want = TLS_CLIENT_WANT_READ;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*want = TLS_CLIENT_WANT_WRITE;
		return 0;
	}
	handshake_why(ssl, err, saved, why, len);
	ERR_clear_error();
	/* Whatever went wrong, do not offer that session again. */
	sess_forget(ssl);
	return -1;
}

/*
 * Without a close_notify sent, OpenSSL marks the session not resumable
 * when the SSL object is freed; a connection that failed mid-handshake
 * (in init) is skipped, and its session is rightly dropped.
 */
void
tls_client_free(SSL *ssl, int notify)
{
	if (ssl == NULL)
		return;
	ERR_clear_error();
	if (notify && SSL_is_init_finished(ssl))
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_free(ssl);
}

int
tls_client_has_more(SSL *ssl)
{
	char	 b;
	int	 n;

	if (SSL_pending(ssl) > 0)
		return 1;
	ERR_clear_error();
	n = SSL_peek(ssl, &b, 1);
	if (n > 0)
		return 1;
	/* A session ticket alone is consumed here and leaves WANT_READ. */
	n = SSL_get_error(ssl, n);
	ERR_clear_error();
	return n != SSL_ERROR_WANT_READ;
}

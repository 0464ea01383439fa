/*
 * TLS termination with OpenSSL. The master builds the SSL contexts when
 * it loads the configuration (so -t reports a bad certificate) and the
 * workers inherit them through fork(): the session ticket keys are then
 * the same in every worker and a ticket resumes anywhere. A reload builds
 * new contexts, so renewed certificates are picked up.
 *
 * A connection accepted on an "ssl" listener gets an SSL object in accept
 * state; its first SSL_read() or SSL_write() runs the handshake. The
 * worker's loop is edge-triggered and treats a short read as "drained":
 * tls_recv() therefore reads until the buffer is full or OpenSSL wants
 * more from the socket, and tls_send() writes until done or the socket
 * is full.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "conf.h"
#include "conn.h"
#include "log.h"
#include "mtd.h"
#include "tls.h"
#include "worker.h"

#define TLS_CIPHERS	"ECDHE+AESGCM:ECDHE+CHACHA20"
#define TLS_GATHER_MAX	16384	/* one record */

struct tls_sni {
	char		 name[256];	/* "host.example" or "*.example" */
	SSL_CTX		*ctx;
};

struct tls_ctxs {
	SSL_CTX		*def;		/* default certificate */
	struct tls_sni	*sni;
	int		 nsni;
};

/*
 * Log "file:line: message: OpenSSL reason" for a configuration error at
 * line <line> of the main file, and clear OpenSSL's error queue.
 */
void
tls_err(const struct conf *c, int line, const char *fmt, ...)
{
	char		 msg[1024];
	unsigned long	 e;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The first error is the cause ("no start line"); later ones say
	 * only where it surfaced ("PEM lib"). */
	if ((e = ERR_peek_error()) != 0) {
		strlcat(msg, ": ", sizeof(msg));
		strlcat(msg, ERR_reason_error_string(e) != NULL ?
		    ERR_reason_error_string(e) : "OpenSSL error", sizeof(msg));
	}
	ERR_clear_error();
	log_warnx("%s:%d: %s", c->path, line, msg);
}

/* ALPN: HTTP/1.1 only; a client that offers only h2 gets no ALPN. */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char	 h11[] = "\x08http/1.1";
	unsigned char			*sel;

	if (SSL_select_next_proto(&sel, outlen, h11, sizeof(h11) - 1, in,
	    inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* NULL for a readable regular file, else why not (a FIFO never blocks). */
static const char *
file_unreadable(const char *path)
{
	const char	*why;
	FILE		*fp;

	if ((fp = conf_fopen(path, &why)) == NULL)
		return why != NULL ? why : strerror(errno);
	fclose(fp);
	return NULL;
}

/* Whether the PEM file at <path> holds a passphrase-protected key. */
static int
key_encrypted(const char *path)
{
	char	 buf[8192];
	size_t	 n;
	FILE	*fp;

	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strstr(buf, "ENCRYPTED") != NULL;
}

/*
 * No passphrase prompt: a master on a terminal would wait for one at
 * start, at -t and at every reload. An encrypted key is an error.
 */
static int
no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	return 0;
}

/* A server context with our protocol settings and <cert>/<key>. */
static SSL_CTX *
ctx_new(const struct conf *c, const char *cert, int cline, const char *key,
    int kline)
{
	SSL_CTX		*ctx;
	const char	*why;

	if ((why = file_unreadable(cert)) != NULL) {
		tls_err(c, cline, "certificate %s: %s", cert, why);
		return NULL;
	}
	if ((why = file_unreadable(key)) != NULL) {
		tls_err(c, kline, "key %s: %s", key, why);
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_err(c, cline, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Idle connections give back their 34 KB of record buffers. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/*
	 * A record in one read(2) rather than a header read then a body
	 * read: a request over TLS costs one syscall less.
	 */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"maitred",
	    7);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	if (SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS) != 1) {
		tls_err(c, cline, "cipher list");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_err(c, cline, "certificate %s", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			tls_err(c, kline, "key %s does not match certificate "
			    "%s", key, cert);
		} else if (key_encrypted(key)) {
			ERR_clear_error();
			tls_err(c, kline, "key %s is passphrase-protected, "
			    "which is not supported (openssl pkey -in KEY "
			    "-out PLAIN removes it)", key);
		} else
			tls_err(c, kline, "key %s", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_err(c, kline, "key %s does not match certificate %s", key,
		    cert);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * The SNI context for <name>: exact match first, then "*.domain" for one
 * non-empty label. A trailing dot (a fully qualified name) is ignored,
 * as nginx does.
 */
static SSL_CTX *
sni_find(const struct tls_ctxs *t, const char *sni)
{
	char		 name[256];
	const char	*dot;
	size_t		 n;
	int		 i;

	n = strlcpy(name, sni, sizeof(name));
	if (n >= sizeof(name))
		return NULL;
	if (n > 1 && name[n - 1] == '.')
		name[n - 1] = '\0';
	for (i = 0; i < t->nsni; i++)
		if (strcasecmp(t->sni[i].name, name) == 0)
			return t->sni[i].ctx;
	if ((dot = strchr(name, '.')) == NULL || dot == name)
		return NULL;
	for (i = 0; i < t->nsni; i++)
		if (t->sni[i].name[0] == '*' &&
		    strcasecmp(t->sni[i].name + 1, dot) == 0)
			return t->sni[i].ctx;
	return NULL;
}

static int
sni_select(SSL *ssl, int *alert, void *arg)
{
	const struct tls_ctxs	*t = arg;
	const char		*name;
	SSL_CTX			*ctx;

	name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name != NULL && (ctx = sni_find(t, name)) != NULL)
		SSL_set_SSL_CTX(ssl, ctx);
	return SSL_TLSEXT_ERR_OK;
}

static int
any_ssl_listen(const struct conf *c)
{
	int	 i;

	for (i = 0; i < c->nlisten; i++)
		if (c->listens[i].ssl)
			return 1;
	return 0;
}

/* Check that the certificate directives come in pairs. 0 or -1. */
static int
tls_conf_check(const struct conf *c)
{
	int	 rc = 0;

	if (c->ssl_cert[0] != '\0' && c->ssl_key[0] == '\0') {
		tls_err(c, c->ssl_cert_line, "ssl_certificate without "
		    "ssl_certificate_key");
		rc = -1;
	}
	if (c->ssl_key[0] != '\0' && c->ssl_cert[0] == '\0') {
		tls_err(c, c->ssl_key_line, "ssl_certificate_key without "
		    "ssl_certificate");
		rc = -1;
	}
	if (any_ssl_listen(c) && c->ssl_cert[0] == '\0') {
		tls_err(c, c->ssl_listen_line, "listen ... ssl needs "
		    "ssl_certificate and ssl_certificate_key");
		rc = -1;
	}
	return rc;
}

static int
sni_build(struct conf *c, struct tls_ctxs *t)
{
	const struct conf_sni	*s;
	int			 i;

	if (c->nssl_sni == 0)
		return 0;
	if ((t->sni = calloc((size_t)c->nssl_sni, sizeof(*t->sni))) == NULL) {
		tls_err(c, c->ssl_sni[0].line, "%s", strerror(errno));
		return -1;
	}
	for (i = 0; i < c->nssl_sni; i++) {
		s = &c->ssl_sni[i];
		t->sni[i].ctx = ctx_new(c, s->cert, s->line, s->key, s->line);
		if (t->sni[i].ctx == NULL)
			return -1;
		strlcpy(t->sni[i].name, s->name, sizeof(t->sni[i].name));
		t->nsni++;
	}
	SSL_CTX_set_tlsext_servername_callback(t->def, sni_select);
	SSL_CTX_set_tlsext_servername_arg(t->def, t);
	return 0;
}

int
tls_conf_build(struct conf *c)
{
	struct tls_ctxs	*t;

	if (tls_conf_check(c) == -1)
		return -1;
	if (c->ssl_cert[0] == '\0' && c->nssl_sni == 0)
		return 0;
	if (c->ssl_cert[0] == '\0') {
		tls_err(c, c->ssl_sni[0].line, "ssl_sni needs ssl_certificate");
		return -1;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		tls_err(c, c->ssl_cert_line, "%s", strerror(errno));
		return -1;
	}
	c->tls = t;
	t->def = ctx_new(c, c->ssl_cert, c->ssl_cert_line, c->ssl_key,
	    c->ssl_key_line);
	if (t->def == NULL || sni_build(c, t) == -1) {
		tls_conf_free(c);
		return -1;
	}
	return 0;
}

void
tls_conf_free(struct conf *c)
{
	struct tls_ctxs	*t = c->tls;
	int		 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nsni; i++)
		SSL_CTX_free(t->sni[i].ctx);
	free(t->sni);
	SSL_CTX_free(t->def);
	free(t);
	c->tls = NULL;
}

/*
 * Whether the socket BIO's last read got fewer bytes than OpenSSL asked
 * for (read-ahead asks for a whole buffer): the socket was drained then,
 * so once SSL_read() has handed out every buffered byte, a further read
 * would only fail with EAGAIN, and the next arrival makes a new edge.
 */
static int	rbio_short;

static long
rbio_watch(BIO *b, int oper, const char *argp, size_t len, int argi,
    long argl, int ret, size_t *processed)
{
	if (oper == (BIO_CB_READ | BIO_CB_RETURN))
		rbio_short = ret > 0 && processed != NULL && *processed < len;
	return ret;
}

int
tls_conn_new(struct conn *c)
{
	SSL	*ssl;

	if (wconf->tls == NULL || (ssl = SSL_new(wconf->tls->def)) == NULL)
		return -1;
	if (SSL_set_fd(ssl, c->io.fd) != 1) {
		SSL_free(ssl);
		return -1;
	}
	BIO_set_callback_ex(SSL_get_rbio(ssl), rbio_watch);
	SSL_set_accept_state(ssl);
	c->ssl = ssl;
	return 0;
}

void
tls_shutdown(struct conn *c)
{
	if (c->ssl == NULL || !SSL_is_init_finished(c->ssl) ||
	    (SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN))
		return;
	ERR_clear_error();
	(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
}

void
tls_no_close_notify(struct conn *c)
{
	if (c->ssl != NULL)
		SSL_set_quiet_shutdown(c->ssl, 1);
}

void
tls_conn_free(struct conn *c)
{
	if (c->ssl == NULL)
		return;
	tls_shutdown(c);
	SSL_free(c->ssl);
	c->ssl = NULL;
}

int
tls_handshake_done(const struct conn *c)
{
	return c->ssl == NULL || SSL_is_init_finished(c->ssl);
}

int
tls_pending(const struct conn *c)
{
	return SSL_has_pending(c->ssl);
}

/*
 * After a failed SSL_read/SSL_write: -1 with errno, EAGAIN to retry.
 * TLS_IO_CROSS in <*st> when the read must wait for the socket to take
 * bytes, or the write for bytes to arrive.
 */
static ssize_t
tls_fail(SSL *ssl, int ret, int writing, int *st)
{
	int	 err = SSL_get_error(ssl, ret), saved = errno;

	ERR_clear_error();
	switch (err) {
	case SSL_ERROR_WANT_READ:
		if (writing)
			*st |= TLS_IO_CROSS;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		if (!writing)
			*st |= TLS_IO_CROSS;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		if (!writing)
			return 0;
		errno = EPIPE;
		return -1;
	case SSL_ERROR_SYSCALL:
		errno = saved != 0 && saved != EAGAIN ? saved : ECONNRESET;
		return -1;
	default:
		errno = EPROTO;
		return -1;
	}
}

/*
 * Before the first byte of a handshake: a client speaking plain HTTP to
 * the TLS port gets a plain 400 that says so, as nginx answers, rather
 * than a reset it cannot explain. -1 (EPROTO) when that was the case.
 */
static int
tls_plain_http(struct conn *c)
{
	static const char	 msg[] = "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 51\r\n"
	    "Connection: close\r\n\r\n"
	    "The plain HTTP request was sent to the HTTPS port.\n";
	char			 junk[4096];
	unsigned char		 b;
	ssize_t			 n, sent;
	int			 i;

	/*
	 * Not SSL_in_before(): a first SSL_read() before any byte arrived
	 * leaves that state without reading anything, and the HTTP request
	 * was then taken for a broken handshake and answered with a reset.
	 */
	if (c->tls_peeked || recv(c->io.fd, &b, 1, MSG_PEEK) != 1)
		return 0;
	c->tls_peeked = 1;
	if (b < 'A' || b > 'Z')
		return 0;
	sent = send(c->io.fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL);
	/*
	 * Closing with the request unread would send a reset, which can
	 * destroy the answer before the client reads it: take what came.
	 * Its first bytes say what to log (nginx logs it as a 400 too).
	 */
	n = recv(c->io.fd, junk, sizeof(junk), MSG_DONTWAIT);
	conn_log_plain_http(c, junk, n > 0 ? (size_t)n : 0,
	    sent > 0 ? (size_t)sent : 0);
	for (i = 0; i < 15 && n > 0; i++)
		n = recv(c->io.fd, junk, sizeof(junk), MSG_DONTWAIT);
	errno = EPROTO;
	return -1;
}

ssize_t
tls_io_recv(SSL *ssl, void *buf, size_t len, int *st)
{
	size_t	 got = 0;
	ssize_t	 rc;
	int	 n;

	*st = 0;
	rbio_short = 0;
	while (got < len) {
		ERR_clear_error();
		n = SSL_read(ssl, (char *)buf + got,
		    (int)MTD_MIN(len - got, (size_t)INT_MAX));
		if (n > 0) {
			got += (size_t)n;
			if (rbio_short && !SSL_has_pending(ssl))
				break;	/* a short count: drained */
			continue;
		}
		rc = tls_fail(ssl, n, 0, st);
		if (got == 0)
			return rc;
		/* The end or the error is for the next call to report. */
		if (rc == 0 || errno != EAGAIN)
			*st |= TLS_IO_MORE;
		return (ssize_t)got;
	}
	return (ssize_t)got;
}

ssize_t
tls_io_send(SSL *ssl, const void *buf, size_t len, int *st)
{
	size_t	 done = 0;
	ssize_t	 rc;
	int	 n;

	*st = 0;
	while (done < len) {
		ERR_clear_error();
		n = SSL_write(ssl, (const char *)buf + done,
		    (int)MTD_MIN(len - done, (size_t)INT_MAX));
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		rc = tls_fail(ssl, n, 1, st);
		return done > 0 ? (ssize_t)done : rc;
	}
	return (ssize_t)done;
}

/*
 * Small vectors (a response head and a short body) are gathered into one
 * TLS record: a record per piece costs a header, a MAC and often a packet
 * each. A retry after EAGAIN gathers the same bytes again, which is what
 * OpenSSL requires of a retried write.
 */
static ssize_t
tls_sendv_small(SSL *ssl, const struct iovec *iov, int iovcnt, size_t total,
    int *st)
{
	static char	 gather[TLS_GATHER_MAX];
	size_t		 off = 0;
	int		 i;

	for (i = 0; i < iovcnt; i++) {
		memcpy(gather + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return tls_io_send(ssl, gather, total, st);
}

ssize_t
tls_io_sendv(SSL *ssl, const struct iovec *iov, int iovcnt, int *st)
{
	size_t	 total = 0;
	ssize_t	 n;
	int	 i;

	*st = 0;
	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (iovcnt > 1 && total <= TLS_GATHER_MAX)
		return tls_sendv_small(ssl, iov, iovcnt, total, st);
	total = 0;

	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len == 0)
			continue;
		n = tls_io_send(ssl, iov[i].iov_base, iov[i].iov_len, st);
		if (n == -1)
			return total > 0 ? (ssize_t)total : -1;
		total += (size_t)n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	return (ssize_t)total;
}

/* The client connection's side: remember a crossed want for conn.c. */

ssize_t
tls_recv(struct conn *c, void *buf, size_t len)
{
	ssize_t	 n;
	int	 st;

	if (tls_plain_http(c) == -1)
		return -1;
	n = tls_io_recv(c->ssl, buf, len, &st);
	c->tls_rwant = (st & TLS_IO_CROSS) != 0;
	c->tls_more = (st & TLS_IO_MORE) != 0;
	return n;
}

ssize_t
tls_send(struct conn *c, const void *buf, size_t len)
{
	ssize_t	 n;
	int	 st;

	n = tls_io_send(c->ssl, buf, len, &st);
	c->tls_wwant = (st & TLS_IO_CROSS) != 0;
	return n;
}

ssize_t
tls_sendv(struct conn *c, const struct iovec *iov, int iovcnt)
{
	ssize_t	 n;
	int	 st;

	n = tls_io_sendv(c->ssl, iov, iovcnt, &st);
	c->tls_wwant = (st & TLS_IO_CROSS) != 0;
	return n;
}

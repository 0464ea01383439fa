/*
 * The master's probe scheduler. One probe per backend, each a small
 * state machine (connecting, TLS handshake, sending, reading) on a
 * non-blocking socket, driven by the master's poll() through
 * health_pollfds() and health_process(). Deadlines use CLOCK_MONOTONIC.
 * A probe still in flight when the next round is due is left to finish,
 * never doubled. With backend_tls, an http check talks HTTPS with the
 * workers' client context (same CA, same name checks); a tcp check
 * stays a TCP connect.
 */
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "backend.h"
#include "conf.h"
#include "health.h"
#include "log.h"
#include "mtd.h"
#include "tls.h"
#include "tls_client.h"

#define HEALTH_MIN_INTERVAL_MS	10
#define HEALTH_DEFAULT_TIMEOUT	5000

enum probe_state {
	PROBE_IDLE,
	PROBE_CONNECTING,
	PROBE_HANDSHAKE,	/* backend_tls: SSL_connect() */
	PROBE_SENDING,
	PROBE_READING,
};

struct probe {
	int			 fd;		/* -1 when idle */
	enum probe_state	 state;
	short			 events;	/* what poll() waits for */
	struct ssl_st		*ssl;		/* NULL: plain */
	char			 tls_name[256];	/* checked, sent as SNI */
	int64_t			 deadline;	/* monotonic ms */
	int64_t			 started;	/* monotonic ms */
	char			 req[640];
	size_t			 reqlen, sent;
	char			 buf[128];	/* status line */
	size_t			 len;
	/*
	 * Skipping an interim (1xx) head up to its blank line; <bol>: the
	 * last byte ended a line.
	 */
	uint8_t			 interim, bol;
};

static struct {
	struct backend_table	*t;
	int			 n;		/* 0: not checking */
	enum health_kind	 kind;
	struct ssl_ctx_st	*tls;		/* http over TLS; NULL: plain */
	char			 path[256];
	int			 interval_ms;
	int			 timeout_ms;	/* connect (and TLS handshake) */
	int			 answer_ms;	/* the whole check */
	int64_t			 next_round;	/* monotonic ms */
	unsigned		 gen;		/* bumped by init and stop */
	unsigned		 polled_gen;	/* gen at health_pollfds() */
	struct probe		 p[MTD_MAX_BACKENDS];
} hc;

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * No close_notify: the probe asked for "Connection: close", and a
 * worker dropping its fork() copy must not write to the connection.
 */
static void
probe_close(struct probe *p)
{
	tls_client_free(p->ssl, 0);
	p->ssl = NULL;
	if (p->fd != -1)
		close(p->fd);
	p->fd = -1;
	p->state = PROBE_IDLE;
}

static void
probe_done(int i, int ok, const char *why)
{
	probe_close(&hc.p[i]);
	backend_report(hc.t, i, ok, why);
}

static void
probe_fail_errno(int i, const char *what, int err)
{
	char	 why[96];

	switch (err) {
	case ECONNREFUSED:
		snprintf(why, sizeof(why), "%s refused", what);
		break;
	case ETIMEDOUT:
		snprintf(why, sizeof(why), "%s timeout", what);
		break;
	default:
		snprintf(why, sizeof(why), "%s: %s", what, strerror(err));
		break;
	}
	probe_done(i, 0, why);
}

static void	probe_status(int);

/*
 * Drop the interim head at the start of buf up to its blank line; what
 * follows it is the next status line, looked at once it has a line end.
 */
static void
probe_skip_interim(int i)
{
	struct probe	*p = &hc.p[i];
	size_t		 k;

	for (k = 0; k < p->len && p->interim; k++) {
		if (p->buf[k] == '\n') {
			if (p->bol)
				p->interim = 0;
			p->bol = 1;
		} else if (p->buf[k] != '\r')
			p->bol = 0;
	}
	memmove(p->buf, p->buf + k, p->len - k);
	p->len -= k;
	if (!p->interim && memchr(p->buf, '\n', p->len) != NULL)
		probe_status(i);
}

/* "HTTP/1.1 200 OK\r\n": 2xx and 3xx are healthy. */
static void
probe_status(int i)
{
	struct probe	*p = &hc.p[i];
	const char	*b = p->buf;
	char		 why[32];
	int		 status;

	p->buf[p->len] = '\0';
	/* Three digits and then a space or the line's end: not "2000". */
	if (p->len < 13 || strncmp(b, "HTTP/1.", 7) != 0 ||
	    b[7] < '0' || b[7] > '9' || b[8] != ' ' ||
	    b[9] < '1' || b[9] > '5' || b[10] < '0' || b[10] > '9' ||
	    b[11] < '0' || b[11] > '9' ||
	    (b[12] != ' ' && b[12] != '\r' && b[12] != '\n')) {
		probe_done(i, 0, "bad http response");
		return;
	}
	status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	/* 103 Early Hints and the like come before the final answer. */
	if (status >= 100 && status < 200 && status != 101) {
		p->interim = 1;
		p->bol = 0;
		probe_skip_interim(i);
		return;
	}
	if (status >= 200 && status < 400) {
		probe_done(i, 1, NULL);
		return;
	}
	snprintf(why, sizeof(why), "http status %d", status);
	probe_done(i, 0, why);
}

/* recv(2) or SSL_read; on EAGAIN, p->events says what to wait for. */
static ssize_t
probe_io_recv(struct probe *p, void *buf, size_t len)
{
	ssize_t	 n;
	int	 st = 0;

	if (p->ssl == NULL)
		n = recv(p->fd, buf, len, MSG_DONTWAIT);
	else
		n = tls_io_recv(p->ssl, buf, len, &st);
	p->events = (st & TLS_IO_CROSS) ? POLLOUT : POLLIN;
	return n;
}

static ssize_t
probe_io_send(struct probe *p, const void *buf, size_t len)
{
	ssize_t	 n;
	int	 st = 0;

	if (p->ssl == NULL)
		n = send(p->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		n = tls_io_send(p->ssl, buf, len, &st);
	p->events = (st & TLS_IO_CROSS) ? POLLIN : POLLOUT;
	return n;
}

static void
probe_read(int i)
{
	struct probe	*p = &hc.p[i];
	ssize_t		 r;

	r = probe_io_recv(p, p->buf + p->len, sizeof(p->buf) - 1 - p->len);
	if (r == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			probe_fail_errno(i, "read", errno);
		return;
	}
	if (r == 0) {
		if (p->len == 0)
			probe_done(i, 0, "connection closed");
		else
			probe_status(i);
		return;
	}
	p->len += (size_t)r;
	if (p->interim)
		probe_skip_interim(i);
	else if (memchr(p->buf, '\n', p->len) != NULL ||
	    p->len == sizeof(p->buf) - 1)
		probe_status(i);
}

static void
probe_send(int i)
{
	struct probe	*p = &hc.p[i];
	ssize_t		 w;

	w = probe_io_send(p, p->req + p->sent, p->reqlen - p->sent);
	if (w == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			probe_fail_errno(i, "send", errno);
		return;
	}
	p->sent += (size_t)w;
	if (p->sent == p->reqlen) {
		p->state = PROBE_READING;
		p->events = POLLIN;
	}
}

/*
 * Connected (TLS included): send the request. A slow page is not a dead
 * backend: the answer may take the whole interval, as HAProxy's checks
 * do, not just connect_timeout.
 */
static void
probe_request(int i)
{
	struct probe	*p = &hc.p[i];

	p->deadline = p->started + hc.answer_ms;
	p->state = PROBE_SENDING;
	p->events = POLLOUT;
	probe_send(i);
}

static void
probe_handshake(int i)
{
	struct probe	*p = &hc.p[i];
	char		 why[256];
	int		 want = 0;

	switch (tls_client_handshake(p->ssl, &want, why, sizeof(why))) {
	case 1:
		probe_request(i);
		break;
	case 0:
		p->events = want == TLS_CLIENT_WANT_READ ? POLLIN : POLLOUT;
		break;
	default:
		probe_done(i, 0, why);
		break;
	}
}

static void
probe_connected(int i)
{
	struct probe	*p = &hc.p[i];

	if (hc.kind == HEALTH_TCP) {
		probe_done(i, 1, NULL);
		return;
	}
	if (hc.tls != NULL) {
		p->ssl = tls_client_new(hc.tls, p->fd, p->tls_name, -1);
		if (p->ssl == NULL) {
			/* Our problem, not the backend's: no report. */
			log_warnx("health check %s: out of memory",
			    backend_get(hc.t, i)->name);
			probe_close(p);
			return;
		}
		p->state = PROBE_HANDSHAKE;
		probe_handshake(i);
		return;
	}
	probe_request(i);
}

/* 0 when started, else the errno of a socket() that failed. */
static int
probe_start(int i, int64_t now)
{
	const struct backend_slot	*s = backend_get(hc.t, i);
	struct probe			*p = &hc.p[i];

	if (s == NULL)
		return 0;
	p->fd = socket(s->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (p->fd == -1)
		return errno;
	p->started = now;
	p->deadline = now + hc.timeout_ms;
	p->sent = p->len = 0;
	p->interim = p->bol = 0;
	p->reqlen = 0;
	if (hc.kind == HEALTH_HTTP)
		p->reqlen = (size_t)snprintf(p->req, sizeof(p->req),
		    "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
		    "User-Agent: maitred-health\r\n\r\n", hc.path, s->name);
	p->state = PROBE_CONNECTING;
	p->events = POLLOUT;
	if (connect(p->fd, (const struct sockaddr *)&s->ss, s->sslen) == 0)
		probe_connected(i);
	else if (errno != EINPROGRESS && errno != EINTR)
		probe_fail_errno(i, "connect", errno);
	return 0;
}

/*
 * POLLOUT on a connecting socket: SO_ERROR tells how it ended. The
 * getpeername() check guards against a wake-up that did not come from
 * this connect (it only succeeds once the connection is established).
 */
static void
probe_connecting(int i)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(int), sslen = sizeof(ss);
	int			 err = 0;

	if (getsockopt(hc.p[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0)
		probe_fail_errno(i, "connect", err);
	else if (getpeername(hc.p[i].fd, (struct sockaddr *)&ss,
	    &sslen) == 0)
		probe_connected(i);
}

static void
probe_event(int i, short revents)
{
	switch (hc.p[i].state) {
	case PROBE_CONNECTING:
		if (revents & (POLLOUT | POLLERR | POLLHUP))
			probe_connecting(i);
		break;
	case PROBE_HANDSHAKE:
		probe_handshake(i);
		break;
	case PROBE_SENDING:
		if (revents & (hc.p[i].events | POLLERR | POLLHUP))
			probe_send(i);
		break;
	case PROBE_READING:
		if (revents & (hc.p[i].events | POLLERR | POLLHUP))
			probe_read(i);
		break;
	case PROBE_IDLE:
		break;
	}
}

static const char *
probe_timeout_why(const struct probe *p)
{
	switch (p->state) {
	case PROBE_CONNECTING:
		return "connect timeout";
	case PROBE_HANDSHAKE:
		return "connect timeout (TLS handshake)";
	default:
		return "no answer in time";
	}
}

/*
 * Check every backend not still being checked. A socket() that fails is
 * our problem (EMFILE...), not the backend's: no report, and one line
 * for the round however many backends it skipped.
 */
static void
round_start(int64_t now)
{
	int	 i, err, first = 0, skipped = 0;

	for (i = 0; i < hc.n; i++)
		if (hc.p[i].state == PROBE_IDLE &&
		    (err = probe_start(i, now)) != 0 && skipped++ == 0)
			first = err;
	if (skipped > 0)
		log_warnx("health check: socket: %s (%d of %d backends not "
		    "checked this round)", strerror(first), skipped, hc.n);
	hc.next_round = now + hc.interval_ms;
}

void
health_stop(void)
{
	int	 i;

	for (i = 0; i < MTD_MAX_BACKENDS; i++)
		if (hc.p[i].state != PROBE_IDLE)
			probe_close(&hc.p[i]);
	hc.n = 0;
	hc.gen++;
}

void
health_init(const struct conf *c, struct backend_table *t)
{
	int	 i;

	health_stop();
	for (i = 0; i < MTD_MAX_BACKENDS; i++) {
		hc.p[i].fd = -1;
		hc.p[i].state = PROBE_IDLE;
	}
	hc.t = t;
	hc.n = t != NULL ? MTD_MIN(backend_count(t), c->nbackends) : 0;
	hc.kind = c->health_kind;
	hc.tls = c->backend_tls ? c->backend_tls_ctx : NULL;
	for (i = 0; i < hc.n; i++)
		strlcpy(hc.p[i].tls_name, tls_client_name(c, i),
		    sizeof(hc.p[i].tls_name));
	if (strlcpy(hc.path, c->health_path, sizeof(hc.path)) >=
	    sizeof(hc.path) || hc.path[0] != '/')
		strlcpy(hc.path, "/", sizeof(hc.path));
	hc.interval_ms = MTD_MAX(c->health_interval_ms,
	    HEALTH_MIN_INTERVAL_MS);
	hc.timeout_ms = c->connect_timeout_ms > 0 ? c->connect_timeout_ms :
	    HEALTH_DEFAULT_TIMEOUT;
	hc.answer_ms = MTD_MAX(hc.timeout_ms, hc.interval_ms);
	if (hc.n > 0)
		round_start(now_ms());
}

int
health_timeout_ms(void)
{
	int64_t	 now, due;
	int	 i;

	if (hc.n == 0)
		return -1;
	due = hc.next_round;
	for (i = 0; i < hc.n; i++)
		if (hc.p[i].state != PROBE_IDLE && hc.p[i].deadline < due)
			due = hc.p[i].deadline;
	now = now_ms();
	if (due <= now)
		return 0;
	return (int)MTD_MIN(due - now, (int64_t)INT_MAX);
}

int
health_pollfds(struct pollfd *pfd, int max)
{
	int	 i, k = 0;

	hc.polled_gen = hc.gen;
	for (i = 0; i < hc.n && k < max; i++) {
		if (hc.p[i].state == PROBE_IDLE)
			continue;
		pfd[k].fd = hc.p[i].fd;
		pfd[k].events = hc.p[i].events;
		pfd[k].revents = 0;
		k++;
	}
	return k;
}

void
health_process(const struct pollfd *pfd, int n)
{
	int64_t	 now;
	int	 j, i;

	if (hc.n == 0)
		return;
	/* Entries from before an init/stop may name reused fds. */
	for (j = 0; hc.polled_gen == hc.gen && j < n; j++) {
		if (pfd[j].revents == 0)
			continue;
		for (i = 0; i < hc.n; i++)
			if (hc.p[i].state != PROBE_IDLE &&
			    hc.p[i].fd == pfd[j].fd) {
				probe_event(i, pfd[j].revents);
				break;
			}
	}
	now = now_ms();
	for (i = 0; i < hc.n; i++)
		if (hc.p[i].state != PROBE_IDLE && now >= hc.p[i].deadline)
			probe_done(i, 0, probe_timeout_why(&hc.p[i]));
	if (now >= hc.next_round)
		round_start(now);
}

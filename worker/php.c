/*
 * PHP scripts under htdocs, run through php-cgi (CGI/1.1, RFC 3875) or
 * handed to php-fpm over FastCGI, without ever blocking the worker: the
 * child's pipes and the FastCGI socket are non-blocking and driven by
 * the event loop, with back-pressure both ways. The handler owns the
 * connection (CS_HANDLER) from php_start() until the response is out;
 * a state that may still get an event from the current epoll batch is
 * freed only from a timer, after the batch.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/string.h>

#include "cgihead.h"
#include "conn.h"
#include "ev.h"
#include "fcgi.h"
#include "fcgipool.h"
#include "gzip.h"
#include "http.h"
#include "log.h"
#include "mtd.h"
#include "php.h"
#include "spool.h"
#include "stats.h"
#include "worker.h"

#define PHP_HDR_MAX	8192		/* script's header block */
#define PHP_BUF		16384		/* staging buffers */
#define PHP_ERRLINE	1024		/* one stderr line in the error log */
#define PHP_REAP_WAIT_MS 500		/* CGI: stdout closed, child not reaped */
#define PHP_PATH	"/usr/local/bin:/usr/bin:/bin"

#define FCGI_REQUEST_ID		1	/* our only request per connection */
#define FCGI_KEEP_CONN		1	/* BEGIN_REQUEST flag: do not close */
#define FCGI_EVENTS	(EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

enum php_phase {
	PH_COLLECT,	/* reading the request body into body_fd */
	PH_START,	/* spawn the child / connect to php-fpm */
	PH_RUN,		/* talking to the backend */
	PH_FINAL,	/* sending an error page, then done */
};

struct php;

/* One descriptor in the loop; ev_io first, the loop hands it back. */
struct php_io {
	struct ev_io	 io;
	struct php	*p;
};

struct php {
	struct php	*prev, *next;	/* live list (reaping), dead list */
	struct conn	*c;		/* NULL once aborted */
	struct ev_timer	 kick;		/* first run, outside php_start() */
	int		 fcgi;
	enum php_phase	 phase;
	int		 error;		/* status to answer, 0 = none */
	pid_t		 pid;		/* CGI child, 0 when none/reaped */
	int		 exit_st;	/* its wait status, once reaped */
	uint8_t		 exited:1, killed:1, reap_gave_up:1;
	uint64_t	 reap_until;	/* ev_now_ms() bound on waiting */

	struct php_io	 bin;		/* CGI stdin pipe; FastCGI socket */
	struct php_io	 bout;		/* CGI stdout pipe */
	struct php_io	 berr;		/* CGI stderr pipe */
	uint8_t		 b_rd:1, b_wr:1, e_rd:1, connecting:1,
			 fcgi_closed:1, b_err:1;
	/*
	 * FastCGI: the connection came from the pool (reused), nothing came
	 * back on it yet (!got_reply), bytes followed END_REQUEST
	 * (trailing), the request was sent again on a new one (retried).
	 */
	uint8_t		 reused:1, got_reply:1, trailing:1, retried:1;
	/*
	 * php_keepalive: the connection counts in the worker's budget
	 * (counted); the request waits for one (waiting), or its turn came
	 * to open one (open_due).
	 */
	uint8_t		 counted:1, waiting:1, open_due:1;
	struct fcgi_waiter waiter;

	/* Request body: c->r->in[bpos, bend), then the client socket. */
	uint32_t	 hlen;		/* the head's length */
	uint32_t	 bpos, bend;
	uint32_t	 bpos0, bend0;	/* as they were when it started */
	uint8_t		 body_streamed:1;	/* read past c->r->in */
	uint64_t	 body_left;	/* Content-Length bytes not received */
	struct http_chunked ch;
	/*
	 * The body read whole before the script starts, in an unnamed file
	 * in temp_dir: a client trickling it holds no php-fpm worker, and a
	 * chunked one gets its CONTENT_LENGTH (nginx's
	 * fastcgi_request_buffering). [body_off, body_len) is still to go.
	 */
	int		 body_fd;	/* -1: streamed as it comes */
	uint64_t	 body_len, body_off;
	uint8_t		 chunked_req:1, stdin_done:1, stdin_eof:1;

	/* Towards the backend. */
	char		*wbuf;
	size_t		 wcap, wlen, woff;

	/* From the backend (FastCGI: records). */
	uint32_t	 rlen, roff;
	struct fcgi_rd	 rd;

	/* CGI response. */
	size_t		 hblen;
	uint8_t		 head_built:1, chunked:1, nobody:1, eof:1,
			 terminated:1, sized:1, limited:1, overrun:1;
	/*
	 * limited: the script gave a Content-Length, which bounds its body
	 * (out_left: bytes still to come); sized: our answer carries it,
	 * which it does not when we gzip-code the body.
	 */
	uint64_t	 out_left;
	struct gz_stream *gz;		/* gzip-coding the body, or NULL */

	/*
	 * Body bytes the client was not ready for. php-fpm's worker is
	 * then free at once, whatever the client's speed (nginx's
	 * fastcgi_buffering).
	 */
	struct spool	 spool;

	size_t		 elen;

	/*
	 * Buffers, last: php_start() zeroes only what comes before them,
	 * 25 KB a request less to clear. Each has its length above.
	 */
	char		 script[MTD_MAX_TARGET + 1];
	char		 rbuf[PHP_BUF];
	char		 hbuf[PHP_HDR_MAX];
	char		 eline[PHP_ERRLINE];
};

static struct php	*live;
static struct php	*dead;
static struct ev_timer	 dead_timer;
static int		 dead_timer_init;
static char		 docroot[PATH_MAX];

static struct sockaddr_storage	 fcgi_ss;
static socklen_t		 fcgi_sslen;
/* A FastCGI server that is down (or a CGI program missing) fails every
 * PHP request: a line a second. */
static struct log_limit		 fcgi_warn;
/* So does a full temp_dir, for every answer that would be buffered. */
static struct log_limit		 spool_warn;

static void	php_run(struct php *);
static void	php_abort(struct conn *);
static void	php_event(struct conn *, uint32_t);
static void	php_timeout(struct conn *);
static void	fcgi_conn_end(struct php *, int, int);

static const struct handler_ops php_ops = {
	php_event,
	php_timeout,
	php_abort,
};

/*
 * Environment / FastCGI parameters
 */

struct php_env {
	char	*buf;
	size_t	 len, cap;
	int	 fcgi, n, err;
};

static int
env_grow(struct php_env *e, size_t need)
{
	size_t	 cap;
	char	*nb;

	if (e->len + need <= e->cap)
		return 0;
	cap = e->cap ? e->cap : 4096;
	while (cap < e->len + need)
		cap *= 2;
	if ((nb = realloc(e->buf, cap)) == NULL) {
		e->err = 1;
		return -1;
	}
	e->buf = nb;
	e->cap = cap;
	return 0;
}

static void
env_len(char *d, size_t n, size_t *off)
{
	if (n < 128) {
		d[(*off)++] = (char)n;
		return;
	}
	d[(*off)++] = (char)(0x80 | (n >> 24));
	d[(*off)++] = (char)(n >> 16);
	d[(*off)++] = (char)(n >> 8);
	d[(*off)++] = (char)n;
}

static void
env_addn(struct php_env *e, const char *name, size_t nlen, const char *v,
    size_t vlen)
{
	size_t	 off;

	if (v == NULL)
		vlen = 0;
	if (env_grow(e, nlen + vlen + 10) == -1)
		return;
	off = e->len;
	if (e->fcgi) {
		env_len(e->buf, nlen, &off);
		env_len(e->buf, vlen, &off);
		memcpy(e->buf + off, name, nlen);
		off += nlen;
	} else {
		memcpy(e->buf + off, name, nlen);
		off += nlen;
		e->buf[off++] = '=';
	}
	if (vlen > 0)
		memcpy(e->buf + off, v, vlen);
	off += vlen;
	if (!e->fcgi)
		e->buf[off++] = '\0';
	e->len = off;
	e->n++;
}

static void
env_add(struct php_env *e, const char *name, const char *v)
{
	env_addn(e, name, strlen(name), v, strlen(v));
}

static void
env_str(struct php_env *e, const char *name, const struct http_str *s)
{
	env_addn(e, name, strlen(name), s->p, s->len);
}

static void __attribute__((format(printf, 3, 4)))
env_addf(struct php_env *e, const char *name, const char *fmt, ...)
{
	char	 v[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	env_add(e, name, v);
}

static int
hdr_name_ok(const struct http_str *n)
{
	size_t	 i;

	for (i = 0; i < n->len; i++)
		if (!(n->p[i] == '-' || (n->p[i] >= '0' && n->p[i] <= '9') ||
		    (n->p[i] >= 'a' && n->p[i] <= 'z') ||
		    (n->p[i] >= 'A' && n->p[i] <= 'Z')))
			return 0;
	return n->len > 0;
}

static int
hdr_is(const struct http_str *n, const char *s)
{
	return n->len == strlen(s) && strncasecmp(n->p, s, n->len) == 0;
}

/*
 * HTTP_* for every request field. Names with bytes other than letters,
 * digits and '-' are dropped (X_Foo would pose as X-Foo), so is Proxy
 * (httpoxy). Repeated fields are joined with ", " ("; " for Cookie).
 */
static void
env_headers(struct php_env *e, const struct http_request *req)
{
	const struct http_header	*h = req->headers;
	char				 name[128], *val;
	size_t				 vlen, i;
	int				 a, b, seen;
	int				 absolute = http_target_absolute(req);

	for (a = 0; a < req->nheaders; a++) {
		if (!hdr_name_ok(&h[a].name) || h[a].name.len > 100 ||
		    hdr_is(&h[a].name, "Proxy") ||
		    /* Overridden by an absolute-form target (RFC 9112 3.2.2). */
		    (absolute && hdr_is(&h[a].name, "Host")) ||
		    hdr_is(&h[a].name, "Content-Type") ||
		    hdr_is(&h[a].name, "Content-Length"))
			continue;
		for (seen = 0, b = 0; b < a && !seen; b++)
			seen = h[b].name.len == h[a].name.len &&
			    strncasecmp(h[b].name.p, h[a].name.p,
			    h[a].name.len) == 0;
		if (seen)
			continue;
		memcpy(name, "HTTP_", 5);
		for (i = 0; i < h[a].name.len; i++)
			name[5 + i] = h[a].name.p[i] == '-' ? '_' :
			    (char)toupper((unsigned char)h[a].name.p[i]);
		vlen = 0;
		for (b = a; b < req->nheaders; b++)
			if (h[b].name.len == h[a].name.len &&
			    strncasecmp(h[b].name.p, h[a].name.p,
			    h[a].name.len) == 0)
				vlen += h[b].value.len + 2;
		if ((val = malloc(vlen + 1)) == NULL) {
			e->err = 1;
			return;
		}
		vlen = 0;
		for (b = a; b < req->nheaders; b++) {
			if (h[b].name.len != h[a].name.len ||
			    strncasecmp(h[b].name.p, h[a].name.p,
			    h[a].name.len) != 0)
				continue;
			if (vlen > 0) {
				memcpy(val + vlen, hdr_is(&h[a].name,
				    "Cookie") ? "; " : ", ", 2);
				vlen += 2;
			}
			if (h[b].value.len > 0)
				memcpy(val + vlen, h[b].value.p,
				    h[b].value.len);
			vlen += h[b].value.len;
		}
		env_addn(e, name, 5 + h[a].name.len, val, vlen);
		free(val);
	}
	if (absolute)
		env_str(e, "HTTP_HOST", &req->host);
}

/* SERVER_NAME (Host without port, else the local address), SERVER_PORT. */
static void
env_server(struct php_env *e, struct conn *c)
{
	const struct http_str	*host = &c->r->req.host;
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	char			 addr[INET6_ADDRSTRLEN] = "";
	const char		*end;
	size_t			 n;
	int			 port = 0;

	if (getsockname(c->io.fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, addr,
			    sizeof(addr));
			port = ntohs(s6->sin6_port);
		} else if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
			port = ntohs(s4->sin_port);
		}
	}
	n = host->len;
	if (n > 0 && host->p[0] == '[') {
		end = memchr(host->p, ']', n);
		n = end != NULL ? (size_t)(end - host->p) + 1 : n;
	} else if (n > 0 && (end = memchr(host->p, ':', n)) != NULL)
		n = (size_t)(end - host->p);
	if (n > 0)
		env_addn(e, "SERVER_NAME", 11, host->p, n);
	else
		env_add(e, "SERVER_NAME", addr);
	env_add(e, "SERVER_ADDR", addr);
	env_addf(e, "SERVER_PORT", "%d", port);
}

/* The CGI/1.1 meta-variables for the request on <p>. */
static int
php_env_build(struct php *p, struct php_env *e)
{
	struct conn		*c = p->c;
	struct http_request	*req = &c->r->req;
	const struct http_str	*ct;
	char			 peer[64];

	env_add(e, "GATEWAY_INTERFACE", "CGI/1.1");
	env_add(e, "SERVER_SOFTWARE", MTD_NAME "/" MTD_VERSION);
	env_add(e, "SERVER_PROTOCOL", req->minor ? "HTTP/1.1" : "HTTP/1.0");
	env_add(e, "REQUEST_SCHEME", c->ssl != NULL ? "https" : "http");
	if (c->ssl != NULL)
		env_add(e, "HTTPS", "on");
	env_str(e, "REQUEST_METHOD", &req->method_str);
	/* An absolute-form target is the path with its query, as nginx. */
	if (http_target_absolute(req))
		env_addf(e, "REQUEST_URI", "%.*s%s%.*s", (int)req->path.len,
		    req->path.p, req->query.p != NULL ? "?" : "",
		    (int)req->query.len, req->query.p != NULL ? req->query.p :
		    "");
	else
		env_str(e, "REQUEST_URI", &req->target);
	env_str(e, "QUERY_STRING", &req->query);
	env_add(e, "DOCUMENT_ROOT", docroot);
	env_addf(e, "SCRIPT_FILENAME", "%s%s", docroot, p->script);
	env_add(e, "SCRIPT_NAME", p->script);
	env_add(e, "PATH_INFO", "");
	env_add(e, "REMOTE_ADDR", conn_peer_str(c, peer, sizeof(peer)));
	env_addf(e, "REMOTE_PORT", "%u", c->peer_port);
	env_server(e, c);
	if ((ct = http_header_get(req->headers, req->nheaders,
	    "Content-Type")) != NULL)
		env_str(e, "CONTENT_TYPE", ct);
	if (req->body == HTTP_BODY_LENGTH)
		env_addf(e, "CONTENT_LENGTH", "%llu",
		    (unsigned long long)req->content_length);
	else if (req->body == HTTP_BODY_CHUNKED)
		env_addf(e, "CONTENT_LENGTH", "%llu",
		    (unsigned long long)p->body_len);
	else if (http_header_get(req->headers, req->nheaders,
	    "Content-Length") != NULL)
		env_add(e, "CONTENT_LENGTH", "0");	/* as nginx passes it */
	env_add(e, "REDIRECT_STATUS", "200");
	env_add(e, "PATH", PHP_PATH);
	env_headers(e, req);
	return e->err ? -1 : 0;
}

/*
 * Life cycle
 */

static void
dead_cb(struct ev_timer *t)
{
	struct php	*p;

	while ((p = dead) != NULL) {
		dead = p->next;
		spool_free(&p->spool);
		if (p->body_fd >= 0)
			close(p->body_fd);
		free(p->wbuf);
		free(p);
	}
}

static void
php_io_close(struct php_io *pio)
{
	if (pio->io.fd == -1)
		return;
	/* A CGI child may still hold a copy of a pipe: see ev_close(). */
	ev_close(&pio->io);
	pio->io.fd = -1;
}

static void
php_unlink(struct php *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else if (live == p)
		live = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

/*
 * Child <pid> (of <p>, or NULL when abandoned) ended with <st>. A request
 * whose output has ended waits for this (php_child_ended()): run it.
 */
static void
php_exited(struct php *p, pid_t pid, int st)
{
	if (p != NULL) {
		p->pid = 0;
		p->exit_st = st;
		p->exited = 1;
		if (p->c != NULL && p->eof)
			ev_timer_set(&p->kick, 0);
	}
	/* We only ever send SIGKILL: anything else is a crash. */
	if (WIFSIGNALED(st) && (WTERMSIG(st) != SIGKILL ||
	    (p != NULL && !p->killed)))
		log_warnx("php-cgi pid %d%s%s killed by signal %d",
		    (int)pid, p != NULL ? " for " : "",
		    p != NULL ? p->script : "", WTERMSIG(st));
	else if (p != NULL && WIFEXITED(st) && WEXITSTATUS(st) == 127)
		log_warnx("php-cgi for %s: exec failed", p->script);
}

/* Log what is left of a stderr line that ended without a newline. */
static void
php_stderr_flush(struct php *p)
{
	if (p->elen > 0)
		log_warnx("php: %s: %.*s", p->script, (int)p->elen, p->eline);
	p->elen = 0;
}

/*
 * Stop the backend: close pipes and socket; kill the child when <kill>
 * (error, timeout, client gone). After a normal end the child is left
 * to exit by itself and php_reap() collects it.
 */
static void
php_backend_stop(struct php *p, int kill_it)
{
	int	 st;

	if (p->pid > 0 && kill_it) {
		p->killed = 1;
		kill(p->pid, SIGKILL);
		/* Usually not dead yet: SIGCHLD -> php_reap() gets it. */
		if (waitpid(p->pid, &st, WNOHANG) == p->pid)
			php_exited(p, p->pid, st);
	}
	if (p->fcgi)
		fcgi_conn_end(p, 0, 0);
	else
		php_io_close(&p->bin);
	php_io_close(&p->bout);
	php_io_close(&p->berr);
	php_stderr_flush(p);
}

static void
php_abort(struct conn *c)
{
	struct php	*p = c->handler;

	if (p == NULL || p->c == NULL)
		return;
	php_backend_stop(p, p->error != 0 || !p->eof);
	ev_timer_del(&p->kick);
	if (p->gz != NULL) {
		gz_free(p->gz);
		free(p->gz);
		p->gz = NULL;
	}
	p->c = NULL;
	c->handler = NULL;
	php_unlink(p);
	p->next = dead;
	dead = p;
	if (!dead_timer_init) {
		ev_timer_init(&dead_timer, dead_cb);
		dead_timer_init = 1;
	}
	ev_timer_set(&dead_timer, 0);
}

/*
 * SIGCHLD: collect every exited child, live or abandoned. Worker only,
 * from signal_cb().
 */
void
php_reap(void)
{
	struct php	*p;
	pid_t		 pid;
	int		 st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (p = live; p != NULL; p = p->next)
			if (p->pid == pid)
				break;
		php_exited(p, pid, st);
	}
}

/*
 * Starting the backend
 */

static int
set_nonblock(int fd)
{
	int	 fl = fcntl(fd, F_GETFL);

	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void
php_io_cb(struct ev_io *io, uint32_t events)
{
	struct php_io	*pio = (struct php_io *)io;
	struct php	*p = pio->p;

	if (p->c == NULL || io->fd == -1)
		return;		/* aborted in this batch */
	if (pio == &p->bin) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			p->b_wr = 1;
		if (events & (EPOLLERR | EPOLLHUP))
			p->b_err = 1;
		if (p->fcgi && (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR |
		    EPOLLHUP)))
			p->b_rd = 1;
	} else if (pio == &p->bout)
		p->b_rd = 1;
	else
		p->e_rd = 1;
	php_run(p);
}

static void
php_io_set(struct php *p, struct php_io *pio, int fd)
{
	pio->io.fd = fd;
	pio->io.cb = php_io_cb;
	pio->p = p;
}

/* Runs in the child: never returns. */
static void __attribute__((noreturn))
php_child(int in, int out, int err, const char *dir, char **envp)
{
	sigset_t	 set;
	char		*argv[2], arg0[PATH_MAX];
	int		 i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	worker_sched_restore();
	if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(err, 2) == -1)
		_exit(127);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	for (i = 1; i < NSIG; i++)
		signal(i, SIG_DFL);
#ifdef MTD_TEST_HOOKS
	/* Test builds: hold the copies of the worker's descriptors. */
	{
		const char *hold = getenv("MTD_TEST_CGI_HOLD_MS");

		if (hold != NULL)
			usleep((useconds_t)atoi(hold) * 1000);
	}
#endif
	if (close_range(3, ~0U, 0) == -1)
		for (i = 3; i < 65536; i++)
			close(i);
	if (chdir(dir) == -1)
		dprintf(2, "chdir %s: %s\n", dir, strerror(errno));
	strlcpy(arg0, wconf->php_cgi, sizeof(arg0));
	argv[0] = arg0;
	argv[1] = NULL;
	execve(wconf->php_cgi, argv, envp);
	dprintf(2, "execve %s: %s\n", wconf->php_cgi, strerror(errno));
	_exit(127);
}

static char **
env_vector(struct php_env *e)
{
	char	**v, *s;
	int	  i;

	if ((v = calloc((size_t)e->n + 1, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0, s = e->buf; i < e->n; i++) {
		v[i] = s;
		s += strlen(s) + 1;
	}
	return v;
}

/* stdin, stdout, stderr pipes for php-cgi: [i][0] read end, [i][1] write. */
static void
php_pipes_close(int fds[3][2])
{
	int	 i, j;

	for (i = 0; i < 3; i++)
		for (j = 0; j < 2; j++)
			if (fds[i][j] != -1)
				close(fds[i][j]);
}

/* Our ends (stdin's write end, the others' read ends) non-blocking. */
static int
php_pipes_open(int fds[3][2])
{
	int	 i;

	for (i = 0; i < 3; i++)
		fds[i][0] = fds[i][1] = -1;
	for (i = 0; i < 3; i++)
		if (pipe2(fds[i], O_CLOEXEC) == -1) {
			log_warn("php: pipe");
			return -1;
		}
	if (set_nonblock(fds[0][1]) == -1 || set_nonblock(fds[1][0]) == -1 ||
	    set_nonblock(fds[2][0]) == -1)
		return -1;
	return 0;
}

/* Fork php-cgi with its three pipes. 0, or -1 (logged). */
static int
php_spawn(struct php *p)
{
	struct php_env	 e;
	char		 dir[PATH_MAX + MTD_MAX_TARGET + 2], *slash;
	char		**envp = NULL;
	int		 fds[3][2];
	pid_t		 pid;

	/* A CGI program that cannot run is our error (500), not a bad
	 * answer from it (502); said once, not in a child per request. */
	if (conf_program_runnable(wconf->php_cgi) == -1) {
		log_warnx_limited(&fcgi_warn, "php: cannot run %s: %s",
		    wconf->php_cgi, strerror(errno));
		p->error = 500;
		return -1;
	}
	memset(&e, 0, sizeof(e));
	if (php_pipes_open(fds) == -1)
		goto fail;
	if ((size_t)snprintf(dir, sizeof(dir), "%s%s", docroot,
	    p->script) >= sizeof(dir))
		goto fail;
	if ((slash = strrchr(dir, '/')) != NULL)
		slash[slash == dir ? 1 : 0] = '\0';
	if (php_env_build(p, &e) == -1 || (envp = env_vector(&e)) == NULL) {
		log_warnx("php: out of memory");
		goto fail;
	}
	/* Until it execs, the child holds every socket of ours too. */
	ev_fork_note();
	if ((pid = fork()) == -1) {
		log_warn("php: fork");
		goto fail;
	}
	if (pid == 0)
		php_child(fds[0][0], fds[1][1], fds[2][1], dir, envp);
	p->pid = pid;
	close(fds[0][0]);
	close(fds[1][1]);
	close(fds[2][1]);
	free(envp);
	free(e.buf);
	php_io_set(p, &p->bin, fds[0][1]);
	php_io_set(p, &p->bout, fds[1][0]);
	php_io_set(p, &p->berr, fds[2][0]);
	if (ev_add(&p->bin.io, EPOLLOUT | EPOLLET) == -1 ||
	    ev_add(&p->bout.io, EPOLLIN | EPOLLRDHUP | EPOLLET) == -1 ||
	    ev_add(&p->berr.io, EPOLLIN | EPOLLRDHUP | EPOLLET) == -1) {
		log_warn("php: epoll");
		return -1;	/* php_backend_stop() cleans up */
	}
	p->b_wr = p->b_rd = p->e_rd = 1;
	return 0;
fail:
	php_pipes_close(fds);
	free(envp);
	free(e.buf);
	return -1;
}

/* Resolve the php-fpm address once per worker. 0 or -1 (logged). */
static int
fcgi_addr(void)
{
	struct addrinfo		 hints, *res;
	struct sockaddr_un	*sun;
	char			 host[256];
	const char		*a = wconf->php_fastcgi, *colon;
	size_t			 n;
	int			 rc;

	if (fcgi_sslen > 0)
		return 0;
	if (strncmp(a, "unix:", 5) == 0) {
		sun = (struct sockaddr_un *)&fcgi_ss;
		sun->sun_family = AF_UNIX;
		if (strlcpy(sun->sun_path, a + 5, sizeof(sun->sun_path)) >=
		    sizeof(sun->sun_path)) {
			log_warnx("php: socket path too long: %s", a + 5);
			return -1;
		}
		fcgi_sslen = sizeof(*sun);
		return 0;
	}
	if ((colon = strrchr(a, ':')) == NULL) {
		log_warnx("php: bad fastcgi address %s", a);
		return -1;
	}
	n = (size_t)(colon - a);
	if (a[0] == '[' && n >= 2 && a[n - 1] == ']') {
		a++;
		n -= 2;
	}
	if (n >= sizeof(host))
		return -1;
	memcpy(host, a, n);
	host[n] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		log_warnx("php: fastcgi %s: %s", wconf->php_fastcgi,
		    gai_strerror(rc));
		return -1;
	}
	memcpy(&fcgi_ss, res->ai_addr, res->ai_addrlen);
	fcgi_sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void
fcgi_header(char *d, int type, size_t len)
{
	d[0] = FCGI_VERSION;
	d[1] = (char)type;
	d[2] = FCGI_REQUEST_ID >> 8;
	d[3] = FCGI_REQUEST_ID & 0xff;
	d[4] = (char)(len >> 8);
	d[5] = (char)len;
	d[6] = 0;
	d[7] = 0;
}

/* BEGIN_REQUEST, then the parameters in PARAMS records. 0 or -1. */
static int
fcgi_preamble(struct php *p)
{
	struct php_env	 e;
	size_t		 off, n, done;

	memset(&e, 0, sizeof(e));
	e.fcgi = 1;
	if (php_env_build(p, &e) == -1)
		goto fail;
	p->wcap = MTD_MAX(PHP_BUF, 3 * FCGI_HDR + 8 + e.len +
	    (e.len / FCGI_MAX_CONTENT + 1) * FCGI_HDR);
	if ((p->wbuf = malloc(p->wcap)) == NULL)
		goto fail;
	fcgi_header(p->wbuf, FCGI_BEGIN_REQUEST, 8);
	memset(p->wbuf + FCGI_HDR, 0, 8);
	p->wbuf[FCGI_HDR + 1] = FCGI_RESPONDER;
	if (wconf->php_keepalive > 0)
		p->wbuf[FCGI_HDR + 2] = FCGI_KEEP_CONN;	/* else close after */
	off = 2 * FCGI_HDR;
	for (done = 0; done < e.len; done += n) {
		n = MTD_MIN(e.len - done, FCGI_MAX_CONTENT);
		fcgi_header(p->wbuf + off, FCGI_PARAMS, n);
		memcpy(p->wbuf + off + FCGI_HDR, e.buf + done, n);
		off += FCGI_HDR + n;
	}
	fcgi_header(p->wbuf + off, FCGI_PARAMS, 0);
	off += FCGI_HDR;
	/* No body at all: the empty FCGI_STDIN goes in the same write. */
	if (p->body_len == 0 && p->bpos == p->bend && p->body_left == 0) {
		fcgi_header(p->wbuf + off, FCGI_STDIN, 0);
		off += FCGI_HDR;
		p->stdin_eof = 1;
	}
	p->wlen = off;
	p->woff = 0;
	free(e.buf);
	return 0;
fail:
	log_warnx("php: out of memory");
	free(e.buf);
	return -1;
}

/* A new connection to the FastCGI server. 0 or -1. */
static int
fcgi_open(struct php *p)
{
	int	 fd;

	fd = socket(fcgi_ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("php: socket");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&fcgi_ss, fcgi_sslen) == -1 &&
	    errno != EINPROGRESS) {
		log_warnx_limited(&fcgi_warn, "php: connect to %s: %s",
		    wconf->php_fastcgi, strerror(errno));
		close(fd);
		return -1;
	}
	php_io_set(p, &p->bin, fd);
	if (ev_add(&p->bin.io, FCGI_EVENTS) == -1) {
		log_warn("php: epoll");
		return -1;
	}
	/*
	 * On loopback the handshake is over by the time connect() returns:
	 * write the request now rather than after the next epoll_wait().
	 * php-fpm's child may have accepted already and be waiting for it.
	 * A connect still in progress makes that write fail with EAGAIN
	 * (then EPOLLOUT says when), a refused one with its error.
	 */
	p->connecting = 1;
	p->b_wr = 1;
	return 0;
}

/* <p> has a kept connection in p->bin (registered in epoll). */
static void
fcgi_reused(struct php *p)
{
	php_io_set(p, &p->bin, p->bin.io.fd);
	p->reused = 1;
	p->b_wr = 1;
}

static void
fcgi_waiter_ready(struct fcgi_waiter *w, int fresh)
{
	struct php	*p = (struct php *)((char *)w -
	    offsetof(struct php, waiter));

	p->waiting = 0;
	p->counted = 1;
	if (fresh)
		p->open_due = 1;
	else
		fcgi_reused(p);
	ev_timer_set(&p->kick, 0);
}

/*
 * The request's connection: without php_keepalive a new one; with it a
 * kept one, else a new one within the budget, else a turn in the queue.
 * 0 (connected, connecting or queued) or -1.
 */
static int
fcgi_connect(struct php *p)
{
	if (fcgi_addr() == -1 || fcgi_preamble(p) == -1)
		return -1;
	if (wconf->php_keepalive == 0)
		return fcgi_open(p);
	if (fcgi_pool_take(&p->bin.io, FCGI_EVENTS) == 0) {
		p->counted = 1;
		fcgi_reused(p);
		return 0;
	}
	if (fcgi_pool_room()) {
		if (fcgi_open(p) == -1)
			return -1;
		fcgi_pool_opened();
		p->counted = 1;
		return 0;
	}
	p->waiting = 1;
	p->waiter.io = &p->bin.io;
	p->waiter.events = FCGI_EVENTS;
	p->waiter.ready = fcgi_waiter_ready;
	fcgi_pool_wait(&p->waiter);
	STATS_ADD(php_waits, 1);
	return 0;
}

/*
 * Close the request's connection (with a reset when <rst>), or keep it
 * when <keep>; a slot in the budget goes to a waiting request.
 */
static void
fcgi_conn_end(struct php *p, int keep, int rst)
{
	static const struct linger	 abort_close = { 1, 0 };

	if (p->waiting) {
		fcgi_pool_unwait(&p->waiter);
		p->waiting = 0;
	}
	if (p->bin.io.fd == -1 && !p->counted)
		return;
	if (p->bin.io.fd != -1 && keep && p->counted &&
	    fcgi_pool_put(&p->bin.io) == 0) {
		p->counted = 0;
		return;
	}
	if (p->bin.io.fd != -1 && rst)
		(void)setsockopt(p->bin.io.fd, SOL_SOCKET, SO_LINGER,
		    &abort_close, sizeof(abort_close));
	php_io_close(&p->bin);
	if (p->counted) {
		p->counted = 0;
		p->open_due = 0;
		fcgi_pool_closed();
	}
}

/*
 * A kept connection that the server closed as we took it (a child that
 * exits after pm.max_requests, a php-fpm reload): no script saw the
 * request, so it goes again on a new connection, once, if nothing came
 * back and the body sent so far is still at hand (in temp_dir, or in the
 * request buffer). 1 when it did (p->error says if that failed too).
 */
static int
fcgi_retry(struct php *p)
{
	if (!p->fcgi || !p->reused || p->got_reply || p->body_streamed ||
	    p->retried)
		return 0;
	log_debug("php: %s: a kept connection to %s was closed, sending the "
	    "request again on a new one", p->script, wconf->php_fastcgi);
	php_io_close(&p->bin);		/* its slot goes to the new one */
	free(p->wbuf);
	p->wbuf = NULL;
	p->wcap = p->wlen = p->woff = 0;
	p->bpos = p->bpos0;
	p->bend = p->bend0;
	p->body_off = 0;
	p->stdin_eof = p->stdin_done = 0;
	p->b_rd = p->b_wr = p->b_err = p->fcgi_closed = 0;
	memset(&p->rd, 0, sizeof(p->rd));
	p->rlen = p->roff = 0;
	p->reused = 0;
	p->retried = 1;
	if (fcgi_preamble(p) == -1 || fcgi_open(p) == -1) {
		fcgi_conn_end(p, 0, 0);
		if (p->error == 0)
			p->error = 502;
	}
	return 1;
}

/* Over, and in step for another request: may the connection be kept? */
static int
fcgi_keepable(const struct php *p)
{
	return p->fcgi && wconf->php_keepalive > 0 && p->eof &&
	    p->error == 0 && !p->fcgi_closed && !p->b_err && !p->trailing &&
	    p->stdin_eof && p->woff == p->wlen;
}

/*
 * Request body
 */

/* Read the client socket into c->r->in after the head. 1, 0, -1. */
static int
php_client_recv(struct php *p, size_t max)
{
	struct conn	*c = p->c;
	ssize_t		 n;

	if (!c->readable)
		return 0;
	n = conn_io_recv(c, c->r->in + c->in_len, max);
	if (n > 0) {
		c->in_len += (uint32_t)n;
		if (conn_drained(c, (size_t)n, max))
			c->readable = 0;
		/* Until the script runs, the client is the one waited for. */
		ev_timer_set(&c->timer, (uint64_t)(p->phase == PH_COLLECT ?
		    wconf->client_timeout_ms : wconf->php_timeout_ms));
		return 1;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		c->readable = 0;
		return 0;
	}
	return -1;	/* client gone mid-body */
}

/* Append <d>/<len> to the body file. 0, or -1 with p->error set. */
static int
body_put(struct php *p, const char *d, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = pwrite(p->body_fd, d, len, (off_t)p->body_len);
		if (n <= 0) {
			log_warnx_limited(&spool_warn, "php: write to a body "
			    "file in temp_dir %s: %s", wconf->temp_dir,
			    n == 0 ? "no space" : strerror(errno));
			p->error = 500;
			return -1;
		}
		p->body_len += (uint64_t)n;
		d += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The body bytes at c->r->in + p->bpos: <*used> of them are taken, of
 * which <*out> (decoded, at the same place) are body. 1 at the body's
 * end, 0 for more, -1 with p->error set.
 */
static int
body_take(struct php *p, size_t *used, size_t *out)
{
	struct conn	*c = p->c;
	uint64_t	 limit = wconf->php_buffer_max;
	int		 rc;

	if (!p->chunked_req) {
		*used = *out = (size_t)MTD_MIN(c->in_len - p->bpos,
		    p->body_left);
		p->body_left -= *used;
		return p->body_left == 0;
	}
	rc = http_chunked_decode(&p->ch, c->r->in + p->bpos,
	    c->in_len - p->bpos, used, out);
	if (rc == -1) {
		p->error = 400;
		return -1;
	}
	if (wconf->client_max_body > 0)
		limit = MTD_MIN(limit, wconf->client_max_body);
	if (p->body_len + *out > limit) {
		p->error = 413;
		return -1;
	}
	return rc;
}

/* Read the whole body into p->body_fd. 1 progress, 0 wait, -1 gone. */
static int
php_collect(struct php *p)
{
	struct conn	*c = p->c;
	size_t		 used, out, rest;
	int		 rc;

	for (;;) {
		if (p->bpos < c->in_len) {
			if ((rc = body_take(p, &used, &out)) == -1 ||
			    body_put(p, c->r->in + p->bpos, out) == -1)
				return 1;
			if (rc == 1) {
				p->bpos = p->bend = p->bpos + (uint32_t)used;
				p->phase = PH_START;
				return 1;
			}
			rest = c->in_len - p->bpos - used;
			memmove(c->r->in + p->hlen, c->r->in + p->bpos + used,
			    rest);
			c->in_len = p->hlen + (uint32_t)rest;
			p->bpos = p->hlen;
		}
		if (c->in_len >= CONN_IN_SIZE) {
			p->error = 400;
			return 1;
		}
		/* A sized body: not a byte of what may follow it. */
		rc = php_client_recv(p, p->chunked_req ? CONN_IN_SIZE -
		    c->in_len : (size_t)MTD_MIN(CONN_IN_SIZE - c->in_len,
		    p->body_left));
		if (rc <= 0)
			return rc;
	}
}

/* Refill p->wbuf (raw or as FCGI_STDIN records). 1, 0 wait, -1 gone. */
static int
php_fill(struct php *p)
{
	struct conn	*c = p->c;
	const char	*src;
	size_t		 n, room, hdr = p->fcgi ? FCGI_HDR : 0;
	int		 rc;

	if (p->wcap == 0) {
		if ((p->wbuf = malloc(PHP_BUF)) == NULL) {
			p->error = 500;
			return 1;
		}
		p->wcap = PHP_BUF;
	}
	p->wlen = p->woff = 0;
	room = MTD_MIN(p->wcap - hdr, FCGI_MAX_CONTENT);
	if (p->body_fd >= 0 && p->body_off < p->body_len) {
		n = (size_t)MTD_MIN(room, p->body_len - p->body_off);
		if (pread(p->body_fd, p->wbuf + hdr, n, (off_t)p->body_off) !=
		    (ssize_t)n) {
			log_warn("php: %s: read back the body from temp_dir %s",
			    p->script, wconf->temp_dir);
			p->error = 500;
			return 1;
		}
		p->body_off += n;
		src = NULL;
	} else if (p->bpos < p->bend) {
		n = MTD_MIN(room, p->bend - p->bpos);
		src = c->r->in + p->bpos;
		p->bpos += (uint32_t)n;
	} else if (p->body_left > 0) {
		p->body_streamed = 1;	/* what was sent is gone */
		c->in_len = p->bpos = p->bend = p->hlen;
		rc = php_client_recv(p, MTD_MIN(CONN_IN_SIZE - p->hlen,
		    p->body_left));
		if (rc <= 0)
			return rc;
		p->bend = c->in_len;
		p->body_left -= p->bend - p->bpos;
		return 1;
	} else {
		/* All sent: EOF (CGI) or an empty FCGI_STDIN. */
		p->stdin_eof = 1;
		if (!p->fcgi) {
			php_io_close(&p->bin);
			p->stdin_done = 1;
			return 1;
		}
		n = 0;
		src = NULL;
	}
	if (hdr)
		fcgi_header(p->wbuf, FCGI_STDIN, n);
	if (src != NULL)	/* else read in place, or nothing */
		memcpy(p->wbuf + hdr, src, n);
	p->wlen = hdr + n;
	return 1;
}

/* Send the body to the backend. 1 progress, 0 wait, -1 client gone. */
static int
php_pump_body(struct php *p)
{
	ssize_t	 n;
	int	 progress = 0, rc, err;
	socklen_t sl = sizeof(err);

	/* Until a write went through, "connecting" (see fcgi_connect()). */
	if (p->connecting) {
		if (!p->b_wr)
			return 0;
		/* EPOLLOUT alone means connected: no getsockopt() then. */
		if (p->b_err && (getsockopt(p->bin.io.fd, SOL_SOCKET,
		    SO_ERROR, &err, &sl) == -1 || err != 0)) {
			log_warnx_limited(&fcgi_warn, "php: connect to %s: %s",
			    wconf->php_fastcgi, strerror(err));
			p->error = 502;
			return 1;
		}
	}
	while (!p->stdin_done && p->error == 0) {
		if (p->woff < p->wlen) {
			if (!p->b_wr)
				break;
			n = write(p->bin.io.fd, p->wbuf + p->woff,
			    p->wlen - p->woff);
			if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
				p->b_wr = 0;
				break;
			}
			if (n == -1) {
				if (fcgi_retry(p))
					return 1;
				if (p->fcgi) {
					log_warnx_limited(&fcgi_warn,
					    "php: %s %s: %s", p->connecting ?
					    "connect to" : "write to",
					    wconf->php_fastcgi, strerror(errno));
					p->error = 502;
					return 1;
				}
				/* The script stopped reading its input. */
				php_io_close(&p->bin);
				p->stdin_done = 1;
				return 1;
			}
			p->woff += (size_t)n;
			p->connecting = 0;
			progress = 1;
			continue;
		}
		if (p->stdin_eof) {
			p->stdin_done = 1;
			break;
		}
		if ((rc = php_fill(p)) == -1)
			return -1;
		if (rc == 0)
			break;
		progress = 1;
	}
	return progress;
}

/*
 * Response
 */

static int
line_ci(const char *p, size_t n, const char *s)
{
	return n == strlen(s) && strncasecmp(p, s, n) == 0;
}

/* Fields we set ourselves or that describe the CGI framing. */
static int
hdr_dropped(const char *n, size_t len)
{
	static const char *const	 drop[] = {
		"Status", "Connection", "Keep-Alive", "Transfer-Encoding",
		"Content-Length", "Server", "Date", "Proxy-Connection",
		"Upgrade", "Trailer", "TE",
	};
	size_t				 i;

	for (i = 0; i < MTD_ARRLEN(drop); i++)
		if (line_ci(n, len, drop[i]))
			return 1;
	return 0;
}

/*
 * Compress this response? Only a 200 the script did not encode itself,
 * of a type in gzip_types and of no known length below gzip_min_length,
 * to a client that accepts gzip and asked for no range. Adds the
 * Content-Encoding and Vary fields. A 304 carries what that 200 would
 * have (RFC 9110 15.4.5): the Vary, and 1 so that its ETag turns weak.
 * 1 yes, 0 no, -1 out of memory.
 */
static int
php_gzip_head(struct php *p, int status, const struct cgi_head *h)
{
	struct conn	*c = p->c;
	const char	*ct = h->ct;
	size_t		 ctlen = h->ctlen;
	int		 vary, gz;

	/*
	 * PHP drops the Content-Type from a 304, even one the script set:
	 * take that of the 200 it stands for to be PHP's default type.
	 */
	if (status == 304 && ct == NULL) {
		ct = "text/html";
		ctlen = strlen(ct);
	}
	/* No type: nothing says the body is text worth compressing. */
	if ((status != 200 && status != 304) || h->encoded || ct == NULL)
		return 0;
	gz = gz_wanted(c, ct, ctlen, status == 200 ? h->clen : -1, &vary);
	if (vary)
		resp_header(c, "Vary: Accept-Encoding");
	if (!gz || c->r->req.range.len > 0)
		return 0;
	if (status == 304)
		return 1;
	resp_header(c, "Content-Encoding: gzip");
	if (p->nobody)
		return 1;
	if ((p->gz = malloc(sizeof(*p->gz))) == NULL)
		return -1;
	if (gz_init(p->gz, wconf->gzip_level, c->r->req.minor >= 1) == -1) {
		free(p->gz);
		p->gz = NULL;
		return -1;
	}
	return 1;
}

/* Copy the script's fields; a strong ETag turns weak when <gz>. */
static void
php_copy_fields(struct php *p, int gz)
{
	struct conn	*c = p->c;
	const char	*l, *v;
	size_t		 off = 0, len, nlen, vlen;

	while (cgi_head_line(p->hbuf, p->hblen, &off, &l, &len)) {
		if (cgi_head_split(l, len, &nlen, &v, &vlen) == -1)
			continue;	/* a colonless line, see php_head() */
		/* An empty Content-Type is no type at all (RFC 9110 8.3). */
		if (hdr_dropped(l, nlen) || (vlen == 0 &&
		    line_ci(l, nlen, "Content-Type")))
			continue;
		if (gz && line_ci(l, nlen, "ETag") && vlen > 0 && v[0] == '"')
			resp_header(c, "ETag: W/%.*s", (int)vlen, v);
		else
			resp_header(c, "%.*s: %.*s", (int)nlen, l, (int)vlen,
			    v);
	}
}

/* The script's header block is complete: build our response head. */
static int
php_head(struct php *p)
{
	struct conn	*c = p->c;
	struct cgi_head	 h;
	int		 status, gz;
	int64_t		 clen, length = -1;

	if (cgi_head_parse(p->hbuf, p->hblen, p->script, &h) == -1)
		return -1;
	status = h.status;
	clen = h.clen;
	p->nobody = c->r->req.method == HTTP_M_HEAD || status == 204 ||
	    status == 304;
	resp_head(c, status);
	if ((gz = php_gzip_head(p, status, &h)) == -1)
		return -1;
	/* None from the script: none from us (RFC 3875 6.3.1), as nginx. */
	php_copy_fields(p, gz);
	/*
	 * The script's own length bounds its body even when we encode it: a
	 * longer output is cut there, and a shorter one must not end as if
	 * whole. Our answer carries it only when we do not encode.
	 */
	if (clen >= 0 && status != 204 && status != 304) {
		p->limited = 1;
		p->out_left = p->nobody ? 0 : (uint64_t)clen;
		if (!gz) {
			length = clen;
			p->sized = 1;
		}
	}
	if (p->nobody || p->sized)
		;
	else if (c->r->req.minor >= 1) {
		resp_header(c, "Transfer-Encoding: chunked");
		p->chunked = 1;
	} else
		c->keep_alive = 0;	/* the end of the body is the close */
	if (status == 204 || status == 304)
		p->chunked = 0;
	resp_end_head(c, length);
	p->head_built = 1;
	return 0;
}

/* Make room at the end of c->r->out when little is left. */
static void
out_compact(struct conn *c)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	else if (c->out_off > 0 && CONN_OUT_SIZE - c->out_len < 4096) {
		memmove(c->r->out, c->r->out + c->out_off,
		    c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
}

/*
 * Body bytes <d>/<len> through gzip into c->r->out (chunk-framed by
 * gz_feed() when p->chunked); <finish> ends the stream. Returns the
 * bytes used; sets p->terminated once the stream is all out.
 */
static size_t
php_gz_out(struct php *p, const char *d, size_t len, int finish)
{
	struct conn	*c = p->c;
	size_t		 cons, prod;
	int		 rc;

	rc = gz_feed(p->gz, d, len, c->r->out + c->out_len,
	    CONN_OUT_SIZE - c->out_len, &cons, &prod, finish);
	c->out_len += (uint32_t)prod;
	if (rc == -1) {
		log_warnx("php: %s: deflate failed", p->script);
		p->error = 502;
		return len;
	}
	if (rc == 1)
		p->terminated = 1;
	return cons;
}

/*
 * Body bytes <d>/<len> into c->r->out, chunk-framed or gzip-coded as the
 * head said. Returns the bytes used: fewer when the buffer is full.
 */
static size_t
php_body_out(struct php *p, const char *d, size_t len)
{
	struct conn	*c = p->c;
	size_t		 room;
	char		 sz[16];
	int		 n;

	out_compact(c);
	if (p->gz != NULL)
		return php_gz_out(p, d, len, 0);
	room = CONN_OUT_SIZE - c->out_len;
	if (p->chunked) {
		if (room < 32)
			return 0;
		room -= 32;
	}
	len = MTD_MIN(len, room);
	if (len == 0)
		return 0;
	if (p->chunked) {
		n = snprintf(sz, sizeof(sz), "%zx\r\n", len);
		resp_append(c, sz, (size_t)n);
	}
	resp_append(c, d, len);
	if (p->chunked)
		resp_append(c, "\r\n", 2);
	return len;
}

/* Spooled bytes on to the client's buffer while it has room. */
static int
php_spool_drain(struct php *p)
{
	char	 buf[PHP_BUF];
	ssize_t	 n;
	size_t	 used;
	int	 progress = 0;

	while (spool_pending(&p->spool) && p->error == 0) {
		n = spool_peek(&p->spool, buf, sizeof(buf));
		if (n <= 0) {
			log_warnx("php: %s: read back from temp_dir %s: %s",
			    p->script, wconf->temp_dir,
			    n == 0 ? "file cut short" : strerror(errno));
			p->error = 502;
			return 1;
		}
		if ((used = php_body_out(p, buf, (size_t)n)) == 0)
			break;
		spool_done(&p->spool, used);
		progress = 1;
	}
	return progress;
}

/*
 * Take the script's output <d>/<len>: the header block first, then the
 * body, to the client's buffer or, past what it holds, to the spool.
 * Returns the bytes used; fewer when neither has room.
 */
static size_t
php_stdout(struct php *p, const char *d, size_t len)
{
	struct conn	*c = p->c;
	size_t		 used = 0, want = len;
	int		 rc;

	if (!p->head_built) {
		rc = cgi_head_add(p->hbuf, sizeof(p->hbuf), &p->hblen, d, len,
		    &used);
		if (rc == CGI_HEAD_TOOLONG) {
			log_warnx("php: %s: header block longer than %d bytes",
			    p->script, PHP_HDR_MAX);
			p->error = 502;
		} else if (rc == CGI_HEAD_DONE && php_head(p) == -1)
			p->error = 502;
		return used;
	}
	if (p->nobody)
		return len;
	if (p->limited && len > p->out_left) {
		/* More than announced: the rest is dropped, and the close
		 * tells the client nothing more belongs to this answer. */
		if (!p->overrun)
			log_warnx("php: %s: output longer than its "
			    "Content-Length", p->script);
		p->overrun = 1;
		c->keep_alive = 0;
		if (p->out_left == 0)
			return len;
		want = (size_t)p->out_left;
	}
	/* Bytes already spooled leave first: no overtaking. */
	if (!spool_pending(&p->spool))
		used = php_body_out(p, d, want);
	if (used < want)
		used += spool_put(&p->spool, d + used, want - used);
	if (p->limited)
		p->out_left -= used;
	return used;
}

static void
php_stderr(struct php *p, const char *d, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (d[i] != '\n' && p->elen < sizeof(p->eline) - 1) {
			if (d[i] != '\r')
				p->eline[p->elen++] = d[i];
			continue;
		}
		if (p->elen > 0)
			log_warnx("php: %s: %.*s", p->script, (int)p->elen,
			    p->eline);
		p->elen = 0;
		if (d[i] != '\n' && d[i] != '\r')
			p->eline[p->elen++] = d[i];
	}
}

/* Walk FastCGI records in rbuf. Returns 1 when something was used. */
static int
fcgi_consume(struct php *p)
{
	size_t			 n, used;
	enum fcgi_rd_rc		 rc;
	int			 progress = 0;

	while (!p->eof && p->error == 0) {
		rc = fcgi_rd_frame(&p->rd, p->rbuf + p->roff, p->rlen - p->roff,
		    FCGI_REQUEST_ID, &used);
		p->roff += (uint32_t)used;
		if (used > 0)
			progress = 1;
		if (rc == FCGI_RD_MORE)
			break;
		if (rc == FCGI_RD_END) {
			p->eof = 1;
			break;
		}
		if (rc == FCGI_RD_BAD_VERSION) {
			log_warnx("php: bad FastCGI record version %d "
			    "from %s", p->rd.bad, wconf->php_fastcgi);
			p->error = 502;
			return 1;
		}
		/*
		 * Another request's output, or its end, is not ours: taken
		 * as ours it would corrupt the answer or end it early as if
		 * whole. A server that mixes them up is broken (as nginx
		 * sees it).
		 */
		if (rc == FCGI_RD_BAD_ID) {
			log_warnx("php: FastCGI record for request %d "
			    "from %s", p->rd.bad, wconf->php_fastcgi);
			p->error = 502;
			return 1;
		}
		n = MTD_MIN(p->rlen - p->roff, p->rd.rec_left);
		if (p->rd.type == FCGI_STDOUT)
			n = php_stdout(p, p->rbuf + p->roff, n);
		else if (p->rd.type == FCGI_STDERR)
			php_stderr(p, p->rbuf + p->roff, n);
		if (n == 0)
			break;	/* client buffer full */
		p->roff += (uint32_t)n;
		fcgi_rd_took(&p->rd, n);
		/* php-fpm sends a message per record, without '\n'. */
		if (p->rd.type == FCGI_STDERR && p->rd.rec_left == 0)
			php_stderr_flush(p);
		progress = 1;
	}
	if (p->eof && p->roff < p->rlen)
		p->trailing = 1;	/* the connection is out of step */
	if (p->roff == p->rlen || p->eof)
		p->roff = p->rlen = 0;	/* nothing follows END_REQUEST */
	return progress;
}

/*
 * FastCGI: hand on the records read so far (progress noted in
 * *<progress>). 1 when reading more makes sense; 0 when the request is
 * over or failed, or the client must drain what we have first.
 */
static int
fcgi_take(struct php *p, int *progress)
{
	int	 rc, blocked;

	rc = fcgi_consume(p);
	*progress |= rc;
	if (p->eof || p->error)
		return 0;
	if (p->roff > 0) {
		memmove(p->rbuf, p->rbuf + p->roff, p->rlen - p->roff);
		p->rlen -= p->roff;
		p->roff = 0;
	}
	blocked = p->rd.type == FCGI_STDOUT && p->rd.rec_left > 0 &&
	    p->rlen > 0;
	if (p->fcgi_closed) {
		/* Records left in rbuf may still end it. */
		if (!rc && !blocked) {
			log_warnx_limited(&fcgi_warn, "php: %s closed the "
			    "connection before the end of the request",
			    wconf->php_fastcgi);
			p->error = 502;
		}
		return 0;
	}
	return p->rlen < sizeof(p->rbuf) && !blocked;	/* else: full */
}

/* Read the backend's output and hand it on. 1 progress, 0 wait. */
static int
php_pump_out(struct php *p)
{
	ssize_t	 n;
	size_t	 used;
	int	 progress = 0;
	int	 fd = p->fcgi ? p->bin.io.fd : p->bout.io.fd;

	while (!p->eof && p->error == 0) {
		if (p->fcgi) {
			if (!fcgi_take(p, &progress))
				break;
		} else if (p->roff < p->rlen) {
			used = php_stdout(p, p->rbuf + p->roff,
			    p->rlen - p->roff);
			if (used == 0)
				break;
			p->roff += (uint32_t)used;
			progress = 1;
			continue;
		} else
			p->roff = p->rlen = 0;
		if (!p->b_rd || p->connecting || p->fcgi_closed || fd == -1)
			break;
		n = read(fd, p->rbuf + p->rlen, sizeof(p->rbuf) - p->rlen);
		if (n > 0) {
			p->got_reply = 1;
			p->rlen += (uint32_t)n;
			progress = 1;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			p->b_rd = 0;
			break;
		}
		progress = 1;
		if (fcgi_retry(p))
			return 1;
		if (!p->fcgi) {
			p->eof = 1;	/* stdout closed: the script is done */
			php_io_close(&p->bout);
			break;
		}
		if (n == -1) {
			log_warnx_limited(&fcgi_warn, "php: read from %s: %s",
			    wconf->php_fastcgi, strerror(errno));
			p->error = 502;
		}
		p->fcgi_closed = 1;
	}
	return progress;
}

/* Drain the child's stderr into the error log. */
static void
php_pump_err(struct php *p)
{
	char	 buf[4096];
	ssize_t	 n;

	while (p->e_rd && p->berr.io.fd != -1) {
		n = read(p->berr.io.fd, buf, sizeof(buf));
		if (n > 0) {
			php_stderr(p, buf, (size_t)n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			p->e_rd = 0;
			break;
		}
		php_stderr(p, "\n", 1);
		php_io_close(&p->berr);
	}
}

/* Send c->r->out to the client. 1 progress, 0 wait, -1 client gone. */
static int
php_flush(struct php *p)
{
	struct conn	*c = p->c;
	ssize_t		 n;
	int		 progress = 0;

	while (c->out_off < c->out_len) {
		if (!c->writable)
			return progress;
		n = conn_io_send(c, c->r->out + c->out_off,
		    c->out_len - c->out_off, 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			conn_write_blocked(c);
			return progress;
		}
		if (n <= 0)
			return -1;
		c->out_off += (uint32_t)n;
		c->bytes_out += (uint64_t)n;
		progress = 1;
		if (p->eof || p->phase == PH_FINAL)
			ev_timer_set(&c->timer,
			    (uint64_t)wconf->client_timeout_ms);
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	return progress;
}

/*
 * Something went wrong: an error page if nothing was sent yet, else
 * close the connection. A head made but still in the buffer is dropped
 * for the error page: the client has seen nothing of it. Returns -1
 * when the connection was closed.
 */
static int
php_fail(struct php *p)
{
	struct conn	*c = p->c;
	int		 status = p->error;

	php_backend_stop(p, 1);
	if (c->bytes_out > 0) {
		conn_handler_fail(c);
		return -1;
	}
	p->phase = PH_FINAL;
	c->keep_alive = 0;	/* the body may be partly read */
	resp_error(c, status, NULL);
	c->state = CS_HANDLER;	/* we send it ourselves */
	return 0;
}

/*
 * A CGI child closes its stdout when it exits, and is reaped just after:
 * its output is whole only if it exited rather than died by a signal
 * (a crash, the OOM killer), which the output's end cannot tell. 1 when
 * it was reaped, or when it keeps running PHP_REAP_WAIT_MS after closing
 * its stdout (then its output counts as whole); 0 to wait, with the kick
 * timer set for the bound.
 */
static int
php_child_ended(struct php *p)
{
	uint64_t	 now = ev_now_ms();

	if (p->fcgi || p->pid <= 0 || p->reap_gave_up)
		return 1;
	if (p->reap_until == 0) {
		p->reap_until = now + PHP_REAP_WAIT_MS;
		ev_timer_set(&p->kick, PHP_REAP_WAIT_MS);
		return 0;
	}
	if (now < p->reap_until)
		return 0;
	p->reap_gave_up = 1;
	return 1;
}

/* Run after the backend is done: finish the response. 1 when sent. */
static int
php_finished(struct php *p)
{
	struct conn	*c = p->c;

	if (p->phase == PH_FINAL)
		return c->out_off == c->out_len;
	if (!p->eof || p->roff < p->rlen || spool_pending(&p->spool) ||
	    p->error != 0)
		return 0;	/* an error is said once, by php_fail() */
	if (!p->head_built) {
		/* php (the CLI) where php-cgi belongs sends no header. */
		log_warnx("php: %s: no complete header block in the output%s%s%s",
		    p->script, p->fcgi ? "" : " (is ", p->fcgi ? "" :
		    wconf->php_cgi, p->fcgi ? "" : " a CGI program?)");
		p->error = 502;
		return 0;
	}
	if (p->limited && p->out_left > 0) {
		/* Cut short: only a close can say so now. */
		log_warnx("php: %s: output shorter than its Content-Length",
		    p->script);
		p->error = 502;
		return 0;
	}
	/* A body that its Content-Length ends is whole in any case. */
	if (!p->terminated && !p->limited && !php_child_ended(p))
		return 0;
	if (p->exited && WIFSIGNALED(p->exit_st) && !p->terminated &&
	    !p->limited) {
		/* Its output may be cut anywhere: never end it as whole. */
		log_warnx("php: %s: php-cgi died by signal %d, its output is "
		    "cut", p->script, WTERMSIG(p->exit_st));
		p->error = 502;
		return 0;
	}
	if (p->gz != NULL && !p->terminated) {
		out_compact(c);
		php_gz_out(p, NULL, 0, 1);
		return 0;	/* until the stream's end is out */
	}
	if (p->chunked && !p->terminated) {
		if (CONN_OUT_SIZE - c->out_len < 5)
			return 0;
		resp_append(c, "0\r\n\r\n", 5);
		p->terminated = 1;
	}
	return c->out_off == c->out_len;
}

/*
 * The backend has said all: hang up now, not when the client has read
 * it. php-fpm's child waits for our close before it takes another
 * request (a lingering close), and a slow client may read for minutes.
 * Body bytes not sent yet will never be: the script did not want them.
 */
static void
php_request_over(struct php *p)
{
	if (p->bin.io.fd == -1)
		return;
	p->stdin_done = 1;
	if (!p->fcgi) {
		php_io_close(&p->bin);
		return;
	}
	/*
	 * php-fpm has closed its side after END_REQUEST and waits for
	 * ours (or, asked to keep it, waits for another request that will
	 * not come): a reset ends both at once, without the FIN exchange
	 * and the TIME_WAIT socket it leaves per request. Nothing is lost:
	 * the answer is all in, and what it did not read it never wanted.
	 */
	fcgi_conn_end(p, fcgi_keepable(p), fcgi_ss.ss_family != AF_UNIX);
}

static int
php_begin(struct php *p)
{
	int	 rc;

	ev_timer_set(&p->c->timer, (uint64_t)wconf->php_timeout_ms);
	p->bpos0 = p->bpos;
	p->bend0 = p->bend;
	rc = p->fcgi ? fcgi_connect(p) : php_spawn(p);
	p->phase = PH_RUN;
	if (rc == -1 && p->error == 0)
		p->error = 502;
	return 1;
}

static void
php_run(struct php *p)
{
	struct conn	*c = p->c;
	int		 progress, rc, was_eof;

	for (;;) {
		progress = 0;
		if (p->error != 0 && p->phase != PH_FINAL &&
		    php_fail(p) == -1)
			return;
		if (p->phase == PH_COLLECT && (rc = php_collect(p)) != 0) {
			if (rc == -1)
				goto gone;
			continue;
		}
		if (p->phase == PH_START) {
			php_begin(p);
			continue;
		}
		if (p->phase == PH_RUN && p->open_due && p->error == 0) {
			p->open_due = 0;
			if (fcgi_open(p) == -1) {
				fcgi_conn_end(p, 0, 0);
				p->error = 502;
				continue;
			}
		}
		if (p->phase == PH_RUN) {
			if ((rc = php_pump_body(p)) == -1)
				goto gone;
			progress |= rc;
			progress |= php_spool_drain(p);
			was_eof = p->eof;
			progress |= php_pump_out(p);
			php_pump_err(p);
			if (p->eof)
				php_request_over(p);
			/* The script is done: only the client is waited on. */
			if (p->eof && !was_eof)
				ev_timer_set(&c->timer,
				    (uint64_t)wconf->client_timeout_ms);
		}
		/* Stage the body's end now: it leaves with the last bytes. */
		if (p->eof && p->phase == PH_RUN && p->error == 0)
			(void)php_finished(p);
		/* After an error, a head still here gives way to a 502. */
		if (p->error != 0 && p->phase != PH_FINAL)
			continue;
		if ((rc = php_flush(p)) == -1)
			goto gone;
		progress |= rc;
		/*
		 * php_timeout bounds silence, not the whole answer (as
		 * nginx's fastcgi_read_timeout): a long download to a slow
		 * client is not cut while its bytes flow.
		 */
		if (progress && p->phase == PH_RUN && !p->eof)
			ev_timer_set(&c->timer, (uint64_t)wconf->php_timeout_ms);
		if (p->phase != PH_COLLECT && php_finished(p)) {
			if (p->phase == PH_RUN && ((!p->stdin_eof &&
			    p->body_fd == -1) || p->body_left > 0 ||
			    p->bpos < p->bend))
				c->keep_alive = 0;	/* body not all read */
			else if (p->phase == PH_RUN)
				c->head_len = p->bend;
			conn_handler_done(c);
			return;
		}
		/* Output staged by php_finished() goes out first. */
		if (!progress && p->error == 0 &&
		    !(c->writable && c->out_off < c->out_len))
			return;
	}
gone:
	conn_handler_fail(c);
}

static void
php_event(struct conn *c, uint32_t events)
{
	struct php	*p = c->handler;

	if (events & (EPOLLHUP | EPOLLERR)) {
		conn_handler_fail(c);
		return;
	}
	/* Client closed while the script runs (body all read): give up. */
	if ((events & EPOLLRDHUP) && p->phase != PH_COLLECT &&
	    p->body_left == 0 && p->bpos == p->bend &&
	    conn_io_peek(c) == 0) {
		conn_handler_fail(c);
		return;
	}
	php_run(p);
}

static void
php_timeout(struct conn *c)
{
	struct php	*p = c->handler;

	if (p->phase != PH_RUN || p->eof) {
		if (conn_client_draining(c))
			return;
		conn_handler_fail(c);	/* slow client */
		return;
	}
	if (p->waiting)
		log_warnx("php: %s waited %d ms for a FastCGI connection "
		    "(all %d of php_keepalive busy)", p->script,
		    wconf->php_timeout_ms, wconf->php_keepalive);
	else
		log_warnx("php: %s did not finish within %d ms, %s",
		    p->script, wconf->php_timeout_ms,
		    wconf->php_mode == PHP_FASTCGI ?
		    "its FastCGI connection closed" : "killed");
	p->error = 504;
	php_run(p);
}

static void
php_kick(struct ev_timer *t)
{
	struct php	*p = (struct php *)((char *)t -
	    offsetof(struct php, kick));

	if (p->c != NULL)
		php_run(p);
}

/*
 * Take <c> over for the script <path> (normalised, under htdocs). Any
 * work that may finish or fail the request runs from the kick timer,
 * never from here: request_dispatch() and conn_run() still use <c>.
 * Worker only, from static_serve().
 */
void
php_start(struct conn *c, const char *path)
{
	struct http_request	*req = &c->r->req;
	struct php		*p;
	static const char	 cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	uint64_t		 avail;

	if (docroot[0] == '\0' && realpath(wconf->htdocs, docroot) == NULL) {
		log_warn("php: htdocs %s", wconf->htdocs);
		docroot[0] = '\0';
		resp_error(c, 500, NULL);
		return;
	}
	if ((p = malloc(sizeof(*p))) == NULL) {
		resp_error(c, 503, NULL);
		return;
	}
	memset(p, 0, offsetof(struct php, script));
	p->c = c;
	p->fcgi = wconf->php_mode == PHP_FASTCGI;
	strlcpy(p->script, path, sizeof(p->script));
	p->bin.io.fd = p->bout.io.fd = p->berr.io.fd = -1;
	spool_init(&p->spool, wconf->php_buffer_max, "php");
	p->hlen = p->bpos = p->bend = c->head_len;
	avail = c->in_len - c->head_len;
	p->body_fd = -1;
	p->phase = PH_START;
	switch (req->body) {
	case HTTP_BODY_LENGTH:
		p->bend += (uint32_t)MTD_MIN(avail, req->content_length);
		p->body_left = req->content_length - (p->bend - p->bpos);
		/* Past php_buffer_max, or without a file: streamed. */
		if (p->body_left > 0 &&
		    req->content_length <= wconf->php_buffer_max &&
		    (p->body_fd = spool_open("php", "a request body")) != -1) {
			p->bend = p->bpos;
			p->body_left = req->content_length;
			p->phase = PH_COLLECT;
		}
		break;
	case HTTP_BODY_CHUNKED:
		p->chunked_req = 1;
		http_chunked_init_relayed(&p->ch);
		p->phase = PH_COLLECT;
		/* The script needs its length first: no file, no body. */
		if (wconf->php_buffer_max == 0)
			p->error = 411;
		else if ((p->body_fd = spool_open("php",
		    "a request body")) == -1)
			p->error = 500;
		break;
	default:
		break;
	}
	/* We read the body exactly: keep-alive is possible again. */
	c->keep_alive = req->keep_alive && !worker_draining &&
	    wconf->keepalive_timeout_ms > 0;
	/* A body refused already (411, 500) is not invited. */
	if (req->expect_continue && p->error == 0 &&
	    (p->body_left > 0 || p->chunked_req))
		(void)conn_io_send(c, cont, sizeof(cont) - 1, 0);
	p->next = live;
	if (live != NULL)
		live->prev = p;
	live = p;
	c->hops = &php_ops;
	c->handler = p;
	c->state = CS_HANDLER;
	ev_timer_set(&c->timer, (uint64_t)wconf->php_timeout_ms);
	/* Not from here: our caller still holds <c>. */
	ev_timer_init(&p->kick, php_kick);
	ev_timer_set(&p->kick, 0);
}

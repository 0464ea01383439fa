/*
 * Static files under htdocs. Paths are percent-decoded and normalised by
 * uri_normalize() (which refuses to climb above the root), then opened
 * with openat2(RESOLVE_BENEATH) relative to the document root, so the
 * kernel itself refuses symlinks that lead outside. Small files are read
 * into the response buffer (one send); larger ones go out with sendfile.
 * Compressible types go out gzip-coded through gzip.c when the client
 * accepts it (never for ranges: those are served from the file's bytes).
 * Several ranges are answered with multipart/byteranges (byteranges.c).
 * A path whose first segment is not a name in htdocs (the docroot index
 * knows) is not found without a syscall: on a proxy, that is most paths.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "byteranges.h"
#include "cond.h"
#include "conn.h"
#include "docindex.h"
#include "ev.h"
#include "gzip.h"
#include "http.h"
#include "httpdate.h"
#include "log.h"
#include "mime.h"
#include "php.h"
#include "range.h"
#include "static.h"
#include "uri.h"
#include "upstream.h"
#include "worker.h"

int	 htdocs_fd = -1;
static int	 have_openat2 = 1;
static char	 htdocs_real[PATH_MAX];

int
static_init(const char *htdocs)
{
	if (htdocs == NULL || *htdocs == '\0')
		return 0;
	htdocs_fd = open(htdocs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (htdocs_fd == -1 || realpath(htdocs, htdocs_real) == NULL) {
		log_warn("htdocs %s", htdocs);
		if (htdocs_fd != -1)
			close(htdocs_fd);
		htdocs_fd = -1;
		return -1;
	}
	return 0;
}

void
static_check_access(void)
{
	if (htdocs_fd == -1 || faccessat(htdocs_fd, ".", X_OK, AT_EACCESS) == 0)
		return;
	/*
	 * Every open below would fail with EACCES, and a 403 for every path
	 * would take the proxy down with the files. Serve no file instead.
	 */
	log_warnx("htdocs %s: %s for the workers' user (uid %ld): no local "
	    "file is served, every request goes to the backends",
	    htdocs_real, strerror(errno), (long)geteuid());
	close(htdocs_fd);
	htdocs_fd = -1;
}

/*
 * Pre-5.6 kernels, and links openat2 refused: open, then check where the
 * descriptor really is.
 */
static int
static_open_fallback(const char *rel)
{
	char	 link[64], real[PATH_MAX];
	size_t	 rlen = strlen(htdocs_real);
	ssize_t	 n;
	int	 fd;

	fd = openat(htdocs_fd, rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return -1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, real, sizeof(real) - 1);
	if (n == -1 || (size_t)n < rlen ||
	    memcmp(real, htdocs_real, rlen) != 0 ||
	    (real[rlen] != '/' && (size_t)n != rlen)) {
		close(fd);
		errno = EXDEV;
		return -1;
	}
	return fd;
}

/*
 * Open <rel> (no leading '/') beneath the root. Falls back to a plain
 * openat() + realpath() check on kernels without openat2.
 */
static int
open_beneath(const char *rel)
{
	struct open_how	 how;
	int		 fd;

	if (have_openat2) {
		memset(&how, 0, sizeof(how));
		how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
		fd = (int)syscall(SYS_openat2, htdocs_fd, rel, &how,
		    sizeof(how));
		/*
		 * EXDEV: a link RESOLVE_BENEATH would not follow, which
		 * includes every absolute one, also those that deploy tools
		 * point inside the root. Where it really leads decides.
		 */
		if (fd != -1 || (errno != ENOSYS && errno != EXDEV))
			return fd;
		if (errno == EXDEV)
			return static_open_fallback(rel);
		have_openat2 = 0;
	}
	return static_open_fallback(rel);
}

static int
map_open_error(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
		return 403;
	case EMFILE:
	case ENFILE:
	case ENOMEM:
		/* Our shortage, not the client's mistake: try again later. */
		return 503;
	default:
		/* ENOENT, ENOTDIR, EXDEV (escape), ELOOP ... */
		return 404;
	}
}

static void
format_etag(char *buf, size_t len, const struct stat *st)
{
	snprintf(buf, len, "\"%" PRIx64 "-%" PRIx64 "\"",
	    (uint64_t)st->st_mtime, (uint64_t)st->st_size);
}

/*
 * The file's Last-Modified: never later than now (RFC 9110 8.8.2.1), or
 * a client that sends it back in If-Modified-Since would never get 304.
 */
static time_t
last_modified(const struct stat *st)
{
	time_t	 now = ev_wall();

	return st->st_mtime < now ? st->st_mtime : now;
}

/* If-Range: the range applies only when the validator still matches. */
static int
if_range_ok(const struct http_request *req, const struct stat *st,
    const char *etag)
{
	const struct http_str	*v = &req->if_range;

	if (v->len == 0)
		return 1;
	if (v->p[0] == '"')
		return v->len == strlen(etag) &&
		    memcmp(v->p, etag, v->len) == 0;
	return httpdate_parse(v->p, v->len) == last_modified(st);
}

static void
validator_headers(struct conn *c, const struct stat *st, const char *etag)
{
	char	 date[HTTPDATE_LEN];

	httpdate_format(last_modified(st), date);
	resp_header(c, "Last-Modified: %s", date);
	resp_header(c, "ETag: %s", etag);
	resp_header(c, "Accept-Ranges: bytes");
}

/*
 * 206 with several parts (RFC 9110 14.6), each with its own
 * Content-Type and Content-Range; conn.c sends them one after the other.
 */
static void
send_byteranges(struct conn *c, int fd, const struct stat *st,
    const char *etag, const char *type, const struct range_set *rs,
    int vary)
{
	if ((c->br = byteranges_new(rs, type, (uint64_t)st->st_size)) ==
	    NULL) {
		close(fd);
		resp_error(c, 500, NULL);
		return;
	}
	resp_head(c, 206);
	resp_header(c, "Content-Type: multipart/byteranges; boundary=%s",
	    byteranges_boundary(c->br));
	validator_headers(c, st, etag);
	if (vary)
		resp_header(c, "Vary: Accept-Encoding");
	resp_end_head(c, (int64_t)byteranges_length(c->br));
	c->file_fd = fd;
	if (byteranges_next(c) != 1) {
		/* A part head longer than the buffer: a media type of 15 KB. */
		byteranges_free(c->br);
		c->br = NULL;
		c->file_fd = -1;
		close(fd);
		resp_error(c, 500, NULL);
		return;
	}
	conn_respond(c);
}

/*
 * 200 with the gzip coding: a weak ETag (the bytes differ from the
 * file's), no length, chunked for HTTP/1.1 and close-delimited for 1.0.
 */
static void
send_gzip(struct conn *c, int fd, const struct stat *st, const char *etag,
    const char *path)
{
	int	 head = c->r->req.method == HTTP_M_HEAD;
	char	 date[HTTPDATE_LEN];

	httpdate_format(last_modified(st), date);
	resp_head(c, 200);
	resp_header(c, "Content-Type: %s", mime_type(path));
	resp_header(c, "Last-Modified: %s", date);
	resp_header(c, "ETag: W/%s", etag);
	resp_header(c, "Content-Encoding: gzip");
	resp_header(c, "Vary: Accept-Encoding");
	if (c->r->req.minor >= 1)
		resp_header(c, "Transfer-Encoding: chunked");
	else if (!head)
		c->keep_alive = 0;	/* the close ends the body */
	resp_end_head(c, -1);
	if (head) {
		close(fd);
		conn_respond(c);
	} else
		gzip_send_file(c, fd, (uint64_t)st->st_size);
}

/* Queue the body bytes [start, start+len) of <fd>. */
static void
attach_body(struct conn *c, int fd, uint64_t start, uint64_t len)
{
	ssize_t	 n;

	if (len <= CONN_OUT_SIZE - c->out_len) {
		n = pread(fd, c->r->out + c->out_len, len, (off_t)start);
		if (n == (ssize_t)len) {
			c->out_len += (uint32_t)len;
			close(fd);
			return;
		}
	}
	c->file_fd = fd;
	c->file_off = (off_t)start;
	c->file_left = len;
}

static void
send_file(struct conn *c, int fd, const struct stat *st, const char *path)
{
	struct http_request	*req = &c->r->req;
	char			 etag[64];
	uint64_t		 size = (uint64_t)st->st_size, start = 0;
	uint64_t		 end = size ? size - 1 : 0;
	const char		*type = mime_type(path);
	struct range_set	 rs;
	int			 rc = RANGE_NONE, gz, vary, cond;

	format_etag(etag, sizeof(etag), st);
	gz = gz_wanted(c, type, strlen(type), (int64_t)size, &vary);
	cond = cond_evaluate(req, etag, last_modified(st), ev_wall());
	if (cond == COND_FAILED) {
		close(fd);
		resp_error(c, 412, NULL);
		return;
	}
	if (cond == COND_NOT_MODIFIED) {
		resp_head(c, 304);
		resp_header(c, "ETag: %s%s", gz ? "W/" : "", etag);
		if (vary)
			resp_header(c, "Vary: Accept-Encoding");
		resp_end_head(c, -1);
		close(fd);
		conn_respond(c);
		return;
	}
	if (gz && req->range.len == 0) {
		/* Ranges are served from the identity bytes instead. */
		send_gzip(c, fd, st, etag, path);
		return;
	}
	if (req->range.len > 0 && req->method == HTTP_M_GET &&
	    if_range_ok(req, st, etag))
		rc = range_parse_set(req->range.p, req->range.len, size, &rs);
	if (rc == RANGE_OK && rs.n > 1) {
		send_byteranges(c, fd, st, etag, type, &rs, vary);
		return;
	}
	if (rc == RANGE_OK) {
		start = rs.first[0];
		end = rs.last[0];
	}
	if (rc == RANGE_UNSATISFIABLE) {
		close(fd);
		resp_head(c, 416);
		resp_header(c, "Content-Range: bytes */%" PRIu64, size);
		resp_end_head(c, 0);
		conn_respond(c);
		return;
	}
	resp_head(c, rc == RANGE_OK ? 206 : 200);
	resp_header(c, "Content-Type: %s", type);
	validator_headers(c, st, etag);
	if (vary)
		resp_header(c, "Vary: Accept-Encoding");
	if (rc == RANGE_OK)
		resp_header(c, "Content-Range: bytes %" PRIu64 "-%" PRIu64
		    "/%" PRIu64, start, end, size);
	else {
		start = 0;
		end = size ? size - 1 : 0;
	}
	resp_end_head(c, size ? (int64_t)(end - start + 1) : 0);
	if (req->method == HTTP_M_HEAD || size == 0)
		close(fd);
	else
		attach_body(c, fd, start, end - start + 1);
	conn_respond(c);
}

/*
 * A directory: redirect to the slash form, or serve its index.html, else
 * (with PHP on) run its index.php, as nginx's "index index.html
 * index.php"; *<name> says which.
 */
static int
open_index(struct conn *c, const char *path, size_t len, int *status,
    const char **name)
{
	char	 idx[MTD_MAX_TARGET + 16];
	int	 fd;

	if (path[len - 1] != '/') {
		*status = 301;
		return -1;
	}
	*name = "index.html";
	snprintf(idx, sizeof(idx), "%s%s", path + 1, *name);
	fd = open_beneath(idx);
	if (fd == -1 && errno == ENOENT && wconf->php_mode != PHP_OFF) {
		*name = "index.php";
		snprintf(idx, sizeof(idx), "%s%s", path + 1, *name);
		fd = open_beneath(idx);
	}
	if (fd == -1)
		*status = map_open_error(errno);
	return fd;
}

/*
 * "Location: <path>/?<query>" for the directory <path>, normalised. Never
 * the raw path: "//evil.example/../docs" names the directory docs, and
 * its raw form would send a browser to another site. The path is
 * percent-encoded again (it was decoded), keeping '/' and what RFC 3986
 * allows in a segment.
 */
static void
redirect_slash(struct conn *c, const char *path)
{
	static const char	 hex[] = "0123456789ABCDEF";
	struct http_request	*req = &c->r->req;
	char			 hdr[3 * MTD_MAX_TARGET + 64];
	size_t			 n;
	unsigned char		 ch;

	n = strlcpy(hdr, "Location: ", sizeof(hdr));
	for (; *path != '\0'; path++) {
		ch = (unsigned char)*path;
		if (isalnum(ch) ||
		    (ch != 0 && strchr("/-._~!$&'()*+,;=:@", ch) != NULL))
			hdr[n++] = (char)ch;
		else {
			hdr[n++] = '%';
			hdr[n++] = hex[ch >> 4];
			hdr[n++] = hex[ch & 15];
		}
	}
	snprintf(hdr + n, sizeof(hdr) - n, "/%s%.*s\r\n",
	    req->query.len ? "?" : "", (int)req->query.len, req->query.p);
	resp_error(c, 301, hdr);
}

/*
 * Names starting with '.' (.git, .env, .htpasswd) are never served from
 * htdocs: such a path goes on as one naming no file. /.well-known/ is
 * the exception (RFC 8615: ACME challenges, security.txt).
 */
static int
hidden_path(const char *norm)
{
	if (strncmp(norm, "/.well-known", 12) == 0 &&
	    (norm[12] == '/' || norm[12] == '\0'))
		norm += 12;
	return uri_has_dot_segment(norm);
}

/*
 * Can the normalised <path> (<len> bytes, leading '/') name anything
 * under htdocs? Not when its first segment is absent from htdocs: the
 * open could only fail with ENOENT. Nor when it is too long for any file
 * name. "/" is opened.
 */
static int
may_exist(const char *path, size_t len)
{
	const char	*seg = path + 1, *slash;

	if (len >= PATH_MAX)
		return 0;
	if (len <= 1)
		return 1;
	slash = memchr(seg, '/', len - 1);
	return docindex_may_exist(seg, slash != NULL ? (size_t)(slash - seg) :
	    len - 1);
}

static int
is_php(const char *path)
{
	size_t	 n = strlen(path);

	return n > 4 && strcmp(path + n - 4, ".php") == 0;
}

/* 405 with the methods a file takes; 501 for a method we do not know. */
static void
method_refused(struct conn *c)
{
	if (c->r->req.method == HTTP_M_OTHER)
		resp_error(c, 501, NULL);
	else
		resp_error(c, 405, "Allow: GET, HEAD\r\n");
}

/* <fd> is the regular file <path> (normalised): run it or send it. */
static void
serve_regular(struct conn *c, int fd, const struct stat *st,
    const char *path)
{
	struct http_request	*req = &c->r->req;

	if (is_php(path)) {
		close(fd);
		/* With PHP off, never show a script's source. */
		if (wconf->php_mode == PHP_OFF)
			resp_error(c, 403, NULL);
		else
			php_start(c, path);
		return;
	}
	if (req->method != HTTP_M_GET && req->method != HTTP_M_HEAD) {
		close(fd);
		method_refused(c);
		return;
	}
	send_file(c, fd, st, path);
}

int
static_serve(struct conn *c)
{
	struct http_request	*req = &c->r->req;
	char			*path = c->r->path;
	const char		*index;
	struct stat		 st;
	int			 n, fd, status = 404;

	/* A question about the server, not about a file: see request.c. */
	if (htdocs_fd == -1 || http_target_options_star(req))
		return STATIC_NOT_FOUND;
	n = uri_normalize(req->path.p, req->path.len, path,
	    sizeof(c->r->path));
	if (n == URI_NOT_A_FILE)
		return STATIC_NOT_FOUND;
	if (n < 0) {
		resp_error(c, n == URI_TOOLONG ? 414 : 400, NULL);
		return STATIC_DONE;
	}
	if (hidden_path(path) || !may_exist(path, (size_t)n))
		return STATIC_NOT_FOUND;
	fd = open_beneath(path[1] ? path + 1 : ".");
	/* The pool of backend connections may hold the descriptors. */
	if (fd == -1 && (errno == EMFILE || errno == ENFILE) &&
	    upstream_shed_idle(1) == 1)
		fd = open_beneath(path[1] ? path + 1 : ".");
	if (fd == -1) {
		if (errno == ENOENT || errno == ENOTDIR ||
		    errno == ENAMETOOLONG)
			return STATIC_NOT_FOUND;
		resp_error(c, map_open_error(errno), NULL);
		return STATIC_DONE;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		fd = open_index(c, path, (size_t)n, &status, &index);
		if (fd == -1) {
			/*
			 * As nginx: the slash is added for what a browser or
			 * a form sends (a POST may reach an index.php), and
			 * the method refused first for the others.
			 */
			if (status == 301 && req->method != HTTP_M_GET &&
			    req->method != HTTP_M_HEAD &&
			    req->method != HTTP_M_POST) {
				method_refused(c);
				return STATIC_DONE;
			}
			if (status == 301) {
				redirect_slash(c, path);
				return STATIC_DONE;
			}
			if (status == 404)
				return STATIC_NOT_FOUND;
			/* An index it may not read (403), or our shortage. */
			resp_error(c, status, NULL);
			return STATIC_DONE;
		}
		strlcat(path, index, sizeof(c->r->path));
		if (fstat(fd, &st) == -1)
			goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return STATIC_NOT_FOUND;
	}
	serve_regular(c, fd, &st, path);
	return STATIC_DONE;
fail:
	status = map_open_error(errno);
	close(fd);
	resp_error(c, status, NULL);
	return STATIC_DONE;
}

/*
 * Configuration loader: the main file and the seed's three files
 * (backends.cfg, blacklist.txt, cache_rules.cfg) into one struct conf.
 * Only the master loads, at start, for -t and on reload; workers inherit
 * the result through fork(). Every error is logged as "file:line: what"
 * and parsing goes on, so one run shows all of them; on any error the
 * half-built configuration is freed and conf_load() returns -1.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/string.h>

#include "cacherule.h"
#include "cidr.h"
#include "conf.h"
#include "log.h"
#include "mtd.h"
#include "tls.h"
#include "tls_client.h"
#include "tmpfile.h"

#define CONF_MAX_LINE	4095	/* bytes, without the newline */
#define CONF_MAX_ARGS	64	/* tokens on one line of the main file */
#define CONF_MAX_WEIGHT	1000
#define CONF_MAX_FAILS	1000
#define CONF_MAX_WCONN	1000000
#define CONF_MAX_DIRECTIVES 64	/* entries of directives[] */

/* One file being read line by line. */
struct lreader {
	FILE		*fp;
	const char	*path;		/* as resolved, for messages */
	int		 lineno;
	char		*buf;		/* CONF_MAX_LINE + 1 bytes */
	int		*errors;	/* counter shared by all files */
};

/* A growing array of CIDR blocks (rate_limit_exempt, status_allow). */
struct cidr_vec {
	struct cidr	*v;
	size_t		 n, cap;
};

/* State of one conf_load(). */
struct loader {
	struct conf	*c;
	char		 dir[PATH_MAX];	/* of the main file */
	struct lreader	*r;		/* the main file */
	int		 errors;
	int		 listen_seen;	/* first listen drops the default */
	int		 allow_seen;	/* first status_allow drops it too */
	struct cidr_vec	 exempt;
	struct cidr_vec	 allow;
	int		 seen_line[CONF_MAX_DIRECTIVES]; /* 0: not yet */
};

struct directive;
typedef void	 directive_fn(struct loader *, const struct directive *,
		    int, char **);

struct directive {
	const char	*name;
	directive_fn	*fn;
	int		 min, max;	/* argument count, -1: no limit */
	size_t		 off;		/* field, for the generic setters */
	long		 lo, hi;	/* range, for the generic setters */
};

static const char *const strategy_names[] = {
	[LB_ROUND_ROBIN] = "round-robin",
	[LB_LEAST_CONN] = "least-conn",
	[LB_IP_HASH] = "ip-hash",
	[LB_WEIGHTED] = "weighted",
};

/*
 * Small parsers.
 */

/* Digits only, no sign or space. 0, -1 not a number, -2 out of range. */
static int
parse_long(const char *s, long lo, long hi, long *out)
{
	long	 v = 0;
	size_t	 i;

	if (s[0] == '\0')
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		if (v > (LONG_MAX - (s[i] - '0')) / 10)
			return -2;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return -2;
	*out = v;
	return 0;
}

/* Copy the leading digits of <s> into <num>; return the suffix after. */
static const char *
split_unit(const char *s, char *num, size_t numsz)
{
	size_t	 n = strspn(s, "0123456789");

	if (n == 0 || n >= numsz)
		return NULL;
	memcpy(num, s, n);
	num[n] = '\0';
	return s + n;
}

/*
 * Parse a duration <s> ("500ms", "5s", "2m", "1h", bare = seconds) into
 * <*ms>. Returns 0, or -1 when malformed or overflowing. Any process.
 */
int
conf_parse_duration(const char *s, long *ms)
{
	static const struct {
		const char	*unit;
		long		 ms;
	} units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 },
	};
	const char	*unit;
	char		 num[24];
	long		 v;
	size_t		 i;

	if ((unit = split_unit(s, num, sizeof(num))) == NULL ||
	    parse_long(num, 0, LONG_MAX, &v) != 0)
		return -1;
	for (i = 0; i < MTD_ARRLEN(units); i++) {
		if (strcmp(unit, units[i].unit) != 0)
			continue;
		if (v > LONG_MAX / units[i].ms)
			return -1;
		*ms = v * units[i].ms;
		return 0;
	}
	return -1;
}

/*
 * Parse a size <s> ("512", "64k", "64m", "1g", any case) into <*bytes>.
 * Returns 0, or -1 when malformed or overflowing. Any process.
 */
int
conf_parse_size(const char *s, size_t *bytes)
{
	const char	*unit;
	char		 num[24];
	size_t		 mult;
	long		 v;

	if ((unit = split_unit(s, num, sizeof(num))) == NULL ||
	    parse_long(num, 0, LONG_MAX, &v) != 0)
		return -1;
	if (unit[0] != '\0' && unit[1] != '\0')
		return -1;
	switch (tolower((unsigned char)unit[0])) {
	case '\0':
		mult = 1;
		break;
	case 'k':
		mult = 1024;
		break;
	case 'm':
		mult = 1024 * 1024;
		break;
	case 'g':
		mult = 1024 * 1024 * 1024;
		break;
	default:
		return -1;
	}
	if ((unsigned long)v > SIZE_MAX / mult)
		return -1;
	*bytes = (size_t)v * mult;
	return 0;
}

/*
 * Parse the strategy name or seed number <s> into <*out>. Returns 0 or
 * -1. Any process (the master's command line uses it for -s).
 */
int
conf_parse_strategy(const char *s, enum lb_strategy *out)
{
	size_t	 i;

	for (i = 0; i < MTD_ARRLEN(strategy_names); i++) {
		if (strcmp(s, strategy_names[i]) == 0 ||
		    (s[0] == (char)('0' + i) && s[1] == '\0')) {
			*out = (enum lb_strategy)i;
			return 0;
		}
	}
	return -1;
}

/*
 * Name of strategy <s> ("round-robin"...), "?" when out of range.
 */
const char *
conf_strategy_str(enum lb_strategy s)
{
	if ((size_t)s >= MTD_ARRLEN(strategy_names))
		return "?";
	return strategy_names[s];
}

/* "1".."65535" into <*port>; 0 or -1 with <*err>. */
static int
parse_port(const char *s, int *port, const char **err)
{
	long	 v;

	switch (parse_long(s, 1, 65535, &v)) {
	case 0:
		*port = (int)v;
		return 0;
	case -2:
		*err = "port out of range";
		return -1;
	default:
		*err = s[0] == '\0' ? "missing port" : "invalid port";
		return -1;
	}
}

/*
 * Split "host:port..." or "[v6]:port..." at <s> into <host> (brackets
 * removed) and <*portp>, which points into <s> after the colon that
 * ends the host. Returns 0 or -1 with <*err>.
 */
static int
split_hostport(const char *s, char *host, size_t hostsz, const char **portp,
    const char **err)
{
	const char	*end, *colon;
	size_t		 len;

	*err = "invalid address";
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return -1;
		colon = end + 1;
		s++;
	} else
		colon = end = strchr(s, ':');
	if (end == NULL || *colon != ':') {
		*err = "missing port";
		return -1;
	}
	len = (size_t)(end - s);
	if (len == 0 || len >= hostsz)
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	*portp = colon + 1;
	return 0;
}

/* Fill <out>'s socket address from numeric <host> (NULL: any). */
static int
listen_addr(const char *host, int bracketed, struct conf_listen *out)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&out->ss;
	char			 a[INET6_ADDRSTRLEN];

	if (bracketed) {
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)out->port);
		out->sslen = sizeof(*sin6);
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(out->text, sizeof(out->text), "[%s]:%d", a, out->port);
		return 0;
	}
	if (host == NULL)
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)out->port);
	out->sslen = sizeof(*sin);
	inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
	snprintf(out->text, sizeof(out->text), "%s:%d", a, out->port);
	return 0;
}

/*
 * Parse a listen value <s> ("8085", "*:8085", "127.0.0.1:8085",
 * "[::1]:8085") into <out>. Returns 0, or -1 with a static reason in
 * <*err>. Any process.
 */
int
conf_parse_listen(const char *s, struct conf_listen *out, const char **err)
{
	char		 host[INET6_ADDRSTRLEN];
	const char	*port;

	memset(out, 0, sizeof(*out));
	if (s[0] != '[' && strchr(s, ':') != strrchr(s, ':')) {
		*err = "IPv6 address must be in brackets";
		return -1;
	}
	if (strchr(s, ':') == NULL) {
		port = s;
		out->any = 1;
	} else if (split_hostport(s, host, sizeof(host), &port, err) == -1)
		return -1;
	else if (strcmp(host, "*") == 0)
		out->any = 1;
	if (parse_port(port, &out->port, err) == -1)
		return -1;
	if (listen_addr(out->any ? NULL : host, s[0] == '[', out) == -1) {
		*err = "invalid address";
		return -1;
	}
	return 0;
}

/*
 * Errors.
 */

/*
 * The length of the well-formed UTF-8 sequence of two bytes or more at
 * <s> (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF), or 0.
 */
static size_t
utf8_seq(const unsigned char *s)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	for (i = 1; i < n; i++, lo = 0x80, hi = 0xbf)
		if (s[i] < lo || s[i] > hi)
			return 0;
	return n;
}

/*
 * <s> with its control characters and the bytes that are not UTF-8 as
 * \xNN: a stray CR or vertical tab in a value would otherwise garble the
 * message on a terminal, and a Latin-1 byte the log's encoding. UTF-8
 * (a file name in another script) stays as it is.
 */
static const char *
visible(const char *s, char *buf, size_t len)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 o = 0, n;

	while (*u != '\0' && o + 5 < len) {
		if (*u >= 0x80 && (n = utf8_seq(u)) > 0) {
			if (o + n + 1 > len)
				break;
			memcpy(buf + o, u, n);
			o += n;
			u += n;
		} else if (*u < 0x20 || *u >= 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x",
			    *u++);
		else
			buf[o++] = (char)*u++;
	}
	buf[o] = '\0';
	return buf;
}

/* Log "file:line: message" for the current line of <r> and count it. */
static void __attribute__((format(printf, 2, 3)))
lerr(struct lreader *r, const char *fmt, ...)
{
	char	 msg[1024], shown[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s:%d: %s", r->path, r->lineno, visible(msg, shown,
	    sizeof(shown)));
	(*r->errors)++;
}

static void
bad_value(struct loader *ld, const char *name, const char *value,
    const char *reason)
{
	size_t	 n = strlen(value);
	/* A long value is cut, so that the reason is never lost. */
	int	 shown = n > 200 ? 200 : (int)n;

	/* nginx habits: "listen 8085;" */
	lerr(ld->r, "%s: invalid value \"%.*s%s\"%s%s%s", name, shown, value,
	    (size_t)shown < n ? "..." : "",
	    reason != NULL ? ": " : "", reason != NULL ? reason : "",
	    n > 0 && value[n - 1] == ';' ?
	    " (maitred lines do not end with ';')" : "");
}

static void
bad_argc(struct loader *ld, const char *name)
{
	lerr(ld->r, "%s: wrong number of arguments", name);
}

/*
 * Files.
 */

/*
 * 1: next line in <*line>, 0: end of file. Bad lines are logged, skipped.
 * Memory stays bounded whatever the file holds: a line past CONF_MAX_LINE
 * is read to its end without being kept.
 */
static int
lreader_next(struct lreader *r, char **line)
{
	size_t	 n;
	int	 ch, nul, too_long;

	if (r->buf == NULL && (r->buf = malloc(CONF_MAX_LINE + 1)) == NULL) {
		lerr(r, "%s", strerror(errno));
		return 0;
	}
	for (;;) {
		n = 0;
		nul = too_long = 0;
		while ((ch = getc_unlocked(r->fp)) != EOF && ch != '\n') {
			if (n == CONF_MAX_LINE) {
				too_long = 1;
				continue;
			}
			nul |= ch == '\0';
			r->buf[n++] = (char)ch;
		}
		if (ch == EOF && n == 0 && !too_long) {
			if (ferror(r->fp))
				lerr(r, "%s", strerror(errno));
			return 0;
		}
		r->lineno++;
		if (n > 0 && r->buf[n - 1] == '\r')
			n--;
		r->buf[n] = '\0';
		if (too_long)
			lerr(r, "line too long (more than %d bytes)",
			    CONF_MAX_LINE);
		else if (nul)
			lerr(r, "invalid NUL byte in line");
		else {
			*line = r->buf;
			/* Editors on some systems start UTF-8 with a BOM. */
			if (r->lineno == 1 &&
			    strncmp(*line, "\xef\xbb\xbf", 3) == 0)
				*line += 3;
			return 1;
		}
	}
}

/* Cut a '#' comment (at the start or after a blank) and trim <s>. */
static char *
strip_line(char *s)
{
	char	*e;
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '#' && (i == 0 || s[i - 1] == ' ' ||
		    s[i - 1] == '\t')) {
			s[i] = '\0';
			break;
		}
	}
	s += strspn(s, " \t");
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* <in> joined to the main file's directory unless absolute. */
static int
resolve(struct loader *ld, const char *in, char *out, size_t outsz)
{
	int	 n;

	if (in[0] == '/')
		n = (int)strlcpy(out, in, outsz);
	else
		n = snprintf(out, outsz, "%s/%s", ld->dir, in);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

FILE *
conf_fopen(const char *path, const char **why)
{
	struct stat	 st;
	FILE		*fp;
	int		 fd, saved;

	*why = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !(S_ISCHR(st.st_mode) &&
	    major(st.st_rdev) == 1 && minor(st.st_rdev) == 3)) {
		*why = "not a regular file";
		goto fail;
	}
	if (fcntl(fd, F_SETFL, 0) == -1 || (fp = fdopen(fd, "r")) == NULL)
		goto fail;
	return fp;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return NULL;
}

/*
 * Resolve <value> of directive <name> into <path> and open it for
 * reading into <r>. Returns 0, or -1 after logging.
 */
static int
seed_open(struct loader *ld, const char *name, const char *value,
    char *path, struct lreader *r)
{
	const char	*why;

	if (resolve(ld, value, path, PATH_MAX) == -1) {
		bad_value(ld, name, value, "path too long");
		return -1;
	}
	memset(r, 0, sizeof(*r));
	if ((r->fp = conf_fopen(path, &why)) == NULL) {
		lerr(ld->r, "%s \"%s\": %s", name, path,
		    why != NULL ? why : strerror(errno));
		return -1;
	}
	r->path = path;
	r->errors = &ld->errors;
	return 0;
}

static void
seed_close(struct lreader *r)
{
	free(r->buf);
	fclose(r->fp);
}

/* Make room for one more <size>-byte element in <*v> (<*n> used). */
static int
grow(void *v, size_t *cap, size_t n, size_t size)
{
	void	**p = v;
	void	 *q;
	size_t	  ncap;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 16 : *cap * 2;
	if ((q = reallocarray(*p, ncap, size)) == NULL)
		return -1;
	*p = q;
	*cap = ncap;
	return 0;
}

/*
 * backends.cfg
 */

/* Resolve <b>'s host and port; NULL or the getaddrinfo() reason. */
static const char *
backend_resolve(struct conf_backend *b, int bracketed)
{
	struct addrinfo	 hints, *res;
	struct in_addr	 v4;
	char		 port[8];
	int		 e;

	/* getaddrinfo() would take "127.1" or "300.1.2.3" to the DNS. */
	if (b->host[strspn(b->host, "0123456789.")] == '\0' &&
	    inet_pton(AF_INET, b->host, &v4) != 1)
		return "invalid IPv4 address";
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (bracketed ? AI_NUMERICHOST : 0);
	snprintf(port, sizeof(port), "%d", b->port);
	if ((e = getaddrinfo(b->host, port, &hints, &res)) != 0)
		return gai_strerror(e);
	if (bracketed && res->ai_family != AF_INET6) {
		freeaddrinfo(res);
		return "not an IPv6 address";
	}
	memcpy(&b->ss, res->ai_addr, res->ai_addrlen);
	b->sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return NULL;
}

/* weight and max_failures in <f>, <nf> fields; NULL or the reason. */
static const char *
backend_numbers(struct conf_backend *b, char **f, int nf)
{
	long	 v;

	b->weight = 1;
	b->max_failures = 3;
	if (nf > 0) {
		if (parse_long(f[0], 1, CONF_MAX_WEIGHT, &v) != 0)
			return "weight must be 1-1000";
		b->weight = (int)v;
	}
	if (nf > 1) {
		if (parse_long(f[1], 1, CONF_MAX_FAILS, &v) != 0)
			return "max_failures must be 1-1000";
		b->max_failures = (int)v;
	}
	return nf > 2 ? "too many fields" : NULL;
}

/* Parse one backends.cfg line <s> into <b>; NULL or the reason. */
static const char *
backend_parse(char *s, struct conf_backend *b)
{
	char		*f[4], *rest;
	const char	*port, *err;
	int		 nf = 0;

	memset(b, 0, sizeof(*b));
	if (split_hostport(s, b->host, sizeof(b->host), &port, &err) == -1)
		return strcmp(err, "invalid address") == 0 ?
		    "invalid host" : err;
	rest = s + (port - s);		/* the same, without const */
	while (nf < 4 && (f[nf] = strsep(&rest, ":")) != NULL)
		nf++;
	if (rest != NULL)
		return "too many fields";
	if (parse_port(f[0], &b->port, &err) == -1)
		return err;
	if ((err = backend_numbers(b, f + 1, nf - 1)) != NULL)
		return err;
	if (strchr(b->host, ':') != NULL)
		snprintf(b->name, sizeof(b->name), "[%s]:%d", b->host,
		    b->port);
	else
		snprintf(b->name, sizeof(b->name), "%s:%d", b->host, b->port);
	return backend_resolve(b, s[0] == '[');
}

/* Reason when <b> repeats a backend of <c>, else NULL. */
static const char *
backend_dup(const struct conf *c, const struct conf_backend *b)
{
	int	 i;

	for (i = 0; i < c->nbackends; i++) {
		if (strcasecmp(c->backends[i].name, b->name) == 0 ||
		    (c->backends[i].sslen == b->sslen &&
		    memcmp(&c->backends[i].ss, &b->ss, b->sslen) == 0))
			return "duplicate backend";
	}
	return NULL;
}

static void
read_backends(struct loader *ld, struct lreader *r)
{
	struct conf		*c = ld->c;
	struct conf_backend	 b;
	const char		*err;
	char			*line, *s, copy[CONF_MAX_LINE + 1];

	if ((c->backends = calloc(MTD_MAX_BACKENDS, sizeof(b))) == NULL) {
		lerr(r, "%s", strerror(errno));
		return;
	}
	while (lreader_next(r, &line)) {
		if (*(s = strip_line(line)) == '\0')
			continue;
		/* Once: a generated file may go on for thousands of lines. */
		if (c->nbackends == MTD_MAX_BACKENDS) {
			lerr(r, "too many backends (at most %d); this line and "
			    "the rest of the file are not read",
			    MTD_MAX_BACKENDS);
			break;
		}
		strlcpy(copy, s, sizeof(copy));
		if ((err = backend_parse(s, &b)) == NULL)
			err = backend_dup(c, &b);
		if (err != NULL)
			lerr(r, "invalid backend \"%s\": %s", copy, err);
		else
			c->backends[c->nbackends++] = b;
	}
	/* Legal (backends may come later, with a reload), but say so. */
	if (c->nbackends == 0 && *r->errors == 0)
		log_warnx("%s: no backends: a request for no local file "
		    "gets 503", r->path);
}

/*
 * blacklist.txt
 */

/* The set <r> lists; its errors are counted in <r>. */
static struct cidr_set *
read_blacklist(struct lreader *r)
{
	struct cidr_set	*set;
	struct cidr_vec	 vec = { NULL, 0, 0 };
	const char	*err;
	char		*line, *s;

	while (lreader_next(r, &line)) {
		if (*(s = strip_line(line)) == '\0')
			continue;
		if (grow(&vec.v, &vec.cap, vec.n, sizeof(*vec.v)) == -1) {
			lerr(r, "%s", strerror(errno));
			break;
		}
		if (cidr_parse(s, &vec.v[vec.n], &err) == -1)
			lerr(r, "invalid address \"%s\": %s", s, err);
		else
			vec.n++;
	}
	if ((set = cidr_set_build(vec.v, vec.n)) == NULL)
		lerr(r, "%s", strerror(ENOMEM));
	free(vec.v);
	return set;
}

int
conf_reload_blacklist(struct conf *c)
{
	struct stat	 st;
	struct cidr_set	*set;
	struct lreader	 r;
	const char	*why;
	int		 errors = 0;

	memset(&r, 0, sizeof(r));
	if ((r.fp = conf_fopen(c->blacklist_path, &why)) == NULL) {
		log_warnx("blacklist \"%s\": %s", c->blacklist_path,
		    why != NULL ? why : strerror(errno));
		return -1;
	}
	r.path = c->blacklist_path;
	r.errors = &errors;
	if (fstat(fileno(r.fp), &st) == -1)
		memset(&st, 0, sizeof(st));
	set = read_blacklist(&r);
	seed_close(&r);
	if (errors > 0) {
		cidr_set_free(set);
		return -1;
	}
	cidr_set_free(c->blacklist);
	c->blacklist = set;
	c->blacklist_st = st;
	return 0;
}

/*
 * cache_rules.cfg
 */

/* "pattern:max_age:max_size", split on the last two colons. */
static const char *
cache_rule_parse(char *s, struct conf_cache_rule *rule)
{
	char	*age, *size;
	long	 v;

	if ((size = strrchr(s, ':')) == NULL)
		return "expected pattern:max_age:max_size";
	*size++ = '\0';
	if ((age = strrchr(s, ':')) == NULL)
		return "expected pattern:max_age:max_size";
	*age++ = '\0';
	if (s[0] == '\0')
		return "empty pattern";
	if (strpbrk(s, " \t") != NULL)
		return "blank in pattern";
	if (strlcpy(rule->pattern, s, sizeof(rule->pattern)) >=
	    sizeof(rule->pattern))
		return "pattern too long";
	if (parse_long(age, 0, LONG_MAX, &v) != 0)
		return "invalid max_age";
	rule->max_age = v;
	if (conf_parse_size(size, &rule->max_size) == -1)
		return "invalid max_size";
	return NULL;
}

/*
 * First match wins, so a caching rule listed after a broader one never
 * applies ("never cache" rules apply wherever they are). Not an error,
 * as the file still means something; but say so, -t included.
 */
static void
warn_shadowed_rules(const struct conf *c, const char *path)
{
	const struct conf_cache_rule	*a, *b;
	int				 i, j;

	/* Quadratic: long generated files are not checked past this. */
	for (i = 1; i < MTD_MIN(c->ncache_rules, 512); i++) {
		b = &c->cache_rules[i];
		if (b->max_age == 0)
			continue;
		for (j = 0; j < i; j++) {
			a = &c->cache_rules[j];
			if (!cacherule_covers(a->pattern, b->pattern))
				continue;
			log_warnx("%s:%d: cache rule \"%s\" never applies: "
			    "\"%s\" (line %d) matches every path it does, "
			    "and the first match wins", path, b->line,
			    b->pattern, a->pattern, a->line);
			break;
		}
	}
}

static void
read_cache_rules(struct loader *ld, struct lreader *r)
{
	struct conf		*c = ld->c;
	size_t			 cap = 0;
	const char		*err;
	char			*line, *s, copy[CONF_MAX_LINE + 1];

	while (lreader_next(r, &line)) {
		if (*(s = strip_line(line)) == '\0')
			continue;
		if (grow(&c->cache_rules, &cap, (size_t)c->ncache_rules,
		    sizeof(*c->cache_rules)) == -1) {
			lerr(r, "%s", strerror(errno));
			break;
		}
		strlcpy(copy, s, sizeof(copy));
		err = cache_rule_parse(s, &c->cache_rules[c->ncache_rules]);
		if (err != NULL)
			lerr(r, "invalid cache rule \"%s\": %s", copy, err);
		else
			c->cache_rules[c->ncache_rules++].line = r->lineno;
	}
	warn_shadowed_rules(c, r->path);
}

/*
 * Directives of the main file. argv[0] is the name, argv[1..argc] the
 * arguments; the argument count is checked against the table first.
 */

#define FIELD(ld, d, type)	((type *)((char *)(ld)->c + (d)->off))

static void
d_seed(struct loader *ld, const struct directive *d, int argc, char **argv)
{
	struct conf	*c = ld->c;
	struct lreader	 r;

	if (seed_open(ld, d->name, argv[1], FIELD(ld, d, char), &r) == -1)
		return;
	if (strcmp(d->name, "backends") == 0) {
		free(c->backends);
		c->backends = NULL;
		c->nbackends = 0;
		read_backends(ld, &r);
	} else if (strcmp(d->name, "blacklist") == 0) {
		if (fstat(fileno(r.fp), &c->blacklist_st) == -1)
			memset(&c->blacklist_st, 0, sizeof(c->blacklist_st));
		cidr_set_free(c->blacklist);
		c->blacklist = read_blacklist(&r);
	} else {
		free(c->cache_rules);
		c->cache_rules = NULL;
		c->ncache_rules = 0;
		read_cache_rules(ld, &r);
	}
	seed_close(&r);
}

/* A path; "off" too for access_log. */
static void
d_path(struct loader *ld, const struct directive *d, int argc, char **argv)
{
	char	*dst = FIELD(ld, d, char);

	if ((strcmp(d->name, "access_log") == 0 &&
	    strcmp(argv[1], "off") == 0) ||
	    (strcmp(d->name, "error_log") == 0 &&
	    strcmp(argv[1], "stderr") == 0))
		dst[0] = '\0';		/* the default: none, stderr */
	else if (strcmp(d->name, "access_log") == 0 &&
	    strcmp(argv[1], "stderr") == 0)
		strlcpy(dst, "stderr", PATH_MAX);	/* not a file */
	else if (resolve(ld, argv[1], dst, PATH_MAX) == -1)
		bad_value(ld, d->name, argv[1], "path too long");
	if (strcmp(d->name, "pidfile") == 0)
		ld->c->pidfile_line = ld->r->lineno;
	else if (strcmp(d->name, "error_log") == 0)
		ld->c->error_log_line = ld->r->lineno;
	else if (strcmp(d->name, "access_log") == 0)
		ld->c->access_log_line = ld->r->lineno;
}

/* A duration in [lo, INT_MAX] ms, into an int field. */
static void
d_ms(struct loader *ld, const struct directive *d, int argc, char **argv)
{
	long	 ms;

	if (conf_parse_duration(argv[1], &ms) == -1)
		bad_value(ld, d->name, argv[1], NULL);
	else if (ms < d->lo)
		bad_value(ld, d->name, argv[1], "must be positive");
	else if (ms > INT_MAX)
		bad_value(ld, d->name, argv[1], "too large (at most 596h)");
	else
		*FIELD(ld, d, int) = (int)ms;
}

/* An integer in [lo, hi], into an int field. */
static void
d_int(struct loader *ld, const struct directive *d, int argc, char **argv)
{
	char	 range[64];
	long	 v;
	int	 r;

	if ((r = parse_long(argv[1], d->lo, d->hi, &v)) == 0) {
		*FIELD(ld, d, int) = (int)v;
		return;
	}
	snprintf(range, sizeof(range), "out of range (%ld to %ld)", d->lo,
	    d->hi);
	bad_value(ld, d->name, argv[1], r == -2 ? range : NULL);
}

static void
d_listen(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	struct conf		*c = ld->c;
	struct conf_listen	 l;
	const char		*err;
	int			 i;

	if (!ld->listen_seen) {
		ld->listen_seen = 1;
		c->nlisten = 0;
	}
	if (conf_parse_listen(argv[1], &l, &err) == -1) {
		bad_value(ld, d->name, argv[1], err);
		return;
	}
	l.ssl = 0;
	if (argc == 2) {
		if (strcmp(argv[2], "ssl") != 0) {
			bad_value(ld, d->name, argv[2], "expected \"ssl\"");
			return;
		}
		l.ssl = 1;
		if (c->ssl_listen_line == 0)
			c->ssl_listen_line = ld->r->lineno;
	}
	for (i = 0; i < c->nlisten; i++)
		if (strcmp(c->listens[i].text, l.text) == 0) {
			bad_value(ld, d->name, argv[1], "duplicate");
			return;
		}
	l.line = ld->r->lineno;
	if (c->nlisten >= MTD_MAX_LISTEN)
		bad_value(ld, d->name, argv[1], "too many listen addresses");
	else
		c->listens[c->nlisten++] = l;
}

/* ssl_certificate, ssl_certificate_key: a path and its line. */
static void
d_ssl_file(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	struct conf	*c = ld->c;
	int		 key = strcmp(d->name, "ssl_certificate_key") == 0;

	if (resolve(ld, argv[1], key ? c->ssl_key : c->ssl_cert,
	    PATH_MAX) == -1) {
		bad_value(ld, d->name, argv[1], "path too long");
		return;
	}
	if (key)
		c->ssl_key_line = ld->r->lineno;
	else
		c->ssl_cert_line = ld->r->lineno;
}

/* ssl_sni NAME CERT KEY */
static void
d_ssl_sni(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	struct conf	*c = ld->c;
	struct conf_sni	*v, *s;
	char		*name = argv[1];
	size_t		 n = strlen(name);
	int		 i;

	/* "example.com." is the same name: the client's dot is dropped. */
	if (n > 1 && name[n - 1] == '.')
		name[--n] = '\0';
	if (n >= sizeof(s->name) || n == 0 || name[n - 1] == '.' ||
	    (strchr(name, '*') != NULL &&
	    (strncmp(name, "*.", 2) != 0 || strchr(name + 1, '*')))) {
		bad_value(ld, d->name, argv[1], NULL);
		return;
	}
	for (i = 0; i < c->nssl_sni; i++)
		if (strcasecmp(c->ssl_sni[i].name, name) == 0) {
			lerr(ld->r, "%s: %s is already named at line %d: its "
			    "certificate would never be used", d->name, name,
			    c->ssl_sni[i].line);
			return;
		}
	v = reallocarray(c->ssl_sni, (size_t)c->nssl_sni + 1, sizeof(*v));
	if (v == NULL) {
		lerr(ld->r, "%s: %s", d->name, strerror(errno));
		return;
	}
	c->ssl_sni = v;
	s = &v[c->nssl_sni];
	memset(s, 0, sizeof(*s));
	strlcpy(s->name, argv[1], sizeof(s->name));
	s->line = ld->r->lineno;
	if (resolve(ld, argv[2], s->cert, sizeof(s->cert)) == -1 ||
	    resolve(ld, argv[3], s->key, sizeof(s->key)) == -1) {
		bad_value(ld, d->name, argv[2], "path too long");
		return;
	}
	c->nssl_sni++;
}

static int
online_cpus(void)
{
	long	 n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (int)MTD_MIN(n, MTD_MAX_WORKERS);
}

static void
d_workers(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	if (strcmp(argv[1], "auto") == 0)
		ld->c->workers = online_cpus();
	else
		d_int(ld, d, argc, argv);
}

/*
 * Resolved here, not in the worker: an unknown user must fail -t and
 * make a reload keep the running workers, not crash-loop new ones.
 */
static void
d_user(struct loader *ld, const struct directive *d, int argc, char **argv)
{
	struct passwd	*pw;

	if (strlcpy(ld->c->user, argv[1], sizeof(ld->c->user)) >=
	    sizeof(ld->c->user)) {
		bad_value(ld, d->name, argv[1], "too long");
		return;
	}
	errno = 0;
	if ((pw = getpwnam(argv[1])) == NULL) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH)
			lerr(ld->r, "user \"%s\": %s", argv[1],
			    strerror(errno));
		else
			lerr(ld->r, "unknown user \"%s\"", argv[1]);
		return;
	}
	ld->c->user_uid = pw->pw_uid;
	ld->c->user_gid = pw->pw_gid;
	/* As nginx: only root can switch users; say so rather than not. */
	if (geteuid() != 0)
		log_warnx("%s:%d: \"user\" is ignored: maitred is not "
		    "running as root", ld->r->path, ld->r->lineno);
}

/* An existing directory, by its real path (htdocs, temp_dir). */
static void
d_dir(struct loader *ld, const struct directive *d, int argc, char **argv)
{
	char		 path[PATH_MAX];
	struct stat	 st;

	if (resolve(ld, argv[1], path, sizeof(path)) == -1)
		bad_value(ld, d->name, argv[1], "path too long");
	else if (stat(path, &st) == -1)
		lerr(ld->r, "%s \"%s\": %s", d->name, path, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		lerr(ld->r, "%s \"%s\": %s", d->name, path,
		    strerror(ENOTDIR));
	else if (realpath(path, FIELD(ld, d, char)) == NULL)
		lerr(ld->r, "%s \"%s\": %s", d->name, path, strerror(errno));
}

/*
 * temp_dir: a directory where a file can be made, as the workers make
 * theirs, so that /proc or a read-only mount is refused here
 * rather than found out when a slow client first needs a buffer. The
 * master may be root where the workers are not: this catches the
 * directories nobody can write to, not the permissions of one user.
 */
static void
d_temp_dir(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	const char	*dir = FIELD(ld, d, char);
	int		 errors = ld->errors, fd;

	d_dir(ld, d, argc, argv);
	if (ld->errors != errors)
		return;
	if ((fd = tmpfile_in(dir, "probe")) == -1)
		lerr(ld->r, "%s \"%s\": cannot make a file there: %s",
		    d->name, dir, strerror(errno));
	else
		close(fd);
}

static void
d_strategy(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	if (conf_parse_strategy(argv[1], &ld->c->strategy) == -1)
		bad_value(ld, d->name, argv[1], NULL);
}

/* "/path", at most <size> - 1 bytes, into <dst>. */
static void
set_url_path(struct loader *ld, const char *name, const char *v, char *dst,
    size_t size)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)v; *p > ' ' && *p != 0x7f &&
	    *p != '#'; p++)
		;
	if (v[0] != '/')
		bad_value(ld, name, v, "must start with '/'");
	else if (*p != '\0')
		bad_value(ld, name, v, *p == '#' ? "a fragment ('#') is "
		    "never sent" : "a space or control byte is no URL path");
	else if (strlcpy(dst, v, size) >= size)
		bad_value(ld, name, v, "too long");
}

static void
d_health_check(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	struct conf	*c = ld->c;

	if (strcmp(argv[1], "tcp") == 0 && argc == 1)
		c->health_kind = HEALTH_TCP;
	else if (strcmp(argv[1], "http") == 0 && argc == 2) {
		c->health_kind = HEALTH_HTTP;
		set_url_path(ld, d->name, argv[2], c->health_path,
		    sizeof(c->health_path));
	} else if (strcmp(argv[1], "tcp") == 0 || strcmp(argv[1], "http") == 0)
		bad_argc(ld, d->name);
	else
		bad_value(ld, d->name, argv[1], "expected tcp or http /PATH");
}

/* "N/DURATION" into the count and window. */
static void
set_rate(struct loader *ld, const char *name, const char *v)
{
	struct conf	*c = ld->c;
	const char	*slash = strchr(v, '/');
	char		 num[24];
	long		 n, ms;

	if (slash == NULL || (size_t)(slash - v) >= sizeof(num)) {
		bad_value(ld, name, v, "expected COUNT/DURATION");
		return;
	}
	memcpy(num, v, (size_t)(slash - v));
	num[slash - v] = '\0';
	if (parse_long(num, 1, RL_COUNT_MAX, &n) != 0)
		bad_value(ld, name, v, "invalid count (1 to 1000000000)");
	else if (conf_parse_duration(slash + 1, &ms) == -1 || ms == 0)
		bad_value(ld, name, v, "invalid duration");
	else if (ms > INT_MAX)
		bad_value(ld, name, v, "duration too large (at most 596h)");
	else {
		c->rate_limit_on = 1;
		c->rate_limit_count = n;
		c->rate_limit_window_ms = ms;
	}
}

static void
d_rate_limit(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	struct conf	*c = ld->c;
	long		 burst = 0;

	if (strcmp(argv[1], "off") == 0) {
		if (argc != 1)
			bad_argc(ld, d->name);
		else
			c->rate_limit_on = 0;
		return;
	}
	if (argc == 2 && (strncmp(argv[2], "burst=", 6) != 0 ||
	    parse_long(argv[2] + 6, 0, RL_COUNT_MAX, &burst) != 0)) {
		bad_value(ld, d->name, argv[2],
		    "expected burst=N, N from 0 to 1000000000");
		return;
	}
	c->rate_limit_burst = burst;
	set_rate(ld, d->name, argv[1]);
}

static void
d_rate_limit_mode(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	if (strcmp(argv[1], "enforce") == 0)
		ld->c->rate_limit_mode = RL_MODE_ENFORCE;
	else if (strcmp(argv[1], "log") == 0)
		ld->c->rate_limit_mode = RL_MODE_LOG;
	else
		bad_value(ld, d->name, argv[1], "expected enforce or log");
}

/* One or more CIDR blocks appended to <vec>. */
static void
add_cidrs(struct loader *ld, const char *name, int argc, char **argv,
    struct cidr_vec *vec)
{
	const char	*err;
	int		 i;

	for (i = 1; i <= argc; i++) {
		if (grow(&vec->v, &vec->cap, vec->n, sizeof(*vec->v)) == -1) {
			lerr(ld->r, "%s: %s", name, strerror(errno));
			return;
		}
		if (cidr_parse(argv[i], &vec->v[vec->n], &err) == -1)
			bad_value(ld, name, argv[i], err);
		else
			vec->n++;
	}
}

static void
d_exempt(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	add_cidrs(ld, d->name, argc, argv, &ld->exempt);
}

static void
d_status_allow(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	ld->allow_seen = 1;
	add_cidrs(ld, d->name, argc, argv, &ld->allow);
}

/* "client_max_body_size SIZE": 0 lifts the limit. */
static void
d_body_size(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	size_t	 n;

	(void)argc;
	if (conf_parse_size(argv[1], &n) == -1)
		bad_value(ld, d->name, argv[1], "expected a size such as 10m, "
		    "or 0 for no limit");
	else
		ld->c->client_max_body = n;
}

/* <v> bytes as the config would write it: "16k", "1g", "300". */
static const char *
size_text(long v, char *buf, size_t len)
{
	if (v > 0 && v % (1L << 30) == 0)
		snprintf(buf, len, "%ldg", v >> 30);
	else if (v > 0 && v % (1L << 20) == 0)
		snprintf(buf, len, "%ldm", v >> 20);
	else if (v > 0 && v % 1024 == 0)
		snprintf(buf, len, "%ldk", v >> 10);
	else
		snprintf(buf, len, "%ld", v);
	return buf;
}

/* A size into a size_t field, from lo to hi bytes (hi 0: no limit). */
static void
d_size(struct loader *ld, const struct directive *d, int argc, char **argv)
{
	size_t	 v;
	char	 lo[32], hi[32], why[80];

	if (conf_parse_size(argv[1], &v) == -1)
		bad_value(ld, d->name, argv[1], NULL);
	else if (v < (size_t)d->lo || (d->hi > 0 && v > (size_t)d->hi)) {
		snprintf(why, sizeof(why), "from %s to %s",
		    size_text(d->lo, lo, sizeof(lo)),
		    size_text(d->hi, hi, sizeof(hi)));
		bad_value(ld, d->name, argv[1], why);
	} else
		*FIELD(ld, d, size_t) = v;
}

/*
 * cache_size: a size, no larger than this machine's memory. The cache is
 * shared memory that fills as objects come; a typo such as 99g would
 * otherwise take tens of seconds to set up and end with the OOM killer.
 */
static void
d_cache_size(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	long	 pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	size_t	 mem;
	char	 text[32], why[80];

	d_size(ld, d, argc, argv);
	ld->c->cache_size_line = ld->r->lineno;
	/* Below a chunk the cache is silently off; below 64k, useless. */
	if (ld->c->cache_size > 0 && ld->c->cache_size < 64 * 1024) {
		bad_value(ld, d->name, argv[1], "at least 64k, or 0 for no "
		    "cache");
		return;
	}
	if (pages <= 0 || psize <= 0)
		return;
	mem = (size_t)pages * (size_t)psize;
	if (ld->c->cache_size <= mem)
		return;
	snprintf(why, sizeof(why), "more than this machine's memory (%s)",
	    size_text((long)(mem >> 20) << 20, text, sizeof(text)));
	bad_value(ld, d->name, argv[1], why);
}

const char *
conf_at(const struct conf *c, int line)
{
	static char	 buf[PATH_MAX + 32];

	if (line <= 0)
		return "";
	snprintf(buf, sizeof(buf), "%s:%d: ", c->path, line);
	return buf;
}

int
conf_program_runnable(const char *path)
{
	struct stat	 st;

	if (access(path, X_OK) == -1 || stat(path, &st) == -1)
		return -1;
	/* root may "execute" a directory, as far as access() says */
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EACCES;
		return -1;
	}
	return 0;
}

/* "HOST:PORT", "[v6]:PORT" or "unix:PATH" (resolved) for PHP-FPM. */
static void
set_fastcgi(struct loader *ld, const char *name, const char *v)
{
	struct conf		*c = ld->c;
	struct conf_backend	 b;
	char			 path[PATH_MAX];
	const char		*port, *err;

	if (strncmp(v, "unix:", 5) == 0) {
		if (v[5] == '\0')
			bad_value(ld, name, v, "empty socket path");
		else if (resolve(ld, v + 5, path, sizeof(path)) == -1 ||
		    (size_t)snprintf(c->php_fastcgi, sizeof(c->php_fastcgi),
		    "unix:%s", path) >= sizeof(c->php_fastcgi))
			bad_value(ld, name, v, "path too long");
		else if (strlen(path) >=
		    sizeof(((struct sockaddr_un *)0)->sun_path))
			bad_value(ld, name, v, "socket path too long (at most "
			    "107 bytes)");
		return;
	}
	memset(&b, 0, sizeof(b));
	if (v[0] != '[' && strchr(v, ':') != strrchr(v, ':'))
		bad_value(ld, name, v, "IPv6 address must be in brackets");
	else if (split_hostport(v, b.host, sizeof(b.host), &port, &err) == -1 ||
	    parse_port(port, &b.port, &err) == -1 ||
	    (err = backend_resolve(&b, v[0] == '[')) != NULL)
		bad_value(ld, name, v, err);
	else
		strlcpy(c->php_fastcgi, v, sizeof(c->php_fastcgi));
}

static void
d_php(struct loader *ld, const struct directive *d, int argc, char **argv)
{
	struct conf	*c = ld->c;
	int		 want = strcmp(argv[1], "off") == 0 ? 1 : 2;

	if (strcmp(argv[1], "off") != 0 && strcmp(argv[1], "cgi") != 0 &&
	    strcmp(argv[1], "fastcgi") != 0) {
		bad_value(ld, d->name, argv[1], "expected off, cgi or fastcgi");
		return;
	}
	if (argc != want) {
		bad_argc(ld, d->name);
		return;
	}
	if (strcmp(argv[1], "off") == 0)
		c->php_mode = PHP_OFF;
	else if (strcmp(argv[1], "cgi") == 0) {
		c->php_mode = PHP_CGI;
		if (resolve(ld, argv[2], c->php_cgi, sizeof(c->php_cgi)) == -1)
			bad_value(ld, d->name, argv[2], "path too long");
		/* Not fatal: a proxy needs no PHP, and .php files get 500. */
		else if (conf_program_runnable(c->php_cgi) == -1)
			log_warnx("%s:%d: php: cannot run \"%s\": %s; .php "
			    "files will get 500", ld->r->path, ld->r->lineno,
			    c->php_cgi, strerror(errno));
	} else {
		c->php_mode = PHP_FASTCGI;
		set_fastcgi(ld, d->name, argv[2]);
	}
}

static void
d_log_level(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	int	 level;

	if ((level = log_level_parse(argv[1])) == -1)
		bad_value(ld, d->name, argv[1], NULL);
	else
		ld->c->log_level = level;
}

/* A number, whose line the warning for "php cgi" names. */
static void
d_php_keepalive(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	d_int(ld, d, argc, argv);
	ld->c->php_keepalive_line = ld->r->lineno;
}

static void
d_status_path(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	const char	*v = argv[1], *last = strrchr(v, '/');

	/* Requests are matched on their path, without the query. */
	if (strchr(v, '?') != NULL)
		bad_value(ld, d->name, v, "a query ('?') never matches");
	/* The metrics page is the sibling named metrics. */
	else if (last != NULL && strcmp(last, "/metrics") == 0)
		bad_value(ld, d->name, v, "its last segment may not be "
		    "\"metrics\": the metrics page is that sibling");
	else
		set_url_path(ld, d->name, v, ld->c->status_path,
		    sizeof(ld->c->status_path));
}

/* "hash_secret WORD": keys ip-hash and the sticky cookie's tokens. */
static void
d_hash_secret(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	if (strlcpy(ld->c->hash_secret, argv[1], sizeof(ld->c->hash_secret)) >=
	    sizeof(ld->c->hash_secret))
		bad_value(ld, d->name, argv[1], "at most 127 bytes");
}

/*
 * "charset NAME" or "charset off": the charset parameter of static text
 * files' Content-Type. A token (RFC 9110 8.3.2), so it cannot break the
 * field it goes into.
 */
static void
d_charset(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	const char	*p;

	ld->c->charset[0] = '\0';
	if (strcmp(argv[1], "off") == 0)
		return;
	for (p = argv[1]; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("!#$%&'*+-.^_`|~",
		    *p) == NULL) {
			bad_value(ld, d->name, argv[1], "expected a charset "
			    "name such as utf-8, or off");
			return;
		}
	if (strlcpy(ld->c->charset, argv[1], sizeof(ld->c->charset)) >=
	    sizeof(ld->c->charset)) {
		ld->c->charset[0] = '\0';
		bad_value(ld, d->name, argv[1], "at most 31 bytes");
	}
}

/* "sticky cookie NAME" or "sticky off". */
static void
d_sticky(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	const char	*name = argv[argc];	/* argc: arguments after it */
	size_t		 i, n = strlen(name);

	if (argc == 1 && strcmp(argv[1], "off") == 0) {
		ld->c->sticky_cookie[0] = '\0';
		return;
	}
	if (argc != 2 || strcmp(argv[1], "cookie") != 0) {
		bad_value(ld, d->name, argv[1], "expected \"cookie NAME\" or "
		    "\"off\"");
		return;
	}
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' &&
		    name[i] != '-')
			break;
	if (n == 0 || i < n || n >= sizeof(ld->c->sticky_cookie)) {
		bad_value(ld, d->name, name, "a cookie name is letters, "
		    "digits, '-' and '_', at most 63");
		return;
	}
	strlcpy(ld->c->sticky_cookie, name, sizeof(ld->c->sticky_cookie));
}

/* "NAME on|off" into the int at d->off. */
static void
d_flag(struct loader *ld, const struct directive *d, int argc, char **argv)
{
	int	*v = (int *)((char *)ld->c + d->off);

	(void)argc;
	if (strcmp(argv[1], "on") == 0)
		*v = 1;
	else if (strcmp(argv[1], "off") == 0)
		*v = 0;
	else
		bad_value(ld, d->name, argv[1], "expected \"on\" or \"off\"");
}

/* A media type "type/subtype", or "type/" and a star; no parameters. */
static int
gzip_type_ok(const char *t)
{
	const char	*slash = strchr(t, '/');
	size_t		 i;

	if (slash == NULL || slash == t || slash[1] == '\0' ||
	    strlen(t) >= sizeof(((struct conf *)0)->gzip_types[0]))
		return 0;
	if (strcmp(slash, "/*") == 0)
		return 1;
	for (i = 0; t[i] != '\0'; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '/' &&
		    strchr("!#$&-^_.+", t[i]) == NULL)
			return 0;
	return strchr(slash + 1, '/') == NULL;
}

/* "gzip_types TYPE...": replaces the list. */
static void
d_gzip_types(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	struct conf	*c = ld->c;
	int		 i, j;

	c->ngzip_types = 0;
	for (i = 1; i <= argc; i++) {
		if (!gzip_type_ok(argv[i])) {
			bad_value(ld, d->name, argv[i], "expected a media type "
			    "such as text/html or text/*");
			continue;
		}
		if (c->ngzip_types == CONF_MAX_GZIP_TYPES) {
			bad_value(ld, d->name, argv[i], "too many types");
			return;
		}
		for (j = 0; argv[i][j] != '\0'; j++)
			argv[i][j] = (char)tolower((unsigned char)argv[i][j]);
		strlcpy(c->gzip_types[c->ngzip_types++], argv[i],
		    sizeof(c->gzip_types[0]));
	}
}

/* "backend_rcvbuf SIZE": a socket buffer size, 0 = the kernel's. */
static void
d_sockbuf(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	size_t	 n;

	if (conf_parse_size(argv[1], &n) == -1 || n > (64u << 20))
		bad_value(ld, d->name, argv[1], "expected a size up to 64m");
	else
		*(int *)((char *)ld->c + d->off) = (int)n;
}

/* "worker_sched batch|normal": the workers' Linux scheduling policy. */
static void
d_worker_sched(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	(void)argc;
	if (strcmp(argv[1], "batch") == 0)
		ld->c->worker_sched_batch = 1;
	else if (strcmp(argv[1], "normal") == 0)
		ld->c->worker_sched_batch = 0;
	else
		bad_value(ld, d->name, argv[1],
		    "expected \"batch\" or \"normal\"");
}

/* "backend_tls on|off", remembering the line for later errors. */
static void
d_backend_tls(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	ld->c->backend_tls_line = ld->r->lineno;
	d_flag(ld, d, argc, argv);
}

/* "backend_tls_ca PATH": a PEM bundle that must be readable now. */
static void
d_backend_tls_ca(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	struct conf	*c = ld->c;
	const char	*why;
	FILE		*fp;

	if (resolve(ld, argv[1], c->backend_tls_ca,
	    sizeof(c->backend_tls_ca)) == -1) {
		bad_value(ld, d->name, argv[1], "path too long");
		return;
	}
	c->backend_tls_ca_line = ld->r->lineno;
	if ((fp = conf_fopen(c->backend_tls_ca, &why)) == NULL) {
		lerr(ld->r, "%s \"%s\": %s", d->name, c->backend_tls_ca,
		    why != NULL ? why : strerror(errno));
		return;
	}
	fclose(fp);
}

/* 1: an IP address, 0: a host name (letters, digits, '-', '.'), -1. */
static int
host_or_ip(const char *v)
{
	static const char	 dns[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.";
	struct in6_addr		 a6;
	struct in_addr		 a4;

	if (strchr(v, ':') != NULL)
		return inet_pton(AF_INET6, v, &a6) == 1 ? 1 : -1;
	/* All digits and dots: an IPv4 address or nothing (as backends). */
	if (v[strspn(v, "0123456789.")] == '\0')
		return inet_pton(AF_INET, v, &a4) == 1 ? 1 : -1;
	if (v[strspn(v, dns)] != '\0' || v[0] == '.' || v[0] == '-')
		return -1;
	return 0;
}

/*
 * "backend_tls_name NAME": checked in every backend's certificate
 * instead of its host as written in backends.cfg, and sent as SNI.
 */
static void
d_backend_tls_name(struct loader *ld, const struct directive *d, int argc,
    char **argv)
{
	struct conf	*c = ld->c;

	if (strlen(argv[1]) >= sizeof(c->backend_tls_name) ||
	    host_or_ip(argv[1]) == -1) {
		bad_value(ld, d->name, argv[1], "expected a host name or an "
		    "IP address");
		return;
	}
	strlcpy(c->backend_tls_name, argv[1], sizeof(c->backend_tls_name));
}

#define OFF(f)	offsetof(struct conf, f)

static const struct directive directives[] = {
	{ "access_log", d_path, 1, 1, OFF(access_log), 0, 0 },
	{ "backend_keepalive_timeout", d_ms, 1, 1,
	    OFF(backend_keepalive_ms), 0, 0 },
	{ "backend_max_conns", d_int, 1, 1, OFF(backend_max_conns), 0, 65535 },
	{ "backend_rcvbuf", d_sockbuf, 1, 1, OFF(backend_rcvbuf), 0, 0 },
	{ "backend_tls", d_backend_tls, 1, 1, OFF(backend_tls), 0, 0 },
	{ "backend_tls_ca", d_backend_tls_ca, 1, 1, 0, 0, 0 },
	{ "backend_tls_name", d_backend_tls_name, 1, 1, 0, 0, 0 },
	{ "backend_tls_verify", d_flag, 1, 1, OFF(backend_tls_verify), 0, 0 },
	{ "backends", d_seed, 1, 1, OFF(backends_path), 0, 0 },
	{ "blacklist", d_seed, 1, 1, OFF(blacklist_path), 0, 0 },
	{ "cache_rules", d_seed, 1, 1, OFF(cache_rules_path), 0, 0 },
	{ "cache_size", d_cache_size, 1, 1, OFF(cache_size), 0, 0 },
	{ "cache_stale_if_error", d_ms, 1, 1, OFF(cache_stale_ms), 0, 0 },
	{ "cache_stale_while_updating", d_flag, 1, 1,
	    OFF(cache_stale_updating), 0, 0 },
	{ "charset", d_charset, 1, 1, 0, 0, 0 },
	{ "client_max_body_size", d_body_size, 1, 1, 0, 0, 0 },
	{ "client_timeout", d_ms, 1, 1, OFF(client_timeout_ms), 1, 0 },
	{ "connect_timeout", d_ms, 1, 1, OFF(connect_timeout_ms), 1, 0 },
	{ "error_log", d_path, 1, 1, OFF(error_log), 0, 0 },
	{ "gzip", d_flag, 1, 1, OFF(gzip_on), 0, 0 },
	{ "gzip_level", d_int, 1, 1, OFF(gzip_level), 1, 9 },
	{ "gzip_min_length", d_size, 1, 1, OFF(gzip_min_length), 0, 0 },
	{ "gzip_types", d_gzip_types, 1, -1, 0, 0, 0 },
	{ "hash_secret", d_hash_secret, 1, 1, 0, 0, 0 },
	{ "health_check", d_health_check, 1, 2, 0, 0, 0 },
	{ "health_interval", d_ms, 1, 1, OFF(health_interval_ms), 1, 0 },
	{ "htdocs", d_dir, 1, 1, OFF(htdocs), 0, 0 },
	{ "keepalive_timeout", d_ms, 1, 1, OFF(keepalive_timeout_ms), 0, 0 },
	{ "listen", d_listen, 1, 2, 0, 0, 0 },
	{ "log_level", d_log_level, 1, 1, 0, 0, 0 },
	{ "php", d_php, 1, 2, 0, 0, 0 },
	{ "php_buffer_max", d_size, 1, 1, OFF(php_buffer_max), 0, 0 },
	{ "php_keepalive", d_php_keepalive, 1, 1, OFF(php_keepalive), 0, 1024 },
	{ "php_timeout", d_ms, 1, 1, OFF(php_timeout_ms), 1, 0 },
	{ "pidfile", d_path, 1, 1, OFF(pidfile), 0, 0 },
	{ "proxy_buffer_max", d_size, 1, 1, OFF(proxy_buffer_max), 0, 0 },
	{ "proxy_splice", d_flag, 1, 1, OFF(proxy_splice), 0, 0 },
	{ "rate_limit", d_rate_limit, 1, 2, 0, 0, 0 },
	{ "rate_limit_exempt", d_exempt, 1, -1, 0, 0, 0 },
	{ "rate_limit_ipv6_prefix", d_int, 1, 1,
	    OFF(rate_limit_ipv6_prefix), 1, 128 },
	{ "rate_limit_mode", d_rate_limit_mode, 1, 1, 0, 0, 0 },
	/* 16k: 512 clients, 32 bytes each; 1g: 33 million. */
	{ "rate_limit_size", d_size, 1, 1, OFF(rate_limit_size), 16 * 1024,
	    1L << 30 },
	{ "read_timeout", d_ms, 1, 1, OFF(read_timeout_ms), 1, 0 },
	{ "ssl_certificate", d_ssl_file, 1, 1, 0, 0, 0 },
	{ "ssl_certificate_key", d_ssl_file, 1, 1, 0, 0, 0 },
	{ "ssl_sni", d_ssl_sni, 3, 3, 0, 0, 0 },
	{ "status_allow", d_status_allow, 1, -1, 0, 0, 0 },
	{ "status_path", d_status_path, 1, 1, 0, 0, 0 },
	{ "sticky", d_sticky, 1, 2, 0, 0, 0 },
	{ "strategy", d_strategy, 1, 1, 0, 0, 0 },
	{ "temp_dir", d_temp_dir, 1, 1, OFF(temp_dir), 0, 0 },
	{ "user", d_user, 1, 1, 0, 0, 0 },
	{ "worker_connections", d_int, 1, 1, OFF(worker_connections), 1,
	    CONF_MAX_WCONN },
	{ "worker_sched", d_worker_sched, 1, 1, 0, 0, 0 },
	{ "worker_shutdown_timeout", d_ms, 1, 1,
	    OFF(worker_shutdown_timeout_ms), 0, 0 },
	{ "workers", d_workers, 1, 1, OFF(workers), 1, MTD_MAX_WORKERS },
};
_Static_assert(MTD_ARRLEN(directives) <= CONF_MAX_DIRECTIVES,
    "loader.seen_line is too small");

/* Split <s> on blanks into <argv>; a token starting with '#' ends it. */
static int
tokenize(char *s, char **argv, int max)
{
	char	*tok;
	int	 n = 0;

	while ((tok = strsep(&s, " \t")) != NULL) {
		if (tok[0] == '\0')
			continue;
		if (tok[0] == '#')
			break;
		if (n == max)
			return -1;
		argv[n++] = tok;
	}
	return n;
}

/*
 * Most directives set one value, and a second line would silently undo
 * the first: refuse it, as nginx does. A few add to a list.
 */
static int
directive_once(struct loader *ld, size_t i)
{
	static const char *const	 lists[] = {
		"listen", "rate_limit_exempt", "ssl_sni", "status_allow",
	};
	size_t				 j;

	for (j = 0; j < MTD_ARRLEN(lists); j++)
		if (strcmp(directives[i].name, lists[j]) == 0)
			return 0;
	if (ld->seen_line[i] != 0) {
		lerr(ld->r, "\"%s\" is given twice (first at line %d); "
		    "remove one", directives[i].name, ld->seen_line[i]);
		return -1;
	}
	ld->seen_line[i] = ld->r->lineno;
	return 0;
}

static void
conf_line(struct loader *ld, char *line)
{
	const struct directive	*d;
	char			*argv[CONF_MAX_ARGS];
	size_t			 i;
	int			 n;

	if ((n = tokenize(line, argv, CONF_MAX_ARGS)) == 0)
		return;
	for (i = 0; i < MTD_ARRLEN(directives); i++)
		if (strcmp(argv[0], directives[i].name) == 0)
			break;
	if (i == MTD_ARRLEN(directives)) {
		lerr(ld->r, "unknown directive \"%s\"", argv[0]);
		return;
	}
	if (directive_once(ld, i) == -1)
		return;
	d = &directives[i];
	if (n == -1)
		lerr(ld->r, "%s: more than %d values on one line%s", d->name,
		    CONF_MAX_ARGS - 1, ld->seen_line[i] == 0 ?
		    "; split them over several lines" : "");
	else if (n - 1 < d->min || (d->max != -1 && n - 1 > d->max))
		bad_argc(ld, d->name);
	else
		d->fn(ld, d, n - 1, argv);
}

/*
 * Defaults and the whole load.
 */

/* The status_allow default: loopback only. NULL when out of memory. */
static struct cidr_set *
default_status_allow(void)
{
	struct cidr	 b[2];
	const char	*err;

	if (cidr_parse("127.0.0.1", &b[0], &err) == -1 ||
	    cidr_parse("::1", &b[1], &err) == -1)
		return NULL;
	return cidr_set_build(b, 2);
}

static void
gzip_defaults(struct conf *c)
{
	static const char *const	 types[] = {
		"text/*", "application/json", "application/javascript",
		"image/svg+xml",
	};
	size_t				 i;

	c->gzip_on = 0;
	c->gzip_level = 5;
	c->proxy_splice = 1;
	c->backend_rcvbuf = 256 * 1024;
	c->backend_keepalive_ms = 60000;
	c->gzip_min_length = 256;
	for (i = 0; i < MTD_ARRLEN(types); i++)
		strlcpy(c->gzip_types[i], types[i], sizeof(c->gzip_types[0]));
	c->ngzip_types = (int)MTD_ARRLEN(types);
}

/*
 * Fill <c> with the built-in defaults. Whatever <c> held is overwritten,
 * not freed. Called by the master (conf_load() starts with it).
 */
void
conf_defaults(struct conf *c)
{
	const char	*err;

	memset(c, 0, sizeof(*c));
	(void)conf_parse_listen("8085", &c->listens[0], &err);
	c->nlisten = 1;
	c->workers = online_cpus();
	c->worker_sched_batch = 1;
	c->strategy = LB_ROUND_ROBIN;
	c->health_interval_ms = 10000;
	c->health_kind = HEALTH_TCP;
	c->connect_timeout_ms = 5000;
	c->read_timeout_ms = 60000;
	c->client_timeout_ms = 30000;
	c->keepalive_timeout_ms = 75000;
	c->worker_connections = 10000;
	c->rate_limit_on = 1;
	c->rate_limit_count = 100;
	c->rate_limit_window_ms = 60000;
	c->rate_limit_burst = 0;
	c->rate_limit_mode = RL_MODE_ENFORCE;
	c->rate_limit_ipv6_prefix = 64;
	c->rate_limit_size = 2 * 1024 * 1024;	/* 65,536 clients */
	c->cache_size = 64 * 1024 * 1024;
	c->cache_stale_ms = 60000;
	c->cache_stale_updating = 1;
	c->php_mode = PHP_CGI;
	strlcpy(c->php_cgi, "/usr/bin/php-cgi", sizeof(c->php_cgi));
	c->php_timeout_ms = 30000;
	c->php_buffer_max = (size_t)1 << 30;	/* as fastcgi_max_temp_file_size */
	c->proxy_buffer_max = (size_t)1 << 30;	/* as proxy_max_temp_file_size */
	strlcpy(c->temp_dir, "/tmp", sizeof(c->temp_dir));
	c->log_level = LOG_LVL_INFO;
	c->backend_tls_verify = 1;
	gzip_defaults(c);
	strlcpy(c->status_path, "/maitred/status", sizeof(c->status_path));
	c->status_allow = default_status_allow();
}

/* Build the CIDR sets collected from the main file. */
static void
build_sets(struct loader *ld)
{
	struct conf	*c = ld->c;

	if (ld->exempt.n > 0)
		c->rate_limit_exempt = cidr_set_build(ld->exempt.v,
		    ld->exempt.n);
	if (ld->allow_seen) {
		cidr_set_free(c->status_allow);
		c->status_allow = cidr_set_build(ld->allow.v, ld->allow.n);
	}
	if (c->status_allow == NULL ||
	    (ld->exempt.n > 0 && c->rate_limit_exempt == NULL)) {
		log_warnx("%s: %s", c->path, strerror(ENOMEM));
		ld->errors++;
	}
}

/* <path>, absolute with links kept, in c->path; its directory in ld->dir. */
static int
main_path(struct loader *ld, const char *path)
{
	char	 cwd[PATH_MAX];
	char	*slash;
	int	 n;

	/*
	 * Absolute, but with its symbolic links kept: a reload opens the
	 * path again, so that a deployment that switches a link (current
	 * -> v2) is read on HUP, as nginx does.
	 */
	if (path[0] == '/')
		n = snprintf(ld->c->path, sizeof(ld->c->path), "%s", path);
	else if (getcwd(cwd, sizeof(cwd)) == NULL) {
		log_warnx("%s: %s", path, strerror(errno));
		return -1;
	} else {
		while (path[0] == '.' && path[1] == '/')
			path += 2;
		n = snprintf(ld->c->path, sizeof(ld->c->path), "%s/%s",
		    strcmp(cwd, "/") == 0 ? "" : cwd, path);
	}
	if (n < 0 || (size_t)n >= sizeof(ld->c->path)) {
		log_warnx("%s: %s", path, strerror(ENAMETOOLONG));
		return -1;
	}
	strlcpy(ld->dir, ld->c->path, sizeof(ld->dir));
	if ((slash = strrchr(ld->dir, '/')) != NULL)
		*slash = '\0';
	return 0;
}

/* Read the main file <path> line by line. Returns 0, or -1 if unread. */
static int
read_main(struct loader *ld, const char *path)
{
	struct lreader	 r;
	const char	*why;
	char		*line;

	if (main_path(ld, path) == -1)
		return -1;
	memset(&r, 0, sizeof(r));
	/* Named absolute, as every other error is. */
	if ((r.fp = conf_fopen(ld->c->path, &why)) == NULL) {
		log_warnx("%s: %s", ld->c->path, why != NULL ? why :
		    strerror(errno));
		return -1;
	}
	r.path = ld->c->path;
	r.errors = &ld->errors;
	ld->r = &r;
	while (lreader_next(&r, &line))
		conf_line(ld, line);
	ld->r = NULL;
	free(r.buf);
	fclose(r.fp);
	return 0;
}

/*
 * Load <path> and the files it names into <c>, defaults first; see
 * conf.h. Returns 0 when valid; -1 otherwise, all errors logged and <c>
 * freed. Called by the master only (start, -t, reload).
 */
int
conf_load(struct conf *c, const char *path)
{
	struct loader	 ld;

	conf_defaults(c);
	memset(&ld, 0, sizeof(ld));
	ld.c = c;
	if (read_main(&ld, path) == -1)
		ld.errors++;
	else
		build_sets(&ld);
	if (ld.errors == 0 && c->php_keepalive > 0 &&
	    c->php_mode != PHP_FASTCGI)
		log_warnx("%s:%d: php_keepalive applies to \"php fastcgi\" "
		    "only: ignored", c->path, c->php_keepalive_line);
	free(ld.exempt.v);
	free(ld.allow.v);
	if (ld.errors == 0 && tls_conf_build(c) == -1)
		ld.errors++;
	if (ld.errors == 0 && tls_client_conf_build(c) == -1)
		ld.errors++;
	if (ld.errors == 0)
		return 0;
	conf_free(c);
	return -1;
}

/*
 * Release what <c> owns (backends, cache rules, CIDR sets) and reset the
 * pointers: calling it twice is safe. Called by the master.
 */
void
conf_free(struct conf *c)
{
	free(c->backends);
	c->backends = NULL;
	c->nbackends = 0;
	free(c->cache_rules);
	c->cache_rules = NULL;
	c->ncache_rules = 0;
	cidr_set_free(c->blacklist);
	c->blacklist = NULL;
	cidr_set_free(c->rate_limit_exempt);
	c->rate_limit_exempt = NULL;
	cidr_set_free(c->status_allow);
	c->status_allow = NULL;
	free(c->ssl_sni);
	c->ssl_sni = NULL;
	c->nssl_sni = 0;
	tls_conf_free(c);
	tls_client_conf_free(c);
}

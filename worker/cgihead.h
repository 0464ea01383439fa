/*
 * The header block a CGI script writes before its body (RFC 3875 6.2):
 * php-cgi's stdout, php-fpm's FCGI_STDOUT. Finding its end, walking its
 * lines and reading what it says about the response. worker/php.c builds
 * the client's head from it. Pure but for the warnings it logs: no I/O,
 * no allocation.
 */
#ifndef CGIHEAD_H
#define CGIHEAD_H

#include <stddef.h>
#include <stdint.h>

/* What a header block says about the response. */
struct cgi_head {
	int		 status;	/* Status; else 302 (Location), 200 */
	int		 encoded;	/* a Content-Encoding field is there */
	const char	*ct;		/* a non-empty Content-Type, or NULL */
	size_t		 ctlen;
	int64_t		 clen;		/* Content-Length: -1 none, -2 bad */
};

#define CGI_HEAD_MORE		0	/* the block goes on */
#define CGI_HEAD_DONE		1	/* its empty line is in */
#define CGI_HEAD_TOOLONG	(-1)	/* it does not fit */

/*
 * Append the script's output <d>/<len> to the block <buf>, which holds
 * *<blen> of <cap> bytes, up to the empty line that ends it (LF or CR LF
 * after a line end, or at the start). Sets *<used> to the bytes of <d>
 * taken: all of them unless CGI_HEAD_DONE.
 */
int	 cgi_head_add(char *buf, size_t cap, size_t *blen, const char *d,
	    size_t len, size_t *used);

/*
 * The next line of the block <buf>/<blen> from *<off>, without its CR LF,
 * in <*l>/<*len>. 0 at the empty line that ends the block (or when no
 * line end is left), else 1.
 */
int	 cgi_head_line(const char *buf, size_t blen, size_t *off,
	    const char **l, size_t *len);

/*
 * Split the line <l>/<len> into a name of <*nlen> bytes at <l> and a
 * value without surrounding blanks in <*v>/<*vlen>. -1 when it is not
 * "token: value" with no control byte in the value.
 */
int	 cgi_head_split(const char *l, size_t len, size_t *nlen,
	    const char **v, size_t *vlen);

/*
 * Read the whole block <buf>/<blen> (CGI_HEAD_DONE from cgi_head_add())
 * into <h>. A colonless line that is a bare name is skipped with a
 * warning; any other bad line, a bad Status or an empty block fails.
 * <script> names the script in the warnings. 0, or -1 after a warning.
 */
int	 cgi_head_parse(const char *buf, size_t blen, const char *script,
	    struct cgi_head *h);

#endif /* CGIHEAD_H */

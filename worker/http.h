/*
 * Incremental HTTP/1.1 message-head parser (RFC 9112), no I/O and no
 * allocation: give it the bytes received so far, it answers "need more",
 * "error <status>" or "done, here are the pieces". The pieces point into
 * the caller's buffer, which must not move while they are used.
 * Also: response-head parsing (for the proxy) and a chunked-body scanner.
 * Every ambiguity that could let two parsers disagree on where a message
 * ends is an error, never a guess.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mtd.h"

#define HTTP_INCOMPLETE	(-2)
#define HTTP_ERROR	(-1)

enum http_method {
	HTTP_M_OTHER = 0,	/* a valid token we do not know */
	HTTP_M_GET,
	HTTP_M_HEAD,
	HTTP_M_POST,
	HTTP_M_PUT,
	HTTP_M_DELETE,
	HTTP_M_OPTIONS,
	HTTP_M_PATCH,
	HTTP_M_CONNECT,
	HTTP_M_TRACE,
	HTTP_M_PURGE,
};

enum http_body {
	HTTP_BODY_NONE,		/* no body (CL absent or 0, no TE) */
	HTTP_BODY_LENGTH,	/* Content-Length: <content_length> */
	HTTP_BODY_CHUNKED,	/* Transfer-Encoding: chunked */
	HTTP_BODY_CLOSE,	/* responses only: until the peer closes */
};

/* Points into the parsed buffer; an empty string may have p == NULL. */
struct http_str {
	const char	*p;
	size_t		 len;
};

struct http_header {
	struct http_str	 name;	/* as received (case kept) */
	struct http_str	 value;	/* OWS trimmed */
};

struct http_request {
	enum http_method	 method;
	struct http_str		 method_str;
	struct http_str		 target;	/* as received */
	/*
	 * origin-form: target up to '?'; absolute-form: the same after the
	 * authority ("/" when none); "*" (OPTIONS) and authority-form
	 * (CONNECT): the whole target.
	 */
	struct http_str		 path;
	struct http_str		 query;		/* after '?', no '?' */
	int			 minor;		/* HTTP/1.<minor>: 0 or 1 */
	/* The request line was read whole, even if the request failed
	 * later (bad target, no Host): the access log can show it. */
	int			 line_read;

	struct http_header	 headers[MTD_MAX_HEADERS];
	int			 nheaders;

	/* Framing and connection semantics, derived from the headers. */
	enum http_body		 body;
	uint64_t		 content_length; /* 0 unless HTTP_BODY_LENGTH */
	int			 keep_alive;	/* 1.1 default on, 1.0 off */
	int			 expect_continue; /* 100-continue, HTTP/1.1 */
	int			 expect_other;	/* other Expect: answer 417 */
	int			 upgrade;	/* Upgrade to act on */
	/*
	 * Host value, or empty. For an absolute-form target the authority
	 * of the target, which RFC 9112 3.2.2 says overrides Host.
	 */
	struct http_str		 host;
	/*
	 * Commonly read fields, empty when absent; the first line of
	 * each (cond.c reads every If-Match and If-None-Match line).
	 */
	struct http_str		 if_match;
	struct http_str		 if_none_match;
	struct http_str		 if_modified_since;
	struct http_str		 if_unmodified_since;
	struct http_str		 range;
	struct http_str		 if_range;
};

struct http_response {
	int			 status;	/* 100..599 */
	int			 minor;
	struct http_str		 reason;
	struct http_header	 headers[MTD_MAX_RESP_HEADERS];
	int			 nheaders;
	enum http_body		 body;		/* with the request method */
	uint64_t		 content_length; /* 0 unless HTTP_BODY_LENGTH */
	int			 keep_alive;	/* 0 when body is CLOSE */
	int			 too_many_fields; /* HTTP_ERROR: why */
	const char		*why;		/* HTTP_ERROR: for the log */
};

/*
 * Parse the request head at the start of <buf> (<len> bytes).
 * Empty lines before the request line are skipped (RFC 9112 2.2).
 * Returns the number of bytes of the head (up to and including the empty
 * line), HTTP_INCOMPLETE when more bytes are needed, or HTTP_ERROR with
 * <*status> set: 400 bad syntax or framing, 414 target longer than
 * MTD_MAX_TARGET, 431 head longer than MTD_MAX_HEAD or too many fields,
 * 501 unknown transfer coding or CONNECT, 505 HTTP major version not 1.
 * Too-long heads are detected as soon as <len> shows them, even before
 * the end of the head has arrived: a head of MTD_MAX_HEAD bytes passes,
 * MTD_MAX_HEAD + 1 bytes without the empty line are a 431. A verdict
 * never changes when more bytes are appended.
 */
int	 http_parse_request(const char *buf, size_t len,
	    struct http_request *req, int *status);

/*
 * Whether <req>'s target was in absolute form ("http://a/x"): its path
 * and query are then what goes on, and its authority is req->host.
 */
static inline int
http_target_absolute(const struct http_request *req)
{
	return req->target.len > 0 && req->target.p[0] != '/' &&
	    req->target.p[0] != '*';
}

/*
 * Whether <req> asks about the server rather than a resource: "OPTIONS *"
 * (RFC 9110 9.3.7), or an OPTIONS whose absolute-form target has an empty
 * path and no query ("OPTIONS http://a:81"), which RFC 9112 3.2.4 has the
 * last proxy send on as "OPTIONS *" (the authority, req->host, then ends
 * the target).
 */
static inline int
http_target_options_star(const struct http_request *req)
{
	return req->method == HTTP_M_OPTIONS && ((http_target_absolute(req) &&
	    req->host.p + req->host.len == req->target.p + req->target.len) ||
	    (req->target.len == 1 && req->target.p[0] == '*'));
}

/*
 * Parse a response head. <req_method> decides bodiless responses (HEAD,
 * and 2xx to CONNECT). Returns as http_parse_request(); on HTTP_ERROR the
 * caller answers 502.
 */
int	 http_parse_response(const char *buf, size_t len,
	    enum http_method req_method, struct http_response *resp);

/*
 * Chunked body scanner: tracks where a chunked body ends without copying
 * it (the proxy forwards chunks as received). Feed consecutive bytes;
 * <*used> says how many belong to the body. Returns 1 when the body
 * (last chunk and trailers) is complete, 0 when more is needed, -1 on
 * bad framing (size overflow, bad hex, missing CRLF, bad trailer); both
 * verdicts are sticky. Sizes have at most 15 significant hex digits (any
 * number of leading zeros), size lines 4096 bytes, trailers
 * MTD_MAX_HEAD. Bare LF ends lines, except a line with a chunk
 * extension, where lenient parsers are known to disagree, and except in
 * bodies relayed as they came (http_chunked_init_relayed), which must
 * read the same to whoever receives them. A quoted string in an
 * extension must close before the line ends.
 */
struct http_chunked {
	int		 state;
	uint64_t	 remaining;	/* data bytes left in this chunk */
	uint64_t	 total;		/* data bytes so far */
	size_t		 line_len;	/* this size line, or trailer section */
	int		 digits;
	int		 crlf_only;	/* a bare LF is an error */
};

/*
 * Comma-separated list walker (RFC 9110 5.6.1): elements come out
 * OWS-trimmed, empty ones included. Pure.
 */
struct http_list {
	const char	*p;
	const char	*end;
	int		 done;
};

/* Whether the Upgrade field value <v> lists "websocket". Pure. */
int	 http_upgrade_websocket(struct http_str v);

void	 http_list_init(struct http_list *it, struct http_str v);
/* The next element into <elem>; 0 when the list is done. */
int	 http_list_next(struct http_list *it, struct http_str *elem);

void	 http_chunked_init(struct http_chunked *);
/*
 * For bodies relayed as received (requests to backends, responses to
 * clients): every line must end in CRLF, so that no recipient can read
 * the framing another way.
 */
void	 http_chunked_init_relayed(struct http_chunked *);
int	 http_chunked_scan(struct http_chunked *, const char *buf,
	    size_t len, size_t *used);
/*
 * Same state machine, decoding in place: the data bytes of <buf> are
 * moved to its start and their count stored in <*out>. <*used> as above.
 * Trailer fields are validated, then dropped.
 */
int	 http_chunked_decode(struct http_chunked *, char *buf, size_t len,
	    size_t *used, size_t *out);
/*
 * Bytes of the trailer section scanned so far (0 before the last chunk):
 * the tail of a scan's <*used> bytes, for a caller that holds them back.
 */
size_t	 http_chunked_trailer_len(const struct http_chunked *);
/*
 * Drop the fields that may not be trailers (RFC 9110 6.5.1: framing,
 * routing, controls, Set-Cookie ...) from a whole trailer section that a
 * relaying scanner accepted, in place; returns its new length.
 */
size_t	 http_trailers_filter(char *p, size_t len);

/* Case-insensitive lookup; NULL when absent. */
const struct http_str *http_header_get(const struct http_header *h, int n,
	    const char *name);
/* Method name <-> enum. */
enum http_method http_method_parse(const char *p, size_t len);
const char	*http_method_str(enum http_method);
/* "Not Found" for 404 ...; "Unknown" otherwise. */
const char	*http_status_reason(int status);

#endif /* HTTP_H */

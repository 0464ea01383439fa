/*
 * Unit tests for worker/http.c: request heads (every error status, the
 * target forms, framing and smuggling vectors, incremental and pipelined
 * input), response heads, and the chunked scanner and decoder, the latter
 * fed at every split point and one byte at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "tap.h"

static struct http_request	 req;
static struct http_response	 resp;

struct req_case {
	const char	*in;
	size_t		 len;		/* literals may hold a NUL */
	int		 status;	/* 0: must parse */
	const char	*what;
};

#define RC(in, status, what)	{ in, sizeof(in) - 1, status, what }

static const struct req_case req_cases[] = {
	/* valid request lines and forms */
	RC("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, "minimal 1.1"),
	RC("GET / HTTP/1.0\r\n\r\n", 0, "1.0 without Host"),
	RC("GET /a?b=c HTTP/1.1\r\nHost: a\r\n\r\n", 0, "query"),
	RC("GET http://h/x HTTP/1.1\r\nHost: a\r\n\r\n", 0, "absolute-form"),
	RC("GET HTTPS://h HTTP/1.1\r\nHost: a\r\n\r\n", 0, "https, no path"),
	RC("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 0, "asterisk-form"),
	/* CONNECT: understood, never done */
	RC("CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", 501, "authority-form"),
	RC("CONNECT [::1]:443 HTTP/1.1\r\nHost: h\r\n\r\n", 501, "IPv6 CONNECT"),
	RC("CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n", 400, "CONNECT, no port"),
	RC("FOO / HTTP/1.1\r\nHost: a\r\n\r\n", 0, "unknown method"),
	RC("GET / HTTP/1.9\r\nHost: a\r\n\r\n", 0, "1.9 as 1.1"),
	RC("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, "leading CRLFs"),
	RC("\n\n\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, "4 leading LFs"),
	RC("GET / HTTP/1.1\nHost: a\n\n", 0, "bare LF"),
	RC("GET / HTTP/1.1\r\nHost: a\n\r\n", 0, "mixed line ends"),
	RC("GET / HTTP/1.1\r\nHost:a\r\nX:\r\n\r\n", 0, "no OWS, empty"),
	RC("GET / HTTP/1.1\r\nHost: a\r\nX: \xe9t\xe9\r\n\r\n", 0,
	    "obs-text value"),
	RC("GET /%7e/\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 0,
	    "raw UTF-8 in the target"),
	RC("GET http://\xc3\xa9/ HTTP/1.1\r\nHost: a\r\n\r\n", 400,
	    "8-bit authority"),
	RC("GET / HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n", 400, "8-bit Host"),
	/* request line syntax */
	RC("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "two SP"),
	RC("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "SP after version"),
	RC(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "leading SP"),
	RC("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "HTAB separator"),
	RC("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "non-token method"),
	RC("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CTL in target"),
	RC("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400, "DEL in target"),
	RC("GET / http/1.1\r\nHost: a\r\n\r\n", 400, "lower-case http"),
	RC("GET / HTTP/1.1\rHost: a\r\n\r\n", 400, "bare CR"),
	RC("GET / HTTP/1\r\nHost: a\r\n\r\n", 400, "no minor"),
	RC("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, "two-digit minor"),
	RC("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP/2.0"),
	RC("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505, "HTTP/0.9"),
	RC("GET /\r\n\r\n", 400, "HTTP/0.9 simple request"),
	RC("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400,
	    "5 leading CRLFs"),
	RC("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "leading bare CR"),
	RC("get / HTTP/1.1\r\nHost: a\r\n\r\n", 0, "lower-case method"),
	/* target forms */
	RC("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "* without OPTIONS"),
	RC("OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "*x"),
	RC("GET h:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "authority-form GET"),
	RC("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT origin"),
	RC("CONNECT h HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT no port"),
	RC("CONNECT h:x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT bad port"),
	RC("CONNECT u@h:1 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT user"),
	RC("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "relative target"),
	RC("GET ftp://h/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "ftp scheme"),
	RC("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "empty authority"),
	RC("GET http://u@h/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "userinfo"),
	/* field syntax */
	RC("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "SP before colon"),
	RC("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, "obs-fold"),
	RC("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "SP first line"),
	RC("GET / HTTP/1.1\r\nHost: a\r\n\tX: b\r\n\r\n", 400, "HTAB fold"),
	RC("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400, "empty name"),
	RC("GET / HTTP/1.1\r\nHost: a\r\nX b\r\n\r\n", 400, "no colon"),
	RC("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", 400, "non-token name"),
	RC("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, "CR in value"),
	RC("GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n", 400, "DEL in value"),
	RC("GET / HTTP/1.1\r\nHost: a\r\nX: \x1b\r\n\r\n", 400, "ESC in value"),
	RC("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n", 400, "CR CR LF"),
	RC("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400, "bad empty line"),
	/* Host */
	RC("GET / HTTP/1.1\r\n\r\n", 400, "1.1 without Host"),
	RC("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "two Hosts"),
	RC("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400,
	    "two Hosts in 1.0"),
	RC("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "slash in Host"),
	RC("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "SP in Host"),
	RC("GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", 400, "backslash in Host"),
	RC("GET / HTTP/1.1\r\nHost: \r\n\r\n", 400, "empty Host, 1.1"),
	RC("GET / HTTP/1.0\r\nHost: \r\n\r\n", 0, "empty Host, 1.0"),
	RC("GET http://h/ HTTP/1.1\r\nHost: a b\r\n\r\n", 400,
	    "invalid Host beside an absolute-form target"),
	RC("GET http://h/ HTTP/1.1\r\n\r\n", 400,
	    "absolute-form still needs a Host field in 1.1"),
	RC("GET http://h/ HTTP/1.1\r\nHost: a/b\r\n\r\n", 400,
	    "Host with a slash beside an absolute-form target"),
	RC("GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n", 400, "fragment"),
	RC("GET http://h#f HTTP/1.1\r\nHost: h\r\n\r\n", 400,
	    "fragment, absolute-form"),
	RC("GET / HTTP/1.1\r\nHost: [::1]:8085\r\n\r\n", 0, "IPv6 Host"),
	RC("GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", 0, "IPv6 Host, no port"),
	RC("GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 0, "empty port"),
	RC("GET / HTTP/1.1\r\nHost: a:x\r\n\r\n", 400, "port not digits"),
	RC("GET / HTTP/1.1\r\nHost: a:80:81\r\n\r\n", 400, "two ports"),
	RC("GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400, "a port, no host"),
	RC("GET / HTTP/1.1\r\nHost: :\r\n\r\n", 400, "a colon, no host"),
	RC("GET http://:80/x HTTP/1.1\r\nHost: a\r\n\r\n", 400,
	    "absolute-form, a port and no host"),
	RC("GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", 400,
	    "IPv6 without brackets"),
	RC("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, "unclosed ["),
	RC("GET / HTTP/1.1\r\nHost: []\r\n\r\n", 400, "empty []"),
	RC("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400, "junk after ]"),
	RC("GET / HTTP/1.1\r\nHost: a]b\r\n\r\n", 400, "] in reg-name"),
	RC("GET / HTTP/1.1\r\nHost: a%\r\n\r\n", 400, "lone %"),
	RC("GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", 400, "% and one digit"),
	RC("GET / HTTP/1.1\r\nHost: a%zz:80\r\n\r\n", 400, "% not hex"),
	RC("GET / HTTP/1.1\r\nHost: a%41b:80\r\n\r\n", 0, "pct-encoded"),
	RC("GET http://a:xx/ HTTP/1.1\r\nHost: a\r\n\r\n", 400,
	    "absolute-form, port not digits"),
	RC("GET http://[::1]:81/ HTTP/1.1\r\nHost: a\r\n\r\n", 0,
	    "absolute-form, IPv6"),
	/* Content-Length */
	RC("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400,
	    "CL +5"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400,
	    "CL -1"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n", 400,
	    "CL 5 5"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400,
	    "CL hex"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400,
	    "CL empty"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", 400,
	    "CL 5,"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400,
	    "CL 5, 6"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Content-Length: 6\r\n\r\n", 400, "duplicate differing CL"),
	RC("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 99999999999999999999\r\n\r\n", 400, "CL 2^66"),
	RC("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 4611686018427387905\r\n\r\n", 400, "CL 2^62+1"),
	/* Transfer-Encoding */
	RC("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400, "CL + TE"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 0\r\n\r\n", 400, "TE + CL 0"),
	RC("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
	    "TE in 1.0"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
	    501, "xchunked"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
	    400, "TE SP before colon"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
	    501, "gzip"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
	    501, "identity"),
	RC("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n", 501, "gzip, chunked"),
	RC("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked, gzip\r\n\r\n", 400,
	    "chunked, gzip: chunked not last"),
	RC("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked, identity\r\n\r\n", 400,
	    "chunked, identity"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: identity\r\n\r\n", 400,
	    "chunked, then identity in a second field"),
	RC("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked;foo\r\n\r\n", 501, "chunked;foo"),
	RC("POST / HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked, chunked\r\n\r\n", 400, "chunked x2"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400, "chunked in 2 fields"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400,
	    "empty TE"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n",
	    400, "TE trailing comma"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked\r\n\r\n",
	    400, "TE leading comma"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding:\r\n\r\n", 400, "second TE empty"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n"
	    "\r\n", 501, "quoted chunked"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0b" "chunked\r\n"
	    "\r\n", 400, "VT before chunked"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\x00\r\n"
	    "\r\n", 400, "NUL after chunked"),
	RC("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    " , chunked\r\n\r\n", 400, "folded TE"),
};

static int
parse(const char *s, size_t len, int *status)
{
	*status = 0;
	return http_parse_request(s, len, &req, status);
}

static void
test_table(void)
{
	size_t	 i, len;
	int	 rc, status;

	for (i = 0; i < MTD_ARRLEN(req_cases); i++) {
		len = req_cases[i].len;
		rc = parse(req_cases[i].in, len, &status);
		if (req_cases[i].status == 0)
			is_int(rc, len, "parses: %s", req_cases[i].what);
		else {
			ok(rc == HTTP_ERROR && status == req_cases[i].status,
			    "%d: %s", req_cases[i].status, req_cases[i].what);
			if (rc != HTTP_ERROR || status != req_cases[i].status)
				printf("#   rc %d status %d\n", rc, status);
		}
	}
}

static int
str_is(struct http_str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static int
parse_ok(const char *s)
{
	int	 status;

	return parse(s, strlen(s), &status) == (int)strlen(s);
}

static void
test_fields(void)
{
	const char	*s;
	int		 status;

	s = "GET /p/q?x=1&y HTTP/1.1\r\nHost:  example.org \t\r\n"
	    "If-None-Match: \"e\"\r\nIf-Modified-Since: Thu, 01 Jan 1970\r\n"
	    "Range: bytes=0-1\r\nIf-Range: \"r\"\r\nUser-Agent: t\r\n\r\n";
	ok(parse_ok(s), "full request parses");
	is_int(req.method, HTTP_M_GET, "method GET");
	ok(str_is(req.method_str, "GET"), "method_str");
	ok(str_is(req.target, "/p/q?x=1&y"), "target");
	ok(str_is(req.path, "/p/q"), "path");
	ok(str_is(req.query, "x=1&y"), "query");
	is_int(req.minor, 1, "minor 1");
	is_int(req.nheaders, 6, "6 headers");
	ok(str_is(req.host, "example.org"), "host OWS trimmed");
	ok(str_is(req.if_none_match, "\"e\""), "if_none_match");
	ok(str_is(req.if_modified_since, "Thu, 01 Jan 1970"), "if_mod_since");
	ok(str_is(req.range, "bytes=0-1"), "range");
	ok(str_is(req.if_range, "\"r\""), "if_range");
	ok(str_is(req.headers[5].name, "User-Agent"), "name case kept");
	ok(http_header_get(req.headers, req.nheaders, "user-agent") != NULL &&
	    str_is(*http_header_get(req.headers, req.nheaders, "USER-AGENT"),
	    "t"), "http_header_get ignores case");
	ok(http_header_get(req.headers, req.nheaders, "cookie") == NULL,
	    "http_header_get absent");
	is_int(req.body, HTTP_BODY_NONE, "no body");
	is_int(req.keep_alive, 1, "1.1 keep-alive default");

	s = "GET /x? HTTP/1.1\r\nHost: a\r\n\r\n";
	ok(parse_ok(s) && str_is(req.path, "/x") && req.query.len == 0,
	    "empty query");
	s = "GET http://Example.com:81?q HTTP/1.1\r\nHost: other\r\n\r\n";
	ok(parse_ok(s) && str_is(req.host, "Example.com:81") &&
	    str_is(req.path, "/") && str_is(req.query, "q"),
	    "absolute-form: host from target, path /, query");
	ok(req.path.p >= s && req.path.p < s + strlen(s), "path '/' in buf");
	s = "GET http://h/a/b?c HTTP/1.1\r\nHost: h\r\n\r\n";
	ok(parse_ok(s) && str_is(req.path, "/a/b") && str_is(req.query, "c"),
	    "absolute-form path and query");
	s = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
	ok(parse_ok(s) && str_is(req.path, "*") &&
	    req.method == HTTP_M_OPTIONS, "asterisk path");
	s = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
	    "Upgrade: h2c, WebSocket\r\n\r\n";
	ok(parse_ok(s) && req.upgrade, "WebSocket among other protocols");
	s = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
	    "Upgrade: h2c\r\n\r\n";
	ok(parse_ok(s) && !req.upgrade, "h2c is not tunnelled");
	s = "GET /ws HTTP/1.0\r\nHost: a\r\nConnection: Upgrade\r\n"
	    "Upgrade: websocket\r\n\r\n";
	ok(parse_ok(s) && !req.upgrade, "Upgrade is ignored in HTTP/1.0");
	s = "get / HTTP/1.1\r\nHost: a\r\n\r\n";
	ok(parse_ok(s) && req.method == HTTP_M_OTHER, "methods are "
	    "case-sensitive");
	s = "GET / HTTP/1.7\r\nHost: a\r\n\r\n";
	ok(parse_ok(s) && req.minor == 1, "HTTP/1.7 is minor 1");
	s = "GET / HTTP/1.0\r\n\r\n";
	ok(parse_ok(s) && req.minor == 0 && req.host.len == 0 &&
	    !req.keep_alive, "1.0 defaults");
	s = "X-Y / HTTP/1.1\nHost: a\n\n";
	is_int(parse(s, strlen(s), &status), strlen(s), "bare LF length");
}

static void
test_connection(void)
{
	ok(parse_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	    && !req.keep_alive, "1.1 close");
	ok(parse_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: x, CLOSE\r\n"
	    "\r\n") && !req.keep_alive, "1.1 close in list, any case");
	ok(parse_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: x\r\n"
	    "Connection: close\r\n\r\n") && !req.keep_alive,
	    "close in second field");
	ok(parse_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n")
	    && req.keep_alive, "'closed' is not close");
	ok(parse_ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") &&
	    req.keep_alive, "1.0 keep-alive");
	ok(parse_ok("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")
	    && !req.keep_alive, "1.0 keep-alive, close");
	ok(parse_ok("GET / HTTP/1.0\r\nConnection: ,,\r\n\r\n") &&
	    !req.keep_alive, "empty list elements ignored");
	ok(parse_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
	    "Upgrade: websocket\r\n\r\n") && req.upgrade, "upgrade");
	ok(parse_ok("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n")
	    && !req.upgrade, "Upgrade without Connection token");
	ok(parse_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n")
	    && !req.upgrade, "Connection token without Upgrade");
	ok(parse_ok("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n")
	    && req.expect_continue && !req.expect_other, "expect continue");
	ok(parse_ok("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n") &&
	    !req.expect_continue && req.expect_other, "other expectation");
	ok(parse_ok("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n") &&
	    !req.expect_continue, "1.0 expect ignored");
}

static void
test_framing(void)
{
	ok(parse_ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n")
	    && req.body == HTTP_BODY_LENGTH && req.content_length == 42,
	    "CL 42");
	ok(parse_ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
	    && req.body == HTTP_BODY_NONE && req.content_length == 0, "CL 0");
	ok(parse_ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n"
	    "\r\n") && req.content_length == 7, "CL leading zeros");
	ok(parse_ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n"
	    "content-length: 5\r\n\r\n") && req.content_length == 5,
	    "identical CLs");
	ok(parse_ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
	    "4611686018427387904\r\n\r\n") &&
	    req.content_length == UINT64_C(1) << 62, "CL 2^62");
	ok(parse_ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n") && req.body == HTTP_BODY_CHUNKED &&
	    req.content_length == 0, "TE chunked");
	ok(parse_ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tChunKed"
	    "\t\r\n\r\n") && req.body == HTTP_BODY_CHUNKED, "TE HTAB, case");
	ok(parse_ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
	    "  chunked  \r\n\r\n") && req.body == HTTP_BODY_CHUNKED,
	    "TE OWS");
}

/* Every prefix of a good head is INCOMPLETE; the whole, the same. */
static void
test_incremental(void)
{
	const char	*s = "\r\nPOST /u?v HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: 3\r\nX: y z\r\n\r\nabc";
	size_t		 head = strlen(s) - 3, i;
	int		 status, bad = 0;

	for (i = 0; i < head; i++)
		if (parse(s, i, &status) != HTTP_INCOMPLETE)
			bad++;
	is_int(bad, 0, "every strict prefix is INCOMPLETE");
	for (i = head; i <= strlen(s); i++)
		if (parse(s, i, &status) != (int)head)
			bad++;
	is_int(bad, 0, "head length stable once complete");
	ok(req.content_length == 3 && str_is(req.query, "v"), "fields then");
}

static void
test_pipelined(void)
{
	const char	*s = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
	size_t		 first = strlen(s) / 2;
	int		 status;

	is_int(parse(s, strlen(s), &status), first, "first of two");
	ok(str_is(req.path, "/1"), "first path");
	is_int(parse(s + first, strlen(s) - first, &status), first,
	    "second of two");
	ok(str_is(req.path, "/2"), "second path");
	is_int(parse(s, first + 5, &status), first, "with partial second");
}

/* "GET /aaa... HTTP/1.1" with a <n>-byte target, into a malloc'd buf. */
static char *
long_target(size_t n, int complete, size_t *len)
{
	char	*b = malloc(n + 64);

	memcpy(b, "GET /", 5);
	memset(b + 5, 'a', n - 1);
	*len = 4 + n;
	if (complete)
		*len += (size_t)sprintf(b + *len,
		    " HTTP/1.1\r\nHost: a\r\n\r\n");
	return b;
}

static void
test_limits(void)
{
	char	*b;
	size_t	 len, n;
	int	 rc, status;

	b = long_target(MTD_MAX_TARGET, 1, &len);
	is_int(parse(b, len, &status), len, "target of MTD_MAX_TARGET ok");
	free(b);
	b = long_target(MTD_MAX_TARGET + 1, 1, &len);
	rc = parse(b, len, &status);
	ok(rc == HTTP_ERROR && status == 414, "target + 1: 414");
	free(b);
	b = long_target(MTD_MAX_TARGET + 1, 0, &len);
	rc = parse(b, len, &status);
	ok(rc == HTTP_ERROR && status == 414, "414 before the line end");
	rc = parse(b, len - 1, &status);
	is_int(rc, HTTP_INCOMPLETE, "target of MAX still INCOMPLETE");
	free(b);

	/* One big field: a head of exactly MTD_MAX_HEAD is fine. */
	b = malloc(2 * MTD_MAX_HEAD);
	len = (size_t)sprintf(b, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	n = MTD_MAX_HEAD - len - 4;
	memset(b + len, 'x', n);
	memcpy(b + len + n, "\r\n\r\n", 4);
	is_int(parse(b, MTD_MAX_HEAD, &status), MTD_MAX_HEAD,
	    "head of MTD_MAX_HEAD ok");
	b[len] = 'y';
	memcpy(b + len + n, "x\r\n\r\n", 5);
	rc = parse(b, MTD_MAX_HEAD + 5, &status);
	ok(rc == HTTP_ERROR && status == 431, "head of MAX + 1: 431");
	rc = parse(b, MTD_MAX_HEAD + 1, &status);
	ok(rc == HTTP_ERROR && status == 431, "431 once MAX + 1 bytes show");
	memset(b + len, 'x', MTD_MAX_HEAD);
	rc = parse(b, MTD_MAX_HEAD + 1, &status);
	ok(rc == HTTP_ERROR && status == 431, "431 with no blank line yet");
	rc = parse(b, MTD_MAX_HEAD, &status);
	is_int(rc, HTTP_INCOMPLETE, "at MAX_HEAD exactly: still INCOMPLETE");
	free(b);
}

static void
test_too_many_fields(void)
{
	char	 b[8192];
	size_t	 len;
	int	 i, status, rc;

	len = (size_t)sprintf(b, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 1; i < MTD_MAX_HEADERS; i++)
		len += (size_t)sprintf(b + len, "X%d: v\r\n", i);
	len += (size_t)sprintf(b + len, "\r\n");
	rc = parse(b, len, &status);
	ok(rc == (int)len && req.nheaders == MTD_MAX_HEADERS,
	    "MTD_MAX_HEADERS fields ok");
	len -= 2;
	len += (size_t)sprintf(b + len, "Y: z\r\n");
	rc = parse(b, len, &status);
	ok(rc == HTTP_ERROR && status == 431, "one more field: 431 early");
}

/* A NUL byte inside a field value, which strlen() cannot carry. */
static void
test_nul(void)
{
	static const char	 s[] =
	    "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
	static const char	 t[] = "GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n";
	int			 status, rc;

	rc = parse(s, sizeof(s) - 1, &status);
	ok(rc == HTTP_ERROR && status == 400, "NUL in value");
	rc = parse(t, sizeof(t) - 1, &status);
	ok(rc == HTTP_ERROR && status == 400, "NUL in target");
	rc = parse("GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n", 28, &status);
	ok(rc == HTTP_ERROR && status == 400, "NUL in name");
}

/*
 * One odd byte at every offset of a long value and a long target, so the
 * word-at-a-time loops meet it in every lane of a word.
 */
static int
odd_byte_verdicts(unsigned char c, int in_target)
{
	char	 b[256];
	size_t	 len, at, start;
	int	 status, rc, good = 0;

	for (at = 0; at < 40; at++) {
		len = (size_t)sprintf(b, in_target ? "GET /" :
		    "GET / HTTP/1.1\r\nHost: a\r\nX: ");
		start = len;
		memset(b + len, 'a', 40);
		b[start + at] = (char)c;
		len += 40;
		len += (size_t)sprintf(b + len, in_target ?
		    " HTTP/1.1\r\nHost: a\r\n\r\n" : "b\r\n\r\n");
		rc = parse(b, len, &status);
		good += rc == (int)len;
	}
	return good;
}

static void
test_odd_bytes(void)
{
	static const unsigned char	 bad_value[] = { 0x00, 0x01, 0x0b,
	    0x1f, 0x7f, '\r' };
	static const unsigned char	 good_value[] = { '\t', ' ', '~', '!',
	    0x80, 0xff, 0xa0 };
	static const unsigned char	 bad_target[] = { 0x00, '\t', 0x1f,
	    0x7f };
	static const unsigned char	 good_target[] = { '~', '!', 0x80,
	    0xc3, 0xff };
	size_t				 i;

	for (i = 0; i < sizeof(bad_value); i++)
		is_int(odd_byte_verdicts(bad_value[i], 0), 0,
		    "value byte 0x%02x rejected at every offset", bad_value[i]);
	for (i = 0; i < sizeof(good_value); i++)
		is_int(odd_byte_verdicts(good_value[i], 0), 40,
		    "value byte 0x%02x accepted at every offset",
		    good_value[i]);
	for (i = 0; i < sizeof(bad_target); i++)
		is_int(odd_byte_verdicts(bad_target[i], 1), 0,
		    "target byte 0x%02x rejected at every offset",
		    bad_target[i]);
	for (i = 0; i < sizeof(good_target); i++)
		is_int(odd_byte_verdicts(good_target[i], 1), 40,
		    "target byte 0x%02x accepted at every offset",
		    good_target[i]);
}

static void
test_methods(void)
{
	static const char *const names[] = { "GET", "HEAD", "POST", "PUT",
	    "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PURGE" };
	size_t	 i;
	int	 bad = 0;

	for (i = 0; i < MTD_ARRLEN(names); i++)
		if (http_method_parse(names[i], strlen(names[i])) !=
		    (enum http_method)(i + 1) ||
		    strcmp(http_method_str(i + 1), names[i]) != 0)
			bad++;
	is_int(bad, 0, "method names round-trip");
	is_int(http_method_parse("GOT", 3), HTTP_M_OTHER, "GOT");
	is_int(http_method_parse("PUSH", 4), HTTP_M_OTHER, "PUSH");
	is_int(http_method_parse("Get", 3), HTTP_M_OTHER, "Get");
	is_int(http_method_parse("GETS", 4), HTTP_M_OTHER, "GETS");
	is_int(http_method_parse("", 0), HTTP_M_OTHER, "empty");
	ok(strcmp(http_method_str(HTTP_M_OTHER), "OTHER") == 0, "OTHER");
	ok(strcmp(http_method_str(99), "OTHER") == 0, "out of range");
}

static void
test_reasons(void)
{
	static const int	 codes[] = { 100, 101, 200, 201, 204, 206, 301,
	    302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 408, 409, 410,
	    411, 412, 413, 414, 415, 416, 417, 426, 429, 431, 500, 501, 502,
	    503, 504, 505 };
	size_t			 i;
	int			 bad = 0;

	for (i = 0; i < MTD_ARRLEN(codes); i++)
		if (strcmp(http_status_reason(codes[i]), "Unknown") == 0)
			bad++;
	is_int(bad, 0, "every required status has a reason");
	ok(strcmp(http_status_reason(404), "Not Found") == 0, "404");
	ok(strcmp(http_status_reason(431),
	    "Request Header Fields Too Large") == 0, "431");
	ok(strcmp(http_status_reason(299), "Unknown") == 0, "299 unknown");
}

static int
resp_parse(const char *s, enum http_method m)
{
	return http_parse_response(s, strlen(s), m, &resp);
}

struct resp_case {
	const char		*in;
	enum http_method	 method;
	int			 body;		/* -1: HTTP_ERROR */
	uint64_t		 cl;
	int			 keep_alive;
	const char		*what;
};

static const struct resp_case resp_cases[] = {
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", HTTP_M_GET,
	    HTTP_BODY_LENGTH, 5, 1, "CL" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", HTTP_M_GET,
	    HTTP_BODY_NONE, 0, 1, "CL 0" },
	{ "HTTP/1.1 200 OK\r\n\r\n", HTTP_M_GET, HTTP_BODY_CLOSE, 0, 0,
	    "no framing: until close" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_M_GET,
	    HTTP_BODY_CHUNKED, 0, 1, "chunked" },
	/* Codings we never offer (no TE sent): not ours to pass on. */
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	    HTTP_M_GET, -1, 0, 0, "gzip, chunked" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	    HTTP_M_GET, -1, 0, 0, "chunked, gzip" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	    HTTP_M_GET, -1, 0, 0, "gzip alone" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n", HTTP_M_GET, -1, 0, 0, "TE + CL" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
	    HTTP_M_GET, -1, 0, 0, "chunked twice" },
	{ "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	    HTTP_M_GET, -1, 0, 0, "TE in 1.0" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	    HTTP_M_GET, -1, 0, 0, "differing CLs" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
	    HTTP_M_GET, HTTP_BODY_LENGTH, 5, 1, "identical CLs" },
	{ "HTTP/1.1 204 No Content\r\n\r\n", HTTP_M_GET, HTTP_BODY_NONE, 0,
	    1, "204" },
	{ "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", HTTP_M_GET,
	    HTTP_BODY_NONE, 0, 1, "304 with CL" },
	{ "HTTP/1.1 100 Continue\r\n\r\n", HTTP_M_PUT, HTTP_BODY_NONE, 0, 1,
	    "100" },
	{ "HTTP/1.1 101 Switching Protocols\r\n\r\n", HTTP_M_GET,
	    HTTP_BODY_NONE, 0, 1, "101" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", HTTP_M_HEAD,
	    HTTP_BODY_NONE, 0, 1, "HEAD" },
	{ "HTTP/1.1 200 OK\r\n\r\n", HTTP_M_CONNECT, HTTP_BODY_NONE, 0, 1,
	    "2xx to CONNECT" },
	{ "HTTP/1.1 407 Auth\r\n\r\n", HTTP_M_CONNECT, HTTP_BODY_CLOSE, 0, 0,
	    "407 to CONNECT" },
	{ "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", HTTP_M_GET,
	    HTTP_BODY_LENGTH, 1, 1, "no SP, no reason" },
	{ "HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\n", HTTP_M_GET,
	    HTTP_BODY_LENGTH, 1, 1, "empty reason" },
	{ "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", HTTP_M_GET,
	    HTTP_BODY_LENGTH, 1, 0, "1.0 closes" },
	{ "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n"
	    "\r\n", HTTP_M_GET, HTTP_BODY_LENGTH, 1, 1, "1.0 keep-alive" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n",
	    HTTP_M_GET, HTTP_BODY_LENGTH, 1, 0, "1.1 close" },
	{ "HTTP/1.1 200 OK\nContent-Length: 1\n\n", HTTP_M_GET,
	    HTTP_BODY_LENGTH, 1, 1, "bare LF" },
	{ "HTTP/1.1 200X\r\n\r\n", HTTP_M_GET, -1, 0, 0, "status 200X" },
	{ "HTTP/1.1 20 OK\r\n\r\n", HTTP_M_GET, -1, 0, 0, "2 digits" },
	{ "HTTP/1.1 099 OK\r\n\r\n", HTTP_M_GET, -1, 0, 0, "status 099" },
	{ "HTTP/2.0 200 OK\r\n\r\n", HTTP_M_GET, -1, 0, 0, "HTTP/2.0" },
	{ "http/1.1 200 OK\r\n\r\n", HTTP_M_GET, -1, 0, 0, "lower-case" },
	{ "HTTP/1.1 200 O\x01K\r\n\r\n", HTTP_M_GET, -1, 0, 0, "CTL reason" },
	{ "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", HTTP_M_GET, -1, 0, 0,
	    "bare CR" },
	{ "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", HTTP_M_GET, -1, 0, 0,
	    "obs-fold" },
	{ "HTTP/1.1 200 OK\r\nX : a\r\n\r\n", HTTP_M_GET, -1, 0, 0,
	    "SP before colon" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", HTTP_M_GET, -1, 0,
	    0, "CL -1" },
};

/* What an HTTP_ERROR says for the log. */
static void
test_response_why(void)
{
	static const struct {
		const char	*in, *why;
	} cases[] = {
		{ "HTTP/2 200 OK\r\n\r\n", "invalid status line" },
		{ "HTTP/1.1 600 Six\r\n\r\n", "invalid status line" },
		{ "HTTP/1.1 999 Nine\r\n\r\n", "invalid status line" },
		{ "HTTP/1.1 099 Low\r\n\r\n", "invalid status line" },
		{ "HTTP/1.1 200 OK\r\nX Y: z\r\n\r\n", "invalid header field" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		    "Content-Length: 6\r\n\r\n",
		    "invalid or conflicting Content-Length, or empty "
		    "Transfer-Encoding" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n",
		    "both Content-Length and Transfer-Encoding" },
		{ "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		    "Transfer-Encoding in an HTTP/1.0 response" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n"
		    "\r\n", "chunked more than once" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n"
		    "\r\n", "a transfer coding other than chunked" },
	};
	size_t	 i;

	for (i = 0; i < MTD_ARRLEN(cases); i++)
		ok(resp_parse(cases[i].in, HTTP_M_GET) == HTTP_ERROR &&
		    resp.why != NULL && strcmp(resp.why, cases[i].why) == 0,
		    "response error says: %s", cases[i].why);
	ok(resp_parse("HTTP/1.1 200 OK\r\n\r\n", HTTP_M_GET) > 0 &&
	    resp.why == NULL, "a good response says nothing");
}

static void
test_responses(void)
{
	const struct resp_case	*c;
	size_t			 i;
	int			 rc, good;

	for (i = 0; i < MTD_ARRLEN(resp_cases); i++) {
		c = &resp_cases[i];
		rc = resp_parse(c->in, c->method);
		if (c->body == -1)
			good = rc == HTTP_ERROR;
		else
			good = rc == (int)strlen(c->in) &&
			    (int)resp.body == c->body &&
			    resp.content_length == c->cl &&
			    resp.keep_alive == c->keep_alive;
		ok(good, "response: %s", c->what);
		if (!good)
			printf("#   rc %d body %d cl %llu ka %d\n", rc,
			    resp.body, (unsigned long long)resp.content_length,
			    resp.keep_alive);
	}
	ok(resp_parse("HTTP/1.1 404 Not Found\r\nServer: x\r\n\r\n",
	    HTTP_M_GET) > 0 && resp.status == 404 && resp.minor == 1 &&
	    str_is(resp.reason, "Not Found") && resp.nheaders == 1,
	    "status, reason, fields");
	is_int(http_parse_response("HTTP/1.1 200 OK\r\n", 17, HTTP_M_GET,
	    &resp), HTTP_INCOMPLETE, "response INCOMPLETE");
	is_int(http_parse_response("HTTP/1.", 7, HTTP_M_GET, &resp),
	    HTTP_INCOMPLETE, "version INCOMPLETE");
	is_int(http_parse_response("HTTP/1.1 200", 12, HTTP_M_GET, &resp),
	    HTTP_INCOMPLETE, "status INCOMPLETE");
	test_response_why();
}

static void
test_response_limit(void)
{
	size_t	 big = 2 * MTD_MAX_HEAD + 1, len;
	char	*b = malloc(big + 8);

	len = (size_t)sprintf(b, "HTTP/1.1 200 OK\r\nX: ");
	memset(b + len, 'x', big - len);
	is_int(http_parse_response(b, big - 1, HTTP_M_GET, &resp),
	    HTTP_INCOMPLETE, "response head at 2*MAX: INCOMPLETE");
	is_int(http_parse_response(b, big, HTTP_M_GET, &resp), HTTP_ERROR,
	    "response head over 2*MAX: error");
	free(b);
}

/* Apps set many cookies: answers take ten times the request's fields. */
static void
test_response_fields(void)
{
	static char	 b[2 * MTD_MAX_HEAD];
	size_t		 len;
	int		 i, rc;

	len = (size_t)sprintf(b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
	for (i = 1; i < MTD_MAX_RESP_HEADERS; i++)
		len += (size_t)sprintf(b + len, "S%d: v\r\n", i);
	len += (size_t)sprintf(b + len, "\r\n");
	rc = http_parse_response(b, len, HTTP_M_GET, &resp);
	ok(rc == (int)len && resp.nheaders == MTD_MAX_RESP_HEADERS,
	    "MTD_MAX_RESP_HEADERS response fields ok");
	len -= 2;
	len += (size_t)sprintf(b + len, "Y: z\r\n\r\n");
	rc = http_parse_response(b, len, HTTP_M_GET, &resp);
	ok(rc == HTTP_ERROR && resp.too_many_fields,
	    "one more response field: error, too_many_fields");
}

/* Scan <s> split into two calls at <split>; total used bytes in <*used>. */
static int
scan_split(const char *s, size_t len, size_t split, size_t *used)
{
	struct http_chunked	 ch;
	size_t			 u1 = 0, u2 = 0;
	int			 rc;

	http_chunked_init(&ch);
	rc = http_chunked_scan(&ch, s, split, &u1);
	if (rc == 0)
		rc = http_chunked_scan(&ch, s + split, len - split, &u2);
	*used = u1 + u2;
	return rc;
}

static int
scan_bytes(const char *s, size_t len, size_t *used)
{
	struct http_chunked	 ch;
	size_t			 i, u;
	int			 rc = 0;

	http_chunked_init(&ch);
	*used = 0;
	for (i = 0; i < len && rc == 0; i++) {
		rc = http_chunked_scan(&ch, s + i, 1, &u);
		*used += u;
	}
	return rc;
}

struct chunk_case {
	const char	*in;
	int		 rc;		/* of scanning all of <in> */
	size_t		 used;		/* 0: strlen(in) */
	const char	*data;		/* decoded, when rc is 1 */
	const char	*what;
};

static const struct chunk_case chunk_cases[] = {
	{ "0\r\n\r\n", 1, 0, "", "empty body" },
	{ "5\r\nhello\r\n0\r\n\r\n", 1, 0, "hello", "one chunk" },
	{ "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 1, 0, "hello world",
	    "two chunks" },
	{ "A\r\n0123456789\r\n0\r\n\r\nGET", 1, 20, "0123456789",
	    "upper hex, pipelined after" },
	{ "a;x=1;y=\"q\"\r\n0123456789\r\n0;z\r\n\r\n", 1, 0, "0123456789",
	    "extensions" },
	{ "5 ;x\r\nhello\r\n0\r\n\r\n", 1, 0, "hello", "BWS before ;" },
	{ "5\nhello\n0\n\n", 1, 0, "hello", "bare LFs" },
	{ "3\r\nabc\r\n0\r\nX-T: 1\r\nY:\r\n\r\n", 1, 0, "abc", "trailers" },
	{ "0\r\nX-T: 1\n\n", 1, 0, "", "trailer bare LF" },
	{ "005\r\nhello\r\n0\r\n\r\n", 1, 0, "hello", "leading zeros" },
	{ "0000000000000000005\r\nhello\r\n0\r\n\r\n", 1, 0, "hello",
	    "19 digits, 18 of them leading zeros" },
	{ "00000000000000000000\r\n\r\n", 1, 0, "", "a last chunk of zeros" },
	{ "fffffffffffffff\r\n", 0, 0, NULL, "15 hex digits: need data" },
	{ "1000000000000000\r\n", -1, 15, NULL, "16 hex digits: overflow" },
	{ "5\r\nhello", 0, 0, NULL, "need CRLF" },
	{ "5\r\nhelloX\r\n", -1, 8, NULL, "no CRLF after data" },
	{ "5\r\nhello\rX", -1, 9, NULL, "CR X after data" },
	{ "5\r\nhello\r\r\n", -1, 9, NULL, "CR CR after data" },
	{ "\r\n", -1, 0, NULL, "no size" },
	{ "x\r\n", -1, 0, NULL, "bad hex" },
	{ "-1\r\n", -1, 0, NULL, "negative" },
	{ "0x5\r\n", -1, 1, NULL, "0x prefix" },
	{ " 5\r\n", -1, 0, NULL, "leading SP" },
	{ "5 \r\nhello\r\n0\r\n\r\n", -1, 2, NULL, "BWS without ;" },
	{ "5\rhello", -1, 2, NULL, "bare CR after size" },
	{ "5;x\nhello\r\n0\r\n\r\n", -1, 3, NULL, "bare LF ends extension" },
	{ "5;\x01\r\n", -1, 2, NULL, "CTL in extension" },
	{ "5;x=\"a\r\nhello\r\n0\r\n\r\n", -1, 6, NULL,
	    "quoted string open at the line end" },
	{ "5;x=\"a\\\"\r\nhello\r\n0\r\n\r\n", -1, 8, NULL,
	    "escaped quote leaves the string open" },
	{ "5;x=\"a\\\"b;\\\\\"\r\nhello\r\n0\r\n\r\n", 1, 0, "hello",
	    "quoted pairs, string closed" },
	{ "0\r\n X: 1\r\n\r\n", -1, 3, NULL, "trailer obs-fold" },
	{ "0\r\nX : 1\r\n\r\n", -1, 4, NULL, "trailer SP before colon" },
	{ "0\r\nX: \x01\r\n\r\n", -1, 6, NULL, "trailer CTL" },
	{ "0\r\nX: 1\rY\r\n", -1, 8, NULL, "trailer bare CR" },
	{ "0\r\n\rX", -1, 4, NULL, "final CR X" },
	{ "0\r\nX", 0, 0, NULL, "trailer in progress" },
};

static int
decoded_is(const char *in, size_t used, const char *want)
{
	struct http_chunked	 ch;
	char			 buf[256];
	size_t			 len = strlen(in), u, out;
	int			 rc;

	memcpy(buf, in, len);
	http_chunked_init(&ch);
	rc = http_chunked_decode(&ch, buf, len, &u, &out);
	return rc == 1 && u == used && out == strlen(want) &&
	    memcmp(buf, want, out) == 0;
}

static void
test_chunked_cases(void)
{
	const struct chunk_case	*c;
	size_t			 i, len, want, used, split;
	int			 rc, bad;

	for (i = 0; i < MTD_ARRLEN(chunk_cases); i++) {
		c = &chunk_cases[i];
		len = strlen(c->in);
		want = c->used != 0 || c->rc == -1 ? c->used : len;
		rc = scan_split(c->in, len, len, &used);
		ok(rc == c->rc && used == want, "chunked: %s", c->what);
		if (rc != c->rc || used != want)
			printf("#   rc %d used %zu\n", rc, used);
		for (bad = 0, split = 0; split <= len; split++) {
			rc = scan_split(c->in, len, split, &used);
			bad += rc != c->rc || used != want;
		}
		rc = scan_bytes(c->in, len, &used);
		bad += rc != c->rc || used != want;
		is_int(bad, 0, "chunked: %s, at every split, bytewise",
		    c->what);
		if (c->data != NULL)
			ok(decoded_is(c->in, want, c->data), "decoded: %s",
			    c->what);
	}
}

/* A body fed one byte at a time, decoding each byte where it lands. */
static void
test_decode_bytewise(void)
{
	const char		*in = "4;e=1\r\nWiki\r\n5\r\npedia\r\n"
	    "E\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\n";
	struct http_chunked	 ch;
	char			 got[64], b;
	size_t			 i, n = 0, u, out;
	int			 rc = 0;

	http_chunked_init(&ch);
	for (i = 0; in[i] != '\0' && rc == 0; i++) {
		b = in[i];
		rc = http_chunked_decode(&ch, &b, 1, &u, &out);
		if (out == 1)
			got[n++] = b;
	}
	ok(rc == 1 && i == strlen(in), "bytewise decode completes");
	ok(n == 23 && memcmp(got, "Wikipedia in\r\n\r\nchunks.", n) == 0,
	    "bytewise decode data");
	rc = http_chunked_scan(&ch, "x", 1, &u);
	ok(rc == 1 && u == 0, "done is sticky, uses nothing");
	http_chunked_init(&ch);
	rc = http_chunked_scan(&ch, "z", 1, &u);
	ok(rc == -1 && http_chunked_scan(&ch, "0\r\n\r\n", 5, &u) == -1 &&
	    u == 0, "error is sticky");
}

static void
test_chunked_limits(void)
{
	struct http_chunked	 ch;
	char			 line[5000];
	size_t			 u;
	int			 rc;

	memset(line, 'a', sizeof(line));
	memcpy(line, "1;", 2);
	http_chunked_init(&ch);
	rc = http_chunked_scan(&ch, line, 4096, &u);
	ok(rc == 0 && u == 4096, "4096-byte size line");
	rc = http_chunked_scan(&ch, line + 2, 1, &u);
	ok(rc == -1 && u == 0, "4097-byte size line: error");

	http_chunked_init(&ch);
	rc = http_chunked_scan(&ch, "0\r\nX: ", 6, &u);
	memset(line, 'v', sizeof(line));
	for (int i = 0; i < 3 && rc == 0; i++)
		rc = http_chunked_scan(&ch, line, sizeof(line), &u);
	is_int(rc, 0, "trailer under MAX_HEAD");
	rc = http_chunked_scan(&ch, line, sizeof(line), &u);
	is_int(rc, -1, "trailer over MAX_HEAD: error");

	http_chunked_init(&ch);
	rc = http_chunked_scan(&ch, "fffffffffffffff\r\n", 17, &u);
	ok(rc == 0 && ch.remaining == UINT64_C(0xfffffffffffffff),
	    "largest size");
}

/* Request bodies: only CRLF ends a framing line. */
static void
test_chunked_crlf_only(void)
{
	static const struct {
		const char	*body;
		int		 lenient, strict;
		const char	*what;
	} t[] = {
		{ "5\r\nhello\r\n0\r\n\r\n", 1, 1, "CRLF everywhere" },
		{ "5\nhello\r\n0\r\n\r\n", 1, -1, "bare LF after a size" },
		{ "5\r\nhello\n0\r\n\r\n", 1, -1, "bare LF after data" },
		{ "0\r\nX: 1\n\r\n", 1, -1, "bare LF after a trailer" },
		{ "0\r\n\n", 1, -1, "bare LF as the last line" },
		{ "0\r\nX: 1\r\n\r\n", 1, 1, "a CRLF trailer" },
	};
	struct http_chunked	 ch;
	size_t			 i, u;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		http_chunked_init(&ch);
		is_int(http_chunked_scan(&ch, t[i].body, strlen(t[i].body),
		    &u), t[i].lenient, "%s", t[i].what);
		http_chunked_init_relayed(&ch);
		is_int(http_chunked_scan(&ch, t[i].body, strlen(t[i].body),
		    &u), t[i].strict, "%s", t[i].what);
	}
}

/* RFC 9112 3.2.4: which OPTIONS ask about the server, sent on as "*". */
static void
test_options_star(void)
{
	static const struct {
		const char	*line;
		int		 star;
	} t[] = {
		{ "OPTIONS http://a:81 HTTP/1.1", 1 },
		{ "OPTIONS HTTPS://a HTTP/1.1", 1 },
		{ "OPTIONS http://a:81/ HTTP/1.1", 0 },
		{ "OPTIONS http://a:81?q HTTP/1.1", 0 },
		{ "OPTIONS http://a/p HTTP/1.1", 0 },
		{ "OPTIONS * HTTP/1.1", 1 },	/* the server too */
		{ "OPTIONS / HTTP/1.1", 0 },
		{ "GET http://a:81 HTTP/1.1", 0 },
	};
	char	 buf[128];
	size_t	 i;

	for (i = 0; i < MTD_ARRLEN(t); i++) {
		snprintf(buf, sizeof(buf), "%s\r\nHost: a\r\n\r\n", t[i].line);
		ok(parse_ok(buf) && http_target_options_star(&req) ==
		    t[i].star, "options star %d: %s", t[i].star, t[i].line);
	}
}

/* Trailer sections: the length a scan reports, the fields kept. */
static void
test_trailers(void)
{
	static const struct {
		const char	*in, *out, *what;
	} t[] = {
		{ "\r\n", "\r\n", "empty section" },
		{ "X-Sum: abc\r\n\r\n", "X-Sum: abc\r\n\r\n", "kept" },
		{ "Content-Length: 5\r\nX-Sum: a\r\nhost: e\r\n\r\n",
		    "X-Sum: a\r\n\r\n", "framing and routing dropped" },
		{ "Proxy-Authenticate: B\r\nIf-Match: *\r\nSet-Cookie: a\r\n"
		    "TE: trailers\r\n\r\n", "\r\n", "prefixes, any case" },
		{ "Proxy-: x\r\nIf-: y\r\nTEx: z\r\nETags: 1\r\n\r\n",
		    "Proxy-: x\r\nIf-: y\r\nTEx: z\r\nETags: 1\r\n\r\n",
		    "names that only start like banned ones" },
		{ "Date: x\r\nX-A: 1\r\nVary: *\r\nX-B: 2\r\n\r\n",
		    "X-A: 1\r\nX-B: 2\r\n\r\n", "dropped between kept" },
	};
	struct http_chunked	 ch;
	char			 body[256], buf[256];
	size_t			 i, u, n;
	int			 rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		n = strlen(t[i].in);
		memcpy(buf, t[i].in, n);
		n = http_trailers_filter(buf, n);
		ok(n == strlen(t[i].out) && memcmp(buf, t[i].out, n) == 0,
		    "trailers: %s", t[i].what);
	}
	snprintf(body, sizeof(body), "5\r\nhello\r\n0;e=1\r\n%s", t[2].in);
	http_chunked_init_relayed(&ch);
	rc = http_chunked_scan(&ch, body, 12, &u);
	ok(rc == 0 && http_chunked_trailer_len(&ch) == 0,
	    "no trailer bytes before the last chunk");
	rc = http_chunked_scan(&ch, body + 12, 10, &u);
	is_int(http_chunked_trailer_len(&ch), 22 - 17, "trailer bytes so far");
	rc = http_chunked_scan(&ch, body + 22, strlen(body) - 22, &u);
	ok(rc == 1 && u == strlen(body) - 22 &&
	    http_chunked_trailer_len(&ch) == strlen(t[2].in),
	    "the whole trailer section counted");
}

int
main(void)
{
	test_table();
	test_fields();
	test_connection();
	test_framing();
	test_incremental();
	test_pipelined();
	test_limits();
	test_too_many_fields();
	test_nul();
	test_odd_bytes();
	test_methods();
	test_reasons();
	test_responses();
	test_response_limit();
	test_response_fields();
	test_chunked_cases();
	test_decode_bytewise();
	test_chunked_limits();
	test_chunked_crlf_only();
	test_trailers();
	test_options_star();
	return done_testing();
}

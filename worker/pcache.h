/*
 * The reverse proxy's use of the shared response cache: which requests
 * may be answered from it, the key (Host + target), hits, 304s and
 * stale copies written into the connection's out buffer, whether a
 * backend response is stored and feeding it to the fill, PURGE. The
 * objects live in the shared segment (shared/cache.c); the state of one
 * request is a struct pcache inside the proxy's per-request state.
 * Worker only.
 */
#ifndef PCACHE_H
#define PCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cache.h"
#include "http.h"

#define PCACHE_WAIT_MS		10	/* retry a pending key this often */
#define PCACHE_WAIT_MAX_MS	3000	/* then go to the backend anyway */
/* The stale-if-error window is the cache_stale_if_error directive. */

/* pcache_start() and pcache_retry() results. */
#define PCACHE_FORWARD		0	/* go to a backend */
#define PCACHE_HIT		1	/* answer in out[], maybe body_left */
#define PCACHE_WAIT		2	/* another worker fills the key */
#define PCACHE_NOT_STORED	3	/* only-if-cached and a miss: 504 */

enum pcache_mode {
	PCACHE_OFF = 0,		/* cache not in play: no fields */
	PCACHE_BYPASS,		/* not looked up (method, rules, ...) */
	PCACHE_MISS,		/* looked up, forwarded */
};

struct conf_cache_rule;
struct conn;

struct pcache {
	uint8_t		 mode;		/* enum pcache_mode */
	uint8_t		 waited:1, storing:1, raw_chunked:1;
	uint8_t		 vary_miss:1;	/* the key's object is another variant */
	uint8_t		 sized:1;	/* the body's length is known to fit */
	/*
	 * A variant other than the one stored under the request's key lives
	 * under its own key: that key + '\0' + the object's id + the
	 * request's digest (see pc_variant_key()). 0 while unused.
	 */
	uint8_t		 vkey_len;
	uint8_t		 vkey[1 + 8 + CACHE_VARIANT_LEN];
	const struct conf_cache_rule *rule;
	uint64_t	 wait_until;	/* ev_now_ms() deadline of a wait */
	int		 status;	/* of the response being stored */
	long		 ttl;
	long		 age;		/* the backend's Age: already old */
	time_t		 last_modified;
	char		 etag[CACHE_ETAG_MAX];	/* "" = computed */
	/* A hit's body still to send (PCACHE_HIT with body_left > 0). */
	const char	*body;
	size_t		 body_left;
	char		*big;		/* heap copy of a large object */
	struct http_chunked ch;		/* decoding a chunked body to store */
	struct cache_fill fill;
};

/*
 * First look at the request of <c> (a zeroed <pc>): decide bypass or
 * lookup, and on a fresh hit write the answer (head, and the body when
 * it fits) into c->r->out; the rest of the body is pc->body_left bytes
 * at pc->body, which may point into <buf> (<buflen> bytes of scratch
 * the caller keeps until the body is sent). A miss claims the key for a
 * fill when the request is a GET. Returns PCACHE_HIT, PCACHE_WAIT (call
 * pcache_retry() after PCACHE_WAIT_MS) or PCACHE_FORWARD. Takes and
 * releases cache stripe locks. Worker, in request_dispatch().
 */
int	 pcache_start(struct pcache *pc, struct conn *c, char *buf,
	    size_t buflen);

/* Look a pending key up again: as pcache_start(). Worker. */
int	 pcache_retry(struct pcache *pc, struct conn *c, char *buf,
	    size_t buflen);

/*
 * stale-if-error: every backend failed. Gives up the fill of <pc> and,
 * when an expired copy within cache_stale_if_error exists, writes it as
 * pcache_start() writes a hit and returns PCACHE_HIT; else
 * PCACHE_FORWARD (answer the error). Worker.
 */
int	 pcache_stale(struct pcache *pc, struct conn *c, char *buf,
	    size_t buflen);

/* Copy the next piece of a hit's body to <dst>; returns its length. */
size_t	 pcache_body_take(struct pcache *pc, char *dst, size_t room);

/*
 * The backend's response head <resp> to <req> is in: decide whether it
 * is stored (status, Cache-Control, Set-Cookie, Vary, size) and its TTL,
 * validators and variant (the digest of the <req> fields its Vary
 * names); a fill that will not be used is given up at once.
 * <raw_chunked>: the body reaches pcache_body() chunk-encoded. Worker.
 */
void	 pcache_response(struct pcache *pc, const struct http_response *resp,
	    const struct http_request *req, int raw_chunked);

/* 1 when <name> is a field pcache_fields() writes itself. */
int	 pcache_own_field(const struct pcache *pc, const struct http_str *name);

/*
 * Write X-Cache and Cache-Status of a forwarded response to <p> (<room>
 * bytes). Returns the length, or -1 when they do not fit.
 */
int	 pcache_fields(const struct pcache *pc, char *p, size_t room);

/*
 * The head sent to the client (<len> bytes at <p>) is complete: store
 * it, without framing, connection and per-response fields. Worker.
 */
void	 pcache_head(struct pcache *pc, const char *p, size_t len);

/*
 * <n> more body bytes of the response at <p>; <done> when the body is
 * complete, which publishes the object. Worker.
 */
void	 pcache_body(struct pcache *pc, const char *p, size_t n, int done);

/* Release what <pc> holds (fill, heap copy). Idempotent. Worker. */
void	 pcache_end(struct pcache *pc);

/*
 * The backend answered <status> to <c>'s request: when that request is
 * unsafe (not GET, HEAD, OPTIONS or TRACE) and the status is no error
 * (2xx, 3xx), the stored copy of its target goes (RFC 9111 4.4), so
 * that the next GET does not get the answer from before the change.
 * Worker.
 */
void	 pcache_invalidate(const struct pcache *pc, struct conn *c,
	    int status);

/*
 * Answer a PURGE request on <c>: 403 unless the peer is in
 * status_allow, else 200 when the object for Host + target was
 * removed, 404 when there was none. Returns 1 when answered, 0 when no
 * cache is configured (the request is someone else's). Worker, in
 * request_dispatch().
 */
int	 pcache_purge(struct conn *c);

#endif /* PCACHE_H */

/*
 * The status pages. The body is rendered into a heap buffer that grows as
 * needed (64 backends with long names outgrow the connection's output
 * buffer), then sent from r->out when it fits there, else from a memfd
 * like a static file. Readers only load relaxed atomics from the segment.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "blacklist.h"
#include "cache.h"
#include "cidr.h"
#include "conn.h"
#include "ev.h"
#include "http.h"
#include "log.h"
#include "ratelimit.h"
#include "shm.h"
#include "stats.h"
#include "status.h"
#include "worker.h"

#define STATUS_BUF_INIT	(16 * 1024)
#define STATUS_BUF_MAX	(4 * 1024 * 1024)	/* far above any real page */

/* A growing text buffer; p == NULL once anything failed. */
struct sbuf {
	char	*p;
	size_t	 len, cap;
};

/* Make room for <need> more bytes and the NUL. -1 (and p freed) if not. */
static int
sb_grow(struct sbuf *b, size_t need)
{
	size_t	 cap = b->cap;
	char	*p;

	while (cap - b->len <= need) {
		if (cap >= STATUS_BUF_MAX)
			goto fail;
		cap *= 2;
	}
	if ((p = realloc(b->p, cap)) == NULL)
		goto fail;
	b->p = p;
	b->cap = cap;
	return 0;
fail:
	free(b->p);
	b->p = NULL;
	return -1;
}

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (b->p == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		free(b->p);
		b->p = NULL;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		/* Truncated: grow, then format again. */
		if (sb_grow(b, (size_t)n) == -1)
			return;
		va_start(ap, fmt);
		(void)vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/*
 * Upper bound of latency bucket <i> in microseconds: bucket i holds
 * [2^i, 2^(i+1)) (stats.h). The last bucket is open-ended and has none.
 */
static uint64_t
lat_upper_us(int i)
{
	return (uint64_t)1 << (i + 1);
}

/*
 * Latency quantile <q> (0..1] from the log2 histogram, in microseconds:
 * the upper bound of the bucket it falls in, so never an underestimate.
 * In the open-ended last bucket, the largest finite bound (as Prometheus'
 * histogram_quantile() does).
 */
static uint64_t
lat_quantile(const struct stats_total *t, double q)
{
	uint64_t	 n = 0, seen = 0, want;
	int		 i;

	for (i = 0; i < STATS_LAT_BUCKETS; i++)
		n += t->lat[i];
	if (n == 0)
		return 0;
	/* The rank is ceil(n * q): truncating would make p99 of four
	 * requests the third one. */
	want = (uint64_t)((double)n * q);
	if ((double)want < (double)n * q || want == 0)
		want++;
	for (i = 0; i < STATS_LAT_BUCKETS - 1; i++) {
		seen += t->lat[i];
		if (seen >= want)
			return lat_upper_us(i);
	}
	return lat_upper_us(STATS_LAT_BUCKETS - 2);
}

static void
json_workers(struct sbuf *b)
{
	struct stats_slot	*s;
	int			 i, first = 1;

	sb_printf(b, "\"workers\":[");
	for (i = 0; i < (int)shm->nslots; i++) {
		s = shm_stats_slot(i);
		if (atomic_load(&s->pid) == 0)
			continue;
		sb_printf(b, "%s{\"slot\":%d,\"pid\":%d,\"restarts\":%u,"
		    "\"requests\":%llu,\"connections\":%lld}",
		    first ? "" : ",", i, (int)atomic_load(&s->pid),
		    (unsigned)atomic_load(&s->restarts),
		    (unsigned long long)atomic_load(&s->requests),
		    (long long)atomic_load(&s->conns_active));
		first = 0;
	}
	sb_printf(b, "],");
}

static void
json_backends(struct sbuf *b)
{
	struct backend_table	*t = shm_backends();
	struct backend_info	 bi;
	int			 i, n = t ? backend_count(t) : 0;

	sb_printf(b, "\"backends\":[");
	for (i = 0; i < n; i++) {
		backend_info(t, i, &bi);
		sb_printf(b, "%s{\"address\":\"%s\",\"healthy\":%s,"
		    "\"weight\":%d,\"active\":%lld,\"requests\":%llu,"
		    "\"failures\":%llu}", i ? "," : "", bi.name,
		    bi.up ? "true" : "false", bi.weight,
		    (long long)bi.active, (unsigned long long)bi.requests,
		    (unsigned long long)bi.failures);
	}
	sb_printf(b, "],");
}

static void
json_cache(struct sbuf *b)
{
	struct cache_stats	 cs;
	uint64_t		 looks;

	cache_stats(shm_cache(), &cs);
	looks = cs.hits + cs.misses;
	sb_printf(b, "\"cache\":{\"enabled\":%s,\"entries\":%llu,"
	    "\"bytes\":%llu,\"capacity\":%llu,\"hits\":%llu,"
	    "\"misses\":%llu,\"stale\":%llu,\"evictions\":%llu,"
	    "\"hit_ratio\":%.4f},",
	    cs.stripes && wconf->ncache_rules > 0 ? "true" : "false",
	    (unsigned long long)cs.entries, (unsigned long long)cs.bytes,
	    (unsigned long long)cs.capacity, (unsigned long long)cs.hits,
	    (unsigned long long)cs.misses, (unsigned long long)cs.stale,
	    (unsigned long long)cs.evictions,
	    looks ? (double)cs.hits / (double)looks : 0.0);
}

static void
render_json(struct sbuf *b, const struct stats_total *t)
{
	uint64_t	 n = t->requests ? t->requests : 1;

	sb_printf(b, "{\"version\":\"%s\",\"uptime\":%lld,", MTD_VERSION,
	    (long long)(time(NULL) - shm->start_time));
	json_workers(b);
	sb_printf(b, "\"connections\":{\"active\":%lld,\"total\":%llu},",
	    (long long)t->conns_active, (unsigned long long)t->conns_total);
	sb_printf(b, "\"requests\":{\"total\":%llu,\"1xx\":%llu,\"2xx\":%llu,"
	    "\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu},",
	    (unsigned long long)t->requests,
	    (unsigned long long)t->status[1], (unsigned long long)t->status[2],
	    (unsigned long long)t->status[3], (unsigned long long)t->status[4],
	    (unsigned long long)t->status[5]);
	sb_printf(b, "\"bytes\":{\"in\":%llu,\"out\":%llu,\"spliced\":%llu,"
	    "\"buffered\":%llu},",
	    (unsigned long long)t->bytes_in, (unsigned long long)t->bytes_out,
	    (unsigned long long)t->bytes_spliced,
	    (unsigned long long)t->bytes_buffered);
	sb_printf(b, "\"request_time_us\":{\"mean\":%llu,\"p50\":%llu,"
	    "\"p90\":%llu,\"p99\":%llu},",
	    (unsigned long long)(t->lat_us_sum / n),
	    (unsigned long long)lat_quantile(t, 0.50),
	    (unsigned long long)lat_quantile(t, 0.90),
	    (unsigned long long)lat_quantile(t, 0.99));
	json_backends(b);
	json_cache(b);
	sb_printf(b, "\"blocked\":%llu,\"blacklist_entries\":%zu,"
	    "\"rate_limited\":%llu,\"rate_limit_evictions\":%llu,"
	    "\"php_waits\":%llu,\"backend_waits\":%llu}\n",
	    (unsigned long long)t->blocked,
	    blacklist_entries(wconf->blacklist), (unsigned long long)t->limited,
	    (unsigned long long)ratelimit_evictions(shm_ratelimit()),
	    (unsigned long long)t->php_waits,
	    (unsigned long long)t->backend_waits);
}

static void
prom_metric(struct sbuf *b, const char *name, const char *type,
    const char *help)
{
	sb_printf(b, "# HELP maitred_%s %s\n# TYPE maitred_%s %s\n", name,
	    help, name, type);
}

/* A metric with a single sample: its HELP and TYPE lines, then the value. */
static void
prom_value(struct sbuf *b, const char *name, const char *type,
    const char *help, unsigned long long v)
{
	prom_metric(b, name, type, help);
	sb_printf(b, "maitred_%s %llu\n", name, v);
}

static void
prom_cache(struct sbuf *b)
{
	struct cache_stats	 cs;

	cache_stats(shm_cache(), &cs);
	prom_value(b, "cache_hits_total", "counter", "Cache hits.",
	    cs.hits);
	prom_value(b, "cache_misses_total", "counter", "Cache misses.",
	    cs.misses);
	prom_value(b, "cache_evictions_total", "counter", "Cache evictions.",
	    cs.evictions);
	prom_value(b, "cache_entries", "gauge", "Objects in the cache.",
	    cs.entries);
	prom_value(b, "cache_bytes", "gauge", "Cache storage in use.",
	    cs.bytes);
}

/* Requests by class, connections and bytes. */
static void
prom_traffic(struct sbuf *b, const struct stats_total *t)
{
	int	 i;

	prom_metric(b, "requests_total", "counter",
	    "Requests answered, by status class.");
	for (i = 1; i <= 5; i++)
		sb_printf(b, "maitred_requests_total{class=\"%dxx\"} %llu\n",
		    i, (unsigned long long)t->status[i]);
	prom_metric(b, "connections_active", "gauge", "Open connections.");
	sb_printf(b, "maitred_connections_active %lld\n",
	    (long long)t->conns_active);
	prom_value(b, "connections_total", "counter", "Accepted connections.",
	    t->conns_total);
	prom_value(b, "bytes_received_total", "counter", "Bytes read.",
	    t->bytes_in);
	prom_value(b, "bytes_sent_total", "counter", "Bytes written.",
	    t->bytes_out);
	prom_value(b, "bytes_spliced_total", "counter",
	    "Bytes of proxied bodies sent with splice(2), no copy.",
	    t->bytes_spliced);
	prom_value(b, "bytes_buffered_total", "counter",
	    "Bytes of answers a slow client kept waiting, put in temp_dir.",
	    t->bytes_buffered);
	prom_value(b, "php_waits_total", "counter",
	    "PHP requests that waited for a FastCGI connection "
	    "(php_keepalive).", t->php_waits);
	prom_value(b, "backend_waits_total", "counter",
	    "Proxied requests that waited for a backend slot "
	    "(backend_max_conns).", t->backend_waits);
}

/*
 * The request time histogram: cumulative power-of-two buckets, each
 * labelled with its upper bound. The open-ended last bucket only counts
 * in "+Inf".
 */
static void
prom_latency(struct sbuf *b, const struct stats_total *t)
{
	uint64_t	 cum = 0;
	int		 i;

	prom_metric(b, "request_duration_seconds", "histogram",
	    "Request time.");
	for (i = 0; i < STATS_LAT_BUCKETS - 1; i++) {
		cum += t->lat[i];
		sb_printf(b, "maitred_request_duration_seconds_bucket"
		    "{le=\"%g\"} %llu\n", (double)lat_upper_us(i) / 1e6,
		    (unsigned long long)cum);
	}
	cum += t->lat[STATS_LAT_BUCKETS - 1];
	sb_printf(b, "maitred_request_duration_seconds_bucket{le=\"+Inf\"} "
	    "%llu\n", (unsigned long long)cum);
	sb_printf(b, "maitred_request_duration_seconds_sum %g\n",
	    (double)t->lat_us_sum / 1e6);
	sb_printf(b, "maitred_request_duration_seconds_count %llu\n",
	    (unsigned long long)cum);
}

/* Health and request count of each backend. */
static void
prom_backends(struct sbuf *b)
{
	struct backend_table	*bt = shm_backends();
	struct backend_info	 bi;
	int			 i, n = bt ? backend_count(bt) : 0;

	prom_metric(b, "backend_up", "gauge", "1 when the backend is healthy.");
	for (i = 0; i < n; i++) {
		backend_info(bt, i, &bi);
		sb_printf(b, "maitred_backend_up{backend=\"%s\"} %d\n",
		    bi.name, bi.up);
	}
	prom_metric(b, "backend_requests_total", "counter",
	    "Requests sent to each backend.");
	for (i = 0; i < n; i++) {
		backend_info(bt, i, &bi);
		sb_printf(b, "maitred_backend_requests_total{backend=\"%s\"} "
		    "%llu\n", bi.name, (unsigned long long)bi.requests);
	}
}

static void
render_prometheus(struct sbuf *b, const struct stats_total *t)
{
	prom_value(b, "uptime_seconds", "gauge", "Seconds since start.",
	    (unsigned long long)(time(NULL) - shm->start_time));
	prom_traffic(b, t);
	prom_latency(b, t);
	prom_backends(b);
	prom_cache(b);
	prom_value(b, "blocked_total", "counter",
	    "Connections refused by the blacklist.", t->blocked);
	prom_value(b, "blacklist_entries", "gauge",
	    "Entries of the blacklist in force.",
	    blacklist_entries(wconf->blacklist));
	prom_value(b, "rate_limited_total", "counter",
	    "Requests over the rate limit (refused, or logged in log mode).",
	    t->limited);
	prom_value(b, "rate_limit_evictions_total", "counter",
	    "Clients still being limited that a full table bucket forgot.",
	    ratelimit_evictions(shm_ratelimit()));
}

/* "/maitred/status" -> "/maitred/metrics" */
static int
is_metrics_path(const struct http_str *path, const char *status_path)
{
	const char	*slash = strrchr(status_path, '/');
	size_t		 dir = slash ? (size_t)(slash - status_path) + 1 : 0;

	return path->len == dir + 7 &&
	    memcmp(path->p, status_path, dir) == 0 &&
	    memcmp(path->p + dir, "metrics", 7) == 0;
}

/*
 * A body too large for r->out goes into an anonymous memory file that
 * conn_send() then streams like a static file (sendfile, or pread for
 * TLS). Returns the descriptor, or -1.
 */
static int
body_memfd(const struct sbuf *b)
{
	size_t	 off = 0;
	ssize_t	 n;
	int	 fd;

	if ((fd = memfd_create("maitred-status", MFD_CLOEXEC)) == -1)
		return -1;
	while (off < b->len) {
		n = write(fd, b->p + off, b->len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	return fd;
}

static void
send_body(struct conn *c, const char *type, struct sbuf *b)
{
	int	 fd;

	resp_head(c, 200);
	resp_header(c, "Content-Type: %s", type);
	resp_header(c, "Cache-Control: no-store");
	resp_end_head(c, (int64_t)b->len);
	if (c->r->req.method == HTTP_M_HEAD ||
	    resp_append(c, b->p, b->len) == 0) {
		conn_respond(c);
		return;
	}
	/* resp_error() starts the response again, head included. */
	if ((fd = body_memfd(b)) == -1) {
		log_warn("status page: memfd");
		resp_error(c, 500, NULL);
		return;
	}
	c->file_fd = fd;
	c->file_off = 0;
	c->file_left = b->len;
	conn_respond(c);
}

int
status_serve(struct conn *c)
{
	struct http_request	*req = &c->r->req;
	const char		*sp = wconf->status_path;
	struct stats_total	 t;
	struct sbuf		 b;
	int			 metrics;

	if (sp[0] == '\0')
		return STATUS_NOT_MINE;
	metrics = is_metrics_path(&req->path, sp);
	if (!metrics && (req->path.len != strlen(sp) ||
	    memcmp(req->path.p, sp, req->path.len) != 0))
		return STATUS_NOT_MINE;
	if (!cidr_set_match(wconf->status_allow, c->peer16)) {
		resp_error(c, 403, NULL);
		return 0;
	}
	/* Read-only pages: PUT, DELETE, PURGE... are refused. */
	if (req->method != HTTP_M_GET && req->method != HTTP_M_HEAD) {
		resp_error(c, req->method == HTTP_M_OTHER ? 501 : 405,
		    "Allow: GET, HEAD\r\n");
		return 0;
	}
	stats_sum(&t);
	b.cap = STATUS_BUF_INIT;
	b.len = 0;
	b.p = malloc(b.cap);
	if (metrics)
		render_prometheus(&b, &t);
	else
		render_json(&b, &t);
	if (b.p == NULL) {
		resp_error(c, 500, NULL);
		return 0;
	}
	send_body(c, metrics ? "text/plain; version=0.0.4" :
	    "application/json", &b);
	free(b.p);
	return 0;
}

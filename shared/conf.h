/*
 * Configuration: the main file (line based, "directive value...", '#'
 * comments) and the seed's three files (backends.cfg, blacklist.txt,
 * cache_rules.cfg). conf_load() reads everything into one struct conf,
 * validated, with relative paths resolved against the directory of the
 * file that names them. Errors are logged as "file:line: message" with
 * log_warnx() and parsing goes on so that all of them are shown.
 * The master loads; workers get the struct through fork().
 */
#ifndef CONF_H
#define CONF_H

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "cidr.h"
#include "mtd.h"

#define CONF_MAX_GZIP_TYPES	32

enum lb_strategy {
	LB_ROUND_ROBIN = 0,	/* seed 0 */
	LB_LEAST_CONN = 1,	/* seed 1 */
	LB_IP_HASH = 2,		/* seed 2 */
	LB_WEIGHTED = 3,	/* seed 3 */
};

enum health_kind {
	HEALTH_TCP,
	HEALTH_HTTP,
};

enum php_mode {
	PHP_OFF,
	PHP_CGI,
	PHP_FASTCGI,
};

/* Largest rate_limit count and burst: keeps count + burst and the
 * RateLimit fields' 32-bit values from overflowing. */
#define RL_COUNT_MAX	1000000000L

enum rate_limit_mode {
	RL_MODE_ENFORCE,
	RL_MODE_LOG,
};

struct conf_listen {
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 text[80];	/* "127.0.0.1:8085", "[::1]:80" */
	int			 port;
	int			 any;		/* "listen 8085": all addresses */
	int			 ssl;		/* "listen 8443 ssl": TLS */
	int			 line;		/* in the main file */
};

/* "ssl_sni NAME CERT KEY": a certificate chosen by SNI server name. */
struct conf_sni {
	char			 name[256];	/* exact or "*.example.com" */
	char			 cert[PATH_MAX];
	char			 key[PATH_MAX];
	int			 line;		/* in the main file */
};

struct tls_ctxs;
struct ssl_ctx_st;

struct conf_backend {
	char			 host[256];	/* as written, no brackets */
	char			 name[300];	/* "host:port", "[::1]:port" */
	int			 port;
	int			 weight;	/* >= 1 */
	int			 max_failures;	/* >= 1 */
	struct sockaddr_storage	 ss;		/* resolved at load */
	socklen_t		 sslen;
};

struct conf_cache_rule {
	char			 pattern[256];	/* '*' and '?' wildcards */
	long			 max_age;	/* seconds, 0 = never cache */
	size_t			 max_size;	/* bytes */
	int			 line;		/* in cache_rules.cfg */
};

struct conf {
	char			 path[PATH_MAX];	/* main file, absolute */

	struct conf_listen	 listens[MTD_MAX_LISTEN];
	int			 nlisten;		/* default: one, port 8085 */

	int			 workers;	/* resolved; "auto" = CPUs */
	char			 user[64];	/* "" = do not drop */
	uid_t			 user_uid;	/* of user, resolved at load */
	gid_t			 user_gid;	/* its primary group */
	char			 pidfile[PATH_MAX];	/* "" = none */
	char			 htdocs[PATH_MAX];	/* "" = no local files */

	char			 backends_path[PATH_MAX];	/* "" = none */
	struct conf_backend	*backends;
	int			 nbackends;
	enum lb_strategy	 strategy;		/* default round-robin */

	int			 health_interval_ms;	/* 10 s */
	enum health_kind	 health_kind;		/* tcp */
	char			 health_path[256];	/* http check path */
	int			 connect_timeout_ms;	/* 5 s */
	int			 backend_max_conns;	/* per backend and worker */
	int			 read_timeout_ms;	/* 60 s */
	int			 client_timeout_ms;	/* 30 s */
	uint64_t		 client_max_body;	/* bytes, 0 = no limit */
	int			 keepalive_timeout_ms;	/* 75 s */
	int			 worker_shutdown_timeout_ms; /* 0: none */
	int			 worker_connections;	/* 10000 */

	char			 blacklist_path[PATH_MAX];	/* "" = none */
	struct cidr_set		*blacklist;		/* NULL = empty */
	struct stat		 blacklist_st;	/* the file read, at open */

	int			 rate_limit_on;		/* default on */
	long			 rate_limit_count;	/* 100 */
	long			 rate_limit_window_ms;	/* 60 s */
	long			 rate_limit_burst;	/* 0 = none extra */
	enum rate_limit_mode	 rate_limit_mode;	/* enforce */
	int			 rate_limit_ipv6_prefix; /* 64 */
	size_t			 rate_limit_size;	/* 2m: shared table */
	struct cidr_set		*rate_limit_exempt;	/* NULL = none */

	char			 cache_rules_path[PATH_MAX];	/* "" = none */
	struct conf_cache_rule	*cache_rules;
	int			 ncache_rules;
	size_t			 cache_size;		/* 64m */

	enum php_mode		 php_mode;		/* cgi */
	char			 php_cgi[PATH_MAX];	/* /usr/bin/php-cgi */
	char			 php_fastcgi[PATH_MAX];	/* host:port, unix:/p */
	int			 php_timeout_ms;	/* 30 s */
	size_t			 php_buffer_max;	/* spool file, 0: none */
	int			 php_keepalive;		/* FastCGI conns per worker */
	size_t			 proxy_buffer_max;	/* spool file, 0: none */
	char			 temp_dir[PATH_MAX];	/* /tmp */

	char			 error_log[PATH_MAX];	/* "" = stderr */
	int			 log_level;		/* LOG_LVL_INFO */
	char			 access_log[PATH_MAX];	/* "" = off */

	char			 sticky_cookie[64];	/* "" = no stickiness */
	char			 hash_secret[128];	/* "" = built-in key */
	int			 cache_stale_ms;	/* stale-if-error, 60 s */
	int			 cache_stale_updating;	/* default on */

	char			 charset[32];		/* "" = off */
	int			 gzip_on;		/* default off */
	int			 gzip_level;		/* 1-9, 5 */
	int			 proxy_splice;		/* default on */
	int			 backend_rcvbuf;	/* SO_RCVBUF, 0: kernel */
	int			 backend_keepalive_ms;	/* idle pooled, 0: none */
	int			 worker_sched_batch;	/* SCHED_BATCH, default on */
	size_t			 gzip_min_length;	/* 256 bytes */
	/* Media types to compress; a trailing star matches by prefix. */
	char			 gzip_types[CONF_MAX_GZIP_TYPES][64];
	int			 ngzip_types;

	/* TLS (worker/tls.c): default certificate, SNI ones, contexts. */
	char			 ssl_cert[PATH_MAX];	/* "" = none */
	char			 ssl_key[PATH_MAX];
	int			 ssl_cert_line, ssl_key_line;
	int			 ssl_listen_line;	/* first ssl listen */
	struct conf_sni		*ssl_sni;
	int			 nssl_sni;
	struct tls_ctxs		*tls;		/* built by conf_load() */

	/* TLS to backends (worker/tls_client.c). */
	int			 backend_tls;		/* default off */
	int			 backend_tls_line;
	int			 backend_tls_verify;	/* default on */
	char			 backend_tls_ca[PATH_MAX]; /* "": system */
	int			 backend_tls_ca_line;
	/* Where these were set, for the errors of opening them; 0: unset. */
	int			 pidfile_line, error_log_line, access_log_line;
	int			 php_keepalive_line;	/* for its warning */
	int			 cache_size_line;	/* the segment's */
	char			 backend_tls_name[256];	/* "": each host */
	struct ssl_ctx_st	*backend_tls_ctx;	/* built by conf_load() */

	char			 status_path[256];	/* /maitred/status */
	struct cidr_set		*status_allow;		/* 127.0.0.1 ::1 */
};

/* Fill <c> with the built-in defaults (no file read). */
void	 conf_defaults(struct conf *c);

/*
 * Read the main file <path> and the files it names into <c> (defaults
 * first). Each error is logged with log_warnx() as "file:line: message";
 * returns 0 when the whole configuration is valid, -1 otherwise (<c> is
 * then freed). Called by the master only, at start, -t and reload.
 */
int	 conf_load(struct conf *c, const char *path);
void	 conf_free(struct conf *c);
/*
 * Read c->blacklist_path again into c->blacklist. -1, the running list
 * kept, when the file cannot be read or has an error (each one logged
 * with its file and line).
 */
int	 conf_reload_blacklist(struct conf *c);

/*
 * fopen() for reading a file the configuration names, refusing what is
 * not a regular file (or /dev/null, for an empty one): a FIFO would hang
 * -t or a reload, /dev/zero would never end. NULL with errno set, or
 * with *why set for "not a regular file".
 */
FILE	*conf_fopen(const char *path, const char **why);

/*
 * Whether <path> is a program that can run (php cgi): an executable
 * regular file. 0, or -1 with errno (EISDIR for a directory).
 */
int	 conf_program_runnable(const char *path);

/*
 * "FILE:LINE: " for line <line> of <c>'s main file, or "" for 0 (a
 * default): the prefix of an error about a directive found later.
 */
const char *conf_at(const struct conf *c, int line);

/* "round-robin", "least-conn", "ip-hash", "weighted" or "0".."3". */
int	 conf_parse_strategy(const char *s, enum lb_strategy *out);
const char *conf_strategy_str(enum lb_strategy);

/* "500ms", "5s", "2m", "1h", bare number = seconds. 0 or -1. */
int	 conf_parse_duration(const char *s, long *ms);
/* "512", "64k", "64m", "1g". 0 or -1. */
int	 conf_parse_size(const char *s, size_t *bytes);
/* "8085", "127.0.0.1:8085", "[::1]:8085", "*:8085". 0 or -1 + <*err>. */
int	 conf_parse_listen(const char *s, struct conf_listen *out,
	    const char **err);

#endif /* CONF_H */

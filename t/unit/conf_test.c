/*
 * Unit tests for shared/conf.c: defaults, value parsers, every directive,
 * relative paths, the seed's three file formats, and the exact shape of
 * each error message (stderr is captured: before log_open() the log
 * module writes to fd 2).
 */
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "cidr.h"
#include "conf.h"
#include "log.h"
#include "tap.h"

static char		 dir[PATH_MAX];	/* realpath of the temp dir */
static char		 mainconf[PATH_MAX + 16];
static char		 errbuf[65536];	/* what the last load logged */
static struct conf	 C;

static void
write_file(const char *name, const char *text, size_t len)
{
	char	 path[PATH_MAX + 64];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "w")) == NULL ||
	    fwrite(text, 1, len, fp) != len || fclose(fp) != 0)
		abort();
}

static void
put(const char *name, const char *text)
{
	write_file(name, text, strlen(text));
}

/* conf_load(<path>) with fd 2 captured into errbuf. */
static int
load_path(const char *path)
{
	char	 cap[PATH_MAX + 16];
	ssize_t	 n;
	int	 fd, saved, rc;

	snprintf(cap, sizeof(cap), "%s/stderr", dir);
	if ((fd = open(cap, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (saved = dup(2)) == -1 || dup2(fd, 2) == -1)
		abort();
	rc = conf_load(&C, path);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, errbuf, sizeof(errbuf) - 1, 0);
	errbuf[n > 0 ? n : 0] = '\0';
	close(fd);
	return rc;
}

/* Write <text> as the main file and load it. */
static int
load(const char *text)
{
	put("maitred.conf", text);
	return load_path(mainconf);
}

static int
logged(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 1 when the last load logged the formatted string. */
static int
logged(const char *fmt, ...)
{
	char	 want[8192];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	return strstr(errbuf, want) != NULL;
}

/* Load <text>, expect failure and "maitred.conf:<line>: <msg>". */
static void
bad(const char *text, int line, const char *msg)
{
	is_int(load(text), -1, "rejected: %.*s", (int)MTD_MIN(60,
	    strcspn(text, "\n")), text);
	if (!ok(logged("%s:%d: %s", mainconf, line, msg), "  says: %s", msg))
		printf("# logged: %s", errbuf);
}

static int
allowed(const struct cidr_set *s, const char *addr)
{
	struct cidr	 c;
	const char	*err;

	return cidr_parse(addr, &c, &err) == 0 && cidr_set_match(s, c.addr);
}

static void
test_defaults(void)
{
	long	 cpus = sysconf(_SC_NPROCESSORS_ONLN);

	conf_defaults(&C);
	is_int(C.nlisten, 1, "default: one listen");
	ok(C.listens[0].any && C.listens[0].port == 8085 &&
	    C.listens[0].ss.ss_family == AF_INET &&
	    strcmp(C.listens[0].text, "0.0.0.0:8085") == 0,
	    "default listen: any address, port 8085");
	is_int(C.workers, cpus < 1 ? 1 : cpus > 64 ? 64 : cpus,
	    "default workers = online CPUs");
	ok(C.user[0] == '\0' && C.pidfile[0] == '\0' && C.htdocs[0] == '\0' &&
	    C.error_log[0] == '\0' && C.access_log[0] == '\0',
	    "default: no user, pidfile, htdocs, logs");
	is_int(C.strategy, LB_ROUND_ROBIN, "default strategy");
	is_int(C.health_interval_ms, 10000, "default health_interval");
	is_int(C.health_kind, HEALTH_TCP, "default health_check");
	is_int(C.connect_timeout_ms, 5000, "default connect_timeout");
	is_int(C.read_timeout_ms, 60000, "default read_timeout");
	is_int(C.client_timeout_ms, 30000, "default client_timeout");
	is_int(C.keepalive_timeout_ms, 75000, "default keepalive_timeout");
	is_int(C.worker_connections, 10000, "default worker_connections");
	ok(C.rate_limit_on && C.rate_limit_count == 100 &&
	    C.rate_limit_window_ms == 60000 && C.rate_limit_burst == 0 &&
	    C.rate_limit_mode == RL_MODE_ENFORCE &&
	    C.rate_limit_ipv6_prefix == 64 && C.rate_limit_exempt == NULL,
	    "default rate limit 100/60s enforce, /64");
	is_int(C.cache_size, 64 << 20, "default cache_size 64m");
	ok(C.php_mode == PHP_CGI && strcmp(C.php_cgi, "/usr/bin/php-cgi") == 0,
	    "default php cgi /usr/bin/php-cgi");
	is_int(C.php_timeout_ms, 30000, "default php_timeout");
	is_int(C.log_level, LOG_LVL_INFO, "default log_level");
	ok(strcmp(C.status_path, "/maitred/status") == 0,
	    "default status_path");
	ok(allowed(C.status_allow, "127.0.0.1") &&
	    allowed(C.status_allow, "::1") &&
	    !allowed(C.status_allow, "127.0.0.2"),
	    "default status_allow 127.0.0.1 ::1");
	conf_free(&C);
	conf_free(&C);
	ok(C.status_allow == NULL, "conf_free twice is safe");
}

static void
test_parsers(void)
{
	static const struct {
		const char	*s;
		long		 ms;
	} dur[] = {
		{ "500ms", 500 }, { "5s", 5000 }, { "2m", 120000 },
		{ "1h", 3600000 }, { "7", 7000 }, { "0", 0 },
		{ "", -1 }, { "5x", -1 }, { "-1", -1 }, { "+1", -1 },
		{ "1.5s", -1 }, { "s", -1 }, { "5 s", -1 }, { "5S", -1 },
		{ "9223372036854775807ms", LONG_MAX },
		{ "9223372036854775807s", -1 },
		{ "99999999999999999999", -1 },
	};
	static const struct {
		const char	*s;
		long long	 bytes;
	} sz[] = {
		{ "512", 512 }, { "64k", 65536 }, { "64M", 64 << 20 },
		{ "1g", 1 << 30 }, { "0", 0 }, { "", -1 }, { "k", -1 },
		{ "1t", -1 }, { "1kb", -1 }, { "-1", -1 }, { "1 k", -1 },
		{ "99999999999g", -1 },
	};
	enum lb_strategy	 st;
	size_t			 i, b;
	long			 ms;
	int			 r;

	for (i = 0; i < MTD_ARRLEN(dur); i++) {
		ms = -1;
		r = conf_parse_duration(dur[i].s, &ms);
		ok(dur[i].ms == -1 ? r == -1 : r == 0 && ms == dur[i].ms,
		    "duration \"%s\"", dur[i].s);
	}
	for (i = 0; i < MTD_ARRLEN(sz); i++) {
		b = 0;
		r = conf_parse_size(sz[i].s, &b);
		ok(sz[i].bytes == -1 ? r == -1 :
		    r == 0 && b == (size_t)sz[i].bytes, "size \"%s\"", sz[i].s);
	}
	ok(conf_parse_strategy("least-conn", &st) == 0 && st == LB_LEAST_CONN,
	    "strategy least-conn");
	ok(conf_parse_strategy("3", &st) == 0 && st == LB_WEIGHTED,
	    "strategy 3 (seed) is weighted");
	ok(conf_parse_strategy("2", &st) == 0 && st == LB_IP_HASH,
	    "strategy 2 (seed) is ip-hash");
	ok(conf_parse_strategy("4", &st) == -1 &&
	    conf_parse_strategy("random", &st) == -1 &&
	    conf_parse_strategy("", &st) == -1, "bad strategies");
	ok(strcmp(conf_strategy_str(LB_IP_HASH), "ip-hash") == 0 &&
	    strcmp(conf_strategy_str((enum lb_strategy)9), "?") == 0,
	    "conf_strategy_str");
}

static void
test_listen_forms(void)
{
	static const struct {
		const char	*s, *text, *err;
		int		 any;
	} t[] = {
		{ "8085", "0.0.0.0:8085", NULL, 1 },
		{ "*:80", "0.0.0.0:80", NULL, 1 },
		{ "127.0.0.1:8085", "127.0.0.1:8085", NULL, 0 },
		{ "[::1]:8085", "[::1]:8085", NULL, 0 },
		{ "[0:0::1]:1", "[::1]:1", NULL, 0 },
		{ "0", NULL, "port out of range", 0 },
		{ "65536", NULL, "port out of range", 0 },
		{ "8085;", NULL, "invalid port", 0 },
		{ "127.0.0.1:", NULL, "missing port", 0 },
		{ "::1:8085", NULL, "IPv6 address must be in brackets", 0 },
		{ "[::1]", NULL, "missing port", 0 },
		{ "[1.2.3.4]:80", NULL, "invalid address", 0 },
		{ "localhost:80", NULL, "invalid address", 0 },
		{ "300.0.0.1:80", NULL, "invalid address", 0 },
	};
	struct conf_listen	 l;
	const char		*err;
	size_t			 i;
	int			 r;

	for (i = 0; i < MTD_ARRLEN(t); i++) {
		err = NULL;
		r = conf_parse_listen(t[i].s, &l, &err);
		if (t[i].text != NULL)
			ok(r == 0 && strcmp(l.text, t[i].text) == 0 &&
			    l.any == t[i].any, "listen %s -> %s", t[i].s,
			    t[i].text);
		else
			ok(r == -1 && err != NULL &&
			    strcmp(err, t[i].err) == 0, "listen %s: %s",
			    t[i].s, t[i].err);
	}
	r = conf_parse_listen("[::1]:443", &l, &err);
	ok(r == 0 && l.ss.ss_family == AF_INET6 &&
	    l.sslen == sizeof(struct sockaddr_in6) &&
	    ntohs(((struct sockaddr_in6 *)&l.ss)->sin6_port) == 443,
	    "listen [::1]:443 sockaddr");
}

static void
test_all_directives(void)
{
	mkdir("site", 0755);
	is_int(load(
	    "# full configuration\n"
	    "\n"
	    "listen 127.0.0.1:9001\t# trailing comment\n"
	    "listen [::1]:9002\n"
	    "workers 3\n"
	    "user nobody\n"
	    "pidfile /run/x.pid\n"
	    "htdocs site\n"
	    "strategy weighted\n"
	    "health_interval 2s\n"
	    "health_check http /health\n"
	    "connect_timeout 500ms\n"
	    "read_timeout 1m\n"
	    "client_timeout 30\n"
	    "keepalive_timeout 0\n"
	    "worker_connections 1000000\n"
	    "\t rate_limit   50/10s  burst=5  \n"
	    "rate_limit_mode log\n"
	    "rate_limit_ipv6_prefix 56\n"
	    "rate_limit_exempt 10.0.0.0/8 ::1\n"
	    "rate_limit_exempt 192.0.2.1\n"
	    "cache_size 1M\n"
	    "php fastcgi 127.0.0.1:9000\n"
	    "php_timeout 1h\n"
	    "error_log /var/log/e.log\n"
	    "log_level warning\n"
	    "access_log off\n"
	    "status_path /st\n"
	    "status_allow 192.0.2.0/24\n"
	    "status_allow 2001:db8::/32\n"), 0, "a full configuration loads");
	ok(errbuf[0] == '\0', "and logs nothing");
	is_int(C.nlisten, 2, "two listen lines replace the default");
	ok(strcmp(C.listens[0].text, "127.0.0.1:9001") == 0 &&
	    strcmp(C.listens[1].text, "[::1]:9002") == 0, "listen texts");
	is_int(C.workers, 3, "workers");
	ok(strcmp(C.user, "nobody") == 0, "user");
	ok(strcmp(C.pidfile, "/run/x.pid") == 0, "absolute pidfile kept");
	ok(strncmp(C.htdocs, dir, strlen(dir)) == 0 &&
	    strcmp(C.htdocs + strlen(dir), "/site") == 0, "htdocs resolved");
	is_int(C.strategy, LB_WEIGHTED, "strategy");
	is_int(C.health_interval_ms, 2000, "health_interval");
	ok(C.health_kind == HEALTH_HTTP &&
	    strcmp(C.health_path, "/health") == 0, "health_check http");
	is_int(C.connect_timeout_ms, 500, "connect_timeout");
	is_int(C.read_timeout_ms, 60000, "read_timeout");
	is_int(C.client_timeout_ms, 30000, "client_timeout bare seconds");
	is_int(C.keepalive_timeout_ms, 0, "keepalive_timeout 0");
	is_int(C.worker_connections, 1000000, "worker_connections");
	ok(C.rate_limit_on && C.rate_limit_count == 50 &&
	    C.rate_limit_window_ms == 10000 && C.rate_limit_burst == 5,
	    "rate_limit 50/10s burst=5");
	is_int(C.rate_limit_mode, RL_MODE_LOG, "rate_limit_mode");
	is_int(C.rate_limit_ipv6_prefix, 56, "rate_limit_ipv6_prefix");
	ok(cidr_set_count(C.rate_limit_exempt) == 3 &&
	    allowed(C.rate_limit_exempt, "10.9.9.9") &&
	    allowed(C.rate_limit_exempt, "192.0.2.1") &&
	    !allowed(C.rate_limit_exempt, "192.0.2.2"),
	    "rate_limit_exempt, repeated");
	is_int(C.cache_size, 1 << 20, "cache_size");
	ok(C.php_mode == PHP_FASTCGI &&
	    strcmp(C.php_fastcgi, "127.0.0.1:9000") == 0, "php fastcgi");
	is_int(C.php_timeout_ms, 3600000, "php_timeout");
	ok(strcmp(C.error_log, "/var/log/e.log") == 0, "error_log");
	is_int(C.log_level, LOG_LVL_WARNING, "log_level");
	ok(C.access_log[0] == '\0', "access_log off");
	ok(strcmp(C.status_path, "/st") == 0, "status_path");
	ok(cidr_set_count(C.status_allow) == 2 &&
	    allowed(C.status_allow, "192.0.2.9") &&
	    allowed(C.status_allow, "2001:db8::5") &&
	    !allowed(C.status_allow, "127.0.0.1"),
	    "status_allow replaces the default, repeatable");
	conf_free(&C);

	is_int(load("listen 8085\nrate_limit off\nworkers auto\n"
	    "health_check tcp\nphp off\nphp_timeout 1\n"), 0,
	    "off forms load");
	ok(!C.rate_limit_on && C.php_mode == PHP_OFF &&
	    C.health_kind == HEALTH_TCP && C.listens[0].any &&
	    C.workers >= 1, "rate_limit off, php off, workers auto");
	conf_free(&C);
}

static void
test_relative_paths(void)
{
	char	 want[PATH_MAX + 64];

	put("be.cfg", "127.0.0.1:8081\n");
	is_int(load("pidfile run/m.pid\nerror_log ../logs/e.log\n"
	    "access_log a.log\nphp cgi bin/php-cgi\nbackends be.cfg\n"
	    "cache_rules /dev/null\n"), 0, "relative paths load");
	snprintf(want, sizeof(want), "%s/run/m.pid", dir);
	ok(strcmp(C.pidfile, want) == 0, "pidfile resolved: %s", C.pidfile);
	snprintf(want, sizeof(want), "%s/../logs/e.log", dir);
	ok(strcmp(C.error_log, want) == 0, "error_log resolved");
	snprintf(want, sizeof(want), "%s/a.log", dir);
	ok(strcmp(C.access_log, want) == 0, "access_log resolved");
	snprintf(want, sizeof(want), "%s/bin/php-cgi", dir);
	ok(C.php_mode == PHP_CGI && strcmp(C.php_cgi, want) == 0,
	    "php cgi path resolved");
	snprintf(want, sizeof(want), "%s/be.cfg", dir);
	ok(strcmp(C.backends_path, want) == 0 && C.nbackends == 1,
	    "backends resolved and read");
	ok(strcmp(C.cache_rules_path, "/dev/null") == 0 &&
	    C.ncache_rules == 0, "absolute, empty cache_rules");
	ok(strcmp(C.path, mainconf) == 0, "c->path is absolute");
	conf_free(&C);

	/* A relative main path: resolved by realpath(). */
	if (chdir(dir) == 0) {
		is_int(load_path("./sub/../maitred.conf"), -1,
		    "missing directory in the main path");
		ok(logged("maitred: %s/sub/../maitred.conf: No such file",
		    dir), "main file unreadable: absolute PATH: strerror");
		is_int(load_path("maitred.conf"), 0, "relative main path");
		ok(strcmp(C.path, mainconf) == 0, "c->path made absolute");
		conf_free(&C);
	}
}

static void
test_backends(void)
{
	const struct conf_backend	*b;

	put("backends.cfg",
	    "# seed\n"
	    "127.0.0.1:8081:3:5\n"
	    "\n"
	    "  [::1]:8082:2:4   # trailing\n"
	    "127.0.0.1:8083\n"
	    "127.0.0.1:8084:7\n"
	    "localhost:8085:1:1\n");
	is_int(load("backends backends.cfg\n"), 0, "backends.cfg loads");
	is_int(C.nbackends, 5, "five backends");
	b = C.backends;
	ok(strcmp(b[0].host, "127.0.0.1") == 0 && b[0].port == 8081 &&
	    b[0].weight == 3 && b[0].max_failures == 5 &&
	    strcmp(b[0].name, "127.0.0.1:8081") == 0 &&
	    b[0].ss.ss_family == AF_INET, "seed example 127.0.0.1:8081:3:5");
	ok(strcmp(b[1].host, "::1") == 0 && b[1].port == 8082 &&
	    b[1].weight == 2 && b[1].max_failures == 4 &&
	    strcmp(b[1].name, "[::1]:8082") == 0 &&
	    b[1].ss.ss_family == AF_INET6 &&
	    b[1].sslen == sizeof(struct sockaddr_in6), "IPv6 backend");
	ok(b[2].weight == 1 && b[2].max_failures == 3,
	    "host:port alone: weight 1, max_failures 3");
	ok(b[3].weight == 7 && b[3].max_failures == 3, "weight only");
	ok(strcmp(b[4].name, "localhost:8085") == 0 && b[4].sslen > 0 &&
	    (b[4].ss.ss_family == AF_INET || b[4].ss.ss_family == AF_INET6),
	    "localhost resolved");
	ok(ntohs(((struct sockaddr_in *)&b[0].ss)->sin_port) == 8081,
	    "port in the sockaddr");
	conf_free(&C);
}

static void
test_backend_errors(void)
{
	static const struct {
		const char	*line, *why;
	} t[] = {
		{ "127.0.0.1:99999:1:3", "port out of range" },
		{ "127.0.0.1:8082:x:3", "weight must be 1-1000" },
		{ "127.0.0.1:8082:0", "weight must be 1-1000" },
		{ "127.0.0.1:8082:1001", "weight must be 1-1000" },
		{ "127.0.0.1:8082:1:0", "max_failures must be 1-1000" },
		{ "127.0.0.1:8082:1:3:9", "too many fields" },
		{ "127.0.0.1", "missing port" },
		{ "127.0.0.1:", "missing port" },
		{ ":8080", "invalid host" },
		{ "300.1.2.3:80", "invalid IPv4 address" },
		{ "[::1:80", "invalid host" },
		{ "[::1]", "missing port" },
		{ "[1.2.3.4]:80", "not an IPv6 address" },
		{ "127.0.0.1:8081:1:3", "duplicate backend" },
	};
	char	 file[4096] = "127.0.0.1:8081:3:5\n";
	size_t	 i;

	for (i = 0; i < MTD_ARRLEN(t); i++) {
		strlcat(file, t[i].line, sizeof(file));
		strlcat(file, "\n", sizeof(file));
	}
	put("backends.cfg", file);
	is_int(load("backends backends.cfg\n"), -1, "bad backends rejected");
	for (i = 0; i < MTD_ARRLEN(t); i++)
		ok(logged("%s/backends.cfg:%zu: invalid backend \"%s\": %s\n",
		    dir, i + 2, t[i].line, t[i].why), "backend %s: %s",
		    t[i].line, t[i].why);
	ok(!logged("backends.cfg:1:"), "the good line is not reported");
	ok(C.backends == NULL && C.nbackends == 0, "freed on failure");
}

static void
test_too_many_backends(void)
{
	char	 file[8192] = "", line[64];
	int	 i;

	for (i = 0; i <= MTD_MAX_BACKENDS + 5; i++) {
		snprintf(line, sizeof(line), "127.0.0.1:%d\n", 1000 + i);
		strlcat(file, line, sizeof(file));
	}
	put("backends.cfg", file);
	is_int(load("backends backends.cfg\n"), -1, "70 backends rejected");
	ok(logged("backends.cfg:%d: too many backends (at most %d)",
	    MTD_MAX_BACKENDS + 1, MTD_MAX_BACKENDS), "too many backends");
	ok(!logged("backends.cfg:%d:", MTD_MAX_BACKENDS + 2),
	    "said once, not for every further line");
}

static void
test_blacklist(void)
{
	put("blacklist.txt", "# bad guys\n203.0.113.7\n198.51.100.0/24 # net\n"
	    "\n2001:db8::1\n2001:db8:1::/48\n");
	is_int(load("blacklist blacklist.txt\n"), 0, "blacklist loads");
	is_int(cidr_set_count(C.blacklist), 4, "four entries");
	ok(allowed(C.blacklist, "203.0.113.7") &&
	    allowed(C.blacklist, "198.51.100.99") &&
	    allowed(C.blacklist, "2001:db8:1:2::3") &&
	    !allowed(C.blacklist, "203.0.113.8"), "blacklist matches");
	conf_free(&C);

	put("blacklist.txt", "10.0.0.0/8\nnot-an-ip\n300.1.2.3\n"
	    "10.0.0.1/8\n10.0.0.0/33\n");
	is_int(load("blacklist blacklist.txt\n"), -1, "bad blacklist");
	ok(logged("%s/blacklist.txt:2: invalid address \"not-an-ip\": "
	    "invalid address\n", dir), "blacklist: word");
	ok(logged("%s/blacklist.txt:3: invalid address \"300.1.2.3\"", dir),
	    "blacklist: octet");
	ok(logged("blacklist.txt:4: invalid address \"10.0.0.1/8\": "
	    "host bits set\n"), "blacklist: host bits");
	ok(logged("blacklist.txt:5: invalid address \"10.0.0.0/33\": "
	    "invalid prefix length\n"), "blacklist: prefix");
	ok(C.blacklist == NULL, "freed on failure");
}

static void
test_cache_rules(void)
{
	const struct conf_cache_rule	*r;

	put("cache_rules.cfg", "# seed\n*.html:10:102400\n*.css:30:1048576\n"
	    "\n/*:5:51200\n/api/*:0:0\n/big/*:60:2m\n");
	is_int(load("cache_rules cache_rules.cfg\n"), 0, "cache rules load");
	is_int(C.ncache_rules, 5, "five rules");
	r = C.cache_rules;
	ok(strcmp(r[0].pattern, "*.html") == 0 && r[0].max_age == 10 &&
	    r[0].max_size == 102400, "*.html:10:102400");
	ok(strcmp(r[1].pattern, "*.css") == 0 && r[1].max_age == 30 &&
	    r[1].max_size == 1048576, "*.css:30:1048576");
	ok(strcmp(r[2].pattern, "/*") == 0 && r[2].max_age == 5 &&
	    r[2].max_size == 51200, "/*:5:51200");
	ok(strcmp(r[3].pattern, "/api/*") == 0 && r[3].max_age == 0 &&
	    r[3].max_size == 0, "/api/*:0:0");
	ok(r[4].max_size == 2 << 20, "size suffix in a rule");
	conf_free(&C);

	put("cache_rules.cfg", "/static/*:3600:1048576\n/api/*:soon:100\n"
	    ":1:1\n/x:1\n/y:-1:5\n/z:1:5q\n");
	is_int(load("cache_rules cache_rules.cfg\n"), -1, "bad cache rules");
	ok(logged("%s/cache_rules.cfg:2: invalid cache rule "
	    "\"/api/*:soon:100\": invalid max_age\n", dir), "rule: max_age");
	ok(logged("cache_rules.cfg:3: invalid cache rule \":1:1\": "
	    "empty pattern\n"), "rule: empty pattern");
	ok(logged("cache_rules.cfg:4: invalid cache rule \"/x:1\": "), "rule: "
	    "two fields");
	ok(logged("cache_rules.cfg:5: invalid cache rule \"/y:-1:5\": "
	    "invalid max_age\n"), "rule: negative age");
	ok(logged("cache_rules.cfg:6: invalid cache rule \"/z:1:5q\": "
	    "invalid max_size\n"), "rule: size");
	ok(C.cache_rules == NULL, "freed on failure");
}

static void
test_main_errors(void)
{
	bad("# x\nupstreem 127.0.0.1:8081\n", 2, "unknown directive "
	    "\"upstreem\"");
	bad("client_timeout 5x\n", 1, "client_timeout: invalid value \"5x\"");
	bad("workers abc\n", 1, "workers: invalid value \"abc\"");
	bad("workers 0\n", 1, "workers: invalid value \"0\": out of range");
	bad("workers 65\n", 1, "workers: invalid value \"65\"");
	bad("log_level chatty\n", 1, "log_level: invalid value \"chatty\"");
	bad("strategy random\n", 1, "strategy: invalid value \"random\"");
	bad("workers 1 2\n", 1, "workers: wrong number of arguments");
	bad("htdocs\n", 1, "htdocs: wrong number of arguments");
	bad("listen 8085;\n", 1, "listen: invalid value \"8085;\"");
	bad("listen 70000\n", 1,
	    "listen: invalid value \"70000\": port out of range");
	bad("listen 1\nlisten 1\n", 2,
	    "listen: invalid value \"1\": duplicate");
	bad("health_interval 0\n", 1, "health_interval: invalid value \"0\"");
	bad("read_timeout 3000000h\n", 1, "read_timeout: invalid value");
	bad("health_check http\n", 1,
	    "health_check: wrong number of arguments");
	bad("health_check tcp /x\n", 1,
	    "health_check: wrong number of arguments");
	bad("health_check http health\n", 1,
	    "health_check: invalid value \"health\"");
	bad("health_check udp\n", 1, "health_check: invalid value \"udp\"");
	bad("worker_connections 0\n", 1, "worker_connections: invalid value");
	bad("rate_limit 100\n", 1, "rate_limit: invalid value \"100\"");
	bad("rate_limit 0/60s\n", 1, "rate_limit: invalid value \"0/60s\"");
	bad("rate_limit 10/0s\n", 1, "rate_limit: invalid value \"10/0s\"");
	bad("rate_limit 10/1s burst\n", 1,
	    "rate_limit: invalid value \"burst\"");
	bad("rate_limit off burst=3\n", 1,
	    "rate_limit: wrong number of arguments");
	bad("rate_limit_mode block\n", 1,
	    "rate_limit_mode: invalid value \"block\"");
	bad("rate_limit_ipv6_prefix 129\n", 1,
	    "rate_limit_ipv6_prefix: invalid value \"129\"");
	bad("rate_limit_exempt 10.0.0.1/8\n", 1, "rate_limit_exempt: invalid "
	    "value \"10.0.0.1/8\": host bits set");
	bad("rate_limit_exempt\n", 1,
	    "rate_limit_exempt: wrong number of arguments");
	bad("cache_size 64x\n", 1, "cache_size: invalid value \"64x\"");
	bad("php cgi\n", 1, "php: wrong number of arguments");
	bad("php off now\n", 1, "php: wrong number of arguments");
	bad("php apache\n", 1, "php: invalid value \"apache\"");
	bad("php fastcgi 127.0.0.1\n", 1,
	    "php: invalid value \"127.0.0.1\": missing port");
	bad("php fastcgi ::1:9000\n", 1, "php: invalid value \"::1:9000\"");
	bad("status_path maitred\n", 1,
	    "status_path: invalid value \"maitred\": must start with '/'");
	bad("status_allow ::1 nobody\n", 1,
	    "status_allow: invalid value \"nobody\"");
	bad("user aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaa\n", 1, "user: invalid value");
}

static void
test_file_errors(void)
{
	char	 big[5000];

	bad("backends nothere.cfg\n", 1, "backends \"");
	ok(logged("%s:1: backends \"%s/nothere.cfg\": No such file or "
	    "directory\n", mainconf, dir), "missing seed file");
	bad("htdocs nodir\n", 1, "htdocs \"");
	ok(logged("%s:1: htdocs \"%s/nodir\": No such file or directory\n",
	    mainconf, dir), "missing htdocs");
	put("plain", "x");
	bad("htdocs plain\n", 1, "htdocs \"");
	ok(logged("%s:1: htdocs \"%s/plain\": Not a directory\n", mainconf,
	    dir), "htdocs is a file");

	memset(big, 'x', sizeof(big));
	memcpy(big, "user ", 5);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	bad(big, 1, "line too long");
	write_file("maitred.conf", "workers 2\nuser a\0b\nworkers 1\n", 27);
	is_int(load_path(mainconf), -1, "NUL byte rejected");
	ok(logged("%s:2: invalid NUL byte in line\n", mainconf), "NUL: line 2");
	write_file("blacklist.txt", "1.2.3.4\n5.6.7.8\0\n", 17);
	is_int(load("blacklist blacklist.txt\n"), -1, "NUL in a seed file");
	ok(logged("%s/blacklist.txt:2: invalid NUL byte in line\n", dir),
	    "NUL in blacklist.txt: line 2");

	is_int(load_path("/nonexistent/maitred.conf"), -1, "no main file");
	ok(logged("maitred: /nonexistent/maitred.conf: No such file or "
	    "directory\n"), "main file: PATH: strerror");
}

static void
test_all_errors_shown(void)
{
	put("backends.cfg", "127.0.0.1:1:1:1\nbad\n");
	is_int(load("workers abc\nupstreem x\nbackends backends.cfg\n"
	    "log_level loud\n"), -1, "several errors");
	ok(logged("%s:1: workers", mainconf), "first error");
	ok(logged("%s:2: unknown directive", mainconf), "second error");
	ok(logged("%s/backends.cfg:2: invalid backend \"bad\"", dir),
	    "error in a seed file");
	ok(logged("%s:4: log_level", mainconf), "error after the seed file");
	ok(C.backends == NULL && C.status_allow == NULL,
	    "everything freed on failure");
	conf_free(&C);
}

/* A self-signed CA certificate (P-256, valid for a century). */
static const char test_ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBlTCCATugAwIBAgIUXyoz+wlJ+2KCk6m9aGqWNUS9WLQwCgYIKoZIzj0EAwIw\n"
    "HzEdMBsGA1UEAwwUbWFpdHJlZCBjb25mX3Rlc3QgQ0EwIBcNMjYxMTI2MDcxNDI2\n"
    "WhgPMjEyNjExMDIwNzE0MjZaMB8xHTAbBgNVBAMMFG1haXRyZWQgY29uZl90ZXN0\n"
    "IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAELP6wOCGiPkUX++iJ9Z9XkaMF\n"
    "XbcBSds6Z6nU8ZBuiH4DLwJzm1gjZRJNRJo3Nej8Qt37x6PdDvASmYasz9zXraNT\n"
    "MFEwHQYDVR0OBBYEFFp6ofD9hx0bRsGHOa65EB2Z4M2wMB8GA1UdIwQYMBaAFFp6\n"
    "ofD9hx0bRsGHOa65EB2Z4M2wMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID\n"
    "SAAwRQIhAP7bkpgbwo7ld5e3cHBggHRbhLzI++ZeK0AjSPzNL+jBAiArVnMD5V01\n"
    "Uf6J5w0DtQy9ITXUgt4exZFo9eBHYYeWcQ==\n"
    "-----END CERTIFICATE-----\n";

static void
test_backend_tls(void)
{
	conf_defaults(&C);
	ok(!C.backend_tls && C.backend_tls_verify &&
	    C.backend_tls_ca[0] == '\0' && C.backend_tls_name[0] == '\0',
	    "default: backend_tls off, verify on, system store, host names");
	conf_free(&C);

	put("ca.pem", test_ca_pem);
	is_int(load("backend_tls on\nbackend_tls_ca ca.pem\n"
	    "backend_tls_name app.internal.example\n"), 0,
	    "backend_tls with a CA bundle and a name loads");
	ok(errbuf[0] == '\0', "and logs nothing");
	ok(C.backend_tls && C.backend_tls_verify &&
	    C.backend_tls_ctx != NULL, "client context built");
	ok(strncmp(C.backend_tls_ca, dir, strlen(dir)) == 0 &&
	    strcmp(C.backend_tls_ca + strlen(dir), "/ca.pem") == 0,
	    "backend_tls_ca resolved against the main file");
	ok(strcmp(C.backend_tls_name, "app.internal.example") == 0,
	    "backend_tls_name");
	conf_free(&C);
	ok(C.backend_tls_ctx == NULL, "conf_free frees the context");

	is_int(load("backend_tls on\nbackend_tls_verify off\n"
	    "backend_tls_name 2001:db8::1\n"), 0, "verify off, IPv6 name");
	ok(C.backend_tls_ctx != NULL && !C.backend_tls_verify,
	    "backend_tls_verify off");
	conf_free(&C);
	is_int(load("backend_tls off\nbackend_tls_ca ca.pem\n"), 0,
	    "backend_tls off: no context");
	ok(C.backend_tls_ctx == NULL, "  none built");
	conf_free(&C);

	bad("backend_tls yes\n", 1,
	    "backend_tls: invalid value \"yes\": expected \"on\" or \"off\"");
	bad("backend_tls on off\n", 1,
	    "backend_tls: wrong number of arguments");
	bad("backend_tls_verify 1\n", 1,
	    "backend_tls_verify: invalid value \"1\"");
	bad("backend_tls_name bad_name\n", 1,
	    "backend_tls_name: invalid value \"bad_name\"");
	bad("backend_tls_name 300.1.2.3\n", 1,
	    "backend_tls_name: invalid value \"300.1.2.3\"");
	bad("backend_tls_name fe80::zz\n", 1,
	    "backend_tls_name: invalid value \"fe80::zz\"");
	bad("# x\nbackend_tls_ca nope.pem\n", 2, "backend_tls_ca \"");
	ok(logged("nope.pem\": No such file or directory"),
	    "  names the file and the reason");
	put("junk.pem", "not a certificate\n");
	bad("backend_tls on\n\nbackend_tls_ca junk.pem\n", 3,
	    "backend_tls_ca ");
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path);
}

int
main(void)
{
	char	 tmpl[] = "/tmp/conf_test.XXXXXX";

	if (mkdtemp(tmpl) == NULL || realpath(tmpl, dir) == NULL ||
	    chdir(dir) == -1)
		abort();
	snprintf(mainconf, sizeof(mainconf), "%s/maitred.conf", dir);
	test_defaults();
	test_parsers();
	test_listen_forms();
	test_all_directives();
	test_relative_paths();
	test_backends();
	test_backend_errors();
	test_too_many_backends();
	test_blacklist();
	test_cache_rules();
	test_main_errors();
	test_file_errors();
	test_all_errors_shown();
	test_backend_tls();
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}

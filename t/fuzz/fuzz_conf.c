/*
 * libFuzzer target for shared/conf.c. The first byte of the input picks
 * what the rest is:
 *	0  the main file (maitred.conf) itself
 *	1  a backends.cfg named by a fixed main file
 *	2  a blacklist.txt named by a fixed main file
 *	3  a cache_rules.cfg named by a fixed main file
 * The rest is written to a scratch file and conf_load() reads it. It must
 * never crash or leak (LeakSanitizer checks every input), answer 0 or -1,
 * leave a freed configuration (no pointers) on -1, give values inside the
 * documented ranges on 0, and conf_free() twice must be safe.
 * conf_load() logs every error with log_warnx(): the error log goes to
 * /dev/null (log_open), not fd 2, which libFuzzer and the sanitizers
 * still need for their reports. fd 0 is /dev/null: nothing reads the
 * terminal even if a file names /dev/stdin.
 * Host names are never looked up in the DNS: getaddrinfo() is wrapped to
 * numeric hosts only, so that the fuzzer does not wait on the network.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

static char	 dir[64];
static char	 main_path[4][128];
static char	 input_path[128];

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
    struct addrinfo **);

/* Numeric hosts only ("localhost" from /etc/hosts too): no DNS. */
int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	static gai_fn	 real;
	struct addrinfo	 h;

	if (real == NULL)
		real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
	if (real == NULL)
		return EAI_FAIL;
	memset(&h, 0, sizeof(h));
	if (hints != NULL)
		h = *hints;
	if (node != NULL && strcmp(node, "localhost") == 0)
		node = "127.0.0.1";
	h.ai_flags |= AI_NUMERICHOST;
	return real(node, service, &h, res);
}

static void
write_file(const char *path, const void *p, size_t n)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd != -1);
	CHECK(n == 0 || write(fd, p, n) == (ssize_t)n);
	close(fd);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const directive[4] = {
		NULL, "backends", "blacklist", "cache_rules"
	};
	char	 text[512];
	int	 fd, i;

	(void)argc;
	(void)argv;
	if ((fd = open("/dev/null", O_RDONLY)) != -1) {
		dup2(fd, 0);
		close(fd);
	}
	CHECK(log_open("/dev/null") == 0);
	snprintf(dir, sizeof(dir), "/tmp/fuzz_conf.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(input_path, sizeof(input_path), "%s/input.cfg", dir);
	write_file(input_path, "", 0);
	for (i = 0; i < 4; i++) {
		snprintf(main_path[i], sizeof(main_path[i]), "%s/main%d.conf",
		    dir, i);
		if (i == 0)
			continue;
		snprintf(text, sizeof(text),
		    "listen 127.0.0.1:8085\nworkers 1\nhtdocs %s\n"
		    "%s input.cfg\n", dir, directive[i]);
		write_file(main_path[i], text, strlen(text));
	}
	return 0;
}

static void
check_freed(const struct conf *c)
{
	CHECK(c->backends == NULL && c->nbackends == 0);
	CHECK(c->cache_rules == NULL && c->ncache_rules == 0);
	CHECK(c->blacklist == NULL && c->rate_limit_exempt == NULL &&
	    c->status_allow == NULL);
}

#define TERMINATED(a)	CHECK(memchr((a), '\0', sizeof(a)) != NULL)

static void
check_valid(const struct conf *c)
{
	int	 i;

	CHECK(c->nlisten >= 1 && c->nlisten <= MTD_MAX_LISTEN);
	for (i = 0; i < c->nlisten; i++) {
		CHECK(c->listens[i].port >= 0 && c->listens[i].port <= 65535);
		TERMINATED(c->listens[i].text);
	}
	CHECK(c->workers >= 1 && c->workers <= MTD_MAX_WORKERS);
	CHECK(c->nbackends >= 0 && (c->nbackends == 0 || c->backends != NULL));
	for (i = 0; i < c->nbackends; i++) {
		const struct conf_backend *b = &c->backends[i];

		CHECK(b->port >= 1 && b->port <= 65535);
		CHECK(b->weight >= 1 && b->weight <= 1000);
		CHECK(b->max_failures >= 1);
		CHECK(b->sslen > 0 && b->sslen <= sizeof(b->ss));
		TERMINATED(b->host);
		TERMINATED(b->name);
	}
	CHECK(c->ncache_rules >= 0 &&
	    (c->ncache_rules == 0 || c->cache_rules != NULL));
	for (i = 0; i < c->ncache_rules; i++) {
		CHECK(c->cache_rules[i].max_age >= 0);
		TERMINATED(c->cache_rules[i].pattern);
	}
	CHECK((int)c->strategy >= LB_ROUND_ROBIN &&
	    c->strategy <= LB_WEIGHTED);
	CHECK(c->health_interval_ms > 0 && c->connect_timeout_ms > 0 &&
	    c->read_timeout_ms > 0 && c->client_timeout_ms > 0 &&
	    c->keepalive_timeout_ms >= 0 && c->php_timeout_ms > 0);
	CHECK(c->worker_connections >= 1);
	CHECK(!c->rate_limit_on || (c->rate_limit_count > 0 &&
	    c->rate_limit_window_ms > 0));
	TERMINATED(c->path);
	TERMINATED(c->user);
	TERMINATED(c->pidfile);
	TERMINATED(c->htdocs);
	TERMINATED(c->backends_path);
	TERMINATED(c->health_path);
	TERMINATED(c->blacklist_path);
	TERMINATED(c->cache_rules_path);
	TERMINATED(c->php_cgi);
	TERMINATED(c->php_fastcgi);
	TERMINATED(c->error_log);
	TERMINATED(c->access_log);
	TERMINATED(c->status_path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf	 c;
	const char		*path;
	int			 mode, rc;

	if (size < 1)
		return 0;
	mode = data[0] % 4;
	write_file(mode == 0 ? main_path[0] : input_path, data + 1, size - 1);
	path = main_path[mode];

	rc = conf_load(&c, path);
	CHECK(rc == 0 || rc == -1);
	if (rc == -1)
		check_freed(&c);
	else
		check_valid(&c);
	conf_free(&c);
	check_freed(&c);
	conf_free(&c);
	check_freed(&c);
	return 0;
}

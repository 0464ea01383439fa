/*
 * Unit tests for the master's health checker (master/health.c) against
 * real loopback sockets: a listener is up, a closed port goes down after
 * max_failures rounds and comes back when something listens again, an
 * HTTP check sends the exact request and treats 500 and silence as
 * failures. Driven by a poll() loop like the master's, 50 ms rounds.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "conf.h"
#include "health.h"
#include "tap.h"

static struct conf		 conf;
static struct conf_backend	 cbs[4];
static struct backend_table	*tbl;

static int64_t
ms_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A loopback listener on a kernel-chosen port (<port> = 0) or <port>. */
static int
listener(int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(*port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 16) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
setup(const int *ports, int n, enum health_kind kind, int max_failures,
    int timeout_ms)
{
	struct sockaddr_in	*sin;
	void			*mem;
	int			 i;

	memset(&conf, 0, sizeof(conf));
	memset(cbs, 0, sizeof(cbs));
	for (i = 0; i < n; i++) {
		snprintf(cbs[i].name, sizeof(cbs[i].name), "127.0.0.1:%d",
		    ports[i]);
		cbs[i].port = ports[i];
		cbs[i].weight = 1;
		cbs[i].max_failures = max_failures;
		sin = (struct sockaddr_in *)&cbs[i].ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(ports[i]);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		cbs[i].sslen = sizeof(*sin);
	}
	conf.backends = cbs;
	conf.nbackends = n;
	conf.health_interval_ms = 50;
	conf.health_kind = kind;
	strcpy(conf.health_path, "/health");
	conf.connect_timeout_ms = timeout_ms;
	mem = mmap(NULL, backend_region_size(&conf), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || backend_region_init(mem, &conf) == -1) {
		printf("Bail out! cannot set up a backend region\n");
		exit(1);
	}
	tbl = backend_table_attach(mem);
}

static void
teardown(void)
{
	health_stop();
	munmap(tbl, backend_region_size(&conf));
}

/* The master's loop, for at most <ms>, until <done>() says so. */
static int
drive(int ms, int (*done)(void))
{
	struct pollfd	 pfd[8];
	int64_t		 end = ms_now() + ms, left;
	int		 n, t;

	while (!done()) {
		if ((left = end - ms_now()) <= 0)
			return 0;
		n = health_pollfds(pfd, 8);
		t = health_timeout_ms();
		if (t < 0 || t > left)
			t = (int)left;
		poll(pfd, (nfds_t)n, t);
		health_process(pfd, n);
	}
	return 1;
}

static int
idle(void)
{
	struct pollfd	 pfd[8];

	return health_pollfds(pfd, 8) == 0;
}

static int
b1_down(void)
{
	return !backend_is_up(tbl, 1);
}

static int
b1_up(void)
{
	return backend_is_up(tbl, 1);
}

static int
never(void)
{
	return 0;
}

static void
test_none(void)
{
	struct pollfd	 pfd[1];

	setup(NULL, 0, HEALTH_TCP, 1, 100);
	health_init(&conf, tbl);
	is_int(health_timeout_ms(), -1, "no backends: no timeout");
	is_int(health_pollfds(pfd, 1), 0, "no backends: no fds");
	health_process(pfd, 0);
	teardown();
}

static void
test_tcp(void)
{
	struct backend_info	 bi;
	int			 ports[2] = { 0, 0 }, lfd, cfd, t;
	int64_t			 start;

	lfd = listener(&ports[0]);
	cfd = listener(&ports[1]);
	close(cfd);		/* a port nobody listens on */
	setup(ports, 2, HEALTH_TCP, 2, 200);
	start = ms_now();
	health_init(&conf, tbl);
	ok(drive(1000, idle), "tcp: first round at init, done quickly");
	backend_info(tbl, 0, &bi);
	ok(bi.up && bi.checks == 1 && bi.fails == 0,
	    "tcp: listener checked once, up");
	backend_info(tbl, 1, &bi);
	ok(bi.up && bi.checks == 1 && bi.fails == 1,
	    "tcp: closed port: one failure of two, still up");
	t = health_timeout_ms();
	ok(t >= 0 && t <= 50, "tcp: next round within the interval (%d)", t);
	ok(drive(1000, b1_down), "tcp: closed port down after two rounds");
	ok(ms_now() - start >= 45, "tcp: ... not before the second round");
	ok(backend_is_up(tbl, 0), "tcp: listener still up");
	backend_info(tbl, 0, &bi);
	ok(bi.checks >= 2, "tcp: listener probed every round");

	cfd = listener(&ports[1]);
	if (cfd == -1)
		ok(1, "tcp: # SKIP port taken meanwhile");
	else
		ok(drive(1000, b1_up), "tcp: listening again, back up");
	close(cfd);
	close(lfd);
	teardown();
}

/*
 * The HTTP side of the test: 200 for the exact request, 400 otherwise,
 * 500 on the second socket; the third one never accepts.
 */
static void
server(int fd200, int fd500, const char *expect200, const char *expect500)
{
	struct pollfd	 pfd[2] = {
		{ fd200, POLLIN, 0 }, { fd500, POLLIN, 0 }
	};
	char		 buf[1024];
	const char	*resp;
	size_t		 len;
	ssize_t		 r;
	int		 c, k;

	/* Never outlive the test, whatever happens to it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		if (poll(pfd, 2, -1) == -1)
			_exit(1);
		for (k = 0; k < 2; k++) {
			if (!(pfd[k].revents & POLLIN) ||
			    (c = accept(pfd[k].fd, NULL, NULL)) == -1)
				continue;
			len = 0;
			while (len < sizeof(buf) - 1 && (r = read(c, buf + len,
			    sizeof(buf) - 1 - len)) > 0) {
				len += (size_t)r;
				buf[len] = '\0';
				if (strstr(buf, "\r\n\r\n") != NULL)
					break;
			}
			buf[len] = '\0';
			if (k == 1)
				resp = strcmp(buf, expect500) == 0 ?
				    "HTTP/1.1 500 Oops\r\n\r\n" :
				    "HTTP/1.1 400 Bad\r\n\r\n";
			else
				resp = strcmp(buf, expect200) == 0 ?
				    "HTTP/1.1 200 OK\r\nContent-Length: 0"
				    "\r\n\r\n" : "HTTP/1.1 400 Bad\r\n\r\n";
			(void)!write(c, resp, strlen(resp));
			close(c);
		}
	}
}

static int
count_str(const char *hay, const char *needle)
{
	int	 n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

static int
http_settled(void)
{
	return !backend_is_up(tbl, 1) && !backend_is_up(tbl, 2);
}

static void
test_http(void)
{
	char			 exp200[256], exp500[256], log[4096];
	struct backend_info	 bi;
	int			 ports[3] = { 0, 0, 0 }, fds[3], k, saved;
	FILE			*f;
	size_t			 n;
	pid_t			 pid;

	for (k = 0; k < 3; k++)
		fds[k] = listener(&ports[k]);
	for (k = 0; k < 2; k++)
		snprintf(k ? exp500 : exp200, 256, "GET /health HTTP/1.1\r\n"
		    "Host: 127.0.0.1:%d\r\nConnection: close\r\n"
		    "User-Agent: maitred-health\r\n\r\n", ports[k]);
	if ((pid = fork()) == 0)
		server(fds[0], fds[1], exp200, exp500);
	setup(ports, 3, HEALTH_HTTP, 1, 150);

	f = tmpfile();
	saved = dup(2);
	fflush(stderr);
	dup2(fileno(f), 2);
	health_init(&conf, tbl);
	ok(drive(2000, http_settled), "http: 500 and silent ones down");
	drive(120, never);	/* two more rounds */
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(log, 1, sizeof(log) - 1, f);
	log[n] = '\0';
	fclose(f);

	backend_info(tbl, 0, &bi);
	ok(bi.up && bi.checks >= 2 && bi.failures == 0,
	    "http: 200 for the exact request: up (%llu checks)",
	    (unsigned long long)bi.checks);
	ok(!backend_is_up(tbl, 1) && strstr(log, "down: http status 500 "
	    "(1/1)") != NULL, "http: status 500 is a failure");
	ok(!backend_is_up(tbl, 2) &&
	    strstr(log, "down: no answer in time (1/1)") != NULL,
	    "http: no answer within the interval is a failure");
	ok(count_str(log, "down: no answer in time") == 1 &&
	    count_str(log, "down: http status 500") == 1 &&
	    count_str(log, "down:") == 2, "http: each transition logged once");
	if (!ok(strstr(log, " up") == NULL, "http: no flapping"))
		printf("# %s", log);

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (k = 0; k < 3; k++)
		close(fds[k]);
	teardown();
}

int
main(void)
{
	test_none();
	test_tcp();
	test_http();
	return done_testing();
}

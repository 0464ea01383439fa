/*
 * The master loop: signals (through a signalfd), worker respawns and the
 * health checker share one poll(). Signal meanings follow nginx:
 * TERM/INT fast stop, QUIT graceful stop, HUP reload, USR1 reopen logs,
 * CHLD reap and respawn.
 */
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "blacklist.h"
#include "cache.h"
#include "health.h"
#include "log.h"
#include "master.h"
#include "shm.h"
#include "signals.h"
#include "stats.h"

#define FAST_STOP_GRACE_MS	5000
#define MAX_POLL		(MTD_MAX_BACKENDS + 1)

enum stop_mode {
	RUNNING,
	STOP_FAST,
	STOP_GRACEFUL,
};

static struct conf	*current;
static struct conf	*current_heap;	/* current, when a reload made it */
static const char	*conf_file;
static const struct master_opts *opts;	/* command line, for reloads */
static int		 sigfd = -1;
static enum stop_mode	 stop_mode = RUNNING;
static struct timespec	 stop_started;
static int		 reload_pending; /* waits for old workers to exit */
/*
 * A reload waits for room in the retired-worker table. Unlike a reload
 * waiting on the backends table, it does not pause the blacklist watch:
 * the wait may last as long as a WebSocket.
 */
static int		 reload_waits_room;

/*
 * Command-line options win over the file, on a reload too: else a
 * master started with -p would refuse every reload ("listen" changed)
 * and -w or -s would silently revert to the file's values.
 */
void
master_apply_overrides(struct conf *c, const struct master_opts *o)
{
	int	 i;

	if (o->port != 0)
		for (i = 0; i < c->nlisten; i++)
			listeners_set_port(&c->listens[i], o->port);
	if (o->strategy != -1)
		c->strategy = (enum lb_strategy)o->strategy;
	if (o->workers != 0)
		c->workers = o->workers;
}

/* "127.0.0.1:8085, [::1]:8085" for the start-up line. */
static const char *
master_listen_text(const struct conf *c)
{
	static char	 buf[MTD_MAX_LISTEN * 80];
	int		 i;

	buf[0] = '\0';
	for (i = 0; i < c->nlisten; i++) {
		if (i > 0)
			strlcat(buf, ", ", sizeof(buf));
		strlcat(buf, c->listens[i].text, sizeof(buf));
	}
	return buf;
}

/*
 * Whether <b> listens where <a> does, in any order; <b>'s lines are then
 * put in <a>'s order, which is the order of the sockets already open
 * (the configuration rejects a duplicate address). "ssl" may change: a
 * worker decides TLS from its configuration, on the same socket.
 */
static int
same_listens(const struct conf *a, struct conf *b)
{
	struct conf_listen	 tmp;
	int			 i, j;

	if (a->nlisten != b->nlisten)
		return 0;
	for (i = 0; i < a->nlisten; i++) {
		for (j = i; j < b->nlisten; j++)
			if (strcmp(a->listens[i].text,
			    b->listens[j].text) == 0)
				break;
		if (j == b->nlisten)
			return 0;
		if (j != i) {
			tmp = b->listens[i];
			b->listens[i] = b->listens[j];
			b->listens[j] = tmp;
		}
	}
	return 1;
}

/*
 * Whether <b> can keep <a>'s backend table: the same backends, resolved
 * to the same addresses (a name may resolve elsewhere now), and the same
 * hash_secret (the table holds the key it gives).
 */
static int
same_backends(const struct conf *a, const struct conf *b)
{
	const struct conf_backend	*x, *y;
	int				 i;

	if (a->nbackends != b->nbackends ||
	    strcmp(a->hash_secret, b->hash_secret) != 0)
		return 0;
	for (i = 0; i < a->nbackends; i++) {
		x = &a->backends[i];
		y = &b->backends[i];
		if (strcmp(x->name, y->name) != 0 || x->weight != y->weight ||
		    x->max_failures != y->max_failures ||
		    x->sslen != y->sslen || memcmp(&x->ss, &y->ss, x->sslen))
			return 0;
	}
	return 1;
}

/*
 * What a reload can change without a restart: everything but the
 * listeners, the pidfile (main() holds it open and removes it at exit)
 * and the regions sized into the shared segment.
 */
static int
master_conf_compatible(const struct conf *old, struct conf *next)
{
	const char	*what = NULL;

	if (!same_listens(old, next))
		what = "listen";
	else if (strcmp(old->pidfile, next->pidfile) != 0)
		what = "pidfile";
	else if (old->cache_size != next->cache_size)
		what = "cache_size";
	else if (old->rate_limit_size != next->rate_limit_size)
		what = "rate_limit_size";
	else if (next->workers > MTD_MAX_WORKERS)
		what = "workers";
	if (what == NULL)
		return 0;
	log_warnx("reload: changing \"%s\" needs a restart, keeping the "
	    "running configuration", what);
	return -1;
}

static int
setup_signals(void)
{
	if ((sigfd = signals_open()) == -1)
		return -1;
	spawn_set_master_fd(sigfd);
	return 0;
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 +
	    (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Which strategy spreads requests over how many backends: -s included. */
static void
log_balancing(const struct conf *c)
{
	if (c->nbackends == 0) {
		/* An empty backends file still proxies: to nowhere, 503. */
		log_info(c->backends_path[0] != '\0' ? "no backends: a "
		    "request for no local file gets 503" : "no backends: "
		    "only local files are served");
		return;
	}
	log_info("balancing %d backend%s with %s%s%s", c->nbackends,
	    c->nbackends == 1 ? "" : "s", conf_strategy_str(c->strategy),
	    c->sticky_cookie[0] != '\0' ? ", sticky cookie " : "",
	    c->sticky_cookie);
}

static void
begin_stop(enum stop_mode mode)
{
	if (stop_mode == STOP_FAST || stop_mode == mode)
		return;
	stop_mode = mode;
	clock_gettime(CLOCK_MONOTONIC, &stop_started);
	health_stop();
	if (mode == STOP_FAST) {
		log_info("shutting down");
		spawn_signal_all(SIGTERM);
	} else {
		log_info("shutting down gracefully");
		spawn_signal_all(SIGQUIT);
	}
	/* No new connection may queue on a socket nobody will accept. */
	listeners_close();
}

int
master_check_logs(const struct conf *old, const struct conf *next)
{
	const char	*name[2] = { "error_log", "access_log" };
	const char	*now[2] = { next->error_log, next->access_log };
	int		 line[2] = {
		next->error_log_line, next->access_log_line
	};
	const char	*was[2];
	int		 i, rc = 0;

	was[0] = old != NULL ? old->error_log : NULL;
	was[1] = old != NULL ? old->access_log : NULL;
	for (i = 0; i < 2; i++) {
		if (was[i] != NULL && strcmp(was[i], now[i]) == 0)
			continue;
		if (log_path_usable(now[i]) == -1) {
			log_warnx("%s%s %s: %s", conf_at(next, line[i]),
			    name[i], now[i], strerror(errno));
			rc = -1;
		}
	}
	return rc;
}

/*
 * The logs are opened again by path, changed or not, as nginx does: a
 * rotation followed by a reload (systemctl reload, logrotate's
 * postrotate) must not leave the new workers writing to the rotated
 * file. They inherit the master's descriptors.
 */
static void
reload_logs(const struct conf *next)
{
	log_set_level(next->log_level);
	/*
	 * Only an unchanged path gets here failing (a changed one was
	 * checked first): a log directory moved away is no reason to
	 * refuse the rest of the reload, and the open file goes on.
	 */
	if (log_open(next->error_log) == -1)
		log_warnx("%serror_log %s: %s: still writing to the file "
		    "opened before", conf_at(next, next->error_log_line),
		    next->error_log, strerror(errno));
	if (access_log_open(next->access_log) == -1)
		log_warnx("%saccess_log %s: %s: still writing to the file "
		    "opened before", conf_at(next, next->access_log_line),
		    next->access_log, strerror(errno));
	master_chown_logs(next);
}

void
master_check_cache_rules(const struct conf *rules, const struct conf *sized)
{
	size_t	 max;
	int	 i;

	if (sized->cache_size == 0 || rules->ncache_rules == 0)
		return;
	max = cache_max_object(sized);
	for (i = 0; i < rules->ncache_rules; i++)
		if (rules->cache_rules[i].max_age > 0 &&
		    rules->cache_rules[i].max_size > max)
			log_warnx("%s:%d: rule \"%s\": max_size %zu is more "
			    "than the largest object a %zu-byte cache holds "
			    "(%zu bytes); larger responses will not be cached",
			    rules->cache_rules_path,
			    rules->cache_rules[i].line,
			    rules->cache_rules[i].pattern,
			    rules->cache_rules[i].max_size, sized->cache_size,
			    max);
}

/*
 * The backends tables are a double buffer: a backend change refills the
 * spare one, which workers retired before the previous backend change
 * may still use (a long request spanning two reloads). Refilling it
 * under them would corrupt their connection counts and locks, so the
 * reload waits until they have exited: 0 when it can go on now, -1 when
 * it is postponed (said in the log; reload_after_reap() runs it).
 */
static int
backends_switch_possible(void)
{
	int	 n = spawn_table_users(1 - shm_backends_index());

	if (n == 0)
		return 0;
	log_warnx("reload: backends changed again while %d worker(s) retired "
	    "before the previous backend change still run; the reload waits "
	    "until they have exited", n);
	reload_pending = 1;
	return -1;
}

/*
 * HUP: load and check the configuration; if it is valid, start a new
 * generation of workers with it and retire the old ones gracefully.
 * Settings sized into the shared segment or held by the master (listen,
 * pidfile, cache_size) need a restart: such a reload is refused with a
 * warning and the running configuration kept.
 * Backend changes are applied live, into the spare backends table.
 */
static void
reload(void)
{
	struct conf	*next;

	reload_pending = reload_waits_room = 0;
	log_info("reloading configuration %s", conf_file);
	if ((next = calloc(1, sizeof(*next))) == NULL) {
		log_warn("reload");
		return;
	}
	if (conf_load(next, conf_file) == -1) {
		free(next);		/* conf_load freed its contents */
		goto failed;
	}
	master_apply_overrides(next, opts);
	if (master_conf_compatible(current, next) == -1)
		goto refused;
	if (master_check_logs(current, next) == -1)
		goto failed_free;
	if (!spawn_can_retire()) {
		log_warnx("reload: too many retired workers still draining; "
		    "the reload waits until enough of them have exited");
		reload_waits_room = 1;
		goto refused;
	}
	if (!same_backends(current, next) && backends_switch_possible() == -1)
		goto refused;
	master_check_cache_rules(next, current);
	if (listeners_resize(next, next->workers) == -1)
		goto failed_free;
	/* New workers get a fresh backend table; old ones keep theirs. */
	if (!same_backends(current, next)) {
		if (shm_backends_switch(next) == -1) {
			/* Added slots would have no worker: close them. */
			if (next->workers > current->workers)
				(void)listeners_resize(current,
				    current->workers);
			goto failed_free;
		}
		log_info("backends changed: %d backend(s)", next->nbackends);
	}
	reload_logs(next);
	master_raise_nofile(next);
	/* Too big for the shared slots: the new workers' copy serves. */
	(void)blacklist_publish(next->blacklist);
	spawn_generation(next);
	health_stop();
	health_init(next, shm_backends());
	/*
	 * Retired workers have their own copy (fork); the master is done
	 * with the old one. The first comes from main() and is not ours.
	 */
	if (current_heap != NULL) {
		conf_free(current_heap);
		free(current_heap);
	}
	current = current_heap = next;
	blacklist_watch(current);
	log_info("configuration reloaded");
	log_balancing(current);
	return;
failed_free:
	conf_free(next);
	free(next);
failed:
	log_warnx("reload failed, keeping the running configuration");
	return;
refused:
	conf_free(next);
	free(next);
}

/*
 * A proxied connection needs a second descriptor (its backend socket),
 * a static one the file it sends, and pipes and buffer files come on
 * top: raise the soft limit of open files toward twice
 * worker_connections, as far as the hard limit allows (workers inherit
 * it). The usual 1024 of a shell or an init script would otherwise cap
 * a worker at some 400 proxied clients, the rest refused with 503.
 * Warn, as nginx does, when even the limit reached is below
 * worker_connections (and a small reserve).
 */
void
master_raise_nofile(const struct conf *c)
{
	struct rlimit	 rl;
	rlim_t		 want = (rlim_t)c->worker_connections * 2 + 512;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
		return;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max != RLIM_INFINITY &&
		    rl.rlim_max < want ? rl.rlim_max : want;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < (rlim_t)c->worker_connections + 256)
		log_warnx("worker_connections %d exceed the open file limit "
		    "%llu (ulimit -n): each worker serves fewer at once",
		    c->worker_connections, (unsigned long long)rl.rlim_cur);
}

/*
 * Workers drop to `user` and reopen the logs themselves on USR1: the
 * files the master (root) creates must stay writable for them.
 */
void
master_chown_logs(const struct conf *c)
{
	if (geteuid() != 0 || c->user[0] == '\0')
		return;
	if (c->error_log[0] != '\0' &&
	    chown(c->error_log, c->user_uid, c->user_gid) == -1)
		log_warn("chown %s", c->error_log);
	if (c->access_log[0] != '\0' && strcmp(c->access_log, "off") != 0 &&
	    strcmp(c->access_log, "stderr") != 0 &&
	    chown(c->access_log, c->user_uid, c->user_gid) == -1)
		log_warn("chown %s", c->access_log);
}

/*
 * After a reap: run a postponed reload once what blocked it is gone:
 * room in the retired-worker table for either, and for a backend change
 * no worker left on the spare backends table. A reload that waited only
 * for room must not also wait for old tunnels on that table; reload()
 * checks the table itself should the new file change the backends.
 */
static void
reload_after_reap(void)
{
	if ((!reload_pending && !reload_waits_room) ||
	    stop_mode != RUNNING || !spawn_can_retire())
		return;
	if (reload_pending && spawn_table_users(1 - shm_backends_index()) > 0)
		return;
	log_info("the retired workers that blocked it have exited: running "
	    "the postponed reload");
	reload();
}

static void
handle_signal(const struct signalfd_siginfo *si)
{
	switch (si->ssi_signo) {
	case SIGCHLD:
		spawn_reap(stop_mode != RUNNING);
		reload_after_reap();
		break;
	case SIGTERM:
	case SIGINT:
		begin_stop(STOP_FAST);
		break;
	case SIGQUIT:
		begin_stop(STOP_GRACEFUL);
		break;
	case SIGHUP:
		if (stop_mode == RUNNING)
			reload();
		break;
	case SIGUSR1:
		log_reopen();
		master_chown_logs(current);
		/* Logged after: the line proves the new file works. */
		log_info("reopening log files");
		spawn_signal_all(SIGUSR1);
		break;
	default:
		log_warnx("signal %s ignored: HUP reloads, USR1 reopens the "
		    "logs, QUIT stops gracefully, TERM at once",
		    sigabbrev_np((int)si->ssi_signo));
		break;
	}
}

static void
read_signals(void)
{
	struct signalfd_siginfo	 si;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si))
		handle_signal(&si);
}

static int
next_timeout(void)
{
	int	 t = -1, h;

	if (stop_mode == RUNNING) {
		t = spawn_tick();
		h = health_timeout_ms();
		if (h >= 0 && (t < 0 || h < t))
			t = h;
		h = blacklist_timeout_ms();
		if (h >= 0 && (t < 0 || h < t))
			t = h;
	} else if (stop_mode == STOP_FAST)
		t = 200;
	return t;
}

static void
print_totals(const struct master_opts *o)
{
	struct stats_total	 t;
	char			 line[512];

	stats_sum(&t);
	snprintf(line, sizeof(line), "totals: requests %llu, 1xx %llu, "
	    "2xx %llu, 3xx %llu, 4xx %llu, 5xx %llu, bytes in %llu, out %llu",
	    (unsigned long long)t.requests,
	    (unsigned long long)t.status[1], (unsigned long long)t.status[2],
	    (unsigned long long)t.status[3], (unsigned long long)t.status[4],
	    (unsigned long long)t.status[5], (unsigned long long)t.bytes_in,
	    (unsigned long long)t.bytes_out);
	log_info("%s", line);
	if (!o->daemonize) {
		printf("%s\n", line);
		fflush(stdout);
	}
}

static void
master_loop(void)
{
	struct pollfd	 pfd[MAX_POLL];
	int		 n, timeout;

	for (;;) {
		if (stop_mode != RUNNING && spawn_alive() == 0)
			break;
		if (stop_mode == STOP_FAST &&
		    ms_since(&stop_started) > FAST_STOP_GRACE_MS)
			spawn_signal_all(SIGKILL);
		pfd[0].fd = sigfd;
		pfd[0].events = POLLIN;
		n = 1;
		if (stop_mode == RUNNING)
			n += health_pollfds(pfd + 1, MAX_POLL - 1);
		timeout = next_timeout();
		if (poll(pfd, (nfds_t)n, timeout) == -1 && errno != EINTR)
			fatal("poll");
		if (pfd[0].revents & POLLIN)
			read_signals();
		if (stop_mode == RUNNING)
			health_process(pfd + 1, n - 1);
		if (stop_mode == RUNNING && !reload_pending)
			blacklist_tick(current);
	}
}

int
master_run(struct conf *c, const char *path, const struct master_opts *o)
{
	current = c;
	conf_file = path;
	opts = o;
	if (setup_signals() == -1)
		fatal("signalfd");
	spawn_init(c);
	if (spawn_all() == -1)
		fatalx("cannot start workers");
	log_info("maitred %s started: %d worker%s, listening on %s",
	    MTD_VERSION, c->workers, c->workers == 1 ? "" : "s",
	    master_listen_text(c));
	log_balancing(c);
	health_init(current, shm_backends());
	blacklist_watch(current);
	master_loop();
	health_stop();
	spawn_reap(1);
	print_totals(o);
	if (current_heap != NULL) {
		conf_free(current_heap);
		free(current_heap);
	}
	return 0;
}

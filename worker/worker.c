/*
 * Worker process: entered right after fork(). Drops privileges, builds its
 * event loop over the listening sockets of its slot, and serves until the
 * master tells it to stop: TERM/INT at once, QUIT after in-flight requests
 * finish. Signals arrive through a signalfd so that nothing runs in
 * signal-handler context.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/unistd.h>

#include "conn.h"
#include "docindex.h"
#include "ev.h"
#include "fcgipool.h"
#include "log.h"
#include "mime.h"
#include "php.h"
#include "proxy.h"
#include "shm.h"
#include "signals.h"
#include "static.h"
#include "stats.h"
#include "title.h"
#include "worker.h"

#ifdef MTD_TEST_HOOKS
#include <sanitizer/lsan_interface.h>
#endif

const struct conf	*wconf;
int			 wslot;
int			 worker_draining;
int			 worker_conn_limit;

static struct listener_io {
	struct ev_io	 io;
	int		 active;
}			 lios[MTD_MAX_LISTEN];
static int		 nlios;
static struct ev_io	 sig_io;
static struct ev_timer	 resume_timer;
static struct ev_timer	 drain_timer;

static void
listeners_enable(int on)
{
	int	 i;

	for (i = 0; i < nlios; i++) {
		if (lios[i].active == on || lios[i].io.fd == -1)
			continue;
		if (on)
			ev_add(&lios[i].io, EPOLLIN | EPOLLEXCLUSIVE);
		else
			ev_del(&lios[i].io);
		lios[i].active = on;
	}
}

void
worker_accept_pause(uint64_t ms)
{
	listeners_enable(0);
	if (ms > 0)
		ev_timer_set(&resume_timer, ms);
}

void
worker_accept_resume(void)
{
	if (worker_draining || conn_count() >= worker_conn_limit)
		return;
	listeners_enable(1);
	/* Connections may be queued already: edge-triggered or not, look. */
	if (nlios > 0)
		conn_accept(&lios[0].io, EPOLLIN);
}

static void
resume_cb(struct ev_timer *t)
{
	worker_accept_resume();
}

static uint64_t		 drain_started;	/* ev_now_ms() at QUIT */

/*
 * Every 100 ms while draining: done when the last connection is gone,
 * or when worker_shutdown_timeout has run out (a WebSocket tunnel or an
 * endless download would otherwise keep an old worker, and its memory,
 * for as long as the client likes).
 */
static void
drain_check(struct ev_timer *t)
{
	int	 limit = wconf->worker_shutdown_timeout_ms;

	if (conn_count() == 0) {
		ev_break();
		return;
	}
	if (limit > 0 && ev_now_ms() - drain_started >= (uint64_t)limit) {
		log_warnx("worker_shutdown_timeout: closing %d connection(s) "
		    "still open", conn_count());
		ev_break();
		return;
	}
	ev_timer_set(&drain_timer, 100);
}

static void
worker_stop_accepting(void)
{
	int	 i;

	listeners_enable(0);
	for (i = 0; i < nlios; i++) {
		conn_accept_queued(&lios[i].io);
		close(lios[i].io.fd);
		lios[i].io.fd = -1;
	}
}

static void
signal_cb(struct ev_io *io, uint32_t events)
{
	struct signalfd_siginfo	 si;

	while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			conn_close_all();
			ev_break();
			return;
		case SIGQUIT:
			if (worker_draining)
				break;
			worker_draining = 1;
			drain_started = ev_now_ms();
			worker_stop_accepting();
			conn_drain();
			fcgi_pool_flush();	/* free the PHP-FPM children */
			drain_check(&drain_timer);
			break;
		case SIGUSR1:
			log_reopen();
			break;
		case SIGCHLD:
			php_reap();
			break;
		default:
			break;
		}
	}
}

static void
setup_signals(void)
{
	if ((sig_io.fd = signals_open()) == -1)
		fatal("signalfd");
	sig_io.cb = signal_cb;
	if (ev_add(&sig_io, EPOLLIN) == -1)
		fatal("epoll add signalfd");
}

/*
 * Started as root with a `user`: become that user for good. conf_load()
 * resolved the name, so the ids are known to be valid.
 */
static void
drop_privileges(const struct conf *c)
{
	if (geteuid() != 0 || c->user[0] == '\0')
		return;
	if (initgroups(c->user, c->user_gid) == -1 ||
	    setresgid(c->user_gid, c->user_gid, c->user_gid) == -1 ||
	    setresuid(c->user_uid, c->user_uid, c->user_uid) == -1)
		fatal("cannot drop privileges to %s", c->user);
	if (setuid(0) != -1 || geteuid() != c->user_uid)
		fatalx("privileges not dropped to %s", c->user);
}

/* The policy the worker was born with, for the children it starts. */
static int			 inherited_policy = -1;
static struct sched_param	 inherited_param;

/*
 * "worker_sched batch": a worker's wakeups (a request or a backend's answer
 * arriving) no longer preempt the task running on that core, often the
 * backend or the client that is about to send more. The worker then runs a
 * little later with several events ready instead of once per event: on a
 * box shared with a backend that reads a file per request, this cut
 * context switches and raised proxied small-response throughput by 12-25%
 * (no change against a trivial backend; t/bench/RESULTS.md). The nice weight
 * is unchanged, so the worker gets the same CPU share. "normal" keeps what
 * the master was started with.
 */
static void
set_sched_policy(int batch)
{
	struct sched_param	 sp = { .sched_priority = 0 };

	if (!batch)
		return;
	inherited_policy = sched_getscheduler(0);
	if (inherited_policy == -1 ||
	    sched_getparam(0, &inherited_param) == -1) {
		inherited_policy = -1;
		return;
	}
	if (sched_setscheduler(0, SCHED_BATCH, &sp) == -1) {
		log_warn("worker_sched batch: sched_setscheduler");
		inherited_policy = -1;
	}
}

/*
 * In a child about to exec (php-cgi): back to the master's policy, since
 * SCHED_RESET_ON_FORK only resets the real-time ones.
 */
void
worker_sched_restore(void)
{
	if (inherited_policy != -1)
		(void)sched_setscheduler(0, inherited_policy, &inherited_param);
}

/*
 * worker_connections, but never so many that a file, an upstream socket
 * or a PHP pipe can no longer be opened: keep a quarter of the descriptor
 * limit (at most 256) in reserve.
 */
static int
conn_limit(int configured)
{
	struct rlimit	 rl;
	rlim_t		 reserve, usable;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
		return configured;
	reserve = MTD_MIN(rl.rlim_cur / 4, 256);
	usable = rl.rlim_cur - reserve;
	return (rlim_t)configured < usable ? configured : (int)usable;
}

/*
 * The listening sockets are in the order of wconf->listens: tell whether
 * <io> (one of lios[]) terminates TLS.
 */
int
worker_listener_ssl(const struct ev_io *io)
{
	const struct listener_io	*l = (const struct listener_io *)io;
	ptrdiff_t			 i = l - lios;

	return i >= 0 && i < nlios && i < wconf->nlisten &&
	    wconf->listens[i].ssl;
}

static void
setup_listeners(const int *fds, int nfds)
{
	int	 i;

	for (i = 0; i < nfds && i < MTD_MAX_LISTEN; i++) {
		lios[i].io.fd = fds[i];
		lios[i].io.cb = conn_accept;
		lios[i].active = 0;
	}
	nlios = i;
	listeners_enable(1);
}

/*
 * Sanitizer builds: _exit() skips LeakSanitizer's exit check, so a
 * worker's leaks would never be seen. Check before leaving.
 */
static void
worker_leak_check(void)
{
#ifdef MTD_TEST_HOOKS
	__lsan_do_leak_check();
#endif
}

void
worker_main(const struct conf *c, int slot, const int *fds, int nfds)
{
	pid_t	 master = getppid();

	wconf = c;
	wslot = slot;
	/* Die with the master: an orphan worker would hold the port. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		_exit(0);
	title_set("maitred: worker process");
	set_sched_policy(c->worker_sched_batch);
	stats_attach(slot);
	proxy_init();
	if (ev_init() == -1)
		fatal("epoll_create");
	setup_signals();
	/*
	 * htdocs was there at load; gone now (a deploy moving it): serve
	 * no file rather than exit, which would only respawn workers that
	 * fail the same way. A reload opens it again.
	 */
	if (static_init(c->htdocs) == -1)
		log_warnx("worker: no local file is served until the next "
		    "reload");
	mime_init(NULL, c->charset);
	drop_privileges(c);
	/* A change of uid clears the death signal: set it again. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		_exit(0);
	static_check_access();
	/* As the worker's user: it indexes what that user can open. */
	if (htdocs_fd != -1)
		docindex_open(htdocs_fd);
	worker_conn_limit = conn_limit(c->worker_connections);
	ev_timer_init(&resume_timer, resume_cb);
	ev_timer_init(&drain_timer, drain_check);
	setup_listeners(fds, nfds);
	ev_run();
	conn_close_all();
	docindex_close();
	worker_leak_check();
	_exit(0);
}

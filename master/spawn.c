/*
 * Worker slot table (Apache's scoreboard, nginx's process array): one slot
 * per worker, each with its pid and crash history. A worker that dies is
 * respawned at once into its slot; one that keeps dying young is
 * respawned with exponential back-off, said once in the log. On reload the
 * current workers are "retired" (QUIT, never respawned) and a new
 * generation starts in the same slots.
 */
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "health.h"
#include "log.h"
#include "master.h"
#include "shm.h"
#include "worker.h"

/*
 * A slot's SO_REUSEPORT socket keeps queueing connections while its worker
 * is away, so back-off must only catch real crash loops (a worker dying
 * right after start), never an operator's or OOM killer's kill; and while
 * a slot backs off, its sockets are closed when another slot can serve
 * (the connections already queued there are reset, or moved to the other
 * sockets when the net.ipv4.tcp_migrate_req sysctl is 1).
 */
#define QUICK_DEATH_MS	1000	/* dying sooner than this counts as a crash */
#define BACKOFF_AFTER	5	/* quick deaths in a row before backing off */
#define BACKOFF_MAX_S	30
#define MAX_RETIRED	MTD_MAX_RETIRED

struct slot {
	pid_t		 pid;		/* 0: empty */
	int		 table;		/* backends table it was forked with */
	uint64_t	 started_ms;
	int		 quick_deaths;
	uint64_t	 respawn_at_ms;	/* 0: not waiting */
};

static const struct conf	*sconf;
static struct slot		 slots[MTD_MAX_WORKERS];
static int			 nslots;
/* Retired workers (QUIT sent), draining; never respawned. */
static struct retiree {
	pid_t		 pid;
	int		 table;		/* backends table it still uses */
}				 retired[MAX_RETIRED];
static int			 nretired;
static int			 master_fds[4];
static int			 nmaster_fds;

static uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
spawn_set_master_fd(int fd)
{
	if (nmaster_fds < (int)MTD_ARRLEN(master_fds))
		master_fds[nmaster_fds++] = fd;
}

void
spawn_init(const struct conf *c)
{
	sconf = c;
	nslots = c->workers;
}

/*
 * Slot <i> has no live worker of the current generation: say so in the
 * segment, or the status page would list a dead or retired pid.
 */
static void
slot_clear(int i)
{
	slots[i].pid = 0;
	atomic_store(&shm_stats_slot(i)->pid, 0);
}

static int
spawn_slot(int i)
{
	pid_t	 pid;
	int	 k;

	if (listeners_resume(sconf, i) == -1) {
		slots[i].respawn_at_ms = now_ms() + 1000;
		return -1;
	}
	switch ((pid = fork())) {
	case -1:
		log_warn("fork worker %d", i);
		slots[i].respawn_at_ms = now_ms() + 1000;
		return -1;
	case 0:
		for (k = 0; k < nmaster_fds; k++)
			close(master_fds[k]);
		health_stop();	/* the master's probe sockets */
		listeners_keep_only(i);
		worker_main(sconf, i, listeners_of(i), listeners_count());
	default:
		break;
	}
	slots[i].pid = pid;
	/* What the child's proxy_init() reads: only we change it. */
	slots[i].table = shm_backends_index();
	slots[i].started_ms = now_ms();
	slots[i].respawn_at_ms = 0;
	atomic_store(&shm_stats_slot(i)->pid, pid);
	return 0;
}

int
spawn_all(void)
{
	int	 i;

	for (i = 0; i < nslots; i++)
		if (spawn_slot(i) == -1)
			return -1;
	return 0;
}

static int
retired_remove(pid_t pid)
{
	int	 i;

	for (i = 0; i < nretired; i++)
		if (retired[i].pid == pid) {
			retired[i] = retired[--nretired];
			return 1;
		}
	return 0;
}

/*
 * A retired worker that did not exit by itself: a crash, or a kill from
 * outside, cut what it was still serving; say so, as for a current one.
 */
static void
retired_died(pid_t pid, int status)
{
	if (WIFSIGNALED(status))
		log_warnx("retired worker (pid %d) exited on signal %d",
		    (int)pid, WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warnx("retired worker (pid %d) exited with status %d",
		    (int)pid, WEXITSTATUS(status));
}

static int
slot_of(pid_t pid)
{
	int	 i;

	for (i = 0; i < nslots; i++)
		if (slots[i].pid == pid)
			return i;
	return -1;
}

static int
another_slot_serves(int i)
{
	int	 j;

	for (j = 0; j < nslots; j++)
		if (j != i && slots[j].pid > 0)
			return 1;
	return 0;
}

/* Decide when slot <i> comes back, and say why it went. */
static void
slot_died(int i, int status, int stopping)
{
	struct slot	*s = &slots[i];
	uint64_t	 now = now_ms();
	int		 delay;
	pid_t		 pid = s->pid;

	slot_clear(i);
	atomic_fetch_add(&shm_stats_slot(i)->restarts, 1);
	if (stopping)
		return;
	if (WIFSIGNALED(status))
		log_warnx("worker %d (pid %d) exited on signal %d, "
		    "respawning", i, (int)pid, WTERMSIG(status));
	else
		log_warnx("worker %d (pid %d) exited with status %d, "
		    "respawning", i, (int)pid, WEXITSTATUS(status));
	if (now - s->started_ms < QUICK_DEATH_MS)
		s->quick_deaths++;
	else
		s->quick_deaths = 0;
	if (s->quick_deaths < BACKOFF_AFTER) {
		s->respawn_at_ms = now;
		return;
	}
	delay = 1 << MTD_MIN(s->quick_deaths - BACKOFF_AFTER, 5);
	delay = MTD_MIN(delay, BACKOFF_MAX_S);
	if (s->quick_deaths == BACKOFF_AFTER || delay < BACKOFF_MAX_S)
		log_warnx("worker %d keeps dying, respawning in %d s", i,
		    delay);
	s->respawn_at_ms = now + (uint64_t)delay * 1000;
	if (another_slot_serves(i) && !listeners_suspended(i)) {
		listeners_suspend(i);
		log_warnx("worker %d: its listening sockets are closed until "
		    "it is back; the other workers take its connections", i);
	}
}

void
spawn_reap(int stopping)
{
	pid_t	 pid;
	int	 status, i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			cache_forget_filler(shm_cache(), pid);
		/* What it held, if it died holding anything. */
		backend_forget_process(shm_backends_at(0), pid);
		backend_forget_process(shm_backends_at(1), pid);
		stats_forget_process(pid);
		if (retired_remove(pid)) {
			if (!stopping)
				retired_died(pid, status);
			continue;
		}
		if ((i = slot_of(pid)) != -1)
			slot_died(i, status, stopping);
	}
}

int
spawn_tick(void)
{
	uint64_t	 now = now_ms(), next = 0;
	int		 i;

	for (i = 0; i < nslots; i++) {
		if (slots[i].pid != 0 || slots[i].respawn_at_ms == 0)
			continue;
		if (slots[i].respawn_at_ms <= now)
			spawn_slot(i);
		else if (next == 0 || slots[i].respawn_at_ms < next)
			next = slots[i].respawn_at_ms;
	}
	return next ? (int)(next - now) : -1;
}

void
spawn_signal_all(int sig)
{
	int	 i;

	for (i = 0; i < nslots; i++)
		if (slots[i].pid > 0)
			kill(slots[i].pid, sig);
	for (i = 0; i < nretired; i++)
		kill(retired[i].pid, sig);
}

int
spawn_alive(void)
{
	int	 i, n = nretired;

	for (i = 0; i < nslots; i++)
		if (slots[i].pid > 0)
			n++;
	return n;
}

/*
 * Whether spawn_generation() can keep track of every worker it retires;
 * an untracked retiree would keep serving with its old configuration.
 */
int
spawn_can_retire(void)
{
	int	 i, n = 0;

	for (i = 0; i < nslots; i++)
		if (slots[i].pid > 0)
			n++;
	return nretired + n <= MAX_RETIRED;
}

/*
 * How many live workers, current or retired, use backends table <table>:
 * while any does, the master must not refill it.
 */
int
spawn_table_users(int table)
{
	int	 i, n = 0;

	for (i = 0; i < nslots; i++)
		if (slots[i].pid > 0 && slots[i].table == table)
			n++;
	for (i = 0; i < nretired; i++)
		if (retired[i].table == table)
			n++;
	return n;
}

void
spawn_generation(const struct conf *c)
{
	int	 i;

	for (i = 0; i < nslots; i++) {
		if (slots[i].pid > 0 && nretired < MAX_RETIRED) {
			kill(slots[i].pid, SIGQUIT);
			retired[nretired].pid = slots[i].pid;
			retired[nretired++].table = slots[i].table;
		}
		/* Retired workers still count into their slot, unlisted. */
		slot_clear(i);
	}
	sconf = c;
	nslots = c->workers;
	for (i = 0; i < nslots; i++) {
		memset(&slots[i], 0, sizeof(slots[i]));
		spawn_slot(i);
	}
}

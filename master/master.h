/*
 * The master process: listeners, worker slots, signals, health checks.
 * It never serves traffic; it sleeps in poll() on a signalfd, the health
 * probes and the next respawn or probe deadline.
 */
#ifndef MASTER_H
#define MASTER_H

#include <sys/types.h>

#include "conf.h"

struct master_opts {
	int	 daemonize;
	int	 foreground_tty;	/* print totals on stdout at exit */
	/* Command-line overrides, applied at start and on every reload. */
	int	 port;			/* -p, 0: the file's */
	int	 strategy;		/* -s, -1: the file's */
	int	 workers;		/* -w, 0: the file's */
};

/* listen.c: one socket per (worker slot, listen address), SO_REUSEPORT. */
void	 listeners_set_port(struct conf_listen *l, int port);
int	 listeners_open(const struct conf *c, int nslots);
int	 listeners_resize(const struct conf *c, int nslots);
void	 listeners_close(void);
/* The sockets of <slot> (nlisten of them). */
const int *listeners_of(int slot);
int	 listeners_count(void);
/* Close every listening socket except <slot>'s (in a new worker). */
void	 listeners_keep_only(int slot);
/*
 * Close slot <slot>'s sockets while it has no worker, so that the kernel
 * spreads new connections over the other slots instead of queueing them
 * where nobody accepts; reopen them before its worker comes back (0, or
 * -1 logged). Master only.
 */
void	 listeners_suspend(int slot);
int	 listeners_suspended(int slot);
int	 listeners_resume(const struct conf *c, int slot);

/* spawn.c: worker slot table. */
void	 spawn_init(const struct conf *c);
int	 spawn_all(void);
void	 spawn_reap(int stopping);
/* Respawn slots whose back-off expired; ms until the next one, or -1. */
int	 spawn_tick(void);
void	 spawn_signal_all(int sig);
int	 spawn_alive(void);
/* 0 when too many retired workers still drain for another reload. */
int	 spawn_can_retire(void);
/* Live workers (current or retired) that use backends table <table>. */
int	 spawn_table_users(int table);
/* Reload: retire every current worker (QUIT) and start new ones. */
void	 spawn_generation(const struct conf *c);
/* Fds the master owns that a worker must close after fork. */
void	 spawn_set_master_fd(int fd);

/* blacklist.c: the blacklist file, watched for edits. */
/* Remember the blacklist file of <c> as read (start, reload). */
void	 blacklist_watch(const struct conf *c);
/* ms until blacklist_tick() wants to look again; -1: no blacklist. */
int	 blacklist_timeout_ms(void);
/* When due, look at the file; a settled change is read into <c>. */
void	 blacklist_tick(struct conf *c);

/* master.c */
/* Apply the command-line overrides of <o> (-p, -s, -w) to <c>. */
void	 master_apply_overrides(struct conf *c, const struct master_opts *o);
void	 master_chown_logs(const struct conf *c);
/* Raise RLIMIT_NOFILE for <c>'s worker_connections; warn if short. */
void	 master_raise_nofile(const struct conf *c);
/*
 * Whether the log files of <next> that differ from <old>'s (all of them
 * when <old> is NULL: -t) can be opened; each failure is logged. 0 or -1.
 */
int	 master_check_logs(const struct conf *old, const struct conf *next);
/*
 * Warn about cache rules whose max_size the cache sized by <sized>
 * cannot hold (an object lives in one stripe of the shared cache).
 */
void	 master_check_cache_rules(const struct conf *rules,
	    const struct conf *sized);
int	 master_run(struct conf *c, const char *conf_path,
	    const struct master_opts *o);

#endif /* MASTER_H */

/*
 * Worker process: post-fork setup, the event loop, graceful drain.
 * Globals here are per-process and read-only after worker_main() starts
 * the loop.
 */
#ifndef WORKER_H
#define WORKER_H

#include "conf.h"

struct listener {
	int	 fd;
	char	 text[80];
};

extern const struct conf	*wconf;		/* this worker's configuration */
extern int			 wslot;		/* slot number */
extern int			 htdocs_fd;	/* -1: no local files */
extern int			 worker_draining;
extern int			 worker_conn_limit;	/* see conn_limit() */

/* Entered in the child after fork(); never returns. */
void	 worker_main(const struct conf *c, int slot, const int *fds, int nfds)
	    __attribute__((noreturn));
/* Pause/resume accepting (worker_connections, EMFILE). */
void	 worker_accept_pause(uint64_t ms);
void	 worker_accept_resume(void);
/* In a forked child: the scheduling policy the master had (worker_sched). */
void	 worker_sched_restore(void);
struct ev_io;
/* 1 when the listening socket <io> is a "listen ... ssl" one. */
int	 worker_listener_ssl(const struct ev_io *io);

#endif /* WORKER_H */

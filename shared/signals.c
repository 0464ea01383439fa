/*
 * The signal set of master and workers, read through a signalfd.
 */
#include <sys/signalfd.h>

#include <signal.h>

#include "signals.h"

int
signals_open(void)
{
	/*
	 * USR2 (HAProxy's reload, nginx's binary upgrade) and ALRM would
	 * kill by default, the master and every listener with it: they
	 * are read too, and only said to be ignored.
	 */
	static const int	 sigs[] = {
		SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGCHLD, SIGUSR2,
		SIGALRM
	};
	sigset_t		 set;
	unsigned		 i;

	sigemptyset(&set);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&set, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

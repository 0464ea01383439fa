/*
 * Signals are never handled in signal-handler context: master and
 * workers block the ones they care about and read them from a signalfd
 * in their event loop. The set is the same for both (nginx's signals:
 * TERM INT QUIT HUP USR1 CHLD); SIGPIPE is ignored, write errors say it.
 */
#ifndef SIGNALS_H
#define SIGNALS_H

/* Block the set and return a non-blocking signalfd for it, or -1. */
int	 signals_open(void);

#endif /* SIGNALS_H */

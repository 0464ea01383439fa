/*
 * Process titles through libbsd's setproctitle(). A title shorter than
 * the argv[0] it replaces gets a '.' where that string ended (libbsd's
 * way to keep ps reading on), so ps showed "maitred: worker process
 * ." when maitred ran from a long path: titles are padded with blanks
 * to argv[0]'s length, which ps shows as nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bsd/unistd.h>

#include "title.h"

static int	 title_min;

void
title_init(int argc, char **argv, char **envp)
{
	title_min = argc > 0 ? (int)strlen(argv[0]) : 0;
	setproctitle_init(argc, argv, envp);
}

void
title_set(const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* "-": no "progname: " prefix; ours says "maitred:" itself. */
	setproctitle("-%-*s", title_min, buf);
}

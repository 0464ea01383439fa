/*
 * Unnamed scratch files: see tmpfile.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tmpfile.h"

int
tmpfile_in(const char *dir, const char *tag)
{
	char	 path[PATH_MAX];
	int	 fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	/* Not every file system has O_TMPFILE: a name, unlinked at once. */
	if (fd == -1 && (errno == EOPNOTSUPP || errno == EISDIR ||
	    errno == EINVAL) && (size_t)snprintf(path, sizeof(path),
	    "%s/maitred-%s.XXXXXX", dir, tag) < sizeof(path)) {
		if ((fd = mkostemp(path, O_CLOEXEC)) != -1)
			(void)unlink(path);
	}
	return fd;
}

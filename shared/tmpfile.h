/*
 * Unnamed scratch files: the workers' spool files, and the check that
 * temp_dir can hold them when the configuration is loaded.
 */
#ifndef TMPFILE_H
#define TMPFILE_H

/*
 * A new file in <dir> that has no name: O_TMPFILE, or on a file system
 * without it a temporary named after <tag>, unlinked at once. Its
 * descriptor (close-on-exec), or -1 with errno set.
 */
int	 tmpfile_in(const char *dir, const char *tag);

#endif /* TMPFILE_H */

/*
 * Unit tests for worker/docindex.c on a scratch directory: the names
 * found at open, exact matching, updates through inotify (create, mkdir,
 * unlink, rename, attribute changes), a set large enough to probe, the
 * DOCINDEX_MAX bound and recovery, the watch going away, filesystems that
 * are not indexed. docindex_update() stands in for the event loop.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docindex.h"
#include "ev.h"
#include "tap.h"

static char	 dir[64];

static int
has(const char *name)
{
	return docindex_may_exist(name, strlen(name));
}

static void
touch(const char *name)
{
	char	 p[PATH_MAX];
	int	 fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		perror(p);
		exit(1);
	}
	close(fd);
}

static void
rm(const char *name)
{
	char	 p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (remove(p) == -1) {
		perror(p);
		exit(1);
	}
}

static int
open_dir(const char *path)
{
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		perror(path);
		exit(1);
	}
	return fd;
}

static void
test_open(int dfd)
{
	char	 p[PATH_MAX], longname[NAME_MAX + 2];

	touch("a.txt");
	touch(".hidden");
	snprintf(p, sizeof(p), "%s/sub", dir);
	mkdir(p, 0755);
	is_int(docindex_open(dfd), 0, "open: the index is on");
	ok(docindex_active(), "active after open");
	ok(has("a.txt") && has("sub") && has(".hidden"), "names found");
	ok(!has("b.txt") && !has("a.tx") && !has("a.txtx") && !has("A.TXT"),
	    "other names are not");
	ok(!has(".") && !has(".."), "dot and dot-dot are not names");
	ok(docindex_may_exist("a.txtXYZ", 5), "length bounds the name");
	ok(docindex_may_exist("", 0), "the empty name may exist");
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ok(has(longname), "a name over NAME_MAX may exist (ENAMETOOLONG)");
}

static void
test_changes(void)
{
	char	 a[PATH_MAX], b[PATH_MAX];

	touch("b.txt");
	ok(!has("b.txt"), "a new name is unknown until the event is read");
	docindex_update();
	ok(has("b.txt"), "created file seen");
	snprintf(a, sizeof(a), "%s/newdir", dir);
	mkdir(a, 0755);
	docindex_update();
	ok(has("newdir"), "created directory seen");
	rm("a.txt");
	docindex_update();
	ok(!has("a.txt") && has("b.txt"), "deleted file gone, others kept");
	snprintf(a, sizeof(a), "%s/sub", dir);
	snprintf(b, sizeof(b), "%s/sub2", dir);
	rename(a, b);
	docindex_update();
	ok(!has("sub") && has("sub2"), "rename seen");
	chmod(b, 0700);
	docindex_update();
	ok(has("sub2") && has("newdir") && docindex_active(),
	    "a child's attribute change keeps the set");
	docindex_update();
	ok(has("b.txt"), "an update without events keeps the set");
}

static void
test_many(void)
{
	char	 name[32];
	int	 i, all = 1, none = 1;

	for (i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		touch(name);
	}
	docindex_update();
	for (i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		all &= has(name);
		snprintf(name, sizeof(name), "g%d", i);
		none &= !has(name);
	}
	ok(all, "500 names found");
	ok(none, "500 absent names not found");
}

/* Fill up to DOCINDEX_MAX names, then one more. */
static void
test_bound(void)
{
	char	 name[32];
	int	 i;

	/* b.txt, newdir, sub2, .hidden and f0... */
	for (i = 500; i < DOCINDEX_MAX - 4; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		touch(name);
	}
	docindex_update();
	ok(docindex_active() && has("f4000") && !has("zz"),
	    "DOCINDEX_MAX names: on");
	touch("zz");
	docindex_update();
	ok(!docindex_active(), "DOCINDEX_MAX + 1 names: off");
	ok(has("nothing-here"), "off: every name may exist");
	rm("zz");
	docindex_update();
	ok(docindex_active() && !has("zz"), "back to DOCINDEX_MAX: on again");
	for (i = 0; i < DOCINDEX_MAX - 4; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		rm(name);
	}
	docindex_update();
	ok(docindex_active() && !has("f1"), "names removed in bulk");
}

static void
test_gone(void)
{
	char	 sub[PATH_MAX];
	int	 fd;

	snprintf(sub, sizeof(sub), "%s/gone", dir);
	mkdir(sub, 0755);
	fd = open_dir(sub);
	is_int(docindex_open(fd), 0, "reopen on another directory");
	ok(!has("b.txt"), "the new directory's names only");
	touch("gone/x");
	docindex_update();
	ok(has("x"), "a name in it");
	rm("gone/x");
	rmdir(sub);
	docindex_update();
	/* Opening anything in it fails with ENOENT: the empty set is right. */
	ok(docindex_active() && !has("x"), "removed while open: empty");
	/* Its last reference gone, the watch goes: IN_IGNORED. */
	close(fd);
	docindex_update();
	ok(!docindex_active() && has("x"), "watch removed: off");
	fd = open_dir("/proc");
	is_int(docindex_open(fd), -1, "/proc is not indexed");
	ok(has("anything"), "not indexed: every name may exist");
	close(fd);
}

int
main(void)
{
	int	 dfd;

	strcpy(dir, "/tmp/docindex_test.XXXXXX");
	if (mkdtemp(dir) == NULL || ev_init() == -1) {
		perror("setup");
		return 1;
	}
	dfd = open_dir(dir);
	test_open(dfd);
	test_changes();
	test_many();
	test_bound();
	docindex_close();
	ok(!docindex_active() && has("b.txt"), "closed: off");
	test_gone();
	docindex_close();
	close(dfd);
	rm("b.txt");
	rm("newdir");
	rm("sub2");
	rm(".hidden");
	rmdir(dir);
	return done_testing();
}

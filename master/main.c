/*
 * maitred: command line, configuration check, pidfile, daemonizing, then
 * the master loop. Every start-up error is one line on stderr and exit
 * status 1, before anything listens.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/libutil.h>
#include <bsd/string.h>
#include <bsd/unistd.h>

#include "conf.h"
#include "log.h"
#include "master.h"
#include "mtd.h"
#include "shm.h"
#include "title.h"

extern char	**environ;

#define DEFAULT_CONF_LOCAL	"conf/maitred.conf"
#define DEFAULT_CONF_SYSTEM	"/etc/maitred/maitred.conf"

struct cli {
	const char	*conf;
	int		 port;		/* 0: from the file */
	int		 strategy;	/* -1: from the file */
	int		 workers;	/* 0: from the file */
	int		 daemonize;
	int		 test;
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: maitred [-dhtv] [-c file] [-p port] [-s strategy] "
	    "[-w workers]\n"
	    "  -c file        configuration file (default %s, else %s)\n"
	    "  -p port        listen port, overrides every listen port\n"
	    "  -s strategy    round-robin, least-conn, ip-hash, weighted "
	    "(or 0-3)\n"
	    "  -w workers     number of worker processes (1-%d)\n"
	    "  -d             daemonize: detach and write the pidfile\n"
	    "  -t             test the configuration and exit\n"
	    "  -v, --version  print the version and exit\n"
	    "  -h, --help     print this help and exit\n",
	    DEFAULT_CONF_LOCAL, DEFAULT_CONF_SYSTEM, MTD_MAX_WORKERS);
}

static int
parse_int(const char *s, int min, int max, int *out)
{
	char	*end;
	long	 v;

	/* Digits only: strtol() would take " 80" and "+80". */
	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

/*
 * A directory can pass access(2) and still refuse new files (/proc, a
 * read-only mount for root): make the file as the start would, then
 * remove it. One already there is left alone.
 */
static int
pidfile_try_create(const char *path, const char *at)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NONBLOCK | O_CLOEXEC,
	    0644);
	if (fd == -1 && errno == EEXIST)
		return 0;
	if (fd == -1) {
		log_warnx("%spidfile %s: %s", at, path, strerror(errno));
		return -1;
	}
	close(fd);
	unlink(path);
	return 0;
}

/*
 * Whether the existing file <fd> holds a process ID, or nothing: what
 * a pidfile of ours (or of another daemon) would hold.
 */
static int
holds_a_pid(int fd)
{
	char	 buf[32];
	ssize_t	 n, i;

	if ((n = read(fd, buf, sizeof(buf))) <= 0)
		return n == 0;
	if (n == (ssize_t)sizeof(buf))
		return 0;
	for (i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		;
	return i > 0 && (i == n || (i == n - 1 && buf[i] == '\n'));
}

/*
 * The start writes over the pidfile and the stop removes it: a pidfile
 * that names the configuration, a log or any file holding something
 * else (a typo) would be lost. Refused, at -t and at the start.
 */
static int
pidfile_safe(const struct conf *c)
{
	const char	*path = c->pidfile, *at = conf_at(c, c->pidfile_line);
	const char	*what = NULL;
	struct stat	 st;
	int		 fd;

	if (path[0] == '\0')
		return 0;
	if (strcmp(path, c->path) == 0)
		what = "the configuration file";
	else if (strcmp(path, c->error_log) == 0)
		what = "the error_log";
	else if (strcmp(path, c->access_log) == 0)
		what = "the access_log";
	else if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) != -1) {
		/* Not a file (a directory): pidfile_dir_usable() says so. */
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    !holds_a_pid(fd))
			what = "a file that holds no process ID";
		close(fd);
	}
	if (what == NULL)
		return 0;
	log_warnx("%spidfile %s: is %s: it would be overwritten, then "
	    "removed", at, path, what);
	return -1;
}

/* -t: the pidfile's directory must be there and writable. */
static int
pidfile_dir_usable(const struct conf *c)
{
	struct stat	 st;
	char		 dir[PATH_MAX];
	char		*slash;
	const char	*path = c->pidfile, *at = conf_at(c, c->pidfile_line);

	if (path[0] == '\0')
		return 0;
	strlcpy(dir, path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) == NULL)
		strlcpy(dir, ".", sizeof(dir));
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (access(dir, W_OK | X_OK) == -1) {
		log_warnx("%spidfile %s: %s", at, path, strerror(errno));
		return -1;
	}
	/* What the start would trip on: not a file we can write over. */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		log_warnx("%spidfile %s: %s", at, path, S_ISDIR(st.st_mode) ?
		    strerror(EISDIR) : "not a regular file");
		return -1;
	}
	return pidfile_try_create(path, at);
}

static void
bad_flag(const char *flag, const char *what, const char *value)
{
	fprintf(stderr, "maitred: %s: invalid %s \"%s\"\n", flag, what,
	    value);
	exit(1);
}

static void
parse_cli(int argc, char **argv, struct cli *o)
{
	static const struct option	 longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	enum lb_strategy		 s;
	int				 ch;

	memset(o, 0, sizeof(*o));
	o->strategy = -1;
	opterr = 0;	/* our messages start "maitred:", not with argv[0] */
	while ((ch = getopt_long(argc, argv, ":c:p:s:w:dtvh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (optarg[0] == '\0')
				bad_flag("-c", "configuration file", optarg);
			o->conf = optarg;
			break;
		case 'p':
			if (parse_int(optarg, 1, 65535, &o->port) == -1)
				bad_flag("-p", "port", optarg);
			break;
		case 's':
			if (conf_parse_strategy(optarg, &s) == -1)
				bad_flag("-s", "strategy", optarg);
			o->strategy = (int)s;
			break;
		case 'w':
			if (parse_int(optarg, 1, MTD_MAX_WORKERS,
			    &o->workers) == -1)
				bad_flag("-w", "worker count", optarg);
			break;
		case 'd':
			o->daemonize = 1;
			break;
		case 't':
			o->test = 1;
			break;
		case 'v':
			printf("maitred %s\n", MTD_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			fprintf(stderr, "maitred: option -%c needs a value\n",
			    optopt);
			usage(stderr);
			exit(1);
		default:
			/* A long option is named whole ("--help=x" too). */
			if (strncmp(argv[optind - 1], "--", 2) != 0)
				fprintf(stderr, "maitred: unknown option -%c\n",
				    optopt);
			else if (optopt != 0)	/* a known one, with "=" */
				fprintf(stderr, "maitred: option %s: --help and "
				    "--version take no value\n",
				    argv[optind - 1]);
			else
				fprintf(stderr, "maitred: unknown option %s\n",
				    argv[optind - 1]);
			usage(stderr);
			exit(1);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "maitred: unexpected argument \"%s\"\n",
		    argv[optind]);
		usage(stderr);
		exit(1);
	}
	if (o->conf == NULL)
		o->conf = access(DEFAULT_CONF_LOCAL, F_OK) == 0 ?
		    DEFAULT_CONF_LOCAL : DEFAULT_CONF_SYSTEM;
}

/*
 * -p gives every listen line the same port: two lines that differed only
 * by port (a plain and an ssl one) would then share a socket address and
 * split connections between HTTP and HTTPS. Refuse that.
 */
static void
listens_distinct(const struct conf *c, int port)
{
	int	 i, j;

	for (i = 0; i < c->nlisten; i++)
		for (j = i + 1; j < c->nlisten; j++)
			if (strcmp(c->listens[i].text, c->listens[j].text) == 0) {
				fprintf(stderr, "maitred: -p %d: listen lines "
				    "%d and %d of %s would both be %s\n", port,
				    c->listens[i].line, c->listens[j].line,
				    c->path, c->listens[i].text);
				exit(1);
			}
}

static struct pidfh *
open_pidfile(const struct conf *c)
{
	struct pidfh	*pfh;
	pid_t		 other;

	if (c->pidfile[0] == '\0')
		return NULL;
	pfh = pidfile_open(c->pidfile, 0644, &other);
	if (pfh != NULL)
		return pfh;
	if (errno == EEXIST)
		fatalx("already running (pid %ld)", (long)other);
	fatal("%spidfile %s", conf_at(c, c->pidfile_line), c->pidfile);
}

static int
open_logs(const struct conf *c)
{
	if (access_log_open(c->access_log) == -1) {
		log_warn("%saccess_log %s", conf_at(c, c->access_log_line),
		    c->access_log);
		return -1;
	}
	if (log_open(c->error_log) == -1) {
		log_warn("%serror_log %s", conf_at(c, c->error_log_line),
		    c->error_log);
		return -1;
	}
	return 0;
}

/*
 * Started with 0, 1 or 2 closed (a careless supervisor or cron line),
 * the first files opened would take those numbers: a listening socket
 * would then be replaced by /dev/null when -d detaches, and a pipe to
 * php-cgi duplicated onto itself. Fill them with /dev/null first.
 */
static void
std_fds_fill(void)
{
	int	 fd;

	do {
		if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
			return;
	} while (fd <= STDERR_FILENO && fcntl(fd, F_SETFD, 0) != -1);
	if (fd > STDERR_FILENO)
		close(fd);
}

int
main(int argc, char **argv)
{
	static struct conf	 conf;
	struct master_opts	 mo;
	struct pidfh		*pfh;
	struct cli		 o;
	int			 bad;

	std_fds_fill();
	title_init(argc, argv, environ);
	parse_cli(argc, argv, &o);
	if (conf_load(&conf, o.conf) == -1)
		exit(1);
	memset(&mo, 0, sizeof(mo));
	mo.daemonize = o.daemonize;
	mo.port = o.port;
	mo.strategy = o.strategy;
	mo.workers = o.workers;
	master_apply_overrides(&conf, &mo);
	if (o.port != 0)
		listens_distinct(&conf, o.port);
	master_check_cache_rules(&conf, &conf);
	if (o.test) {
		/* Both checked: every error at once. */
		bad = master_check_logs(NULL, &conf) == -1;
		bad |= pidfile_safe(&conf) == -1 ||
		    pidfile_dir_usable(&conf) == -1;
		bad |= shm_check(&conf) == -1;
		if (bad)
			exit(1);
		printf("maitred: configuration ok\n");
		exit(0);
	}
	log_set_level(conf.log_level);
	if (pidfile_safe(&conf) == -1)
		exit(1);
	pfh = open_pidfile(&conf);
	/* A start that fails leaves no (empty) pidfile behind. */
	if (listeners_open(&conf, conf.workers) == -1 ||
	    shm_create(&conf) == -1 || open_logs(&conf) == -1) {
		if (pfh != NULL)
			pidfile_remove(pfh);
		exit(1);
	}
	master_chown_logs(&conf);
	master_raise_nofile(&conf);
	if (o.daemonize && conf.error_log[0] == '\0')
		log_warnx("-d without error_log: once detached, nothing is "
		    "logged; set error_log");
	if (o.daemonize && daemon(0, 0) == -1)
		fatal("daemon");
	if (pfh != NULL) {
		pidfile_write(pfh);
		/*
		 * Workers must not share the pidfile's lock: one left behind
		 * by a killed master would make the next start refuse.
		 */
		spawn_set_master_fd(pidfile_fileno(pfh));
	}
	log_set_tee(!o.daemonize && conf.error_log[0] != '\0' &&
	    isatty(2));
	title_set("maitred: master process %s", conf.path);
	master_run(&conf, conf.path, &mo);
	if (pfh != NULL)
		pidfile_remove(pfh);
	return 0;
}

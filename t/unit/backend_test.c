/*
 * Unit tests for the shared backend table (shared/backend.c): every
 * strategy's exact sequence, global rotation across fork(), ip-hash
 * stickiness and minimal movement, health thresholds and their log
 * lines, and recovery of the weighted lock from a dead owner. The
 * table lives in a MAP_SHARED anonymous mapping, as in the segment.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "conf.h"
#include "tap.h"

#define NB_MAX	8

static struct conf		 conf;
static struct conf_backend	 cbs[NB_MAX];

static struct backend_table *
table_new(int n, const int *weights, int max_failures)
{
	struct sockaddr_in	*sin;
	void			*mem;
	int			 i;

	memset(&conf, 0, sizeof(conf));
	memset(cbs, 0, sizeof(cbs));
	for (i = 0; i < n; i++) {
		snprintf(cbs[i].host, sizeof(cbs[i].host), "127.0.0.1");
		snprintf(cbs[i].name, sizeof(cbs[i].name), "127.0.0.1:%d",
		    8001 + i);
		cbs[i].port = 8001 + i;
		cbs[i].weight = weights != NULL ? weights[i] : 1;
		cbs[i].max_failures = max_failures;
		sin = (struct sockaddr_in *)&cbs[i].ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(8001 + i);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		cbs[i].sslen = sizeof(*sin);
	}
	conf.backends = cbs;
	conf.nbackends = n;
	mem = mmap(NULL, backend_region_size(&conf), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || backend_region_init(mem, &conf) == -1) {
		printf("Bail out! cannot set up a backend region\n");
		exit(1);
	}
	return backend_table_attach(mem);
}

static void
table_free(struct backend_table *t)
{
	munmap(t, backend_region_size(&conf));
}

static void
set_up(struct backend_table *t, int i, int up)
{
	atomic_store(&t->slot[i].up, up);
}

/* Picks as a string of letters, "ABAC...", -1 as '-'. */
static const char *
seq(struct backend_table *t, enum lb_strategy s, uint64_t excl, int n)
{
	static char	 buf[256];
	int		 k, i;

	for (k = 0; k < n && k < (int)sizeof(buf) - 1; k++) {
		i = backend_pick(t, s, NULL, excl);
		buf[k] = i < 0 ? '-' : (char)('A' + i);
	}
	buf[k] = '\0';
	return buf;
}

static void
test_init(void)
{
	struct backend_table		*t = table_new(3, NULL, 2);
	const struct backend_slot	*s = backend_get(t, 2);
	struct backend_info		 bi;
	static uint64_t			 junk[64]
	    __attribute__((aligned(64)));

	is_int(backend_count(t), 3, "init: three backends");
	ok(s != NULL && strcmp(s->name, "127.0.0.1:8003") == 0 &&
	    s->ss.ss_family == AF_INET && s->sslen == sizeof(struct
	    sockaddr_in), "init: name and address copied");
	ok(backend_is_up(t, 0) && backend_is_up(t, 1) && backend_is_up(t, 2),
	    "init: all up");
	ok(backend_get(t, 3) == NULL && backend_get(t, -1) == NULL &&
	    !backend_is_up(t, 3), "init: out of range is NULL / down");
	ok(backend_table_attach(junk) == NULL, "attach: rejects junk");
	backend_info(t, 1, &bi);
	ok(strcmp(bi.name, "127.0.0.1:8002") == 0 && bi.up && bi.weight == 1 &&
	    bi.max_failures == 2 && bi.active == 0, "info: snapshot");
	table_free(t);
}

static void
test_round_robin(void)
{
	struct backend_table	*t = table_new(3, NULL, 1);
	const char		*s;

	ok(strcmp(seq(t, LB_ROUND_ROBIN, 0, 9), "ABCABCABC") == 0,
	    "rr: exact rotation");
	set_up(t, 1, 0);
	s = seq(t, LB_ROUND_ROBIN, 0, 6);
	ok(strcmp(s, "ACACAC") == 0 || strcmp(s, "CACACA") == 0,
	    "rr: skips the down backend, still alternating (%s)", s);
	ok(strcmp(seq(t, LB_ROUND_ROBIN, 1, 4), "CCCC") == 0,
	    "rr: exclude mask");
	set_up(t, 0, 0);
	set_up(t, 2, 0);
	ok(strcmp(seq(t, LB_ROUND_ROBIN, 0, 3), "---") == 0 &&
	    strcmp(seq(t, LB_LEAST_CONN, 0, 3), "---") == 0 &&
	    strcmp(seq(t, LB_IP_HASH, 0, 3), "---") == 0 &&
	    strcmp(seq(t, LB_WEIGHTED, 0, 3), "---") == 0,
	    "none healthy: -1 for every strategy");
	set_up(t, 0, 1);
	set_up(t, 1, 1);
	set_up(t, 2, 1);
	ok(strcmp(seq(t, LB_ROUND_ROBIN, 7, 2), "--") == 0 &&
	    strcmp(seq(t, LB_LEAST_CONN, 7, 2), "--") == 0 &&
	    strcmp(seq(t, LB_IP_HASH, 7, 2), "--") == 0 &&
	    strcmp(seq(t, LB_WEIGHTED, 7, 2), "--") == 0,
	    "all excluded: -1 for every strategy");
	ok(strchr(seq(t, LB_LEAST_CONN, 2, 20), 'B') == NULL &&
	    strchr(seq(t, LB_IP_HASH, 2, 20), 'B') == NULL &&
	    strchr(seq(t, LB_WEIGHTED, 2, 20), 'B') == NULL,
	    "exclude mask honoured by every strategy");
	table_free(t);
}

struct shared_run {
	_Atomic int	 turn;
	int		 picks[12];
	_Atomic int	 count[4];
};

static void
child_alternate(struct backend_table *t, struct shared_run *r, int me)
{
	time_t	 deadline = time(NULL) + 5;
	int	 k;

	for (k = me; k < 12; k += 2) {
		while (atomic_load(&r->turn) != k)
			if (time(NULL) > deadline)
				_exit(1);
			else
				sched_yield();
		r->picks[k] = backend_pick(t, LB_ROUND_ROBIN, NULL, 0);
		atomic_store(&r->turn, k + 1);
	}
	_exit(0);
}

static void
child_hammer(struct backend_table *t, struct shared_run *r, int picks)
{
	int	 k, i;

	for (k = 0; k < picks; k++) {
		i = backend_pick(t, LB_ROUND_ROBIN, NULL, 0);
		if (i >= 0 && i < 4)
			atomic_fetch_add(&r->count[i], 1);
	}
	_exit(0);
}

static int
wait_children(int n)
{
	int	 st, good = 1;

	while (n-- > 0)
		if (wait(&st) == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			good = 0;
	return good;
}

static void
test_round_robin_fork(void)
{
	struct backend_table	*t = table_new(3, NULL, 1);
	struct shared_run	*r;
	int			 k, good, c;

	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		exit(1);
	memset(r, 0, sizeof(*r));
	for (k = 0; k < 2; k++)
		if (fork() == 0)
			child_alternate(t, r, k);
	ok(wait_children(2), "rr fork: both children done");
	good = 1;
	for (k = 0; k < 12; k++)
		if (r->picks[k] != k % 3)
			good = 0;
	ok(good, "rr fork: alternating children share one rotation "
	    "(A B C A B C ...)");

	/* Four processes at once: the counter is global, so exact. */
	for (k = 0; k < 4; k++)
		if (fork() == 0)
			child_hammer(t, r, 3000);
	ok(wait_children(4), "rr fork: four hammering children done");
	for (k = 0, good = 1; k < 3; k++) {
		c = atomic_load(&r->count[k]);
		if (c != 4000) {
			good = 0;
			printf("#   backend %d got %d\n", k, c);
		}
	}
	ok(good, "rr fork: 12000 concurrent picks, exactly 4000 each");
	munmap(r, sizeof(*r));
	table_free(t);
}

static void
test_least_conn(void)
{
	struct backend_table	*t = table_new(3, NULL, 1);
	const char		*s;

	s = seq(t, LB_LEAST_CONN, 0, 6);
	ok(strcmp(s, "ABCABC") == 0, "lc: ties rotate (%s)", s);
	backend_conn_begin(t, 0);
	backend_conn_begin(t, 0);
	backend_conn_begin(t, 2);
	ok(strcmp(seq(t, LB_LEAST_CONN, 0, 5), "BBBBB") == 0,
	    "lc: picks the fewest active");
	is_int(atomic_load(&t->slot[0].requests), 2, "lc: requests counted");
	backend_conn_begin(t, 1);
	backend_conn_begin(t, 1);
	s = seq(t, LB_LEAST_CONN, 0, 4);
	ok(strcmp(s, "CCCC") == 0, "lc: follows the counts (%s)", s);
	backend_conn_end(t, 0);
	backend_conn_end(t, 0);
	ok(strcmp(seq(t, LB_LEAST_CONN, 0, 3), "AAA") == 0,
	    "lc: conn_end releases");
	backend_conn_end(t, 1);
	backend_conn_end(t, 1);
	backend_conn_end(t, 2);
	backend_conn_begin(t, 0);
	s = seq(t, LB_LEAST_CONN, 0, 4);
	ok(strcmp(s, "BCBC") == 0 || strcmp(s, "CBCB") == 0,
	    "lc: ties between the least loaded rotate (%s)", s);
	set_up(t, 1, 0);
	ok(strcmp(seq(t, LB_LEAST_CONN, 0, 3), "CCC") == 0,
	    "lc: skips the down backend");
	table_free(t);
}

static uint64_t	 rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

#define NCLIENTS	10000

static void
random_client(uint8_t a[16], int k)
{
	uint64_t	 x = xorshift(), y = xorshift();

	memcpy(a, &x, 8);
	memcpy(a + 8, &y, 8);
	if (k % 2 == 0) {		/* half of them IPv4-mapped */
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
	}
}

static void
test_ip_hash(void)
{
	static uint8_t		 cl[NCLIENTS][16];
	static int		 first[NCLIENTS];
	struct backend_table	*t = table_new(4, NULL, 1);
	int			 count[4] = { 0 }, k, i, sticky = 1;
	int			 moved_ok = 1, back_ok = 1, even = 1;

	for (k = 0; k < NCLIENTS; k++) {
		random_client(cl[k], k);
		first[k] = backend_pick(t, LB_IP_HASH, cl[k], 0);
		if (first[k] < 0 || first[k] > 3)
			sticky = 0;
		else
			count[first[k]]++;
	}
	/* Interleave other strategies: shared counters must not matter. */
	seq(t, LB_ROUND_ROBIN, 0, 7);
	for (k = 0; k < NCLIENTS; k++)
		if (backend_pick(t, LB_IP_HASH, cl[k], 0) != first[k])
			sticky = 0;
	ok(sticky, "ip-hash: 10000 clients each stick to one backend");
	for (i = 0; i < 4; i++)
		if (count[i] < 2200 || count[i] > 2800)
			even = 0;
	ok(even, "ip-hash: spread evenly (%d %d %d %d)", count[0], count[1],
	    count[2], count[3]);

	set_up(t, 2, 0);
	for (k = 0; k < NCLIENTS; k++) {
		i = backend_pick(t, LB_IP_HASH, cl[k], 0);
		if (first[k] == 2 ? (i == 2 || i < 0) : i != first[k])
			moved_ok = 0;
	}
	ok(moved_ok, "ip-hash: backend C down moves exactly its clients");
	set_up(t, 2, 1);
	for (k = 0; k < NCLIENTS; k++)
		if (backend_pick(t, LB_IP_HASH, cl[k], 0) != first[k])
			back_ok = 0;
	ok(back_ok, "ip-hash: C back up, every client returns");
	for (k = 0, moved_ok = 1; k < NCLIENTS; k++) {
		i = backend_pick(t, LB_IP_HASH, cl[k],
		    (uint64_t)1 << first[k]);
		if (i == first[k] || i < 0)
			moved_ok = 0;
	}
	ok(moved_ok, "ip-hash: retry excluding the first choice goes "
	    "elsewhere");
	table_free(t);
}

/* A reload without the first line: only that backend's clients move. */
static void
test_ip_hash_reload(void)
{
	static uint8_t		 cl[NCLIENTS][16];
	static int		 first[NCLIENTS];
	struct backend_table	*t = table_new(4, NULL, 1), *u;
	size_t			 size;
	void			*mem;
	int			 k, i, stayed = 1, moved = 0;

	for (k = 0; k < NCLIENTS; k++) {
		random_client(cl[k], k);
		first[k] = backend_pick(t, LB_IP_HASH, cl[k], 0);
	}
	conf.backends = cbs + 1;
	conf.nbackends = 3;
	size = backend_region_size(&conf);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || backend_region_init(mem, &conf) == -1) {
		printf("Bail out! cannot set up a backend region\n");
		exit(1);
	}
	u = backend_table_attach(mem);
	for (k = 0; k < NCLIENTS; k++) {
		i = backend_pick(u, LB_IP_HASH, cl[k], 0);
		if (first[k] == 0)
			moved++;
		else if (i != first[k] - 1)	/* one line up, same name */
			stayed = 0;
	}
	ok(stayed && moved > 0, "ip-hash: a reload without the first "
	    "backend moves only its %d clients", moved);
	munmap(mem, size);
	conf.backends = cbs;
	conf.nbackends = 4;
	table_free(t);
}

static void
test_ip_hash_weighted(void)
{
	static const int	 w[2] = { 1, 3 };
	struct backend_table	*t = table_new(2, w, 1);
	uint8_t			 a[16];
	int			 k, i, count[2] = { 0 };

	for (k = 0; k < NCLIENTS; k++) {
		random_client(a, k);
		i = backend_pick(t, LB_IP_HASH, a, 0);
		if (i == 0 || i == 1)
			count[i]++;
	}
	ok(count[0] + count[1] == NCLIENTS && count[1] > 7200 &&
	    count[1] < 7800, "ip-hash: weights 1:3 honoured (%d %d)",
	    count[0], count[1]);
	table_free(t);
}

static void
test_weighted(void)
{
	static const int	 w[3] = { 3, 2, 1 };
	struct backend_table	*t = table_new(3, w, 1);
	const char		*s;
	int			 k, good = 1;

	for (k = 0; k < 5; k++)
		if (strcmp(seq(t, LB_WEIGHTED, 0, 6), "ABACBA") != 0)
			good = 0;
	ok(good, "weighted 3,2,1: A B A C B A, five times over");
	set_up(t, 1, 0);
	s = seq(t, LB_WEIGHTED, 0, 8);
	ok(strcmp(s, "AACAAACA") == 0, "weighted, B down: 3:1 smooth (%s)",
	    s);
	set_up(t, 1, 1);
	table_free(t);

	t = table_new(3, w, 1);
	s = seq(t, LB_WEIGHTED, 1, 6);
	ok(strcmp(s, "BCBBCB") == 0, "weighted, A excluded: B twice as "
	    "often as C (%s)", s);
	table_free(t);
}

/* Run <fn> with stderr going to a file; returns what it wrote. */
static const char *
capture_stderr(void (*fn)(struct backend_table *), struct backend_table *t)
{
	static char	 buf[4096];
	FILE		*f = tmpfile();
	int		 saved = dup(2);
	size_t		 n;

	if (f == NULL || saved == -1)
		return "";
	fflush(stderr);
	dup2(fileno(f), 2);
	fn(t);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
count_str(const char *hay, const char *needle)
{
	int	 n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

static void
flap(struct backend_table *t)
{
	int	 k;

	backend_report(t, 0, 0, "connect refused");
	backend_report(t, 0, 0, "connect refused");
	is_int(backend_is_up(t, 0), 1, "report: 2 failures of 3, still up");
	backend_report(t, 0, 0, "connect refused");
	is_int(backend_is_up(t, 0), 0, "report: 3rd failure marks down");
	for (k = 0; k < 4; k++)
		backend_report(t, 0, 0, "timeout");
	is_int(atomic_load(&t->slot[0].fails), 7,
	    "report: failures keep counting while down");
	backend_report(t, 0, 1, NULL);
	ok(backend_is_up(t, 0) && atomic_load(&t->slot[0].fails) == 0,
	    "report: one success marks up and resets failures");
	backend_report(t, 0, 1, NULL);
	backend_report(t, 0, 0, "timeout");
	backend_report(t, 0, 1, NULL);
	backend_report(t, 0, 0, "timeout");
	backend_report(t, 0, 0, "timeout");
	is_int(backend_is_up(t, 0), 1, "report: a success in between "
	    "restarts the count");
}

static void
test_report(void)
{
	struct backend_table	*t = table_new(2, NULL, 3);
	struct backend_info	 bi;
	const char		*log;

	log = capture_stderr(flap, t);
	is_int(count_str(log, "backend 127.0.0.1:8001 down: "
	    "connect refused (3/3)"), 1, "report: one down line, F/MAX");
	is_int(count_str(log, "down"), 1, "report: no other down line");
	is_int(count_str(log, "backend 127.0.0.1:8001 up"), 1,
	    "report: one up line");
	backend_info(t, 0, &bi);
	is_int(bi.failures, 10, "info: total failures");
	is_int(bi.checks, 13, "info: total reports");
	ok(backend_is_up(t, 1), "report: other backend untouched");
	table_free(t);
}

static void
passive(struct backend_table *t)
{
	int	 k;

	/* Traffic answered while checks fail: the checks still win. */
	backend_report(t, 0, 0, "http status 503");
	backend_report_passive(t, 0, 1, NULL);
	backend_report(t, 0, 0, "http status 503");
	backend_report_passive(t, 0, 1, NULL);
	backend_report(t, 0, 0, "http status 503");
	is_int(backend_is_up(t, 0), 0, "passive: answers do not cancel "
	    "failing checks");
	backend_report_passive(t, 0, 1, NULL);
	is_int(backend_is_up(t, 0), 0, "passive: an answer in flight does "
	    "not bring a down backend up");
	backend_report(t, 0, 1, NULL);
	is_int(backend_is_up(t, 0), 1, "passive: a check does");
	/* Request failures in a row mark down; an answer restarts them. */
	backend_report_passive(t, 0, 0, "connect refused");
	backend_report_passive(t, 0, 0, "connect refused");
	backend_report_passive(t, 0, 1, NULL);
	backend_report_passive(t, 0, 0, "connect refused");
	backend_report_passive(t, 0, 0, "connect refused");
	is_int(backend_is_up(t, 0), 1, "passive: an answer restarts the "
	    "count");
	backend_report_passive(t, 0, 0, "connect refused");
	is_int(backend_is_up(t, 0), 0, "passive: max_failures in a row "
	    "mark down");
	for (k = 0; k < 2; k++)
		backend_report_passive(t, 0, 1, NULL);
	is_int(backend_is_up(t, 0), 0, "passive: still down until a check");
	backend_report(t, 0, 1, NULL);
	ok(backend_is_up(t, 0) && atomic_load(&t->slot[0].pfails) == 0,
	    "passive: a good check resets the request count too");
}

static void
test_passive(void)
{
	struct backend_table	*t = table_new(2, NULL, 3);
	const char		*log;

	log = capture_stderr(passive, t);
	is_int(count_str(log, "down: http status 503 (3/3)"), 1,
	    "passive: the checks' down line");
	is_int(count_str(log, "down: connect refused (3/3)"), 1,
	    "passive: the requests' down line");
	is_int(count_str(log, " up"), 2, "passive: up lines from checks only");
	table_free(t);
}

static void
test_lock_recovery(void)
{
	static const int	 w[3] = { 3, 2, 1 };
	struct backend_table	*t = table_new(3, w, 1);
	const char		*s;
	pid_t			 pid;
	int			 st;

	ok(strcmp(seq(t, LB_WEIGHTED, 0, 2), "AB") == 0,
	    "lock: two picks before the crash");
	if ((pid = fork()) == 0) {
		/* Die in the middle of an update, holding the lock. */
		lock_acquire(&t->wrr_lock);
		t->slot[0].wrr_current += 1000;
		_exit(0);
	}
	ok(waitpid(pid, &st, 0) == pid && WIFEXITED(st),
	    "lock: child died holding the lock");
	/* The continuation would be A C B A A B; a reset restarts. */
	s = seq(t, LB_WEIGHTED, 0, 6);
	ok(strcmp(s, "ABACBA") == 0, "lock: recovered, state reset (%s)", s);
	ok(strcmp(seq(t, LB_WEIGHTED, 0, 6), "ABACBA") == 0,
	    "lock: usable afterwards");
	ok(lock_try(&t->wrr_lock) == LOCK_OK, "lock: released and "
	    "consistent");
	lock_release(&t->wrr_lock);
	table_free(t);
}

int
main(void)
{
	test_init();
	test_round_robin();
	test_round_robin_fork();
	test_least_conn();
	test_ip_hash();
	test_ip_hash_reload();
	test_ip_hash_weighted();
	test_weighted();
	test_report();
	test_passive();
	test_lock_recovery();
	return done_testing();
}

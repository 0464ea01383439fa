#!/usr/bin/env bats
# worker_sched: workers run SCHED_BATCH by default (their wakeups do not
# preempt the backend or client on that core), "normal" leaves the policy
# alone, and children the workers start (php-cgi) are back to SCHED_OTHER.

load helpers

PHP_CGI=${PHP_CGI:-/usr/bin/php-cgi}

teardown() {
	common_teardown
}

# policy_of PID: SCHED_OTHER, SCHED_BATCH, ... as chrt(1) names it.
policy_of() {
	chrt -p "$1" | sed -n 's/.*scheduling policy: \([A-Z_]*\).*/\1/p'
}

# _replaced OLD_PID: exactly one worker, and not OLD_PID.
_replaced() {
	local w
	w=$(worker_pids)
	[ -n "$w" ] && [ "$w" != "$1" ] && [ "$(worker_count)" -eq 1 ]
}

@test "default: every worker is SCHED_BATCH, the master is not" {
	write_conf "workers 2"
	maitred_start
	assert wait_for workers_are 2
	for w in $(worker_pids); do
		assert_equal "$(policy_of "$w")" SCHED_BATCH
	done
	assert_equal "$(policy_of "$MAITRED_PID")" SCHED_OTHER
	assert_equal "$(curl -s "$(url /hello.txt)")" "$(cat "$(mtd_dir)/htdocs/hello.txt")"
}

@test "worker_sched normal: workers keep SCHED_OTHER" {
	write_conf "workers 2" "worker_sched normal"
	maitred_start
	assert wait_for workers_are 2
	for w in $(worker_pids); do
		assert_equal "$(policy_of "$w")" SCHED_OTHER
	done
}

@test "worker_sched batch after HUP from normal: new workers are SCHED_BATCH" {
	write_conf "workers 1" "worker_sched normal"
	maitred_start
	old=$(worker_pids)
	assert_equal "$(policy_of "$old")" SCHED_OTHER
	write_conf "workers 1" "worker_sched batch"
	kill -HUP "$MAITRED_PID"
	assert wait_for -t 10 _replaced "$old"
	assert_equal "$(policy_of "$(worker_pids)")" SCHED_BATCH
}

@test "php-cgi started by a SCHED_BATCH worker runs SCHED_OTHER" {
	[ -x "$PHP_CGI" ] || skip "no $PHP_CGI"
	write_conf "php cgi $PHP_CGI"
	# field 41 of /proc/self/stat is the policy: 0 SCHED_OTHER, 3 SCHED_BATCH
	cat >"$(mtd_dir)/htdocs/policy.php" <<'PHP'
<?php $s = file_get_contents('/proc/self/stat');
$f = explode(' ', substr($s, strrpos($s, ')') + 2));
echo 'policy=', $f[38], "\n";
PHP
	maitred_start
	run curl -s "$(url /policy.php)"
	assert_output "policy=0"
}

@test "worker_sched: a bad value names file, line and the choices" {
	write_conf "worker_sched fifo"
	n=$(conf_line "worker_sched fifo")
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_failure 1
	assert_output --partial "maitred.conf:$n: worker_sched: invalid value \"fifo\""
	assert_output --partial 'expected "batch" or "normal"'
}

#!/usr/bin/env bats
# -d: detach, pidfile, second instance refused, clean stop, kill -9.

load helpers

setup() {
	write_conf
	PIDFILE=$(mtd_dir)/maitred.pid
}

teardown() {
	# the daemon is not our child: stop it by the pid it wrote
	if [ -n "${DAEMON_PID:-}" ] && pid_alive "$DAEMON_PID"; then
		w=$(worker_pids "$DAEMON_PID")
		kill -TERM "$DAEMON_PID" 2>/dev/null || true
		wait_gone "$DAEMON_PID" 10 || kill -KILL "$DAEMON_PID" || true
		track_pid $w
	fi
	common_teardown
}

# daemon_start [ARGS...]: maitred -d; sets DAEMON_STATUS and DAEMON_PID.
# Output goes to files, so a daemon that keeps stdout open cannot hang us.
daemon_start() {
	local d
	d=$(mtd_dir)
	DAEMON_STATUS=0
	timeout 10 "$MAITRED" -d -c "$MTD_CONF" "$@" </dev/null \
	    >"$d/d.stdout" 2>"$d/d.stderr" 3>&- || DAEMON_STATUS=$?
	DAEMON_PID=
	if wait_for -t 5 test -s "$PIDFILE"; then
		DAEMON_PID=$(cat "$PIDFILE")
	fi
}

_has_workers() {
	[ -n "$(worker_pids "$1")" ]
}

shm_leftovers() {
	ls /dev/shm 2>/dev/null | grep -i maitred || true
}

@test "-d detaches: returns 0, pidfile holds the live master's pid" {
	daemon_start
	assert_equal "$DAEMON_STATUS" 0
	[[ "$DAEMON_PID" =~ ^[0-9]+$ ]]
	assert pid_alive "$DAEMON_PID"
	assert wait_for port_listening "$PORT"
	run curl -s "$(url /hello.txt)"
	assert_output "hello from maitred"
	[[ "$(proc_title "$DAEMON_PID")" == "maitred: master process"* ]]
	assert wait_for workers_are 2 "$DAEMON_PID"
	# detached: not our child, not in our session
	ppid=$(ps -o ppid= -p "$DAEMON_PID" | tr -d ' ')
	[ "$ppid" != "$BASHPID" ]
	sid=$(ps -o sid= -p "$DAEMON_PID" | tr -d ' ')
	[ "$sid" != "$(ps -o sid= -p "$BASHPID" | tr -d ' ')" ]
}

@test "-d started with stdin, stdout and stderr closed still serves and writes its pidfile" {
	# the listening socket took fd 0 and -d's /dev/null replaced it
	DAEMON_STATUS=0
	timeout 10 "$MAITRED" -d -c "$MTD_CONF" <&- >&- 2>&- 3>&- ||
	    DAEMON_STATUS=$?
	assert_equal "$DAEMON_STATUS" 0
	assert wait_for -t 5 test -s "$PIDFILE"
	DAEMON_PID=$(cat "$PIDFILE")
	assert pid_alive "$DAEMON_PID"
	run curl -s -m 5 "$(url /hello.txt)"
	assert_output "hello from maitred"
}

@test "-d without error_log warns before it detaches" {
	write_conf "error_log stderr"
	daemon_start
	assert_equal "$DAEMON_STATUS" 0
	run cat "$(mtd_dir)/d.stderr"
	assert_output --partial "-d without error_log: once detached, nothing is logged"
}

@test "a second instance on the same pidfile refuses: already running (pid N)" {
	daemon_start
	assert_equal "$DAEMON_STATUS" 0
	assert wait_for port_listening "$PORT"
	p2=$(free_port)
	run timeout 10 "$MAITRED" -d -c "$MTD_CONF" -p "$p2" 3>&-
	assert_failure 1
	assert_output --partial "maitred: already running (pid $DAEMON_PID)"
	run timeout 10 "$MAITRED" -c "$MTD_CONF" -p "$p2" 3>&-
	assert_failure 1
	assert_output --partial "already running (pid $DAEMON_PID)"
	# the first one is untouched
	assert_equal "$(cat "$PIDFILE")" "$DAEMON_PID"
	assert pid_alive "$DAEMON_PID"
	run port_listening "$p2"
	assert_failure
}

@test "TERM stops the daemon, its workers, and removes the pidfile" {
	daemon_start
	assert_equal "$DAEMON_STATUS" 0
	assert wait_for port_listening "$PORT"
	w=$(worker_pids "$DAEMON_PID")
	[ -n "$w" ]
	kill -TERM "$DAEMON_PID"
	assert wait_gone "$DAEMON_PID" 10
	for p in $w; do
		assert wait_gone "$p" 3
	done
	assert wait_for -t 3 test ! -e "$PIDFILE"
	run port_listening "$PORT"
	assert_failure
	assert log_has "shutting down"
}

@test "no /dev/shm/maitred* object during the run or after stop" {
	before=$(shm_leftovers)
	maitred_start
	run curl -s -o /dev/null -w '%{http_code}' "$(url /)"
	assert_output 200
	assert_equal "$(shm_leftovers)" "$before"
	maitred_stop
	assert_equal "$(shm_leftovers)" "$before"
}

# shared_mapping_kb PID: the size of PID's shared anonymous mappings
# (shown as /dev/zero in maps), in KB.
shared_mapping_kb() {
	local range perms path kb=0
	while read -r range perms _ _ _ path; do
		[[ $perms == rw?s && $path == /dev/zero* ]] || continue
		kb=$(( kb + (16#${range#*-} - 16#${range%-*}) / 1024 ))
	done <"/proc/$1/maps"
	echo "$kb"
}

@test "the shared segment is an anonymous mapping, not bounded by /dev/shm" {
	write_conf "cache_size 32m"
	maitred_start
	[ "$(shared_mapping_kb "$MAITRED_PID")" -ge $((32 * 1024)) ]
	run grep -c '/dev/shm/' "/proc/$MAITRED_PID/maps"
	assert_output 0
}

# nofile_soft PID: the soft limit of open files of PID.
nofile_soft() {
	awk '/^Max open files/ { print $4 }' "/proc/$1/limits"
}

@test "a low ulimit -n is raised for worker_connections; past the hard limit, a warning" {
	local w
	ulimit -S -n 1024
	write_conf "worker_connections 4000"
	maitred_start
	w=$(worker_pids | head -n 1)
	[ "$(nofile_soft "$w")" -ge 8000 ] ||
	    [ "$(nofile_soft "$w")" = "$(ulimit -H -n)" ]
	maitred_stop
	ulimit -n 1024
	maitred_start
	assert log_has 'worker_connections 4000 exceed the open file limit 1024'
}

@test "kill -9 of the master: workers exit within 2 s, next start works" {
	daemon_start
	assert_equal "$DAEMON_STATUS" 0
	assert wait_for port_listening "$PORT"
	wait_for _has_workers "$DAEMON_PID"
	w=$(worker_pids "$DAEMON_PID")
	[ -n "$w" ]
	track_pid $w
	kill -KILL "$DAEMON_PID"
	assert wait_gone "$DAEMON_PID" 5
	for p in $w; do
		assert wait_gone "$p" 2
	done
	assert wait_for -t 3 _not port_listening "$PORT"
	# the stale pidfile (dead pid) and any shm left must not block a restart
	daemon_start
	assert_equal "$DAEMON_STATUS" 0
	assert pid_alive "$DAEMON_PID"
	assert wait_for port_listening "$PORT"
	run curl -s "$(url /hello.txt)"
	assert_output "hello from maitred"
}

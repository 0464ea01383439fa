#!/usr/bin/env bats
# conf/init.d/maitred against a temporary prefix: DAEMON is a copy of the
# built binary (so a rebuild never races it), CONF and PIDFILE live in the
# test's scratch directory, the port is free. LSB exit codes: start on a
# running daemon 0, stop on a stopped one 0, status 0 / 1 / 3.

load helpers

INITSCRIPT=$BATS_TEST_DIRNAME/../conf/init.d/maitred

setup() {
	write_conf
	d=$(mtd_dir)
	mkdir -p "$d/sbin"
	cp "$MAITRED" "$d/sbin/maitred"
	DAEMON=$d/sbin/maitred
	CONF=$MTD_CONF
	PIDFILE=$d/maitred.pid
	# no /etc/default/maitred from the host
	MAITRED_DEFAULTS=/dev/null
	export DAEMON CONF PIDFILE MAITRED_DEFAULTS
}

teardown() {
	local pid=
	[ -s "$PIDFILE" ] && pid=$(cat "$PIDFILE")
	"$INITSCRIPT" stop >/dev/null 2>&1 3>&- || true
	if [ -n "$pid" ] && pid_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	common_teardown
}

# initscript ACTION: run the script (never keep bats' fd 3 open in the
# daemon it starts).
initscript() {
	"$INITSCRIPT" "$@" 3>&-
}

code_of() {
	curl -s -o /dev/null -w '%{http_code}' "$(url "$1")"
}

serving() {
	[ "$(code_of /hello.txt)" = 200 ]
}

master_pid() {
	cat "$PIDFILE"
}

@test "init script: LSB header and shell syntax" {
	run sh -n "$INITSCRIPT"
	assert_success
	run grep -c -E '^### (BEGIN|END) INIT INFO$' "$INITSCRIPT"
	assert_output 2
	grep -q '^# Provides: *maitred$' "$INITSCRIPT"
	grep -q 'start-stop-daemon' "$INITSCRIPT"
	[ -x "$INITSCRIPT" ]
}

@test "init script: status of a stopped daemon is 3, stop is 0" {
	run initscript status
	assert_equal "$status" 3
	run initscript stop
	assert_success
}

@test "init script: start, status, serving, stop" {
	run initscript start
	assert_success
	[ -s "$PIDFILE" ]
	pid=$(master_pid)
	assert pid_alive "$pid"
	assert wait_for serving
	run initscript status
	assert_success
	assert_output --partial "running"
	run initscript stop
	assert_success
	assert wait_gone "$pid" 10
	[ ! -e "$PIDFILE" ]
	run port_listening "$PORT"
	assert_failure
	run initscript status
	assert_equal "$status" 3
}

@test "init script: start on a running daemon is 0 and keeps the same master" {
	run initscript start
	assert_success
	pid=$(master_pid)
	run initscript start
	assert_success
	assert_equal "$(master_pid)" "$pid"
	assert pid_alive "$pid"
	assert wait_for serving
}

@test "init script: start refuses a broken configuration, with file:line" {
	echo "upstreem broken" >>"$MTD_CONF"
	line=$(conf_line "upstreem broken")
	run initscript start
	assert_failure
	assert_output --partial "maitred.conf:$line: unknown directive \"upstreem\""
	[ ! -e "$PIDFILE" ]
	run port_listening "$PORT"
	assert_failure
}

@test "init script: configtest" {
	run initscript configtest
	assert_success
	assert_output --partial "configuration ok"
	echo "upstreem broken" >>"$MTD_CONF"
	run initscript configtest
	assert_equal "$status" 1
	assert_output --partial 'unknown directive "upstreem"'
}

@test "init script: reload sends HUP, the master stays and new workers serve" {
	run initscript start
	assert_success
	pid=$(master_pid)
	assert wait_for serving
	old=$(worker_pids "$pid")
	[ -n "$old" ]
	run initscript reload
	assert_success
	assert wait_for log_has "configuration reloaded"
	assert_equal "$(master_pid)" "$pid"
	_new_generation() {
		local w
		w=$(worker_pids "$pid")
		[ -n "$w" ] && ! grep -qxF -f <(printf '%s\n' $old) <<<"$w"
	}
	assert wait_for _new_generation
	assert wait_for serving
	run initscript force-reload
	assert_success
}

@test "init script: reload with a broken config exits 1, no HUP, still serving" {
	run initscript start
	assert_success
	pid=$(master_pid)
	assert wait_for serving
	echo "upstreem broken" >>"$MTD_CONF"
	run initscript reload
	assert_equal "$status" 1
	assert_output --partial 'unknown directive "upstreem"'
	# the script refused before signalling the master
	refute log_has "reloading configuration"
	assert pid_alive "$pid"
	assert serving
	run initscript status
	assert_success
}

@test "init script: reload of a stopped daemon fails, on a line of its own" {
	run initscript reload
	assert_equal "$status" 7
	assert_line --regexp "^maitred is not running"
	run initscript force-reload
	assert_equal "$status" 7
	refute_output --partial "configuration:"
}

@test "init script: restart gives a new master; a broken config keeps the old" {
	run initscript start
	assert_success
	pid=$(master_pid)
	run initscript restart
	assert_success
	assert wait_gone "$pid" 10
	pid2=$(master_pid)
	[ "$pid2" != "$pid" ]
	assert wait_for serving
	echo "upstreem broken" >>"$MTD_CONF"
	run initscript restart
	assert_failure
	assert pid_alive "$pid2"
	assert serving
}

@test "init script: status 1 when the master died and left its pidfile" {
	run initscript start
	assert_success
	pid=$(master_pid)
	w=$(worker_pids "$pid")
	kill -KILL "$pid"
	assert wait_gone "$pid" 5
	for p in $w; do
		wait_gone "$p" 5 || kill -KILL "$p" 2>/dev/null || true
	done
	[ -e "$PIDFILE" ]
	run initscript status
	assert_equal "$status" 1
	# a stale pidfile does not prevent a start
	run initscript start
	assert_success
	assert wait_for serving
	[ "$(master_pid)" != "$pid" ]
}

@test "init script: unknown action is a usage error" {
	run initscript frobnicate
	assert_equal "$status" 2
	assert_output --partial "Usage:"
}

@test "systemd unit: the expected directives, and systemd-analyze verify" {
	u=$BATS_TEST_DIRNAME/../conf/maitred.service
	grep -qx 'Type=forking' "$u"
	grep -qx 'PIDFile=/run/maitred.pid' "$u"
	grep -qx 'ExecStartPre=/usr/sbin/maitred -t -c /etc/maitred/maitred.conf' "$u"
	grep -qx 'ExecStart=/usr/sbin/maitred -d -c /etc/maitred/maitred.conf' "$u"
	grep -qx 'ExecReload=/usr/sbin/maitred -t -c /etc/maitred/maitred.conf' "$u"
	grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$u"
	grep -qx 'Restart=on-failure' "$u"
	grep -qx 'LimitNOFILE=65536' "$u"
	command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
	# verify checks that the executables exist: point them at ours
	sed "s|/usr/sbin/maitred|$DAEMON|" "$u" >"$(mtd_dir)/maitred.service"
	run systemd-analyze verify --man=no "$(mtd_dir)/maitred.service"
	assert_success
	refute_output
}

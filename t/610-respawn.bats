#!/usr/bin/env bats
# Worker respawn, process titles, workers die with the master.

load helpers

setup() {
	WORKERS=3 write_conf
}

teardown() {
	common_teardown
}

@test "process titles: master process and worker process" {
	maitred_start
	wait_for workers_are 3
	[[ "$(proc_title "$MAITRED_PID")" == "maitred: master process"* ]] ||
	    fail "master title: '$(proc_title "$MAITRED_PID")'"
	# nothing after the title: once libbsd left a '.' of the old argv[0]
	for w in $(worker_pids); do
		[[ "$(proc_title "$w")" =~ ^"maitred: worker process"\ *$ ]] ||
		    fail "worker $w title: '$(proc_title "$w")'"
	done
	tr '\0' ' ' <"/proc/$MAITRED_PID/cmdline" | grep -q '^maitred: master process'
}

# kill_and_wait PID...: kill -9 these workers, wait until each is gone.
kill_and_wait() {
	local p
	kill -KILL "$@"
	for p in "$@"; do
		assert wait_gone "$p" 3
	done
}

_respawned() {
	# $1: the killed pid; the count is back and the killed pid is gone
	workers_are 3 && ! worker_pids | grep -qx "$1"
}

@test "kill -9 of a worker: a new worker takes its slot, still serving" {
	maitred_start
	wait_for workers_are 3
	before=$(worker_pids)
	victim=$(echo "$before" | head -n 1)
	kill -KILL "$victim"
	assert wait_for -t 5 _respawned "$victim"
	after=$(worker_pids)
	# the two others are untouched, one pid is new
	assert_equal "$(comm -12 <(echo "$before") <(echo "$after") | wc -l)" 2
	assert wait_for log_has "worker [0-9]+ \\(pid $victim\\) exited on signal 9, respawning"
	for w in $after; do
		[[ "$(proc_title "$w")" == "maitred: worker process"* ]]
	done
	for i in 1 2 3 4 5 6; do
		run curl -s "$(url /hello.txt)"
		assert_output "hello from maitred"
	done
	assert pid_alive "$MAITRED_PID"
}

@test "kill -9 of every worker: all slots come back" {
	maitred_start
	wait_for workers_are 3
	old=$(worker_pids)
	kill_and_wait $old
	assert wait_for -t 5 workers_are 3
	for p in $old; do
		! worker_pids | grep -qx "$p"
	done
	run curl -s "$(url /hello.txt)"
	assert_output "hello from maitred"
}

@test "kill -9 of the master: every worker exits within 2 s" {
	maitred_start
	wait_for workers_are 3
	w=$(worker_pids)
	track_pid $w
	kill -KILL "$MAITRED_PID"
	assert wait_gone "$MAITRED_PID" 3
	for p in $w; do
		assert wait_gone "$p" 2
	done
	assert wait_for -t 2 _not port_listening "$PORT"
}

# _new_worker OTHERS: print a worker pid that is not in OTHERS.
_new_worker() {
	local p
	for p in $(worker_pids); do
		printf '%s\n' "$1" | grep -qx "$p" || { echo "$p"; return 0; }
	done
	return 1
}

@test "a worker in a crash loop: its sockets close, the other worker takes every new connection" {
	WORKERS=2 write_conf
	maitred_start
	wait_for workers_are 2
	victim=$(worker_pids | head -n 1)
	other=$(worker_pids | grep -vx "$victim")
	# Kill the same slot's worker as soon as it is back: quick deaths
	# 5, 6, 7 back off 1, 2, then 4 s.
	for i in $(seq 7); do
		kill -KILL "$victim"
		wait_gone "$victim" 3
		[ "$i" -eq 7 ] && break
		wait_for -t 8 _new_worker "$other"
		victim=$(_new_worker "$other")
	done
	assert wait_for log_has 'worker [0-9]+ keeps dying, respawning in 4 s'
	log_has 'its listening sockets are closed until it is back'
	# During the back-off every new connection is served at once.
	for i in $(seq 20); do
		run curl -s -m 1 "$(url /hello.txt)"
		assert_output "hello from maitred"
	done
	assert_equal "$(worker_pids)" "$other"
	# Back in its slot, with its sockets.
	assert wait_for -t 8 workers_are 2
	for i in $(seq 6); do
		run curl -s -m 2 "$(url /hello.txt)"
		assert_output "hello from maitred"
	done
}

@test "workers killed while htdocs is moved away come back, without local files until a reload" {
	maitred_start
	wait_for workers_are 3
	d=$(mtd_dir)
	mv "$d/htdocs" "$d/htdocs.away"
	old=$(worker_pids)
	kill_and_wait $old
	# not taken for a broken configuration: every slot is filled again
	assert wait_for -t 5 workers_are 3
	assert pid_alive "$MAITRED_PID"
	assert log_has "no local file is served until the next reload"
	refute log_has "exited with status"
	mv "$d/htdocs.away" "$d/htdocs"
	run curl -s -o /dev/null -w '%{http_code}' "$(url /hello.txt)"
	assert_output 404
	old=$(worker_pids)
	kill -HUP "$MAITRED_PID"
	_reloaded() { [ "$(curl -s "$(url /hello.txt)")" = "hello from maitred" ]; }
	assert wait_for _reloaded
}

@test "a worker killed with requests in flight gives back its backend connections (least-conn stays fair)" {
	d=$(mtd_dir)
	b1=$(backend_start one)
	b2=$(backend_start two)
	printf '127.0.0.1:%s:1:3\n' "$b1" "$b2" >"$d/backends.cfg"
	WORKERS=2 write_conf "backends $d/backends.cfg" "strategy least-conn"
	maitred_start
	wait_for workers_are 2
	local i
	for i in 1 2 3; do
		curl -s -o /dev/null -m 20 "$(url '/slow?ms=10000')" &
		track_pid $!
	done
	_active() {
		curl -s "$(url /maitred/status)" | python3 -c '
import json, sys
print(sum(b["active"] for b in json.load(sys.stdin)["backends"]))'
	}
	_three() { [ "$(_active)" = 3 ]; }
	assert wait_for _three
	old=$(worker_pids)
	kill_and_wait $old
	assert wait_for -t 5 workers_are 2
	_none() { [ "$(_active)" = 0 ]; }
	assert wait_for _none
	# and least-conn spreads again
	for i in 1 2 3 4; do
		curl -s "$(url /x)"
	done >"$d/seen"
	grep -q '^one ' "$d/seen"
	grep -q '^two ' "$d/seen"
}

@test "a worker killed with connections open: the status page's active connections come back down" {
	WORKERS=2 write_conf
	maitred_start
	wait_for workers_are 2
	local i
	# idle keep-alive clients: each holds a connection, on either worker
	for i in 1 2 3 4 5 6; do
		python3 -c 'import socket, time
s = socket.create_connection(("127.0.0.1", '"$PORT"'))
time.sleep(20)' 3>&- &
		track_pid $!
	done
	_conns() {
		curl -s "$(url /maitred/status)" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(j["connections"]["active"], sum(w["connections"] for w in j["workers"]))'
	}
	# six idle ones and the status request itself
	_seven() { [ "$(_conns)" = "7 7" ]; }
	assert wait_for _seven
	kill_and_wait $(worker_pids)
	assert wait_for -t 5 workers_are 2
	# the clients' connections died with the workers: only the status
	# request is open ("7 7" before the fix)
	_one() { [ "$(_conns)" = "1 1" ]; }
	assert wait_for -t 5 _one
}

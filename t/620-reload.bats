#!/usr/bin/env bats
# HUP reload in depth: no failed request under load, a new generation of
# workers, the new configuration in effect, refused reloads (bad file,
# listen change) that keep serving, and USR1 log reopening after a reload
# and with workers that dropped privileges. A fresh maitred per test.

load helpers

setup() {
	write_conf
}

teardown() {
	# workers a test stopped (SIGSTOP) must take the master's TERM
	[ -z "${STOPPED:-}" ] || kill -CONT $STOPPED 2>/dev/null || true
	common_teardown
}

code_of() {
	curl -s -o /dev/null -w '%{http_code}' "$(url "$1")"
}

body_of() {
	curl -s "$(url "$1")"
}

# no_old_workers OLD_PIDS: none of OLD_PIDS is a child of the master any
# more, and there is at least one worker.
no_old_workers() {
	local now p
	now=$(worker_pids)
	[ -n "$now" ] || return 1
	for p in $1; do
		grep -qx "$p" <<<"$now" && return 1
	done
	return 0
}

# backend_busy: the status page shows a connection open to the first
# backend (a slow request holds a worker).
backend_busy() {
	curl -s "$(url /maitred/status)" | python3 -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["backends"][0]["active"] > 0 else 1)'
}

# count_lines PATTERN FILE
count_lines() {
	grep -cE -- "$1" "$2" 2>/dev/null || true
}

@test "HUP twice under load: zero failed requests, new worker pids" {
	d=$(mtd_dir)
	maitred_start
	old=$(worker_pids)
	[ -n "$old" ]
	# 300 requests on new connections, and 300 on keep-alive connections
	# (curl reuses its connection across a URL range), both bounded
	(
		for i in $(seq 1 300); do
			curl -s -o /dev/null -w '%{http_code}\n' \
			    "$(url /hello.txt?n=$i)" || echo "curl-failed $?"
		done >"$d/codes.new"
	) 3>&- &
	l1=$!
	(
		for i in 1 2 3; do
			curl -s -o /dev/null -w '%{http_code}\n' \
			    "$(url "/hello.txt?k=$i-[1-100]")" ||
			    echo "curl-failed $?"
		done >"$d/codes.ka"
	) 3>&- &
	l2=$!
	track_pid $l1 $l2
	_done_n() { [ "$(wc -l <"$d/codes.new" 2>/dev/null || echo 0)" -ge "$1" ]; }
	assert wait_for -t 30 _done_n 60
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	assert wait_for -t 30 _done_n 180
	kill -HUP "$MAITRED_PID"
	assert wait_for -t 10 _reloaded_twice
	s1=0 s2=0
	wait "$l1" || s1=$?
	wait "$l2" || s2=$?
	assert_equal "$s1" 0
	assert_equal "$s2" 0
	# (curl prints 000 and then the loop "curl-failed CODE": 56 is a
	# reset, 52 an empty reply)
	run grep -vx 200 "$d/codes.new"
	assert_output ""
	run grep -vx 200 "$d/codes.ka"
	assert_output ""
	assert_equal "$(wc -l <"$d/codes.new")" 300
	assert_equal "$(wc -l <"$d/codes.ka")" 300
	# the old generation is gone, a new one serves
	assert wait_for no_old_workers "$old"
	assert wait_for workers_are 2
	assert_equal "$(code_of /hello.txt)" 200
	refute log_has "exited on signal"
	assert pid_alive "$MAITRED_PID"
}

_reloaded_twice() {
	[ "$(count_lines 'configuration reloaded' "$(mtd_dir)/error.log")" -ge 2 ]
}

# hammer PORT N THREADS: THREADS clients each make N requests, one
# connection each, request sent at once; prints "ok X failed Y" and the
# first failures.
HAMMER='
import socket, sys, threading
port, n, nthreads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
fails, oks, lock = [], [0], threading.Lock()
def one(i):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(b"GET /hello.txt?h=%d HTTP/1.1\r\nHost: t\r\n"
                  b"Connection: close\r\n\r\n" % i)
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        return data.split(b"\r\n", 1)[0]
    finally:
        s.close()
def run():
    for i in range(n):
        try:
            st = one(i)
            ok, err = st.startswith(b"HTTP/1.1 200"), repr(st)
        except OSError as e:
            ok, err = False, repr(e)
        with lock:
            if ok:
                oks[0] += 1
            else:
                fails.append(err)
ths = [threading.Thread(target=run) for _ in range(nthreads)]
[t.start() for t in ths]
[t.join() for t in ths]
print("ok %d failed %d" % (oks[0], len(fails)))
for f in fails[:5]:
    print(f)
'

@test "HUP ten times under concurrent load: no connection dropped" {
	d=$(mtd_dir)
	maitred_start
	python3 -c "$HAMMER" "$PORT" 600 8 >"$d/hammer.out" 2>&1 3>&- &
	h=$!
	track_pid $h
	for i in $(seq 1 10); do
		sleep 0.1
		kill -HUP "$MAITRED_PID"
	done
	hs=0
	wait "$h" || hs=$?
	assert_equal "$hs" 0
	run cat "$d/hammer.out"
	# an empty reply (b'') or a reset is a connection the retiring
	# worker accepted and closed without answering
	assert_output "ok 4800 failed 0"
	assert wait_for workers_are 2
}

@test "HUP: a new htdocs is served after the reload" {
	d=$(mtd_dir)
	mkdir -p "$d/htdocs2"
	printf 'second site\n' >"$d/htdocs2/hello.txt"
	printf 'only in two\n' >"$d/htdocs2/two.txt"
	maitred_start
	assert_equal "$(body_of /hello.txt)" "hello from maitred"
	assert_equal "$(code_of /two.txt)" 404
	old=$(worker_pids)
	sed -i "s|^htdocs .*|htdocs $d/htdocs2|" "$MTD_CONF"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	assert wait_for no_old_workers "$old"
	assert_equal "$(body_of /hello.txt)" "second site"
	assert_equal "$(body_of /two.txt)" "only in two"
}

@test "HUP: a new status_path and worker count take effect" {
	maitred_start
	assert_equal "$(code_of /maitred/status)" 200
	echo "status_path /ops/stats" >>"$MTD_CONF"
	echo "status_allow 127.0.0.1" >>"$MTD_CONF"
	sed -i 's/^workers .*/workers 3/' "$MTD_CONF"
	old=$(worker_pids)
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	assert wait_for no_old_workers "$old"
	assert wait_for workers_are 3
	assert_equal "$(code_of /ops/stats)" 200
	curl -s "$(url /ops/stats)" | python3 -m json.tool >/dev/null
	assert_equal "$(code_of /ops/metrics)" 200
	# the old path is an ordinary (missing) file now
	run code_of /maitred/status
	refute_output 200
	# and back to 1 worker
	sed -i 's/^workers .*/workers 1/' "$MTD_CONF"
	old=$(worker_pids)
	kill -HUP "$MAITRED_PID"
	assert wait_for no_old_workers "$old"
	assert wait_for workers_are 1
	assert_equal "$(code_of /hello.txt)" 200
}

@test "HUP to fewer workers: connections queued for a removed slot are served, not reset" {
	local old client
	sed -i 's/^workers .*/workers 2/' "$MTD_CONF"
	maitred_start
	assert wait_for workers_are 2
	old=$(worker_pids)
	# Stopped workers accept nothing: 40 connections wait in the two
	# slots' queues, requests sent.
	kill -STOP $old
	python3 - "$PORT" "$BATS_TEST_TMPDIR/sent" >"$BATS_TEST_TMPDIR/out" <<-'EOF' &
	import socket, sys
	port, sent = int(sys.argv[1]), sys.argv[2]
	socks = []
	for _ in range(40):
	    s = socket.create_connection(("127.0.0.1", port), timeout=20)
	    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n"
	              b"Connection: close\r\n\r\n")
	    socks.append(s)
	open(sent, "w").close()
	ok = failed = 0
	for s in socks:
	    try:
	        data = b""
	        while True:
	            b = s.recv(65536)
	            if not b:
	                break
	            data += b
	        if data.startswith(b"HTTP/1.1 200 "):
	            ok += 1
	        else:
	            failed += 1
	    except OSError:
	        failed += 1
	print("ok", ok, "failed", failed)
	EOF
	client=$!
	track_pid "$client"
	assert wait_for test -e "$BATS_TEST_TMPDIR/sent"
	sed -i 's/^workers .*/workers 1/' "$MTD_CONF"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	kill -CONT $old
	wait "$client"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" "ok 40 failed 0"
	assert wait_for no_old_workers "$old"
}

@test "HUP after a deployment that switches a symbolic link reads the new release" {
	local d
	d=$(mtd_dir)
	mkdir -p "$d/v1" "$d/v2" "$d/h2"
	cp -r "$d/htdocs/." "$d/h2/"
	echo v1 >"$d/htdocs/release.txt"
	echo v2 >"$d/h2/release.txt"
	cp "$MTD_CONF" "$d/v1/maitred.conf"
	sed "s#^htdocs .*#htdocs $d/h2#" "$MTD_CONF" >"$d/v2/maitred.conf"
	ln -s v1 "$d/current"
	MTD_CONF=$d/current/maitred.conf maitred_start
	assert_equal "$(body_of /release.txt)" v1
	ln -sfn v2 "$d/current"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "reloading configuration $d/current/maitred.conf"
	assert wait_for log_has "configuration reloaded"
	_release_v2() { [ "$(body_of /release.txt)" = v2 ]; }
	assert wait_for _release_v2
}

@test "HUP from 3 workers to 1: the status page lists only the live worker" {
	sed -i 's/^workers .*/workers 3/' "$MTD_CONF"
	maitred_start
	assert wait_for workers_are 3
	_listed() {
		curl -s "$(url /maitred/status)" | python3 -c '
import json, sys
print(" ".join(str(w["pid"]) for w in json.load(sys.stdin)["workers"]))'
	}
	assert_equal "$(_listed | wc -w)" 3
	sed -i 's/^workers .*/workers 1/' "$MTD_CONF"
	old=$(worker_pids)
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	# right away, while the old ones may still be draining: only the
	# new worker is listed
	run _listed
	assert_equal "$(wc -w <<<"$output")" 1
	refute grep -qx "$output" <<<"$old"
	assert pid_alive "$output"
	assert wait_for no_old_workers "$old"
	assert wait_for workers_are 1
	run _listed
	assert_output "$(worker_pids)"
}

@test "HUP with an invalid config: reload failed with file:line, still serving" {
	d=$(mtd_dir)
	maitred_start
	old=$(worker_pids)
	echo "upstreem broken" >>"$MTD_CONF"
	line=$(conf_line "upstreem broken")
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "reload failed, keeping the running configuration"
	assert log_has "maitred.conf:$line: unknown directive \"upstreem\""
	for i in $(seq 1 10); do
		assert_equal "$(code_of /hello.txt)" 200
	done
	# the same workers: nothing was restarted
	assert_equal "$(worker_pids)" "$old"
	refute log_has "configuration reloaded"
	assert pid_alive "$MAITRED_PID"
	# a bad value is refused the same way, with its line
	sed -i '$d' "$MTD_CONF"
	echo "keepalive_timeout forever" >>"$MTD_CONF"
	line=$(conf_line "keepalive_timeout forever")
	kill -HUP "$MAITRED_PID"
	_two_failed() {
		[ "$(count_lines 'reload failed' "$d/error.log")" -ge 2 ]
	}
	assert wait_for _two_failed
	assert log_has "maitred.conf:$line:.*keepalive_timeout"
	assert_equal "$(worker_pids)" "$old"
	# fixed: the next HUP reloads
	sed -i '$d' "$MTD_CONF"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	assert wait_for no_old_workers "$old"
	assert_equal "$(code_of /hello.txt)" 200
}

@test "HUP to more workers than the master has descriptors for: refused, no listener left without a worker" {
	local d wrap n
	d=$(mtd_dir)
	# the master's limit is 32 descriptors, soft and hard
	wrap=$d/maitred-32fds
	printf '#!/bin/sh\nulimit -n 32 && exec "%s" "$@"\n' "$MAITRED" >"$wrap"
	chmod +x "$wrap"
	write_conf "workers 8"
	MAITRED=$wrap maitred_start
	assert wait_for workers_are 8
	sed -i 's/^workers 8$/workers 30/' "$MTD_CONF"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "reload failed, keeping the running configuration"
	assert log_has "bind 127.0.0.1:$PORT: Too many open files"
	# 8 sockets, one per worker: an extra one would queue clients for ever
	n=$(ss -Hltn "sport = :$PORT" | wc -l)
	assert_equal "$n" 8
	for i in $(seq 1 20); do
		assert_equal "$(CURL_MAX_TIME=2 code_of /hello.txt)" 200
	done
}

@test "HUP with an unknown user: reload refused, the old workers serve" {
	maitred_start
	old=$(worker_pids)
	echo "user nosuchuser-mtd" >>"$MTD_CONF"
	line=$(conf_line "user nosuchuser-mtd")
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "reload failed, keeping the running configuration"
	assert log_has "maitred.conf:$line: unknown user \"nosuchuser-mtd\""
	for i in $(seq 1 10); do
		assert_equal "$(code_of /hello.txt)" 200
	done
	assert_equal "$(worker_pids)" "$old"
	refute log_has "configuration reloaded"
	refute log_has "exited"
}

@test "HUP keeps the command-line -p, -w and -s over the file" {
	local fileport=$PORT
	PORT=$(free_port)
	maitred_start -p "$PORT" -w 1 -s least-conn
	assert wait_for workers_are 1
	old=$(worker_pids)
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	refute log_has "needs a restart"
	assert wait_for no_old_workers "$old"
	assert wait_for workers_are 1
	assert_equal "$(code_of /hello.txt)" 200
	run port_listening "$fileport"
	assert_failure
}

@test "HUP changing listen: needs a restart, keeps serving on the old port" {
	maitred_start
	old=$(worker_pids)
	newport=$(free_port)
	sed -i "s|^listen .*|listen 127.0.0.1:$newport|" "$MTD_CONF"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has 'reload: changing "listen" needs a restart, keeping the running configuration'
	assert_equal "$(code_of /hello.txt)" 200
	run port_listening "$newport"
	assert_failure
	assert_equal "$(worker_pids)" "$old"
	refute log_has "configuration reloaded"
}

@test "HUP with the same listen lines in another order: reloaded, both still serve" {
	local p2 old
	p2=$(free_port)
	write_conf "listen 127.0.0.1:$p2"
	maitred_start
	old=$(worker_pids)
	# swap the two listen lines, change something else
	awk '/^listen /{ l[++n] = $0; next } { print }
	    END { print l[2]; print l[1] }' "$MTD_CONF" >"$MTD_CONF.new"
	mv "$MTD_CONF.new" "$MTD_CONF"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	refute log_has "needs a restart"
	assert wait_for no_old_workers "$old"
	assert_equal "$(code_of /hello.txt)" 200
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p2/hello.txt"
	assert_output 200
}

# Both size the shared segment, which a reload cannot resize.
@test "HUP changing cache_size or rate_limit_size: needs a restart, keeps serving" {
	local name from to
	for name in "cache_size 8m 16m" "rate_limit_size 1m 4m"; do
		read -r name from to <<<"$name"
		sed -i '/^cache_size \|^rate_limit_size /d' "$MTD_CONF"
		echo "$name $from" >>"$MTD_CONF"
		maitred_start
		old=$(worker_pids)
		sed -i "s/^$name .*/$name $to/" "$MTD_CONF"
		kill -HUP "$MAITRED_PID"
		assert wait_for log_has "reload: changing \"$name\" needs a restart"
		assert_equal "$(code_of /hello.txt)" 200
		assert_equal "$(worker_pids)" "$old"
		refute log_has "configuration reloaded"
		maitred_stop
	done
}

@test "HUP changing pidfile: needs a restart, the pidfile stays" {
	d=$(mtd_dir)
	maitred_start
	assert wait_for test -s "$d/maitred.pid"
	old=$(worker_pids)
	sed -i "s|^pidfile .*|pidfile $d/other.pid|" "$MTD_CONF"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has 'reload: changing "pidfile" needs a restart, keeping the running configuration'
	assert_equal "$(code_of /hello.txt)" 200
	assert_equal "$(worker_pids)" "$old"
	assert_equal "$(cat "$d/maitred.pid")" "$MAITRED_PID"
	[ ! -e "$d/other.pid" ]
	refute log_has "configuration reloaded"
}

@test "HUP with a changed backend list: the new backends serve" {
	local d b1 b2 p1 p2 seen i
	d=$(mtd_dir)
	p1=$(free_port)
	python3 "$BATS_TEST_DIRNAME/backend.py" --port "$p1" --name one \
	    --pidfile "$d/one.pid" </dev/null >/dev/null 2>&1 3>&- &
	track_pid $!
	p2=$(free_port)
	python3 "$BATS_TEST_DIRNAME/backend.py" --port "$p2" --name two \
	    --pidfile "$d/two.pid" </dev/null >/dev/null 2>&1 3>&- &
	track_pid $!
	wait_for port_listening "$p1"
	wait_for port_listening "$p2"
	printf '127.0.0.1:%s:1:3\n' "$p1" >"$d/backends.cfg"
	echo "backends $d/backends.cfg" >>"$MTD_CONF"
	maitred_start
	run curl -s -D - -o /dev/null "$(url /proxied)"
	assert_output --partial "X-Backend: one"
	printf '127.0.0.1:%s:1:3\n' "$p2" >"$d/backends.cfg"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	assert log_has "backends changed: 1 backend"
	seen=
	for i in 1 2 3 4 5 6; do
		seen="$seen $(curl -s -D - -o /dev/null "$(url /p$i)" |
		    tr -d '\r' | awk -F': ' '/^X-Backend/ {print $2}')"
	done
	assert_equal "$(echo $seen | tr ' ' '\n' | sort -u | tr '\n' ' ')" "two "
}

# backends_up: "address:healthy" for every backend in the status JSON.
backends_up() {
	curl -s "$(url /maitred/status)" | python3 -c '
import json, sys
print(" ".join("%s:%d" % (b["address"], b["healthy"]) for b in json.load(sys.stdin)["backends"]))'
}

@test "HUP adding a backend: a dead one stays down, a changed hash_secret moves clients" {
	local d p1 pdead p2 before
	d=$(mtd_dir)
	p1=$(free_port)
	pdead=$(free_port)
	p2=$(free_port)
	for p in "$p1" "$p2"; do
		python3 "$BATS_TEST_DIRNAME/backend.py" --port "$p" --name "b$p" \
		    --pidfile "$d/b$p.pid" </dev/null >/dev/null 2>&1 3>&- &
		track_pid $!
		wait_for port_listening "$p"
	done
	printf '127.0.0.1:%s:1:1\n127.0.0.1:%s:1:1\n' "$p1" "$pdead" \
	    >"$d/backends.cfg"
	write_conf "backends $d/backends.cfg" "health_interval 300ms" \
	    "sticky cookie srv" "hash_secret one"
	maitred_start
	assert wait_for log_has "backend 127.0.0.1:$pdead down"
	before=$(curl -s -D - -o /dev/null "$(url /x)" | grep -i '^set-cookie')
	[ -n "$before" ]
	printf '127.0.0.1:%s:1:1\n' "$p2" >>"$d/backends.cfg"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	# health survives the new table: no new down line, and down at once
	run backends_up
	assert_output --partial "127.0.0.1:$pdead:0"
	run grep -c "backend 127.0.0.1:$pdead down" "$d/error.log"
	assert_output 1
	# the same list with another hash_secret: new cookie tokens
	sed -i 's/^hash_secret one$/hash_secret two/' "$MTD_CONF"
	: >"$d/error.log"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	refute [ "$(curl -s -D - -o /dev/null "$(url /x)" |
	    grep -i '^set-cookie' | sed 's/b[0-9]*//')" = \
	    "$(printf '%s' "$before" | sed 's/b[0-9]*//')" ]
}

# backends_active: the "active" count of every backend in the status JSON.
backends_active() {
	curl -s "$(url /maitred/status)" | python3 -c '
import json, sys
print(" ".join(str(b["active"]) for b in json.load(sys.stdin)["backends"]))'
}

@test "two backend changes while a request from before the first is in flight: the second waits, nothing corrupted" {
	local d p1 p2 p3 cpid cstatus
	d=$(mtd_dir)
	p1=$(backend_start one)
	p2=$(backend_start two)
	p3=$(backend_start three)
	sed -i 's/^workers .*/workers 1/' "$MTD_CONF"
	printf '127.0.0.1:%s:1:3\n' "$p1" >"$d/backends.cfg"
	echo "backends $d/backends.cfg" >>"$MTD_CONF"
	maitred_start
	gen1=$(worker_pids)
	curl -s -o "$d/slow.out" "$(url '/slow?ms=3000')" 3>&- &
	cpid=$!
	track_pid $cpid
	_in_flight() { [ "$(backends_active)" = 1 ]; }
	assert wait_for _in_flight
	# first change: table B for generation 2, generation 1 keeps A
	printf '127.0.0.1:%s:1:3\n' "$p2" >"$d/backends.cfg"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	# second change: A is still in use by generation 1, so it waits
	printf '127.0.0.1:%s:1:3\n' "$p3" >"$d/backends.cfg"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "reload: backends changed again while 1 worker\\(s\\) retired"
	assert_equal "$(count_lines 'configuration reloaded' "$d/error.log")" 1
	assert pid_alive "$gen1"
	run curl -s -D - -o /dev/null "$(url /p)"
	assert_output --partial "X-Backend: two"
	# the old request completes intact, on its own table
	cstatus=0
	wait "$cpid" || cstatus=$?
	assert_equal "$cstatus" 0
	assert_equal "$(cat "$d/slow.out")" slow
	# then the postponed reload runs
	_two() {
		[ "$(count_lines 'configuration reloaded' "$d/error.log")" -eq 2 ]
	}
	assert wait_for _two
	assert log_has "running the postponed reload"
	assert wait_for no_old_workers "$gen1"
	run curl -s -D - -o /dev/null "$(url /p)"
	assert_output --partial "X-Backend: three"
	# no connection count went wrong ("active": -1 before the fix)
	assert_equal "$(backends_active)" 0
}

@test "HUP: an in-flight download on an old worker completes intact" {
	d=$(mtd_dir)
	head -c $((6 * 1024 * 1024)) /dev/urandom >"$d/htdocs/slow.bin"
	maitred_start
	old=$(worker_pids)
	curl -s --limit-rate 2M -o "$d/slow.out" "$(url /slow.bin)" 3>&- &
	cpid=$!
	track_pid $cpid
	assert wait_for test -s "$d/slow.out"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	# new connections go to the new generation meanwhile
	assert_equal "$(code_of /hello.txt)" 200
	cstatus=0
	wait "$cpid" || cstatus=$?
	assert_equal "$cstatus" 0
	assert_equal "$(sha256sum <"$d/slow.out")" \
	    "$(sha256sum <"$d/htdocs/slow.bin")"
	assert wait_for no_old_workers "$old"
}

# The client side of a keep-alive connection across a HUP: one request,
# HUP, wait for the reload, a second request on the same connection.
# Prints the status line and Connection field of each response, or
# "closed" when the connection ended without one.
KEEPALIVE_ACROSS_HUP='
import os, re, signal, socket, sys, time
port, master, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
buf = b""
def answer():
    global buf
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return "closed"
        buf += d
    head, _, buf = buf.partition(b"\r\n\r\n")
    n = int(re.search(rb"(?i)content-length: *([0-9]+)", head).group(1))
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            return "closed"
        buf += d
    buf = buf[n:]
    conn = re.search(rb"(?i)\r\nconnection: *([a-z-]+)", head)
    return "%s %s" % (head.split(b"\r\n")[0].decode(),
        conn.group(1).decode() if conn else "-")
req = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
s.sendall(req)
print(answer())
os.kill(master, signal.SIGHUP)
for _ in range(200):
    if "configuration reloaded" in open(log).read():
        break
    time.sleep(0.02)
time.sleep(0.1)
try:
    s.sendall(req)
    print(answer())
except OSError as e:
    print("closed", e)
'

@test "HUP: a request sent on an idle keep-alive connection just after the reload is answered" {
	maitred_start
	old=$(worker_pids)
	run python3 -c "$KEEPALIVE_ACROSS_HUP" "$PORT" "$MAITRED_PID" \
	    "$(mtd_dir)/error.log"
	assert_line --index 0 "HTTP/1.1 200 OK -"
	assert_line --index 1 "HTTP/1.1 200 OK close"
	# and the old workers still go away
	assert wait_for no_old_workers "$old"
}

@test "HUP: a keep-alive answer in flight at the reload, then the next request is answered" {
	head -c $((8 * 1024 * 1024)) /dev/urandom >"$(mtd_dir)/htdocs/ka.bin"
	maitred_start
	run timeout 30 python3 - "$PORT" "$MAITRED_PID" "$(mtd_dir)/error.log" <<'EOF'
import os, re, signal, socket, sys, time
port, master, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect(("127.0.0.1", port))
s.settimeout(10)
def ask(path):
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return "closed", b"", 0
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    n = int(re.search(rb"(?i)content-length: *([0-9]+)", head).group(1))
    conn = re.search(rb"(?i)\r\nconnection: *([a-z-]+)", head)
    return "%s %s" % (head.split(b"\r\n")[0].decode(),
        conn.group(1).decode() if conn else "-"), body, n
line, body, n = ask(b"/ka.bin")
# bytearray: "bytes +=" copies the whole body at every read, which on a
# slow machine took seconds, past the grace the old worker gives an
# idle connection once its last bytes are in the socket
body = bytearray(body)
print(line)
# the head went out as keep-alive; reload while the body is on its way
os.kill(master, signal.SIGHUP)
for _ in range(250):
    if "configuration reloaded" in open(log).read():
        break
    time.sleep(0.02)
while len(body) < n:
    d = s.recv(65536)
    if not d:
        break
    body += d
print("body", len(body) == n)
try:
    print(ask(b"/hello.txt")[0])
except OSError as e:
    print("closed", e)
EOF
	assert_success
	assert_line --index 0 "HTTP/1.1 200 OK -"
	assert_line --index 1 "body True"
	assert_line --index 2 "HTTP/1.1 200 OK close"
}

@test "HUP five times in a row: exactly the configured workers remain" {
	maitred_start
	old=$(worker_pids)
	for i in 1 2 3 4 5; do
		kill -HUP "$MAITRED_PID"
		sleep 0.1
	done
	_five() {
		[ "$(count_lines 'configuration reloaded' "$(mtd_dir)/error.log")" -ge 5 ]
	}
	assert wait_for _five
	assert wait_for no_old_workers "$old"
	assert wait_for workers_are 2
	assert_equal "$(code_of /hello.txt)" 200
	refute log_has "exited on signal"
}

# usr1_rotates TAG: rename both logs, USR1, and check that new requests
# and messages land in fresh files.
usr1_rotates() {
	local d tag=$1
	d=$(mtd_dir)
	assert_equal "$(code_of "/hello.txt?before-$tag")" 200
	assert wait_for test -s "$d/access.log"
	mv "$d/error.log" "$d/error.log.1"
	mv "$d/access.log" "$d/access.log.1"
	kill -USR1 "$MAITRED_PID"
	_reopened() {
		log_has "reopening log files" "$d/error.log" ||
		    log_has "reopening log files" "$d/error.log.1"
	}
	assert wait_for _reopened
	_logged() {
		code_of "/hello.txt?after-$tag" >/dev/null
		grep -q "after-$tag" "$d/access.log" 2>/dev/null
	}
	assert wait_for -t 5 _logged
	# every worker reopened: none of many requests goes to the old file
	for i in $(seq 1 20); do
		code_of "/hello.txt?after-$tag-$i" >/dev/null
	done
	run grep -c "after-$tag" "$d/access.log.1"
	assert_output 0
	refute log_has "reopen .*(denied|rror)" "$d/error.log"
	refute log_has "reopen .*(denied|rror)" "$d/error.log.1"
	# the master writes to the new error log too (600-signals checks
	# that the "reopening" line itself is in it)
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded" "$d/error.log"
}

@test "USR1 after a HUP: the new generation reopens its logs" {
	maitred_start
	old=$(worker_pids)
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	assert wait_for no_old_workers "$old"
	usr1_rotates hup
	assert pid_alive "$MAITRED_PID"
}

@test "USR1 with workers running as another user: they still reopen" {
	[ "$(id -u)" = 0 ] || skip "needs root to drop privileges"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	d=$(mtd_dir)
	open_path_to_others "$d"
	chmod -R a+rX "$d/htdocs"
	echo "user nobody" >>"$MTD_CONF"
	maitred_start
	for w in $(worker_pids); do
		assert_equal "$(ps -o user= -p "$w")" nobody
	done
	usr1_rotates nobody
}

@test "worker_shutdown_timeout: a retired worker holding a slow request exits after it" {
	d=$(mtd_dir)
	b=$(backend_start slowpoke)
	printf '127.0.0.1:%s:1:3\n' "$b" >"$d/backends.cfg"
	write_conf "backends $d/backends.cfg" "workers 1" \
	    "read_timeout 60s" "worker_shutdown_timeout 1s"
	maitred_start
	old=$(worker_pids)
	# a request the backend answers in 30 s holds the old worker
	curl -s -o /dev/null -w '%{http_code}' "$(url '/slow?ms=30000')" \
	    >"$d/slow.code" 2>/dev/null &
	track_pid $!
	assert wait_for backend_busy
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	assert wait_for no_old_workers "$old"
	assert log_has "worker_shutdown_timeout: closing 1 connection\\(s\\) still open"
	# the request it cut is logged, not lost
	assert wait_for grep -q '"GET /slow?ms=30000 HTTP/1.1" 499 ' "$d/access.log"
	# it exited by itself: nothing to report
	refute log_has "retired worker"
	# the new worker serves
	assert_equal "$(code_of /maitred/status)" 200
}

@test "TERM with a request in flight: it is logged and counted in the totals" {
	d=$(mtd_dir)
	b=$(backend_start slowpoke)
	printf '127.0.0.1:%s:1:3\n' "$b" >"$d/backends.cfg"
	write_conf "backends $d/backends.cfg" "workers 1" "read_timeout 60s"
	maitred_start
	curl -s -o /dev/null "$(url '/slow?ms=30000')" 2>/dev/null &
	track_pid $!
	assert wait_for backend_busy
	kill -TERM "$MAITRED_PID"
	assert wait_for log_has "totals: requests 2,"
	assert grep -q '"GET /slow?ms=30000 HTTP/1.1" 499 ' "$d/access.log"
}

@test "a retired worker that crashes while draining is logged, as a current one is" {
	d=$(mtd_dir)
	b=$(backend_start slowpoke)
	printf '127.0.0.1:%s:1:3\n' "$b" >"$d/backends.cfg"
	write_conf "backends $d/backends.cfg" "workers 1" "read_timeout 60s"
	maitred_start
	old=$(worker_pids)
	curl -s -o /dev/null "$(url '/slow?ms=30000')" 2>/dev/null &
	track_pid $!
	assert wait_for backend_busy
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded"
	assert pid_alive "$old"
	kill -KILL "$old"
	assert wait_for log_has "retired worker \\(pid $old\\) exited on signal 9"
}

@test "HUP with an error_log that cannot be opened: refused, the old log and workers stay" {
	maitred_start
	old=$(worker_pids)
	d=$(mtd_dir)
	sed -i "s|^error_log .*|error_log $d/nodir/error.log|" "$MTD_CONF"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "error_log $d/nodir/error.log: No such file or directory"
	assert wait_for log_has "reload failed, keeping the running configuration"
	assert_equal "$(worker_pids)" "$old"
	assert_equal "$(code_of /hello.txt)" 200
}

@test "HUP with an unchanged log path gone: reloaded, the open logs go on, file:line said" {
	d=$(mtd_dir)
	mkdir -p "$d/logs"
	write_conf "error_log $d/logs/error.log" "access_log $d/logs/access.log"
	maitred_start
	n=$(grep -n "^access_log" "$MTD_CONF" | cut -d: -f1)
	mv "$d/logs" "$d/logs.old"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded" "$d/logs.old/error.log"
	assert log_has "maitred.conf:$n: access_log $d/logs/access.log: No such file or directory: still writing to the file opened before" "$d/logs.old/error.log"
	assert_equal "$(code_of /hello.txt)" 200
	assert wait_for grep -q 'GET /hello.txt' "$d/logs.old/access.log"
}

@test "HUP with an access_log on a FIFO nobody reads: refused at once, the master still respawns" {
	maitred_start
	d=$(mtd_dir)
	mkfifo "$d/fifo"
	sed -i "s|^access_log .*|access_log $d/fifo|" "$MTD_CONF"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "access_log $d/fifo: No such device or address"
	assert wait_for log_has "reload failed, keeping the running configuration"
	# the master is not stuck in open(): it respawns a killed worker
	kill -KILL "$(worker_pids | head -n 1)"
	assert wait_for log_has 'exited on signal 9, respawning'
	wait_for test "$(worker_pids | wc -l)" -eq "${WORKERS:-2}"
	assert_equal "$(code_of /hello.txt)" 200
}

@test "HUP while the retired-worker table is full: the reload waits for them, then runs" {
	local d i
	d=$(mtd_dir)
	STOPPED=
	# 64 workers: the table of retired workers (4 x 64) is full after
	# four reloads whose retirees cannot leave (stopped here, as a
	# WebSocket or a long download would keep them)
	sed -i 's/^workers .*/workers 64/' "$MTD_CONF"
	: >"$d/blacklist.txt"
	echo "blacklist $d/blacklist.txt" >>"$MTD_CONF"
	maitred_start
	assert wait_for workers_are 64
	for i in 1 2 3 4; do
		kill -STOP $(worker_pids)
		STOPPED=$(worker_pids | tr '\n' ' ')
		kill -HUP "$MAITRED_PID"
		_reloaded() {
			[ "$(count_lines 'configuration reloaded' "$d/error.log")" -ge "$i" ]
		}
		assert wait_for _reloaded
		assert wait_for -t 60 workers_are $((64 * (i + 1)))
	done
	echo "keepalive_timeout 0" >>"$MTD_CONF"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "too many retired workers still draining"
	assert_equal "$(count_lines 'configuration reloaded' "$d/error.log")" 4
	# meanwhile the blacklist watch goes on
	echo 127.0.0.2 >"$d/blacklist.txt"
	_blocked() {
		[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' \
		    --interface 127.0.0.2 "$(url /hello.txt)")" = 403 ]
	}
	assert wait_for _blocked
	# the retirees go: the reload that had to wait now runs
	kill -CONT $STOPPED
	_five() {
		[ "$(count_lines 'configuration reloaded' "$d/error.log")" -ge 5 ]
	}
	assert wait_for -t 20 _five
	assert wait_for -t 20 workers_are 64
	run curl -s -m 5 -D - -o /dev/null "$(url /hello.txt)"
	assert_output --partial "Connection: close"
}

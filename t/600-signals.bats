#!/usr/bin/env bats
# Signals to the master: TERM, INT (fast stop), QUIT (graceful), USR1
# (reopen logs), HUP (reload, never kills). A fresh maitred per test.

load helpers

setup() {
	write_conf
}

teardown() {
	common_teardown
}

code_of() {
	curl -s -o /dev/null -w '%{http_code}' "$(url "$1")"
}

# fast_stop SIGNAL: the master and workers exit, the log says so and the
# totals line is printed on stdout.
fast_stop() {
	maitred_start
	assert_equal "$(code_of /hello.txt)" 200
	assert_equal "$(code_of /nothere)" 404
	w=$(worker_pids)
	[ -n "$w" ]
	kill -"$1" "$MAITRED_PID"
	assert wait_gone "$MAITRED_PID" 10
	for p in $w; do
		assert wait_gone "$p" 3
	done
	assert log_has "shutting down"
	refute log_has "shutting down gracefully"
	run cat "$(mtd_dir)/stdout.log"
	assert_output --regexp 'totals: requests 2, 1xx 0, 2xx 1, 3xx 0, 4xx 1, 5xx 0, bytes in [1-9][0-9]*, out [1-9][0-9]*'
	assert log_has 'totals: requests 2,'
	[ ! -e "$(mtd_dir)/maitred.pid" ]
	run port_listening "$PORT"
	assert_failure
}

@test "TERM: fast shutdown of master and workers, totals printed" {
	fast_stop TERM
}

@test "INT: fast shutdown like TERM" {
	fast_stop INT
}

@test "QUIT: graceful, an in-flight download completes, then the master exits" {
	d=$(mtd_dir)
	head -c $((6 * 1024 * 1024)) /dev/urandom >"$d/htdocs/slow.bin"
	maitred_start
	curl -s --limit-rate 2M -o "$d/slow.out" "$(url /slow.bin)" 3>&- &
	cpid=$!
	track_pid $cpid
	# the response has started
	assert wait_for test -s "$d/slow.out"
	kill -QUIT "$MAITRED_PID"
	assert wait_for log_has "shutting down gracefully"
	cstatus=0
	wait "$cpid" || cstatus=$?
	assert_equal "$cstatus" 0
	assert_equal "$(sha256sum <"$d/slow.out")" "$(sha256sum <"$d/htdocs/slow.bin")"
	assert wait_gone "$MAITRED_PID" 10
	[ ! -e "$d/maitred.pid" ]
}

# conns_at_least N: N client connections to $PORT are established.
conns_at_least() {
	[ "$(ss -tnH state established "( sport = :$PORT )" | wc -l)" -ge "$1" ]
}

@test "QUIT: a client that connected and sent nothing holds the stop a second, not client_timeout" {
	write_conf "client_timeout 60s"
	maitred_start
	# a silent connection, and one with half a request head
	python3 -c '
import socket, sys, time
a = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
b = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
b.sendall(b"GET /hello.txt HTTP/1.1\r\n")
time.sleep(1.5)
b.sendall(b"Host: x\r\n\r\n")
print(b.recv(4096).split(b"\r\n")[0].decode())
print("silent:", a.recv(4096)[:12].decode() or "closed")
' "$PORT" >"$(mtd_dir)/clients.out" 3>&- &
	track_pid $!
	local cpid=$!
	wait_for conns_at_least 2
	kill -QUIT "$MAITRED_PID"
	# well before client_timeout: the silent one gets a second's grace,
	# then a close; the half-sent request is answered
	assert wait_gone "$MAITRED_PID" 10
	wait "$cpid"
	run cat "$(mtd_dir)/clients.out"
	assert_line 'HTTP/1.1 200 OK'
	assert_line 'silent: closed'
}

@test "USR1: reopens the error log and the access log" {
	d=$(mtd_dir)
	maitred_start
	assert_equal "$(code_of /hello.txt)" 200
	assert wait_for test -s "$d/access.log"
	mv "$d/error.log" "$d/error.log.1"
	mv "$d/access.log" "$d/access.log.1"
	kill -USR1 "$MAITRED_PID"
	assert wait_for test -e "$d/error.log"
	assert wait_for log_has "reopening log files" "$d/error.log"
	# workers reopen theirs too: new requests land in the new access log
	# (poll: a worker may see USR1 a little after the master)
	_req_logged() {
		code_of /hello.txt?after-usr1 >/dev/null
		grep -q 'after-usr1' "$d/access.log" 2>/dev/null
	}
	assert wait_for -t 5 _req_logged
	assert pid_alive "$MAITRED_PID"
	run grep -c after-usr1 "$d/access.log.1"
	assert_output 0
}

@test "HUP after a rotation: the new workers write to new log files" {
	d=$(mtd_dir)
	maitred_start
	assert_equal "$(code_of /hello.txt)" 200
	mv "$d/error.log" "$d/error.log.1"
	mv "$d/access.log" "$d/access.log.1"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has "configuration reloaded" "$d/error.log"
	_req_logged() {
		code_of /hello.txt?after-hup >/dev/null
		grep -q 'after-hup' "$d/access.log" 2>/dev/null
	}
	assert wait_for -t 5 _req_logged
	run grep -c after-hup "$d/access.log.1"
	assert_output 0
}

@test "USR2 and ALRM to the master are logged and ignored" {
	maitred_start
	w=$(worker_pids)
	kill -USR2 "$MAITRED_PID"
	kill -ALRM "$MAITRED_PID"
	assert wait_for log_has "signal USR2 ignored: HUP reloads"
	assert wait_for log_has "signal ALRM ignored"
	for p in $w; do
		kill -USR2 "$p"
	done
	assert_equal "$(code_of /hello.txt)" 200
	assert pid_alive "$MAITRED_PID"
	assert_equal "$(worker_pids)" "$w"
	refute log_has "exited on signal"
}

@test "HUP does not kill the server" {
	maitred_start
	kill -HUP "$MAITRED_PID"
	# keep asking for a second: every answer is 200
	for i in $(seq 1 10); do
		assert_equal "$(code_of /hello.txt)" 200
		sleep 0.1
	done
	assert pid_alive "$MAITRED_PID"
	assert wait_for _has_workers
	refute log_has "exited on signal"
}

@test "HUP with a broken config keeps the old one running" {
	maitred_start
	echo "upstreem broken" >>"$MTD_CONF"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has 'unknown directive "upstreem"'
	for i in $(seq 1 10); do
		assert_equal "$(code_of /hello.txt)" 200
		sleep 0.1
	done
	assert pid_alive "$MAITRED_PID"
}

_has_workers() {
	[ -n "$(worker_pids)" ]
}

@test "QUIT: a silent client on a TLS listener holds the stop a second too" {
	d=$(mtd_dir)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$d/k.pem" -out "$d/c.pem" -days 1 -subj /CN=localhost \
	    2>/dev/null
	TP=$(free_port)
	write_conf "client_timeout 60s" "listen 127.0.0.1:$TP ssl" \
	    "ssl_certificate $d/c.pem" "ssl_certificate_key $d/k.pem"
	maitred_start
	python3 -c '
import socket, sys
a = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
a.settimeout(30)
print("silent:", a.recv(4096) or "closed")
' "$TP" >"$d/tls.out" 3>&- &
	track_pid $!
	local cpid=$!
	_tls_conn() { [ "$(ss -tnH state established "( sport = :$TP )" | wc -l)" -ge 1 ]; }
	wait_for _tls_conn
	SECONDS=0
	kill -QUIT "$MAITRED_PID"
	assert wait_gone "$MAITRED_PID" 10
	wait "$cpid"
	assert_equal "$(cat "$d/tls.out")" "silent: closed"
	[ "$SECONDS" -lt 10 ]
}

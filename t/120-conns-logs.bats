#!/usr/bin/env bats
# worker_connections reached, log_level filtering, and access-log lines
# from many workers that never interleave. Each test starts its own
# maitred.

load helpers

teardown() {
	common_teardown
}

@test "worker_connections reached: the next client waits in the backlog, then is served" {
	WORKERS=1 write_conf "worker_connections 4" "client_timeout 20s" \
	    "keepalive_timeout 20s"
	maitred_start
	run python3 - "$PORT" <<'PY'
import socket, sys
port = int(sys.argv[1])
req = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
held = []
for i in range(4):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(req)
    held.append((s, s.recv(4096).split(b"\r\n")[0].decode()))
print("held:", " ".join(st for _, st in held))
extra = socket.create_connection(("127.0.0.1", port), timeout=1)
extra.sendall(req)
try:
    extra.recv(4096)
    print("fifth: answered while full")
except socket.timeout:
    print("fifth: waiting")
held[0][0].close()
extra.settimeout(10)
print("fifth after a close:", extra.recv(4096).split(b"\r\n")[0].decode())
PY
	assert_success
	assert_line 'held: HTTP/1.1 200 OK HTTP/1.1 200 OK HTTP/1.1 200 OK HTTP/1.1 200 OK'
	assert_line 'fifth: waiting'
	assert_line 'fifth after a close: HTTP/1.1 200 OK'
}

@test "log_level warning: info lines are left out, warnings kept" {
	write_conf "log_level warning"
	maitred_start
	kill -USR1 "$MAITRED_PID"
	# a warning: a worker killed is respawned with a WARNING line
	kill -KILL "$(worker_pids | head -n 1)"
	wait_for log_has '\[WARNING\]'
	run grep -c '\[INFO\]' "$(mtd_dir)/error.log"
	assert_output 0
}

@test "log_level debug: the strategy, each route, cache decisions and checks" {
	local d bp
	d=$(mtd_dir)
	bp=$(backend_start b1)
	echo "127.0.0.1:$bp:1:3" >"$d/backends.cfg"
	printf '/api/*:0:0\n/*:5:51200\n' >"$d/rules.cfg"
	write_conf "log_level debug" "backends $d/backends.cfg" \
	    "cache_rules $d/rules.cfg" "strategy least-conn" \
	    "health_interval 300ms"
	maitred_start
	assert log_has "\\[INFO\\] .* balancing 1 backend with least-conn$"
	http_get /a
	http_get /a
	http_get /api/x
	assert log_has "\\[DEBUG\\] .* cache: /a MISS \\(rule \"/\\*\"\\)"
	assert log_has "\\[DEBUG\\] .* proxy: 127.0.0.1 GET /a to backend 127.0.0.1:$bp \\(least-conn\\)"
	assert log_has "cache: stored a 200 answer for 5 s"
	assert log_has "cache: /a HIT"
	assert log_has "cache: /api/x BYPASS \\(rule \"/api/\\*\"\\)"
	assert wait_for log_has "\\[DEBUG\\] .* backend 127.0.0.1:$bp: check ok"
	# a failed check says why, and how many in a row
	kill -TERM "$(backend_pid b1)"
	assert wait_for log_has "check failed: connect refused \\(1/3\\)"
	assert wait_for log_has "backend 127.0.0.1:$bp down: connect refused \\(3/3\\)"
	# then the count stops: it is down, not "4 of 3"
	assert wait_for log_has "check failed: connect refused \\(still down\\)"
	refute log_has "\\([4-9]/3\\)"
}

@test "access log lines from 4 workers under load never interleave" {
	WORKERS=4 write_conf
	maitred_start
	python3 "$BATS_TEST_DIRNAME/lib/idle_conns.py" load --port "$PORT" \
	    --threads 8 --duration 2 --timeout 5 >/dev/null 2>&1 3>&-
	local n bad
	n=$(wc -l <"$(mtd_dir)/access.log")
	[ "$n" -ge 500 ] || fail "only $n lines"
	bad=$(grep -cvE '^127\.0\.0\.1 - - \[[^]]+\] "GET [^"]* HTTP/1\.1" [0-9]{3} [0-9]+ "[^"]*" "[^"]*" rt=[0-9.]+ up=[^ ]+ cache=[^ ]+$' \
	    "$(mtd_dir)/access.log" || true)
	assert_equal "$bad" 0
}

@test "client_timeout: slow but steady and fast but long downloads are whole, a stalled one is cut" {
	local f want
	WORKERS=1 write_conf "client_timeout 1s"
	f=$(mtd_dir)/htdocs/big.bin
	head -c 4000000 /dev/urandom >"$f"
	want=$(sha256sum <"$f" | cut -d' ' -f1)
	maitred_start
	# 128 KB/s for 4 s: the socket is never a third free within 1 s
	run python3 "$BATS_TEST_DIRNAME/lib/steadyreader.py" "$PORT" /big.bin \
	    131072 4
	assert_line "body 4000000"
	assert_line "sha256 $want"
	# a fast download longer than client_timeout is not cut either
	truncate -s 100M "$(mtd_dir)/htdocs/sparse.bin"
	run curl -s --limit-rate 30M -o /dev/null -w '%{http_code} %{size_download}' \
	    "$(url /sparse.bin)"
	assert_output "200 104857600"
	# 2 KB/s is not reading: cut after client_timeout
	run python3 "$BATS_TEST_DIRNAME/lib/steadyreader.py" "$PORT" /big.bin \
	    2048 6 20
	assert_line "status 200"
	refute_line "body 4000000"
	# and the cut one is logged, with what went out
	wait_for cut_logged "$(mtd_dir)/access.log"
}

# cut_logged LOG: a 200 for /big.bin that is not the whole 4,000,000 bytes
cut_logged() {
	awk '$7 == "/big.bin" && $9 == 200 && $10 != 4000000 { f = 1 }
	    END { exit !f }' "$1"
}

@test "access log: a static answer the client cut is logged with what went out; a 408 with its own line and wait; silence unlogged" {
	local d
	d=$(mtd_dir)
	WORKERS=1 write_conf "client_timeout 1s"
	head -c 8000000 /dev/urandom >"$d/htdocs/big.bin"
	maitred_start
	run python3 - "$PORT" <<'PY'
import socket, sys
port = int(sys.argv[1])
def ask(req):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(req)
    return s
# a download the client drops after 200 KB
s = ask(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nUser-Agent: dropper\r\n\r\n")
n = 0
while n < 200000:
    n += len(s.recv(65536))
s.close()
# a request line this worker will not see again...
s = ask(b"GET /hello.txt?token=earlier HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
while s.recv(65536):
    pass
s.close()
# ...then one that sends two bytes of a head: 408 after client_timeout
s = ask(b"GE")
print("idle:", s.recv(100).split(b"\r\n")[0].decode())
# ...and one that sends nothing: closed, without an answer
s = ask(b"")
print("silent:", s.recv(100).decode() or "closed")
PY
	assert_success
	assert_line 'idle: HTTP/1.1 408 Request Timeout'
	assert_line 'silent: closed'
	wait_for grep -q '"dropper"' "$d/access.log"
	run grep '"dropper"' "$d/access.log"
	assert_output --regexp '"GET /big.bin HTTP/1.1" 200 [0-9]+ '
	refute_output --partial ' 200 8000000 '
	run grep ' 408 ' "$d/access.log"
	assert_output --regexp '"-" 408 [0-9]+ "-" "-" rt=(0\.9|1\.)[0-9]+ '
}

@test "access_log stderr: the lines go to standard error, and no file is made" {
	write_conf "access_log stderr"
	maitred_start
	assert_equal "$(curl -s -o /dev/null -w '%{http_code}' "$(url /hello.txt)")" 200
	wait_for grep -q '"GET /hello.txt HTTP/1.1" 200 ' "$(mtd_dir)/stderr.log"
	[ ! -e "$(mtd_dir)/stderr" ]
	# USR1 leaves it alone
	kill -USR1 "$MAITRED_PID"
	assert wait_for log_has 'reopening log files'
	assert_equal "$(curl -s -o /dev/null -w '%{http_code}' "$(url /hello.txt?2)")" 200
	wait_for grep -q '"GET /hello.txt?2 HTTP/1.1" 200 ' "$(mtd_dir)/stderr.log"
}

#!/usr/bin/env bats
# Fault injection: workers and the master killed with SIGKILL, a backend
# killed under load and brought back, descriptor exhaustion, an error log
# that cannot be written. Every load loop, wait and request is bounded.

load helpers
load lib/hardening

setup() {
	PORT=
	MTD_DIR=$BATS_TEST_TMPDIR
	export MTD_DIR
}

teardown() {
	[ -z "${LOAD_PID:-}" ] || kill "$LOAD_PID" 2>/dev/null || true
	common_teardown
}

@test "kill -9 a random worker every 0.5 s for 20 s under load: few failures, all slots respawned" {
	WORKERS=4 write_conf
	maitred_start
	python3 "$IDLE_CONNS" load --port "$PORT" --threads 4 --duration 21 \
	    --timeout 5 >"$MTD_DIR/load.out" 2>&1 3>&- &
	LOAD_PID=$!
	local i victims pids killed=0
	sleep 0.5
	for i in $(seq 1 40); do
		pids=($(worker_pids))
		if [ "${#pids[@]}" -gt 0 ]; then
			kill -KILL "${pids[RANDOM % ${#pids[@]}]}" 2>/dev/null &&
			    killed=$((killed + 1))
		fi
		sleep 0.5
	done
	# the load tool stops by itself after --duration (+ timeouts)
	local waited=0
	while kill -0 "$LOAD_PID" 2>/dev/null && [ $waited -lt 200 ]; do
		sleep 0.1
		waited=$((waited + 1))
	done
	run ! kill -0 "$LOAD_PID"
	LOAD_PID=
	local line ok fail slow max
	line=$(cat "$MTD_DIR/load.out")
	max=$(hb_field max "$line")
	ok=$(hb_field ok "$line")
	fail=$(hb_field fail "$line")
	slow=$(hb_field slow "$line")
	hb_note "worker kills: $killed, requests ok=$ok failed=$fail slow(>2s)=$slow max=${max}s"
	[ "$killed" -ge 30 ]
	[ "$ok" -ge 200 ]
	# only requests in flight on a killed worker may fail: < 5 %
	[ $((fail * 100)) -lt $(((ok + fail) * 5)) ]
	# no request hangs (each has a 5 s limit, counted as failed); a few
	# may wait for a slot in respawn back-off (its SO_REUSEPORT queue)
	[ $((slow * 100)) -le $((ok + fail)) ]
	# every slot respawned, the server still answers
	wait_for -t 15 workers_are 4
	pid_alive "$MAITRED_PID"
	http_get /hello.txt
	assert_equal "$HTTP_CODE" 200
}

# master_killed: the test below, on the configuration in $MTD_CONF.
master_killed() {
	maitred_start
	local old=$MAITRED_PID w p
	w=$(worker_pids)
	[ -n "$w" ]
	http_get /hello.txt
	assert_equal "$HTTP_CODE" 200
	kill -KILL "$old"
	wait "$old" 2>/dev/null || true
	for p in $w; do
		wait_gone "$p" 3
	done
	# the port is free again
	wait_for -t 3 _not port_listening "$PORT"
	run ls /dev/shm/
	refute_output --partial "maitred.$old."
	# same config, same (stale) pidfile: starts with no cleanup
	maitred_start
	[ "$MAITRED_PID" != "$old" ]
	http_get /hello.txt
	assert_equal "$HTTP_CODE" 200
	maitred_stop
	run ls /dev/shm/
	refute_output --regexp "maitred\.($old|[0-9]+)\."
}

@test "kill -9 the master: workers exit, a restart on the same pidfile works, no shm left" {
	write_conf
	master_killed
}

@test "kill -9 the master of workers running as another user: the same" {
	[ "$(id -u)" = 0 ] || skip "needs root to drop privileges"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	local d
	write_conf "user nobody"
	d=$(mtd_dir)
	open_path_to_others "$d"
	chmod -R a+rX "$d/htdocs"
	master_killed
}

@test "a backend killed under load: no failed GET; back on the same port it gets traffic again" {
	local b1 b2 line ok fail t0 n
	b1=$(hb_backend_start b1)
	b2=$(hb_backend_start b2)
	printf '127.0.0.1:%s:1:2\n' "$b1" "$b2" >"$MTD_DIR/backends.cfg"
	write_conf "backends $MTD_DIR/backends.cfg" "strategy round-robin" \
	    "health_interval 500ms" "connect_timeout 1s" "read_timeout 3s"
	maitred_start
	python3 "$IDLE_CONNS" load --port "$PORT" --threads 3 --duration 6 \
	    --path /proxied --timeout 8 >"$MTD_DIR/load.out" 2>&1 3>&- &
	LOAD_PID=$!
	sleep 1.5
	kill -KILL "$(hb_backend_pid b1)"
	n=0
	while kill -0 "$LOAD_PID" 2>/dev/null && [ $n -lt 250 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	run ! kill -0 "$LOAD_PID"
	LOAD_PID=
	line=$(cat "$MTD_DIR/load.out")
	ok=$(hb_field ok "$line")
	fail=$(hb_field fail "$line")
	hb_note "backend killed under load: GET ok=$ok failed=$fail"
	[ "$ok" -ge 50 ]
	assert_equal "$fail" 0
	# b2 carried the load
	[ "$(hb_backend_count "$b2")" -gt 0 ]

	# back on the same port: traffic within health_interval x
	# max_failures (1 s) + margin
	wait_for -t 3 _not port_listening "$b1"
	hb_backend_start b1 "$b1" >/dev/null
	t0=$(date +%s%3N)
	n=0
	while [ "$(hb_backend_count "$b1")" = 0 ] && [ $n -lt 60 ]; do
		command curl -s -m 3 -o /dev/null "$(url /proxied)" || true
		sleep 0.05
		n=$((n + 1))
	done
	hb_note "revived backend got traffic after $(( $(date +%s%3N) - t0 )) ms"
	[ "$(hb_backend_count "$b1")" -gt 0 ]
	[ $(( $(date +%s%3N) - t0 )) -lt 4000 ]
}

@test "out of descriptors (nofile 64, one worker): existing connections served, no spinning, recovery" {
	printf '#!/bin/sh\nexec prlimit --nofile=64:64 %s "$@"\n' \
	    "$(readlink -f "$MAITRED")" >"$MTD_DIR/maitred-64"
	chmod +x "$MTD_DIR/maitred-64"
	WORKERS=1 write_conf "client_timeout 30s" "keepalive_timeout 60s"
	MAITRED=$MTD_DIR/maitred-64 maitred_start
	local w t0 t1 line
	w=$(worker_pids)
	[ -n "$w" ]
	# 10 keep-alive connections that already had an answer
	python3 "$IDLE_CONNS" hold --port "$PORT" --conns 10 --request \
	    --status "$MTD_DIR/old.status" --go "$MTD_DIR/old.go" --hold 25 \
	    >"$MTD_DIR/old.out" 2>&1 3>&- &
	track_pid $!
	local oldpid=$!
	wait_for -t 10 test -e "$MTD_DIR/old.status"
	assert_equal "$(cat "$MTD_DIR/old.status")" "held=10 ok=10"
	# 80 more idle connections: more than the descriptors left
	python3 "$IDLE_CONNS" hold --port "$PORT" --conns 80 \
	    --status "$MTD_DIR/idle.status" --go "$MTD_DIR/idle.go" --hold 25 \
	    >"$MTD_DIR/idle.out" 2>&1 3>&- &
	track_pid $!
	local idlepid=$!
	wait_for -t 10 test -e "$MTD_DIR/idle.status"
	sleep 0.5
	# no busy loop on EMFILE: < 0.5 s of CPU over 2 s
	t0=$(hb_cpu_ticks "$w")
	sleep 2
	t1=$(hb_cpu_ticks "$w")
	hb_note "worker CPU while out of descriptors: $((t1 - t0)) ticks in 2 s"
	[ $((t1 - t0)) -lt 50 ]
	pid_alive "$w"
	# the connections it had are still served
	touch "$MTD_DIR/old.go"
	wait_gone "$oldpid" 15
	line=$(cat "$MTD_DIR/old.out")
	hb_note "existing connections: $line"
	# every one of them got an answer ...
	assert_equal "$(hb_field answered "$line")" 10
	# ... and not a false "404 Not Found" for a file that exists (no
	# descriptor to open it with is a 5xx, or a 200 once one is free)
	run hb_field statuses "$line"
	assert_output --regexp '^((200|500|503):[0-9]+,?)+$'
	# the idle ones go away: a new request succeeds
	touch "$MTD_DIR/idle.go"
	wait_gone "$idlepid" 15
	wait_for -t 5 bash -c "[ \"\$(command curl -s -m 2 -o /dev/null -w '%{http_code}' \
	    http://127.0.0.1:$PORT/hello.txt)\" = 200 ]"
	pid_alive "$MAITRED_PID"
}

@test "a worker out of descriptors answers 503 and does not mark a healthy backend down" {
	local b w
	b=$(backend_start b1)
	printf '127.0.0.1:%s:1:1\n' "$b" >"$MTD_DIR/backends.cfg"
	WORKERS=1 write_conf "backends $MTD_DIR/backends.cfg" \
	    "health_interval 60s"
	maitred_start
	w=$(worker_pids)
	run python3 - "$PORT" "$w" <<'PY'
import os, socket, subprocess, sys, time
port, w = int(sys.argv[1]), sys.argv[2]
def get(s):
    s.sendall(b"GET /proxied HTTP/1.1\r\nHost: x\r\n\r\n")
    return s.recv(65536).split(b" ")[1].decode()
def fds():
    return {int(f) for f in os.listdir("/proc/%s/fd" % w)}
before = fds()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
# the worker must have accepted it before its limit is lowered
for _ in range(500):
    used = fds()
    if len(used) > len(before):
        break
    time.sleep(0.01)
n = min(set(range(len(used) + 1)) - used)  # the next fd it would get
subprocess.run(["prlimit", "--pid", w, "--nofile=%d:" % n], check=True)
print(get(s))
subprocess.run(["prlimit", "--pid", w, "--nofile=1024:"], check=True)
print(get(socket.create_connection(("127.0.0.1", port), timeout=10)))
PY
	assert_success
	assert_output "$(printf '503\n200')"
	log_has 'upstream .*: connect: Too many open files'
	run log_has 'backend .* down'
	assert_failure
}

@test "a worker out of descriptors closes idle backend connections for new clients and files" {
	local i code codes=
	# 40 backends on 40 ports of one process that keeps every
	# connection open: round-robin leaves one idle connection to each in
	# the worker's pool, more than its 48 descriptors allow
	python3 - "$MTD_DIR/ports" <<'PY' 3>&- &
import asyncio, sys
async def serve(r, w):
    while True:
        head = b""
        while b"\r\n\r\n" not in head:
            x = await r.read(4096)
            if not x:
                w.close()
                return
            head += x
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        await w.drain()
async def main():
    ports = []
    for i in range(40):
        s = await asyncio.start_server(serve, "127.0.0.1", 0)
        ports.append(s.sockets[0].getsockname()[1])
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write("".join("127.0.0.1:%d:1:3\n" % p for p in ports))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    await asyncio.sleep(120)
asyncio.run(main())
PY
	track_pid $!
	wait_for test -s "$MTD_DIR/ports"
	cp "$MTD_DIR/ports" "$MTD_DIR/backends.cfg"
	printf '#!/bin/sh\nexec prlimit --nofile=48:48 %s "$@"\n' \
	    "$(readlink -f "$MAITRED")" >"$MTD_DIR/maitred-48"
	chmod +x "$MTD_DIR/maitred-48"
	WORKERS=1 write_conf "backends $MTD_DIR/backends.cfg" \
	    "health_interval 60s"
	MAITRED=$MTD_DIR/maitred-48 maitred_start
	for i in $(seq 1 80); do
		code=$(curl -s -m 3 -o /dev/null -w '%{http_code}' "$(url /x)")
		codes="$codes $code"
	done
	# every one answered: an idle connection gave its descriptor back
	refute [ -n "$(tr ' ' '\n' <<<"$codes" | grep -v '^200$' | grep .)" ]
	run curl -s -m 3 -o /dev/null -w '%{http_code}' "$(url /hello.txt)"
	assert_output 200
	# the master, as short of descriptors, says so once a round, not
	# once per backend it could not check
	refute log_has 'health check 127\.0\.0\.1:[0-9]+: socket'
	run grep -c 'health check: socket: Too many open files' \
	    "$MTD_DIR/error.log"
	assert_output 1
}

@test "error log on /dev/full: serving goes on" {
	write_conf
	sed -i "s|^error_log .*|error_log /dev/full|" "$MTD_CONF"
	maitred_start
	local i
	for i in 1 2 3 4 5; do
		http_get /hello.txt
		assert_equal "$HTTP_CODE" 200
		http_get /no-such-file
		assert_equal "$HTTP_CODE" 404
	done
	kill -USR1 "$MAITRED_PID"
	sleep 0.3
	http_get /hello.txt
	assert_equal "$HTTP_CODE" 200
	workers_are 2
}

@test "error log replaced by a directory and reopened (USR1): serving goes on" {
	write_conf
	maitred_start
	http_get /hello.txt
	assert_equal "$HTTP_CODE" 200
	# as root a chmod 000 file is still writable: a directory is not
	mv "$MTD_DIR/error.log" "$MTD_DIR/error.log.old"
	mkdir "$MTD_DIR/error.log"
	chmod 000 "$MTD_DIR/error.log"
	kill -USR1 "$MAITRED_PID"
	sleep 0.5
	local i
	for i in 1 2 3; do
		http_get /hello.txt
		assert_equal "$HTTP_CODE" 200
		http_get /missing
		assert_equal "$HTTP_CODE" 404
	done
	pid_alive "$MAITRED_PID"
	workers_are 2
	rmdir "$MTD_DIR/error.log"
	mv "$MTD_DIR/error.log.old" "$MTD_DIR/error.log"
}

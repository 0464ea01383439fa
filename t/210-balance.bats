#!/usr/bin/env bats
# Balancing strategies through real workers and backends (each strategy is
# global to all workers), and active health checks.

load helpers

# be_start NAME [PORT]: t/backend.py named NAME; sets PORT_NAME.
be_start() {
	local port=${2:-$(free_port)}
	python3 "$BATS_TEST_DIRNAME/backend.py" --port "$port" --name "$1" \
	    --pidfile "$MTD_DIR/$1.pid" </dev/null >/dev/null 2>&1 3>&- &
	track_pid $!
	wait_for port_listening "$port"
	eval "PORT_$1=$port"
}

be_stop() {
	local p
	p=$(cat "$MTD_DIR/$1.pid")
	kill "$p"
	wait_gone "$p" 5
}

# backends LINE...: write backends.cfg, one "NAME:WEIGHT" per argument.
backends() {
	local a port
	: >"$MTD_DIR/backends.cfg"
	for a in "$@"; do
		eval "port=\$PORT_${a%%:*}"
		printf '127.0.0.1:%s:%s:2\n' "$port" "${a#*:}" \
		    >>"$MTD_DIR/backends.cfg"
	done
}

setup() {
	export MTD_DIR=$BATS_TEST_TMPDIR
	be_start a
	be_start b
	be_start c
}

teardown() {
	common_teardown
}

# who [curl args...]: the X-Backend of one new-connection GET.
who() {
	curl -s -o /dev/null -D - --max-time 10 "$@" "$(url /x)" |
	    tr -d '\r' | awk -F': ' 'tolower($1) == "x-backend" {print $2}'
}

# tally N [curl args...]: "a:N b:N c:N" over N requests.
tally() {
	local n=$1 i
	shift
	for i in $(seq "$n"); do who "$@"; done | sort | uniq -c |
	    awk '{printf "%s%s:%s", (NR > 1 ? " " : ""), $2, $1}'
}

@test "round-robin is global: 4 workers, 30 requests -> exactly 10 each" {
	backends a:1 b:1 c:1
	WORKERS=4 write_conf "backends $MTD_DIR/backends.cfg" \
	    "strategy round-robin"
	maitred_start
	assert_equal "$(tally 30)" "a:10 b:10 c:10"
}

@test "weighted 3:2:1: exact shares, interleaved (not AAABBC)" {
	backends a:3 b:2 c:1
	WORKERS=2 write_conf "backends $MTD_DIR/backends.cfg" \
	    "strategy weighted"
	maitred_start
	seq6=$(for i in 1 2 3 4 5 6; do who; done | tr '\n' ' ')
	assert_equal "$seq6" "a b a c b a "
	assert_equal "$(tally 12)" "a:6 b:4 c:2"
}

@test "ip-hash: sticky per client, only the dead backend's clients move" {
	backends a:1 b:1 c:1
	WORKERS=2 write_conf "backends $MTD_DIR/backends.cfg" \
	    "strategy ip-hash" "health_interval 200ms"
	maitred_start
	declare -A first
	for i in $(seq 10 29); do
		first[$i]=$(who --interface 127.0.0.$i)
		for k in 1 2 3; do
			assert_equal "$(who --interface 127.0.0.$i)" "${first[$i]}"
		done
	done
	# Several backends got clients.
	[ "$(printf '%s\n' "${first[@]}" | sort -u | wc -l)" -ge 2 ]
	victim=${first[10]}
	be_stop "$victim"
	assert wait_for log_has "backend 127.0.0.1:.* down"
	for i in $(seq 10 29); do
		now=$(who --interface 127.0.0.$i)
		if [ "${first[$i]}" = "$victim" ]; then
			assert [ "$now" != "$victim" ]
			[ -n "$now" ]
		else
			assert_equal "$now" "${first[$i]}"
		fi
	done
}

# active_is N: the backends' active connections add up to N (status page).
active_is() {
	[ "$(curl -s --max-time 5 "$(url /maitred/status)" | python3 -c '
import json, sys
print(sum(b["active"] for b in json.load(sys.stdin)["backends"]))')" = "$1" ]
}

@test "least-conn: a backend busy with a slow request gets no new ones" {
	backends a:1 b:1 c:1
	WORKERS=2 write_conf "backends $MTD_DIR/backends.cfg" \
	    "strategy least-conn"
	maitred_start
	# Two slow requests: they land on two different backends (ties
	# rotate), which then each hold one active connection.
	for i in 1 2; do
		curl -s -o "$MTD_DIR/slow$i" -D "$MTD_DIR/slowh$i" --max-time 10 \
		    "$(url "/slow?ms=3000")" 3>&- &
		track_pid $!
	done
	assert wait_for active_is 2
	# While two backends each hold one slow request, quick ones go to
	# the idle third.
	free=
	for i in 1 2 3 4 5 6; do free="$free $(who)"; done
	assert_equal "$(echo $free | tr ' ' '\n' | sort -u | wc -l)" 1
}

@test "health: a dead backend goes down within interval x max_failures, then up" {
	backends a:1 b:1
	WORKERS=1 write_conf "backends $MTD_DIR/backends.cfg" \
	    "health_interval 300ms" "connect_timeout 1s"
	maitred_start
	be_stop a
	# max_failures 2 x 300 ms, plus margin, without any client traffic.
	WAIT_TIMEOUT=3 assert wait_for log_has "backend 127.0.0.1:$PORT_a down"
	assert_equal "$(tally 4)" "b:4"
	be_start a "$PORT_a"
	WAIT_TIMEOUT=3 assert wait_for log_has "backend 127.0.0.1:$PORT_a up"
	assert_equal "$(tally 4)" "a:2 b:2"
}

@test "health_check http: a failing check wins over answered traffic" {
	local end
	backends a:1 b:1
	WORKERS=1 write_conf "backends $MTD_DIR/backends.cfg" \
	    "health_interval 300ms" "health_check http /sick?name=a"
	maitred_start
	# a serves its requests well, but its check fails: down all the same,
	# under steady traffic (each answer used to reset the count)
	end=$(( $(date +%s%3N) + 4000 ))
	while [ "$(date +%s%3N)" -lt "$end" ] &&
	    ! log_has "backend 127.0.0.1:$PORT_a down"; do
		curl -s -o /dev/null "$(url /x)"
	done
	assert log_has \
	    "backend 127.0.0.1:$PORT_a down: http status 503 \\(2/2\\)"
	assert_equal "$(tally 4)" "b:4"
	# an answer in flight when it went down does not bring it back
	refute log_has "backend 127.0.0.1:$PORT_a up"
}

# checks_ok NAME N: the debug log has N "check ok" lines for backend NAME.
checks_ok() {
	[ "$(grep -c "backend 127.0.0.1:$1: check ok" "$MTD_DIR/error.log")" \
	    -ge "$2" ]
}

@test "health_check http: a slow check page is not a dead backend" {
	backends a:1 b:1
	WORKERS=1 write_conf "backends $MTD_DIR/backends.cfg" \
	    "health_interval 500ms" "connect_timeout 200ms" \
	    "health_check http /slow?ms=350" "log_level debug"
	maitred_start
	# answers come after connect_timeout but within the interval
	assert wait_for checks_ok "$PORT_a" 3
	refute log_has "check failed"
	refute log_has "down"
}

@test "health_check http: a status line such as \"2000\" is not a 2xx" {
	local p
	p=$(free_port)
	python3 - "$p" 3>&- <<'PY' &
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(16)
while True:
    c = srv.accept()[0]
    c.recv(4096)
    c.sendall(b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n")
    c.close()
PY
	track_pid $!
	wait_for port_listening "$p"
	printf '127.0.0.1:%s:1:2\n' "$p" >"$MTD_DIR/backends.cfg"
	WORKERS=1 write_conf "backends $MTD_DIR/backends.cfg" \
	    "health_interval 300ms" "health_check http /"
	maitred_start
	WAIT_TIMEOUT=3 assert wait_for log_has \
	    "backend 127.0.0.1:$p down: bad http response \\(2/2\\)"
}

@test "health_check http: interim answers (103, 100) before a 200 are skipped: up; before a 503: down" {
	local p
	p=$(free_port)
	python3 - "$p" 3>&- <<'PY' &
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(16)
final = {b"/ok": b"200 OK", b"/bad": b"503 Busy"}
while True:
    c = srv.accept()[0]
    try:
        path = c.recv(4096).split(b" ")[1]
        # hints longer than the checker's buffer, in pieces
        c.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: <" + b"a" * 300 +
                  b">; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r")
        c.sendall(b"\nHTTP/1.1 " + final.get(path, b"404 No") +
                  b"\r\nContent-Length: 0\r\n\r\n")
    except (OSError, IndexError):
        pass
    c.close()
PY
	track_pid $!
	wait_for port_listening "$p"
	printf '127.0.0.1:%s:1:2\n' "$p" >"$MTD_DIR/backends.cfg"
	WORKERS=1 write_conf "backends $MTD_DIR/backends.cfg" \
	    "health_interval 300ms" "health_check http /ok" "log_level debug"
	maitred_start
	assert wait_for checks_ok "$p" 3
	refute log_has "check failed"
	sed -i 's|^health_check .*|health_check http /bad|' "$MTD_CONF"
	kill -HUP "$MAITRED_PID"
	WAIT_TIMEOUT=5 assert wait_for log_has "down: http status 503"
}

@test "health_check http: a backend answering 500 on the path goes down" {
	backends a:1 b:1
	WORKERS=1 write_conf "backends $MTD_DIR/backends.cfg" \
	    "health_interval 300ms" "health_check http /status/500"
	maitred_start
	WAIT_TIMEOUT=3 assert wait_for log_has "down: http status 500"
}

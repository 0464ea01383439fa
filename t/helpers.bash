# Shared helpers for the bats integration tests. Load with
#	load helpers
# Every server listens on 127.0.0.1 / ::1 on a free port picked at run
# time, is started with 3>&- (else bats waits for it forever) and is
# stopped by pid in teardown. Every wait is a bounded poll.
#
# State (exported so that setup_file values reach the tests):
#	MTD_DIR		scratch directory: conf, htdocs, logs
#			(default $BATS_TEST_TMPDIR, or $BATS_FILE_TMPDIR in
#			setup_file)
#	MTD_CONF	the config file write_conf wrote
#	PORT		the port write_conf listens on
#	MAITRED_PID	the master started by maitred_start
#	MTD_TRACK	extra pids to kill in teardown (track_pid)

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

MAITRED=${MAITRED:-$BATS_TEST_DIRNAME/../maitred}
RAWHTTP=$BATS_TEST_DIRNAME/lib/rawhttp.py
WAIT_TIMEOUT=${WAIT_TIMEOUT:-10}

# The scratch directory of this test (or of this file in setup_file).
mtd_dir() {
	if [ -z "${MTD_DIR:-}" ]; then
		MTD_DIR=${BATS_TEST_TMPDIR:-$BATS_FILE_TMPDIR}
		export MTD_DIR
	fi
	printf '%s\n' "$MTD_DIR"
}

# free_port: print a TCP port that is free on 127.0.0.1 (and ::1).
free_port() {
	python3 - <<'EOF'
import socket
for _ in range(50):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    try:
        s6 = socket.socket(socket.AF_INET6)
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s6.bind(("::1", port))
        s6.close()
    except OSError as e:
        if e.errno == 98:	# taken on ::1: try another
            s.close()
            continue
    s.close()
    print(port)
    break
EOF
}

# has_ipv6: true when ::1 can be bound.
has_ipv6() {
	python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
	    2>/dev/null
}

# port_listening PORT: true when some socket listens on PORT (TCP, v4 or
# v6). Reads /proc, so it makes no connection.
port_listening() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex" 'NR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p \
	    { found = 1 } END { exit !found }' /proc/net/tcp /proc/net/tcp6
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
	local st
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_for [-t SECONDS] CMD...: run CMD every 0.05 s until it succeeds;
# 1 after SECONDS (default $WAIT_TIMEOUT).
wait_for() {
	local t=$WAIT_TIMEOUT end
	if [ "$1" = -t ]; then
		t=$2
		shift 2
	fi
	end=$(( $(date +%s%3N) + $(awk -v t="$t" 'BEGIN { printf "%d", t * 1000 }') ))
	while :; do
		"$@" && return 0
		[ "$(date +%s%3N)" -lt "$end" ] || break
		sleep 0.05
	done
	echo "wait_for: timed out after ${t}s: $*" >&2
	return 1
}

# wait_gone PID [SECONDS]: wait until PID has exited.
wait_gone() {
	wait_for -t "${2:-$WAIT_TIMEOUT}" _not pid_alive "$1"
}
_not() { ! "$@"; }

# log_has PATTERN [FILE]: grep -E PATTERN in FILE (default error.log).
log_has() {
	grep -Eq -- "$1" "${2:-$(mtd_dir)/error.log}" 2>/dev/null
}

# open_path_to_others DIR: bats makes its directories 0700; let other users
# (a worker running as nobody) reach DIR.
open_path_to_others() {
	local p=$1
	while [ "$p" != / ] && [ "$p" != "$(dirname "$BATS_RUN_TMPDIR")" ]; do
		chmod a+x "$p"
		p=$(dirname "$p")
	done
}

# make_htdocs DIR: a small site.
make_htdocs() {
	local d=$1
	mkdir -p "$d/sub/deeper" "$d/noindex"
	printf '<html><body><h1>maitred test index</h1></body></html>\n' \
	    >"$d/index.html"
	printf 'body { color: black; }\n' >"$d/style.css"
	printf 'hello from maitred\n' >"$d/hello.txt"
	printf '\211PNG\r\n\032\nnot really a png\n' >"$d/image.png"
	printf 'opaque bytes\n' >"$d/data.zzqq"
	printf '<html><body>sub index</body></html>\n' >"$d/sub/index.html"
	printf 'nested file\n' >"$d/sub/deeper/nested.txt"
	printf 'no index here\n' >"$d/noindex/readme.txt"
	printf 'SECRET dotfile\n' >"$d/.secret"
	head -c 1024 /dev/urandom >"$d/onek.bin"
}

# write_conf [LINE...]: write $MTD_DIR/maitred.conf for a fresh port, a
# fresh htdocs and logs in $MTD_DIR, then append each LINE. A LINE that
# sets one of the defaults below (other than listen) replaces it: maitred
# refuses a directive given twice.
write_conf() {
	local d line name given=" "
	d=$(mtd_dir)
	PORT=${PORT:-$(free_port)}
	MTD_CONF=$d/maitred.conf
	export PORT MTD_CONF
	[ -d "$d/htdocs" ] || make_htdocs "$d/htdocs"
	for line in "$@"; do
		name=${line%%[[:space:]]*}
		given="$given$name "
	done
	{
		echo "# written by t/helpers.bash"
		echo "listen 127.0.0.1:$PORT"
		while read -r name line; do
			case $given in
			*" $name "*) ;;
			*) printf '%s %s\n' "$name" "$line" ;;
			esac
		done <<-EOF
		workers ${WORKERS:-2}
		pidfile $d/maitred.pid
		htdocs $d/htdocs
		error_log $d/error.log
		access_log $d/access.log
		log_level info
		rate_limit off
		EOF
		for line in "$@"; do
			printf '%s\n' "$line"
		done
	} >"$MTD_CONF"
}

# conf_line TEXT [FILE]: the line number of the line TEXT in FILE.
conf_line() {
	grep -n -F -x -- "$1" "${2:-$MTD_CONF}" | head -n 1 | cut -d: -f1
}

# maitred_start [ARGS...]: start "$MAITRED" -c $MTD_CONF ARGS in the
# foreground, in the background; stdout to $MTD_DIR/stdout.log, stderr
# to $MTD_DIR/stderr.log. Waits until the port (-p PORT if given, else
# $PORT) listens and at least one worker exists; on failure prints the
# logs and returns 1.
maitred_start() {
	local d port=$PORT prev= a end
	d=$(mtd_dir)
	for a in "$@"; do
		[ "$prev" = -p ] && port=$a
		prev=$a
	done
	[ -x "$MAITRED" ] || { echo "no binary: $MAITRED" >&2; return 1; }
	"$MAITRED" -c "$MTD_CONF" "$@" </dev/null >"$d/stdout.log" \
	    2>"$d/stderr.log" 3>&- &
	MAITRED_PID=$!
	export MAITRED_PID
	end=$(( $(date +%s%3N) + WAIT_TIMEOUT * 1000 ))
	while ! { port_listening "$port" && [ -n "$(worker_pids)" ]; }; do
		if ! pid_alive "$MAITRED_PID" ||
		    [ "$(date +%s%3N)" -ge "$end" ]; then
			echo "maitred (pid $MAITRED_PID) did not start" \
			    "on port $port" >&2
			mtd_dump_logs >&2
			return 1
		fi
		sleep 0.05
	done
}

# maitred_stop [SIGNAL]: signal MAITRED_PID (TERM), wait up to 10 s for
# it to exit, then KILL. Also kills the workers if any are left.
maitred_stop() {
	local sig=${1:-TERM} w
	[ -n "${MAITRED_PID:-}" ] || return 0
	if pid_alive "$MAITRED_PID"; then
		w=$(worker_pids)
		kill -"$sig" "$MAITRED_PID" 2>/dev/null || true
		if ! wait_gone "$MAITRED_PID" 10; then
			echo "maitred_stop: pid $MAITRED_PID ignored $sig; KILL" >&2
			kill -KILL "$MAITRED_PID" 2>/dev/null || true
			wait_gone "$MAITRED_PID" 5 || true
		fi
		for p in $w; do
			wait_gone "$p" 3 || kill -KILL "$p" 2>/dev/null || true
		done
	fi
	wait "$MAITRED_PID" 2>/dev/null || true
	MAITRED_PID=
}

# worker_pids [MASTER_PID]: the pids of the children of the master.
worker_pids() {
	local m=${1:-$MAITRED_PID}
	[ -n "$m" ] || return 0
	# zombies (reaped later by the master) are not workers
	ps --ppid "$m" -o pid=,stat= 2>/dev/null | awk '$2 !~ /^Z/ { print $1 }' |
	    sort -n
}

# worker_count [MASTER_PID]
worker_count() {
	worker_pids "$@" | grep -c . || true
}

# workers_are N [MASTER_PID]: the master has exactly N children.
workers_are() {
	[ "$(worker_count "${@:2}")" -eq "$1" ]
}

# backend_start NAME [PORT]: start t/backend.py (X-Backend: NAME) on PORT or
# a free port and print the port. Its pid is in $(mtd_dir)/NAME.pid, which
# common_teardown uses: this usually runs in $(...), where track_pid
# cannot reach the caller.
backend_start() {
	local port=${2:-} d
	d=$(mtd_dir)
	[ -n "$port" ] || port=$(free_port)
	rm -f "$d/$1.pid"
	python3 "$BATS_TEST_DIRNAME/backend.py" --port "$port" --name "$1" \
	    --pidfile "$d/$1.pid" </dev/null >/dev/null 2>&1 3>&- &
	track_pid $!
	wait_for port_listening "$port" || return 1
	wait_for test -s "$d/$1.pid" || return 1
	printf '%s\n' "$port"
}

# backend_pid NAME: the pid of a backend_start backend.
backend_pid() {
	cat "$(mtd_dir)/$1.pid"
}

# track_pid PID...: kill these in common_teardown (daemons, helpers).
track_pid() {
	MTD_TRACK="${MTD_TRACK:-} $*"
	export MTD_TRACK
}

# proc_title PID: the command line as ps shows it (set by setproctitle).
proc_title() {
	ps -o args= -p "$1" 2>/dev/null
}

# http_raw [rawhttp options] HOST PORT [CHUNK...]: send raw bytes (stdin
# when no CHUNK) and print the response. See t/lib/rawhttp.py.
http_raw() {
	python3 "$RAWHTTP" "$@"
}

# raw [rawhttp options] [CHUNK...]: http_raw to 127.0.0.1:$PORT.
raw() {
	local opts=()
	while [ $# -gt 0 ]; do
		case $1 in
		--shut-wr) opts+=("$1"); shift ;;
		--*) opts+=("$1" "$2"); shift 2 ;;
		*) break ;;
		esac
	done
	python3 "$RAWHTTP" "${opts[@]}" 127.0.0.1 "$PORT" "$@"
}

# curl: never wait forever on a server that accepts and does not answer.
curl() {
	command curl -m "${CURL_MAX_TIME:-10}" "$@"
}

# url PATH: http://127.0.0.1:$PORT/PATH
url() {
	printf 'http://127.0.0.1:%s%s\n' "$PORT" "$1"
}

# http_get PATH [CURL ARGS...]: fetch with curl (path kept as is). Sets
# HTTP_CODE; headers in $HTTP_HEADERS, body in $HTTP_BODY.
http_get() {
	local p=$1 d
	shift
	d=${BATS_TEST_TMPDIR:-$(mtd_dir)}
	HTTP_HEADERS=$d/resp.headers
	HTTP_BODY=$d/resp.body
	rm -f "$HTTP_HEADERS" "$HTTP_BODY"
	HTTP_CODE=$(curl -s --path-as-is -D "$HTTP_HEADERS" \
	    -o "$HTTP_BODY" -w '%{http_code}' "$@" "$(url "$p")") || true
	# curl creates no file for an empty body
	[ -e "$HTTP_BODY" ] || : >"$HTTP_BODY"
	[ -e "$HTTP_HEADERS" ] || : >"$HTTP_HEADERS"
}

# hdr NAME: the value of header NAME in $HTTP_HEADERS (last response),
# without the CR.
hdr() {
	awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" '
	    { sub(/\r$/, "") }
	    /^HTTP\// { v = ""; found = 0 }
	    { i = index($0, ":"); if (i > 0 &&
	        tolower(substr($0, 1, i - 1)) == n) {
		v = substr($0, i + 1); sub(/^[ \t]+/, "", v); found = 1 } }
	    END { if (found) print v; else exit 1 }' "$HTTP_HEADERS"
}

# status_lines: the HTTP status codes in $output, one per line.
# A body without a final newline runs into the next status line, so the
# status lines are found anywhere on a line.
status_lines() {
	printf '%s\n' "$output" | grep -aoE 'HTTP/[0-9]\.[0-9] [0-9]{3} ' |
	    cut -d' ' -f2
}

# first_status: the first status code in $output.
first_status() {
	status_lines | head -n 1
}

# sha FILE: the SHA-256 of FILE.
sha() {
	sha256sum <"$1" | cut -d' ' -f1
}

# peak_rss_while PID WORKER: wait for PID (a background job of the caller),
# sampling WORKER's VmRSS every 50 ms (30 s at most); the highest value,
# in kB, is left in PEAK_RSS and echoed for the test's log.
peak_rss_while() {
	local pid=$1 w=$2 r i
	PEAK_RSS=0
	for i in $(seq 1 600); do
		r=$(awk '/^VmRSS/ { print $2 }' "/proc/$w/status")
		[ "$r" -gt "$PEAK_RSS" ] && PEAK_RSS=$r
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	wait "$pid"
	echo "worker $w peak RSS: $PEAK_RSS kB"
}

# meta_get KEY FILE: a value written by rawhttp --meta.
meta_get() {
	sed -n "s/^$1=//p" "$2"
}

# less_than A B: A < B for decimals.
less_than() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'
}

# mtd_dump_logs: print the logs of this test (bats shows them on failure).
mtd_dump_logs() {
	local d f
	d=$(mtd_dir)
	for f in stderr.log stdout.log error.log; do
		[ -s "$d/$f" ] || continue
		echo "----- $f (last 40 lines)"
		tail -n 40 "$d/$f"
	done
}

# own_teardown: per-test teardown of files that share one maitred per file
# and start their own for some tests (OWN_PID, OWN_TRACK).
own_teardown() {
	local p
	if [ -n "${OWN_PID:-}" ]; then
		MAITRED_PID=$OWN_PID
		maitred_stop
	fi
	for p in ${OWN_TRACK:-}; do
		kill -TERM "$p" 2>/dev/null || true
		wait_gone "$p" 3 || kill -KILL "$p" 2>/dev/null || true
	done
	mtd_dump_logs
}

# common_teardown: stop maitred and everything tracked, show the logs.
common_teardown() {
	maitred_stop || true
	for p in ${MTD_TRACK:-}; do
		if pid_alive "$p"; then
			kill -TERM "$p" 2>/dev/null || true
			wait_gone "$p" 3 || kill -KILL "$p" 2>/dev/null || true
		fi
	done
	MTD_TRACK=
	stop_pidfile_helpers
	mtd_dump_logs
}

# Helpers started inside $(...) cannot track_pid (a subshell): find them by
# the --pidfile they were given, in this test's and this file's scratch
# directories, and stop them if their command line names that pidfile.
stop_pidfile_helpers() {
	local f p
	for f in "$(mtd_dir)"/*.pid "${BATS_TEST_TMPDIR:-/nonexistent}"/*.pid \
	    "${BATS_FILE_TMPDIR:-/nonexistent}"/*.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f" 2>/dev/null) || continue
		case $p in ''|*[!0-9]*) continue ;; esac
		grep -qaF -- "$f" "/proc/$p/cmdline" 2>/dev/null || continue
		kill -TERM "$p" 2>/dev/null || true
		wait_gone "$p" 3 || kill -KILL "$p" 2>/dev/null || true
	done
}

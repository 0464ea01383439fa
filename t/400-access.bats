#!/usr/bin/env bats
# Access control: the IP/CIDR blacklist (403 and close before the request
# is read) and the per-client rate limit shared by all workers (429 with
# Retry-After, RateLimit fields, burst, exemptions, log mode, table
# pressure, state kept across worker deaths). Each test starts its own
# maitred; clients pick their loopback source address (127.0.0.X) with
# curl --interface or t/lib/srcclient.py.

load helpers

SRCCLIENT=$BATS_TEST_DIRNAME/lib/srcclient.py

teardown() {
	common_teardown
}

# code_from SRC [PATH]: the status code curl gets from source SRC.
code_from() {
	curl -s -o /dev/null -m 10 --interface "$1" -w '%{http_code}' \
	    "$(url "${2:-/hello.txt}")" || true
}

# code_is CODE SRC [PATH]: a new request from SRC gets CODE (for wait_for).
code_is() {
	[ "$(code_from "$2" "${3:-/hello.txt}")" = "$1" ]
}

# get_from SRC [PATH]: http_get from source SRC (HTTP_CODE, hdr).
get_from() {
	http_get "${2:-/hello.txt}" --interface "$1"
}

# from SRC... : srcclient.py lines "SRC STATUS CLOSED" in $output.
from() {
	run python3 "$SRCCLIENT" --deadline 60 127.0.0.1 "$PORT" "$@"
}

# codes: the status column of $output, one per line.
codes() {
	printf '%s\n' "$output" | awk '{ print $2 }'
}

# repeat N WORD: WORD N times, one per argument.
repeat() {
	local i
	for ((i = 0; i < $1; i++)); do
		printf '%s\n' "$2"
	done
}

# count_of CODE: how many lines of codes are CODE.
count_of() {
	codes | grep -c -x -- "$1" || true
}

# stat_counter NAME: a counter from the status JSON (read from 127.0.0.1).
stat_counter() {
	curl -s -m 10 --interface 127.0.0.1 "$(url /maitred/status)" |
	    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# log_count_ge N PATTERN FILE: FILE has at least N lines matching PATTERN.
log_count_ge() {
	[ "$(grep -c -E -- "$2" "$3" 2>/dev/null)" -ge "$1" ]
}

# blacklist LINE...: write $MTD_DIR/blacklist.txt.
blacklist() {
	printf '%s\n' "$@" >"$(mtd_dir)/blacklist.txt"
}

# watched_start: 2 workers serving a blacklist of 127.0.0.5 they watch.
watched_start() {
	blacklist 127.0.0.5
	WORKERS=2 write_conf "blacklist blacklist.txt"
	maitred_start
	wait_for workers_are 2
}

# --- blacklist -------------------------------------------------------

@test "blacklist: a listed IPv4 address gets 403 and is closed; others are served" {
	blacklist 127.0.0.5
	write_conf "blacklist blacklist.txt" "status_allow 127.0.0.0/8 ::1"
	maitred_start
	get_from 127.0.0.5 /hello.txt
	assert_equal "$HTTP_CODE" 403
	run cat "$HTTP_BODY"
	assert_output --partial '<html'
	assert_output --partial '403'
	run hdr Connection
	assert_output close
	get_from 127.0.0.6 /hello.txt
	assert_equal "$HTTP_CODE" 200
	run cat "$HTTP_BODY"
	assert_output 'hello from maitred'
	# refused before the request is read: the server speaks first and
	# closes, without waiting for a request
	run python3 "$SRCCLIENT" --no-send --timeout 5 127.0.0.1 "$PORT" \
	    127.0.0.5
	assert_success
	assert_output '127.0.0.5 403 1'
	# a served client is not closed on: the server waits for a request
	run python3 "$SRCCLIENT" --no-send --timeout 1 127.0.0.1 "$PORT" \
	    127.0.0.6
	assert_success
	assert_output '127.0.0.6 - 0'
}

@test "blacklist: a CIDR network blocks its members only" {
	blacklist 127.0.1.0/24
	write_conf "blacklist blacklist.txt"
	maitred_start
	assert_equal "$(code_from 127.0.1.9)" 403
	assert_equal "$(code_from 127.0.1.254)" 403
	assert_equal "$(code_from 127.0.2.9)" 200
	assert_equal "$(code_from 127.0.0.1)" 200
	from 127.0.1.1+5 127.0.2.1+3 127.0.0.255
	assert_success
	assert_equal "$(codes | tr '\n' ' ')" "403 403 403 403 403 200 200 200 200 "
}

@test "blacklist: ::1 is blocked when listed, 127.0.0.1 is not" {
	has_ipv6 || skip "no IPv6 loopback"
	blacklist ::1
	PORT=$(free_port)
	write_conf "listen [::1]:$PORT" "blacklist blacklist.txt"
	maitred_start
	run curl -s -g -o /dev/null -m 10 -w '%{http_code}' \
	    "http://[::1]:$PORT/hello.txt"
	assert_output 403
	assert_equal "$(code_from 127.0.0.1)" 200
}

@test "blacklist: IPv6 networks match IPv6 clients only" {
	has_ipv6 || skip "no IPv6 loopback"
	blacklist 2001:db8::/32 '::/127'
	PORT=$(free_port)
	write_conf "listen [::1]:$PORT" "blacklist blacklist.txt"
	maitred_start
	run curl -s -g -o /dev/null -m 10 -w '%{http_code}' \
	    "http://[::1]:$PORT/hello.txt"
	assert_output 403
	assert_equal "$(code_from 127.0.0.1)" 200
}

@test "blacklist: ::/0 and other short IPv6 blocks do not catch IPv4 clients" {
	blacklist '::/0' '127.0.0.7'
	write_conf "blacklist blacklist.txt"
	maitred_start
	assert_equal "$(code_from 127.0.0.6)" 200
	assert_equal "$(code_from 127.0.0.7)" 403
}

@test "blacklist: comments, blank lines and spaces are ignored" {
	blacklist '# refused clients' '' '   ' '127.0.0.5   # one host' \
	    '	127.0.3.0/24' '# 127.0.0.6 is commented out' '' '::2'
	write_conf "blacklist blacklist.txt"
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_success
	maitred_start
	assert_equal "$(code_from 127.0.0.5)" 403
	assert_equal "$(code_from 127.0.3.77)" 403
	assert_equal "$(code_from 127.0.0.6)" 200
}

@test "blacklist: an invalid line fails maitred -t with FILE:LINE" {
	blacklist '# ok' 127.0.0.5 '' 'not-an-address' 10.0.0.0/8 \
	    '10.0.0.1/8' '127.0.0.300' '::1/129'
	write_conf "blacklist blacklist.txt"
	local bl
	bl=$(mtd_dir)/blacklist.txt
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_failure 1
	assert_output --partial "blacklist.txt:4:"
	assert_output --partial "not-an-address"
	assert_output --partial "blacklist.txt:6:"
	assert_output --partial "blacklist.txt:7:"
	assert_output --partial "blacklist.txt:8:"
	refute_output --partial "blacklist.txt:2:"
	refute_output --partial "blacklist.txt:5:"
	# and maitred does not start with it
	run timeout 10 "$MAITRED" -c "$MTD_CONF" 3>&-
	assert_failure
	assert_output --partial "blacklist.txt:4:"
	# a missing file is an error too
	rm -f "$bl"
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_failure 1
	assert_output --partial "blacklist"
}

@test "blacklist: the access log records the 403 and the status counts it" {
	blacklist 127.0.0.5
	write_conf "blacklist blacklist.txt" "status_allow 127.0.0.0/8 ::1"
	maitred_start
	local before after log
	log=$(mtd_dir)/access.log
	before=$(stat_counter blocked)
	[[ $before =~ ^[0-9]+$ ]]
	assert_equal "$(code_from 127.0.0.5 /blocked-marker)" 403
	assert_equal "$(code_from 127.0.0.5)" 403
	from 127.0.0.5 127.0.0.5
	assert_equal "$(count_of 403)" 2
	# one line per refused connection, whether a request was sent or not
	wait_for log_count_ge 4 '^127\.0\.0\.5 .* 403 ' "$log"
	after=$(stat_counter blocked)
	assert_equal "$after" $((before + 4))
	# the served client is logged with its 200
	assert_equal "$(code_from 127.0.0.6)" 200
	wait_for grep -q '^127\.0\.0\.6 .* 200 ' "$log"
}

@test "blacklist: SIGHUP reloads the file; an invalid file keeps the old one" {
	blacklist 127.0.0.5
	WORKERS=2 write_conf "blacklist blacklist.txt" "rate_limit 3/60s"
	maitred_start
	assert_equal "$(code_from 127.0.0.5)" 403
	from $(repeat 4 127.0.0.8)
	assert_equal "$(codes | tr '\n' ' ')" "200 200 200 429 "
	blacklist 127.0.0.6
	kill -HUP "$MAITRED_PID"
	wait_for code_is 403 127.0.0.6
	wait_for code_is 200 127.0.0.5
	# the shared rate-limit table outlives the reload
	assert_equal "$(code_from 127.0.0.8)" 429
	blacklist 127.0.0.7 'bogus line'
	kill -HUP "$MAITRED_PID"
	wait_for log_has 'blacklist.txt:2:'
	pid_alive "$MAITRED_PID"
	assert_equal "$(code_from 127.0.0.6)" 403
	assert_equal "$(code_from 127.0.0.7)" 200
}

@test "blacklist: an edited file takes effect without a reload; a bad one is not used" {
	local d pids
	d=$(mtd_dir)
	watched_start
	pids=$(worker_pids)
	assert_equal "$(code_from 127.0.0.6)" 200
	# Written over in place.
	blacklist 127.0.0.6
	assert wait_for code_is 403 127.0.0.6
	assert_equal "$(code_from 127.0.0.5)" 200
	assert log_has "blacklist $d/blacklist.txt changed: 1 entry\$"
	# The running workers took it from the shared segment.
	assert_equal "$(worker_pids)" "$pids"
	assert_equal "$(stat_counter blacklist_entries)" 1
	# Replaced by a rename, as editors and deployment tools do; a
	# half-edited maitred.conf meanwhile is left alone.
	echo 'half_written_directive' >>"$MTD_CONF"
	printf '127.0.0.5\n127.0.0.7\n' >"$d/blacklist.new"
	mv "$d/blacklist.new" "$d/blacklist.txt"
	assert wait_for code_is 403 127.0.0.7
	assert_equal "$(code_from 127.0.0.5)" 403
	assert_equal "$(code_from 127.0.0.6)" 200
	run ! log_has half_written_directive
	# An invalid line is named; the running list stays.
	blacklist 127.0.0.8 'bogus line'
	assert wait_for log_has "blacklist.txt:2: invalid address \"bogus line\""
	assert wait_for log_has 'changed but cannot be used, keeping the running list'
	assert_equal "$(code_from 127.0.0.7)" 403
	assert_equal "$(code_from 127.0.0.8)" 200
	# So does a removed file.
	rm "$d/blacklist.txt"
	assert wait_for log_has "blacklist \"$d/blacklist.txt\": No such file"
	pid_alive "$MAITRED_PID"
	assert_equal "$(code_from 127.0.0.7)" 403
	run ! log_has 'workers renewed'
	assert_equal "$(worker_pids)" "$pids"
}

@test "blacklist: a kept-alive client listed meanwhile gets 403 at its next request" {
	local d
	d=$(mtd_dir)
	blacklist 127.0.0.5
	write_conf "blacklist blacklist.txt"
	maitred_start
	run python3 - "$PORT" "$d/blacklist.txt" <<'EOF'
import socket, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
def conn():
    s = socket.socket()
    s.bind(("127.0.0.9", 0))
    s.connect(("127.0.0.1", port))
    s.settimeout(10)
    return s
def ask(s):
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        got = s.recv(65536)
        if not got:
            break
        data += got
    head, _, body = data.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(body) < n:
        got = s.recv(65536)
        if not got:
            break
        body += got
    return head.split(b" ")[1].decode(), head
kept = conn()
print("first", ask(kept)[0])
with open(path, "w") as f:
    f.write("127.0.0.9\n")
deadline = time.time() + 20
while time.time() < deadline:
    probe = conn()
    code = ask(probe)[0]
    probe.close()
    if code == "403":
        break
    time.sleep(0.2)
code, head = ask(kept)
print("second", code, b"connection: close" in head.lower())
print("closed", kept.recv(1) == b"")
EOF
	assert_success
	assert_line "first 200"
	assert_line "second 403 True"
	assert_line "closed True"
}

@test "blacklist: a WebSocket tunnel whose client is listed meanwhile is closed" {
	local d bport
	d=$(mtd_dir)
	bport=$(backend_start b1)
	printf '127.0.0.1:%s:1:3\n' "$bport" >"$d/backends.cfg"
	blacklist 127.0.0.5
	write_conf "blacklist blacklist.txt" "backends $d/backends.cfg" \
	    "read_timeout 30s"
	maitred_start
	run env PYTHONPATH="$BATS_TEST_DIRNAME/lib" python3 - "$PORT" "$d/blacklist.txt" <<'EOF'
import socket, sys, time
from wsclient import echo, upgrade
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.bind(("127.0.0.10", 0))
s.connect(("127.0.0.1", port))
s.settimeout(10)
print(upgrade(s)[0])
print("before", echo(s, b"one"))
with open(path, "w") as f:
    f.write("127.0.0.10\n")
# the workers see the list once the master has published it: a new
# connection from the same address is refused from then on
deadline = time.time() + 20
while time.time() < deadline:
    p = socket.socket()
    p.bind(("127.0.0.10", 0))
    p.connect(("127.0.0.1", port))
    p.settimeout(10)
    p.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    first = p.recv(12)
    p.close()
    if first.startswith(b"HTTP/1.1 403"):
        break
    time.sleep(0.2)
try:
    print("after", echo(s, b"two"))
except ConnectionError:  # a reset, or a broken pipe if the close came first
    print("after", "closed")
EOF
	assert_success
	assert_line 'HTTP/1.1 101 Switching Protocols'
	assert_line 'before one'
	assert_line 'after closed'
	log_has 'tunnel closed: client 127\.0\.0\.10 is now blacklisted'
}

@test "blacklist: a list too big for the shared segment renews the workers, a smaller one does not" {
	local d pids
	d=$(mtd_dir)
	watched_start
	pids=$(worker_pids)
	# 270,000 addresses that cannot merge: more than the 262,144 ranges
	# a slot holds when the list at start is small.
	python3 - "$d/blacklist.new" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(270000):
        a = (10 << 24) + 2 * i
        f.write("%d.%d.%d.%d\n" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255))
    f.write("127.0.0.6\n")
EOF
	mv "$d/blacklist.new" "$d/blacklist.txt"
	assert wait_for log_has 'changed: 270001 entries, more ranges than the shared segment holds .262144, sized at start.: new workers take it'
	assert log_has 'blacklist .*: workers renewed'
	assert wait_for code_is 403 127.0.0.6
	assert_equal "$(code_from 127.0.0.5)" 200
	wait_for workers_are 2
	[ "$(worker_pids)" != "$pids" ]
	# Back under the size: the shared list serves again, no renewal.
	pids=$(worker_pids)
	blacklist 127.0.0.7
	assert wait_for code_is 403 127.0.0.7
	assert_equal "$(code_from 127.0.0.6)" 200
	assert wait_for log_has "blacklist $d/blacklist.txt changed: 1 entry\$"
	assert_equal "$(worker_pids)" "$pids"
}

@test "blacklist: 100,000 lines load, check and serve" {
	python3 - "$(mtd_dir)/blacklist.txt" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("# generated\n")
    n = 0
    a = 10 << 24
    while n < 90000:
        f.write("%d.%d.%d.%d\n" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255))
        a += 7
        n += 1
    for i in range(9998):
        f.write("2001:db8:%x:%x::/64\n" % (i >> 8, i & 255))
    f.write("127.0.0.5\n")
    f.write("127.0.4.0/22\n")
EOF
	run wc -l "$(mtd_dir)/blacklist.txt"
	assert_output --regexp '^100001 '
	write_conf "blacklist blacklist.txt"
	run timeout 30 "$MAITRED" -t -c "$MTD_CONF"
	assert_success
	maitred_start
	assert_equal "$(code_from 127.0.0.5)" 403
	assert_equal "$(code_from 127.0.5.1)" 403
	assert_equal "$(code_from 127.0.0.6)" 200
	from 127.0.0.6+50
	assert_success
	assert_equal "$(count_of 200)" 50
}

# --- rate limit ------------------------------------------------------

@test "rate limit: 10/60s across 4 workers: exactly 10 pass, then 429 with Retry-After" {
	WORKERS=4 write_conf "rate_limit 10/60s" "status_allow 127.0.0.0/8 ::1"
	maitred_start
	wait_for workers_are 4
	from $(repeat 12 127.0.0.8)
	assert_success
	assert_equal "$(count_of 200)" 10
	assert_equal "$(count_of 429)" 2
	# the first ten pass, in order
	assert_equal "$(codes | head -n 10 | sort -u)" 200
	# and more than one worker answered them (else nothing was shared)
	run bash -c 'curl -s -m 10 "$1" | python3 -c "import json, sys
print(sum(1 for w in json.load(sys.stdin)[\"workers\"] if w[\"requests\"] > 0))"' \
	    _ "$(url /maitred/status)"
	assert_success
	[ "$output" -ge 2 ] || fail "all requests on one worker"
	# the RateLimit fields on a 200 ...
	run python3 "$SRCCLIENT" --headers 127.0.0.1 "$PORT" 127.0.0.9
	assert_line '127.0.0.9 200 1'
	assert_line 'RateLimit-Policy: "default";q=10;w=60'
	assert_line --regexp '^RateLimit: "default";r=9;t=[0-9]+$'
	# ... and on the 429, with Retry-After: a positive integer, ~6 s
	get_from 127.0.0.8
	assert_equal "$HTTP_CODE" 429
	run hdr Retry-After
	assert_success
	assert_output --regexp '^[1-9][0-9]*$'
	[ "$output" -ge 5 ] && [ "$output" -le 7 ]
	run hdr RateLimit-Policy
	assert_output '"default";q=10;w=60'
	run hdr RateLimit
	assert_output --regexp '^"default";r=0;t=[0-9]+$'
	# another address is still served
	assert_equal "$(code_from 127.0.0.10)" 200
	assert_equal "$(code_from 127.0.0.8)" 429
}

@test "rate limit: the limit holds for keep-alive requests on one connection" {
	WORKERS=4 write_conf "rate_limit 5/60s"
	maitred_start
	local u i urls=()
	u=$(url /hello.txt)
	for ((i = 0; i < 8; i++)); do
		urls+=("$u")
	done
	run curl -s -m 20 --interface 127.0.0.11 -o /dev/null \
	    -w '%{http_code}\n' "${urls[@]}"
	assert_equal "$(printf '%s\n' "$output" | grep -c -x 200)" 5
	assert_equal "$(printf '%s\n' "$output" | grep -c -x 429)" 3
}

@test "rate limit: recovers after the emission interval" {
	WORKERS=4 write_conf "rate_limit 2/1s"
	maitred_start
	from 127.0.0.12 127.0.0.12 127.0.0.12
	assert_equal "$(codes | tr '\n' ' ')" "200 200 429 "
	local t0
	t0=$(date +%s%3N)
	wait_for -t 5 code_is 200 127.0.0.12
	# not before the half second that regains one request
	[ $(( $(date +%s%3N) - t0 )) -ge 300 ]
	# one regained, not the whole bucket
	assert_equal "$(code_from 127.0.0.12)" 429
}

@test "rate limit: burst=3 lets exactly count + burst through" {
	WORKERS=4 write_conf "rate_limit 2/60s burst=3"
	maitred_start
	from $(repeat 7 127.0.0.13)
	assert_success
	assert_equal "$(codes | tr '\n' ' ')" "200 200 200 200 200 429 429 "
}

@test "rate limit: rate_limit_exempt clients are never limited" {
	WORKERS=4 write_conf "rate_limit 5/60s" \
	    "rate_limit_exempt 127.0.0.7 127.0.9.0/24"
	maitred_start
	from $(repeat 30 127.0.0.7) $(repeat 10 127.0.9.3)
	assert_success
	assert_equal "$(count_of 200)" 40
	# exempt clients get no RateLimit fields
	get_from 127.0.0.7
	assert_equal "$HTTP_CODE" 200
	run hdr RateLimit
	assert_failure
	# a neighbour is limited
	from $(repeat 6 127.0.0.17)
	assert_equal "$(count_of 429)" 1
}

@test "rate limit: log mode serves over-limit requests and logs them" {
	WORKERS=4 write_conf "rate_limit 5/60s" "rate_limit_mode log" \
	    "status_allow 127.0.0.0/8 ::1"
	maitred_start
	from $(repeat 15 127.0.0.14)
	assert_success
	assert_equal "$(count_of 200)" 15
	wait_for log_has 'rate limit exceeded by 127\.0\.0\.14 \(not enforced\)'
	# counted as limited, ten times ...
	assert_equal "$(stat_counter rate_limited)" 10
	# ... but logged at most once a second per worker (4 workers)
	run grep -c 'rate limit exceeded' "$(mtd_dir)/error.log"
	[ "$output" -le 8 ] || fail "$output log lines for 10 requests"
}

@test "rate limit: proxied answers carry the fields; a 429 keeps the connection" {
	local bport
	bport=$(backend_start b1)
	printf '127.0.0.1:%s:1:3\n' "$bport" >"$(mtd_dir)/backends.cfg"
	WORKERS=2 write_conf "rate_limit 2/60s burst=1" \
	    "backends $(mtd_dir)/backends.cfg"
	maitred_start
	get_from 127.0.0.31 /from-backend
	assert_equal "$HTTP_CODE" 200
	run hdr X-Backend
	assert_output b1
	# the policy is the sustained rate, not count + burst
	run hdr RateLimit-Policy
	assert_output '"default";q=2;w=60'
	run hdr RateLimit
	assert_output --regexp '^"default";r=2;t=[0-9]+$'
	# three requests on one connection: two pass, then 429 without a
	# close, so the fourth still goes out on the same connection
	run python3 - "$PORT" <<'PY'
import socket, sys
s = socket.socket()
s.bind(("127.0.0.32", 0))
s.settimeout(10)
s.connect(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
for i in range(4):
    s.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    status = f.readline().split()[1].decode()
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.decode().partition(":")
        if k.lower() == "content-length":
            length = int(v)
        if k.lower() == "connection" and "close" in v:
            status += "+close"
    f.read(length)
    print(status)
PY
	assert_success
	assert_output "$(printf '200\n200\n200\n429')"
}

@test "rate limit: off sends no RateLimit fields and never refuses" {
	WORKERS=4 write_conf "rate_limit off"
	maitred_start
	from $(repeat 120 127.0.0.15)
	assert_success
	assert_equal "$(count_of 200)" 120
	get_from 127.0.0.15
	assert_equal "$HTTP_CODE" 200
	run hdr RateLimit
	assert_failure
	run hdr RateLimit-Policy
	assert_failure
	get_from 127.0.0.15 /no-such-file
	assert_equal "$HTTP_CODE" 404
	run grep -i '^ratelimit' "$HTTP_HEADERS"
	assert_failure
}

@test "rate limit: the limit applies to error responses and the status page too" {
	WORKERS=2 write_conf "rate_limit 3/60s" "status_allow 127.0.0.0/8 ::1"
	maitred_start
	from --path /no-such-file $(repeat 2 127.0.0.16)
	assert_equal "$(count_of 404)" 2
	get_from 127.0.0.16 /no-such-file
	assert_equal "$HTTP_CODE" 404
	run hdr RateLimit
	assert_output --regexp '^"default";r=0;t='
	get_from 127.0.0.16 /maitred/status
	assert_equal "$HTTP_CODE" 429
	assert_equal "$(stat_counter rate_limited)" 1
}

@test "rate limit: 2000 distinct clients are all served and a hot one is still limited" {
	WORKERS=4 write_conf "rate_limit 10/60s"
	maitred_start
	from $(repeat 10 127.0.0.20)
	assert_equal "$(count_of 200)" 10
	run python3 "$SRCCLIENT" --summary --deadline 90 127.0.0.1 "$PORT" \
	    127.1.0.1+2000
	assert_success
	assert_output '200 2000'
	# each of them still has its own slot: 9 more pass, the 11th not
	run python3 "$SRCCLIENT" --summary --deadline 90 127.0.0.1 "$PORT" \
	    127.1.0.1+50 127.1.0.1+50
	assert_output '200 100'
	from 127.0.0.20
	assert_output '127.0.0.20 429 1'
}

@test "rate limit: rate_limit_size 16k holds 512 clients; 2000 live ones evict, counted and logged" {
	WORKERS=2 write_conf "rate_limit 1/60s" "rate_limit_size 16k"
	maitred_start
	run python3 "$SRCCLIENT" --summary --deadline 90 127.0.0.1 "$PORT" \
	    127.1.0.1+2000
	assert_output '200 2000'
	# all 2000 are still being limited: most of them were forgotten
	[ "$(stat_counter rate_limit_evictions)" -ge 1000 ]
	assert log_has "rate limit: table bucket full, forgot a client .* the table holds 512 clients, rate_limit_size can raise that"
	# the default table holds them all
	maitred_stop
	WORKERS=2 write_conf "rate_limit 1/60s"
	maitred_start
	run python3 "$SRCCLIENT" --summary --deadline 90 127.0.0.1 "$PORT" \
	    127.1.0.1+2000
	assert_output '200 2000'
	assert_equal "$(stat_counter rate_limit_evictions)" 0
}

@test "rate_limit_size: bad values are file:line errors" {
	for v in 8k 2g 64t 1x; do
		write_conf "rate_limit_size $v"
		run "$MAITRED" -t -c "$MTD_CONF"
		assert_failure
		assert_output --partial "maitred.conf:$(conf_line "rate_limit_size $v"): rate_limit_size: invalid value \"$v\""
	done
}

@test "rate limit: state survives kill -9 of every worker" {
	WORKERS=4 write_conf "rate_limit 5/60s"
	maitred_start
	wait_for workers_are 4
	from $(repeat 6 127.0.0.21)
	assert_equal "$(codes | tr '\n' ' ')" "200 200 200 200 200 429 "
	local old p
	old=$(worker_pids)
	for p in $old; do
		kill -KILL "$p"
	done
	# respawned: four workers again, none of the old ones
	_respawned() {
		local now q
		now=$(worker_pids)
		[ "$(printf '%s\n' "$now" | grep -c .)" -eq 4 ] || return 1
		for q in $old; do
			printf '%s\n' "$now" | grep -qx "$q" && return 1
		done
		return 0
	}
	wait_for -t 15 _respawned
	wait_for port_listening "$PORT"
	from $(repeat 4 127.0.0.21)
	assert_equal "$(count_of 429)" 4
	# and the others are served by the new workers
	assert_equal "$(code_from 127.0.0.22)" 200
}

@test "rate limit: IPv6 clients are limited too" {
	has_ipv6 || skip "no IPv6 loopback"
	PORT=$(free_port)
	WORKERS=2 write_conf "listen [::1]:$PORT" \
	    "rate_limit 3/60s"
	maitred_start
	run python3 "$SRCCLIENT" ::1 "$PORT" ::1 ::1 ::1 ::1
	assert_equal "$(codes | tr '\n' ' ')" "200 200 200 429 "
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_success
}

@test "rate limit: bad directives fail maitred -t with FILE:LINE" {
	local bad
	for bad in "rate_limit 10" "rate_limit 0/60s" "rate_limit 10/0s" \
	    "rate_limit ten/60s" "rate_limit 10/60s burst=x" \
	    "rate_limit_mode maybe" "rate_limit_ipv6_prefix 129" \
	    "rate_limit_exempt 10.0.0.1/8" "rate_limit_exempt" \
	    "rate_limit 1000000001/1s" "rate_limit 10/1s burst=1000000001" \
	    "rate_limit 9223372036854775807/1s"; do
		PORT=$PORT write_conf "$bad"
		run "$MAITRED" -t -c "$MTD_CONF"
		[ "$status" -eq 1 ] || fail "accepted: $bad"
		assert_output --partial "maitred.conf:$(conf_line "$bad"):"
	done
	write_conf "rate_limit 10/60s burst=5" "rate_limit_mode log" \
	    "rate_limit_ipv6_prefix 48" "rate_limit_exempt 10.0.0.0/8 ::1"
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_success
}

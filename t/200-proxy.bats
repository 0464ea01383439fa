#!/usr/bin/env bats
# Reverse proxy: balancing, bodies both ways, header rewriting, errors
# (502/503/504), retries, keep-alive to the backends, WebSocket.
# Three t/backend.py instances and one maitred (2 workers) for the file;
# tests that need other settings start their own maitred.

load helpers

setup_file() {
	export MTD_DIR=$BATS_FILE_TMPDIR
	B1=$(backend_start b1)
	B2=$(backend_start b2)
	B3=$(backend_start b3)
	export B1 B2 B3
	printf '127.0.0.1:%s:1:3\n' "$B1" "$B2" "$B3" >"$MTD_DIR/backends.cfg"
	write_conf "backends $MTD_DIR/backends.cfg" "strategy round-robin" \
	    "read_timeout 1s" "connect_timeout 1s"
	maitred_start
	head -c $((10 * 1024 * 1024)) /dev/urandom >"$MTD_DIR/post.bin"
}

teardown_file() {
	common_teardown
}

# count PORT: requests the backend on PORT served so far.
count() {
	command curl -s -m 5 "http://127.0.0.1:$1/count"
}

# own_maitred LINE...: a second maitred for this test only, in
# $BATS_TEST_TMPDIR on a fresh port (stopped by teardown).
own_maitred() {
	MTD_DIR=$BATS_TEST_TMPDIR
	PORT=$(free_port)
	write_conf "$@"
	maitred_start
	OWN_PID=$MAITRED_PID
}

teardown() {
	own_teardown
}

# one_backend PORT MAX_FAILURES [LINE...]: own_maitred in front of the
# backend on PORT alone, with these extra directives.
one_backend() {
	local port=$1 max=$2
	shift 2
	printf '127.0.0.1:%s:1:%s\n' "$port" "$max" >"$BATS_TEST_TMPDIR/one.cfg"
	own_maitred "backends $BATS_TEST_TMPDIR/one.cfg" "$@"
}

# close_answer PATH: raw GET PATH with Connection: close; $output, $META.
close_answer() {
	META=$BATS_TEST_TMPDIR/meta
	rm -f "$META"
	run raw --meta "$META" --timeout 3 \
	    "GET $1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
}

# body_of PATH: the body of GET PATH (raw target, not normalised by curl).
body_of() {
	curl -s --path-as-is -m 5 "$(url "$1")"
}

@test "paths that name no file in htdocs go to the backends" {
	# an encoded slash, kept as sent
	run body_of '/api/a%2Fb'
	assert_output --regexp '^b[123] GET /api/a%2Fb$'
	# a dotfile that exists in htdocs is never served, nor hidden
	run body_of /.secret
	assert_output --regexp '^b[123] GET /\.secret$'
	# a path longer than any file name
	long=/api/$(printf 'a%.0s' $(seq 5000))
	run body_of "$long"
	assert_output --regexp "^b[123] GET $long\$"
	# /.well-known: from the backends while htdocs has none ...
	run body_of /.well-known/acme-challenge/tok
	assert_output --regexp '^b[123] GET /\.well-known/acme-challenge/tok$'
	# ... and from htdocs once it appears (certbot --webroot)
	mkdir -p "$MTD_DIR/htdocs/.well-known/acme-challenge"
	echo token-body >"$MTD_DIR/htdocs/.well-known/acme-challenge/tok"
	_served() { [ "$(body_of /.well-known/acme-challenge/tok)" = token-body ]; }
	wait_for _served
	run body_of /.well-known/acme-challenge/other
	assert_output --regexp '^b[123] GET /\.well-known/acme-challenge/other$'
	rm -r "$MTD_DIR/htdocs/.well-known"
}

@test "a body that ends with the backend's close ends at once, not at read_timeout" {
	own_maitred "backends $MTD_DIR/backends.cfg" "read_timeout 5s" "workers 1"
	local i out slow=0
	for i in $(seq 20); do
		out=$(curl -s -m 10 -w ' %{http_code} %{time_total}' "$(url /eof)")
		[[ $out == *"until the close"*" 200 "* ]] || fail "got: $out"
		awk -v t="${out##* }" 'BEGIN { exit !(t >= 2) }' && slow=$((slow + 1))
	done
	assert_equal "slow: $slow" "slow: 0"
	refute log_has "read timeout"
}

@test "a response without Date gets one (RFC 9110 6.6.1), only one" {
	http_get /eof
	assert_equal "$HTTP_CODE" 200
	[[ "$(hdr Date)" =~ ^[A-Z][a-z]{2},\ [0-9]{2}\ [A-Z][a-z]{2}\ [0-9]{4}\ [0-9:]{8}\ GMT$ ]]
	# a backend's own Date is kept, not doubled
	http_get /hello
	assert_equal "$(grep -ci '^Date:' "$HTTP_HEADERS")" 1
}

# The last bytes go out with MSG_MORE and the close adds the FIN to them:
# nothing may be held back, whatever the size.
@test "Connection: close: whole answer, then the close at once (small and 1 MB)" {
	close_answer /big?bytes=100
	assert_line --index 0 --regexp '^HTTP/1\.1 200 '
	assert_line --regexp '^Connection: close'
	assert_equal "$(meta_get closed "$META")" 1
	less_than "$(meta_get elapsed "$META")" 0.8
	f=$BATS_TEST_TMPDIR/big.out
	raw --meta "$META" --timeout 3 \
	    'GET /big?bytes=1048576 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$f"
	assert_equal "$(meta_get closed "$META")" 1
	less_than "$(meta_get elapsed "$META")" 2
	body=$(python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
b = d[d.index(b"\r\n\r\n") + 4:]
print(len(b), all(x == i % 251 for i, x in enumerate(b)))' "$f")
	assert_equal "$body" "1048576 True"
}

@test "GET goes to a backend and shows X-Backend" {
	http_get /hello
	assert_equal "$HTTP_CODE" 200
	run hdr X-Backend
	assert_success
	assert_output --regexp '^b[123]$'
	assert_equal "$(cut -d' ' -f2- "$HTTP_BODY")" "GET /hello"
}

@test "local files are still served by maitred" {
	http_get /hello.txt
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(cat "$HTTP_BODY")" "hello from maitred"
	run hdr X-Backend
	assert_failure
}

@test "round-robin: 6 requests, each backend exactly twice" {
	local i out=
	for i in 1 2 3 4 5 6; do
		http_get "/rr$i"
		assert_equal "$HTTP_CODE" 200
		out="$out$(hdr X-Backend)"$'\n'
	done
	run bash -c 'printf "%s" "$1" | sort | uniq -c | awk "{print \$1}" |
	    sort -u' _ "$out"
	assert_output 2
	[ "$(printf '%s' "$out" | sort -u | wc -l)" -eq 3 ]
}

@test "access log names the backend" {
	http_get /logged-through-proxy
	assert_equal "$HTTP_CODE" 200
	wait_for grep -q 'GET /logged-through-proxy .* up=127.0.0.1:' \
	    "$MTD_DIR/access.log"
}

@test "502 on a malformed response head, logged with the backend" {
	http_get /bad
	assert_equal "$HTTP_CODE" 502
	run grep -c 'Content-Length: 7' "$HTTP_HEADERS"
	assert_output 0
	wait_for log_has 'upstream 127\.0\.0\.1:[0-9]+: invalid response head'
}

@test "504 when the backend is slower than read_timeout" {
	local t0 t1
	t0=$(date +%s%3N)
	http_get '/slow?ms=3000'
	t1=$(date +%s%3N)
	assert_equal "$HTTP_CODE" 504
	[ $((t1 - t0)) -lt 2900 ]
	wait_for log_has 'upstream 127\.0\.0\.1:[0-9]+: read timeout'
}

@test "a response head that trickles in still has read_timeout in all" {
	local start end
	start=$(date +%s%3N)
	# 39 bytes, 200 ms apart: about 8 s, against read_timeout 1s
	http_get '/slowhead?ms=200' -m 6
	end=$(date +%s%3N)
	assert_equal "$HTTP_CODE" 504
	[ $((end - start)) -lt 3500 ]
}

# how_it_ends PATH [PAUSE]: GET PATH with a small receive buffer, read
# nothing for PAUSE seconds (0), then read to the end. Prints "reset" or
# "clean end", then the bytes received.
how_it_ends() {
	python3 - "$PORT" "$1" "${2:-0}" <<'PY'
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.settimeout(10)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % sys.argv[2].encode())
time.sleep(float(sys.argv[3]))
got = 0
try:
    while True:
        d = s.recv(65536)
        if not d:
            print("clean end")
            break
        got += len(d)
except ConnectionResetError:
    print("reset")
print(got)
PY
}

@test "a close-delimited body cut by the backend reaches the client as an error, not an end" {
	run how_it_ends /eofrst
	assert_line --index 0 reset
	# the log says when it happened
	assert wait_for log_has 'Connection reset by peer in the middle of the response body'
}

@test "a close-delimited body cut for a client too slow to take it ends in a reset, not an end" {
	one_backend "$B1" 3 "client_timeout 1s" "proxy_buffer_max 0"
	# The client reads nothing past client_timeout, then all there is.
	run how_it_ends '/eof?bytes=20000000' 2.5
	assert_line --index 0 reset
}

# steady_ok PATH BYTES: a client reading 128 KB/s for 4 s (client_timeout
# is 1 s), then fast, gets all BYTES of the /big pattern and a clean end.
steady_ok() {
	local want
	want=$(python3 -c '
import hashlib, sys
n = int(sys.argv[1]); p = bytes(i % 251 for i in range(251))
print(hashlib.sha256((p * (n // 251 + 1))[:n]).hexdigest())' "$2")
	run python3 "$BATS_TEST_DIRNAME/lib/steadyreader.py" "$PORT" "$1" \
	    131072 4
	assert_success
	assert_line "status 200"
	assert_line "body $2"
	assert_line "sha256 $want"
	assert_line "end eof"
}

@test "a client slow but steady keeps its answer past client_timeout (backend waiting)" {
	one_backend "$B1" 3 "client_timeout 1s" "proxy_buffer_max 0"
	steady_ok '/big?bytes=6000000' 6000000
}

@test "a client slow but steady keeps its answer past client_timeout (answer buffered)" {
	one_backend "$B1" 3 "client_timeout 1s"
	steady_ok '/big?bytes=6000000' 6000000
}

@test "10 MB response is byte-exact" {
	local want
	want=$(python3 -c '
import hashlib, sys
p = bytes(i % 251 for i in range(251)); n = 10 * 1024 * 1024
print(hashlib.sha256((p * (n // 251 + 1))[:n]).hexdigest())')
	http_get '/big?bytes=10485760'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Content-Length)" 10485760
	assert_equal "$(sha256sum <"$HTTP_BODY" | cut -d' ' -f1)" "$want"
}

@test "chunked response is forwarded as chunked" {
	http_get '/chunked?n=5'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Transfer-Encoding)" chunked
	assert_equal "$(wc -l <"$HTTP_BODY")" 5
	assert_equal "$(tail -n 1 "$HTTP_BODY")" "chunk 4"
}

@test "chunked response framing: leading zeros pass, a bare LF is cut off" {
	# RFC 9112 1*HEXDIG: 18 leading zeros are fine (relayed as sent)
	run raw --timeout 5 'GET /chunked?n=3&zeros=18 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_line --index 0 --regexp '^HTTP/1\.1 200 '
	assert_line --regexp $'^0{18}8\r?$'
	assert_output --partial 'chunk 2'
	# bare LF chunk lines would be relayed raw to clients that may read
	# them another way: the response is cut, never passed on whole
	run raw --timeout 5 'GET /chunked?n=3&lf=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	refute_output --partial 'chunk 2'
	assert wait_for log_has "upstream 127.0.0.1:[0-9]*: bad chunked framing"
	# read with its head, nothing reached the client yet: a clean 502
	run raw --timeout 5 'GET /chunked?n=3&lf=1&one=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_line --index 0 --regexp '^HTTP/1\.1 502 '
	refute_output --partial 'chunk 0'
	http_get '/chunked?n=3&one=1'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(tail -n 1 "$HTTP_BODY")" "chunk 2"
}

@test "chunked response framing: a quoted extension must close on its line" {
	# left open, a quote-aware client would read past the CRLF
	run raw --timeout 5 'GET /chunked?n=3&one=1&ext=x%3D%22a HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_line --index 0 --regexp '^HTTP/1\.1 502 '
	refute_output --partial 'chunk 0'
	assert wait_for log_has "upstream 127.0.0.1:[0-9]*: bad chunked framing"
	# closed, with a quoted pair inside, it is relayed as it came
	run raw --timeout 5 'GET /chunked?n=3&one=1&ext=x%3D%22a%5C%22b%22 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_line --index 0 --regexp '^HTTP/1\.1 200 '
	assert_line --regexp $'^8;x="a\\\\"b"\r?$'
	assert_output --partial 'chunk 2'
}

@test "a response with 990 header fields passes whole; with more than 1000: 502, and the log says why" {
	http_get "/many?nhdr=990"
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(grep -c '^X-N[0-9]*: v' "$HTTP_HEADERS")" 990
	assert_equal "$(hdr X-N989)" v
	http_get "/many?nhdr=1001"
	assert_equal "$HTTP_CODE" 502
	assert wait_for log_has "invalid response head: more than 1000 header fields"
}

@test "chunked response to an HTTP/1.0 client is decoded" {
	http_get '/chunked?n=3' -0
	assert_equal "$HTTP_CODE" 200
	run hdr Transfer-Encoding
	assert_failure
	assert_equal "$(cat "$HTTP_BODY")" $'chunk 0\nchunk 1\nchunk 2'
}

@test "POST 10 MB body (Content-Length and chunked)" {
	local want
	want=$(sha256sum <"$MTD_DIR/post.bin" | cut -d' ' -f1)
	http_get /echo --data-binary "@$MTD_DIR/post.bin"
	assert_equal "$HTTP_CODE" 200
	run grep -o '"body_sha256": "[0-9a-f]*"' "$HTTP_BODY"
	assert_output "\"body_sha256\": \"$want\""
	http_get /echo -H 'Transfer-Encoding: chunked' \
	    --data-binary "@$MTD_DIR/post.bin"
	assert_equal "$HTTP_CODE" 200
	run grep -o '"body_sha256": "[0-9a-f]*"' "$HTTP_BODY"
	assert_output "\"body_sha256\": \"$want\""
	# the backend gets "chunked" as we write it, whatever the case sent
	run raw --timeout 5 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tcHuNkEd \r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n'
	assert_output --partial '"transfer-encoding": "chunked"'
	assert_output --partial '"body_len": 5'
}

@test "client_max_body_size: 413 for a longer declared or chunked body, the limit itself passes" {
	local d=$BATS_TEST_TMPDIR n
	head -c 4096 /dev/urandom >"$d/4k"
	head -c 4097 /dev/urandom >"$d/4k1"
	own_maitred "backends $BATS_FILE_TMPDIR/backends.cfg" \
	    "client_max_body_size 4k" "workers 1"
	http_get /echo --data-binary "@$d/4k"
	assert_equal "$HTTP_CODE" 200
	http_get /echo -H 'Transfer-Encoding: chunked' --data-binary "@$d/4k"
	assert_equal "$HTTP_CODE" 200
	n=$(( $(count "$B1") + $(count "$B2") + $(count "$B3") ))
	# Declared: refused before the body is read; no 100 Continue first.
	http_get /echo -H 'Expect: 100-continue' --data-binary "@$d/4k1"
	assert_equal "$HTTP_CODE" 413
	assert_equal "$(hdr Connection)" close
	run grep -c '^HTTP/1.1 100' "$HTTP_HEADERS"
	assert_output 0
	assert_equal $(( $(count "$B1") + $(count "$B2") + $(count "$B3") )) "$n"
	# Chunked: refused once the decoded body passes the limit.
	http_get /echo -H 'Transfer-Encoding: chunked' \
	    --data-binary "@$BATS_FILE_TMPDIR/post.bin"
	assert_equal "$HTTP_CODE" 413
	# The check comes before routing: a path under htdocs too.
	http_get /index.html --data-binary "@$d/4k1"
	assert_equal "$HTTP_CODE" 413
	# A request without a body is not affected; the worker still serves.
	http_get /after
	assert_equal "$HTTP_CODE" 200
}

@test "client_max_body_size: a chunked body that passes it after it was sent on gets 413" {
	# The first chunk goes to a backend; the limit is passed in a later
	# read, once the request is relayed: 413, and the worker lives on.
	local w
	own_maitred "backends $BATS_FILE_TMPDIR/backends.cfg" \
	    "client_max_body_size 4k" "workers 1"
	w=$(worker_pids)
	run python3 - "$PORT" <<'EOF2'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
          b"\r\n2000\r\n" + b"a" * 100)
time.sleep(0.5)
s.sendall(b"a" * 8092 + b"\r\n0\r\n\r\n")
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
print(data.split(b"\r\n", 1)[0].decode())
EOF2
	assert_output --regexp '^HTTP/1\.1 413 '
	http_get /after
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(worker_pids)" "$w"
	refute log_has 'exited'
}

@test "Expect: 100-continue gets 100 from maitred, not forwarded" {
	http_get /echo -H 'Expect: 100-continue' \
	    --data-binary "@$MTD_DIR/post.bin"
	assert_equal "$HTTP_CODE" 200
	run grep -c '^HTTP/1.1 100 Continue' "$HTTP_HEADERS"
	assert_output 1
	run grep -c '"expect"' "$HTTP_BODY"
	assert_output 0
}

@test "forwarding headers added, hop-by-hop removed" {
	http_get /echo -H 'Connection: close, X-Foo' -H 'X-Foo: 1' \
	    -H 'X-Forwarded-For: 192.0.2.7' -H 'X-Real-IP: 6.6.6.6' \
	    -H 'Keep-Alive: timeout=5' -H 'TE: trailers' \
	    -H 'Host: example.test'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Connection)" close
	run python3 -c '
import json, sys
h = json.load(open(sys.argv[1]))["headers"]
for k in ("x-forwarded-for", "x-real-ip", "x-forwarded-host",
    "x-forwarded-proto", "host"):
    print("%s=%s" % (k, h.get(k)))
for k in ("x-foo", "connection", "keep-alive", "te"):
    print("%s=%s" % (k, k in h))' "$HTTP_BODY"
	assert_line 'x-forwarded-for=192.0.2.7, 127.0.0.1'
	assert_line 'x-real-ip=127.0.0.1'
	assert_line 'x-forwarded-host=example.test'
	assert_line 'x-forwarded-proto=http'
	assert_line 'host=example.test'
	assert_line 'x-foo=False'
	assert_line 'connection=False'
	assert_line 'keep-alive=False'
	assert_line 'te=False'
}

@test "target forwarded byte for byte" {
	http_get '/echo?x=%2F..%2f&y=a+b%20&z=/../'
	assert_equal "$HTTP_CODE" 200
	run grep -o '"path": "[^"]*"' "$HTTP_BODY"
	assert_output '"path": "/echo?x=%2F..%2f&y=a+b%20&z=/../"'
}

@test "raw UTF-8 in the target goes to the backend as it came" {
	run raw 'GET /echo?q=caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_line --index 0 --partial " 200 "
	# the backend reads the line as Latin-1, and JSON escapes it
	assert_output --partial '"path": "/echo?q=caf\u00c3\u00a9"'
}

@test "HEAD through the proxy: headers, no body" {
	run bash -c 'printf "HEAD /big?bytes=1000 HTTP/1.1\r\nHost: x\r\n\r\nGET /after-head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" |
	    python3 "$1" 127.0.0.1 "$2"' _ "$RAWHTTP" "$PORT"
	assert_success
	assert_equal "$(status_lines | tr '\n' ' ')" "200 200 "
	assert_output --partial 'Content-Length: 1000'
	assert_output --regexp 'b[123] GET /after-head'
}

@test "304 and 204 pass through without a body" {
	run bash -c 'printf "GET /status/304 HTTP/1.1\r\nHost: x\r\n\r\nGET /status/204?hdr=Content-Length:5 HTTP/1.1\r\nHost: x\r\n\r\nGET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" |
	    python3 "$1" 127.0.0.1 "$2"' _ "$RAWHTTP" "$PORT"
	assert_success
	assert_equal "$(status_lines | tr '\n' ' ')" "304 204 200 "
	assert_output --regexp 'b[123] GET /last'
	# the backend's Content-Length on its 204 is not passed on
	run awk '/^HTTP\/1.1 204/ { h = 1; next } h && /^\r?$/ { exit }
	    h { print }' <<<"$output"
	refute_output --partial Content-Length
}

@test "pipelined requests with a body keep their order" {
	run bash -c 'printf "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" |
	    python3 "$1" 127.0.0.1 "$2"' _ "$RAWHTTP" "$PORT"
	assert_success
	assert_equal "$(status_lines | tr '\n' ' ')" "200 200 "
	assert_output --partial '"body_len": 3'
	assert_output --regexp 'b[123] GET /second'
}

@test "keep-alive: 20 requests reuse pooled backend connections" {
	local before after args= i n
	before=0
	for p in "$B1" "$B2" "$B3"; do
		before=$((before + $(curl -s "http://127.0.0.1:$p/count")))
	done
	for i in $(seq 20); do
		args="$args $(url "/ka$i")"
	done
	run curl -s -m 10 $args
	assert_success
	[ "$(printf '%s\n' "$output" | grep -c ' GET /ka')" -eq 20 ]
	after=0
	for p in "$B1" "$B2" "$B3"; do
		after=$((after + $(curl -s "http://127.0.0.1:$p/count")))
	done
	assert_equal "$((after - before))" 20
	# The pool keeps connections open: at most one per worker and
	# backend is needed for sequential requests.
	n=$(ss -Htn state established "( dport = :$B1 or dport = :$B2 or dport = :$B3 )" |
	    wc -l)
	[ "$n" -ge 1 ]
	[ "$n" -le 6 ]
}

# pooled PORT: our established connections to the backend on PORT.
pooled() {
	ss -Htn state established "( dport = :$1 )" | wc -l
}

none_pooled() {
	[ "$(pooled "$1")" -eq 0 ]
}

@test "backend_keepalive_timeout: an idle pooled connection is closed" {
	local b
	b=$(backend_start kt)
	WORKERS=1 one_backend "$b" 3 \
	    "backend_keepalive_timeout 1s"
	http_get /kt1
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(pooled "$b")" 1
	assert wait_for -t 5 none_pooled "$b"
	# and the next request opens a new one
	http_get /kt2
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(pooled "$b")" 1
}

@test "a client that resets while its request waits for the backend frees it at once (499)" {
	local b
	b=$(backend_start cr)
	WORKERS=1 one_backend "$b" 3 \
	    "read_timeout 30s"
	run python3 - "$PORT" "$b" <<'PY'
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /slow?ms=8000 HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(0.5)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()	# RST
PY
	assert_success
	assert wait_for -t 4 none_pooled "$b"
	assert wait_for log_has ' 499 ' "$BATS_TEST_TMPDIR/access.log"
	# the worker goes on serving
	http_get /after
	assert_equal "$HTTP_CODE" 200
}

# canned_backend PORT: answers each request with the bytes its path names
# (below), then closes; for answers t/backend.py cannot give.
canned_backend() {
	python3 - "$1" 3>&- <<'PY' &
import socket, sys, threading, time
CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n0\r\n")
ANSWERS = {
    b"/twocl": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
               b"Content-Length: 5\r\n\r\nhello",
    b"/listcl": b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
    b"/listcl0": b"HTTP/1.1 200 OK\r\nContent-Length: 0, 0\r\n\r\n",
    b"/s600": b"HTTP/1.1 600 Beyond\r\nContent-Length: 2\r\n\r\nhi",
    b"/zerocl": b"HTTP/1.1 200 OK\r\nContent-Length: 0005\r\n\r\nhello",
    b"/zerocl0": b"HTTP/1.1 200 OK\r\nContent-Length: 000\r\n\r\n",
    b"/te204": b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked"
               b"\r\n\r\n0\r\n\r\n",
    b"/tegzip": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked"
                b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"/hints": b"HTTP/1.1 100 Continue\r\n\r\n"
               b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n"
               b"Connection: close\r\n\r\n"
               b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    # hints and final heads that do not fit in one buffer together
    b"/bighints": b"HTTP/1.1 103 Early Hints\r\nLink: <" + b"a" * 10000 +
                  b">\r\n\r\nHTTP/1.1 200 OK\r\nX-Pad: " + b"b" * 8000 +
                  b"\r\nContent-Length: 2\r\n\r\nhi",
    # 20 names in Connection, the field it names last
    b"/conn20": b"HTTP/1.1 200 OK\r\nConnection: " +
                b", ".join(b"t%d" % i for i in range(20)) +
                b", X-Secret\r\nX-Secret: s\r\nX-Kept: k\r\n"
                b"Content-Length: 2\r\n\r\nhi",
    # a 101 to a WebSocket offer that does not switch to WebSocket
    b"/ws-h2c": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
                b"Connection: Upgrade\r\n\r\n",
    b"/ws-none": b"HTTP/1.1 101 Switching Protocols\r\n"
                 b"Connection: Upgrade\r\n\r\n",
    b"/many102": b"HTTP/1.1 102 Processing\r\n\r\n" * 5000 +
                 b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    b"/trailer": b"HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
                 b"X-Sum: abc\r\n\r\n",
    b"/trailer-banned": CHUNKED + b"X-Sum: abc\r\nContent-Length: 99\r\n"
        b"Transfer-Encoding: chunked\r\nHost: evil\r\nSet-Cookie: a=b\r\n"
        b"cache-control: no-store\r\nProxy-Authenticate: Basic\r\n"
        b"Content-Type: text/evil\r\nLocation: /x\r\nTrailer: X-Two\r\n"
        b"Connection: close\r\nETag: \"t\"\r\nX-Two: 2\r\n\r\n",
    # a tuple: pieces sent 0.3 s apart, so many reads for the proxy
    b"/trailer-split": (CHUNKED + b"X-Su", b"m: abc\r\nSet-Coo",
                        b"kie: a=b\r\nX-Two: 2\r", b"\n\r", b"\n"),
}
# After a first piece with the body and a good field: a bad trailer line.
BAD = {b"ctl": b"X-Bad: a\x01b\r\n", b"lf": b"X-Bad: v\n",
       b"colon": b"X-Bad\r\n", b"name": b"X Bad: v\r\n",
       b"fold": b"X-Bad: v\r\n folded\r\n",
       b"big": b"X-Big: " + b"a" * 17000 + b"\r\n"}
for k, v in BAD.items():
    ANSWERS[b"/tbad-" + k] = (CHUNKED + b"X-Sum: abc\r\n", v + b"\r\n")
    ANSWERS[b"/tbad1-" + k] = CHUNKED + b"X-Sum: abc\r\n" + v + b"\r\n"
def serve(c):
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(4096)
        if not d:
            return c.close()
        data += d
    path = data.split(b" ")[1]
    a = ANSWERS.get(path, b"HTTP/1.1 404 Not Found\r\n"
                    b"Content-Length: 0\r\n\r\n")
    for i, piece in enumerate(a if isinstance(a, tuple) else (a,)):
        if i > 0:
            time.sleep(0.3)
        try:
            c.sendall(piece)
        except OSError:
            break
    c.close()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(16)
while True:
    threading.Thread(target=serve, args=(srv.accept()[0],)).start()
PY
	OWN_TRACK="${OWN_TRACK:-} $!"	# own_teardown stops it
	wait_for port_listening "$1"
}

@test "answer framing is normalised: one Content-Length, no TE where none may be, Trailer kept" {
	local cb
	cb=$(free_port)
	canned_backend "$cb"
	one_backend "$cb" 1000
	for p in /twocl /listcl /zerocl; do
		run raw --timeout 5 "GET $p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
		assert_line --index 0 --regexp '^HTTP/1\.1 200 '
		assert_equal "$(printf '%s\n' "$output" | grep -ci '^content-length')" 1
		assert_line --regexp $'^Content-Length: 5\r?$'
	done
	run raw --timeout 5 "GET /zerocl0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	assert_line --regexp $'^Content-Length: 0\r?$'
	# a status past 599 is no HTTP status (RFC 9110 15)
	run raw --timeout 5 "GET /s600 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	assert_line --index 0 --regexp '^HTTP/1\.1 502 '
	assert wait_for log_has 'invalid response head: invalid status line'
	run raw --timeout 5 'GET /te204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_line --index 0 --regexp '^HTTP/1\.1 204 '
	refute_output --partial 'Transfer-Encoding'
	# a transfer coding we never offered: not passed on
	run raw --timeout 5 'GET /tegzip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_line --index 0 --regexp '^HTTP/1\.1 502 '
	# and the log names the fault
	assert wait_for log_has 'invalid response head: a transfer coding other than chunked'
	# the trailer section goes on, and so does the field that lists it
	run raw --timeout 5 'GET /trailer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_line --regexp '^Trailer: X-Sum'
	assert_line --regexp '^X-Sum: abc'
	# an HTTP/1.0 client gets the body decoded, without TE or Trailer
	run raw --timeout 5 'GET /trailer HTTP/1.0\r\nHost: x\r\n\r\n'
	refute_output --partial 'Transfer-Encoding'
	refute_output --partial 'Trailer'
	assert_output --partial 'hello'
}

@test "a Content-Length list frames the answer too: 0 for \"0, 0\", its length to HEAD" {
	local cb
	cb=$(free_port)
	canned_backend "$cb"
	one_backend "$cb" 1000
	# With no length at all, the empty body of the first answer would
	# take in the second one, on a connection kept alive.
	run raw --timeout 5 'GET /listcl0 HTTP/1.1\r\nHost: x\r\n\r\nGET /listcl HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_equal "$(status_lines | tr '\n' ' ')" "200 200 "
	assert_equal "$(printf '%s\n' "$output" | grep -ci '^content-length: 0')" 1
	assert_equal "$(printf '%s\n' "$output" | grep -ci '^content-length: 5')" 1
	run raw --timeout 5 'HEAD /listcl HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_line --index 0 --regexp '^HTTP/1\.1 200 '
	assert_line --regexp '^Content-Length: 5'
}

# chunked_end: read a raw answer with a chunked body on stdin; print
# "data BYTES", then "complete" and a "trailer LINE" for each trailer
# field, or "cut" when the body does not end as chunked framing says.
chunked_end() {
	python3 -c '
import sys
raw = sys.stdin.buffer.read()
head, sep, body = raw.partition(b"\r\n\r\n")
data = b""
while sep:
    line, sep, body = body.partition(b"\r\n")
    if not sep or not line:
        break
    n = int(line.split(b";")[0], 16)
    if n == 0:
        fields = []
        while True:
            line, sep, body = body.partition(b"\r\n")
            if not sep or not line:
                break
            fields.append(line)
        break
    if len(body) < n + 2:
        sep = b""
        break
    data, body = data + body[:n], body[n + 2:]
print("data", data.decode("latin-1"))
if not sep:
    print("cut")
    sys.exit()
print("complete")
for f in fields:
    print("trailer", f.decode("latin-1"))
if body:
    print("then", body)
'
}

@test "trailer fields that frame, route or control the answer are dropped, whole or split" {
	local cb f=$BATS_TEST_TMPDIR/answer
	cb=$(free_port)
	canned_backend "$cb"
	one_backend "$cb" 1000
	for p in /trailer-banned /trailer-split; do
		raw --timeout 5 "GET $p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" >"$f"
		run chunked_end <"$f"
		assert_output "$(printf '%s\n' 'data hello' complete \
		    'trailer X-Sum: abc' 'trailer X-Two: 2')"
	done
	# a keep-alive client gets the next answer right after the trailers
	raw --timeout 5 'GET /trailer-split HTTP/1.1\r\nHost: x\r\n\r\n' \
	    'GET /trailer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$f"
	run chunked_end <"$f"
	assert_line 'trailer X-Two: 2'
	assert_line --regexp "^then b'HTTP/1\\.1 200 OK"
}

@test "a malformed trailer section cuts the answer, and none of it is relayed" {
	local cb p f=$BATS_TEST_TMPDIR/answer
	cb=$(free_port)
	canned_backend "$cb"
	one_backend "$cb" 1000
	for p in ctl lf colon name fold big; do
		# the body went out before the trailers came: cut
		raw --timeout 5 "GET /tbad-$p HTTP/1.1\r\nHost: x\r\n\r\n" >"$f"
		run chunked_end <"$f"
		assert_output "$(printf '%s\n' 'data hello' cut)"
		run grep -c X-Sum "$f"
		assert_output 0
		# all of it with the head: a clean 502
		run raw --timeout 5 "GET /tbad1-$p HTTP/1.1\r\nHost: x\r\n\r\n"
		assert_line --index 0 --regexp '^HTTP/1\.1 502 '
		refute_output --partial hello
	done
	assert log_has "upstream 127.0.0.1:$cb: bad chunked framing"
}

@test "interim answers: 103 Early Hints reach HTTP/1.1 clients, a backend's 100 does not" {
	local cb
	cb=$(free_port)
	canned_backend "$cb"
	one_backend "$cb" 1000
	run raw --timeout 5 'GET /hints HTTP/1.1\r\nHost: x\r\n\r\nGET /hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_equal "$(status_lines | tr '\n' ' ')" "103 200 103 200 "
	assert_line --regexp '^Link: </s.css>; rel=preload'
	# the interim head without its hop-by-hop fields
	run python3 -c 'import sys
print(sys.argv[1].split("\r\n\r\n")[0].lower())' "$output"
	assert_output --partial 'link:'
	refute_output --partial 'connection'
	run raw --timeout 5 'GET /hints HTTP/1.0\r\nHost: x\r\n\r\n'
	assert_equal "$(status_lines | tr '\n' ' ')" "200 "
	# a 10 KB hint and an 8 KB final head in one read: both go on
	run raw --timeout 5 'GET /bighints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_equal "$(status_lines | tr '\n' ' ')" "103 200 "
	assert_line hi
	# 5,000 hints the client cannot take as fast: dropped, not a 502
	run raw --timeout 5 'GET /many102 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_equal "$(status_lines | tail -n 1)" 200
	assert_line hi
	refute log_has 'response head too large'
}

@test "a 408 on a reused backend connection (its idle timeout): GET sent again on a fresh one, POST 502" {
	local kb
	kb=$(free_port)
	# each connection answers its first request, then a 408 and a close
	python3 - "$kb" 3>&- <<'PY' &
import socket, sys, threading
def serve(c):
    n = 0
    data = b""
    while True:
        while b"\r\n\r\n" not in data:
            d = c.recv(4096)
            if not d:
                return c.close()
            data += d
        head, data = data.split(b"\r\n\r\n", 1)
        n += 1
        if n > 1:
            c.sendall(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0"
                      b"\r\nConnection: close\r\n\r\n")
            return c.close()
        line = head.split(b"\r\n")[0]
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                  % (len(line), line))
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(16)
while True:
    threading.Thread(target=serve, args=(srv.accept()[0],),
                     daemon=True).start()
PY
	OWN_TRACK="${OWN_TRACK:-} $!"
	wait_for port_listening "$kb"
	WORKERS=1 one_backend "$kb" 1000 "health_interval 60s"
	run curl -s -o /dev/null -w '%{http_code}' "$(url /a)"
	assert_output 200
	# the pooled connection answers 408: a fresh one answers this GET
	run curl -s -w ' %{http_code}' "$(url /b)"
	assert_output 'GET /b HTTP/1.1 200'
	run curl -s -o /dev/null -w '%{http_code}' -d x "$(url /c)"
	assert_output 502
	assert log_has '408 on a reused connection'
	run grep -c ' 408 ' "$(mtd_dir)/access.log"
	assert_output 0
}

@test "Connection listing more than 16 names: every field named is removed, both ways" {
	local cb list
	list=$(printf 't%d, ' $(seq 20))
	http_get /echo -H "Connection: ${list}X-Foo" -H 'X-Foo: 1' -H 'X-Bar: 2'
	assert_equal "$HTTP_CODE" 200
	run echo_fields x-foo x-bar
	assert_output $'x-foo=None\nx-bar=2'
	# and a response's, on the way to the client
	cb=$(free_port)
	canned_backend "$cb"
	one_backend "$cb" 1000
	run raw --timeout 5 'GET /conn20 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_line --index 0 --regexp '^HTTP/1\.1 200 '
	assert_line --regexp '^X-Kept: k'
	refute_line --partial 'X-Secret'
}

@test "a 101 that does not switch to the WebSocket the client offered: 502, no tunnel" {
	local cb p
	cb=$(free_port)
	canned_backend "$cb"
	one_backend "$cb" 1000
	for p in /ws-h2c /ws-none; do
		run raw --timeout 5 "GET $p HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
		assert_equal "$(status_lines | head -n 1)" 502
		refute_line --partial 'HTTP/1.1 101'
	done
	assert log_has '101 response without "Upgrade: websocket"'
}

@test "a chunked request body reaches the backend re-framed: plain sizes, no extensions, no trailers" {
	local rb cap=$BATS_TEST_TMPDIR/raw.req
	rb=$(free_port)
	# a backend that keeps the raw bytes of the request it gets
	python3 - "$rb" "$cap" 3>&- <<'PY' &
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(16)
while True:
    c, _ = srv.accept()
    c.settimeout(5)
    data = b""
    try:
        while b"\r\n\r\n" not in data or not data.endswith(b"\r\n\r\n") \
                or data.count(b"\r\n\r\n") < 2:
            d = c.recv(65536)
            if not d:
                break
            data += d
        if data:
            open(sys.argv[2], "wb").write(data)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                      b"Connection: close\r\n\r\nok")
    except OSError:
        pass
    c.close()
PY
	OWN_TRACK="${OWN_TRACK:-} $!"	# own_teardown stops it
	wait_for port_listening "$rb"
	one_backend "$rb" 3
	run raw --timeout 5 'POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n000000005 ;a="b;c"\r\nhello\r\n3;q\r\n wo\r\n0;x=y\r\nX-T: 1\r\nContent-Length: 99\r\n\r\n'
	assert_line --index 0 --regexp '^HTTP/1\.1 200 '
	run python3 - "$cap" <<'PY'
import re, sys
raw = open(sys.argv[1], "rb").read()
head, _, body = raw.partition(b"\r\n\r\n")
print("chunked" if re.search(rb"(?i)\r\ntransfer-encoding: chunked\r\n",
                             head + b"\r\n") else "no TE")
data = b""
while True:
    line, _, body = body.partition(b"\r\n")
    if not re.fullmatch(rb"[1-9a-f][0-9a-f]*|0", line):
        print("bad size line", line)
        break
    n = int(line, 16)
    if n == 0:
        print("rest", body)
        break
    data, body = data + body[:n], body[n + 2:]
print("data", data)
PY
	assert_line 'chunked'
	assert_line "rest b'\\r\\n'"
	assert_line "data b'hello wo'"
	refute_line --partial 'bad size line'
}

@test "OPTIONS * and OPTIONS http://host:port go to the backend as OPTIONS * (RFC 9112 3.2.4)" {
	local a
	mkdir "$BATS_TEST_TMPDIR/htdocs"	# no index.html: / names no file
	one_backend "$B1" 3
	a=127.0.0.1:$PORT
	# line TARGET [METHOD]: what the backend got as method and target
	line() {
		raw --timeout 3 "${2:-OPTIONS} $1 HTTP/1.1\r\nHost: $a\r\nConnection: close\r\n\r\n" |
		    tail -n 1
	}
	assert_equal "$(line "http://$a")" 'b1 OPTIONS *'
	assert_equal "$(line "HTTP://$a")" 'b1 OPTIONS *'
	assert_equal "$(line "*")" 'b1 OPTIONS *'
	# a path or a query is not the server as a whole
	assert_equal "$(line "http://$a/")" 'b1 OPTIONS /'
	assert_equal "$(line "http://$a?x=1")" 'b1 OPTIONS /?x=1'
	assert_equal "$(line "http://$a/p")" 'b1 OPTIONS /p'
	# other methods keep "/"
	assert_equal "$(line "http://$a" GET)" 'b1 GET /'
	# with an index.html, the server as a whole is still not the file /
	echo home >"$BATS_TEST_TMPDIR/htdocs/index.html"
	assert_equal "$(line "http://$a")" 'b1 OPTIONS *'
	assert_equal "$(line "*")" 'b1 OPTIONS *'
}

@test "no backend up: 502 or 503 at once, then 503" {
	local p1 p2
	p1=$(free_port)
	p2=$(free_port)
	printf '127.0.0.1:%s:1:1\n' "$p1" "$p2" >"$BATS_TEST_TMPDIR/b.cfg"
	own_maitred "backends $BATS_TEST_TMPDIR/b.cfg" "connect_timeout 1s"
	# Either the proxy tries both backends first (refused: 502), or the
	# master's first health check already marked them down (503). Each
	# refused connect counts as a failure and max_failures is 1, so
	# after that first request both are down: 503 without a connect.
	http_get /nobody
	assert_regex "$HTTP_CODE" '^50[23]$'
	http_get /nobody
	assert_equal "$HTTP_CODE" 503
	assert_equal "$(hdr Content-Type)" 'text/html; charset=utf-8'
	log_has "127\.0\.0\.1:$p1.*(connect|down)"
}

@test "gateway errors keep the connection, as nginx: 503 or 502 (a POST's too), and 504, each followed by a pipelined request" {
	local p1 live
	p1=$(free_port)
	live=$(MTD_DIR=$BATS_TEST_TMPDIR backend_start gw)
	OWN_TRACK=$(cat "$BATS_TEST_TMPDIR/gw.pid")
	printf '127.0.0.1:%s:1:1\n' "$p1" >"$BATS_TEST_TMPDIR/b.cfg"
	own_maitred "backends $BATS_TEST_TMPDIR/b.cfg" "connect_timeout 1s" \
	    "read_timeout 1s" "workers 1"
	# nothing listens on p1: 502 (connect refused) or 503 (down); the
	# requests after each, a POST's body skipped, still get their answer
	run raw --timeout 5 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_equal "$(grep -c '^HTTP/1.1 50[23] ' <<<"$output")" 2
	# only the last answer, which was asked to, closes
	assert_equal "$(grep -c '^Connection: close' <<<"$output")" 1
	assert_line 'hello from maitred'
	# a live backend slower than read_timeout: 504, then the next one
	MAITRED_PID=$OWN_PID maitred_stop
	printf '127.0.0.1:%s:1:1\n' "$live" >"$BATS_TEST_TMPDIR/b.cfg"
	own_maitred "backends $BATS_TEST_TMPDIR/b.cfg" "connect_timeout 1s" \
	    "read_timeout 1s" "workers 1"
	run raw --timeout 5 'GET /slow?ms=3000 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_line --index 0 --partial ' 504 '
	assert_line 'hello from maitred'
}

@test "a backends file with none in it: -t warns, non-local paths get 503" {
	printf '# none yet\n' >"$BATS_TEST_TMPDIR/b.cfg"
	own_maitred "backends $BATS_TEST_TMPDIR/b.cfg"
	run "$MAITRED" -t -c "$MTD_DIR/maitred.conf"
	assert_success
	assert_output --partial "$BATS_TEST_TMPDIR/b.cfg: no backends: a request for no local file gets 503"
	http_get /nobody
	assert_equal "$HTTP_CODE" 503
	http_get /hello.txt
	assert_equal "$HTTP_CODE" 200
	assert log_has '\[INFO\] .* no backends: a request for no local file gets 503'
}

@test "a backend that never finishes the handshake: connect timeout, then another backend" {
	local d=$BATS_TEST_TMPDIR full i
	# A listener whose accept queue is full: the kernel drops further
	# SYNs, so a connect to it stays in SYN_SENT (a request tried on it
	# at once gets EAGAIN and must still time out as a connect).
	python3 - "$d/full.port" <<'EOF' &
import os, socket, sys, time
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(0)
fill = []
for _ in range(2):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(l.getsockname())
    fill.append(c)
open(sys.argv[1] + ".tmp", "w").write(str(l.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)
EOF
	OWN_TRACK=$!
	wait_for test -s "$d/full.port"
	full=$(cat "$d/full.port")
	printf '127.0.0.1:%s:1:3\n' "$full" "$B1" >"$d/b.cfg"
	own_maitred "backends $d/b.cfg" "strategy round-robin" \
	    "connect_timeout 1s" "health_interval 60s" "workers 1"
	for i in 1 2; do
		http_get "/hs$i"
		assert_equal "$HTTP_CODE" 200
		assert_equal "$(hdr X-Backend)" b1
	done
	wait_for log_has "upstream 127\.0\.0\.1:$full: connect timeout"
}

@test "a killed backend under load: 200 GETs, no failure" {
	local k1 k2 d=$BATS_TEST_TMPDIR codes
	k1=$(MTD_DIR=$d backend_start k1)
	k2=$(MTD_DIR=$d backend_start k2)
	OWN_TRACK="$(cat "$d/k1.pid") $(cat "$d/k2.pid")"
	printf '127.0.0.1:%s:1:3\n' "$k1" "$k2" >"$d/k.cfg"
	own_maitred "backends $d/k.cfg" "connect_timeout 1s"
	python3 - "$PORT" "$d/k1.pid" >"$d/codes" <<'EOF'
import http.client, os, signal, sys
port, pidfile = int(sys.argv[1]), sys.argv[2]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
for i in range(200):
    if i == 60:
        os.kill(int(open(pidfile).read()), signal.SIGKILL)
    conn.request("GET", "/k%d" % i)
    r = conn.getresponse()
    r.read()
    print(r.status)
EOF
	codes=$(sort "$d/codes" | uniq -c | awk '{print $2 ":" $1}')
	assert_equal "$codes" "200:200"
}

@test "WebSocket upgrade becomes a tunnel" {
	run env PYTHONPATH="$BATS_TEST_DIRNAME/lib" python3 - "$PORT" <<'EOF'
import socket, sys
from wsclient import echo, upgrade
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
print(upgrade(s)[0])
print(echo(s, b"hello tunnel"))
EOF
	assert_success
	assert_line 'HTTP/1.1 101 Switching Protocols'
	assert_line 'hello tunnel'
}

@test "a tunnel half-closed by the client still carries the backend's last words" {
	local wb
	wb=$(free_port)
	# answers 101, reads to EOF, then speaks and closes: only a passed-on
	# half-close lets it speak at all
	python3 - "$wb" 3>&- <<'PY' &
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(4)
while True:
    c = srv.accept()[0]
    c.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(4096)
        if not d:
            break	# a health check's bare connect
        data += d
    if b"\r\n\r\n" not in data:
        c.close()
        continue
    c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\n\r\n")
    got = data.split(b"\r\n\r\n", 1)[1]
    try:
        while True:
            d = c.recv(4096)
            if not d:
                break
            got += d
        c.sendall(b"bye after " + str(len(got)).encode())
    except OSError:
        pass
    c.close()
PY
	OWN_TRACK="${OWN_TRACK:-} $!"
	wait_for port_listening "$wb"
	one_backend "$wb" 3
	run env PYTHONPATH="$BATS_TEST_DIRNAME/lib" python3 - "$PORT" <<'EOF'
import socket, sys
from wsclient import upgrade
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
status, rest = upgrade(s)
print(status)
s.sendall(b"12345")
s.shutdown(socket.SHUT_WR)
while True:
    d = s.recv(4096)
    if not d:
        break
    rest += d
print(rest.decode())
EOF
	assert_success
	assert_line 'HTTP/1.1 101 Switching Protocols'
	assert_line 'bye after 5'
}

# echo_fields NAME...: "name=value" (None when absent) for each request
# field the last /echo answer says the backend received.
echo_fields() {
	python3 -c '
import json, sys
h = json.load(open(sys.argv[1]))["headers"]
for k in sys.argv[2:]:
    print("%s=%s" % (k, h.get(k)))' "$HTTP_BODY" "$@"
}

@test "HTTP/1.0 without Host, retried: the backend that answers is named in Host" {
	local dead
	dead=$(free_port)
	# round-robin starts with the dead one; health checks are far off
	printf '127.0.0.1:%s:1:100\n127.0.0.1:%s:1:100\n' "$dead" "$B1" \
	    >"$BATS_TEST_TMPDIR/two.cfg"
	WORKERS=1 own_maitred "backends $BATS_TEST_TMPDIR/two.cfg" \
	    "health_interval 60s"
	run raw --timeout 5 'GET /echo HTTP/1.0\r\n\r\n'
	assert_line --index 0 --regexp '^HTTP/1\.[01] 200 '
	assert_output --partial "\"host\": \"127.0.0.1:$B1\""
	refute_output --partial "127.0.0.1:$dead"
}

@test "Upgrade: only WebSocket is offered to the backend, and not by HTTP/1.0" {
	# h2c would become a tunnel past every per-request check
	http_get /echo -H 'Connection: Upgrade, HTTP2-Settings' \
	    -H 'Upgrade: h2c' -H 'HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA'
	assert_equal "$HTTP_CODE" 200
	run echo_fields upgrade connection http2-settings
	assert_output $'upgrade=None\nconnection=None\nhttp2-settings=None'
	http_get /echo -H 'Connection: Upgrade' -H 'Upgrade: h2c, WebSocket'
	run echo_fields upgrade connection
	assert_output $'upgrade=websocket\nconnection=upgrade'
	http_get /echo -0 -H 'Connection: Upgrade' -H 'Upgrade: websocket'
	run echo_fields upgrade connection
	assert_output $'upgrade=None\nconnection=None'
}

@test "refused before any backend: CONNECT, a bad or empty Host, a fragment" {
	local before after
	before=$(($(count "$B1") + $(count "$B2") + $(count "$B3")))
	run raw --timeout 5 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'
	assert_line --index 0 --regexp '^HTTP/1\.1 501 '
	for req in 'GET http://ex.com/p HTTP/1.1\r\nHost: a b\r\n\r\n' \
	    'GET http://ex.com/p HTTP/1.1\r\nHost: a/../b\r\n\r\n' \
	    'GET http://ex.com#frag HTTP/1.1\r\nHost: ex.com\r\n\r\n' \
	    'GET /a#frag HTTP/1.1\r\nHost: ex.com\r\n\r\n' \
	    'GET /admin HTTP/1.1\r\nHost:\r\n\r\n'; do
		run raw --timeout 5 "$req"
		assert_line --index 0 --regexp '^HTTP/1\.1 400 '
	done
	after=$(($(count "$B1") + $(count "$B2") + $(count "$B3")))
	assert_equal "$after" "$before"
	# HTTP/1.0 may leave Host empty: the backend's own goes instead
	run raw --timeout 5 'GET /echo HTTP/1.0\r\nHost:\r\n\r\n'
	assert_output --regexp '"host": "127\.0\.0\.1:[0-9]+"'
}

@test "a Host or an absolute-form authority that is not host[:port] is refused (RFC 9112 3.2)" {
	local before after req
	before=$(($(count "$B1") + $(count "$B2") + $(count "$B3")))
	for req in 'GET /echo HTTP/1.1\r\nHost: h:x\r\n\r\n' \
	    'GET /echo HTTP/1.1\r\nHost: h:80:81\r\n\r\n' \
	    'GET /echo HTTP/1.1\r\nHost: ::1\r\n\r\n' \
	    'GET /echo HTTP/1.1\r\nHost: [::1\r\n\r\n' \
	    'GET /echo HTTP/1.1\r\nHost: [::1]x\r\n\r\n' \
	    'GET http://h:xx/echo HTTP/1.1\r\nHost: h\r\n\r\n'; do
		run raw --timeout 5 "$req"
		assert_line --index 0 --regexp '^HTTP/1\.1 400 '
	done
	after=$(($(count "$B1") + $(count "$B2") + $(count "$B3")))
	assert_equal "$after" "$before"
	# the valid shapes still go through, port and brackets included
	for req in 'GET /echo HTTP/1.1\r\nHost: h:81\r\nConnection: close\r\n\r\n' \
	    'GET /echo HTTP/1.1\r\nHost: [::1]:81\r\nConnection: close\r\n\r\n' \
	    'GET http://[::1]/echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'; do
		run raw --timeout 5 "$req"
		assert_line --index 0 --regexp '^HTTP/1\.1 200 '
	done
}

@test "PURGE without a cache is a request for the backends" {
	http_get /some/page -X PURGE
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(cat "$HTTP_BODY")" "$(hdr X-Backend) PURGE /some/page"
}

# big_sha N: SHA-256 of the first N bytes of the backend's /big pattern.
big_sha() {
	python3 -c '
import hashlib, sys
n = int(sys.argv[1]); p = bytes(i % 251 for i in range(251))
print(hashlib.sha256((p * (n // 251 + 1))[:n]).hexdigest())' "$1"
}

# spliced: maitred_bytes_spliced_total from the metrics page.
spliced() {
	curl -s "$(url /maitred/metrics)" |
	    awk '$1 == "maitred_bytes_spliced_total" { print $2 }'
}

@test "large bodies are spliced: byte-exact, keep-alive between them, counted" {
	local want
	own_maitred "backends $BATS_FILE_TMPDIR/backends.cfg" \
	    "status_path /maitred/status" "status_allow 127.0.0.1"
	assert_equal "$(spliced)" 0
	want=$( (big_sha 300000; big_sha 1000; big_sha 200000) | sha256sum)
	# One connection: a spliced body, a small copied one, another
	# spliced one; each must end exactly where the next head starts.
	run curl -s -m 10 -o "$MTD_DIR/a" "$(url '/big?bytes=300000')" \
	    -o "$MTD_DIR/b" "$(url '/big?bytes=1000')" \
	    -o "$MTD_DIR/c" "$(url '/big?bytes=200000')"
	assert_success
	assert_equal "$(for f in a b c; do
		sha256sum <"$MTD_DIR/$f" | cut -d' ' -f1; done | sha256sum)" "$want"
	# All but the first read of each large body (at most 32 KB).
	[ "$(spliced)" -ge $((500000 - 2 * 32768)) ]
}

@test "a response's first read stays short: the body is spliced from its first 4 KB on" {
	own_maitred "backends $BATS_FILE_TMPDIR/backends.cfg" \
	    "status_path /maitred/status" "status_allow 127.0.0.1"
	# Head and body in one write: a full first read would take 32 KB.
	http_get '/big?bytes=300000&one=1'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(sha256sum <"$HTTP_BODY" | cut -d' ' -f1)" \
	    "$(big_sha 300000)"
	[ "$(spliced)" -ge $((300000 - 4096)) ]
}

@test "a short first read, topped up: mid-sized, big-headed, chunked, close-delimited answers" {
	local want
	own_maitred "backends $BATS_FILE_TMPDIR/backends.cfg" \
	    "status_path /maitred/status" "status_allow 127.0.0.1"
	# One connection: a body copied whole after a top-up, one spliced
	# just past the short read, one behind a 6 KB head.
	want=$( (big_sha 10000; big_sha 24000; big_sha 50000) | sha256sum)
	run curl -s -m 10 -D "$MTD_DIR/heads" \
	    -o "$MTD_DIR/a" "$(url '/big?bytes=10000&one=1')" \
	    -o "$MTD_DIR/b" "$(url '/big?bytes=24000&one=1')" \
	    -o "$MTD_DIR/c" "$(url '/big?bytes=50000&one=1&pad=6000')"
	assert_success
	assert_equal "$(for f in a b c; do
		sha256sum <"$MTD_DIR/$f" | cut -d' ' -f1; done | sha256sum)" "$want"
	assert_equal "$(grep -c '^HTTP/1.1 200' "$MTD_DIR/heads")" 3
	assert_equal "$(grep -o 'X-Pad: p*' "$MTD_DIR/heads" | tail -1 |
	    wc -c)" $((6000 + 8))
	# A chunked body of 30 KB read with its head.
	http_get '/chunked?n=3000&one=1'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(sha256sum <"$HTTP_BODY")" \
	    "$(seq 0 2999 | sed 's/^/chunk /' | sha256sum)"
	# A body that ends at the backend's close.
	http_get '/eof?bytes=30000'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(sha256sum <"$HTTP_BODY" | cut -d' ' -f1)" \
	    "$(big_sha 30000)"
}

@test "proxy_splice off: the same bytes, copied" {
	own_maitred "backends $BATS_FILE_TMPDIR/backends.cfg" \
	    "status_path /maitred/status" "status_allow 127.0.0.1" \
	    "proxy_splice off"
	http_get '/big?bytes=300000'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(sha256sum <"$HTTP_BODY" | cut -d' ' -f1)" \
	    "$(big_sha 300000)"
	assert_equal "$(spliced)" 0
}

@test "a spliced body cut short by the backend: short body, closed, logged" {
	own_maitred "backends $BATS_FILE_TMPDIR/backends.cfg" \
	    "status_path /maitred/status" "status_allow 127.0.0.1"
	run curl -s -m 10 -o "$MTD_DIR/short" "$(url '/bigdie?bytes=400000')"
	assert_equal "$status" 18	# curl: transfer closed with data left
	assert_equal "$(stat -c %s "$MTD_DIR/short")" 200000
	wait_for log_has 'closed in the middle of the response body'
	[ "$(spliced)" -gt 0 ]
	http_get /after
	assert_equal "$HTTP_CODE" 200
}

@test "bytes after a spliced body: that backend connection is not reused" {
	MTD_DIR=$BATS_TEST_TMPDIR
	PORT=$(free_port)
	printf '127.0.0.1:%s:1:3\n' "$B1" >"$MTD_DIR/one.cfg"
	# One worker, one backend: the next request would get the pooled
	# connection the extra bytes wait on.
	WORKERS=1 write_conf "backends $MTD_DIR/one.cfg" \
	    "status_path /maitred/status" "status_allow 127.0.0.1"
	maitred_start
	OWN_PID=$MAITRED_PID
	run curl -s -m 10 -o "$MTD_DIR/big" "$(url '/bigextra?bytes=300000')" \
	    -o "$MTD_DIR/next" "$(url /next)"
	assert_success
	assert_equal "$(sha256sum <"$MTD_DIR/big" | cut -d' ' -f1)" \
	    "$(big_sha 300000)"
	assert_equal "$(cat "$MTD_DIR/next")" "b1 GET /next"
	[ "$(spliced)" -gt 0 ]
	run ! log_has 'invalid response head|closed before responding'
}

# metric NAME: maitred_NAME from the metrics page.
metric() {
	curl -s "$(url /maitred/metrics)" |
	    awk -v m="maitred_$1" '$1 == m { print $2 }'
}

# active_is N: the backends have N connections in use, all workers
# together (idle pooled ones are not counted).
active_is() {
	[ "$(curl -s "$(url /maitred/status)" | python3 -c '
import json, sys
print(sum(b["active"] for b in json.load(sys.stdin)["backends"]))')" = "$1" ]
}

# buffered_past N: more than N answer bytes went to temp_dir files.
buffered_past() {
	[ "$(metric bytes_buffered_total)" -gt "$1" ]
}

# slow_big BYTES: a client that asks for /big?bytes=BYTES, then reads
# nothing until $BATS_TEST_TMPDIR/go exists (t/lib/slowreader.py).
slow_big() {
	"$BATS_TEST_DIRNAME"/lib/slowreader.py "$PORT" "/big?bytes=$1" \
	    "$BATS_TEST_TMPDIR/slow" "$BATS_TEST_TMPDIR/go" 60 &
	SLOW_PID=$!
	OWN_TRACK="${OWN_TRACK:-} $SLOW_PID"
	wait_for test -e "$BATS_TEST_TMPDIR/slow.sent"
}

# slow_big_ok BYTES: let the slow client read; it got all the bytes.
slow_big_ok() {
	touch "$BATS_TEST_TMPDIR/go"
	wait "$SLOW_PID" || fail "slow reader: exit $?"
	head -n 1 "$BATS_TEST_TMPDIR/slow.head" | grep -q '^HTTP/1.1 200'
	assert_equal "$(sha256sum <"$BATS_TEST_TMPDIR/slow" | cut -d' ' -f1)" \
	    "$(big_sha "$1")"
}

# proxy_buffered LINE...: one_backend on b1 with the status pages and
# temp_dir in the test's directory; then a slow client of 20 MB.
proxy_buffered() {
	one_backend "$B1" 3 "status_path /maitred/status" \
	    "status_allow 127.0.0.1" "temp_dir $BATS_TEST_TMPDIR" "$@"
	slow_big 20000000
}

@test "a slow client holds no backend connection: the answer waits in temp_dir" {
	proxy_buffered
	# The whole answer is read from the backend, whose connection goes
	# back to the pool while the client reads nothing.
	assert wait_for buffered_past 15000000
	assert wait_for active_is 0
	http_get /meanwhile
	assert_equal "$(cat "$HTTP_BODY")" "b1 GET /meanwhile"
	slow_big_ok 20000000
	# The file had no name: nothing is left behind.
	run find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'maitred-*'
	assert_output ''
}

@test "proxy_splice off: a slow client's answer is buffered all the same" {
	proxy_buffered "proxy_splice off"
	assert wait_for buffered_past 15000000
	assert wait_for active_is 0
	slow_big_ok 20000000
	assert_equal "$(metric bytes_spliced_total)" 0
}

@test "gzip on: a slow client's compressed answer is buffered before deflate" {
	one_backend "$B1" 3 "status_path /maitred/status" \
	    "status_allow 127.0.0.1" "temp_dir $BATS_TEST_TMPDIR" "gzip on"
	# Bytes deflate cannot shrink, so that the client falls behind.
	"$BATS_TEST_DIRNAME"/lib/slowreader.py --header 'Accept-Encoding: gzip' \
	    "$PORT" "/big?bytes=20000000&rand=1&ctype=text/plain" \
	    "$BATS_TEST_TMPDIR/slow" "$BATS_TEST_TMPDIR/go" 60 &
	SLOW_PID=$!
	OWN_TRACK="${OWN_TRACK:-} $SLOW_PID"
	assert wait_for buffered_past 15000000
	assert wait_for active_is 0
	touch "$BATS_TEST_TMPDIR/go"
	wait "$SLOW_PID" || fail "slow reader: exit $?"
	grep -qi '^Content-Encoding: gzip' "$BATS_TEST_TMPDIR/slow.head"
	assert_equal "$(gzip -dc <"$BATS_TEST_TMPDIR/slow" | sha256sum |
	    cut -d' ' -f1)" "$(python3 -c '
import hashlib, random
print(hashlib.sha256(random.Random(251).randbytes(20000000)).hexdigest())')"
}

@test "proxy_buffer_max: past it the backend waits for the client, answer whole" {
	proxy_buffered "proxy_buffer_max 1m"
	assert wait_for buffered_past 1000000
	# The file is full: the backend waits for the client.
	assert active_is 1
	[ "$(metric bytes_buffered_total)" -le 1048576 ]
	slow_big_ok 20000000
}

@test "proxy_buffer_max 0: nothing buffered, the backend waits, answer whole" {
	proxy_buffered "proxy_buffer_max 0"
	sleep 0.5	# nothing to poll for: time for a wrong build to buffer
	assert_equal "$(metric bytes_buffered_total)" 0
	assert active_is 1
	slow_big_ok 20000000
}

@test "an unusable temp_dir: a warning, and the answer still goes out whole" {
	mkdir "$BATS_TEST_TMPDIR/gone"
	one_backend "$B1" 3 "status_path /maitred/status" \
	    "status_allow 127.0.0.1" "temp_dir $BATS_TEST_TMPDIR/gone"
	rmdir "$BATS_TEST_TMPDIR/gone"
	slow_big 20000000
	assert wait_for log_has "proxy: cannot buffer an answer in temp_dir $BATS_TEST_TMPDIR/gone: No such file"
	slow_big_ok 20000000
}

@test "a small request body is read whole before a backend is chosen (slow POST)" {
	local b
	b=$(backend_start bb)
	one_backend "$b" 3 "client_timeout 5s"
	run python3 - "$PORT" "$b" <<'PY'
import hashlib, json, socket, sys, time, urllib.request
port, bport = int(sys.argv[1]), int(sys.argv[2])
count = lambda: int(urllib.request.urlopen(
    "http://127.0.0.1:%d/count" % bport, timeout=5).read())
before = count()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
          b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
print(s.recv(100).decode().strip())          # our 100 Continue
s.sendall(b"hello")
time.sleep(0.5)                              # the backend must not see it
print("backend during body:", count() - before)
s.sendall(b"world")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
doc = json.loads(data.split(b"\r\n\r\n", 1)[1])
print(data.split(b"\r\n")[0].decode())
print("body ok:", doc["body_sha256"] == hashlib.sha256(b"helloworld").hexdigest())
print("expect sent on:", "expect" in doc["headers"])
PY
	assert_success
	assert_line 'HTTP/1.1 100 Continue'
	assert_line 'backend during body: 0'
	assert_line 'HTTP/1.1 200 OK'
	assert_line 'body ok: True'
	assert_line 'expect sent on: False'
}

@test "a client that stops sending its small body gets 408, and no backend saw it" {
	local b
	b=$(backend_start bc)
	one_backend "$b" 3 "client_timeout 1s"
	run python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
print(s.recv(4096).split(b"\r\n")[0].decode())
PY
	assert_output 'HTTP/1.1 408 Request Timeout'
	assert_equal "$(count "$b")" 0
}

@test "a client that stops midway through a streamed body gets 408 too, logged 408" {
	local b
	b=$(backend_start bs)
	one_backend "$b" 3 "client_timeout 1s"
	run python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
          + b"x" * 200000)
print(s.recv(4096).split(b"\r\n")[0].decode())
PY
	assert_output 'HTTP/1.1 408 Request Timeout'
	assert wait_for grep -q '"POST /echo HTTP/1.1" 408 ' "$(mtd_dir)/access.log"
}

@test "a backend head of 12 KB is relayed; one of 20 KB is 502, logged (the documented 16 KB)" {
	local b
	b=$(backend_start bh)
	one_backend "$b" 3
	http_get '/big?bytes=10&one=1&pad=12000'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr X-Pad | wc -c)" 12001
	http_get '/big?bytes=10&one=1&pad=20000'
	assert_equal "$HTTP_CODE" 502
	assert wait_for log_has 'response head too large'
}

# kv_field NAME "a=1 b=2": the value of NAME.
kv_field() {
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

@test "a backend that accepts and closes before answering is marked down" {
	local b
	b=$(backend_start dc)
	one_backend "$b" 2 "health_interval 60s"
	http_get /die
	assert_equal "$HTTP_CODE" 502
	http_get /die
	assert_equal "$HTTP_CODE" 502
	assert wait_for log_has "backend 127.0.0.1:$b down: closed before responding \\(2/2\\)" \
	    "$BATS_TEST_TMPDIR/error.log"
	http_get /x
	assert_equal "$HTTP_CODE" 503
}

@test "the retry budget: a failing pool cannot double the load; exhaustion is logged" {
	local b1 b2 out total
	b1=$(backend_start rb1)
	b2=$(backend_start rb2)
	printf '127.0.0.1:%s:1:1000\n' "$b1" "$b2" >"$BATS_TEST_TMPDIR/two.cfg"
	own_maitred "backends $BATS_TEST_TMPDIR/two.cfg" "health_interval 60s"
	# /die closes before answering: each GET fails on one backend and,
	# while the budget lasts, is retried on the other. Paced so that
	# neither backend reaches its 1000 failures (then it would be down).
	out=$(python3 "$BATS_TEST_DIRNAME/lib/idle_conns.py" load --port "$PORT" \
	    --path /die --threads 4 --duration 3 --pause 0.012 --timeout 5 3>&-)
	# every request failed (502), and none waited for long
	[ "$(kv_field ok "$out")" -eq 0 ]
	total=$(kv_field fail "$out")
	[ "$total" -ge 200 ] || fail "only $total requests"
	wait_for log_has 'retry budget exhausted' "$BATS_TEST_TMPDIR/error.log"
	# one line a second per backend and worker, not one per request
	local lines
	lines=$(grep -c 'closed before responding' "$BATS_TEST_TMPDIR/error.log")
	[ "$lines" -le 40 ] || fail "$lines log lines for $total requests"
	assert log_has 'closed before responding \(and [0-9]+ repeated lines not logged\)' \
	    "$BATS_TEST_TMPDIR/error.log"
	# attempts: one per request plus at most 100 + 20% retries
	local attempts=$(( $(count "$b1") + $(count "$b2") ))
	[ "$attempts" -le $(( total + 100 + total / 5 + 20 )) ] ||
	    fail "$attempts attempts for $total requests"
	[ "$attempts" -gt "$total" ]
}

@test "an upload the client cuts short is logged 499, not 0" {
	python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"POST /echo?cut HTTP/1.1\r\nHost: x\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n5\r\nab")
s.close()
PY
	assert wait_for grep -q '"POST /echo?cut HTTP/1.1" 499 ' "$(mtd_dir)/access.log"
}

# served_is PORT N: the backend on PORT served N requests so far.
served_is() {
	[ "$(count "$1")" = "$2" ]
}

@test "backend_max_conns: requests beyond the cap wait their turn" {
	local b i pids=() codes
	b=$(backend_start cap1)
	WORKERS=1 one_backend "$b" 1000 "backend_max_conns 2" \
	    "status_path /maitred/status" "status_allow 127.0.0.1"
	# six at once, each holding the backend 300 ms
	for i in 1 2 3 4 5 6; do
		curl -s -o /dev/null -w '%{http_code}\n' "$(url "/slow?ms=300&i=$i")" \
		    >"$BATS_TEST_TMPDIR/code.$i" 3>&- &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	codes=$(cat "$BATS_TEST_TMPDIR"/code.* | sort | uniq -c | tr -s ' ')
	assert_equal "$codes" " 6 200"
	# never more than two at the backend at once
	assert_equal "$(command curl -s -m 5 "http://127.0.0.1:$b/inflight")" 2
	http_get /maitred/status
	run python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["backend_waits"])' "$HTTP_BODY"
	assert_output 4
	http_get /maitred/metrics
	assert grep -Eq '^maitred_backend_waits_total 4$' "$HTTP_BODY"
}

@test "backend_max_conns: no slot within connect_timeout is 503, logged; a client that leaves frees its place" {
	local b slow quit
	b=$(backend_start cap2)
	WORKERS=1 one_backend "$b" 1000 "backend_max_conns 1" \
	    "connect_timeout 300ms" "read_timeout 5s"
	curl -s -o "$BATS_TEST_TMPDIR/slow.out" "$(url '/slow?ms=1500')" 3>&- &
	slow=$!
	wait_for served_is "$b" 1
	# the one slot is busy: 503 after connect_timeout, the backend kept
	http_get /next
	assert_equal "$HTTP_CODE" 503
	assert_equal "$(hdr Connection)" ""
	assert log_has "upstream 127\.0\.0\.1:$b: no connection free within connect_timeout \(300 ms\): all 1 of backend_max_conns busy" \
	    "$BATS_TEST_TMPDIR/error.log"
	# one that gives up while in line never reaches the backend
	CURL_MAX_TIME=0.1 curl -s "$(url /gave-up)" || true
	wait "$slow"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/slow.out")" slow
	http_get /after
	assert_equal "$HTTP_CODE" 200
	# served: /slow and /after, not /next nor /gave-up
	assert_equal "$(count "$b")" 2
}

#!/usr/bin/env bats
# HTTP/1.1 protocol: strict parsing and its status codes, keep-alive,
# HTTP/1.0, pipelining, timeouts, slow clients, the access log.
# One maitred for the file, with short client and keep-alive timeouts.

load helpers

setup_file() {
	export MTD_DIR=$BATS_FILE_TMPDIR
	write_conf "client_timeout 1s" "keepalive_timeout 1s"
	printf 'AAA' >"$MTD_DIR/htdocs/a.txt"
	printf 'BBB' >"$MTD_DIR/htdocs/b.txt"
	printf 'CCC' >"$MTD_DIR/htdocs/c.txt"
	maitred_start
}

teardown_file() {
	common_teardown
}

teardown() {
	mtd_dump_logs
}

META=

# send [rawhttp options] CHUNK...: raw to the server; response in $output,
# rawhttp's meta in $META.
send() {
	META=$BATS_TEST_TMPDIR/meta
	rm -f "$META"
	run raw --meta "$META" "$@"
}

# expect_error CODE CHUNK: the response is CODE and the connection closes
# right after it (well before the 1 s keep-alive timeout).
expect_error() {
	local code=$1
	shift
	send --timeout 3 "$@"
	assert_equal "$(first_status)" "$code"
	assert_equal "$(status_lines | wc -l)" 1
	assert_equal "$(meta_get closed "$META")" 1
	less_than "$(meta_get elapsed "$META")" 0.8 ||
	    fail "connection left open $(meta_get elapsed "$META") s after $code"
}

@test "a good request: 200 with Server, Date, Content-Length" {
	send 'GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_line --index 0 --regexp '^HTTP/1\.1 200 OK'
	assert_line --regexp '^Server: maitred'
	assert_line --regexp '^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT'
	assert_line --regexp '^Content-Length: 3'
	assert_line --regexp '^Connection: close'
	[[ "$output" == *$'\r\n\r\nAAA' ]]
}

@test "400: bare CR in the head" {
	expect_error 400 'GET /a.txt HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n'
}

@test "400: obs-fold (header continuation line)" {
	expect_error 400 'GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n'
}

@test "400: space between the field name and the colon" {
	expect_error 400 'GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n'
}

@test "400: Content-Length together with Transfer-Encoding" {
	expect_error 400 'POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
}

@test "400: two different Content-Length values" {
	expect_error 400 'POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'
}

@test "400: Transfer-Encoding in HTTP/1.0" {
	expect_error 400 'POST /a.txt HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
}

@test "400: HTTP/1.1 without Host, logged with its request line" {
	expect_error 400 'GET /a.txt?nohost HTTP/1.1\r\nUser-Agent: t\r\n\r\n'
	assert wait_for log_has '"GET /a\.txt\?nohost HTTP/1\.1" 400 ' \
	    "$MTD_DIR/access.log"
}

@test "400: two Host fields" {
	expect_error 400 'GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'
}

@test "400: NUL and control bytes in a header" {
	expect_error 400 'GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n'
	expect_error 400 'GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n'
}

@test "400: lowercase http/1.1 version" {
	expect_error 400 'GET /a.txt http/1.1\r\nHost: x\r\n\r\n'
}

@test "400: garbage request line, logged as \"-\"" {
	expect_error 400 'GARBAGE\r\n\r\n'
	assert wait_for log_has '"-" 400 ' "$MTD_DIR/access.log"
	expect_error 400 'GET  /a.txt HTTP/1.1\r\nHost: x\r\n\r\n'
}

@test "414: request target longer than 8192 bytes" {
	long=$(printf 'a%.0s' $(seq 1 9000))
	expect_error 414 "GET /$long HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
}

@test "501: a 3000-byte method is logged cut, and the worker lives on" {
	local before method target
	before=$(worker_pids)
	method=$(printf 'M%.0s' $(seq 1 3000))
	target=$(printf 't%.0s' $(seq 1 6000))
	expect_error 501 "$method /$target HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
	assert wait_for log_has '"MMMM+" 501 ' "$MTD_DIR/access.log"
	# the request line once overflowed the log's buffer: SIGSEGV
	run wait_for -t 1 log_has 'exited on signal' "$MTD_DIR/error.log"
	assert_failure
	assert_equal "$(worker_pids)" "$before"
}

@test "a long target under the limit is not 414" {
	long=$(printf 'a%.0s' $(seq 1 8000))
	send "GET /$long HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n"
	assert_equal "$(first_status)" 404
}

@test "431: head larger than 16384 bytes" {
	big=$(printf 'b%.0s' $(seq 1 17000))
	expect_error 431 "GET /a.txt HTTP/1.1\\r\\nHost: x\\r\\nX-Big: $big\\r\\n\\r\\n"
}

@test "431: more than 100 header fields" {
	fields=$(for i in $(seq 1 101); do printf 'X-F%d: v\\r\\n' "$i"; done)
	expect_error 431 "GET /a.txt HTTP/1.1\\r\\nHost: x\\r\\n$fields\\r\\n"
}

@test "501: Transfer-Encoding: gzip" {
	expect_error 501 'POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n'
}

@test "505: HTTP/2.0 in the request line" {
	expect_error 505 'GET /a.txt HTTP/2.0\r\nHost: x\r\n\r\n'
}

@test "417: unknown Expect" {
	expect_error 417 'GET /a.txt HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n'
}

@test "an empty Expect expects nothing: 200" {
	send --timeout 3 'GET /a.txt HTTP/1.1\r\nHost: x\r\nExpect:\r\nConnection: close\r\n\r\n'
	assert_equal "$(first_status)" 200
}

@test "an error response closes: a request behind it is not answered" {
	expect_error 400 'GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_line --regexp '^Connection: close'
	refute_output --partial BBB
	assert_output --partial "<h1>400 Bad Request</h1>"
}

@test "keep-alive: curl reuses the connection for two URLs" {
	run curl -sv -o /dev/null -o /dev/null "$(url /a.txt)" "$(url /b.txt)"
	assert_success
	assert_output --partial "Re-using existing connection"
}

@test "keep-alive: two requests on one connection, with a pause" {
	send --delay 0.2 'GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n' \
	    'GET /b.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_equal "$(status_lines | tr '\n' ' ')" "200 200 "
	assert_output --partial AAA
	assert_output --partial BBB
}

@test "HTTP/1.0 without keep-alive: one response, then close" {
	send --timeout 3 --delay 0.3 'GET /a.txt HTTP/1.0\r\n\r\n' \
	    'GET /b.txt HTTP/1.0\r\n\r\n'
	assert_equal "$(status_lines | tr '\n' ' ')" "200 "
	assert_equal "$(meta_get closed "$META")" 1
	assert_output --partial AAA
	refute_output --partial BBB
}

@test "HTTP/1.0 with Connection: keep-alive stays open" {
	send --delay 0.3 \
	    'GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' \
	    'GET /b.txt HTTP/1.0\r\n\r\n'
	assert_equal "$(status_lines | tr '\n' ' ')" "200 200 "
	assert_line --regexp '^Connection: keep-alive'
	assert_output --partial AAA
	assert_output --partial BBB
}

@test "pipelining: three requests in one write are answered in order" {
	send 'GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /c.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_equal "$(status_lines | tr '\n' ' ')" "200 200 200 "
	bodies=$(printf '%s' "$output" | grep -o 'AAA\|BBB\|CCC' | tr -d '\n')
	assert_equal "$bodies" AAABBBCCC
	assert_equal "$(meta_get closed "$META")" 1
}

@test "Connection: close is honoured at once" {
	send --timeout 3 'GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_equal "$(first_status)" 200
	assert_line --regexp '^Connection: close'
	assert_equal "$(meta_get closed "$META")" 1
	less_than "$(meta_get elapsed "$META")" 0.8
}

@test "Connection: close with bytes after the head: the response arrives whole" {
	# Unread bytes: maitred lingers rather than close (and reset) at once.
	send --timeout 3 'GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_equal "$(status_lines | tr '\n' ' ')" "200 "
	assert_output --partial AAA
	refute_output --partial BBB
	assert_equal "$(meta_get closed "$META")" 1
}

@test "slow client: half a head gets 408 and a close after client_timeout" {
	send --timeout 5 'GET /a.txt HTTP/1.1\r\nHost: x\r\n'
	assert_equal "$(first_status)" 408
	assert_equal "$(meta_get closed "$META")" 1
	less_than "$(meta_get elapsed "$META")" 3
	less_than 0.5 "$(meta_get elapsed "$META")"
}

@test "a fresh connection that sends nothing is closed after client_timeout, without a 408 or a log line" {
	local before
	before=$(wc -l <"$MTD_DIR/access.log")
	send --timeout 5 ''
	assert_equal "$output" ""
	assert_equal "$(meta_get closed "$META")" 1
	less_than "$(meta_get elapsed "$META")" 3
	less_than 0.5 "$(meta_get elapsed "$META")"
	assert_equal "$(wc -l <"$MTD_DIR/access.log")" "$before"
}

@test "an idle keep-alive connection closes after keepalive_timeout" {
	send --timeout 5 'GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_equal "$(first_status)" 200
	assert_equal "$(meta_get closed "$META")" 1
	less_than "$(meta_get elapsed "$META")" 3
	less_than 0.5 "$(meta_get elapsed "$META")"
}

@test "a request sent byte by byte still works" {
	send --split 1 --delay 0.005 \
	    'GET /b.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_equal "$(first_status)" 200
	[[ "$output" == *$'\r\n\r\nBBB' ]]
}

@test "the access log has a combined-format line with rt=" {
	run curl -s -A "bats-agent/1.0" -e "http://ref.example/" \
	    "$(url /c.txt?from=access)"
	assert_output CCC
	re='^127\.0\.0\.1 - - \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} [-+][0-9]{4}\] "GET /c\.txt\?from=access HTTP/1\.1" 200 3 "http://ref\.example/" "bats-agent/1\.0" rt=[0-9]+\.[0-9]{3} up=- cache=-'
	wait_for log_has "$re" "$MTD_DIR/access.log" ||
	    fail "no matching line in access.log: $(tail -n 3 "$MTD_DIR/access.log")"
}

@test "error responses are logged in the access log too" {
	run curl -s -o /dev/null -w '%{http_code}' "$(url /nothere-for-log)"
	assert_output 404
	wait_for log_has '"GET /nothere-for-log HTTP/1\.1" 404 [0-9]+ ' \
	    "$MTD_DIR/access.log"
}

@test "OPTIONS * without backends: 200 with what the server takes; other methods with * are 400" {
	run raw 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_equal "$(first_status)" 200
	assert_line --regexp '^Allow: GET, HEAD'
	assert_line --regexp '^Content-Length: 0'
	run raw 'GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_equal "$(first_status)" 400
}

#!/usr/bin/env bats
# PHP under htdocs: CGI through php-cgi (query, forms, 5 MB bodies,
# headers, status, redirects, errors, timeouts, reaping, concurrency,
# traversal), php off, and FastCGI to a php-fpm started by the test.

load helpers

PHP_CGI=${PHP_CGI:-/usr/bin/php-cgi}

setup_file() {
	[ -x "$PHP_CGI" ] || return 0
	export MTD_DIR=$BATS_FILE_TMPDIR
	write_conf "php cgi $PHP_CGI"
	cp -r "$BATS_TEST_DIRNAME"/fixtures/php/. "$MTD_DIR/htdocs/"
	# A canary one level above htdocs: it must never run.
	printf '<?php file_put_contents("%s/canary.ran", "x"); echo "CANARY-RAN";\n' \
	    "$MTD_DIR" >"$MTD_DIR/x.php"
	maitred_start
}

teardown_file() {
	common_teardown
}

setup() {
	[ -x "$PHP_CGI" ] || skip "no $PHP_CGI"
}

teardown() {
	OWN_TRACK="${FPM_PID:-} ${OWN_TRACK:-}" own_teardown
}

# own_instance LINE...: a second maitred in this test's directory.
own_instance() {
	MTD_DIR=$BATS_TEST_TMPDIR/own
	mkdir -p "$MTD_DIR"
	PORT=$(free_port)
	MAITRED_PID=
	write_conf "$@"
	cp -r "$BATS_TEST_DIRNAME"/fixtures/php/. "$MTD_DIR/htdocs/"
	maitred_start
	OWN_PID=$MAITRED_PID
}

# no_zombies: no child of any worker is a zombie.
no_zombies() {
	local w
	for w in $(worker_pids); do
		! ps --ppid "$w" -o stat= | grep -q Z || return 1
	done
}

# no_children: the workers have no child left at all.
no_children() {
	local w
	for w in $(worker_pids); do
		[ -z "$(ps --ppid "$w" -o pid=)" ] || return 1
	done
}

@test "GET with a query string runs the script" {
	http_get '/echo.php?a=1&b=two%20words'
	assert_equal "$HTTP_CODE" 200
	run cat "$HTTP_BODY"
	assert_line "GET a=1"
	assert_line "GET b=two words"
	assert_line "METHOD GET"
	assert_line "SCRIPT_NAME /echo.php"
	assert_line "REQUEST_URI /echo.php?a=1&b=two%20words"
	assert_line "GATEWAY_INTERFACE CGI/1.1"
	assert_line "SERVER_SOFTWARE maitred/0.1.0"
	assert_line "SERVER_PORT $PORT"
	assert_line "REMOTE_ADDR 127.0.0.1"
	assert_line "HTTP_X_TEST -"
	assert_equal "$(hdr Transfer-Encoding)" chunked
}

@test "request headers become HTTP_*, Proxy is dropped (httpoxy)" {
	http_get /echo.php -H 'X-Test: hello' -H 'Proxy: http://evil:1/'
	assert_equal "$HTTP_CODE" 200
	run cat "$HTTP_BODY"
	assert_line "HTTP_X_TEST hello"
	assert_line "HTTP_PROXY -"
}

@test "htdocs index.php renders through php-cgi, not as source" {
	cp "$BATS_TEST_DIRNAME/../htdocs/index.php" "$MTD_DIR/htdocs/info.php"
	http_get /info.php
	assert_equal "$HTTP_CODE" 200
	run grep -c 'PHP version' "$HTTP_BODY"
	assert_success
	run grep -c '<?php' "$HTTP_BODY"
	assert_output 0
}

@test "a directory without index.html runs its index.php; with both, index.html wins" {
	mkdir -p "$MTD_DIR/htdocs/app/both"
	cp "$MTD_DIR/htdocs/echo.php" "$MTD_DIR/htdocs/app/index.php"
	cp "$MTD_DIR/htdocs/echo.php" "$MTD_DIR/htdocs/app/both/index.php"
	printf 'static index\n' >"$MTD_DIR/htdocs/app/both/index.html"
	http_get '/app/?a=1'
	assert_equal "$HTTP_CODE" 200
	run cat "$HTTP_BODY"
	assert_line 'GET a=1'
	assert_line 'SCRIPT_NAME /app/index.php'
	http_get /app/both/
	assert_equal "$(cat "$HTTP_BODY")" 'static index'
}

@test "POST form (x-www-form-urlencoded)" {
	http_get /echo.php --data 'name=Ada&lang=C'
	assert_equal "$HTTP_CODE" 200
	run cat "$HTTP_BODY"
	assert_line "POST name=Ada"
	assert_line "POST lang=C"
	assert_line "METHOD POST"
	assert_line "CONTENT_LENGTH 15"
	# An empty body declared with Content-Length: 0 is passed as 0 (as
	# nginx does); a request without a body has none.
	http_get /echo.php -X POST -H 'Content-Length: 0'
	run cat "$HTTP_BODY"
	assert_line "METHOD POST"
	assert_line "CONTENT_LENGTH 0"
	http_get /echo.php
	run cat "$HTTP_BODY"
	assert_line "CONTENT_LENGTH -"
}

@test "a 5 MB body reaches the script intact (Content-Length)" {
	local f=$BATS_TEST_TMPDIR/big.bin
	head -c $((5 * 1024 * 1024)) /dev/urandom >"$f"
	http_get /input.php --data-binary "@$f" \
	    -H 'Content-Type: application/octet-stream'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(cat "$HTTP_BODY")" \
	    "$(stat -c %s "$f") $(md5sum "$f" | cut -d' ' -f1)"
}

@test "a chunked request body is decoded for the script" {
	local f=$BATS_TEST_TMPDIR/big.bin
	head -c $((1024 * 1024 + 7)) /dev/urandom >"$f"
	http_get /input.php --data-binary "@$f" \
	    -H 'Transfer-Encoding: chunked'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(cat "$HTTP_BODY")" \
	    "$(stat -c %s "$f") $(md5sum "$f" | cut -d' ' -f1)"
}

@test "keep-alive survives PHP responses, with and without a body" {
	run bash -c 'curl -sv -d a=1 "$1" "$1" "$1" -o /dev/null \
	    -o /dev/null -o /dev/null 2>&1' _ "$(url /echo.php)"
	assert_success
	assert_output --partial "Re-using existing connection"
	refute_output --partial "Connection: close"
}

@test "headers from the script: X-Foo, Set-Cookie, Content-Type" {
	http_get /headers.php
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr X-Foo)" bar
	assert_equal "$(hdr Set-Cookie)" "flavour=chocolate"
	assert_equal "$(hdr Content-Type)" "text/plain;charset=UTF-8"
	assert_equal "$(cat "$HTTP_BODY")" "headers set"
}

@test "the script's stderr goes to the error log; large output streams" {
	http_get /stderr.php
	assert_equal "$HTTP_CODE" 200
	wait_for -t 3 log_has 'stderr.php: .*a message to the error log'
	http_get '/large.php?n=3000000'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(stat -c %s "$HTTP_BODY")" 3000000
}

@test "the script's Content-Length is kept: no chunks, on HEAD too, HTTP/1.0 keeps alive" {
	http_get /clen.php
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Content-Length)" 5
	run hdr Transfer-Encoding
	assert_failure
	assert_equal "$(cat "$HTTP_BODY")" hello
	http_get /clen.php -I
	assert_equal "$(hdr Content-Length)" 5
	run raw --timeout 5 'GET /clen.php HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\nGET /clen.php HTTP/1.0\r\nHost: x\r\n\r\n'
	assert_equal "$(status_lines | tr '\n' ' ')" "200 200 "
	# longer than it says: cut at its length, and the connection closed
	http_get '/clen.php?len=3'
	assert_equal "$(cat "$HTTP_BODY")" hel
	assert_equal "$(hdr Content-Length)" 3
	assert wait_for log_has 'clen.php: output longer than its Content-Length'
	# shorter: only a close can say so, never a complete answer; a 502
	# when the head, the short body and the end came in one read
	run raw --timeout 5 'GET /clen.php?len=10 HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_output --regexp '^HTTP/1\.1 502 |Content-Length: 10'
	assert wait_for log_has 'clen.php: output shorter than its Content-Length'
}

@test "gzip on: the script's Content-Length still bounds its output" {
	local out=$BATS_TEST_TMPDIR/short.out
	own_instance "php cgi $PHP_CGI" "gzip on" "gzip_min_length 0"
	# longer than it says: cut at its length, as without gzip
	http_get '/clen.php?len=3' --compressed
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Content-Encoding)" gzip
	assert_equal "$(cat "$HTTP_BODY")" hel
	assert wait_for log_has 'clen.php: output longer than its Content-Length'
	# shorter: the gzip stream is never ended as if it were whole
	raw --timeout 5 'GET /clen.php?len=10 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n' >"$out"
	# (or a 502, when the head, the short body and the end came in one read)
	grep -aq -e '^Content-Encoding: gzip' -e '^HTTP/1\.1 502 ' "$out"
	refute [ "$(tail -c 5 "$out" | od -An -tx1 | tr -d ' \n')" = 300d0a0d0a ]
	assert wait_for log_has 'clen.php: output shorter than its Content-Length'
}

@test "gzip on: a script's Content-Length below gzip_min_length is not compressed" {
	own_instance "php cgi $PHP_CGI" "gzip on"
	http_get /clen.php --compressed
	assert_equal "$HTTP_CODE" 200
	refute hdr Content-Encoding
	assert_equal "$(hdr Content-Length)" 5
	assert_equal "$(cat "$HTTP_BODY")" hello
	# no length said: compressed
	http_get '/large.php?n=100' --compressed
	assert_equal "$(hdr Content-Encoding)" gzip
}

@test "gzip on: a request with a Range gets the script's output uncompressed" {
	own_instance "php cgi $PHP_CGI" "gzip on"
	http_get '/large.php?n=1000' --compressed -H 'Range: bytes=0-9'
	assert_equal "$HTTP_CODE" 200
	refute hdr Content-Encoding
	assert_equal "$(hdr Vary)" Accept-Encoding
	assert_equal "$(wc -c <"$HTTP_BODY")" 1000
}

@test "gzip on: a script's 304 carries the Vary and weak ETag of its gzip 200" {
	own_instance "php cgi $PHP_CGI" "gzip on"
	http_get /etag.php --compressed
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Content-Encoding)" gzip
	assert_equal "$(hdr ETag)" 'W/"v1"'
	http_get /etag.php --compressed -H 'If-None-Match: W/"v1"'
	assert_equal "$HTTP_CODE" 304
	assert_equal "$(hdr ETag)" 'W/"v1"'
	assert_equal "$(hdr Vary)" Accept-Encoding
	refute hdr Content-Encoding
	# without gzip, the 304 keeps the strong tag
	http_get /etag.php -H 'If-None-Match: "v1"'
	assert_equal "$HTTP_CODE" 304
	assert_equal "$(hdr ETag)" '"v1"'
}

@test "a script that sends no Content-Type gets none, nor an empty one" {
	for q in '' '?empty=1'; do
		http_get "/notype.php$q"
		assert_equal "$HTTP_CODE" 200
		assert_equal "$(cat "$HTTP_BODY")" typeless
		run hdr Content-Type
		assert_failure
	done
}

@test "HEAD: headers only" {
	run curl -s -I "$(url /headers.php)"
	assert_success
	assert_output --partial "X-Foo: bar"
	refute_output --partial "headers set"
}

@test "HTTP/1.0 client: close-delimited body" {
	run curl -s -0 -i "$(url /headers.php)"
	assert_success
	assert_output --partial "Connection: close"
	refute_output --partial "Transfer-Encoding"
	assert_output --partial "headers set"
}

@test "Status from the script: 404" {
	http_get /notfound.php
	assert_equal "$HTTP_CODE" 404
	assert_equal "$(cat "$HTTP_BODY")" "nothing here"
}

@test "Location without Status redirects with 302" {
	http_get /redirect.php
	assert_equal "$HTTP_CODE" 302
	assert_equal "$(hdr Location)" /x
}

@test "a PHP fatal error gives 500" {
	http_get /fatal.php
	assert_equal "$HTTP_CODE" 500
}

@test "traversal at .php names never runs the canary" {
	local v
	for v in '/../x.php' '/%2e%2e/x.php' '/%2E%2E/x.php' '/sub/../../x.php' \
	    '/..%2fx.php' '/%2e%2e%2fx.php' '/./../x.php'; do
		http_get "$v"
		refute [ "$HTTP_CODE" = 200 ]
		run grep -c CANARY-RAN "$HTTP_BODY"
		assert_output 0
	done
	[ ! -e "$MTD_DIR/canary.ran" ]
}

@test "non-.php files with PHP code are served as text" {
	local f
	for f in code.phps code.txt code.php.txt; do
		printf '<?php echo "EXEC" . "UTED"; ?>\n' >"$MTD_DIR/htdocs/$f"
		http_get "/$f"
		assert_equal "$HTTP_CODE" 200
		run grep -c EXECUTED "$HTTP_BODY"
		assert_output 0
		run grep -c '<?php' "$HTTP_BODY"
		assert_output 1
	done
}

@test "50 concurrent slow scripts while static files are served" {
	local i t pids=() start
	for i in $(seq 1 50); do
		curl -s -m 20 -o "$BATS_TEST_TMPDIR/slow.$i" \
		    -w '%{http_code}' "$(url /sleep.php?s=1)" \
		    >"$BATS_TEST_TMPDIR/code.$i" &
		pids+=($!)
	done
	sleep 0.3
	t=$(curl -s -o /dev/null -w '%{time_total}' "$(url /hello.txt)")
	less_than "$t" 1
	for i in "${pids[@]}"; do
		wait "$i"
	done
	for i in $(seq 1 50); do
		assert_equal "$(cat "$BATS_TEST_TMPDIR/code.$i")" 200
		assert_equal "$(cat "$BATS_TEST_TMPDIR/slow.$i")" slept
	done
	wait_for -t 5 no_zombies
}

@test "php_timeout: the script is killed, 504, no zombie left" {
	own_instance "php cgi $PHP_CGI" "php_timeout 1s"
	local start end
	start=$(date +%s%3N)
	http_get '/sleep.php?s=5'
	end=$(date +%s%3N)
	assert_equal "$HTTP_CODE" 504
	[ $((end - start)) -lt 3000 ]
	wait_for -t 5 no_zombies
	wait_for -t 5 no_children
	log_has 'did not finish within'
}

@test "client gone: the script is killed and reaped" {
	own_instance "php cgi $PHP_CGI"
	curl -s -m 0.5 "$(url /sleep.php?s=30)" || true
	wait_for -t 5 no_children
	# The worker still answers.
	http_get /hello.txt
	assert_equal "$HTTP_CODE" 200
}

@test "bad CGI output, crash, no output: 502" {
	local fake=$BATS_TEST_TMPDIR/fake-cgi
	cat >"$fake" <<'EOF'
#!/bin/sh
case $SCRIPT_FILENAME in
*garbage.php) printf 'this is not a header\n\nbody\n' ;;
*crash.php) kill -SEGV $$ ;;
*empty.php) exit 0 ;;
*nohead.php) printf 'X-A: b\n' ;;
*nul.php) printf 'X\000A: b\n\nbody\n' ;;
*word.php) printf 'X-A: b\nJustAWord\n\nbody\n' ;;
*) printf 'Status: 201 Created\r\nX-Fake: 1\r\n\r\nfake %s\n' \
    "$REQUEST_METHOD" ;;
esac
EOF
	chmod +x "$fake"
	own_instance "php cgi $fake"
	for s in garbage crash empty nohead nul word; do
		: >"$MTD_DIR/htdocs/$s.php"
	done
	: >"$MTD_DIR/htdocs/ok.php"
	http_get /ok.php
	assert_equal "$HTTP_CODE" 201
	assert_equal "$(hdr X-Fake)" 1
	assert_equal "$(cat "$HTTP_BODY")" "fake GET"
	for s in garbage crash empty nohead nul; do
		http_get "/$s.php"
		assert_equal "$HTTP_CODE" 502
	done
	log_has 'invalid header line'
	# header('JustAWord'): that line is left out, as nginx does
	http_get /word.php
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr X-A)" b
	assert_equal "$(cat "$HTTP_BODY")" body
	log_has 'word.php: header line without a colon ignored: "JustAWord"'
	log_has 'killed by signal 11'
	# said once per answer, naming the program
	run grep -c "nohead.php: no complete header block in the output (is $fake a CGI program?)" \
	    "$MTD_DIR/error.log"
	assert_output 1
	wait_for -t 5 no_zombies
}

@test "a CGI child that dies by a signal after some output: cut, never whole" {
	local fake=$BATS_TEST_TMPDIR/fake-cgi out=$BATS_TEST_TMPDIR/cut.out s
	cat >"$fake" <<'EOF'
#!/bin/sh
case $SCRIPT_FILENAME in
*segv.php) printf 'Content-Type: text/plain\r\n\r\npartial output\n'
    kill -SEGV $$ ;;
*oom.php) printf 'Content-Type: text/plain\r\n\r\npartial output\n'
    kill -KILL $$ ;;
*sized.php) printf 'Content-Length: 6\r\n\r\nwhole\n'; kill -SEGV $$ ;;
esac
EOF
	chmod +x "$fake"
	own_instance "php cgi $fake"
	for s in segv oom sized; do
		: >"$MTD_DIR/htdocs/$s.php"
	done
	for s in segv oom; do
		# chunked: the last chunk never comes, curl says it is partial
		raw --timeout 5 "GET /$s.php HTTP/1.1\r\nHost: x\r\n\r\n" >"$out"
		grep -aq 'partial output' "$out"
		refute [ "$(tail -c 5 "$out" | od -An -tx1 | tr -d ' \n')" = \
		    300d0a0d0a ]
		run curl -s "$(url "/$s.php")"
		assert_equal "$status" 18
	done
	assert log_has 'segv.php: php-cgi died by signal 11, its output is cut'
	# a SIGKILL that was not ours (the OOM killer) is named too
	assert log_has 'php-cgi pid [0-9]+ for /oom.php killed by signal 9'
	assert log_has 'oom.php: php-cgi died by signal 9, its output is cut'
	# a body that its Content-Length ends is whole whatever came after
	http_get /sized.php
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(cat "$HTTP_BODY")" whole
	wait_for -t 5 no_zombies
}

@test "a connection closed while a CGI child still holds the worker's sockets gets no late event" {
	# The child holds copies of every socket of the worker until it
	# execs: a connection the worker closes meanwhile must leave epoll
	# then, or its next bytes come as an event for the freed connection.
	# Test builds widen that window with MTD_TEST_CGI_HOLD_MS.
	grep -q MTD_TEST_CGI_HOLD_MS "$MAITRED" ||
	    skip "no test hooks in this binary (make FLAVOR=asan)"
	local w
	MTD_TEST_CGI_HOLD_MS=2500 own_instance "php cgi $PHP_CGI" \
	    "workers 1" "keepalive_timeout 1s"
	w=$(worker_pids)
	run python3 - "$PORT" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
a = socket.create_connection(("127.0.0.1", port), timeout=10)
a.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
assert a.recv(65536).startswith(b"HTTP/1.1 200")
# a PHP request: its child holds the worker's sockets for 2.5 s
b = socket.create_connection(("127.0.0.1", port), timeout=10)
b.sendall(b"GET /echo.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
# keepalive_timeout closes a meanwhile (at 1 s); another request ends
# that turn of the loop, which frees a; then bytes come on a
time.sleep(1.4)
c = socket.create_connection(("127.0.0.1", port), timeout=10)
c.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
assert c.recv(65536).startswith(b"HTTP/1.1 200")
time.sleep(0.3)
try:
    a.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
except OSError:
    pass
data = b""
while True:
    d = b.recv(65536)
    if not d:
        break
    data += d
print(data.split(b"\r\n", 1)[0].decode())
EOF
	assert_output 'HTTP/1.1 200 OK'
	assert_equal "$(worker_pids)" "$w"
	refute log_has 'exited'
}

@test "a CGI program that cannot run: -t warns, .php gets 500" {
	local i
	own_instance "php cgi $BATS_TEST_TMPDIR/no-php-cgi"
	run "$MAITRED" -t -c "$MTD_DIR/maitred.conf"
	assert_success
	assert_output --partial "php: cannot run \"$BATS_TEST_TMPDIR/no-php-cgi\": No such file or directory; .php files will get 500"
	http_get /echo.php
	assert_equal "$HTTP_CODE" 500
	http_get /echo.php
	assert_equal "$HTTP_CODE" 500
	assert log_has "php: cannot run $BATS_TEST_TMPDIR/no-php-cgi: No such file"
	# at most once a second per worker, not once per request
	for i in 1 2 3 4 5 6 7 8; do http_get /echo.php; done
	[ "$(grep -c 'cannot run' "$MTD_DIR/error.log")" -le 4 ]
}

@test "php cgi naming a directory: -t warns, .php gets 500, not 502" {
	mkdir -p "$BATS_TEST_TMPDIR/bindir"
	own_instance "php cgi $BATS_TEST_TMPDIR/bindir"
	run "$MAITRED" -t -c "$MTD_DIR/maitred.conf"
	assert_success
	assert_output --partial "php: cannot run \"$BATS_TEST_TMPDIR/bindir\": Is a directory"
	http_get /echo.php
	assert_equal "$HTTP_CODE" 500
}

@test "php fastcgi: a socket path too long or a host that does not resolve is a file:line error" {
	local long
	long=$BATS_TEST_TMPDIR/$(printf 's%.0s' $(seq 120)).sock
	MTD_DIR=$BATS_TEST_TMPDIR/own
	mkdir -p "$MTD_DIR"
	write_conf "php fastcgi unix:$long"
	run "$MAITRED" -t -c "$MTD_DIR/maitred.conf"
	assert_failure 1
	assert_output --regexp 'maitred\.conf:[0-9]+: php: invalid value .*: socket path too long \(at most 107 bytes\)'
	write_conf "php fastcgi no-such-host.invalid:9000"
	run "$MAITRED" -t -c "$MTD_DIR/maitred.conf"
	assert_failure 1
	assert_output --regexp 'maitred\.conf:[0-9]+: php: invalid value "no-such-host\.invalid:9000": '
}

@test "client_max_body_size: 413 for a PHP body past it, declared or chunked" {
	local f=$BATS_TEST_TMPDIR/b.bin
	head -c 2049 /dev/urandom >"$f"
	own_instance "php cgi $PHP_CGI" "client_max_body_size 2k"
	http_get /input.php --data-binary "@$f"
	assert_equal "$HTTP_CODE" 413
	http_get /input.php --data-binary "@$f" -H 'Transfer-Encoding: chunked'
	assert_equal "$HTTP_CODE" 413
	head -c 2048 "$f" >"$f.ok"
	http_get /input.php --data-binary "@$f.ok" -H 'Transfer-Encoding: chunked'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(cut -d' ' -f1 "$HTTP_BODY")" 2048
}

@test "php off: .php is 403 and never the source" {
	own_instance "php off"
	http_get /echo.php
	assert_equal "$HTTP_CODE" 403
	run grep -c '<?php' "$HTTP_BODY"
	assert_output 0
}

# start_fpm CHILDREN: a php-fpm on a free port, $FPORT; FPM_DIR its files.
start_fpm() {
	local fpm d=$BATS_TEST_TMPDIR/fpm
	fpm=$(command -v php-fpm8.2 || command -v php-fpm ||
	    ls /usr/sbin/php-fpm* 2>/dev/null | head -n 1) || true
	[ -n "$fpm" ] && [ -x "$fpm" ] || skip "php-fpm is not installed"
	mkdir -p "$d"
	FPM_DIR=$d
	FPORT=$(free_port)
	cat >"$d/php-fpm.conf" <<EOF
[global]
pid = $d/fpm.pid
error_log = $d/fpm.log
daemonize = no
[www]
listen = 127.0.0.1:$FPORT
pm = static
pm.max_children = $1
catch_workers_output = yes
access.log = $d/access.log
EOF
	local root=()
	[ "$(id -u)" -ne 0 ] || root=(-R)
	"$fpm" -F -y "$d/php-fpm.conf" -p "$d" "${root[@]}" </dev/null \
	    >"$d/stdout" 2>&1 3>&- &
	FPM_PID=$!
	wait_for port_listening "$FPORT" || { cat "$d/stdout" "$d/fpm.log"; false; }
}

# fpm_suite [DIRECTIVE...]: the FastCGI checks against a php-fpm with two
# children, maitred given these directives as well.
fpm_suite() {
	local fport
	start_fpm 2
	fport=$FPORT
	own_instance "php fastcgi 127.0.0.1:$fport" "php_timeout 2s" "$@"

	http_get '/echo.php?a=1'
	assert_equal "$HTTP_CODE" 200
	run cat "$HTTP_BODY"
	assert_line "GET a=1"
	assert_line "SCRIPT_NAME /echo.php"
	assert_line "GATEWAY_INTERFACE CGI/1.1"

	local f=$BATS_TEST_TMPDIR/big.bin
	head -c $((5 * 1024 * 1024)) /dev/urandom >"$f"
	http_get /input.php --data-binary "@$f"
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(cat "$HTTP_BODY")" \
	    "$(stat -c %s "$f") $(md5sum "$f" | cut -d' ' -f1)"

	http_get /headers.php
	assert_equal "$(hdr X-Foo)" bar
	assert_equal "$(hdr Set-Cookie)" "flavour=chocolate"
	http_get /notfound.php
	assert_equal "$HTTP_CODE" 404
	http_get /redirect.php
	assert_equal "$HTTP_CODE" 302
	http_get /fatal.php
	assert_equal "$HTTP_CODE" 500
	# FCGI_STDERR goes to the error log.
	log_has 'fatal.php: .*Call to undefined function'

	# A large response streams through intact.
	http_get '/large.php?n=3000000'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(stat -c %s "$HTTP_BODY")" 3000000

	http_get '/sleep.php?s=5'
	assert_equal "$HTTP_CODE" 504
	# php_timeout bounds silence, not a stream: 3 s of output, 2 s limit
	http_get '/drip.php?n=6&ms=500'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(tail -n 1 "$HTTP_BODY")" END

	# php-fpm sends a stderr message without its newline: logged whole
	http_get /stderr.php
	assert wait_for log_has 'stderr.php: PHP message: a message to the error log'

	# an absolute-form target: REQUEST_URI is its path, HTTP_HOST its host
	run raw --timeout 5 'GET http://good.example/echo.php?a=1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n'
	assert_line 'REQUEST_URI /echo.php?a=1'
	assert_line 'HTTP_HOST good.example'

	# php-fpm down: 502.
	kill -TERM "$FPM_PID"
	wait_gone "$FPM_PID" 5
	http_get /echo.php
	assert_equal "$HTTP_CODE" 502
	assert log_has "php: connect to 127.0.0.1:$fport: Connection refused"
}

@test "FastCGI to php-fpm" {
	fpm_suite
}

@test "FastCGI to php-fpm, connections kept (php_keepalive)" {
	# One worker: its two connections are php-fpm's two children, also
	# while a script past php_timeout still holds one.
	WORKERS=1 fpm_suite "php_keepalive 2"
}

# canned_fcgi [--unix PATH] ARG...: t/lib/fcgi_canned.py on a free port,
# $FPORT (or on the Unix-domain socket PATH), answering every request with
# the records among ARGs (see there).
canned_fcgi() {
	local where
	if [ "$1" = --unix ]; then
		where=(--unix "$2")
		shift 2
	else
		FPORT=$(free_port)
		where=(--port "$FPORT")
	fi
	"$BATS_TEST_DIRNAME"/lib/fcgi_canned.py "${where[@]}" \
	    --pidfile "$BATS_TEST_TMPDIR/fcgi.pid" "$@" </dev/null \
	    >/dev/null 2>&1 3>&- &
	FPM_PID=$!
	if [ "${where[0]}" = --unix ]; then
		wait_for test -S "${where[1]}"
	else
		wait_for port_listening "$FPORT"
	fi
}

@test "FastCGI: a record for another request id is not part of the answer" {
	canned_fcgi '6:2:Status: 200\r\n\r\nEVIL' \
	    '6:1:Status: 201\r\n\r\ngood' '3:1:'
	own_instance "php fastcgi 127.0.0.1:$FPORT" "php_timeout 2s"
	http_get /echo.php
	assert_equal "$HTTP_CODE" 502
	run grep -c EVIL "$HTTP_BODY"
	assert_output 0
	assert log_has "php: FastCGI record for request 2 from 127.0.0.1:$FPORT"
}

# fpm_time_wait: TCP sockets in TIME_WAIT on php-fpm's port, one a line.
fpm_time_wait() {
	ss -Htan state time-wait "( sport = :$FPORT or dport = :$FPORT )"
}

@test "FastCGI over TCP: the connection ends with a reset, no TIME_WAIT left per request" {
	local i before
	start_fpm 2
	own_instance "php fastcgi 127.0.0.1:$FPORT"
	# Another test's sockets may linger on a port free_port gave again.
	before=$(fpm_time_wait | wc -l)
	for i in 1 2 3 4 5; do
		http_get "/echo.php?a=$i"
		assert_equal "$HTTP_CODE" 200
		run cat "$HTTP_BODY"
		assert_line "GET a=$i"
	done
	# php-fpm closes first: our FIN would leave its side in TIME_WAIT.
	fpm_time_wait
	[ "$(fpm_time_wait | wc -l)" -le "$before" ]
	run ! grep -i -e error -e warning "$FPM_DIR/fpm.log"
}

# fpm_conns: connections established to php-fpm's port, seen from ours.
fpm_conns() {
	ss -Htn state established "( dport = :$FPORT )" | wc -l
}

fpm_conns_are() {
	[ "$(fpm_conns)" -eq "$1" ]
}

@test "php_keepalive: FastCGI connections are kept and reused (FCGI_KEEP_CONN)" {
	local log=$BATS_TEST_TMPDIR/fcgi.log u
	canned_fcgi --keep --log "$log" \
	    '6:1:Status: 200\r\nContent-Type: text/plain\r\n\r\nkept' '3:1:'
	WORKERS=1 own_instance "php fastcgi 127.0.0.1:$FPORT" \
	    "php_keepalive 2" "php_timeout 2s"
	# One curl: the requests follow each other well within the second
	# a connection is kept idle.
	u=http://127.0.0.1:$PORT/echo.php
	run curl -s -w ' %{http_code}\n' "$u" "$u" "$u" \
	    --next -s -w ' %{http_code}\n' --data-binary abc "$u"
	assert_output "kept 200
kept 200
kept 200
kept 200"
	run cat "$log"
	assert_output "conn 1 req 1 keep 1 stdin 0
conn 1 req 2 keep 1 stdin 0
conn 1 req 3 keep 1 stdin 0
conn 1 req 4 keep 1 stdin 3"
	# an idle connection is closed after a second
	wait_for -t 5 fpm_conns_are 0
}

@test "php_keepalive: a kept connection the server closed as it was reused: the request goes again on a new one" {
	local log=$BATS_TEST_TMPDIR/fcgi.log u
	canned_fcgi --keep --drop-reused --log "$log" \
	    '6:1:Status: 200\r\nContent-Type: text/plain\r\n\r\nfresh' '3:1:'
	WORKERS=1 own_instance "php fastcgi 127.0.0.1:$FPORT" \
	    "php_keepalive 2" "php_timeout 2s" "log_level debug"
	# A body in the request buffer is sent whole again, and so is one
	# read whole into temp_dir first.
	u=http://127.0.0.1:$PORT/echo.php
	head -c 102400 /dev/zero >"$BATS_TEST_TMPDIR/body"
	run curl -s -w ' %{http_code}\n' "$u" \
	    --next -s -w ' %{http_code}\n' --data-binary hello "$u" \
	    --next -s -w ' %{http_code}\n' \
	    --data-binary "@$BATS_TEST_TMPDIR/body" "$u"
	assert_output "fresh 200
fresh 200
fresh 200"
	run cat "$log"
	assert_output "conn 1 req 1 keep 1 stdin 0
conn 1 req 2 keep 1 stdin 5 dropped
conn 2 req 1 keep 1 stdin 5
conn 2 req 2 keep 1 stdin 102400 dropped
conn 3 req 1 keep 1 stdin 102400"
	run ! log_has 'php: .*(closed the connection|read from)'
	assert log_has "php: /echo.php: a kept connection to 127.0.0.1:$FPORT was closed, sending the request again on a new one"
}

@test "php_keepalive over a Unix-domain socket: kept, reused, and sent again when the server closed it" {
	local log=$BATS_TEST_TMPDIR/fcgi.log sock=$BATS_TEST_TMPDIR/fcgi.sock u
	canned_fcgi --unix "$sock" --keep --drop-reused --log "$log" \
	    '6:1:Status: 200\r\nContent-Type: text/plain\r\n\r\nunix' '3:1:'
	WORKERS=1 own_instance "php fastcgi unix:$sock" \
	    "php_keepalive 2" "php_timeout 2s"
	u=http://127.0.0.1:$PORT/echo.php
	run curl -s -w ' %{http_code}\n' "$u" "$u" "$u"
	assert_output "unix 200
unix 200
unix 200"
	run cat "$log"
	assert_output "conn 1 req 1 keep 1 stdin 0
conn 1 req 2 keep 1 stdin 0 dropped
conn 2 req 1 keep 1 stdin 0
conn 2 req 2 keep 1 stdin 0 dropped
conn 3 req 1 keep 1 stdin 0"
}

@test "php_keepalive: a connection with bytes after END_REQUEST is not kept" {
	local log=$BATS_TEST_TMPDIR/fcgi.log u
	canned_fcgi --keep --log "$log" \
	    '6:1:Status: 200\r\nContent-Type: text/plain\r\n\r\nok' '3:1:' \
	    '6:1:Status: 500\r\n\r\nstray'
	WORKERS=1 own_instance "php fastcgi 127.0.0.1:$FPORT" \
	    "php_keepalive 2" "php_timeout 2s"
	u=http://127.0.0.1:$PORT/echo.php
	run curl -s -w ' %{http_code}\n' "$u" "$u"
	assert_output "ok 200
ok 200"
	run cat "$log"
	assert_output "conn 1 req 1 keep 1 stdin 0
conn 2 req 1 keep 1 stdin 0"
}

@test "php_keepalive: at most that many connections; the requests beyond wait their turn, up to php_timeout" {
	local slow
	start_fpm 2
	OWN_TRACK=$FPM_PID
	WORKERS=1 own_instance "php fastcgi 127.0.0.1:$FPORT" \
	    "php_keepalive 1" "php_timeout 1s"
	# php-fpm has two children, but the one connection is busy for 3 s
	# with a script that writes every 300 ms (php_timeout bounds silence).
	curl -s -o "$BATS_TEST_TMPDIR/slow" \
	    "http://127.0.0.1:$PORT/drip.php?n=10&ms=300" &
	slow=$!
	OWN_TRACK="$OWN_TRACK $slow"
	wait_for fpm_conns_are 1
	http_get '/echo.php?a=1'
	assert_equal "$HTTP_CODE" 504
	assert log_has 'php: /echo.php waited 1000 ms for a FastCGI connection \(all 1 of php_keepalive busy\)'
	assert_equal "$(fpm_conns)" 1
	run curl -s "http://127.0.0.1:$PORT/maitred/metrics"
	assert_line 'maitred_php_waits_total 1'
	wait "$slow"
	assert_equal "$(tail -n 1 "$BATS_TEST_TMPDIR/slow")" END
	# then the kept connection serves the next one
	http_get '/echo.php?a=2'
	assert_equal "$HTTP_CODE" 200
	run cat "$HTTP_BODY"
	assert_line "GET a=2"
	assert_equal "$(fpm_conns)" 1
}

@test "FastCGI: an error right after a head not yet sent gets 502, not a bare close" {
	canned_fcgi '6:1:Status: 200\r\nContent-Type: text/plain\r\n\r\nhello' \
	    '6:2:EVIL' '3:1:'
	own_instance "php fastcgi 127.0.0.1:$FPORT" "php_timeout 2s"
	http_get /echo.php
	assert_equal "$HTTP_CODE" 502
	run grep -c -e EVIL -e hello "$HTTP_BODY"
	assert_output 0
}

@test "FastCGI: a Status that is not three digits gets 502" {
	canned_fcgi '6:1:Status: 2x0 OK\r\n\r\nbody' '3:1:'
	own_instance "php fastcgi 127.0.0.1:$FPORT" "php_timeout 2s"
	http_get /echo.php
	assert_equal "$HTTP_CODE" 502
	assert log_has 'bad Status "2x0 OK"'
}

@test "FastCGI: an END_REQUEST for another request id does not end ours" {
	canned_fcgi '6:1:Status: 200\r\n\r\npart1' '3:0:' '6:1:part2' '3:1:'
	own_instance "php fastcgi 127.0.0.1:$FPORT" "php_timeout 2s"
	run raw --timeout 5 'GET /echo.php HTTP/1.1\r\nHost: x\r\n\r\n'
	# (run strips the final newline)
	refute_output --partial $'\r\n0\r\n\r'
	assert log_has "php: FastCGI record for request 0 from 127.0.0.1:$FPORT"
}

# slow_readers N TARGET: N clients that ask for TARGET and read nothing
# until $BATS_TEST_TMPDIR/go exists; then their answers land in slow.I.
slow_readers() {
	local i
	for i in $(seq 1 "$1"); do
		"$BATS_TEST_DIRNAME"/lib/slowreader.py "$PORT" "$2" \
		    "$BATS_TEST_TMPDIR/slow.$i" "$BATS_TEST_TMPDIR/go" 60 &
		OWN_TRACK="${OWN_TRACK:-} $!"
		SLOW_PIDS="${SLOW_PIDS:-} $!"
	done
}

# slow_bodies_ok N LINES: each slow reader got a 200 with LINES numbered
# lines, whole and in order.
slow_bodies_ok() {
	local i want
	want=$(awk -v n="$2" 'BEGIN { for (i = 0; i < n; i++)
	    printf "%09d\n", i }' | md5sum)
	for i in $(seq 1 "$1"); do
		head -n 1 "$BATS_TEST_TMPDIR/slow.$i.head" |
		    grep -q '^HTTP/1.1 200'
		assert_equal "$(md5sum <"$BATS_TEST_TMPDIR/slow.$i")" "$want"
	done
}

# fpm_done N: php-fpm's access log has N finished lines.php requests.
fpm_done() {
	[ "$(grep -c 'lines.php' "$FPM_DIR/access.log" 2>/dev/null)" -ge "$1" ]
}

@test "client_timeout after the script: a steady reader gets it all, a stalled one is cut" {
	own_instance "php cgi $PHP_CGI" "client_timeout 1s"
	run python3 "$BATS_TEST_DIRNAME/lib/steadyreader.py" "$PORT" \
	    '/large.php?n=6000000' 131072 4
	assert_line "status 200"
	assert_line "body 6000000"
	assert_line "sha256 $(head -c 6000000 /dev/zero | tr '\0' a | sha256sum | cut -d' ' -f1)"
	assert_line "end eof"
	# the answer waits in temp_dir; a client that takes 2 KB/s of it is
	# cut after client_timeout (it used to wait for php_timeout)
	run python3 "$BATS_TEST_DIRNAME/lib/steadyreader.py" "$PORT" \
	    '/large.php?n=6000000' 2048 6 20
	assert_line "status 200"
	assert_line "body -1"
}

@test "slow clients do not hold php-fpm: answers wait in temp_dir" {
	local p
	start_fpm 1
	OWN_TRACK=$FPM_PID
	own_instance "php fastcgi 127.0.0.1:$FPORT" "temp_dir $BATS_TEST_TMPDIR"
	# 2 x 20 MB that nobody reads yet; php-fpm's one child serves both.
	slow_readers 2 '/lines.php?n=2000000'
	assert wait_for fpm_done 2
	# ... and is free for a third client.
	http_get /echo.php
	assert_equal "$HTTP_CODE" 200
	touch "$BATS_TEST_TMPDIR/go"
	for p in $SLOW_PIDS; do wait "$p" || fail "slow reader: exit $?"; done
	slow_bodies_ok 2 2000000
	# The files had no name: nothing is left behind.
	run find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'maitred-php.*'
	assert_output ''
}

@test "php_buffer_max: past it the script waits for the client, answer whole" {
	local p
	own_instance "php cgi $PHP_CGI" "php_buffer_max 1m"
	slow_readers 1 '/lines.php?n=1000000'
	wait_for test -e "$BATS_TEST_TMPDIR/slow.1.sent"
	touch "$BATS_TEST_TMPDIR/go"
	for p in $SLOW_PIDS; do wait "$p" || fail "slow reader: exit $?"; done
	slow_bodies_ok 1 1000000
}

@test "an unusable temp_dir: a warning, and the answer still goes out whole" {
	local p
	mkdir "$BATS_TEST_TMPDIR/gone"
	own_instance "php cgi $PHP_CGI" "temp_dir $BATS_TEST_TMPDIR/gone"
	rmdir "$BATS_TEST_TMPDIR/gone"
	slow_readers 1 '/lines.php?n=1000000'
	assert wait_for log_has "cannot buffer an answer in temp_dir $BATS_TEST_TMPDIR/gone: No such file"
	touch "$BATS_TEST_TMPDIR/go"
	for p in $SLOW_PIDS; do wait "$p" || fail "slow reader: exit $?"; done
	slow_bodies_ok 1 1000000
}

@test "a client trickling its body holds no php-fpm worker: the body is read first" {
	local f=$BATS_TEST_TMPDIR/body.bin p
	head -c 300000 /dev/urandom >"$f"
	start_fpm 1
	OWN_TRACK=$FPM_PID
	own_instance "php fastcgi 127.0.0.1:$FPORT" "temp_dir $BATS_TEST_TMPDIR"
	# Half a body each, sized and chunked, then silence.
	"$BATS_TEST_DIRNAME"/lib/slowreader.py --post "$f" "$PORT" /input.php \
	    "$BATS_TEST_TMPDIR/slow.1" "$BATS_TEST_TMPDIR/go" 60 &
	OWN_TRACK="$OWN_TRACK $!" SLOW_PIDS=$!
	"$BATS_TEST_DIRNAME"/lib/slowreader.py --post "$f" --chunked "$PORT" \
	    /input.php "$BATS_TEST_TMPDIR/slow.2" "$BATS_TEST_TMPDIR/go" 60 &
	OWN_TRACK="$OWN_TRACK $!" SLOW_PIDS="$SLOW_PIDS $!"
	wait_for test -e "$BATS_TEST_TMPDIR/slow.2.sent"
	wait_for test -e "$BATS_TEST_TMPDIR/slow.1.sent"
	# php-fpm's one child is free for others meanwhile.
	http_get /echo.php -m 5
	assert_equal "$HTTP_CODE" 200
	run grep -c . "$FPM_DIR/access.log"
	assert_output 1
	touch "$BATS_TEST_TMPDIR/go"
	for p in $SLOW_PIDS; do wait "$p" || fail "slow client: exit $?"; done
	for p in 1 2; do
		grep -q '^HTTP/1.1 200' "$BATS_TEST_TMPDIR/slow.$p.head"
		assert_equal "$(cat "$BATS_TEST_TMPDIR/slow.$p")" \
		    "$(stat -c %s "$f") $(md5sum <"$f" | cut -d' ' -f1)"
	done
}

@test "a chunked body past 16m reaches the script; php_buffer_max bounds it" {
	local f=$BATS_TEST_TMPDIR/big.bin
	head -c $((20 * 1024 * 1024)) /dev/urandom >"$f"
	# PHP's own post_max_size (8M) would refuse it first.
	mkdir "$BATS_TEST_TMPDIR/ini"
	echo 'post_max_size = 64M' >"$BATS_TEST_TMPDIR/ini/big.ini"
	printf '#!/bin/sh\nPHP_INI_SCAN_DIR=%s exec %s "$@"\n' \
	    "$BATS_TEST_TMPDIR/ini" "$PHP_CGI" >"$BATS_TEST_TMPDIR/php-big"
	chmod +x "$BATS_TEST_TMPDIR/php-big"
	own_instance "php cgi $BATS_TEST_TMPDIR/php-big" \
	    "temp_dir $BATS_TEST_TMPDIR" "php_buffer_max 30m"
	http_get /input.php -H 'Transfer-Encoding: chunked' --data-binary "@$f"
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(cat "$HTTP_BODY")" \
	    "$(stat -c %s "$f") $(md5sum <"$f" | cut -d' ' -f1)"
	head -c $((31 * 1024 * 1024)) /dev/zero >"$f"
	http_get /input.php -H 'Transfer-Encoding: chunked' --data-binary "@$f"
	assert_equal "$HTTP_CODE" 413
}

@test "php_buffer_max 0: a chunked body gets 411, a sized one streams" {
	local f=$BATS_TEST_TMPDIR/b.bin
	head -c 100000 /dev/urandom >"$f"
	own_instance "php cgi $PHP_CGI" "php_buffer_max 0"
	http_get /input.php -H 'Transfer-Encoding: chunked' --data-binary "@$f"
	assert_equal "$HTTP_CODE" 411
	# A client that waits to be invited is told no at once, not invited.
	run raw --timeout 3 'POST /input.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n'
	assert_line --index 0 --partial 'HTTP/1.1 411 '
	refute_output --partial '100 Continue'
	http_get /input.php --data-binary "@$f"
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(cat "$HTTP_BODY")" \
	    "100000 $(md5sum <"$f" | cut -d' ' -f1)"
}

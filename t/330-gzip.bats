#!/usr/bin/env bats
# gzip content coding: static files and PHP output compressed when the
# client accepts gzip and the type matches gzip_types; identity for
# small files, other types, ranges, q=0, already encoded files and
# "gzip off"; a 50 MB file streams with flat worker memory.

load helpers

PHP_CGI=${PHP_CGI:-/usr/bin/php-cgi}

setup_file() {
	export MTD_DIR=$BATS_FILE_TMPDIR
	export WORKERS=1
	write_conf "gzip on" "php cgi $PHP_CGI"
	local h=$MTD_DIR/htdocs
	python3 - "$h/text.txt" <<'EOF'
import random, sys
random.seed(7)
w = ["alpha", "beta", "gamma", "maitred", "proxy", "cache", "\n"]
open(sys.argv[1], "w").write(" ".join(random.choice(w)
    for _ in range(60000)))
EOF
	printf '{"a": "%s"}\n' "$(head -c 2000 /dev/zero | tr '\0' x)" \
	    >"$h/data.json"
	head -c 4000 /dev/urandom >"$h/big.png"
	gzip -c "$h/text.txt" >"$h/text.txt.gz"
	cat >"$h/gen.php" <<'EOF'
<?php
header('ETag: "php1"');
for ($i = 0; $i < 20000; $i++)
	echo "line $i of generated text\n";
EOF
	maitred_start
}

teardown_file() {
	common_teardown
}

teardown() {
	if [ -n "${OWN_PID:-}" ]; then
		MAITRED_PID=$OWN_PID
		maitred_stop
	fi
}

@test "curl --compressed: gzip, Vary, weak ETag, byte-exact" {
	http_get /text.txt --compressed
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Content-Encoding)" gzip
	assert_equal "$(hdr Vary)" Accept-Encoding
	assert_equal "$(hdr Transfer-Encoding)" chunked
	run hdr Content-Length
	assert_failure
	[[ "$(hdr ETag)" == W/\"* ]]
	assert_equal "$(sha "$HTTP_BODY")" "$(sha "$MTD_DIR/htdocs/text.txt")"
}

@test "the body on the wire really is gzip" {
	http_get /text.txt -H 'Accept-Encoding: gzip'
	assert_equal "$(hdr Content-Encoding)" gzip
	gzip -dc <"$HTTP_BODY" | cmp - "$MTD_DIR/htdocs/text.txt"
	less_than "$(stat -c %s "$HTTP_BODY")" \
	    "$(stat -c %s "$MTD_DIR/htdocs/text.txt")"
}

@test "application/json is compressed too" {
	http_get /data.json --compressed
	assert_equal "$(hdr Content-Encoding)" gzip
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/data.json"
}

@test "no Accept-Encoding: identity, exact Content-Length, Vary" {
	http_get /text.txt
	assert_equal "$HTTP_CODE" 200
	run hdr Content-Encoding
	assert_failure
	assert_equal "$(hdr Content-Length)" \
	    "$(stat -c %s "$MTD_DIR/htdocs/text.txt")"
	assert_equal "$(hdr Vary)" Accept-Encoding
	[[ "$(hdr ETag)" == \"* ]]
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/text.txt"
}

@test "a file under gzip_min_length stays identity" {
	http_get /hello.txt --compressed
	assert_equal "$HTTP_CODE" 200
	run hdr Content-Encoding
	assert_failure
	assert_equal "$(hdr Content-Length)" 19
}

@test "image/png stays identity" {
	http_get /big.png --compressed
	run hdr Content-Encoding
	assert_failure
	assert_equal "$(hdr Content-Length)" 4000
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/big.png"
}

@test "an application/gzip file is not compressed again" {
	http_get /text.txt.gz --compressed
	assert_equal "$(hdr Content-Type)" application/gzip
	run hdr Content-Encoding
	assert_failure
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/text.txt.gz"
}

@test "HEAD: the gzip headers, no body" {
	run bash -c 'printf "HEAD /text.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n" |
	    python3 "$1" 127.0.0.1 "$2"' _ "$RAWHTTP" "$PORT"
	assert_line --index 0 --partial "HTTP/1.1 200"
	assert_output --partial "Content-Encoding: gzip"
	assert_output --partial "Vary: Accept-Encoding"
	body=$(printf '%s' "$output" | tr -d '\r' | sed '1,/^$/d')
	assert_equal "$body" ""
}

@test "Range with gzip on: identity 206" {
	http_get /text.txt --compressed -r 10-19
	assert_equal "$HTTP_CODE" 206
	run hdr Content-Encoding
	assert_failure
	assert_equal "$(hdr Content-Length)" 10
	cmp "$HTTP_BODY" <(head -c 20 "$MTD_DIR/htdocs/text.txt" | tail -c 10)
}

@test "gzip;q=0 is a refusal; q=0.5 and * are not" {
	http_get /text.txt -H 'Accept-Encoding: gzip;q=0, deflate'
	run hdr Content-Encoding
	assert_failure
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/text.txt"
	http_get /text.txt -H 'Accept-Encoding: br, gzip; q=0.5'
	assert_equal "$(hdr Content-Encoding)" gzip
	http_get /text.txt -H 'Accept-Encoding: *'
	assert_equal "$(hdr Content-Encoding)" gzip
	http_get /text.txt -H 'Accept-Encoding: *, gzip;q=0'
	run hdr Content-Encoding
	assert_failure
}

@test "HTTP/1.0: close-delimited gzip body" {
	http_get /text.txt --compressed -0
	assert_equal "$(hdr Content-Encoding)" gzip
	assert_equal "$(hdr Connection)" close
	run hdr Transfer-Encoding
	assert_failure
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/text.txt"
}

@test "keep-alive and pipelining after a gzip response" {
	run bash -c 'printf "GET /text.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" |
	    python3 "$1" 127.0.0.1 "$2"' _ "$RAWHTTP" "$PORT"
	assert_equal "$(status_lines | tr '\n' ' ')" "200 200 "
	assert_output --partial "hello from maitred"
}

@test "If-None-Match with the weak ETag: 304" {
	http_get /text.txt --compressed
	etag=$(hdr ETag)
	http_get /text.txt --compressed -H "If-None-Match: $etag"
	assert_equal "$HTTP_CODE" 304
	assert_equal "$(hdr ETag)" "$etag"
}

@test "PHP output is compressed and round-trips" {
	[ -x "$PHP_CGI" ] || skip "no $PHP_CGI"
	http_get /gen.php --compressed
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Content-Encoding)" gzip
	assert_equal "$(hdr Vary)" Accept-Encoding
	assert_equal "$(hdr ETag)" 'W/"php1"'
	php -r 'for ($i = 0; $i < 20000; $i++) echo "line $i of generated text\n";' \
	    >"$BATS_TEST_TMPDIR/want" 2>/dev/null ||
	    awk 'BEGIN { for (i = 0; i < 20000; i++)
		printf "line %d of generated text\n", i }' >"$BATS_TEST_TMPDIR/want"
	cmp "$HTTP_BODY" "$BATS_TEST_TMPDIR/want"
	http_get /gen.php
	run hdr Content-Encoding
	assert_failure
	cmp "$HTTP_BODY" "$BATS_TEST_TMPDIR/want"
}

@test "a 50 MB text file streams with flat worker memory" {
	local f=$MTD_DIR/htdocs/big50.txt w
	yes "some text line for the gzip streaming test, numbers 0123456789" |
	    head -c 50M >"$f"
	w=$(worker_pids | head -n 1)
	[ -n "$w" ]
	# slow enough (about 3 s) to sample the worker during the transfer
	CURL_MAX_TIME=60 curl -s --compressed --limit-rate 60k \
	    -o "$BATS_TEST_TMPDIR/got50" "$(url /big50.txt)" &
	peak_rss_while $! "$w"
	[ "$PEAK_RSS" -lt 30720 ]
	assert_equal "$(sha "$BATS_TEST_TMPDIR/got50")" "$(sha "$f")"
	rm -f "$f" "$BATS_TEST_TMPDIR/got50"
}

@test "a file that shrinks while it is compressed: the answer is cut, never ended" {
	local f=$MTD_DIR/htdocs/shrink.txt
	# base64 compresses to about 3/4: far more than the socket buffers
	head -c 12M /dev/urandom | base64 -w 76 >"$f"
	run timeout 30 python3 - "$PORT" "$f" <<'EOF'
import os, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /shrink.txt HTTP/1.1\r\nHost: x\r\n"
          b"Accept-Encoding: gzip\r\nConnection: close\r\n\r\n")
got = b""
while len(got) < 200000:
    got += s.recv(65536)
os.truncate(sys.argv[2], 100000)
s.settimeout(20)
while True:
    d = s.recv(65536)
    if not d:
        break
    got += d
print(got.split(b"\r\n", 1)[0].decode())
print("ended" if got.endswith(b"\r\n0\r\n\r\n") else "cut")
EOF
	assert_success
	assert_line --index 0 --regexp '^HTTP/1\.1 200'
	assert_line --index 1 cut
	rm -f "$f"
}

@test "gzip off: never compressed" {
	MTD_DIR=$BATS_TEST_TMPDIR/off
	mkdir -p "$MTD_DIR"
	PORT=$(free_port)
	MAITRED_PID=
	write_conf "gzip off"
	cp "$BATS_FILE_TMPDIR/htdocs/text.txt" "$MTD_DIR/htdocs/"
	maitred_start
	OWN_PID=$MAITRED_PID
	http_get /text.txt --compressed
	assert_equal "$HTTP_CODE" 200
	run hdr Content-Encoding
	assert_failure
	run hdr Vary
	assert_failure
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/text.txt"
	maitred_stop
}

@test "gzip directives: bad values are FILE:LINE errors" {
	MTD_DIR=$BATS_TEST_TMPDIR/bad
	mkdir -p "$MTD_DIR"
	PORT=$(free_port)
	write_conf "gzip maybe" "gzip_level 10" "gzip_min_length lots" \
	    "gzip_types text/html nonsense"
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_failure
	assert_output --partial "$MTD_CONF:$(conf_line 'gzip maybe'): gzip"
	assert_output --partial "$MTD_CONF:$(conf_line 'gzip_level 10'): gzip_level"
	assert_output --partial \
	    "$MTD_CONF:$(conf_line 'gzip_min_length lots'): gzip_min_length"
	assert_output --partial "gzip_types: invalid value \"nonsense\""
	write_conf "gzip on" "gzip_level 9" "gzip_min_length 1k" \
	    "gzip_types text/* application/xml"
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_success
}

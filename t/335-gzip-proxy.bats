#!/usr/bin/env bats
# gzip content coding of proxied responses: a 200 of a type in
# gzip_types is compressed on the fly for a client that accepts gzip
# (chunked for HTTP/1.1, close-delimited for HTTP/1.0), whatever the
# backend's framing; already encoded bodies, other types, HEAD and
# ranges are relayed untouched. The cache stores the identity variant
# and compresses it on hits for gzip clients.
# One t/backend.py and one maitred (1 worker) for the file.

load helpers

setup_file() {
	export MTD_DIR=$BATS_FILE_TMPDIR
	export WORKERS=1
	B1=$(backend_start b1)
	export B1
	printf '127.0.0.1:%s:1:3\n' "$B1" >"$MTD_DIR/backends.cfg"
	write_conf "backends $MTD_DIR/backends.cfg" "gzip on" \
	    "read_timeout 5s" "connect_timeout 1s"
	maitred_start
}

teardown_file() {
	local p
	common_teardown
	p=$(cat "$MTD_DIR/b1.pid" 2>/dev/null) || return 0
	kill -TERM "$p" 2>/dev/null || true
	wait_gone "$p" 3 || kill -KILL "$p" 2>/dev/null || true
}

setup() {
	HTTP_HEADERS=$BATS_TEST_TMPDIR/resp.headers
	HTTP_BODY=$BATS_TEST_TMPDIR/resp.body
}

teardown() {
	if [ -n "${OWN_PID:-}" ]; then
		MAITRED_PID=$OWN_PID
		maitred_stop
	fi
	mtd_dump_logs
}

# big N FILE: the body of the backend's /big?bytes=N.
big() {
	python3 -c 'import sys
n = int(sys.argv[1])
p = bytes(i % 251 for i in range(251))
sys.stdout.buffer.write((p * (n // 251 + 1))[:n])' "$1" >"$2"
}

@test "text/plain: gzip, Vary, no Content-Length, byte-exact" {
	big 100000 "$BATS_TEST_TMPDIR/want"
	http_get '/big?bytes=100000&ctype=text/plain' -H 'Accept-Encoding: gzip'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Content-Encoding)" gzip
	assert_equal "$(hdr Vary)" Accept-Encoding
	assert_equal "$(hdr Transfer-Encoding)" chunked
	run hdr Content-Length
	assert_failure
	gzip -dc <"$HTTP_BODY" | cmp - "$BATS_TEST_TMPDIR/want"
	less_than "$(stat -c %s "$HTTP_BODY")" 100000
	# The identity response, for a client without Accept-Encoding.
	http_get '/big?bytes=100000&ctype=text/plain'
	run hdr Content-Encoding
	assert_failure
	assert_equal "$(hdr Content-Length)" 100000
	assert_equal "$(hdr Vary)" Accept-Encoding
	cmp "$HTTP_BODY" "$BATS_TEST_TMPDIR/want"
}

@test "JSON with a strong ETag: compressed, ETag made weak" {
	http_get '/echo?hdr=ETag:"abc"' --compressed
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Content-Encoding)" gzip
	assert_equal "$(hdr ETag)" 'W/"abc"'
	python3 -c 'import json, sys; json.load(open(sys.argv[1]))' \
	    "$HTTP_BODY"
	grep -q '"path": "/echo' "$HTTP_BODY"
	http_get '/echo?hdr=ETag:"abc"'
	assert_equal "$(hdr ETag)" '"abc"'
}

@test "a chunked backend response is decoded, then compressed" {
	http_get '/chunked?n=3000'
	run hdr Content-Encoding
	assert_failure
	cp "$HTTP_BODY" "$BATS_TEST_TMPDIR/want"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/want")" -eq 3000 ]
	http_get '/chunked?n=3000' --compressed
	assert_equal "$(hdr Content-Encoding)" gzip
	assert_equal "$(hdr Transfer-Encoding)" chunked
	cmp "$HTTP_BODY" "$BATS_TEST_TMPDIR/want"
}

@test "already encoded, image type, HEAD, small: untouched" {
	http_get '/x?hdr=Content-Encoding:br' --compressed --raw
	assert_equal "$(hdr Content-Encoding)" br
	grep -q '^b1 GET /x' "$HTTP_BODY"
	big 4000 "$BATS_TEST_TMPDIR/want"
	http_get '/big?bytes=4000&ctype=image/png' --compressed
	run hdr Content-Encoding
	assert_failure
	run hdr Vary
	assert_failure
	cmp "$HTTP_BODY" "$BATS_TEST_TMPDIR/want"
	http_get '/big?bytes=100000&ctype=text/plain' -I \
	    -H 'Accept-Encoding: gzip'
	assert_equal "$HTTP_CODE" 200
	run hdr Content-Encoding
	assert_failure
	assert_equal "$(hdr Content-Length)" 100000
	# Below gzip_min_length (256)
	http_get '/big?bytes=100&ctype=text/plain' --compressed
	run hdr Content-Encoding
	assert_failure
	assert_equal "$(hdr Content-Length)" 100
	# A range request
	http_get '/big?bytes=100000&ctype=text/plain' --compressed -r 0-9
	run hdr Content-Encoding
	assert_failure
	# Cache-Control: no-transform (RFC 9110 7.7)
	http_get '/big?bytes=4000&ctype=text/plain&hdr=Cache-Control:public,%20no-transform' --compressed
	run hdr Content-Encoding
	assert_failure
	assert_equal "$(hdr Content-Length)" 4000
}

@test "HTTP/1.0 client: close-delimited gzip body" {
	big 50000 "$BATS_TEST_TMPDIR/want"
	http_get '/big?bytes=50000&ctype=text/plain' --http1.0 --compressed
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Content-Encoding)" gzip
	run hdr Transfer-Encoding
	assert_failure
	run hdr Content-Length
	assert_failure
	assert_equal "$(hdr Connection)" close
	cmp "$HTTP_BODY" "$BATS_TEST_TMPDIR/want"
	# chunked from the backend too
	http_get '/chunked?n=500' --http1.0 --compressed
	assert_equal "$(hdr Content-Encoding)" gzip
	[ "$(wc -l <"$HTTP_BODY")" -eq 500 ]
}

@test "keep-alive: two compressed responses on one connection" {
	local out
	big 30000 "$BATS_TEST_TMPDIR/want"
	out=$(curl -s --compressed -w '%{num_connects}\n' \
	    -o "$BATS_TEST_TMPDIR/a" \
	    "$(url '/big?bytes=30000&ctype=text/plain')" \
	    -o "$BATS_TEST_TMPDIR/b" "$(url '/chunked?n=200')")
	assert_equal "$(printf '%s' "$out" | tr '\n' ' ')" "1 0"
	cmp "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/want"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/b")" -eq 200 ]
}

@test "a 20 MB proxied text body streams with flat worker memory" {
	local w n=$((20 * 1024 * 1024))
	big "$n" "$BATS_TEST_TMPDIR/want"
	w=$(worker_pids | head -n 1)
	[ -n "$w" ]
	CURL_MAX_TIME=60 curl -s --compressed --limit-rate 20k \
	    -o "$BATS_TEST_TMPDIR/got" \
	    "$(url "/big?bytes=$n&ctype=text/plain")" &
	peak_rss_while $! "$w"
	[ "$PEAK_RSS" -lt 30720 ]
	assert_equal "$(sha "$BATS_TEST_TMPDIR/got")" \
	    "$(sha "$BATS_TEST_TMPDIR/want")"
}

@test "cache: identity stored; MISS and HIT byte-exact for both clients, HIT compressed for gzip" {
	local p='/big?bytes=60000&ctype=text/plain'
	MTD_DIR=$BATS_TEST_TMPDIR
	PORT=$(free_port)
	printf '/*:60:1048576\n' >"$MTD_DIR/cache_rules.cfg"
	write_conf "backends $BATS_FILE_TMPDIR/backends.cfg" "gzip on" \
	    "cache_rules $MTD_DIR/cache_rules.cfg" "cache_size 8m"
	maitred_start
	OWN_PID=$MAITRED_PID
	big 60000 "$BATS_TEST_TMPDIR/want"
	# gzip client first: compressed MISS, the fill gets identity bytes.
	http_get "$p" -H 'Accept-Encoding: gzip'
	assert_equal "$(hdr X-Cache)" MISS
	assert_equal "$(hdr Content-Encoding)" gzip
	assert_equal "$(hdr Vary)" Accept-Encoding
	gzip -dc <"$HTTP_BODY" | cmp - "$BATS_TEST_TMPDIR/want"
	# identity client: HIT, identity, Vary
	http_get "$p"
	assert_equal "$(hdr X-Cache)" HIT
	run hdr Content-Encoding
	assert_failure
	assert_equal "$(hdr Vary)" Accept-Encoding
	assert_equal "$(hdr Content-Length)" 60000
	cmp "$HTTP_BODY" "$BATS_TEST_TMPDIR/want"
	# gzip client again: HIT, compressed from the stored copy
	http_get "$p" -H 'Accept-Encoding: gzip'
	assert_equal "$(hdr X-Cache)" HIT
	assert_equal "$(hdr Content-Encoding)" gzip
	assert_equal "$(hdr Vary)" Accept-Encoding
	assert_equal "$(hdr Content-Length)" "$(stat -c %s "$HTTP_BODY")"
	less_than "$(hdr Content-Length)" 60000
	gzip -dc <"$HTTP_BODY" | cmp - "$BATS_TEST_TMPDIR/want"
	# HEAD and a range stay identity
	http_get "$p" -I -H 'Accept-Encoding: gzip'
	assert_equal "$(hdr X-Cache)" HIT
	run hdr Content-Encoding
	assert_failure
	assert_equal "$(hdr Content-Length)" 60000
	http_get "$p" -H 'Accept-Encoding: gzip' -H 'Range: bytes=0-9'
	run hdr Content-Encoding
	assert_failure
	# identity client first on another key, then a gzip client.
	p='/chunked?n=1000'
	http_get "$p"
	assert_equal "$(hdr X-Cache)" MISS
	cp "$HTTP_BODY" "$BATS_TEST_TMPDIR/want2"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/want2")" -eq 1000 ]
	http_get "$p" --compressed
	assert_equal "$(hdr X-Cache)" HIT
	assert_equal "$(hdr Content-Encoding)" gzip
	assert_equal "$(hdr Vary)" Accept-Encoding
	cmp "$HTTP_BODY" "$BATS_TEST_TMPDIR/want2"
}

@test "cache HIT for a gzip client: weak ETag, 304 on it, small and 200 KB objects" {
	MTD_DIR=$BATS_TEST_TMPDIR
	PORT=$(free_port)
	printf '/*:60:4194304\n' >"$MTD_DIR/cache_rules.cfg"
	write_conf "backends $BATS_FILE_TMPDIR/backends.cfg" "gzip on" \
	    "cache_rules $MTD_DIR/cache_rules.cfg" "cache_size 16m"
	maitred_start
	OWN_PID=$MAITRED_PID
	local p='/big?bytes=2000&ctype=application/json&hdr=ETag:"v1"'
	big 2000 "$BATS_TEST_TMPDIR/want"
	http_get "$p"
	assert_equal "$(hdr X-Cache)" MISS
	http_get "$p" -H 'Accept-Encoding: gzip'
	assert_equal "$(hdr X-Cache)" HIT
	assert_equal "$(hdr Content-Encoding)" gzip
	assert_equal "$(hdr ETag)" 'W/"v1"'
	gzip -dc <"$HTTP_BODY" | cmp - "$BATS_TEST_TMPDIR/want"
	http_get "$p" -H 'Accept-Encoding: gzip' -H 'If-None-Match: W/"v1"'
	assert_equal "$HTTP_CODE" 304
	assert_equal "$(hdr ETag)" 'W/"v1"'
	# identity client: strong ETag, identity body
	http_get "$p"
	assert_equal "$(hdr ETag)" '"v1"'
	cmp "$HTTP_BODY" "$BATS_TEST_TMPDIR/want"
	# 200 KB: larger than the output buffer, sent in pieces
	p="/big?bytes=204800&ctype=text/plain"
	big 204800 "$BATS_TEST_TMPDIR/want1m"
	http_get "$p"
	assert_equal "$(hdr X-Cache)" MISS
	for i in 1 2; do
		http_get "$p" -H 'Accept-Encoding: gzip'
		assert_equal "$(hdr X-Cache)" HIT
		assert_equal "$(hdr Content-Encoding)" gzip
		assert_equal "$(hdr Content-Length)" "$(stat -c %s "$HTTP_BODY")"
		gzip -dc <"$HTTP_BODY" | cmp - "$BATS_TEST_TMPDIR/want1m"
	done
}

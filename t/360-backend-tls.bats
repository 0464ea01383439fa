#!/usr/bin/env bats
# TLS to backends: "backend_tls on" with CA verification. The test CA,
# the backends' certificates and a certificate from an unknown CA are
# made with the openssl CLI in setup_file; the TLS backends are
# t/backend.py with --tls-cert/--tls-key, and one --stall backend
# accepts TCP and never answers the handshake. Each test starts its own
# maitred (one worker, so that pooling and blocking are observable).

load helpers

BACKEND_PY=$BATS_TEST_DIRNAME/backend.py

# mkcert NAME CN SAN [CA]: a key and a certificate signed by CA (ca).
mkcert() {
	local d=$BATS_FILE_TMPDIR/pki ca=${4:-ca}
	openssl req -newkey rsa:2048 -nodes -keyout "$d/$1.key" \
	    -out "$d/$1.csr" -subj "/CN=$2" 2>/dev/null || return 1
	printf 'subjectAltName=%s\n' "$3" >"$d/$1.ext"
	openssl x509 -req -in "$d/$1.csr" -CA "$d/$ca.crt" \
	    -CAkey "$d/$ca.key" -CAcreateserial -out "$d/$1.crt" -days 2 \
	    -extfile "$d/$1.ext" 2>/dev/null
}

# mkca NAME: a self-signed CA.
mkca() {
	openssl req -x509 -newkey rsa:2048 -nodes \
	    -keyout "$BATS_FILE_TMPDIR/pki/$1.key" \
	    -out "$BATS_FILE_TMPDIR/pki/$1.crt" -days 2 \
	    -subj "/CN=maitred test $1" 2>/dev/null
}

# tls_backend NAME CERT [--stall]: start t/backend.py with TLS on a free
# port; print the port. Its pid is in $BATS_FILE_TMPDIR/NAME.pid.
tls_backend() {
	local d=$BATS_FILE_TMPDIR port opts=()
	port=$(free_port)
	if [ "$2" = --stall ]; then
		opts=(--stall)
	else
		opts=(--tls-cert "$d/pki/$2.crt" --tls-key "$d/pki/$2.key")
	fi
	python3 "$BACKEND_PY" --port "$port" --name "$1" \
	    --pidfile "$d/$1.pid" "${opts[@]}" </dev/null >/dev/null 2>&1 3>&- &
	wait_for port_listening "$port" || return 1
	wait_for test -s "$d/$1.pid" || return 1
	printf '%s\n' "$port"
}

stop_backend() {
	local p
	p=$(cat "$BATS_FILE_TMPDIR/$1.pid" 2>/dev/null) || return 0
	kill -TERM "$p" 2>/dev/null || true
	wait_gone "$p" 5 || kill -KILL "$p" 2>/dev/null || true
}

setup_file() {
	mkdir -p "$BATS_FILE_TMPDIR/pki"
	mkca ca
	mkca rogue
	mkcert srv localhost "DNS:localhost,IP:127.0.0.1"
	mkcert named backend.test "DNS:backend.test"
	mkcert alien localhost "DNS:localhost,IP:127.0.0.1" rogue
	P1=$(tls_backend b1 srv)
	PN=$(tls_backend bn named)
	PA=$(tls_backend ba alien)
	PS=$(tls_backend bs --stall)
	export P1 PN PA PS
}

teardown_file() {
	local b
	for b in b1 bn ba bs bd; do
		stop_backend "$b"
	done
}

setup() {
	MTD_DIR=$BATS_TEST_TMPDIR
	WORKERS=1
	export MTD_DIR WORKERS
	unset PORT
}

teardown() {
	maitred_stop
	mtd_dump_logs
}

# proxy_start BACKEND... [-- DIRECTIVE...]: maitred for this test with
# these backends.cfg lines, backend_tls on, the test CA and DIRECTIVEs.
proxy_start() {
	local b=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		b+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	printf '%s\n' "${b[@]}" >"$MTD_DIR/backends.cfg"
	write_conf "backends $MTD_DIR/backends.cfg" "backend_tls on" \
	    "backend_tls_ca $BATS_FILE_TMPDIR/pki/ca.crt" \
	    "status_path /maitred/status" "$@"
	maitred_start
}

# conns PORT: "CONNECTIONS RESUMED" as the TLS backend on PORT counts
# them (this request's own connection included).
conns() {
	curl -s --cacert "$BATS_FILE_TMPDIR/pki/ca.crt" \
	    "https://127.0.0.1:$1/conns"
}

big_sha() {
	python3 -c '
import hashlib, sys
n = int(sys.argv[1]); p = bytes(i % 251 for i in range(251))
print(hashlib.sha256((p * (n // 251 + 1))[:n]).hexdigest())' "$1"
}

@test "GET through a verified TLS backend (IP address in the certificate)" {
	proxy_start "127.0.0.1:$P1:1:3"
	http_get /hello
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr X-Backend)" b1
	assert_equal "$(cat "$HTTP_BODY")" "b1 GET /hello"
	# An IP address is checked in the certificate, never sent as SNI.
	assert_equal "$(hdr X-TLS-SNI)" -
	run grep -E 'WARN|ERR' "$MTD_DIR/error.log"
	assert_failure
}

@test "a host name in backends.cfg is checked and sent as SNI" {
	proxy_start "localhost:$P1:1:3"
	http_get /hello
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr X-Backend)" b1
	assert_equal "$(hdr X-TLS-SNI)" localhost
}

@test "POST bodies over TLS: 3 MB with Content-Length, chunked, checksums" {
	local f=$BATS_TEST_TMPDIR/post.bin sum
	proxy_start "127.0.0.1:$P1:1:3"
	head -c $((3 * 1024 * 1024)) /dev/urandom >"$f"
	sum=$(sha "$f")
	run curl -s --data-binary "@$f" "$(url /echo)"
	assert_success
	assert_output --partial "\"body_sha256\": \"$sum\""
	run curl -s -H 'Transfer-Encoding: chunked' --data-binary "@$f" \
	    "$(url /echo)"
	assert_success
	assert_output --partial "\"body_sha256\": \"$sum\""
	assert_output --partial '"x-forwarded-proto": "http"'
}

@test "responses over TLS: large, chunked, gzip, cached" {
	printf '/cached*:60:1048576\n' >"$MTD_DIR/cache_rules.cfg"
	proxy_start "127.0.0.1:$P1:1:3" -- "gzip on" \
	    "cache_rules $MTD_DIR/cache_rules.cfg" "cache_size 8m"
	curl -s "$(url '/big?bytes=5000000')" >"$BATS_TEST_TMPDIR/big"
	assert_equal "$(sha "$BATS_TEST_TMPDIR/big")" "$(big_sha 5000000)"
	run curl -s "$(url '/chunked?n=500')"
	assert_success
	assert_line --index 0 'chunk 0'
	assert_line --index 499 'chunk 499'
	http_get '/big?bytes=100000&ctype=text/plain' -H 'Accept-Encoding: gzip'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Content-Encoding)" gzip
	assert_equal "$(gzip -dc <"$HTTP_BODY" | sha256sum | cut -d' ' -f1)" \
	    "$(big_sha 100000)"
	http_get '/cached?x=1'
	assert_equal "$(hdr X-Cache)" MISS
	http_get '/cached?x=1'
	assert_equal "$(hdr X-Cache)" HIT
	assert_equal "$(cat "$HTTP_BODY")" "b1 GET /cached?x=1"
}

@test "WebSocket upgrade over a TLS backend becomes a tunnel" {
	proxy_start "127.0.0.1:$P1:1:3"
	run env PYTHONPATH="$BATS_TEST_DIRNAME/lib" python3 - "$PORT" <<'EOF'
import socket, sys
from wsclient import echo, upgrade
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
print(upgrade(s)[0])
for msg in (b"hello tunnel", b"x" * 100):
    print(echo(s, msg))
EOF
	assert_success
	assert_line 'HTTP/1.1 101 Switching Protocols'
	assert_line 'hello tunnel'
	assert_line "$(printf 'x%.0s' $(seq 100))"
}

@test "keep-alive: pooled TLS connections are reused" {
	local c0 c1 i
	proxy_start "127.0.0.1:$P1:1:3"
	c0=$(conns "$P1" | cut -d' ' -f1)
	for i in $(seq 1 20); do
		http_get "/k$i"
		assert_equal "$HTTP_CODE" 200
	done
	c1=$(conns "$P1" | cut -d' ' -f1)
	# 20 requests; the second count's own connection is one of them.
	echo "connections: before $c0, after $c1"
	[ $((c1 - c0 - 1)) -ge 1 ]
	[ $((c1 - c0 - 1)) -le 2 ]
}

@test "new TLS connections to a backend resume its session" {
	local r0 r1 i
	proxy_start "127.0.0.1:$P1:1:3"
	r0=$(conns "$P1" | cut -d' ' -f2)
	# /close: the backend closes each connection after answering.
	for i in 1 2 3 4; do
		http_get /close
		assert_equal "$HTTP_CODE" 200
	done
	r1=$(conns "$P1" | cut -d' ' -f2)
	echo "resumed: before $r0, after $r1"
	[ $((r1 - r0)) -ge 3 ]
}

@test "a certificate from an unknown CA is refused, logged, failed over" {
	local i
	proxy_start "127.0.0.1:$PA:1:3" "127.0.0.1:$P1:1:3"
	for i in 1 2 3 4; do
		http_get "/f$i"
		assert_equal "$HTTP_CODE" 200
		assert_equal "$(hdr X-Backend)" b1
	done
	log_has "upstream 127\.0\.0\.1:$PA: TLS handshake: certificate verify failed: (unable to get local issuer certificate|self-signed certificate)"
}

@test "the only backend has an unknown CA: 502" {
	proxy_start "127.0.0.1:$PA:1:3"
	http_get /x
	assert_equal "$HTTP_CODE" 502
	log_has "upstream 127\.0\.0\.1:$PA: TLS handshake: certificate verify failed"
}

@test "backend_tls_verify off accepts the unknown CA" {
	proxy_start "127.0.0.1:$PA:1:3" -- "backend_tls_verify off"
	http_get /x
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr X-Backend)" ba
}

@test "backend_tls_name: the name checked instead of the host" {
	proxy_start "127.0.0.1:$PN:1:3"
	http_get /x
	assert_equal "$HTTP_CODE" 502
	log_has "upstream 127\.0\.0\.1:$PN: TLS handshake: certificate verify failed: (IP address mismatch|hostname mismatch)"
	maitred_stop
	proxy_start "127.0.0.1:$PN:1:3" -- "backend_tls_name backend.test"
	http_get /x
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr X-Backend)" bn
	assert_equal "$(hdr X-TLS-SNI)" backend.test
}

@test "a handshake that never ends: connect timeout, the worker serves others" {
	local t0 t1 code pid
	proxy_start "127.0.0.1:$PS:1:3" -- "connect_timeout 2s"
	t0=$(date +%s%3N)
	curl -s -o /dev/null -w '%{http_code}' "$(url /stalled)" \
	    >"$BATS_TEST_TMPDIR/code" &
	pid=$!
	sleep 0.3
	# Same (only) worker, while it waits for the handshake.
	http_get /hello.txt
	t1=$(date +%s%3N)
	assert_equal "$HTTP_CODE" 200
	[ $((t1 - t0)) -lt 1500 ]
	wait "$pid"
	code=$(cat "$BATS_TEST_TMPDIR/code")
	assert_equal "$code" 502
	[ $(($(date +%s%3N) - t0)) -ge 1800 ]
	log_has "upstream 127\.0\.0\.1:$PS: connect timeout \(TLS handshake\)"
}

@test "health_check http over TLS: bad certificate and stalled handshake down, good one up" {
	proxy_start "127.0.0.1:$P1:1:3" "127.0.0.1:$PA:1:3" \
	    "127.0.0.1:$PS:1:3" -- "health_check http /health" \
	    "health_interval 300ms" "connect_timeout 500ms"
	wait_for log_has "backend 127\.0\.0\.1:$PA down: TLS handshake: certificate verify failed"
	wait_for log_has "backend 127\.0\.0\.1:$PS down: connect timeout \(TLS handshake\)"
	run log_has "backend 127\.0\.0\.1:$P1 down"
	assert_failure
	http_get /maitred/status
	run python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for b in d["backends"]:
    print(b["address"], b["healthy"])' "$HTTP_BODY"
	assert_line "127.0.0.1:$P1 True"
	assert_line "127.0.0.1:$PA False"
	assert_line "127.0.0.1:$PS False"
}

@test "health_check http over TLS: a backend that comes back is marked up" {
	local pd
	pd=$(free_port)
	proxy_start "127.0.0.1:$pd:1:1" -- "health_check http /health" \
	    "health_interval 300ms" "connect_timeout 500ms"
	wait_for log_has "backend 127\.0\.0\.1:$pd down"
	python3 "$BACKEND_PY" --port "$pd" --name bd \
	    --pidfile "$BATS_FILE_TMPDIR/bd.pid" \
	    --tls-cert "$BATS_FILE_TMPDIR/pki/srv.crt" \
	    --tls-key "$BATS_FILE_TMPDIR/pki/srv.key" \
	    </dev/null >/dev/null 2>&1 3>&- &
	wait_for log_has "backend 127\.0\.0\.1:$pd up"
	http_get /x
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr X-Backend)" bd
	stop_backend bd
}

@test "-t: bad backend_tls values and a missing CA file name file:line" {
	local ca=$BATS_TEST_TMPDIR/none.pem
	write_conf "backend_tls maybe" "backend_tls_verify sometimes" \
	    "backend_tls_ca $ca" "backend_tls_name bad_name!"
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_failure
	assert_output --partial "$MTD_CONF:$(conf_line 'backend_tls maybe'): backend_tls: invalid value \"maybe\""
	assert_output --partial "$MTD_CONF:$(conf_line 'backend_tls_verify sometimes'): backend_tls_verify: invalid value \"sometimes\""
	assert_output --partial "$MTD_CONF:$(conf_line "backend_tls_ca $ca"): backend_tls_ca \"$ca\": No such file or directory"
	assert_output --partial "$MTD_CONF:$(conf_line 'backend_tls_name bad_name!'): backend_tls_name: invalid value \"bad_name!\""
}

@test "-t: a CA file without certificates names its line" {
	local ca=$BATS_TEST_TMPDIR/junk.pem
	printf 'not a certificate\n' >"$ca"
	write_conf "backend_tls on" "backend_tls_ca $ca"
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_failure
	assert_output --partial "$MTD_CONF:$(conf_line "backend_tls_ca $ca"): backend_tls_ca $ca"
	write_conf "backend_tls on" \
	    "backend_tls_ca $BATS_FILE_TMPDIR/pki/ca.crt"
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_success
}

@test "reload with a missing CA file keeps the running configuration" {
	proxy_start "127.0.0.1:$P1:1:3"
	sed -i '/^backend_tls_ca /d' "$MTD_CONF"
	printf 'backend_tls_ca %s/gone.pem\n' "$BATS_TEST_TMPDIR" >>"$MTD_CONF"
	kill -HUP "$MAITRED_PID"
	wait_for log_has "reload failed, keeping the running configuration"
	log_has "maitred\.conf:$(conf_line "backend_tls_ca $BATS_TEST_TMPDIR/gone.pem"): backend_tls_ca"
	http_get /hello
	assert_equal "$HTTP_CODE" 200
}

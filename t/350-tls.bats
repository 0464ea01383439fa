#!/usr/bin/env bats
# TLS termination: "listen ... ssl", default and SNI certificates, TLS 1.2+
# only, keep-alive, large files, stalled handshakes, reload with renewed
# certificates, configuration errors. A test CA and the server
# certificates are made with the openssl CLI in setup_file.

load helpers

BACKEND_PY=$BATS_TEST_DIRNAME/backend.py

# mkcert NAME CN SAN: a key and a certificate signed by the test CA.
mkcert() {
	local d=$MTD_DIR/pki
	openssl req -newkey rsa:2048 -nodes -keyout "$d/$1.key" \
	    -out "$d/$1.csr" -subj "/CN=$2" 2>/dev/null || return 1
	printf 'subjectAltName=%s\n' "$3" >"$d/$1.ext"
	openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
	    -CAcreateserial -out "$d/$1.crt" -days 2 -extfile "$d/$1.ext" \
	    2>/dev/null
}

setup_file() {
	local d
	export MTD_DIR=$BATS_FILE_TMPDIR
	d=$MTD_DIR/pki
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" \
	    -out "$d/ca.crt" -days 2 -subj "/CN=maitred test CA" 2>/dev/null
	mkcert srv localhost "DNS:localhost,IP:127.0.0.1"
	mkcert other other.test "DNS:other.test"
	mkcert wild wild.test "DNS:*.wild.test"
	mkcert dotted dotted.test "DNS:dotted.test"
	BPORT=$(free_port)
	python3 "$BACKEND_PY" --port "$BPORT" --name b1 \
	    --pidfile "$MTD_DIR/b1.pid" </dev/null >/dev/null 2>&1 3>&- &
	wait_for port_listening "$BPORT"
	printf '127.0.0.1:%s:1:3\n' "$BPORT" >"$MTD_DIR/backends.cfg"
	echo '/cached/*:60:100000' >"$MTD_DIR/cache_rules.cfg"
	TPORT=$(free_port)
	export BPORT TPORT
	write_conf "listen 127.0.0.1:$TPORT ssl" \
	    "ssl_certificate $d/srv.crt" "ssl_certificate_key $d/srv.key" \
	    "ssl_sni other.test $d/other.crt $d/other.key" \
	    "ssl_sni *.wild.test $d/wild.crt $d/wild.key" \
	    "ssl_sni Dotted.test. $d/dotted.crt $d/dotted.key" \
	    "backends $MTD_DIR/backends.cfg" "client_timeout 2s" \
	    "sticky cookie SRV" "cache_rules $MTD_DIR/cache_rules.cfg"
	head -c $((5 * 1024 * 1024)) /dev/urandom >"$MTD_DIR/htdocs/big.bin"
	printf '<?php echo getenv("HTTPS"), " ", $_SERVER["SERVER_PORT"], " ",
	    strlen(file_get_contents("php://input")), "\n";\n' \
	    >"$MTD_DIR/htdocs/tls.php"
	maitred_start
	wait_for port_listening "$TPORT"
}

teardown_file() {
	local p
	common_teardown
	p=$(cat "$MTD_DIR/b1.pid" 2>/dev/null) || return 0
	kill -TERM "$p" 2>/dev/null || true
	wait_gone "$p" 3 || kill -KILL "$p" 2>/dev/null || true
}

teardown() {
	if [ -n "${SLOW_PID:-}" ]; then
		kill "$SLOW_PID" 2>/dev/null || true
		wait "$SLOW_PID" 2>/dev/null || true
	fi
	if [ -n "${OWN_PID:-}" ]; then
		MAITRED_PID=$OWN_PID
		maitred_stop
	fi
}

# turl PATH: https://127.0.0.1:$TPORT/PATH
turl() {
	printf 'https://127.0.0.1:%s%s\n' "$TPORT" "$1"
}

tcurl() {
	curl -s --cacert "$MTD_DIR/pki/ca.crt" "$@"
}

# subject_of NAME: the subject of the certificate presented for SNI NAME.
subject_of() {
	openssl s_client -connect "127.0.0.1:$TPORT" -servername "$1" \
	    </dev/null 2>/dev/null | sed -n 's/^subject=//p'
}

@test "GET over TLS: a static file, 200 and the exact body" {
	run tcurl -w '%{http_code}' -o "$BATS_TEST_TMPDIR/b" \
	    "$(turl /hello.txt)"
	assert_success
	assert_output 200
	assert_equal "$(cat "$BATS_TEST_TMPDIR/b")" "hello from maitred"
}

@test "several ranges over TLS: a multipart/byteranges 206, parts exact" {
	local b=$BATS_TEST_TMPDIR/b h=$BATS_TEST_TMPDIR/h ct
	run tcurl -D "$h" -o "$b" -w '%{http_code}' \
	    -H 'Range: bytes=0-99,1000000-2999999,-70000' "$(turl /big.bin)"
	assert_output 206
	ct=$(sed -n 's/^[Cc]ontent-[Tt]ype: \(.*\)\r$/\1/p' "$h")
	run python3 "$BATS_TEST_DIRNAME/lib/multipart_check.py" "$ct" "$b" \
	    "$MTD_DIR/htdocs/big.bin" application/octet-stream 0-99 \
	    1000000-2999999 5172880-5242879
	assert_success
	assert_output "ok 3 parts"
}

@test "GET over TLS through the proxy: X-Forwarded-Proto https" {
	run tcurl "$(turl /echo)"
	assert_success
	assert_output --regexp '"x-forwarded-proto": "https"'
}

@test "POST 3 MB over TLS through the proxy arrives intact" {
	local f=$BATS_TEST_TMPDIR/post.bin sum
	head -c $((3 * 1024 * 1024)) /dev/urandom >"$f"
	sum=$(sha256sum "$f" | cut -d' ' -f1)
	run tcurl --data-binary "@$f" "$(turl /echo)"
	assert_success
	assert_output --partial "\"body_sha256\": \"$sum\""
}

@test "PHP over TLS: HTTPS=on, SERVER_PORT is the TLS port, body read" {
	[ -x /usr/bin/php-cgi ] || skip "no php-cgi"
	run tcurl --data-binary 'abcdef' "$(turl /tls.php)"
	assert_success
	assert_output "on $TPORT 6"
	run curl -s "$(url /tls.php)"
	assert_output " $PORT 0"
}

@test "the sticky cookie is Secure over HTTPS only" {
	run tcurl -D - -o /dev/null "$(turl /echo)"
	assert_line --regexp '^Set-Cookie: SRV=[0-9a-f]+; Path=/; HttpOnly; SameSite=Lax; Secure'
	run curl -s -D - -o /dev/null "$(url /echo)"
	assert_line --regexp '^Set-Cookie: SRV=[0-9a-f]+; Path=/; HttpOnly; SameSite=Lax'
	refute_output --partial Secure
}

@test "plain HTTP sent to the TLS port gets a plain 400 that says so" {
	run curl -s -m 5 -w '\n%{http_code}' "http://127.0.0.1:$TPORT/hello.txt?plain"
	assert_line 'The plain HTTP request was sent to the HTTPS port.'
	assert_line 400
	# logged as any 400, with its request line
	assert wait_for grep -q '"GET /hello.txt?plain HTTP/1.1" 400 ' "$MTD_DIR/access.log"
	# and HTTPS on it still works
	run tcurl -o /dev/null -w '%{http_code}' "$(turl /hello.txt)"
	assert_output 200
}

@test "plain HTTP to the TLS port after a pause still gets the 400, not a reset" {
	# the worker reads at accept, before any byte: the request comes later
	run python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(0.3)
s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
s.settimeout(5)
out = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        out += d
except OSError as e:
    out += ("\n[%s]" % e).encode()
sys.stdout.write(out.decode("latin1"))
' "$TPORT"
	assert_line --index 0 --regexp '^HTTP/1\.1 400 '
	assert_line 'The plain HTTP request was sent to the HTTPS port.'
	refute_output --partial 'reset'
}

@test "the cache keeps http and https answers apart; PURGE drops both" {
	# one Host for both listeners, as behind one name
	_xc() { "$@" -H 'Host: site.test' -s -o /dev/null -D - |
	    tr -d '\r' | sed -n 's/^X-Cache: //p'; }
	assert_equal "$(_xc curl "$(url /cached/s.txt)")" MISS
	# a backend may answer http with a redirect to https: never replayed
	assert_equal "$(_xc tcurl "$(turl /cached/s.txt)")" MISS
	assert_equal "$(_xc tcurl "$(turl /cached/s.txt)")" HIT
	assert_equal "$(_xc curl "$(url /cached/s.txt)")" HIT
	run curl -s -X PURGE -H 'Host: site.test' "$(url /cached/s.txt)"
	assert_output purged
	assert_equal "$(_xc tcurl "$(turl /cached/s.txt)")" MISS
	assert_equal "$(_xc curl "$(url /cached/s.txt)")" MISS
}

@test "plain HTTP on the other listener still works (proto http)" {
	http_get /hello.txt
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(cat "$HTTP_BODY")" "hello from maitred"
	run curl -s "$(url /echo)"
	assert_output --regexp '"x-forwarded-proto": "http"'
}

@test "ALPN: http/1.1 is selected" {
	run tcurl -v -o /dev/null "$(turl /hello.txt)"
	assert_output --partial 'ALPN: server accepted http/1.1'
}

@test "SNI picks the matching certificate, else the default" {
	run subject_of other.test
	assert_output --partial 'other.test'
	run subject_of a.wild.test
	assert_output --partial 'wild.test'
	run subject_of unknown.test
	assert_output --partial 'localhost'
	# a trailing dot is the same name; "*." needs a label before it
	run subject_of other.test.
	assert_output --partial 'other.test'
	run subject_of a.wild.test.
	assert_output --partial 'wild.test'
	run subject_of .wild.test
	assert_output --partial 'localhost'
	# configured with a trailing dot (and capitals): the same name
	run subject_of dotted.test
	assert_output --partial 'dotted.test'
	run subject_of DOTTED.test.
	assert_output --partial 'dotted.test'
	run tcurl --resolve "other.test:$TPORT:127.0.0.1" \
	    "https://other.test:$TPORT/hello.txt"
	assert_success
	assert_output "hello from maitred"
}

@test "TLS 1.0 and 1.1 are refused, 1.2 and 1.3 accepted" {
	run tcurl --tlsv1.1 --tls-max 1.1 "$(turl /hello.txt)"
	assert_failure
	run tcurl --tlsv1 --tls-max 1.0 "$(turl /hello.txt)"
	assert_failure
	run tcurl --tlsv1.2 --tls-max 1.2 "$(turl /hello.txt)"
	assert_output "hello from maitred"
	run tcurl --tlsv1.3 "$(turl /hello.txt)"
	assert_output "hello from maitred"
}

@test "keep-alive over TLS: two requests, one connection" {
	run tcurl -v "$(turl /hello.txt)" "$(turl /style.css)"
	assert_success
	assert_output --partial 'Re-using existing connection'
	assert_output --partial 'hello from maitred'
	assert_output --partial 'color: black'
}

@test "Connection: close over TLS: answer, close_notify, close" {
	run tcurl -v -H 'Connection: close' "$(turl /hello.txt)"
	assert_success
	assert_output --partial 'hello from maitred'
	run tcurl --http1.0 "$(turl /hello.txt)" "$(turl /style.css)"
	assert_success
	assert_output --partial 'color: black'
}

@test "a 5 MB file over TLS is byte-exact" {
	tcurl -o "$BATS_TEST_TMPDIR/big" "$(turl /big.bin)"
	cmp "$BATS_TEST_TMPDIR/big" "$MTD_DIR/htdocs/big.bin"
}

# buffered_past N: the own instance put more than N answer bytes in
# temp_dir files.
buffered_past() {
	[ "$(curl -s "http://127.0.0.1:$PORT/maitred/metrics" | awk '
	    $1 == "maitred_bytes_buffered_total" { print $2 }')" -gt "$1" ]
}

# idle_backends: the own instance's backends have no connection in use.
idle_backends() {
	curl -s "http://127.0.0.1:$PORT/maitred/status" | python3 -c '
import json, sys
sys.exit(any(b["active"] for b in json.load(sys.stdin)["backends"]))'
}

@test "a slow TLS client: the proxied answer waits in temp_dir, arrives whole" {
	local tp d=$MTD_DIR/pki want
	MTD_DIR=$BATS_TEST_TMPDIR
	PORT=$(free_port)
	tp=$(free_port)
	write_conf "listen 127.0.0.1:$tp ssl" \
	    "ssl_certificate $d/srv.crt" "ssl_certificate_key $d/srv.key" \
	    "backends $BATS_FILE_TMPDIR/backends.cfg" \
	    "status_path /maitred/status" "status_allow 127.0.0.1" \
	    "temp_dir $BATS_TEST_TMPDIR"
	maitred_start
	OWN_PID=$MAITRED_PID
	"$BATS_TEST_DIRNAME"/lib/slowreader.py --tls "$d/ca.crt" "$tp" \
	    '/big?bytes=12000000' "$BATS_TEST_TMPDIR/slow" \
	    "$BATS_TEST_TMPDIR/go" 60 &
	SLOW_PID=$!
	# All read from the backend, which is free while the client waits.
	assert wait_for buffered_past 1000000
	assert wait_for idle_backends
	touch "$BATS_TEST_TMPDIR/go"
	wait "$SLOW_PID" || fail "slow TLS reader: exit $?"
	want=$(python3 -c '
import hashlib
p = bytes(i % 251 for i in range(251)); n = 12000000
print(hashlib.sha256((p * (n // 251 + 1))[:n]).hexdigest())')
	head -n 1 "$BATS_TEST_TMPDIR/slow.head" | grep -q '^HTTP/1.1 200 '
	assert_equal "$(sha256sum <"$BATS_TEST_TMPDIR/slow" | cut -d' ' -f1)" \
	    "$want"
}

@test "a TLS 1.2 session resumes (tickets shared by the workers)" {
	local s=$BATS_TEST_TMPDIR/sess.pem i
	openssl s_client -connect "127.0.0.1:$TPORT" -tls1_2 -sess_out "$s" \
	    </dev/null >/dev/null 2>&1
	for i in 1 2 3 4; do
		run openssl s_client -connect "127.0.0.1:$TPORT" -tls1_2 \
		    -sess_in "$s" </dev/null
		assert_output --partial 'Reused, TLSv1.2'
	done
}

@test "stalled handshakes do not block other clients, and time out" {
	run python3 - "$TPORT" "$MTD_DIR/pki/ca.crt" <<'PY'
import socket, subprocess, sys, time
port = int(sys.argv[1])
silent = socket.create_connection(("127.0.0.1", port))
half = socket.create_connection(("127.0.0.1", port))
half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
t = time.time()
r = subprocess.run(["curl", "-s", "-m", "5", "--cacert", sys.argv[2],
    "https://127.0.0.1:%d/hello.txt" % port], capture_output=True)
print("body=%s took=%.2f" % (r.stdout.decode().strip(), time.time() - t))
silent.settimeout(6)
t = time.time()
print("closed=%r after=%.1f" % (silent.recv(100), time.time() - t))
PY
	assert_success
	assert_output --partial 'body=hello from maitred'
	assert_output --partial "closed=b''"
	less_than "$(printf '%s\n' "$output" | sed -n 's/.*took=//p')" 2
}

@test "reload (HUP) picks up a renewed certificate" {
	local before after
	before=$(openssl s_client -connect "127.0.0.1:$TPORT" </dev/null \
	    2>/dev/null | openssl x509 -noout -serial)
	mkcert srv localhost "DNS:localhost,IP:127.0.0.1"
	kill -HUP "$MAITRED_PID"
	wait_for -t 10 bash -c "[ \"\$(openssl s_client -connect \
	    127.0.0.1:$TPORT </dev/null 2>/dev/null | \
	    openssl x509 -noout -serial)\" != '$before' ]"
	after=$(openssl s_client -connect "127.0.0.1:$TPORT" </dev/null \
	    2>/dev/null | openssl x509 -noout -serial)
	assert_equal "$after" "$(openssl x509 -noout -serial \
	    -in "$MTD_DIR/pki/srv.crt")"
	run tcurl "$(turl /hello.txt)"
	assert_output "hello from maitred"
}

# conf_t LINE...: maitred -t on a config with these lines.
conf_t() {
	local d=$BATS_TEST_TMPDIR
	printf '%s\n' "listen 127.0.0.1:$(free_port) ssl" "error_log $d/e.log" \
	    "$@" >"$d/t.conf"
	run "$MAITRED" -t -c "$d/t.conf"
}

@test "-t: listen ssl without a certificate" {
	conf_t
	assert_failure 1
	assert_output --regexp 't\.conf:1: .*ssl_certificate'
}

@test "-t: missing key file" {
	local p=$MTD_DIR/pki
	conf_t "ssl_certificate $p/srv.crt" "ssl_certificate_key $p/nope.key"
	assert_failure 1
	assert_output --regexp 't\.conf:4: key .*nope\.key: No such file'
}

@test "-t: key that does not match the certificate" {
	local p=$MTD_DIR/pki
	conf_t "ssl_certificate $p/srv.crt" "ssl_certificate_key $p/other.key"
	assert_failure 1
	assert_output --regexp 't\.conf:4: .*does not match'
}

@test "-t: missing certificate, bad SNI file, bad listen flag" {
	local p=$MTD_DIR/pki
	conf_t "ssl_certificate $p/none.crt" "ssl_certificate_key $p/srv.key"
	assert_failure 1
	assert_output --regexp 't\.conf:3: certificate .*none\.crt'
	conf_t "ssl_certificate $p/srv.crt" "ssl_certificate_key $p/srv.key" \
	    "ssl_sni x.test $p/srv.crt $p/other.key"
	assert_failure 1
	assert_output --regexp 't\.conf:5: .*does not match'
	# a name given twice (case and a trailing dot aside): the second
	# certificate would never be served
	conf_t "ssl_certificate $p/srv.crt" "ssl_certificate_key $p/srv.key" \
	    "ssl_sni b.test $p/srv.crt $p/srv.key" \
	    "ssl_sni B.test. $p/other.crt $p/other.key"
	assert_failure 1
	assert_output --partial 't.conf:6: ssl_sni: B.test is already named at line 5'
	conf_t "listen 127.0.0.1:1 tls"
	assert_failure 1
	assert_output --regexp 't\.conf:3: listen'
	conf_t "ssl_certificate $p/srv.crt" "ssl_certificate_key $p/srv.key"
	assert_success
}

@test "-t: an encrypted key, garbage, a directory: named plainly, no prompt" {
	local p=$MTD_DIR/pki d=$BATS_TEST_TMPDIR
	openssl pkey -in "$p/srv.key" -aes256 -passout pass:secret \
	    -out "$d/enc.key" 2>/dev/null
	echo junk >"$d/junk.crt"
	# before, OpenSSL asked for a pass phrase (on a terminal: waited)
	conf_t "ssl_certificate $p/srv.crt" "ssl_certificate_key $d/enc.key"
	assert_failure 1
	assert_output --regexp 't\.conf:4: key .*enc\.key is passphrase-protected'
	refute_output --partial 'pass phrase'
	conf_t "ssl_certificate $d/junk.crt" "ssl_certificate_key $p/srv.key"
	assert_failure 1
	assert_output --regexp 't\.conf:3: certificate .*junk\.crt: no start line'
	conf_t "ssl_certificate $d" "ssl_certificate_key $p/srv.key"
	assert_failure 1
	assert_output --regexp 't\.conf:3: certificate .*: Is a directory'
}

@test "a TLS client whose request and close arrive together is answered and closed at once" {
	# before: the close was read inside OpenSSL with the request, no
	# event followed, and the connection waited for keepalive_timeout
	run timeout 20 python3 - "$TPORT" "$MTD_DIR/pki/ca.crt" <<'PY'
import os, socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s = ctx.wrap_socket(raw, server_hostname="localhost")
s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
# FIN right behind the request, on a duplicate of the TLS socket's fd
socket.socket(fileno=os.dup(s.fileno())).shutdown(socket.SHUT_WR)
t0 = time.monotonic()
data = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except (ssl.SSLError, OSError):
    pass
print(data.split(b"\r\n")[0].decode())
print("closed within 3 s:", time.monotonic() - t0 < 3)
PY
	assert_line 'HTTP/1.1 200 OK'
	assert_line 'closed within 3 s: True'
}

@test "requests over TLS in many records, together or apart, pipelined: each answered" {
	# Read-ahead takes several records in one read(2): each request in
	# them must be answered without waiting for another event.
	run timeout 20 python3 - "$TPORT" "$MTD_DIR/pki/ca.crt" <<'PY'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
raw.settimeout(5)
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(inc, out, server_hostname="localhost")
def flush():
    raw.sendall(out.read())
while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        flush()
        d = raw.recv(65536)
        if not d:
            sys.exit("closed in the handshake")
        inc.write(d)
flush()
def records(*pieces):
    """Each piece its own TLS record, all of them in one send()."""
    for p in pieces:
        tls.write(p)
    flush()
req = b"GET /hello.txt?%d HTTP/1.1\r\nHost: x\r\n\r\n"
r1, r2 = req % 1, req % 2
records(r1[:15])                        # a request cut in two, apart
time.sleep(0.3)
records(r1[15:])
# Then, with nothing after them: one request in three records, and two
# in one record, all in one segment.
last = b"GET /hello.txt?4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
records(r2[:10], r2[10:20], r2[20:], req % 3 + last)
data = b""
try:
    while True:
        try:
            d = tls.read(65536)
            if not d:
                break                   # close_notify
            data += d
        except ssl.SSLWantReadError:
            d = raw.recv(65536)
            if not d:
                break
            inc.write(d)
except (ssl.SSLError, OSError):
    pass
print("answers:", data.count(b"HTTP/1.1 200 OK"))
PY
	assert_output 'answers: 4'
}

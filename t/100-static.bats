#!/usr/bin/env bats
# Static files from htdocs: types, lengths, HEAD, directories, validators,
# ranges, permissions, path traversal, methods, names added and removed
# while running (the docroot index). One maitred for the file.

load helpers

setup_file() {
	export MTD_DIR=$BATS_FILE_TMPDIR
	write_conf
	local h=$MTD_DIR/htdocs
	head -c $((5 * 1024 * 1024 + 123)) /dev/urandom >"$h/big.bin"
	printf 'locked\n' >"$h/locked.txt"
	mkdir -p "$h/.hidden"
	printf 'hidden dir file\n' >"$h/.hidden/file.txt"
	# a canary outside htdocs that must never be served
	CANARY="CANARY-$RANDOM$RANDOM-outside-htdocs"
	export CANARY
	printf '%s\n' "$CANARY" >"$MTD_DIR/canary.txt"
	ln -s "$MTD_DIR" "$h/outside"
	ln -s ../canary.txt "$h/leak.txt"
	ln -s "$MTD_DIR/canary.txt" "$h/abs.txt"
	# absolute links that stay inside, as deploy tools make them
	ln -s "$h/hello.txt" "$h/abs-in.txt"
	ln -s "$h/sub" "$h/abs-dir"
	printf 'from the future\n' >"$h/future.txt"
	touch -d '2100-01-01 00:00:00 UTC' "$h/future.txt"
	printf 'accented name\n' >"$h/caf"$'\303\251'.txt
	printf 'G@not really a transport stream\n' >"$h/seg.ts"
	maitred_start
}

teardown_file() {
	common_teardown
}

teardown() {
	own_teardown
	[ -z "${OWN_DIR:-}" ] || rm -rf "$OWN_DIR"
}

# fetch PATH: raw GET with Connection: close; the response in $output.
fetch() {
	run bash -c 'printf "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" "$1" |
	    python3 "$2" 127.0.0.1 "$3"' _ "$1" "$RAWHTTP" "$PORT"
}

@test "GET / serves index.html" {
	http_get /
	assert_equal "$HTTP_CODE" 200
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/index.html"
	assert_equal "$(hdr Server)" maitred
	hdr Date
}

@test "GET /index.html and a nested file" {
	http_get /index.html
	assert_equal "$HTTP_CODE" 200
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/index.html"
	http_get /sub/deeper/nested.txt
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(cat "$HTTP_BODY")" "nested file"
}

@test "Content-Type from the extension" {
	http_get /index.html
	assert_equal "$(hdr Content-Type)" "text/html"
	http_get /style.css
	assert_equal "$(hdr Content-Type)" "text/css"
	http_get /hello.txt
	assert_equal "$(hdr Content-Type)" "text/plain"
	http_get /image.png
	assert_equal "$(hdr Content-Type)" image/png
	http_get /data.zzqq
	assert_equal "$(hdr Content-Type)" application/octet-stream
	# HLS segments: Debian's mime.types says Qt Linguist, the web video
	http_get /seg.ts
	assert_equal "$(hdr Content-Type)" video/mp2t
}

@test "charset utf-8: text files say it in Content-Type, other types do not" {
	OWN_DIR=$(mktemp -d /tmp/maitred-tcs.XXXXXX)
	MTD_DIR=$OWN_DIR
	PORT=$(free_port)
	WORKERS=1 write_conf "charset utf-8"
	maitred_start
	OWN_PID=$MAITRED_PID
	http_get /index.html
	assert_equal "$(hdr Content-Type)" "text/html; charset=utf-8"
	http_get /hello.txt
	assert_equal "$(hdr Content-Type)" "text/plain; charset=utf-8"
	http_get /image.png
	assert_equal "$(hdr Content-Type)" image/png
}

@test "Content-Length and body are exact; Accept-Ranges: bytes" {
	for f in hello.txt style.css image.png onek.bin; do
		http_get "/$f"
		assert_equal "$HTTP_CODE" 200
		assert_equal "$(hdr Content-Length)" \
		    "$(stat -c %s "$MTD_DIR/htdocs/$f")"
		cmp "$HTTP_BODY" "$MTD_DIR/htdocs/$f"
	done
	assert_equal "$(hdr Accept-Ranges)" bytes
}

@test "a 1 KB binary file is served byte-exact" {
	http_get /onek.bin
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(stat -c %s "$HTTP_BODY")" 1024
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/onek.bin"
}

@test "a 5 MB file is served byte-exact (sha256)" {
	http_get /big.bin
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Content-Length)" $((5 * 1024 * 1024 + 123))
	want=$(sha256sum <"$MTD_DIR/htdocs/big.bin")
	got=$(sha256sum <"$HTTP_BODY")
	assert_equal "$got" "$want"
}

@test "HEAD: same headers, no body" {
	http_get /hello.txt -I
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Content-Length)" 19
	[[ "$(hdr Content-Type)" == text/plain* ]]
	run bash -c 'printf "HEAD /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" |
	    python3 "$1" 127.0.0.1 "$2"' _ "$RAWHTTP" "$PORT"
	assert_line --index 0 --partial "HTTP/1.1 200"
	# nothing after the blank line
	body=$(printf '%s' "$output" | tr -d '\r' | sed '1,/^$/d')
	assert_equal "$body" ""
	refute_output --partial "hello from maitred"
}

@test "a missing file is 404 with the HTML error body" {
	http_get /nothere.html
	assert_equal "$HTTP_CODE" 404
	assert_equal "$(hdr Content-Type)" "text/html; charset=utf-8"
	run cat "$HTTP_BODY"
	assert_output --partial "<title>404 Not Found</title>"
}

@test "a directory without the slash is 301 to the slash" {
	http_get /sub
	assert_equal "$HTTP_CODE" 301
	[[ "$(hdr Location)" == */sub/ ]]
	# the redirect keeps the connection: one connection for both
	run curl -s -o /dev/null -L -w '%{http_code} %{num_connects}\n' "$(url /sub)"
	assert_output '200 1'
}

@test "the slash redirect names the normalised path, never another site" {
	mkdir -p "$MTD_DIR/htdocs/a b"
	local v
	for v in '//evil.example/../sub' '//evil.example/%2e%2e/sub' \
	    '/./sub' '/x/../sub' '/%73ub'; do
		fetch "$v"
		assert_equal "$v $(first_status)" "$v 301"
		assert_line --regexp '^Location: /sub/'$'\r''?$'
	done
	fetch '//evil.example/../sub?x=1'
	assert_line --regexp '^Location: /sub/\?x=1'$'\r''?$'
	# decoded for the lookup, encoded again for the Location
	fetch '/a%20b'
	assert_equal "$(first_status)" 301
	assert_line --regexp '^Location: /a%20b/'$'\r''?$'
}

@test "a directory with index.html serves it" {
	http_get /sub/
	assert_equal "$HTTP_CODE" 200
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/sub/index.html"
}

@test "a directory without index.html is 404, no listing" {
	http_get /noindex/
	assert_equal "$HTTP_CODE" 404
	run cat "$HTTP_BODY"
	refute_output --partial readme.txt
}

@test "dotfiles and dot directories are 404 (no backends)" {
	for p in /.secret /.hidden/file.txt /sub/../.secret; do
		http_get "$p"
		assert_equal "$HTTP_CODE" 404
		run cat "$HTTP_BODY"
		refute_output --partial SECRET
		refute_output --partial "hidden dir file"
	done
}

@test "ETag and Last-Modified describe the file" {
	http_get /hello.txt
	f=$MTD_DIR/htdocs/hello.txt
	want=$(printf '"%x-%x"' "$(stat -c %Y "$f")" "$(stat -c %s "$f")")
	assert_equal "$(hdr ETag)" "$want"
	assert_equal "$(hdr Last-Modified)" \
	    "$(TZ=GMT date -d "@$(stat -c %Y "$f")" '+%a, %d %b %Y %H:%M:%S GMT')"
}

@test "If-None-Match with the ETag is 304 without a body" {
	http_get /hello.txt
	etag=$(hdr ETag)
	http_get /hello.txt -H "If-None-Match: $etag"
	assert_equal "$HTTP_CODE" 304
	assert_equal "$(stat -c %s "$HTTP_BODY")" 0
	http_get /hello.txt -H 'If-None-Match: "nope-1"'
	assert_equal "$HTTP_CODE" 200
}

@test "If-Modified-Since: current -> 304, stale -> 200" {
	http_get /hello.txt
	lm=$(hdr Last-Modified)
	http_get /hello.txt -H "If-Modified-Since: $lm"
	assert_equal "$HTTP_CODE" 304
	assert_equal "$(stat -c %s "$HTTP_BODY")" 0
	http_get /hello.txt -H "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT"
	assert_equal "$HTTP_CODE" 200
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/hello.txt"
	# a date in the future is invalid: ignored (RFC 9110 13.1.3)
	http_get /hello.txt -H "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"
	assert_equal "$HTTP_CODE" 200
}

@test "If-Match and If-Unmodified-Since: 412 when false, before anything else" {
	http_get /hello.txt
	etag=$(hdr ETag)
	lm=$(hdr Last-Modified)
	for h in 'If-Match: "nope-1"' "If-Match: W/$etag" \
	    'If-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT'; do
		http_get /hello.txt -H "$h"
		assert_equal "$HTTP_CODE" 412
		http_get /hello.txt -H "$h" -H 'Range: bytes=0-1'
		assert_equal "$HTTP_CODE" 412
		http_get /hello.txt -H "$h" -H "If-None-Match: $etag"
		assert_equal "$HTTP_CODE" 412
	done
	for h in "If-Match: $etag" 'If-Match: "x", '"$etag" 'If-Match: *' \
	    "If-Unmodified-Since: $lm" 'If-Unmodified-Since: garbage'; do
		http_get /hello.txt -H "$h"
		assert_equal "$HTTP_CODE" 200
		cmp "$HTTP_BODY" "$MTD_DIR/htdocs/hello.txt"
	done
	# If-Match wins over a stale If-Unmodified-Since (RFC 9110 13.2.2)
	http_get /hello.txt -H "If-Match: $etag" \
	    -H 'If-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT'
	assert_equal "$HTTP_CODE" 200
}

@test "If-None-Match: * matches only as the whole value" {
	http_get /hello.txt -H 'If-None-Match: *'
	assert_equal "$HTTP_CODE" 304
	http_get /hello.txt -H 'If-None-Match: *junk'
	assert_equal "$HTTP_CODE" 200
	http_get /hello.txt -H 'If-None-Match: "a", *'
	assert_equal "$HTTP_CODE" 200
}

# status_of LINE...: the status of GET /hello.txt sent with these field
# lines (raw: curl might merge or reorder them).
status_of() {
	local l h=
	for l in "$@"; do
		h="$h$l\r\n"
	done
	raw --timeout 3 "GET /hello.txt HTTP/1.1\r\nHost: x\r\n${h}Connection: close\r\n\r\n" |
	    head -n 1 | cut -d' ' -f2
}

@test "If-None-Match and If-Match on several lines are one list (RFC 9110 5.3)" {
	http_get /hello.txt
	etag=$(hdr ETag)
	assert_equal "$(status_of 'If-None-Match: "a"' "If-None-Match: $etag")" 304
	assert_equal "$(status_of "If-None-Match: $etag" 'If-None-Match: "a"')" 304
	assert_equal "$(status_of 'If-None-Match: "a"' 'If-None-Match: "b"')" 200
	assert_equal "$(status_of 'If-Match: "a"' "If-Match: $etag")" 200
	assert_equal "$(status_of 'If-Match: "a"' 'If-Match: "b"')" 412
	assert_equal "$(status_of 'If-Match: "a"' "if-match: $etag" \
	    'If-None-Match: "b"' "If-None-Match: W/$etag")" 304
}

@test "a file dated in the future: Last-Modified is now, never later (RFC 9110 8.8.2.1)" {
	local before lm etag
	before=$(date +%s)
	http_get /future.txt
	assert_equal "$HTTP_CODE" 200
	lm=$(date -d "$(hdr Last-Modified)" +%s)
	[ "$lm" -ge "$before" ] && [ "$lm" -le "$(date +%s)" ]
	# the date moves with the clock: its ETag is what revalidates it
	etag=$(hdr ETag)
	http_get /future.txt -H "If-None-Match: $etag"
	assert_equal "$HTTP_CODE" 304
}

@test "Range bytes=0-9 is 206 with Content-Range and 10 bytes" {
	http_get /hello.txt -H "Range: bytes=0-9"
	assert_equal "$HTTP_CODE" 206
	assert_equal "$(hdr Content-Range)" "bytes 0-9/19"
	assert_equal "$(hdr Content-Length)" 10
	assert_equal "$(cat "$HTTP_BODY")" "hello from"
}

@test "a suffix range bytes=-5 is the last 5 bytes" {
	http_get /onek.bin -H "Range: bytes=-5"
	assert_equal "$HTTP_CODE" 206
	assert_equal "$(hdr Content-Range)" "bytes 1019-1023/1024"
	tail -c 5 "$MTD_DIR/htdocs/onek.bin" | cmp - "$HTTP_BODY"
}

@test "an open range bytes=1000- goes to the end" {
	http_get /onek.bin -H "Range: bytes=1000-"
	assert_equal "$HTTP_CODE" 206
	assert_equal "$(hdr Content-Range)" "bytes 1000-1023/1024"
	tail -c 24 "$MTD_DIR/htdocs/onek.bin" | cmp - "$HTTP_BODY"
}

@test "an unsatisfiable range is 416 with Content-Range bytes */size" {
	http_get /hello.txt -H "Range: bytes=19-"
	assert_equal "$HTTP_CODE" 416
	assert_equal "$(hdr Content-Range)" "bytes */19"
	http_get /hello.txt -H "Range: bytes=500-600"
	assert_equal "$HTTP_CODE" 416
}

# multipart_ok FILE TYPE RANGE...: the last answer is a multipart/byteranges
# 206 of htdocs/FILE with parts of TYPE for the RANGEs, its length exact.
multipart_ok() {
	local f=$1 t=$2
	shift 2
	assert_equal "$HTTP_CODE" 206
	assert_equal "$(hdr Content-Length)" "$(stat -c %s "$HTTP_BODY")"
	run ! hdr Content-Range
	run python3 "$BATS_TEST_DIRNAME/lib/multipart_check.py" \
	    "$(hdr Content-Type)" "$HTTP_BODY" "$MTD_DIR/htdocs/$f" "$t" "$@"
	assert_success
	assert_output "ok $# parts"
}

@test "several ranges are one multipart/byteranges 206, parts in the order asked" {
	http_get /hello.txt -H "Range: bytes=0-1,4-5"
	multipart_ok hello.txt "$(curl -s -o /dev/null -w '%{content_type}' "$(url /hello.txt)")" 0-1 4-5
	http_get /onek.bin -H "Range: bytes=1000-, 0-0,,-3"
	multipart_ok onek.bin application/octet-stream 1000-1023 0-0 1021-1023
	# an unsatisfiable range among them is left out
	http_get /onek.bin -H "Range: bytes=5000-6000,10-19,20-29"
	multipart_ok onek.bin application/octet-stream 10-19 20-29
	# one satisfiable range left: a plain 206
	http_get /onek.bin -H "Range: bytes=5000-6000,10-19"
	assert_equal "$HTTP_CODE" 206
	assert_equal "$(hdr Content-Range)" "bytes 10-19/1024"
}

@test "multipart ranges of a 5 MB file go out whole (sendfile, partial sends)" {
	http_get /big.bin -H "Range: bytes=0-99,1000000-3999999,-100000"
	local size=$((5 * 1024 * 1024 + 123))
	multipart_ok big.bin application/octet-stream 0-99 1000000-3999999 \
	    $((size - 100000))-$((size - 1))
	# the connection stays usable: a second request on it is served
	run python3 - "$PORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /onek.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0,2-2\r\n\r\n"
          b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    got = s.recv(65536)
    if not got:
        break
    data += got
head, _, rest = data.partition(b"\r\n\r\n")
n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
print(head.split(b"\r\n")[0].decode())
print(rest[n:].split(b"\r\n")[0].decode())
print(rest[n:].endswith(b"hello from maitred\n"))
EOF
	assert_success
	assert_line --index 0 "HTTP/1.1 206 Partial Content"
	assert_line --index 1 "HTTP/1.1 200 OK"
	assert_line --index 2 True
}

@test "ranges that ask for more than the file, or more than 16 ranges, get the whole file (200)" {
	http_get /hello.txt -H "Range: bytes=0-,0-"
	assert_equal "$HTTP_CODE" 200
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/hello.txt"
	http_get /onek.bin -H "Range: bytes=0-999,10-100"
	assert_equal "$HTTP_CODE" 200
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/onek.bin"
	http_get /onek.bin -H "Range: bytes=$(seq -s, 0 2 32 | sed 's/\([0-9]*\)/\1-\1/g')"
	assert_equal "$HTTP_CODE" 200
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/onek.bin"
	# 16 are served
	http_get /onek.bin -H "Range: bytes=$(seq -s, 0 2 30 | sed 's/\([0-9]*\)/\1-\1/g')"
	multipart_ok onek.bin application/octet-stream $(seq -s ' ' 0 2 30 | sed 's/\([0-9]*\)/\1-\1/g')
	# and an If-Range that no longer matches gets the whole file
	http_get /onek.bin -H "Range: bytes=0-0,2-2" -H 'If-Range: "stale"'
	assert_equal "$HTTP_CODE" 200
}

@test "an unreadable file is 403, an unreadable index.html too" {
	if [ "$(id -u)" != 0 ]; then
		mkdir -p "$MTD_DIR/htdocs/lockdir"
		printf 'locked\n' >"$MTD_DIR/htdocs/lockdir/index.html"
		chmod 000 "$MTD_DIR/htdocs/locked.txt" \
		    "$MTD_DIR/htdocs/lockdir/index.html"
		http_get /locked.txt
		code=$HTTP_CODE
		http_get /lockdir/
		chmod 644 "$MTD_DIR/htdocs/locked.txt" \
		    "$MTD_DIR/htdocs/lockdir/index.html"
		assert_equal "$code" 403
		assert_equal "$HTTP_CODE" 403
		return 0
	fi
	# root reads anything: a separate instance whose workers drop to nobody
	getent passwd nobody >/dev/null || skip "root and no nobody user"
	OWN_DIR=$(mktemp -d /tmp/maitred-t403.XXXXXX)
	chmod 755 "$OWN_DIR"
	MTD_DIR=$OWN_DIR
	PORT=$(free_port)
	WORKERS=1 write_conf "user nobody"
	printf 'locked\n' >"$OWN_DIR/htdocs/locked.txt"
	mkdir "$OWN_DIR/htdocs/lockdir"
	printf 'locked\n' >"$OWN_DIR/htdocs/lockdir/index.html"
	chmod -R a+rX "$OWN_DIR/htdocs"
	chmod 000 "$OWN_DIR/htdocs/locked.txt" "$OWN_DIR/htdocs/lockdir/index.html"
	maitred_start
	OWN_PID=$MAITRED_PID
	w=$(worker_pids)
	assert_equal "$(ps -o user= -p "$w" | tr -d ' ')" nobody
	http_get /hello.txt
	assert_equal "$HTTP_CODE" 200
	http_get /locked.txt
	assert_equal "$HTTP_CODE" 403
	# as nginx: the directory has an index, which may not be read
	http_get /lockdir/
	assert_equal "$HTTP_CODE" 403
}

@test "htdocs the workers' user cannot search: logged, and every path goes to the backends" {
	[ "$(id -u)" = 0 ] || skip "needs root (workers dropping to nobody)"
	getent passwd nobody >/dev/null || skip "root and no nobody user"
	OWN_DIR=$(mktemp -d /tmp/maitred-t403.XXXXXX)
	chmod 755 "$OWN_DIR"
	MTD_DIR=$OWN_DIR
	b=$(backend_start be)
	OWN_TRACK=$(cat "$OWN_DIR/be.pid")
	printf '127.0.0.1:%s:1:3\n' "$b" >"$OWN_DIR/backends.cfg"
	PORT=$(free_port)
	WORKERS=1 write_conf "user nobody" "backends $OWN_DIR/backends.cfg"
	chmod 700 "$OWN_DIR/htdocs"
	maitred_start
	OWN_PID=$MAITRED_PID
	http_get /api/x
	assert_equal "$HTTP_CODE" 200
	http_get /hello.txt
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(cat "$HTTP_BODY")" "be GET /hello.txt"
	assert log_has "htdocs $OWN_DIR/htdocs: Permission denied for the workers' user .*every request goes to the backends"
}

@test "path traversal: the canary outside htdocs never leaks" {
	local vectors=(
		'/../canary.txt'
		'/%2e%2e/canary.txt'
		'/%2E%2E/canary.txt'
		'/..%2fcanary.txt'
		'/..%2Fcanary.txt'
		'/%2e%2e%2fcanary.txt'
		'//../canary.txt'
		'/sub/../../canary.txt'
		'/sub/%2e%2e/%2e%2e/canary.txt'
		'/%252e%252e/canary.txt'
		'/..\canary.txt'
		'/%2e%2e%5ccanary.txt'
		'/sub/..%5c..%5ccanary.txt'
		'/./../canary.txt'
		'/.%2e/canary.txt'
		'/..;/canary.txt'
		'/....//canary.txt'
		'/%c0%ae%c0%ae/canary.txt'
		'/../canary.txt%00.html'
		'/canary.txt%00'
		'/outside/canary.txt'
		'/leak.txt'
		'/abs.txt'
		'/sub/../../htdocs/../canary.txt'
		'/../../../../../../..'"$MTD_DIR"'/canary.txt'
		'../canary.txt'
		'http://x/../canary.txt'
		'http://x/%2e%2e/canary.txt'
		'/../../../../../../../../etc/passwd'
	)
	local bad=""
	for v in "${vectors[@]}"; do
		fetch "$v"
		code=$(first_status)
		case "$code" in
		400 | 403 | 404) ;;
		*) bad="$bad
$v -> status '$code'" ;;
		esac
		if [[ "$output" == *"$CANARY"* || "$output" == *root:x:0:0* ]]; then
			bad="$bad
$v -> LEAKED the canary"
		fi
	done
	[ -z "$bad" ] || fail "traversal vectors not refused:$bad"
	# ..-above-root is 400 by contract; an encoded slash or NUL is a
	# valid URL that names no file: 404 here, the backends' with a proxy
	fetch '/../canary.txt'
	assert_equal "$(first_status)" 400
	fetch '/..%2fcanary.txt'
	assert_equal "$(first_status)" 404
	fetch '/canary.txt%00'
	assert_equal "$(first_status)" 404
	assert pid_alive "$MAITRED_PID"
}

@test "symbolic links that stay inside the root are served, absolute ones too" {
	http_get /abs-in.txt
	assert_equal "$HTTP_CODE" 200
	cmp "$HTTP_BODY" "$MTD_DIR/htdocs/hello.txt"
	http_get /abs-dir/deeper/nested.txt
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(cat "$HTTP_BODY")" "nested file"
	# out and back in: the file is inside, so it is served
	http_get "/outside/htdocs/hello.txt"
	assert_equal "$HTTP_CODE" 200
	http_get /abs.txt
	assert_equal "$HTTP_CODE" 404
}

@test "normalisation inside htdocs still serves" {
	for p in /sub/../hello.txt /./hello.txt /sub/./deeper/../deeper/nested.txt \
	    /%68ello.txt //hello.txt; do
		http_get "$p"
		assert_equal "$p $HTTP_CODE" "$p 200"
	done
}

@test "a UTF-8 file name is served whether the path is raw or percent-encoded" {
	fetch "$(printf '/caf\303\251.txt')"
	assert_line --index 0 --partial " 200 "
	assert_line "accented name"
	http_get /caf%C3%A9.txt
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(cat "$HTTP_BODY")" "accented name"
	# the access log escapes the raw bytes, as it does quotes and controls
	wait_for log_has 'GET /caf\\xc3\\xa9\.txt HTTP/1\.1" 200' "$MTD_DIR/access.log"
}

@test "POST on a static file is 405 with Allow: GET, HEAD" {
	http_get /hello.txt -X POST -d x=1
	assert_equal "$HTTP_CODE" 405
	assert_equal "$(hdr Allow)" "GET, HEAD"
	for m in PUT DELETE PATCH; do
		http_get /hello.txt -X "$m"
		assert_equal "$m $HTTP_CODE" "$m 405"
	done
	# a directory without its slash: the method first, as nginx
	http_get /sub -X DELETE
	assert_equal "$HTTP_CODE" 405
	assert_equal "$(hdr Allow)" "GET, HEAD"
	http_get /sub -X POST -d x=1
	assert_equal "$HTTP_CODE" 301
}

@test "an unknown method is 501, without Allow" {
	run raw 'FOO /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_equal "$(first_status)" 501
	assert_output --partial "Connection: close"
	refute_output --partial "Allow:"
}

# code_is PATH CODE: GET PATH answers CODE (body in $HTTP_BODY).
code_is() {
	http_get "$1"
	[ "$HTTP_CODE" = "$2" ]
}

# body_is PATH TEXT: GET PATH is 200 with body TEXT.
body_is() {
	code_is "$1" 200 && [ "$(cat "$HTTP_BODY")" = "$2" ]
}

# Every worker reads the inotify event on its own: poll, and ask more than
# once so that both workers are likely to answer.
@test "a file put into htdocs after the start is served; deleted, it is not" {
	local h=$MTD_DIR/htdocs i
	http_get /late.txt
	assert_equal "$HTTP_CODE" 404
	# renamed in whole, so that no request can see it half written
	printf 'late file\n' >"$BATS_TEST_TMPDIR/late.tmp"
	mv "$BATS_TEST_TMPDIR/late.tmp" "$h/late.txt"
	for i in 1 2 3 4; do
		wait_for body_is /late.txt "late file"
	done
	printf 'created here\n' >"$h/created.txt"
	for i in 1 2 3 4; do
		wait_for body_is /created.txt "created here"
	done
	rm "$h/late.txt" "$h/created.txt"
	for i in 1 2 3 4; do
		wait_for code_is /late.txt 404
		wait_for code_is /created.txt 404
	done
}

@test "a file in a top-level directory made after the start is served" {
	local h=$MTD_DIR/htdocs i
	http_get /latedir/n.txt
	assert_equal "$HTTP_CODE" 404
	mkdir "$h/latedir"
	printf 'late nested\n' >"$BATS_TEST_TMPDIR/n.tmp"
	mv "$BATS_TEST_TMPDIR/n.tmp" "$h/latedir/n.txt"
	for i in 1 2 3 4; do
		wait_for body_is /latedir/n.txt "late nested"
		wait_for code_is /latedir 301
	done
	mv "$h/latedir" "$h/movedir"
	for i in 1 2 3 4; do
		wait_for code_is /latedir/n.txt 404
		wait_for body_is /movedir/n.txt "late nested"
	done
	rm -r "$h/movedir"
	for i in 1 2 3 4; do
		wait_for code_is /movedir/n.txt 404
	done
}

@test "with a backend: absent names are proxied, a new file is local" {
	local i
	MTD_DIR=$BATS_TEST_TMPDIR
	PORT=$(free_port)
	bp=$(backend_start bs)
	OWN_TRACK=$(cat "$MTD_DIR/bs.pid")
	printf '127.0.0.1:%s:1:3\n' "$bp" >"$MTD_DIR/backends.cfg"
	write_conf "backends $MTD_DIR/backends.cfg"
	maitred_start
	OWN_PID=$MAITRED_PID
	for p in /small /api/v1/x /hello.txt.bak /sub2/x; do
		http_get "$p"
		assert_equal "$p $HTTP_CODE $(hdr X-Backend)" "$p 200 bs"
		assert_equal "$(cut -d' ' -f2- "$HTTP_BODY")" "GET $p"
	done
	for p in / /hello.txt /sub/ /sub/deeper/nested.txt; do
		http_get "$p"
		assert_equal "$p $HTTP_CODE" "$p 200"
		run hdr X-Backend
		assert_failure
	done
	printf 'now local\n' >"$MTD_DIR/small.tmp"
	mv "$MTD_DIR/small.tmp" "$MTD_DIR/htdocs/small"
	for i in 1 2 3 4; do
		wait_for body_is /small "now local"
	done
	rm "$MTD_DIR/htdocs/small"
	for i in 1 2 3 4; do
		wait_for body_is /small "bs GET /small"
	done
}

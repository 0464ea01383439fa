#!/usr/bin/env bats
# Request smuggling against the proxy. Each attack hides a second request,
# "GET /smuggled", in a message whose framing two parsers could read
# differently (CL.TE, TE.CL, TE.TE obfuscations, duplicate or signed
# Content-Length, chunk-size overflow, bare LF, obs-fold, NUL bytes).
# Each must be rejected (400/501, connection closed) or normalised so the
# backend never sees the hidden request: asserted on what t/backend.py
# actually served (its /count, and the probe request sent after each
# attack, which would get the smuggled answer on a poisoned connection).

load helpers
load lib/hardening

SMUG='GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n'

setup_file() {
	export MTD_DIR=$BATS_FILE_TMPDIR
	B1=$(hb_backend_start b1)
	export B1
	printf '127.0.0.1:%s:1:3\n' "$B1" >"$MTD_DIR/backends.cfg"
	# one worker: the probe reuses the upstream connection of the attack
	WORKERS=1 write_conf "backends $MTD_DIR/backends.cfg" \
	    "read_timeout 2s" "connect_timeout 1s" "client_timeout 3s"
	maitred_start
}

teardown_file() {
	common_teardown
}

# attack CHUNK...: send the raw request (rawhttp escapes), then a probe
# through maitred; the backend must have served at most the attack's
# first request and the probe, and never /smuggled.
attack() {
	local before after probe st
	before=$(hb_backend_count "$B1")
	run python3 "$RAWHTTP" --timeout 1.5 127.0.0.1 "$PORT" "$@"
	local out=$output
	probe=$(command curl -s -m 5 "$(url /probe)")
	after=$(hb_backend_count "$B1")
	echo "attack answer: $out" | head -c 2000
	echo "probe answer: $probe; backend count $before -> $after"
	# every answer is a rejection or a normal 200 of the first request
	output=$out
	for st in $(status_lines); do
		case $st in
		200|400|501|408) ;;
		*) echo "unexpected status $st"; return 1 ;;
		esac
	done
	[[ $out != *smuggled* ]] || { echo "smuggled answer seen"; return 1; }
	[[ $probe == "b1 GET /probe" ]] || { echo "probe poisoned"; return 1; }
	# at most the attack's request and the probe
	[ $((after - before)) -le 2 ] || { echo "backend saw extra requests"; return 1; }
}

# rejected CHUNK...: as attack, and maitred answered 400 or 501 (not 200).
rejected() {
	attack "$@" || return 1
	output=$(python3 "$RAWHTTP" --timeout 1.5 127.0.0.1 "$PORT" "$@")
	case $(first_status) in
	400|501) ;;
	*) echo "not rejected: $(first_status)"; return 1 ;;
	esac
}

H='POST /echo HTTP/1.1\r\nHost: t\r\n'

@test "sanity: the probe and the backend count work" {
	run command curl -s -m 5 "$(url /probe)"
	assert_output "b1 GET /probe"
	# a real pipelined pair reaches the backend twice (the count works)
	local before after
	before=$(hb_backend_count "$B1")
	run python3 "$RAWHTTP" --timeout 1.5 127.0.0.1 "$PORT" \
	    "GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
	after=$(hb_backend_count "$B1")
	assert_equal $((after - before)) 2
}

@test "CL.TE: Content-Length and Transfer-Encoding together" {
	rejected "${H}Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$SMUG"
}

@test "TE.CL: Transfer-Encoding then a short Content-Length" {
	rejected "${H}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n23\r\n$SMUG\r\n0\r\n\r\n"
}

@test "TE.TE: chunked plus a second Transfer-Encoding: x" {
	rejected "${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\nContent-Length: 40\r\n\r\n0\r\n\r\n$SMUG"
	rejected "${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n$SMUG"
}

@test "TE.TE: space before the colon" {
	rejected "${H}Transfer-Encoding : chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n$SMUG"
}

@test "TE.TE: xchunked, chunked-false, CHUNKED with CL" {
	rejected "${H}Transfer-Encoding: xchunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n$SMUG"
	rejected "${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n$SMUG"
	rejected "${H}Transfer-Encoding: chunked-false\r\n\r\n0\r\n\r\n$SMUG"
	rejected "${H}TRANSFER-ENCODING: CHUNKED\r\nContent-Length: 40\r\n\r\n0\r\n\r\n$SMUG"
}

@test "TE.TE: tab and space variants" {
	rejected "${H}Transfer-Encoding:\tchunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n$SMUG"
	rejected "${H}Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n$SMUG"
	rejected "${H} Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n$SMUG"
	rejected "${H}Transfer-Encoding: chunked \r\nContent-Length: 40\r\n\r\n0\r\n\r\n$SMUG"
	rejected "${H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n$SMUG"
}

@test "duplicate Content-Length with different values" {
	rejected "${H}Content-Length: 0\r\nContent-Length: 40\r\n\r\n$SMUG"
	rejected "${H}Content-Length: 40\r\nContent-Length: 0\r\n\r\n$SMUG"
	rejected "${H}Content-Length: 0, 40\r\n\r\n$SMUG"
}

@test "Content-Length: +5, -1, hex, spaces inside" {
	rejected "${H}Content-Length: +5\r\n\r\nhello$SMUG"
	rejected "${H}Content-Length: -1\r\n\r\n$SMUG"
	rejected "${H}Content-Length: 0x5\r\n\r\nhello$SMUG"
	rejected "${H}Content-Length: 1 0\r\n\r\nhelloworld$SMUG"
}

@test "chunk-size overflow ffffffffffffffffff" {
	attack "${H}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n$SMUG\r\n0\r\n\r\n"
	attack "${H}Transfer-Encoding: chunked\r\n\r\n10000000000000023\r\n$SMUG\r\n0\r\n\r\n"
}

@test "bare LF: in the head and after a chunk extension" {
	attack "POST /echo HTTP/1.1\nHost: t\nContent-Length: 0\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$SMUG"
	attack "${H}Transfer-Encoding: chunked\r\n\r\n2;x\nxx\r\n0\r\n\r\n$SMUG"
	attack "${H}Transfer-Encoding: chunked\r\n\r\n0;x\n\r\n$SMUG"
}

@test "a quoted string in a chunk extension left open at the line end" {
	# a parser that honours the quotes would read past the CRLF
	rejected "${H}Transfer-Encoding: chunked\r\n\r\n2;x=\"a\r\nxx\r\n0\r\n\r\n\"\r\n$SMUG"
	rejected "${H}Transfer-Encoding: chunked\r\n\r\n2;x=\"a\\\"\r\nxx\r\n0\r\n\r\n$SMUG"
	# closed, with a quoted pair, it is a plain extension
	run python3 "$RAWHTTP" --timeout 1.5 127.0.0.1 "$PORT" \
	    "${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2;x=\"a\\\"b\"\r\nxx\r\n0\r\n\r\n"
	assert_equal "$(first_status)" 200
}

@test "obs-fold hiding chunked" {
	rejected "${H}Transfer-Encoding: identity\r\n chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n$SMUG"
	rejected "${H}X-Foo: bar\r\n\tTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$SMUG"
}

@test "NUL bytes in framing fields" {
	rejected "${H}Transfer-Encoding: chunked\0\r\nContent-Length: 40\r\n\r\n0\r\n\r\n$SMUG"
	rejected "${H}Content-Length: 4\x000\r\n\r\n$SMUG"
	rejected "${H}Transfer\0-Encoding: chunked\r\n\r\n0\r\n\r\n$SMUG"
}

@test "chunked not the final coding: 400 and closed (RFC 9112 6.3), not 501" {
	local te
	for te in 'chunked, identity' 'chunked, gzip' \
	    'chunked\r\nTransfer-Encoding: identity'; do
		rejected "${H}Transfer-Encoding: $te\r\n\r\n0\r\n\r\n$SMUG"
		output=$(python3 "$RAWHTTP" --timeout 1.5 127.0.0.1 "$PORT" \
		    "${H}Transfer-Encoding: $te\r\n\r\n0\r\n\r\n$SMUG")
		assert_equal "$(first_status)" 400
		assert_equal "$(status_lines | wc -l)" 1
	done
	# a coding we do not know, chunked last or absent, stays a 501
	output=$(python3 "$RAWHTTP" --timeout 1.5 127.0.0.1 "$PORT" \
	    "${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
	assert_equal "$(first_status)" 501
}

@test "Transfer-Encoding in HTTP/1.0" {
	rejected "POST /echo HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$SMUG"
}

@test "a valid chunked body is normalised: the backend gets exactly the body" {
	run python3 "$RAWHTTP" --timeout 2 127.0.0.1 "$PORT" \
	    "${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: v\r\n\r\n"
	assert_equal "$(first_status)" 200
	assert_output --partial '"body_len": 5'
	# sha256("hello")
	assert_output --partial 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
}

# echo_field NAME: the /echo answer's value of request field NAME (or
# "path"), from the last rawhttp $output.
echo_field() {
	printf '%s\n' "$output" | python3 -c 'import json, sys
doc = json.loads(sys.stdin.read().split("\r\n\r\n", 1)[1])
print(doc["path"] if sys.argv[1] == "path" else doc["headers"].get(sys.argv[1], "-"))' "$1"
}

@test "Content-Length goes to the backend once, in plain form" {
	run python3 "$RAWHTTP" --timeout 2 127.0.0.1 "$PORT" \
	    "${H}Content-Length: 5, 5\r\nConnection: close\r\n\r\nhello"
	assert_equal "$(first_status)" 200
	assert_equal "$(echo_field content-length)" 5
	run python3 "$RAWHTTP" --timeout 2 127.0.0.1 "$PORT" \
	    "${H}Content-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
	assert_equal "$(first_status)" 200
	assert_equal "$(echo_field content-length)" 5
	# an empty body keeps its Content-Length: 0 (a POST needs one)
	run python3 "$RAWHTTP" --timeout 2 127.0.0.1 "$PORT" \
	    "${H}Content-Length: 0\r\nConnection: close\r\n\r\n"
	assert_equal "$(echo_field content-length)" 0
}

@test "bare LF in a chunked request body is rejected, not relayed" {
	rejected "${H}Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n$SMUG"
	rejected "${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n$SMUG"
	rejected "${H}Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\n\r\n$SMUG"
	rejected "${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\n$SMUG"
}

@test "an absolute-form target reaches the backend as a path, with its authority as Host" {
	run python3 "$RAWHTTP" --timeout 2 127.0.0.1 "$PORT" \
	    'GET http://a.example/echo?q=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
	assert_equal "$(first_status)" 200
	assert_equal "$(echo_field path)" '/echo?q=1'
	assert_equal "$(echo_field host)" a.example
}

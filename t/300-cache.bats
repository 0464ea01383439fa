#!/usr/bin/env bats
# Shared-memory response cache in front of the backends: hits, misses,
# rules (first match wins), expiry, max_size, LRU eviction, validators
# (304), what is never stored, bypass, sharing between workers, collapsed
# misses, stale-if-error, PURGE and a worker dying with a cache lock.
# One t/backend.py and one maitred (4 workers) for the file; tests that
# need other settings start their own.

load helpers

# count [PORT]: requests the backend served so far.
count() {
	command curl -s -m 5 "http://127.0.0.1:${1:-$B1}/count"
}

# cache_entries: objects in the cache, from the status page
cache_entries() {
	curl -s "$(url /maitred/status)" | python3 -c \
	    'import json, sys; print(json.load(sys.stdin)["cache"]["entries"])'
}

setup_file() {
	export MTD_DIR=$BATS_FILE_TMPDIR
	B1=$(backend_start b1)
	export B1
	printf '127.0.0.1:%s:1:3\n' "$B1" >"$MTD_DIR/backends.cfg"
	cat >"$MTD_DIR/cache_rules.cfg" <<-'EOF'
	/api/*:0:0
	/exp/*:2:100000
	/long/*:60:100000
	/big*:60:100000
	*.html:10:102400
	*.css:30:1048576
	/*:5:51200
	EOF
	WORKERS=4 write_conf "backends $MTD_DIR/backends.cfg" \
	    "cache_rules $MTD_DIR/cache_rules.cfg" "cache_size 8m" \
	    "read_timeout 2s" "connect_timeout 1s"
	maitred_start
}

teardown_file() {
	common_teardown
}

# own_maitred RULES LINE...: a maitred for this test only, with these
# cache rules (one per line) and extra configuration lines.
own_maitred() {
	local rules=$1
	shift
	MTD_DIR=$BATS_TEST_TMPDIR
	PORT=$(free_port)
	printf '%s\n' "$rules" >"$MTD_DIR/cache_rules.cfg"
	write_conf "backends ${OWN_BACKENDS:-$BATS_FILE_TMPDIR/backends.cfg}" \
	    "cache_rules $MTD_DIR/cache_rules.cfg" "$@"
	maitred_start
	OWN_PID=$MAITRED_PID
}

teardown() {
	own_teardown
}

setup() {
	# http_get's files, also when it runs in a $(...) subshell.
	HTTP_HEADERS=$BATS_TEST_TMPDIR/resp.headers
	HTTP_BODY=$BATS_TEST_TMPDIR/resp.body
}

# xcache PATH [CURL ARGS...]: GET PATH, print the X-Cache value.
xcache() {
	http_get "$@"
	hdr X-Cache
}

@test "a miss is stored, the next request is a hit from the cache" {
	local n
	n=$(count)
	http_get /t1.html
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr X-Cache)" MISS
	assert_equal "$(hdr Cache-Status)" "maitred; fwd=uri-miss; stored"
	cp "$HTTP_BODY" "$BATS_TEST_TMPDIR/first"
	http_get /t1.html
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr X-Cache)" HIT
	run hdr Cache-Status
	assert_output --regexp '^maitred; hit; ttl=(9|10)$'
	run hdr Age
	assert_output --regexp '^[01]$'
	run hdr ETag
	assert_output --regexp '^"[0-9a-f]{64}"$'
	assert_equal "$(hdr X-Backend)" b1
	assert_equal "$(hdr Content-Length)" "$(stat -c %s "$HTTP_BODY")"
	cmp "$HTTP_BODY" "$BATS_TEST_TMPDIR/first"
	assert_equal "$(count)" $((n + 1))
	grep -q '"GET /t1.html HTTP/1.1" 200 .* cache=HIT' \
	    "$MTD_DIR/access.log"
	grep -q '"GET /t1.html HTTP/1.1" 200 .* cache=MISS' \
	    "$MTD_DIR/access.log"
}

@test "HEAD hits carry the length and no body; the query is in the key" {
	local n
	n=$(count)
	http_get '/q.txt?a=1'
	http_get '/q.txt?a=1' -I
	assert_equal "$(hdr X-Cache)" HIT
	assert_equal "$(hdr Content-Length)" 18
	run raw "HEAD /q.txt?a=1 HTTP/1.1"$'\r\n'"Host: 127.0.0.1:$PORT"$'\r\n'"Connection: close"$'\r\n\r\n'
	assert_output --partial 'X-Cache: HIT'
	refute_output --partial 'GET /q.txt'
	http_get '/q.txt?a=2'
	assert_equal "$(hdr X-Cache)" MISS
	assert_equal "$(count)" $((n + 2))
	# The status page counts them.
	http_get /maitred/status
	grep -q '"hits":[1-9]' "$HTTP_BODY"
}

# cache_count NAME: the cache's NAME counter on the status page.
cache_count() {
	http_get /maitred/status
	python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["cache"][sys.argv[2]])' "$HTTP_BODY" "$1"
}

@test "the status page counts one miss per miss (the stale look is not one), one hit per hit" {
	local m h p="/counted$RANDOM.txt"
	m=$(cache_count misses)
	h=$(cache_count hits)
	assert_equal "$(xcache "$p")" MISS
	assert_equal "$(xcache "$p")" HIT
	assert_equal "$(cache_count misses)" $((m + 1))
	assert_equal "$(cache_count hits)" $((h + 1))
}

@test "an object expires after max_age" {
	local n
	n=$(count)
	assert_equal "$(xcache /exp/a)" MISS
	assert_equal "$(xcache /exp/a)" HIT
	# max_age is 2 s, not 1: expiry has second granularity, so a 1 s
	# entry stored late in a second can expire before a slow (ASan)
	# second request; 2 s leaves it at least a full second.
	wait_for -t 8 eval '[ "$(xcache /exp/a)" = MISS ]'
	assert_equal "$(count)" $((n + 2))
	assert_equal "$(xcache /exp/a)" HIT
}

@test "the seed's rules: first match wins, max_age 0 never caches wherever it is" {
	own_maitred '*.html:10:102400
*.css:30:1048576
/*:5:51200
/api/*:0:0'
	assert_equal "$(xcache /s.html)" MISS
	assert_equal "$(xcache /s.html)" HIT
	assert_equal "$(hdr Cache-Status)" "maitred; hit; ttl=10"
	assert_equal "$(xcache /s.css)" MISS
	assert_equal "$(xcache /s.css)" HIT
	assert_equal "$(hdr Cache-Status)" "maitred; hit; ttl=30"
	assert_equal "$(xcache /other)" MISS
	assert_equal "$(xcache /other)" HIT
	assert_equal "$(hdr Cache-Status)" "maitred; hit; ttl=5"
	# /* comes before /api/*:0:0, which still keeps the API out
	assert_equal "$(xcache /api/v1)" BYPASS
	assert_equal "$(xcache /api/v1)" BYPASS
	assert_equal "$(xcache /api/v1.html)" BYPASS
}

@test "max_age 0 and paths no rule matches are bypassed" {
	local n
	n=$(count)
	assert_equal "$(xcache /api/x)" BYPASS
	assert_equal "$(hdr Cache-Status)" "maitred; fwd=bypass"
	assert_equal "$(xcache /api/x)" BYPASS
	assert_equal "$(count)" $((n + 2))
	grep -q '"GET /api/x HTTP/1.1" 200 .* cache=BYPASS' \
	    "$MTD_DIR/access.log"
	# rules see the path as the backend will: no way around /api/*
	local p
	for p in //api/x /./api/x /x/../api/x /%61pi/x /api//x; do
		assert_equal "$(xcache "$p")" BYPASS
		assert_equal "$(xcache "$p")" BYPASS
	done
	own_maitred '*.html:10:1000'
	assert_equal "$(xcache /nomatch.txt)" BYPASS
	assert_equal "$(xcache /nomatch.txt)" BYPASS
}

@test "a body over max_size is relayed whole and not stored" {
	local n
	n=$(count)
	command curl -s "http://127.0.0.1:$B1/big?bytes=120000" \
	    -o "$BATS_TEST_TMPDIR/ref120"
	command curl -s "http://127.0.0.1:$B1/big?bytes=40000" \
	    -o "$BATS_TEST_TMPDIR/ref40"
	# /big* allows 100000 bytes.
	http_get '/big?bytes=120000'
	assert_equal "$(hdr X-Cache)" MISS
	assert_equal "$(hdr Cache-Status)" "maitred; fwd=uri-miss"
	cmp "$HTTP_BODY" "$BATS_TEST_TMPDIR/ref120"
	assert_equal "$(xcache '/big?bytes=120000')" MISS
	# Chunked, size unknown until the end: the fill gives up (/* allows
	# 51200 bytes).
	http_get '/chunked?n=8000'
	assert_equal "$(hdr X-Cache)" MISS
	assert_equal "$(wc -l <"$HTTP_BODY")" 8000
	assert_equal "$(xcache '/chunked?n=8000')" MISS
	# Under max_size, larger than the buffers: kept.
	assert_equal "$(xcache '/big?bytes=40000')" MISS
	assert_equal "$(xcache '/big?bytes=40000')" HIT
	cmp "$HTTP_BODY" "$BATS_TEST_TMPDIR/ref40"
	# max_size bounds the body alone: exactly 100000 bytes is kept
	assert_equal "$(xcache '/big?bytes=100000')" MISS
	assert_equal "$(hdr Cache-Status)" "maitred; fwd=uri-miss; stored"
	assert_equal "$(xcache '/big?bytes=100000')" HIT
	assert_equal "$(stat -c %s "$HTTP_BODY")" 100000
	assert_equal "$(count)" $((n + 8))
}

@test "chunked responses are stored decoded and served with a length" {
	http_get '/chunked?n=3'
	assert_equal "$(hdr X-Cache)" MISS
	# whether it fits is known only at its end: the head cannot say
	assert_equal "$(hdr Cache-Status)" "maitred; fwd=uri-miss"
	cp "$HTTP_BODY" "$BATS_TEST_TMPDIR/first"
	http_get '/chunked?n=3'
	assert_equal "$(hdr X-Cache)" HIT
	assert_equal "$(hdr Content-Length)" 24
	run hdr Transfer-Encoding
	assert_failure
	cmp "$HTTP_BODY" "$BATS_TEST_TMPDIR/first"
}

@test "least recently used objects go first under a small cache_size" {
	local p
	own_maitred '/big*:60:100000' "cache_size 256k"
	for p in a b c d; do
		assert_equal "$(xcache "/big?bytes=60000&k=$p")" MISS
	done
	assert_equal "$(xcache '/big?bytes=60000&k=a')" HIT
	assert_equal "$(xcache '/big?bytes=60000&k=e')" MISS
	for p in a c d e; do
		assert_equal "$(xcache "/big?bytes=60000&k=$p")" HIT
	done
	assert_equal "$(xcache '/big?bytes=60000&k=b')" MISS
}

# rawget TARGET HOST: raw GET, Connection: close; the answer in $output.
rawget() {
	run raw --timeout 5 "GET $1 HTTP/1.1"$'\r\n'"Host: $2"$'\r\n'"Connection: close"$'\r\n\r\n'
}

@test "cache key: no request fills an entry that another request reads" {
	# the key was host and target run together: this host and target
	# made the key of "GET http://victim.example/k1.txt"
	rawget //victim.example/k1.txt victim.examplehttp:
	assert_output --partial 'X-Cache: MISS'
	rawget http://victim.example/k1.txt victim.example
	assert_output --partial 'X-Cache: MISS'
	assert_output --partial 'b1 GET /k1.txt'
	# an absolute-form request is keyed as the origin-form one it becomes
	rawget /k1.txt victim.example
	assert_output --partial 'X-Cache: HIT'
	assert_output --partial 'b1 GET /k1.txt'
	# and an empty Host is not sent twice (it is the backend's)
	run raw --timeout 5 'GET /echo HTTP/1.0\r\nHost:\r\n\r\n'
	assert_output --regexp '"host": "127\.0\.0\.1:[0-9]+"'
	refute_output --regexp '"host": "[^"]*, '
}

@test "validators on a hit: If-None-Match and If-Modified-Since give 304" {
	local etag lm='Wed, 21 Oct 2015 07:28:00 GMT'
	http_get /v.html
	http_get /v.html
	assert_equal "$(hdr X-Cache)" HIT
	etag=$(hdr ETag)
	http_get /v.html -H "If-None-Match: $etag"
	assert_equal "$HTTP_CODE" 304
	assert_equal "$(hdr ETag)" "$etag"
	assert_equal "$(stat -c %s "$HTTP_BODY")" 0
	http_get /v.html -H 'If-None-Match: "other", '"$etag"
	assert_equal "$HTTP_CODE" 304
	http_get /v.html -H 'If-None-Match: "other"'
	assert_equal "$HTTP_CODE" 200
	# The backend's own ETag and Last-Modified are kept.
	p='/lm.html?hdr=ETag:"v1"&hdr=Last-Modified:Wed,%2021%20Oct%202015%2007:28:00%20GMT'
	http_get "$p"
	assert_equal "$(hdr ETag)" '"v1"'
	http_get "$p"
	assert_equal "$(hdr X-Cache)" HIT
	assert_equal "$(hdr ETag)" '"v1"'
	assert_equal "$(hdr Last-Modified)" "$lm"
	http_get "$p" -H 'If-None-Match: W/"v1"'
	assert_equal "$HTTP_CODE" 304
	http_get "$p" -H "If-Modified-Since: $lm"
	assert_equal "$HTTP_CODE" 304
	http_get "$p" -H 'If-Modified-Since: Wed, 21 Oct 2015 07:27:59 GMT'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(stat -c %s "$HTTP_BODY")" "$(hdr Content-Length)"
	# a date in the future is invalid: ignored (RFC 9110 13.1.3)
	http_get "$p" -H 'If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT'
	assert_equal "$HTTP_CODE" 200
	# a 304 repeats Cache-Control, Expires and Vary (RFC 9110 15.4.5)
	p='/cc304.html?hdr=Cache-Control:max-age%3D30&hdr=Vary:X-Lang&hdr=Expires:Thu,%2001%20Jan%202037%2000:00:00%20GMT'
	http_get "$p"
	http_get "$p"
	assert_equal "$(hdr X-Cache)" HIT
	etag=$(hdr ETag)
	http_get "$p" -H "If-None-Match: $etag"
	assert_equal "$HTTP_CODE" 304
	assert_equal "$(hdr Cache-Control)" max-age=30
	assert_equal "$(hdr Vary)" X-Lang
	assert_equal "$(hdr Expires)" 'Thu, 01 Jan 2037 00:00:00 GMT'
	assert_equal "$(hdr X-Cache)" HIT
}

# http_date SECONDS: the HTTP date SECONDS from now, URL-encoded.
http_date() {
	LC_ALL=C date -u -d "@$(( $(date +%s) + $1 ))" '+%a,%%20%d%%20%b%%20%Y%%20%H:%M:%S%%20GMT'
}

@test "Expires: a past or invalid date is not stored, a near one bounds the TTL, max-age wins" {
	local n p
	for p in "/long/e1?hdr=Expires:$(http_date -3600)" '/long/e2?hdr=Expires:0'; do
		n=$(count)
		http_get "$p"
		assert_equal "$(hdr Cache-Status)" "maitred; fwd=uri-miss"
		assert_equal "$(xcache "$p")" MISS
		assert_equal "$(count)" $((n + 2))
	done
	p="/long/e3?hdr=Expires:$(http_date 5)"
	http_get "$p"
	assert_equal "$(hdr Cache-Status)" "maitred; fwd=uri-miss; stored"
	assert_equal "$(xcache "$p")" HIT
	run hdr Cache-Status
	assert_output --regexp 'ttl=[1-5]$'
	# max-age comes before Expires.
	p="/long/e4?hdr=Expires:$(http_date -3600)&hdr=Cache-Control:max-age=30"
	http_get "$p"
	assert_equal "$(xcache "$p")" HIT
	run hdr Cache-Status
	assert_output --regexp 'ttl=(29|30)$'
}

@test "no-store, private, Set-Cookie and Vary: * are never stored" {
	local h n long
	long=$(printf 'e%.0s' $(seq 100))
	# Invalid freshness counts as stale (RFC 9111 4.2.1), as in nginx;
	# an ETag too long to keep is not stored either.
	for h in 'Cache-Control:no-store' 'Cache-Control:private' \
	    'Set-Cookie:a=b' 'Vary:*' 'Cache-Control:public,%20no-cache' \
	    'Cache-Control:no-store%3D%22x%22' 'Cache-Control:max-age%3D-1' \
	    'Cache-Control:max-age%3Dabc' 'Cache-Control:max-age%3D30%3Bno-store' \
	    'Cache-Control:s-maxage%3D' "ETag:%22$long%22"; do
		n=$(count)
		http_get "/ns.html?hdr=$h"
		assert_equal "$(hdr X-Cache)" MISS
		assert_equal "$(hdr Cache-Status)" "maitred; fwd=uri-miss"
		assert_equal "$(xcache "/ns.html?hdr=$h")" MISS
		assert_equal "$(count)" $((n + 2))
	done
}

@test "Vary: each set of values of the named fields gets its own object" {
	local p='/long/v1?hdr=Vary:Accept-Language' n
	n=$(count)
	http_get "$p" -H 'Accept-Language: fr'
	assert_equal "$(hdr Cache-Status)" "maitred; fwd=uri-miss; stored"
	assert_equal "$(xcache "$p" -H 'Accept-Language: fr')" HIT
	assert_equal "$(xcache "$p" -H 'accept-language: fr')" HIT
	http_get "$p" -H 'Accept-Language: en'
	assert_equal "$(hdr X-Cache)" MISS
	assert_equal "$(hdr Cache-Status)" "maitred; fwd=vary-miss; stored"
	assert_equal "$(xcache "$p" -H 'Accept-Language: en')" HIT
	# Side by side: en did not push fr out.
	assert_equal "$(xcache "$p" -H 'Accept-Language: fr')" HIT
	# Absent, empty and present are three variants.
	assert_equal "$(xcache "$p")" MISS
	assert_equal "$(xcache "$p")" HIT
	assert_equal "$(xcache "$p" -H 'Accept-Language;')" MISS
	assert_equal "$(xcache "$p" -H 'Accept-Language;')" HIT
	assert_equal "$(count)" $((n + 4))
	# PURGE of the URL drops every variant with it, from memory too
	local e
	e=$(cache_entries)
	http_get "$p" -X PURGE
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(cache_entries)" $((e - 4))
	assert_equal "$(xcache "$p" -H 'Accept-Language: en')" MISS
	assert_equal "$(hdr Cache-Status)" "maitred; fwd=uri-miss; stored"
	assert_equal "$(xcache "$p")" MISS
	assert_equal "$(xcache "$p" -H 'Accept-Language: fr')" MISS
	assert_equal "$(count)" $((n + 7))
}

@test "Vary: lists and repeated Vary lines; every named field must match" {
	local p='/long/v2?hdr=Vary:Accept-Language,%20X-Tenant&hdr=Vary:Cookie'
	local a=(-H 'Accept-Language: fr' -H 'X-Tenant: a' -H 'Cookie: s=1')
	http_get "$p" "${a[@]}"
	assert_equal "$(hdr X-Cache)" MISS
	assert_equal "$(xcache "$p" "${a[@]}")" HIT
	assert_equal "$(xcache "$p" -H 'Accept-Language: fr' -H 'X-Tenant: a' \
	    -H 'Cookie: s=2')" MISS
	assert_equal "$(hdr Cache-Status)" "maitred; fwd=vary-miss; stored"
	assert_equal "$(xcache "$p" -H 'Accept-Language: fr' -H 'X-Tenant: b' \
	    -H 'Cookie: s=2')" MISS
	assert_equal "$(xcache "$p" -H 'Accept-Language: fr' -H 'X-Tenant: b' \
	    -H 'Cookie: s=2')" HIT
	# An object larger than the scratch buffer (a heap copy) too.
	p='/big?bytes=60000&hdr=Vary:Accept-Language&v=big'
	http_get "$p" -H 'Accept-Language: fr'
	assert_equal "$(xcache "$p" -H 'Accept-Language: fr')" HIT
	assert_equal "$(xcache "$p" -H 'Accept-Language: en')" MISS
	assert_equal "$(xcache "$p" -H 'Accept-Language: en')" HIT
	assert_equal "$(stat -c %s "$HTTP_BODY")" 60000
	assert_equal "$(xcache "$p" -H 'Accept-Language: fr')" HIT
	assert_equal "$(stat -c %s "$HTTP_BODY")" 60000
	# Accept-Encoding alone in the list does not split the object.
	p='/long/v3?hdr=Vary:Accept-Encoding'
	http_get "$p"
	assert_equal "$(xcache "$p" -H 'Accept-Encoding: br')" HIT
}

# stale_setup: a backend of this test's own (bs, port $BP) and a maitred
# with a 1 s rule in front of it, for the stale-if-error tests.
stale_setup() {
	MTD_DIR=$BATS_TEST_TMPDIR
	BP=$(backend_start bs)
	OWN_TRACK="$(cat "$MTD_DIR/bs.pid")"
	printf '127.0.0.1:%s:1:3\n' "$BP" >"$MTD_DIR/own_backends.cfg"
	OWN_BACKENDS=$MTD_DIR/own_backends.cfg own_maitred '/*:1:10000' \
	    "connect_timeout 1s" "read_timeout 1s"
}

# stale_backend_down: stop that backend; wait until its port is closed.
stale_backend_down() {
	kill -TERM "$(cat "$MTD_DIR/bs.pid")"
	wait_for _not port_listening "$BP"
}

# is_stale PATH CURL-ARG...: the answer is a stale copy.
is_stale() {
	http_get "$@"
	[ "$(hdr X-Cache)" = STALE ]
}

@test "Vary: stale copies per variant when the backend fails, none for other values" {
	local p='/sv.html?hdr=Vary:Accept-Language'
	stale_setup
	assert_equal "$(xcache "$p" -H 'Accept-Language: fr')" MISS
	assert_equal "$(xcache "$p" -H 'Accept-Language: en')" MISS
	stale_backend_down
	# Each copy turns stale on its own second: poll for both.
	wait_for is_stale "$p" -H 'Accept-Language: fr'
	wait_for is_stale "$p" -H 'Accept-Language: en'
	http_get "$p" -H 'Accept-Language: de'
	[ "$HTTP_CODE" -ge 502 ]
	# our own error is still a proxied answer: a miss
	run hdr X-Cache
	assert_output MISS
}

@test "Vary: a variant missing after another expired is stored beside it" {
	# The first variant's copy has expired (within the stale window)
	# when another variant misses: that one must get its own key and
	# leave the expired copy to serve stale, not replace it.
	local p='/sx.html?hdr=Vary:Accept-Language'
	stale_setup
	assert_equal "$(xcache "$p" -H 'Accept-Language: fr')" MISS
	sleep 1.1	# max_age 1 in whole seconds: fr has expired
	assert_equal "$(xcache "$p" -H 'Accept-Language: en')" MISS
	stale_backend_down
	http_get "$p" -H 'Accept-Language: fr'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr X-Cache)" STALE
	wait_for is_stale "$p" -H 'Accept-Language: en'
}

@test "a miss that fills the cache asks the backend for the whole object" {
	# validators stay between the client and the cache
	http_get '/echo?fill=1' -H 'If-None-Match: "x"' \
	    -H 'If-Modified-Since: Wed, 21 Oct 2015 07:28:00 GMT' \
	    -H 'X-Other: kept'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr X-Cache)" MISS
	run python3 -c 'import json, sys
h = {k.lower() for k in json.load(open(sys.argv[1]))["headers"]}
print(" ".join(sorted(h & {"if-none-match", "if-modified-since", "x-other"})))' "$HTTP_BODY"
	assert_output x-other
	assert_equal "$(xcache '/echo?fill=1')" HIT
	# a Range request that misses fills nothing and keeps its Range, so
	# that the backend can answer 206
	http_get '/echo?fill=3' -H 'Range: bytes=0-3' -H 'If-Range: "x"'
	assert_equal "$(hdr X-Cache)" MISS
	run python3 -c 'import json, sys
h = {k.lower() for k in json.load(open(sys.argv[1]))["headers"]}
print(" ".join(sorted(h & {"range", "if-range"})))' "$HTTP_BODY"
	assert_output "if-range range"
	assert_equal "$(xcache '/echo?fill=3')" MISS
	# a request the cache bypasses passes them on
	http_get '/echo?fill=2' -H 'Range: bytes=0-3' -H 'Authorization: x'
	assert_equal "$(hdr X-Cache)" BYPASS
	run grep -ci '"range"' "$HTTP_BODY"
	assert_output 1
}

# body_is FILE OFFSET LEN: $HTTP_BODY is those bytes of FILE.
body_is() {
	cmp <(tail -c +"$(($2 + 1))" "$1" | head -c "$3") "$HTTP_BODY"
}

@test "a hit answers a Range from the copy: 206, 416, If-Range" {
	local p='/rng.html?hdr=ETag:%22v1%22' whole len
	http_get "$p"
	whole=$BATS_TEST_TMPDIR/whole
	cp "$HTTP_BODY" "$whole"
	len=$(stat -c %s "$whole")
	assert_equal "$(xcache "$p")" HIT
	http_get "$p" -H 'Range: bytes=2-5'
	assert_equal "$HTTP_CODE" 206
	assert_equal "$(hdr X-Cache)" HIT
	assert_equal "$(hdr Content-Range)" "bytes 2-5/$len"
	assert_equal "$(hdr Content-Length)" 4
	assert_equal "$(hdr ETag)" '"v1"'
	body_is "$whole" 2 4
	http_get "$p" -H 'Range: bytes=-3'
	assert_equal "$HTTP_CODE" 206
	body_is "$whole" $((len - 3)) 3
	http_get "$p" -H "Range: bytes=$len-"
	assert_equal "$HTTP_CODE" 416
	assert_equal "$(hdr Content-Range)" "bytes */$len"
	assert_equal "$(stat -c %s "$HTTP_BODY")" 0
	# If-Range naming this copy: the range; another or a weak ETag: all
	http_get "$p" -H 'Range: bytes=0-0' -H 'If-Range: "v1"'
	assert_equal "$HTTP_CODE" 206
	body_is "$whole" 0 1
	for ir in '"v2"' 'W/"v1"' 'Wed, 21 Oct 2015 07:28:00 GMT'; do
		http_get "$p" -H 'Range: bytes=0-0' -H "If-Range: $ir"
		assert_equal "$HTTP_CODE" 200
		cmp "$whole" "$HTTP_BODY"
	done
	# HEAD and ranges that ask for more than the object: the whole object
	http_get "$p" -H "Range: bytes=0-,0-"
	assert_equal "$HTTP_CODE" 200
	cmp "$whole" "$HTTP_BODY"
	http_get "$p" -I -H 'Range: bytes=0-1'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Content-Length)" "$len"
}

@test "a hit answers several ranges with multipart/byteranges, small and large copies" {
	local p whole ctype
	whole=$BATS_TEST_TMPDIR/whole
	for p in '/rng2.html?hdr=ETag:%22v1%22' '/big?bytes=90000'; do
		http_get "$p"
		cp "$HTTP_BODY" "$whole"
		ctype=$(hdr Content-Type)
		assert_equal "$(xcache "$p")" HIT
		http_get "$p" -H 'Range: bytes=0-1,3-4,-2'
		assert_equal "$HTTP_CODE" 206
		assert_equal "$(hdr X-Cache)" HIT
		assert_equal "$(hdr Content-Length)" "$(stat -c %s "$HTTP_BODY")"
		run ! hdr Content-Range
		len=$(stat -c %s "$whole")
		run python3 "$BATS_TEST_DIRNAME/lib/multipart_check.py" \
		    "$(hdr Content-Type)" "$HTTP_BODY" "$whole" "$ctype" 0-1 3-4 \
		    "$((len - 2))-$((len - 1))"
		assert_success
		assert_output "ok 3 parts"
	done
	# the other stored fields are kept once, the Content-Type is the parts'
	assert_equal "$(grep -ci '^content-type:' "$HTTP_HEADERS")" 1
}

@test "If-Match and If-Unmodified-Since: a hit answers 412, a miss asks the backend" {
	local p='/pre.html?hdr=ETag:%22v1%22&hdr=Last-Modified:Sat,%2001%20Jan%202000%2000:00:00%20GMT'
	# a miss keeps them for the backend and fills nothing
	http_get "/echo?pre=1" -H 'If-Match: "zz"'
	assert_equal "$(hdr X-Cache)" MISS
	run grep -c '"if-match"' "$HTTP_BODY"
	assert_output 1
	assert_equal "$(xcache '/echo?pre=1')" MISS
	http_get "$p"
	assert_equal "$(xcache "$p")" HIT
	for h in 'If-Match: "v2"' 'If-Match: W/"v1"' \
	    'If-Unmodified-Since: Fri, 31 Dec 1999 00:00:00 GMT'; do
		http_get "$p" -H "$h"
		assert_equal "$HTTP_CODE" 412
		assert_equal "$(hdr X-Cache)" HIT
		assert_equal "$(stat -c %s "$HTTP_BODY")" 0
	done
	for h in 'If-Match: "v1"' 'If-Match: *' \
	    'If-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT'; do
		http_get "$p" -H "$h"
		assert_equal "$HTTP_CODE" 200
		assert_equal "$(hdr X-Cache)" HIT
	done
	http_get "$p" -H 'If-None-Match: *junk'
	assert_equal "$HTTP_CODE" 200
}

@test "a shorter backend max-age wins, s-maxage before max-age" {
	http_get '/long/a?hdr=Cache-Control:max-age=3'
	assert_equal "$(xcache '/long/a?hdr=Cache-Control:max-age=3')" HIT
	run hdr Cache-Status
	assert_output --regexp 'ttl=[23]$'
	http_get '/long/b?hdr=Cache-Control:max-age=50,s-maxage=4'
	http_get '/long/b?hdr=Cache-Control:max-age=50,s-maxage=4'
	run hdr Cache-Status
	assert_output --regexp 'ttl=[34]$'
	http_get '/long/c?hdr=Cache-Control:public,max-age=600'
	http_get '/long/c?hdr=Cache-Control:public,max-age=600'
	run hdr Cache-Status
	assert_output --regexp 'ttl=(59|60)$'
}

@test "a backend's Age counts: relayed on a miss, part of a hit's age and of its lifetime" {
	http_get '/age1.html?hdr=Age:100&hdr=Cache-Control:max-age%3D105'
	assert_equal "$(hdr X-Cache)" MISS
	assert_equal "$(hdr Age)" 100
	http_get '/age1.html?hdr=Age:100&hdr=Cache-Control:max-age%3D105'
	assert_equal "$(hdr X-Cache)" HIT
	run hdr Age
	assert_output --regexp '^10[01]$'
	# 5 s of the backend's 105 were left: the rule's 10 s do not apply
	run hdr Cache-Status
	assert_output --regexp '^maitred; hit; ttl=[45]$'
	# already past its lifetime upstream: not stored
	http_get '/age2.html?hdr=Age:100&hdr=Cache-Control:max-age%3D60'
	assert_equal "$(hdr Cache-Status)" "maitred; fwd=uri-miss"
	assert_equal "$(xcache '/age2.html?hdr=Age:100&hdr=Cache-Control:max-age%3D60')" MISS
}

@test "cacheable statuses are stored (200 301 404 410), others are not (302 500 503)" {
	local code
	for code in 301 404 410; do
		http_get "/status/$code"
		assert_equal "$HTTP_CODE" "$code"
		assert_equal "$(hdr X-Cache)" MISS
		http_get "/status/$code"
		assert_equal "$HTTP_CODE" "$code"
		assert_equal "$(hdr X-Cache)" HIT
	done
	for code in 302 500 503; do
		http_get "/status/$code"
		assert_equal "$HTTP_CODE" "$code"
		http_get "/status/$code"
		assert_equal "$(hdr X-Cache)" MISS
	done
}

@test "requests with Authorization bypass the cache" {
	local n
	http_get /auth.html
	http_get /auth.html
	assert_equal "$(hdr X-Cache)" HIT
	n=$(count)
	assert_equal "$(xcache /auth.html -H 'Authorization: Basic eDp5')" BYPASS
	assert_equal "$(xcache /auth.html -H 'Authorization: Basic eDp5')" BYPASS
	assert_equal "$(count)" $((n + 2))
	# POST is never looked up either.
	http_get /auth.html -d x=1
	assert_equal "$(hdr X-Cache)" BYPASS
}

@test "one copy is shared by all workers" {
	local n i hits=0
	n=$(count)
	for i in $(seq 1 40); do
		http_get /shared.html
		assert_equal "$HTTP_CODE" 200
		[ "$(hdr X-Cache)" = HIT ] && hits=$((hits + 1))
	done
	assert_equal "$hits" 39
	assert_equal "$(count)" $((n + 1))
	# Spread over the workers (each answered hits).
	[ "$(grep -c 'GET /shared.html .*cache=HIT' "$MTD_DIR/access.log")" \
	    -eq 39 ]
}

@test "collapsed misses: 10 concurrent requests, one backend request" {
	local n i pids=() d=$BATS_TEST_TMPDIR
	n=$(count)
	for i in $(seq 1 10); do
		command curl -s -m 10 -D "$d/h$i" -o "$d/b$i" \
		    "$(url '/slow?ms=500')" 3>&- &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
	assert_equal "$(count)" $((n + 1))
	for i in $(seq 1 10); do
		assert_equal "$(cat "$d/b$i")" slow
	done
	assert_equal "$(cat "$d"/h* | grep -c 'X-Cache: MISS')" 1
	assert_equal "$(cat "$d"/h* | grep -c 'X-Cache: HIT')" 9
}

@test "a request with Cache-Control: no-store stores nothing; a hit still answers it" {
	local p="/ns$RANDOM.html"
	http_get "$p" -H 'Cache-Control: no-store'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Cache-Status)" "maitred; fwd=uri-miss"
	assert_equal "$(xcache "$p" -H 'Cache-Control: max-age=0, NO-STORE')" MISS
	assert_equal "$(xcache "$p")" MISS
	assert_equal "$(xcache "$p" -H 'Cache-Control: no-store')" HIT
}

@test "collapsed misses of other Vary variants: each variant fetched once, and stored" {
	local n i pids=() d=$BATS_TEST_TMPDIR p
	p="/slow?ms=500&v=$RANDOM&hdr=Vary:Accept-Language"
	n=$(count)
	command curl -s -m 10 -o /dev/null -H 'Accept-Language: en' \
	    "$(url "$p")" 3>&- &
	pids+=($!)
	sleep 0.1	# the en fill is under way: the others wait for it
	for i in 1 2 3; do
		command curl -s -m 10 -D "$d/h$i" -o /dev/null \
		    -H 'Accept-Language: de' "$(url "$p")" 3>&- &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
	# en once, de once: one waiter filled de, the others waited for it
	assert_equal "$(count)" $((n + 2))
	assert_equal "$(cat "$d"/h* | grep -c 'X-Cache: HIT')" 2
	assert_equal "$(xcache "$p" -H 'Accept-Language: de')" HIT
}

@test "stale-if-error: never a must-revalidate, proxy-revalidate or s-maxage copy (RFC 9111 4.2.4)" {
	stale_setup
	local p1='/mr.html?hdr=Cache-Control:max-age%3D1,must-revalidate'
	local p2='/pr.html?hdr=Cache-Control:public,%20PROXY-REVALIDATE'
	local p3='/sm.html?hdr=Cache-Control:s-maxage%3D1'
	assert_equal "$(xcache "$p1")" MISS
	assert_equal "$(xcache "$p2")" MISS
	assert_equal "$(xcache "$p3")" MISS
	assert_equal "$(xcache /plain.html)" MISS
	stale_backend_down
	sleep 1.2
	http_get "$p1"
	[ "$HTTP_CODE" -ge 502 ]
	http_get "$p2"
	[ "$HTTP_CODE" -ge 502 ]
	# s-maxage implies proxy-revalidate for a shared cache (5.2.2.10)
	http_get "$p3"
	[ "$HTTP_CODE" -ge 502 ]
	# the same age without the directive: stale
	http_get /plain.html
	assert_equal "$(hdr X-Cache)" STALE
}

@test "stale-if-error: a backend's 502, 503 or 504 gets the stale copy; its 500 goes through" {
	local code
	stale_setup
	assert_equal "$(xcache /f.html)" MISS
	sleep 1.2
	for code in 502 503 504; do
		curl -s -o /dev/null "http://127.0.0.1:$BP/fail?code=$code"
		http_get /f.html
		assert_equal "$HTTP_CODE" 200
		assert_equal "$(hdr X-Cache)" STALE
	done
	# An application error is an answer, as nginx passes it by default.
	curl -s -o /dev/null "http://127.0.0.1:$BP/fail?code=500"
	http_get /f.html
	assert_equal "$HTTP_CODE" 500
}

@test "stale-if-error: an expired copy is served when the backend is down" {
	stale_setup
	assert_equal "$(xcache /st.html)" MISS
	cp "$HTTP_BODY" "$MTD_DIR/first"
	stale_backend_down
	sleep 1.2
	http_get /st.html
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr X-Cache)" STALE
	run hdr Cache-Status
	assert_output --regexp '^maitred; hit; ttl=-[0-9]+$'
	cmp "$HTTP_BODY" "$MTD_DIR/first"
	grep -q 'cache=STALE' "$MTD_DIR/access.log"
	# Nothing stored at all: the error goes through.
	http_get /never.html
	[ "$HTTP_CODE" -ge 502 ]
}

# count_above N: the backend has served more than N requests.
count_above() {
	[ "$(count)" -gt "$1" ]
}

@test "stale while updating: one request refreshes an expired object, the others get the stale copy at once" {
	local p='/slow?ms=1500' d=$BATS_TEST_TMPDIR n t0 t1 a
	# max_age 2, not 1: expiry counts whole seconds, and a refresh
	# committed late in a second would be stale again at the next one,
	# before the waiting requests look again.
	own_maitred '/*:2:10000' "read_timeout 5s"
	assert_equal "$(xcache "$p")" MISS
	# Nothing shows the object's expiry without refreshing it: wait it out.
	sleep 3.1
	n=$(count)
	curl -s -o /dev/null -D "$d/a.headers" "$(url "$p")" &
	a=$!
	# The refresh has reached the backend (it sleeps 1.5 s there).
	wait_for count_above "$n"
	t0=$(date +%s%3N)
	http_get "$p"
	t1=$(date +%s%3N)
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr X-Cache)" STALE
	[ $((t1 - t0)) -lt 1000 ]
	wait "$a"
	grep -q '^X-Cache: MISS' "$d/a.headers"
	assert_equal "$(count)" $((n + 1))
}

@test "cache_stale_while_updating off: the others wait for the refresh" {
	local p='/slow?ms=1500&off' d=$BATS_TEST_TMPDIR n a
	own_maitred '/*:2:10000' "read_timeout 5s" \
	    "cache_stale_while_updating off"
	assert_equal "$(xcache "$p")" MISS
	sleep 3.1	# as above: expiry cannot be polled without a refresh
	n=$(count)
	curl -s -o /dev/null "$(url "$p")" &
	a=$!
	wait_for count_above "$n"
	assert_equal "$(xcache "$p")" HIT
	wait "$a"
	assert_equal "$(count)" $((n + 1))
}

@test "PURGE from status_allow removes an object; others get 403" {
	http_get /p.html
	http_get /p.html
	assert_equal "$(hdr X-Cache)" HIT
	http_get /p.html -X PURGE
	assert_equal "$HTTP_CODE" 200
	http_get /p.html -X PURGE
	assert_equal "$HTTP_CODE" 404
	assert_equal "$(xcache /p.html)" MISS
	assert_equal "$(xcache /p.html)" HIT
	own_maitred '/*:60:10000' 'status_allow 192.0.2.1'
	http_get /p.html
	http_get /p.html -X PURGE
	assert_equal "$HTTP_CODE" 403
	assert_equal "$(xcache /p.html)" HIT
}

@test "a 2xx or 3xx to POST, PUT, DELETE, PATCH removes the stored copy (RFC 9111 4.4); GET, errors do not" {
	local m
	for m in POST PUT DELETE PATCH; do
		http_get "/inv-$m.html"
		assert_equal "$(xcache "/inv-$m.html")" HIT
		http_get "/inv-$m.html" -X "$m" -d x
		assert_equal "$HTTP_CODE" 200
		assert_equal "$(hdr X-Cache)" BYPASS
		assert_equal "$(xcache "/inv-$m.html")" MISS
		assert_equal "$(xcache "/inv-$m.html")" HIT
	done
	# a safe method, or an error answer, leaves it
	http_get /inv-OPTIONS.html
	http_get /inv-OPTIONS.html -X OPTIONS
	assert_equal "$(xcache /inv-OPTIONS.html)" HIT
	http_get /status/404
	assert_equal "$(xcache /status/404)" HIT
	http_get /status/404 -X POST -d x
	assert_equal "$HTTP_CODE" 404
	assert_equal "$(xcache /status/404)" HIT
	# with a query, the key is the whole target
	http_get '/inv-q.html?a=1'
	http_get /inv-q.html
	http_get '/inv-q.html?a=1' -X POST -d x
	assert_equal "$(xcache '/inv-q.html?a=1')" MISS
	assert_equal "$(xcache /inv-q.html)" HIT
}

@test "Cache-Control: only-if-cached: a hit is served, a miss is 504 and no backend is asked" {
	local n
	n=$(count)
	http_get /oic.html -H 'Cache-Control: only-if-cached'
	assert_equal "$HTTP_CODE" 504
	assert_equal "$(hdr X-Cache)" MISS
	assert_equal "$(count)" "$n"
	# once stored, it is served
	http_get /oic.html
	assert_equal "$HTTP_CODE" 200
	http_get /oic.html -H 'Cache-Control: max-age=0, only-if-cached'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr X-Cache)" HIT
	assert_equal "$(count)" "$((n + 1))"
	# the connection goes on
	run raw --timeout 3 'GET /oic2.html HTTP/1.1\r\nHost: x\r\nCache-Control: only-if-cached\r\n\r\nGET /oic.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_equal "$(status_lines | tr '\n' ' ')" "504 200 "
}

@test "a worker dying with a cache lock: the others recover and serve" {
	grep -q X-Maitred-Test-Hold-Lock "$MAITRED" ||
	    skip "no test hooks in this binary (make FLAVOR=asan)"
	local i
	http_get /lock.html
	http_get /lock.html
	assert_equal "$(hdr X-Cache)" HIT
	run curl -s -o /dev/null -w '%{http_code}' "$(url /lock.html)" \
	    -H 'X-Maitred-Test-Hold-Lock: 1'
	assert_output 000
	for i in $(seq 1 20); do
		http_get /lock.html
		assert_equal "$HTTP_CODE" 200
	done
	assert_equal "$(hdr X-Cache)" HIT
	wait_for -t 5 log_has 'recovered from a dead worker'
	wait_for -t 5 workers_are 4
}

# worker_replaced OLD: $OWN_PID has one worker again, and it is not OLD.
worker_replaced() {
	local p
	p=$(worker_pids "$OWN_PID")
	[ -n "$p" ] && [ "$p" != "$1" ]
}

# upstream_of PID: process PID has a connection open to the backend.
upstream_of() {
	ss -tnpH state established "( dport = :$B1 )" | grep -q "pid=$1,"
}

@test "a worker killed while filling: the next request fills the key at once" {
	local w
	WORKERS=1 own_maitred '/*:60:100000'
	w=$(worker_pids "$OWN_PID")
	# the only worker claims /slow and waits for the backend; kill it
	curl -s -o /dev/null -m 10 "$(url '/slow?ms=1500&k=dead')" &
	track_pid $!
	wait_for upstream_of "$w"
	kill -9 "$w"
	wait_for worker_replaced "$w"
	# the claim died with its worker: this one fills (and stores) the key
	http_get '/slow?ms=1500&k=dead'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Cache-Status)" "maitred; fwd=uri-miss; stored"
	assert_equal "$(xcache '/slow?ms=1500&k=dead')" HIT
}

@test "a rule whose max_size no stripe can hold is named at start and by -t" {
	local d=$BATS_TEST_TMPDIR
	printf '/small/*:60:100k\n/*:60:4m\n' >"$d/rules.cfg"
	printf 'cache_rules %s\ncache_size 16m\n' "$d/rules.cfg" >"$d/m.conf"
	run "$MAITRED" -t -c "$d/m.conf"
	assert_success
	assert_output --partial "$d/rules.cfg:2: rule \"/*\": max_size 4194304 is more than the largest object a 16777216-byte cache holds (1048576 bytes)"
	refute_output --partial 'rule "/small/*"'
	# the default 64m cache holds 4 MB objects: no warning
	printf 'cache_rules %s\n' "$d/rules.cfg" >"$d/m.conf"
	run "$MAITRED" -t -c "$d/m.conf"
	assert_success
	refute_output --partial "max_size"
	# and on reload, in the error log
	own_maitred '/*:60:100k' "cache_size 16m"
	refute log_has 'max_size'
	printf '/*:60:2m\n' >"$MTD_DIR/cache_rules.cfg"
	kill -HUP "$MAITRED_PID"
	assert wait_for log_has 'cache_rules.cfg:1: rule "/\*": max_size 2097152 is more than the largest object a 16777216-byte cache holds'
}

@test "an answer larger than a stripe holds is not announced as stored" {
	own_maitred '/*:60:4m' "cache_size 16m"
	http_get '/big?bytes=2000000'
	assert_equal "$HTTP_CODE" 200
	assert_equal "$(hdr Cache-Status)" "maitred; fwd=uri-miss"
	# one that fits is
	http_get '/big?bytes=500000'
	assert_equal "$(hdr Cache-Status)" "maitred; fwd=uri-miss; stored"
}

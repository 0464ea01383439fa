#!/usr/bin/env bats
# The status pages: status_path answers JSON, /maitred/metrics beside it
# answers Prometheus text (checked by a small parser below), counters move
# with traffic, and only status_allow may read either.

load helpers

setup_file() {
	local d
	# set here: mtd_dir in $(...) cannot export it
	MTD_DIR=$BATS_FILE_TMPDIR
	export MTD_DIR
	d=$MTD_DIR
	# backends nobody listens on: they show up (down) in both pages
	printf '127.0.0.1:%s:3:2\n127.0.0.1:%s:1:2\n' "$(free_port)" \
	    "$(free_port)" >"$d/backends.cfg"
	WORKERS=2 write_conf "status_path /maitred/status" \
	    "status_allow 127.0.0.1" "backends $d/backends.cfg"
	maitred_start
}

teardown_file() {
	common_teardown
}

teardown() {
	mtd_dump_logs
}

# status_json FILE: GET /maitred/status into FILE, checking 200 and JSON.
status_json() {
	http_get /maitred/status
	[ "$HTTP_CODE" = 200 ] || { echo "status: $HTTP_CODE" >&2; return 1; }
	python3 -m json.tool <"$HTTP_BODY" >/dev/null || {
		echo "not JSON:" >&2
		cat "$HTTP_BODY" >&2
		return 1
	}
	cp "$HTTP_BODY" "$1"
}

# jget FILE EXPR: python expression on the JSON object j.
jget() {
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# Prometheus text format 0.0.4: every sample line is name{labels} value;
# every family has # HELP and # TYPE before its samples; counters end in
# _total; histograms have cumulative buckets ending in le="+Inf" equal to
# _count, and a _sum.
PROMCHECK='
import re, sys
name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
sample = re.compile(r"^(" + name_re + r")(\{(.*)\})? (\S+)( -?[0-9]+)?$")
label = re.compile(r"\s*([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\\n]|\\\\[\\\\\"n])*)\"\s*(,|$)")
helps, types, errs = {}, {}, []
samples = []
text = sys.stdin.read()
if not text.endswith("\n"):
    errs.append("no final newline")
for n, line in enumerate(text.splitlines(), 1):
    if not line.strip():
        continue
    if line.startswith("#"):
        p = line.split(None, 3)
        if len(p) >= 3 and p[1] == "HELP":
            if p[2] in helps: errs.append("%d: second HELP %s" % (n, p[2]))
            helps[p[2]] = n
        elif len(p) >= 4 and p[1] == "TYPE":
            if p[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                errs.append("%d: bad type %s" % (n, p[3]))
            if p[2] in types: errs.append("%d: second TYPE %s" % (n, p[2]))
            types[p[2]] = (n, p[3])
        continue
    m = sample.match(line)
    if not m:
        errs.append("%d: not a sample: %r" % (n, line)); continue
    name, labels = m.group(1), {}
    rest = m.group(3) or ""
    while rest:
        lm = label.match(rest)
        if not lm:
            errs.append("%d: bad labels %r" % (n, m.group(2))); break
        labels[lm.group(1)] = lm.group(2); rest = rest[lm.end():]
    try:
        v = float(m.group(4))
    except ValueError:
        errs.append("%d: bad value %r" % (n, m.group(4))); continue
    fam = name
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and name[:-len(suf)] in types and \
                types[name[:-len(suf)]][1] in ("histogram", "summary"):
            fam = name[:-len(suf)]
    if fam not in types:
        errs.append("%d: %s has no TYPE before it" % (n, name)); continue
    if fam not in helps or helps[fam] > n:
        errs.append("%d: %s has no HELP before it" % (n, name))
    if types[fam][1] == "counter" and not fam.endswith("_total"):
        errs.append("%d: counter %s does not end in _total" % (n, fam))
    if types[fam][1] == "counter" and v < 0:
        errs.append("%d: negative counter %s" % (n, name))
    samples.append((fam, name, labels, v))
for fam, (n, t) in types.items():
    if t != "histogram":
        continue
    b = [(s[2].get("le"), s[3]) for s in samples if s[1] == fam + "_bucket"]
    if not b or b[-1][0] != "+Inf":
        errs.append("histogram %s: no le=\"+Inf\" bucket last" % fam)
    if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
        errs.append("histogram %s: buckets not cumulative" % fam)
    cnt = [s[3] for s in samples if s[1] == fam + "_count"]
    if not cnt or (b and cnt[0] != b[-1][1]):
        errs.append("histogram %s: _count missing or != +Inf bucket" % fam)
    if not [s for s in samples if s[1] == fam + "_sum"]:
        errs.append("histogram %s: no _sum" % fam)
for e in errs:
    print(e)
if not samples:
    print("no samples")
sys.exit(1 if errs or not samples else 0)
'

# prom_value NAME[{LABELS}] FILE: the value of that sample.
prom_value() {
	awk -v n="$1" '$1 == n { print $2; found = 1 } END { exit !found }' "$2"
}

@test "status: 200, application/json, no-store, valid JSON with every key" {
	d=$BATS_TEST_TMPDIR
	status_json "$d/s.json"
	assert_equal "$(hdr Content-Type)" application/json
	assert_equal "$(hdr Cache-Control)" no-store
	for k in uptime workers connections requests bytes request_time_us \
	    backends cache blocked blacklist_entries rate_limited php_waits \
	    backend_waits; do
		run jget "$d/s.json" "'$k' in j"
		assert_output True
	done
	run jget "$d/s.json" 'len(j["workers"])'
	assert_output 2
	run jget "$d/s.json" 'sorted(j["request_time_us"])'
	assert_output "['mean', 'p50', 'p90', 'p99']"
	run jget "$d/s.json" 'isinstance(j["uptime"], int) and j["uptime"] >= 0'
	assert_output True
	# no cache_rules here: nothing can be cached
	run jget "$d/s.json" 'j["cache"]["enabled"]'
	assert_output False
}

@test "status: counters move after requests" {
	d=$BATS_TEST_TMPDIR
	status_json "$d/a.json"
	for i in $(seq 1 5); do
		curl -s -o /dev/null "$(url /hello.txt)"
	done
	curl -s -o /dev/null "$(url /no-such-file)"
	status_json "$d/b.json"
	a_total=$(jget "$d/a.json" 'j["requests"]["total"]')
	b_total=$(jget "$d/b.json" 'j["requests"]["total"]')
	# 5 + the 404 + the first status request itself
	[ "$b_total" -ge $((a_total + 6)) ]
	[ "$(jget "$d/b.json" 'j["requests"]["2xx"]')" -ge \
	    $(( $(jget "$d/a.json" 'j["requests"]["2xx"]') + 5 )) ]
	[ "$(jget "$d/b.json" 'j["bytes"]["out"]')" -gt \
	    "$(jget "$d/a.json" 'j["bytes"]["out"]')" ]
	[ "$(jget "$d/b.json" 'j["bytes"]["in"]')" -gt \
	    "$(jget "$d/a.json" 'j["bytes"]["in"]')" ]
	[ "$(jget "$d/b.json" 'j["connections"]["total"]')" -gt \
	    "$(jget "$d/a.json" 'j["connections"]["total"]')" ]
	# the per-worker requests add up to the total
	run jget "$d/b.json" 'sum(w["requests"] for w in j["workers"]) == j["requests"]["total"]'
	assert_output True
}

@test "metrics: 200, Prometheus text that parses, HELP/TYPE, counters _total" {
	d=$BATS_TEST_TMPDIR
	http_get /maitred/metrics
	assert_equal "$HTTP_CODE" 200
	run hdr Content-Type
	assert_output --regexp '^text/plain; version=0\.0\.4'
	run python3 -c "$PROMCHECK" <"$HTTP_BODY"
	assert_success
	refute_output
	for m in maitred_uptime_seconds maitred_connections_active \
	    maitred_requests_total maitred_cache_hits_total \
	    maitred_blocked_total maitred_blacklist_entries \
	    maitred_rate_limited_total maitred_php_waits_total \
	    maitred_backend_waits_total \
	    maitred_request_duration_seconds; do
		grep -q "^# TYPE $m " "$HTTP_BODY"
	done
}

@test "metrics: the checker itself rejects broken text" {
	run python3 -c "$PROMCHECK" <<<'maitred_x_total 1'
	assert_failure
	run python3 -c "$PROMCHECK" <<<'# HELP maitred_y Y.
# TYPE maitred_y counter
maitred_y 1'
	assert_failure
	assert_output --partial "does not end in _total"
	run python3 -c "$PROMCHECK" <<<'# HELP maitred_z_total Z.
# TYPE maitred_z_total counter
maitred_z_total{a="b" 1'
	assert_failure
	run python3 -c "$PROMCHECK" <<<'# HELP maitred_z_total Z.
# TYPE maitred_z_total counter
maitred_z_total{a="b",c="d"} 1'
	assert_success
}

@test "metrics: counters move after requests and agree with the JSON" {
	d=$BATS_TEST_TMPDIR
	http_get /maitred/metrics
	cp "$HTTP_BODY" "$d/m1"
	for i in $(seq 1 4); do
		curl -s -o /dev/null "$(url /hello.txt)"
	done
	http_get /maitred/metrics
	cp "$HTTP_BODY" "$d/m2"
	a=$(prom_value 'maitred_requests_total{class="2xx"}' "$d/m1")
	b=$(prom_value 'maitred_requests_total{class="2xx"}' "$d/m2")
	[ "$b" -ge $((a + 4)) ]
	a=$(prom_value maitred_bytes_sent_total "$d/m1")
	b=$(prom_value maitred_bytes_sent_total "$d/m2")
	[ "$b" -gt "$a" ]
	a=$(prom_value maitred_request_duration_seconds_count "$d/m1")
	b=$(prom_value maitred_request_duration_seconds_count "$d/m2")
	[ "$b" -ge $((a + 4)) ]
}

@test "status and metrics from an address not in status_allow: 403" {
	# the whole 127/8 is loopback on Linux: 127.0.0.2 is another client
	curl -s -o /dev/null --interface 127.0.0.2 "$(url /hello.txt)" ||
	    skip "cannot bind 127.0.0.2"
	run curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 \
	    "$(url /maitred/status)"
	assert_output 403
	run curl -s -w '%{http_code}' --interface 127.0.0.2 \
	    "$(url /maitred/metrics)"
	assert_output --regexp '403$'
	refute_output --partial maitred_requests_total
	# everything else is still served to it
	run curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 \
	    "$(url /hello.txt)"
	assert_output 200
	# and 127.0.0.1 still reads them
	run curl -s -o /dev/null -w '%{http_code}' "$(url /maitred/status)"
	assert_output 200
}

@test "status: HEAD answers the headers without a body" {
	run curl -s -I -w '%{http_code}' "$(url /maitred/status)"
	assert_output --regexp '200$'
	assert_output --partial "application/json"
}

@test "status: only the exact paths; a query string is fine" {
	http_get /maitred/status?x=1
	assert_equal "$HTTP_CODE" 200
	python3 -m json.tool <"$HTTP_BODY" >/dev/null
	# anything else is not theirs (it goes to the, dead, backends)
	http_get /maitred/statusx
	[ "$HTTP_CODE" != 200 ]
	http_get /maitred/metricsx
	[ "$HTTP_CODE" != 200 ]
}

@test "status: the backends, in JSON and as labelled metrics" {
	d=$BATS_TEST_TMPDIR
	status_json "$d/s.json"
	run jget "$d/s.json" 'len(j["backends"])'
	assert_output 2
	run jget "$d/s.json" 'sorted(j["backends"][0])'
	assert_output "['active', 'address', 'failures', 'healthy', 'requests', 'weight']"
	first=$(head -n 1 "$(mtd_dir)/backends.cfg" | cut -d: -f1,2)
	run jget "$d/s.json" 'j["backends"][0]["address"]'
	assert_output "$first"
	http_get /maitred/metrics
	run python3 -c "$PROMCHECK" <"$HTTP_BODY"
	assert_success
	grep -qF "maitred_backend_up{backend=\"$first\"} " "$HTTP_BODY"
	grep -qF "maitred_backend_requests_total{backend=\"$first\"} " "$HTTP_BODY"
}

@test "status: 64 backends with 66-character names and 16 workers: complete pages" {
	# a second maitred, in its own directory and port
	local save_dir=$MTD_DIR save_port=$PORT save_conf=$MTD_CONF \
	    save_pid=$MAITRED_PID i name
	MTD_DIR=$BATS_TEST_TMPDIR/big
	mkdir -p "$MTD_DIR"
	PORT=
	# Long names without DNS: fe80::1 on lo (scope 1, written with
	# leading zeros), every digit spelled out; nobody listens there.
	for i in $(seq 1 64); do
		printf '[fe80:0000:0000:0000:0000:0000:0000:0001%%000000000000000001]:%d:%d:3\n' \
		    $((40000 + i)) $((i % 5 + 1))
	done >"$MTD_DIR/backends.cfg"
	name=$(head -n 1 "$MTD_DIR/backends.cfg" | cut -d: -f1-9)
	[ "${#name}" -eq 66 ]
	WORKERS=16 write_conf "status_path /maitred/status" \
	    "status_allow 127.0.0.1" "backends $MTD_DIR/backends.cfg"
	big_ok=0
	if maitred_start; then
		status_json "$MTD_DIR/s.json" &&
		[ "$(jget "$MTD_DIR/s.json" 'len(j["backends"])')" = 64 ] &&
		[ "$(jget "$MTD_DIR/s.json" 'j["backends"][0]["address"]')" = \
		    "$name" ] &&
		[ "$(jget "$MTD_DIR/s.json" 'len(j["workers"])')" = 16 ] &&
		http_get /maitred/metrics && [ "$HTTP_CODE" = 200 ] &&
		python3 -c "$PROMCHECK" <"$HTTP_BODY" &&
		[ "$(grep -c '^maitred_backend_up{' "$HTTP_BODY")" = 64 ] &&
		grep -qF "maitred_backend_requests_total{backend=\"$name\"} " \
		    "$HTTP_BODY" &&
		http_get /maitred/metrics -I && [ "$HTTP_CODE" = 200 ] &&
		[ "$(hdr Content-Length)" -gt 16384 ] &&
		big_ok=1
	fi
	maitred_stop
	mtd_dump_logs
	MTD_DIR=$save_dir PORT=$save_port MTD_CONF=$save_conf
	MAITRED_PID=$save_pid
	assert_equal "$big_ok" 1
}

# own_start [WRITE_CONF ARGS...]: a second maitred for this test only, in
# its own directory and port; own_end puts the file's maitred back.
own_start() {
	save_dir=$MTD_DIR save_port=$PORT save_conf=$MTD_CONF
	save_pid=$MAITRED_PID
	MTD_DIR=$BATS_TEST_TMPDIR/own
	mkdir -p "$MTD_DIR"
	PORT=
	WORKERS=${WORKERS:-1} write_conf "status_path /maitred/status" \
	    "status_allow 127.0.0.1" "$@"
	maitred_start
}

own_end() {
	maitred_stop
	mtd_dump_logs
	MTD_DIR=$save_dir PORT=$save_port MTD_CONF=$save_conf
	MAITRED_PID=$save_pid
}

@test "latency: a 300 ms request is reported as at least 300 ms, in the bucket above it" {
	local p i ok=0 d=$BATS_TEST_TMPDIR
	p=$(backend_start slow)
	printf '127.0.0.1:%s:1:3\n' "$p" >"$d/slow-backends.cfg"
	if own_start "backends $d/slow-backends.cfg"; then
		for i in 1 2 3; do
			curl -s -o /dev/null "$(url /hello.txt)"
		done
		http_get '/slow?ms=300' && [ "$HTTP_CODE" = 200 ] &&
		status_json "$d/lat.json" &&
		http_get /maitred/metrics && cp "$HTTP_BODY" "$d/lat.prom" &&
		ok=1
	fi
	own_end
	assert_equal "$ok" 1
	# three fast requests and a slow one: p99 is the slow one, whose
	# bucket [2^18, 2^19) us has the upper bound 524288 us
	run jget "$d/lat.json" 'j["request_time_us"]["p99"]'
	assert_output 524288
	run jget "$d/lat.json" 'j["request_time_us"]["p50"] <= 262144'
	assert_output True
	run python3 -c "$PROMCHECK" <"$d/lat.prom"
	assert_success
	# bucket labels are the upper bounds 2^1 .. 2^23 us, then +Inf
	run awk -F'"' '/^maitred_request_duration_seconds_bucket/ { print $2 }' \
	    "$d/lat.prom"
	assert_line --index 0 2e-06
	assert_line --index 22 8.38861
	assert_line --index 23 +Inf
	[ "${#lines[@]}" -eq 24 ]
	# the slow request is counted under le=0.524288 but not 0.262144
	n=$(prom_value maitred_request_duration_seconds_count "$d/lat.prom")
	assert_equal "$(prom_value 'maitred_request_duration_seconds_bucket{le="0.262144"}' "$d/lat.prom")" $((n - 1))
	assert_equal "$(prom_value 'maitred_request_duration_seconds_bucket{le="0.524288"}' "$d/lat.prom")" "$n"
}

@test "status and metrics are read-only: other methods get 405 with Allow" {
	local m p
	for p in /maitred/status /maitred/metrics; do
		for m in PUT DELETE POST PURGE; do
			run curl -s -o /dev/null -D - -X "$m" "$(url "$p")"
			assert_line --regexp '^HTTP/1\.1 405 '
			assert_line --regexp '^Allow: GET, HEAD'
		done
		run curl -s -o /dev/null -w '%{http_code}' -I "$(url "$p")"
		assert_output 200
	done
}

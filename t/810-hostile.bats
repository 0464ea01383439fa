#!/usr/bin/env bats
# Slow and hostile clients: slowloris, a dribbled POST body to the proxy,
# and 10,000 idle keep-alive connections held at once. Every client is
# bounded (t/lib/idle_conns.py deadlines, curl --max-time).

load helpers
load lib/hardening

setup() {
	PORT=
	MTD_DIR=$BATS_TEST_TMPDIR
	export MTD_DIR
}

teardown() {
	common_teardown
}

# timed_get PATH: print "CODE SECONDS" of one GET.
timed_get() {
	command curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}' \
	    "$(url "$1")" || true
}

@test "slowloris: 2,000 slow heads are cut at client_timeout, a normal client is served fast" {
	write_conf "client_timeout 2s" "worker_connections 5000"
	maitred_start
	python3 "$IDLE_CONNS" slowloris --port "$PORT" --conns 2000 \
	    --interval 0.5 --duration 9 >"$MTD_DIR/slow.out" 2>&1 3>&- &
	local slowpid=$! i r code t worst=0
	track_pid "$slowpid"
	sleep 1
	for i in 1 2 3 4 5 6; do
		r=$(timed_get /hello.txt)
		code=${r% *}
		t=${r#* }
		assert_equal "$code" 200
		less_than "$t" 1
		less_than "$worst" "$t" && worst=$t
		sleep 0.2
	done
	hb_note "slowloris: worst normal GET during the attack: ${worst}s"
	wait_gone "$slowpid" 20
	local line
	line=$(cat "$MTD_DIR/slow.out")
	hb_note "slowloris: $line"
	[ "$(hb_field connected "$line")" -ge 1800 ]
	# every slow connection was closed by the server, around 2 s
	assert_equal "$(hb_field closed "$line")" "$(hb_field connected "$line")"
	less_than "$(hb_field median_close "$line")" 4
	less_than 1.5 "$(hb_field median_close "$line")"
	less_than "$(hb_field max_close "$line")" 6
	# and told why (408), at least for most of them
	[ "$(hb_field got408 "$line")" -ge $(( $(hb_field connected "$line") * 9 / 10 )) ]
}

@test "slow POST body to a proxied path: other clients unaffected" {
	local b1 i r code t
	b1=$(hb_backend_start b1)
	printf '127.0.0.1:%s:1:3\n' "$b1" >"$MTD_DIR/backends.cfg"
	write_conf "backends $MTD_DIR/backends.cfg" "client_timeout 10s" \
	    "read_timeout 10s"
	maitred_start
	# 3 clients send a head, then dribble 20 body bytes, one every 0.2 s
	# (~4 s)
	for i in 1 2 3; do
		python3 "$IDLE_CONNS" slowpost --port "$PORT" --path /echo \
		    --body-len 20 --interval 0.2 --timeout 8 \
		    >"$MTD_DIR/slowpost.$i" 2>&1 3>&- &
		track_pid $!
	done
	sleep 0.5
	for i in 1 2 3 4 5 6 7 8; do
		r=$(timed_get /proxied)
		code=${r% *}
		t=${r#* }
		assert_equal "$code" 200
		less_than "$t" 1
		r=$(timed_get /hello.txt)
		assert_equal "${r% *}" 200
		less_than "${r#* }" 1
		sleep 0.2
	done
	# the slow clients themselves get their answer in the end
	for p in $MTD_TRACK; do
		[ "$(cat "$MTD_DIR/b1.pid")" = "$p" ] || wait_gone "$p" 15 || true
	done
	for i in 1 2 3; do
		run cat "$MTD_DIR/slowpost.$i"
		assert_equal "$(first_status)" 200
		assert_output --partial '"body_len": 20'
	done
}

# established_at_least N: N client connections to $PORT are open.
established_at_least() {
	[ "$(ss -tnH state established "( sport = :$PORT )" | wc -l)" -ge "$1" ]
}

@test "slow POST: 2,000 clients trickling bodies hold no backend connection; others are served" {
	local b1 before i r
	b1=$(hb_backend_start b1)
	printf '127.0.0.1:%s:1:3\n' "$b1" >"$MTD_DIR/backends.cfg"
	write_conf "backends $MTD_DIR/backends.cfg" "client_timeout 3s" \
	    "worker_connections 5000"
	maitred_start
	before=$(hb_backend_count "$b1")
	python3 "$IDLE_CONNS" slowloris --port "$PORT" --conns 2000 \
	    --post /echo --body-len 1000 --interval 0.5 --duration 6 \
	    >"$MTD_DIR/slowpost.out" 2>&1 3>&- &
	local slowpid=$!
	track_pid "$slowpid"
	wait_for established_at_least 1500
	for i in 1 2 3 4 5 6; do
		r=$(timed_get /proxied)
		assert_equal "${r% *}" 200
		less_than "${r#* }" 1
		sleep 0.2
	done
	# the backend saw our six GETs, none of the 2,000 bodies
	assert_equal "$(hb_backend_count "$b1")" $((before + 6))
	wait_gone "$slowpid" 30
	hb_note "slow POST: $(cat "$MTD_DIR/slowpost.out")"
	[ "$(hb_field connected "$(cat "$MTD_DIR/slowpost.out")")" -ge 1800 ]
}

@test "10,000 idle keep-alive connections held at once, each answered afterwards" {
	local n=10000 before after line held per_rss per_pss t0 t1
	printf '#!/bin/sh\nulimit -n 20000 || exit 1\nexec %s "$@"\n' \
	    "$(readlink -f "$MAITRED")" >"$MTD_DIR/maitred-20k"
	chmod +x "$MTD_DIR/maitred-20k"
	write_conf "worker_connections 20000" "client_timeout 60s" \
	    "keepalive_timeout 120s"
	MAITRED=$MTD_DIR/maitred-20k maitred_start
	http_get /hello.txt
	assert_equal "$HTTP_CODE" 200
	sleep 0.3
	before=$(hb_mem_kb "$MAITRED_PID" $(worker_pids))
	(
		ulimit -n 20000
		exec python3 "$IDLE_CONNS" hold --port "$PORT" --conns "$n" \
		    --request --connect-time 40 --status "$MTD_DIR/held" \
		    --go "$MTD_DIR/go" --hold 60
	) >"$MTD_DIR/hold.out" 2>&1 3>&- &
	local hpid=$!
	track_pid "$hpid"
	wait_for -t 60 test -e "$MTD_DIR/held"
	hb_note "10k: $(cat "$MTD_DIR/held")"
	assert_equal "$(cat "$MTD_DIR/held")" "held=$n ok=$n"
	sleep 0.5
	after=$(hb_mem_kb "$MAITRED_PID" $(worker_pids))
	per_rss=$(( (${after% *} - ${before% *}) * 1024 / n ))
	per_pss=$(( (${after#* } - ${before#* }) * 1024 / n ))
	hb_note "10k: maitred RSS ${before% *} kB -> ${after% *} kB, PSS ${before#* } kB -> ${after#* } kB"
	hb_note "10k: memory per idle keep-alive connection: ${per_rss} B (RSS), ${per_pss} B (PSS)"
	# a new client is still served while they are held
	http_get /hello.txt
	assert_equal "$HTTP_CODE" 200
	t0=$(date +%s%3N)
	touch "$MTD_DIR/go"
	wait_gone "$hpid" 45
	t1=$(date +%s%3N)
	line=$(cat "$MTD_DIR/hold.out")
	hb_note "10k: $line (second round in $((t1 - t0)) ms)"
	assert_equal "$(hb_field second_sent "$line")" "$n"
	assert_equal "$(hb_field second_ok "$line")" "$n"
	# a sane bound: under 32 KiB per idle connection
	[ "$per_pss" -lt 32768 ]
}

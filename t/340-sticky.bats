#!/usr/bin/env bats
# Sticky sessions: `sticky cookie NAME` keeps a client on the backend that
# served it first, across workers, and moves it when that backend fails.

load helpers

# sb_start NAME: a t/backend.py on a free port (pid in $MTD_DIR/NAME.pid).
sb_start() {
	local port
	port=$(free_port)
	python3 "$BATS_TEST_DIRNAME/backend.py" --port "$port" --name "$1" \
	    --pidfile "$MTD_DIR/$1.pid" </dev/null >/dev/null 2>&1 3>&- &
	track_pid $!
	wait_for port_listening "$port"
	eval "PORT_$1=$port"
}

setup() {
	export MTD_DIR=$BATS_TEST_TMPDIR
	sb_start one
	sb_start two
	sb_start three
	printf '127.0.0.1:%s:1:1\n' "$PORT_one" "$PORT_two" "$PORT_three" \
	    >"$MTD_DIR/backends.cfg"
	WORKERS=2 write_conf "backends $MTD_DIR/backends.cfg" \
	    "sticky cookie SRV" "health_interval 200ms" "connect_timeout 1s"
	maitred_start
}

teardown() {
	common_teardown
}

# get [curl args...]: headers of GET /app into $MTD_DIR/h; sets BACKEND and
# COOKIE (the SRV value set by the response, or empty).
get() {
	curl -s -o /dev/null -D "$MTD_DIR/h" --max-time 10 "$@" "$(url /app)"
	BACKEND=$(tr -d '\r' <"$MTD_DIR/h" | awk -F': ' 'tolower($1) == "x-backend" {print $2}')
	COOKIE=$(tr -d '\r' <"$MTD_DIR/h" |
	    sed -n 's/^Set-Cookie: SRV=\([0-9a-f]*\);.*/\1/p')
}

@test "sticky: a new client gets an opaque cookie, then stays on its backend" {
	get
	[ -n "$BACKEND" ]
	[[ $COOKIE =~ ^[0-9a-f]{16}$ ]]
	grep -q 'Set-Cookie: SRV=[0-9a-f]*; Path=/; HttpOnly' "$MTD_DIR/h"
	# Opaque: neither the port nor the address in clear.
	refute [ "${COOKIE#*$PORT_one}" != "$COOKIE" ]
	first=$BACKEND cookie=$COOKIE
	for i in $(seq 12); do
		get -H "Cookie: a=b; SRV=$cookie; c=d"
		assert_equal "$BACKEND" "$first"
		assert_equal "$COOKIE" ""
	done
}

@test "sticky: without the cookie the strategy spreads clients" {
	seen=
	for i in 1 2 3 4 5 6; do
		get
		seen="$seen $BACKEND"
	done
	assert_equal "$(echo $seen | tr ' ' '\n' | sort -u | wc -l)" 3
}

@test "sticky: a forged or stale cookie falls back to the strategy" {
	get -H "Cookie: SRV=0123456789abcdef"
	[ -n "$BACKEND" ]
	[[ $COOKIE =~ ^[0-9a-f]{16}$ ]]
	assert [ "$COOKIE" != 0123456789abcdef ]
}

@test "sticky: when its backend fails the client moves and gets a new cookie" {
	get
	first=$BACKEND cookie=$COOKIE
	kill "$(cat "$MTD_DIR/$first.pid")"
	wait_for log_has "backend .* down"
	get -H "Cookie: SRV=$cookie"
	assert_equal "$(head -1 "$MTD_DIR/h" | cut -d' ' -f2)" 200
	assert [ "$BACKEND" != "$first" ]
	[[ $COOKIE =~ ^[0-9a-f]{16}$ ]]
	second=$BACKEND cookie2=$COOKIE
	get -H "Cookie: SRV=$cookie2"
	assert_equal "$BACKEND" "$second"
}

@test "sticky: bad directive values are file:line errors" {
	sed -i '/^sticky /d' "$MTD_CONF"
	printf 'sticky cookie bad=name\n' >>"$MTD_CONF"
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_failure
	assert_output --partial 'maitred.conf:'
	assert_output --partial 'sticky: invalid value'
}

@test "sticky: cookies (and ip-hash placements) survive a restart; hash_secret changes them" {
	get
	local first=$BACKEND cookie=$COOKIE
	maitred_stop
	maitred_start
	get -H "Cookie: SRV=$cookie"
	assert_equal "$BACKEND" "$first"
	assert_equal "$COOKIE" ""
	# another secret, other tokens: the old cookie is unknown
	maitred_stop
	echo "hash_secret s3cret-word" >>"$MTD_CONF"
	maitred_start
	get -H "Cookie: SRV=$cookie"
	[[ $COOKIE =~ ^[0-9a-f]{16}$ ]]
	assert [ "$COOKIE" != "$cookie" ]
}

@test "sticky: the cookie wins under every strategy" {
	declare -A cookie_of
	for i in 1 2 3; do
		get
		cookie_of[$BACKEND]=$COOKIE
	done
	assert_equal "${#cookie_of[@]}" 3
	for s in least-conn ip-hash weighted round-robin; do
		maitred_stop
		sed -i '/^strategy /d' "$MTD_CONF"
		echo "strategy $s" >>"$MTD_CONF"
		maitred_start
		for b in one two three; do
			for i in 1 2 3 4; do
				get -H "Cookie: SRV=${cookie_of[$b]}"
				assert_equal "$s $BACKEND" "$s $b"
				assert_equal "$COOKIE" ""
			done
		done
	done
}

#!/usr/bin/env bats
# valgrind memcheck on a basic proxy scenario: master and worker run under
# memcheck (children traced), serve static files and proxied requests with
# bodies both ways, then stop; every process must report zero errors.

load helpers

setup() {
	command -v valgrind >/dev/null || skip "valgrind is not installed"
	! grep -qa __asan_init "$MAITRED" ||
	    skip "valgrind cannot run a sanitizer build"
	export MTD_DIR=$BATS_TEST_TMPDIR
	BE_PORT=$(free_port)
	python3 "$BATS_TEST_DIRNAME/backend.py" --port "$BE_PORT" --name vg \
	    --pidfile "$MTD_DIR/vg.pid" </dev/null >/dev/null 2>&1 3>&- &
	track_pid $!
	wait_for port_listening "$BE_PORT"
	printf '127.0.0.1:%s:1:3\n' "$BE_PORT" >"$MTD_DIR/backends.cfg"
	REAL=$MAITRED
	cat >"$MTD_DIR/vg-maitred" <<EOS
#!/bin/sh
exec valgrind --tool=memcheck --trace-children=yes --track-fds=no \
    --error-exitcode=99 --log-file=$MTD_DIR/vg.%p.log "$REAL" "\$@"
EOS
	chmod +x "$MTD_DIR/vg-maitred"
}

teardown() {
	common_teardown
}

@test "valgrind: no memcheck error in master or worker on a proxy scenario" {
	head -c 300000 /dev/urandom >"$MTD_DIR/body.bin"
	MAITRED=$MTD_DIR/vg-maitred WAIT_TIMEOUT=30 WORKERS=1 \
	    write_conf "backends $MTD_DIR/backends.cfg"
	MAITRED=$MTD_DIR/vg-maitred WAIT_TIMEOUT=30 maitred_start
	for i in 1 2 3; do
		assert_equal "$(curl -s -o /dev/null -w '%{http_code}' \
		    --max-time 20 "$(url /index.html)")" 200
		assert_equal "$(curl -s -o /dev/null -w '%{http_code}' \
		    --max-time 20 "$(url /big?bytes=200000)")" 200
		run curl -s --max-time 20 --data-binary @"$MTD_DIR/body.bin" \
		    "$(url /echo)"
		assert_output --partial "\"body_len\": 300000"
		assert_equal "$(curl -s -o /dev/null -w '%{http_code}' \
		    --path-as-is --max-time 20 "$(url /a/../../x)")" 400
	done
	assert_equal "$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
	    "$(url /maitred/status)")" 200
	maitred_stop
	logs=$(ls "$MTD_DIR"/vg.*.log | wc -l)
	[ "$logs" -ge 2 ]
	for f in "$MTD_DIR"/vg.*.log; do
		grep -q "ERROR SUMMARY: 0 errors" "$f" || {
			cat "$f"
			false
		}
	done
}

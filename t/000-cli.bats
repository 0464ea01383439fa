#!/usr/bin/env bats
# Command line: -v -h -t -c -p -s -w and their errors.

load helpers

setup() {
	write_conf
}

teardown() {
	common_teardown
}

@test "-v prints the version on stdout and exits 0" {
	run --separate-stderr "$MAITRED" -v
	assert_success
	assert_output "maitred 0.1.0"
}

@test "-h lists every flag on stdout and exits 0" {
	run --separate-stderr "$MAITRED" -h
	assert_success
	for f in -c -p -s -w -d -t -v -h; do
		assert_output --partial -- "$f"
	done
}

@test "an unknown flag prints the usage on stderr and exits 1" {
	run --separate-stderr "$MAITRED" -x
	assert_failure 1
	assert_output ""
	[[ "$stderr" == *-c* && "$stderr" == *-w* ]]
	# named as maitred, not by the path it was run from
	[[ "${stderr_lines[0]}" == "maitred: unknown option -x" ]]
	run --separate-stderr "$MAITRED" --frobnicate
	assert_failure 1
	[[ "${stderr_lines[0]}" == "maitred: unknown option --frobnicate" ]]
	# a value given to one that takes none: named as given
	run --separate-stderr "$MAITRED" --help=x
	assert_failure 1
	[[ "${stderr_lines[0]}" == "maitred: option --help=x: --help and --version take no value" ]]
}

@test "--help and --version are -h and -v" {
	run "$MAITRED" --help
	assert_success
	assert_line --index 0 --partial "usage: maitred"
	run "$MAITRED" --version
	assert_success
	assert_output --regexp '^maitred [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "a flag without its argument exits 1" {
	run "$MAITRED" -c
	assert_failure 1
	assert_line --index 0 "maitred: option -c needs a value"
	run "$MAITRED" -t -c "$MTD_CONF" -w
	assert_failure 1
	assert_line --index 0 "maitred: option -w needs a value"
}

@test "a stray argument is named, then the usage" {
	run "$MAITRED" -t extra
	assert_failure 1
	assert_line --index 0 'maitred: unexpected argument "extra"'
	assert_line --index 1 --partial "usage: maitred"
}

@test "-t: a pidfile path that is a directory fails, as the start would" {
	local d
	d=$(mtd_dir)
	mkdir -p "$d/piddir"
	write_conf "pidfile $d/piddir"
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_failure 1
	assert_output --partial "pidfile $d/piddir: Is a directory"
}

@test "-t: a pidfile in a directory that takes no new file (/proc) fails, as the start would" {
	[ -d /proc/self ] || skip "no /proc"
	write_conf "pidfile /proc/maitred-t-$$.pid"
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_failure 1
	assert_output --partial "pidfile /proc/maitred-t-$$.pid: No such file or directory"
	# and a good one is left as it was: not made, or not touched
	write_conf "pidfile $(mtd_dir)/t.pid"
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_success
	[ ! -e "$(mtd_dir)/t.pid" ]
}

@test "a pidfile naming the configuration, a log or a file that holds no pid is refused, the file kept" {
	local d
	d=$(mtd_dir)
	write_conf "pidfile $d/maitred.conf"
	cp "$MTD_CONF" "$d/conf.before"
	line=$(grep -n "^pidfile $d/maitred.conf" "$MTD_CONF" | cut -d: -f1)
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_failure 1
	assert_output --partial "maitred.conf:$line: pidfile $d/maitred.conf: is the configuration file"
	# the start refuses too, before writing anything
	run "$MAITRED" -c "$MTD_CONF"
	assert_failure 1
	assert_output --partial "is the configuration file"
	cmp "$d/conf.before" "$MTD_CONF"
	write_conf "pidfile $d/error.log"
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_failure 1
	assert_output --partial "pidfile $d/error.log: is the error_log"
	printf 'precious\n' >"$d/notes.txt"
	write_conf "pidfile $d/notes.txt"
	run "$MAITRED" -c "$MTD_CONF"
	assert_failure 1
	assert_output --partial "pidfile $d/notes.txt: is a file that holds no process ID"
	assert_equal "$(cat "$d/notes.txt")" precious
	# a stale pidfile (a number) or an empty one is fine
	printf '123456\n' >"$d/old.pid"
	: >"$d/empty.pid"
	write_conf "pidfile $d/old.pid"
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_success
	write_conf "pidfile $d/empty.pid"
	run "$MAITRED" -t -c "$MTD_CONF"
	assert_success
}

@test "-t on a good configuration prints configuration ok and exits 0" {
	run --separate-stderr "$MAITRED" -t -c "$MTD_CONF"
	assert_success
	assert_output "maitred: configuration ok"
	# -t starts nothing
	run port_listening "$PORT"
	assert_failure
}

@test "-t on a bad configuration exits 1 and names file:line" {
	write_conf "upstreem 127.0.0.1:9"
	n=$(conf_line "upstreem 127.0.0.1:9")
	run --separate-stderr "$MAITRED" -t -c "$MTD_CONF"
	assert_failure 1
	refute_output --partial "configuration ok"
	[[ "$stderr" == *"maitred.conf:$n: unknown directive \"upstreem\""* ]]
}

@test "-c with a missing file exits 1 with No such file, naming it by its absolute path" {
	run "$MAITRED" -t -c "$BATS_TEST_TMPDIR/nothere.conf"
	assert_failure 1
	assert_output --partial "nothere.conf: No such file or directory"
	run bash -c 'cd "$1" && "$2" -t -c ./sub/nothere.conf' _ \
	    "$BATS_TEST_TMPDIR" "$MAITRED"
	assert_failure 1
	assert_output "maitred: $BATS_TEST_TMPDIR/sub/nothere.conf: No such file or directory"
	run timeout 10 "$MAITRED" -c "$BATS_TEST_TMPDIR/nothere.conf" 3>&-
	assert_failure 1
	assert_output --partial "No such file"
}

@test "-p overrides the listen port" {
	p2=$(free_port)
	maitred_start -p "$p2"
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p2/"
	assert_output 200
	run port_listening "$PORT"
	assert_failure
	assert wait_for log_has "listening on 127.0.0.1:$p2"
}

@test "-p refuses to put two listen lines on one address and port" {
	local p2
	p2=$(free_port)
	printf '# -p\nlisten 127.0.0.1:%s\nlisten [::1]:%s\n\nlisten 127.0.0.1:%s\n' \
	    "$PORT" "$PORT" "$(free_port)" >>"$MTD_CONF.2"
	run "$MAITRED" -t -c "$MTD_CONF.2" -p "$p2"
	assert_failure 1
	# the lines of the file, not the places in the list
	assert_output --partial "-p $p2: listen lines 2 and 5 of $MTD_CONF.2 would both be 127.0.0.1:$p2"
	run "$MAITRED" -t -c "$MTD_CONF.2"
	assert_success
}

@test "-c with an empty path says so" {
	run "$MAITRED" -t -c ''
	assert_failure 1
	assert_output --partial 'maitred: -c: invalid configuration file ""'
}

@test "-p rejects junk, 0 and 70000" {
	for v in abc 0 70000 -1 ' 80' +80 '80 '; do
		run "$MAITRED" -t -c "$MTD_CONF" -p "$v"
		assert_failure 1
		assert_output --partial "maitred: -p: invalid port \"$v\""
	done
}

@test "-s accepts the strategy names and 0-3" {
	for s in round-robin least-conn ip-hash weighted 0 1 2 3; do
		run "$MAITRED" -t -c "$MTD_CONF" -s "$s"
		assert_success
		assert_output --partial "configuration ok"
	done
}

@test "-s rejects junk" {
	for s in random 4 -1 ROUND; do
		run "$MAITRED" -t -c "$MTD_CONF" -s "$s"
		assert_failure 1
		assert_output --partial "maitred: -s: invalid"
	done
}

@test "-w sets the number of workers" {
	maitred_start -w 3
	wait_for workers_are 3
	assert wait_for log_has "started: 3 workers"
	assert_equal "$(worker_count)" 3
}

@test "-w accepts 1 and 64" {
	for w in 1 64; do
		run "$MAITRED" -t -c "$MTD_CONF" -w "$w"
		assert_success
	done
}

@test "-w rejects 0, 65 and abc" {
	for w in 0 65 abc; do
		run "$MAITRED" -t -c "$MTD_CONF" -w "$w"
		assert_failure 1
		assert_output --partial "maitred: -w: invalid"
	done
}

@test "-w 1 runs one worker" {
	maitred_start -w 1
	assert_equal "$(worker_count)" 1
	run curl -s -o /dev/null -w '%{http_code}' "$(url /)"
	assert_output 200
}

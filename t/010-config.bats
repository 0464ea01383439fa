#!/usr/bin/env bats
# Configuration: error messages (file:line: what), all errors shown,
# nothing started on error, relative paths, listen forms, bind errors.

load helpers

setup() {
	write_conf
}

teardown() {
	common_teardown
}

# check_conf: run -t on $MTD_CONF (stdout and stderr merged).
check_conf() {
	run "$MAITRED" -t -c "$MTD_CONF"
}

@test "a complete valid configuration passes -t" {
	d=$(mtd_dir)
	printf '# backends\n127.0.0.1:8081:2:3\n[::1]:8082\n127.0.0.1:8083:1\n' \
	    >"$d/backends.cfg"
	printf '# blacklist\n192.0.2.1\n198.51.100.0/24\n2001:db8::/32\n\n' \
	    >"$d/blacklist.txt"
	printf '# rules\n/static/*:3600:1048576\n/api/*:0:0\n*.css:60:4096\n' \
	    >"$d/cache_rules.cfg"
	# "user" warns when not run as root
	user="# user: needs root"
	[ "$(id -u)" != 0 ] || user="user nobody"
	write_conf "" "# a comment" \
	    "listen [::1]:$(free_port)" \
	    "$user" \
	    "backends backends.cfg" \
	    "strategy weighted" \
	    "health_interval 10s" \
	    "health_check http /health" \
	    "connect_timeout 500ms" \
	    "read_timeout 1m" \
	    "client_timeout 30" \
	    "keepalive_timeout 75s" \
	    "worker_connections 10000" \
	    "blacklist blacklist.txt" \
	    "rate_limit 100/60s burst=10" \
	    "rate_limit_mode log" \
	    "rate_limit_ipv6_prefix 56" \
	    "rate_limit_exempt 10.0.0.0/8 ::1" \
	    "cache_rules cache_rules.cfg" \
	    "cache_size 32m" \
	    "php off" \
	    "php_timeout 30s" \
	    "php_buffer_max 512m" \
	    "temp_dir /tmp" \
	    "status_path /maitred/status" \
	    "status_allow 127.0.0.1 ::1" \
	    "proxy_splice off" \
	    "proxy_buffer_max 0" \
	    "backend_rcvbuf 256k" \
	    "backend_keepalive_timeout 30s" \
	    "worker_sched batch" \
	    "client_max_body_size 10m" \
	    "cache_stale_while_updating on" \
	    "workers auto"
	check_conf
	assert_success
	assert_output "maitred: configuration ok"
}

@test "error_log stderr is the standard error, not a file named stderr" {
	d=$(mtd_dir)
	write_conf "error_log stderr"
	maitred_start
	assert wait_for grep -q "started" "$d/stderr.log"
	[ ! -e "$d/stderr" ]
	maitred_stop
}

@test "a control character in a value is shown escaped in the message" {
	write_conf "$(printf 'workers 2\v')"
	check_conf
	assert_failure 1
	assert_output --partial 'workers: invalid value "2\x0b"'
}

@test "cache_size larger than the machine's memory fails -t" {
	write_conf "cache_size 100000g"
	check_conf
	assert_failure 1
	assert_output --regexp 'cache_size: invalid value "100000g": more than this machine.s memory \([0-9]+[gm]\)'
}

@test "a cache_size within memory whose segment cannot be mapped fails -t and the start, with file:line" {
	local kb mb n
	[ "$(cat /proc/sys/vm/overcommit_memory)" != 1 ] ||
	    skip "overcommit_memory 1 maps anything"
	kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
	mb=$(( kb / 1024 * 97 / 100 ))
	write_conf "cache_size ${mb}m"
	n=$(conf_line "cache_size ${mb}m")
	check_conf
	if [ "$status" -eq 0 ]; then
		# then the start must map it too (it runs until the timeout)
		run timeout 5 "$MAITRED" -c "$MTD_CONF"
		[ "$status" -eq 124 ] || fail "-t passed, the start failed: $output"
		skip "this machine maps a segment of ${mb} MB and more (swap)"
	fi
	assert_output --regexp "maitred\.conf:$n: cache_size: the shared segment of [0-9]+ MB .* cannot be mapped: Cannot allocate memory"
	run timeout 20 "$MAITRED" -c "$MTD_CONF"
	assert_failure 1
	assert_output --regexp "maitred\.conf:$n: cache_size: the shared segment"
	[ ! -e "$(mtd_dir)/maitred.pid" ]
}

@test "more than 63 values on one line: said plainly, with the way out" {
	write_conf "status_allow $(seq -f '10.0.0.%g' 1 70 | tr '\n' ' ')"
	check_conf
	assert_failure 1
	assert_output --partial "status_allow: more than 63 values on one line; split them over several lines"
}

@test "a UTF-8 byte-order mark at the start of a file is skipped" {
	d=$(mtd_dir)
	printf '\xef\xbb\xbf127.0.0.1:8081:1:3\n' >"$d/bom.cfg"
	write_conf "backends $d/bom.cfg"
	{ printf '\xef\xbb\xbf'; cat "$MTD_CONF"; } >"$d/bom.conf"
	run "$MAITRED" -t -c "$d/bom.conf"
	assert_success
	assert_output "maitred: configuration ok"
	# only at the start: one inside a line is still an error
	printf 'workers 2\n\xef\xbb\xbfgzip on\n' >"$d/mid.conf"
	run "$MAITRED" -t -c "$d/mid.conf"
	assert_failure
	assert_output --partial "mid.conf:2: unknown directive"
}

@test "-t opens the log files and checks the pidfile directory: every error at once, with file:line" {
	d=$(mtd_dir)
	write_conf "error_log $d/nodir/error.log" "access_log $d/nodir/access.log" \
	    "pidfile $d/nodir/m.pid"
	check_conf
	assert_failure 1
	assert_output --regexp "maitred\.conf:[0-9]+: error_log $d/nodir/error.log: No such file or directory"
	assert_output --regexp "maitred\.conf:[0-9]+: access_log $d/nodir/access.log: No such file or directory"
	assert_output --regexp "maitred\.conf:[0-9]+: pidfile $d/nodir/m.pid: No such file or directory"
	write_conf "access_log off"
	check_conf
	assert_success
	# a start says the same
	write_conf "access_log $d/nodir/access.log" "pidfile $d/m.pid"
	run timeout 10 "$MAITRED" -c "$MTD_CONF"
	assert_failure 1
	assert_output --regexp "maitred\.conf:[0-9]+: access_log $d/nodir/access.log: No such file or directory"
	# and leaves no pidfile behind
	[ ! -e "$d/m.pid" ]
}

@test "a very long bad value is cut in the message, its reason kept" {
	write_conf "status_path /$(printf 'a%.0s' $(seq 1000))"
	check_conf
	assert_failure 1
	assert_output --regexp '\.\.\.": '
}

@test "status_path: a query, a last segment \"metrics\" or a control byte is refused; health_check http too" {
	write_conf "status_path /ops/stats?x"
	check_conf
	assert_failure 1
	assert_output --partial "status_path: invalid value \"/ops/stats?x\": a query ('?') never matches"
	write_conf "status_path /ops/metrics"
	check_conf
	assert_failure 1
	assert_output --partial 'the metrics page is that sibling'
	write_conf "status_path /a$(printf '\x7f')b"
	check_conf
	assert_failure 1
	assert_output --partial 'a space or control byte is no URL path'
	write_conf "health_check http /h#frag"
	check_conf
	assert_failure 1
	assert_output --partial "a fragment ('#') is never sent"
	# a query in a health check is fine, and /metrics-ish names too
	write_conf "health_check http /health?full=1" "status_path /ops/metrics2"
	check_conf
	assert_success
}

@test "a FIFO, a device or a directory is refused, a huge line costs no memory" {
	d=$(mtd_dir)
	mkfifo "$d/fifo"
	for f in "$d/fifo" /dev/zero "$d"; do
		run timeout 10 "$MAITRED" -t -c "$f"
		assert_failure 1
		assert_output --regexp "$f: (not a regular file|Is a directory)"
	done
	write_conf "blacklist $d/fifo"
	run timeout 10 "$MAITRED" -t -c "$MTD_CONF"
	assert_failure 1
	assert_output --partial "blacklist \"$d/fifo\": not a regular file"
	write_conf "backend_tls_ca $d/fifo"
	run timeout 10 "$MAITRED" -t -c "$MTD_CONF"
	assert_failure 1
	assert_output --partial "backend_tls_ca \"$d/fifo\": not a regular file"
	write_conf "listen 127.0.0.1:$(free_port) ssl" "ssl_certificate $d/fifo" \
	    "ssl_certificate_key $d/fifo"
	run timeout 10 "$MAITRED" -t -c "$MTD_CONF"
	assert_failure 1
	assert_output --partial "certificate $d/fifo: not a regular file"
	# a log may be a FIFO, but one nobody reads is an error, not a hang
	for log in access_log error_log; do
		write_conf "$log $d/fifo"
		run timeout 10 "$MAITRED" -t -c "$MTD_CONF"
		assert_failure 1
		assert_output --partial "$log $d/fifo: No such device or address"
	done
	# an empty configuration may be /dev/null
	run "$MAITRED" -t -c /dev/null
	assert_success
	# 120 MB without a newline: one error, bounded memory
	head -c 120000000 /dev/zero | tr '\0' a >"$d/huge.txt"
	write_conf "blacklist $d/huge.txt"
	run /usr/bin/time -f 'maxrss %M' "$MAITRED" -t -c "$MTD_CONF"
	assert_failure 1
	assert_output --partial "huge.txt:1: line too long (more than 4095 bytes)"
	[ "$(sed -n 's/^maxrss //p' <<<"$output")" -lt 60000 ]
	rm "$d/huge.txt"
}

@test "unknown directive: file:line: unknown directive \"NAME\"" {
	write_conf "upstreem 127.0.0.1:8081"
	n=$(conf_line "upstreem 127.0.0.1:8081")
	check_conf
	assert_failure 1
	assert_output --partial "maitred.conf:$n: unknown directive \"upstreem\""
}

@test "a directive given twice is an error naming both lines; lists may repeat" {
	write_conf "client_timeout 5s" "gzip on" "client_timeout 10s"
	n=$(conf_line "client_timeout 10s")
	first=$(conf_line "client_timeout 5s")
	check_conf
	assert_failure 1
	assert_output --partial "maitred.conf:$n: \"client_timeout\" is given twice (first at line $first)"
	write_conf "listen 127.0.0.1:$(free_port)" "status_allow 127.0.0.1" \
	    "status_allow ::1" "rate_limit_exempt 10.0.0.0/8" \
	    "rate_limit_exempt 192.168.0.0/16"
	check_conf
	assert_success
}

@test "invalid value: file:line: DIRECTIVE: invalid value \"VALUE\"" {
	write_conf "client_timeout 5x"
	n=$(conf_line "client_timeout 5x")
	check_conf
	assert_failure 1
	assert_output --partial "maitred.conf:$n: client_timeout: invalid value \"5x\""
	# an nginx habit gets a hint
	write_conf "client_timeout 5s;"
	check_conf
	assert_failure 1
	assert_output --partial "invalid value \"5s;\""
	assert_output --partial "(maitred lines do not end with ';')"
}

@test "invalid value for workers, log_level, strategy, proxy_splice, backend_rcvbuf, client_max_body_size, backend_keepalive_timeout, charset, cache_size" {
	for l in "workers abc" "workers 0" "log_level chatty" "strategy random" \
	    "proxy_splice yes" "backend_rcvbuf 65m" "backend_rcvbuf -1" \
	    "client_max_body_size 1t" "client_max_body_size -5" \
	    "backend_keepalive_timeout soon" "charset utf/8" "charset utf-8;" \
	    "cache_size 1000" "cache_size 63k" \
	    "charset abcdefghijklmnopqrstuvwxyz0123456"; do
		write_conf "$l"
		n=$(conf_line "$l")
		check_conf
		assert_failure 1
		assert_output --partial \
		    "maitred.conf:$n: ${l%% *}: invalid value \"${l#* }\""
	done
}

@test "a number out of its range says the range" {
	write_conf "gzip_level 0"
	n=$(conf_line "gzip_level 0")
	check_conf
	assert_failure 1
	assert_output --partial "maitred.conf:$n: gzip_level: invalid value \"0\": out of range (1 to 9)"
	# and a duration too long says its limit, a rate_limit's too
	write_conf "client_timeout 597h"
	check_conf
	assert_failure 1
	assert_output --partial 'client_timeout: invalid value "597h": too large (at most 596h)'
	write_conf "rate_limit 1/2562047h"
	check_conf
	assert_failure 1
	assert_output --partial 'rate_limit: invalid value "1/2562047h": duration too large (at most 596h)'
	write_conf "rate_limit 1/596h"
	check_conf
	assert_success
}

@test "php_keepalive: 0 to 1024; without php fastcgi a warning" {
	write_conf "php_keepalive 1025"
	n=$(conf_line "php_keepalive 1025")
	check_conf
	assert_failure 1
	assert_output --partial "maitred.conf:$n: php_keepalive: invalid value \"1025\": out of range (0 to 1024)"
	write_conf "php cgi /bin/sh" "php_keepalive 4"
	n=$(conf_line "php_keepalive 4")
	check_conf
	assert_success
	assert_output --partial "maitred.conf:$n: php_keepalive applies to \"php fastcgi\" only: ignored"
	write_conf "php fastcgi 127.0.0.1:9" "php_keepalive 4"
	check_conf
	assert_success
	refute_output --partial php_keepalive
}

@test "backend_max_conns: 0 to 65535" {
	write_conf "backend_max_conns 65536"
	n=$(conf_line "backend_max_conns 65536")
	check_conf
	assert_failure 1
	assert_output --partial "maitred.conf:$n: backend_max_conns: invalid value \"65536\": out of range (0 to 65535)"
	write_conf "backend_max_conns -1"
	check_conf
	assert_failure 1
	assert_output --partial 'backend_max_conns: invalid value "-1"'
	write_conf "backend_max_conns 8"
	check_conf
	assert_success
}

@test "wrong number of arguments" {
	write_conf "workers 1 2"
	n=$(conf_line "workers 1 2")
	check_conf
	assert_failure 1
	assert_output --partial "maitred.conf:$n: workers: wrong number of arguments"
	write_conf "htdocs"
	n=$(conf_line "htdocs")
	check_conf
	assert_failure 1
	assert_output --partial "maitred.conf:$n: htdocs: wrong number of arguments"
}

@test "missing backends file: DIRECTIVE \"PATH\": No such file or directory" {
	write_conf "backends nothere.cfg"
	n=$(conf_line "backends nothere.cfg")
	check_conf
	assert_failure 1
	assert_output --regexp \
	    "maitred\.conf:$n: backends \"[^\"]*nothere\.cfg\": No such file or directory"
}

@test "htdocs and temp_dir must be directories: file:line says why" {
	local d
	d=$(mtd_dir)
	touch "$d/plain"
	for l in "temp_dir $d/nothere" "htdocs $d/nothere" "temp_dir $d/plain"; do
		write_conf "$l"
		n=$(conf_line "$l")
		check_conf
		assert_failure 1
		assert_output --partial "maitred.conf:$n: ${l%% *} \"${l#* }\": "
	done
	assert_output --partial "Not a directory"
	# a directory where no file can be made, not even by root
	write_conf "temp_dir /proc"
	n=$(conf_line "temp_dir /proc")
	check_conf
	assert_failure 1
	assert_output --regexp "maitred\.conf:$n: temp_dir \"/proc\": cannot make a file there: "
	write_conf "php_buffer_max lots"
	check_conf
	assert_failure 1
	assert_output --partial 'php_buffer_max: invalid value "lots"'
	write_conf "proxy_buffer_max -1"
	check_conf
	assert_failure 1
	assert_output --partial 'proxy_buffer_max: invalid value "-1"'
}

@test "bad backends lines: backends.cfg:LINE: invalid backend, all shown" {
	printf '# backends\n127.0.0.1:8081:1:3\n127.0.0.1:99999:1:3\n127.0.0.1:8082:x:3\n' \
	    >"$(mtd_dir)/backends.cfg"
	write_conf "backends backends.cfg"
	check_conf
	assert_failure 1
	assert_output --partial 'backends.cfg:3: invalid backend "127.0.0.1:99999:1:3"'
	assert_output --partial 'backends.cfg:4: invalid backend "127.0.0.1:8082:x:3"'
	refute_output --partial 'backends.cfg:2:'
}

@test "bad blacklist line: blacklist.txt:LINE: invalid address" {
	# a Latin-1 e-acute, an invalid UTF-8 lead, then UTF-8 e-acute
	printf '# bad guys\n10.0.0.0/8\nnot-an-ip\n300.1.2.3\ncaf\xe9\nx\xc0\xafy\ncaf\xc3\xa9\n' \
	    >"$(mtd_dir)/blacklist.txt"
	write_conf "blacklist blacklist.txt"
	check_conf
	assert_failure 1
	assert_output --partial 'blacklist.txt:3: invalid address "not-an-ip"'
	assert_output --partial 'blacklist.txt:4: invalid address "300.1.2.3"'
	# bytes that are not UTF-8 are shown as \xNN, UTF-8 as it is
	assert_output --partial 'blacklist.txt:5: invalid address "caf\xe9"'
	assert_output --partial 'blacklist.txt:6: invalid address "x\xc0\xafy"'
	assert_output --partial "blacklist.txt:7: invalid address \"caf$(printf '\xc3\xa9')\""
}

@test "bad cache rule line: cache_rules.cfg:LINE: invalid cache rule" {
	printf '/static/*:3600:1048576\n/api/*:soon:100\n' \
	    >"$(mtd_dir)/cache_rules.cfg"
	write_conf "cache_rules cache_rules.cfg"
	check_conf
	assert_failure 1
	assert_output --partial 'cache_rules.cfg:2: invalid cache rule "/api/*:soon:100"'
}

@test "a caching rule after a broader one: -t passes and names both lines" {
	# the seed's own example order: the catch-all before /api/*
	printf '*.html:10:102400\n/*:5:51200\n/api/*:0:0\n/static/*.css:30:1m\n' \
	    >"$(mtd_dir)/cache_rules.cfg"
	write_conf "cache_rules cache_rules.cfg"
	check_conf
	assert_success
	assert_output --partial 'cache_rules.cfg:4: cache rule "/static/*.css" never applies: "/*" (line 2) matches every path it does'
	# a never-cache rule applies wherever it stands
	refute_output --partial '"/api/*" never applies'
	# specific rules first: no warning
	printf '/api/*:0:0\n*.html:10:102400\n/*:5:51200\n' \
	    >"$(mtd_dir)/cache_rules.cfg"
	check_conf
	assert_success
	assert_output "maitred: configuration ok"
}

@test "every error of a file is reported, not only the first" {
	write_conf "workers abc" "upstreem x" "log_level loud"
	a=$(conf_line "workers abc")
	b=$(conf_line "upstreem x")
	c=$(conf_line "log_level loud")
	check_conf
	assert_failure 1
	assert_output --partial "maitred.conf:$a:"
	assert_output --partial "maitred.conf:$b:"
	assert_output --partial "maitred.conf:$c:"
}

@test "nothing is started when the configuration is bad" {
	write_conf "upstreem x"
	run timeout 10 "$MAITRED" -c "$MTD_CONF" 3>&-
	assert_failure 1
	assert_output --partial "unknown directive"
	run port_listening "$PORT"
	assert_failure
	[ ! -e "$(mtd_dir)/maitred.pid" ]
}

@test "unknown user: file:line: unknown user, -t and start refuse it" {
	write_conf "user nosuchuser-mtd"
	n=$(conf_line "user nosuchuser-mtd")
	check_conf
	assert_failure 1
	assert_output --partial "maitred.conf:$n: unknown user \"nosuchuser-mtd\""
	run timeout 10 "$MAITRED" -c "$MTD_CONF" 3>&-
	assert_failure 1
	assert_output --partial "unknown user"
	run port_listening "$PORT"
	assert_failure
}

@test "user while not running as root: a warning, not an error" {
	[ "$(id -u)" = 0 ] || skip "runs as root, then as nobody"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	command -v setpriv >/dev/null || skip "no setpriv"
	d=$(mtd_dir)
	open_path_to_others "$d"
	# -t opens the logs: nobody must be able to create them
	mkdir -m 777 "$d/logs"
	write_conf "user nobody" "error_log $d/logs/error.log" "access_log off" \
	    "pidfile $d/logs/m.pid"
	chmod a+r "$MTD_CONF"
	n=$(conf_line "user nobody")
	run setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$MAITRED" -t -c "$MTD_CONF"
	assert_success
	assert_output --partial "maitred.conf:$n: \"user\" is ignored: maitred is not running as root"
	assert_output --partial "configuration ok"
	# as root: no warning
	check_conf
	assert_success
	refute_output --partial "is ignored"
}

@test "relative paths resolve against the config file's directory" {
	d=$(mtd_dir)
	mkdir -p "$d/etc/logs" "$d/site" "$d/elsewhere"
	printf 'relative site\n' >"$d/site/rel.txt"
	printf '127.0.0.1:%s:1:3\n' "$(free_port)" >"$d/etc/backends.cfg"
	cat >"$d/etc/maitred.conf" <<-EOF
	listen 127.0.0.1:$PORT
	workers 1
	pidfile run.pid
	htdocs ../site
	error_log logs/error.log
	access_log logs/access.log
	backends backends.cfg
	rate_limit off
	EOF
	cd "$d/elsewhere"
	MTD_CONF=../etc/maitred.conf
	maitred_start
	run curl -s "$(url /rel.txt)"
	assert_output "relative site"
	wait_for test -s "$d/etc/run.pid"
	assert_equal "$(cat "$d/etc/run.pid")" "$MAITRED_PID"
	assert wait_for log_has "started" "$d/etc/logs/error.log"
	assert wait_for test -s "$d/etc/logs/access.log"
	[ ! -e "$d/elsewhere/run.pid" ]
	[ ! -e "$d/elsewhere/logs" ]
}

@test "listen [::1]:PORT serves over IPv6" {
	has_ipv6 || skip "no IPv6 loopback"
	p6=$(free_port)
	write_conf "listen [::1]:$p6"
	maitred_start
	wait_for port_listening "$p6"
	run curl -s -g -o /dev/null -w '%{http_code}' "http://[::1]:$p6/hello.txt"
	assert_output 200
	assert wait_for log_has "listening on .*\[::1\]:$p6"
}

@test "two listen lines both serve" {
	p2=$(free_port)
	write_conf "listen 127.0.0.1:$p2"
	maitred_start
	wait_for port_listening "$p2"
	run curl -s "http://127.0.0.1:$PORT/hello.txt"
	assert_output "hello from maitred"
	run curl -s "http://127.0.0.1:$p2/hello.txt"
	assert_output "hello from maitred"
}

@test "a port in use: bind ADDR: Address already in use, exit 1" {
	python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
time.sleep(60)' "$PORT" 3>&- &
	track_pid $!
	wait_for port_listening "$PORT"
	run timeout 10 "$MAITRED" -c "$MTD_CONF" 3>&-
	assert_failure 1
	assert_output --partial "maitred: bind 127.0.0.1:$PORT: Address already in use"
	# and no empty pidfile is left behind
	[ ! -e "$(mtd_dir)/maitred.pid" ]
}

#!/usr/bin/env bats
# make install / make uninstall into a DESTDIR: the file list, the modes,
# configuration files kept on reinstall and on uninstall when changed,
# and an installed tree that really runs (paths rewritten into DESTDIR).

load helpers

REPO=$BATS_TEST_DIRNAME/..

setup() {
	R=$BATS_TEST_TMPDIR/root
	export R
}

teardown() {
	local pid=
	[ -s "$R/run/maitred.pid" ] && pid=$(cat "$R/run/maitred.pid")
	if [ -n "$pid" ] && pid_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
	fi
	common_teardown
}

# mk TARGET [VAR=VALUE...]: make in the checkout. -o maitred: install
# what "make" built (make test builds it first) without rebuilding it, so
# that a test never races a ./maitred that is running elsewhere.
mk() {
	[ -x "$REPO/maitred" ] || skip "maitred is not built"
	make -s -C "$REPO" -o maitred "$@"
}

# files_in DIR: regular files and links under DIR, relative, sorted.
files_in() {
	(cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort)
}

EXPECTED_USR="etc/init.d/maitred
etc/logrotate.d/maitred
etc/maitred/backends.cfg
etc/maitred/blacklist.txt
etc/maitred/cache_rules.cfg
etc/maitred/maitred.conf
lib/systemd/system/maitred.service
usr/sbin/maitred
usr/share/man/man5/maitred.conf.5
usr/share/man/man8/maitred.8"

@test "install PREFIX=/usr: the expected files, modes and directories" {
	run mk install DESTDIR="$R" PREFIX=/usr
	assert_success
	run files_in "$R"
	assert_output "$EXPECTED_USR"
	[ -d "$R/var/www/maitred" ]
	[ -d "$R/var/log/maitred" ]
	# the docroot is empty
	[ -z "$(ls -A "$R/var/www/maitred")" ]
	assert_equal "$(stat -c %a "$R/usr/sbin/maitred")" 755
	assert_equal "$(stat -c %a "$R/etc/init.d/maitred")" 755
	for f in etc/maitred/maitred.conf etc/maitred/backends.cfg \
	    lib/systemd/system/maitred.service etc/logrotate.d/maitred \
	    usr/share/man/man8/maitred.8; do
		assert_equal "$(stat -c %a "$R/$f")" 644
	done
	cmp "$REPO/maitred" "$R/usr/sbin/maitred"
	cmp "$REPO/conf/maitred.conf.install" "$R/etc/maitred/maitred.conf"
	cmp "$REPO/conf/init.d/maitred" "$R/etc/init.d/maitred"
	cmp "$REPO/conf/maitred.service" \
	    "$R/lib/systemd/system/maitred.service"
	run "$R/usr/sbin/maitred" -v
	assert_success
}

# names_installed UNIT INITSCRIPT BINARY CONF: the unit runs BINARY with
# -c CONF, the init script's defaults are BINARY and CONF, and no other
# maitred binary or main config is named outside comments.
names_installed() {
	local unit=$1 init=$2 bin=$3 conf=$4
	run grep -E '^Exec[A-Za-z]*=' "$unit"
	assert_output "ExecStartPre=$bin -t -c $conf
ExecStart=$bin -d -c $conf
ExecReload=$bin -t -c $conf
ExecReload=/bin/kill -HUP \$MAINPID"
	run grep -E '^(DAEMON|CONF)=' "$init"
	assert_output "DAEMON=$bin
CONF=$conf"
	run grep -hE '^[^#]*(/sbin/maitred|/maitred\.conf)' "$unit" "$init"
	assert_success
	run grep -vF -e "$bin" -e "$conf" <<<"$output"
	assert_output ""
}

@test "install SBINDIR and CONFDIR: the unit and init script follow them" {
	run mk install DESTDIR="$R" PREFIX=/opt/mtd CONFDIR=/opt/mtd/etc
	assert_success
	[ -x "$R/opt/mtd/sbin/maitred" ]
	[ -f "$R/opt/mtd/etc/maitred.conf" ]
	names_installed "$R/opt/mtd/lib/systemd/system/maitred.service" \
	    "$R/etc/init.d/maitred" /opt/mtd/sbin/maitred \
	    /opt/mtd/etc/maitred.conf
	assert_equal "$(stat -c %a "$R/etc/init.d/maitred")" 755
	assert_equal "$(stat -c %a \
	    "$R/opt/mtd/lib/systemd/system/maitred.service")" 644
	# the installed script still parses
	sh -n "$R/etc/init.d/maitred"
	# the installed maitred.conf names the directories of this install
	grep -q '^backends /opt/mtd/etc/backends.cfg$' "$R/opt/mtd/etc/maitred.conf"
	run grep -nE '[ \t]/etc/maitred' "$R/opt/mtd/etc/maitred.conf"
	assert_failure
	run mk uninstall DESTDIR="$R" PREFIX=/opt/mtd CONFDIR=/opt/mtd/etc
	assert_success
	run files_in "$R"
	assert_output ""
}

@test "install LOGDIR and DOCROOT: the installed maitred.conf follows them" {
	run mk install DESTDIR="$R" PREFIX=/usr LOGDIR=/srv/mtd/log \
	    DOCROOT=/srv/mtd/www
	assert_success
	c=$R/etc/maitred/maitred.conf
	grep -q '^htdocs /srv/mtd/www$' "$c"
	grep -q '^error_log /srv/mtd/log/error.log$' "$c"
	grep -q '^access_log /srv/mtd/log/access.log$' "$c"
	run grep -n '/var/log/maitred\|/var/www/maitred' "$c"
	assert_failure
	grep -q '^/srv/mtd/log/\*.log {$' "$R/etc/logrotate.d/maitred"
	# still the shipped file for uninstall, which removes it
	run mk uninstall DESTDIR="$R" PREFIX=/usr LOGDIR=/srv/mtd/log \
	    DOCROOT=/srv/mtd/www
	assert_success
	[ ! -e "$c" ]
}

@test "install PREFIX=/usr/local: binary, man pages and unit under the prefix" {
	run mk install DESTDIR="$R"
	assert_success
	[ -x "$R/usr/local/sbin/maitred" ]
	[ -f "$R/usr/local/share/man/man8/maitred.8" ]
	[ -f "$R/usr/local/share/man/man5/maitred.conf.5" ]
	[ -f "$R/usr/local/lib/systemd/system/maitred.service" ]
	# configuration stays in SYSCONFDIR (/etc)
	[ -f "$R/etc/maitred/maitred.conf" ]
	[ -x "$R/etc/init.d/maitred" ]
	# the unit and the init script name the installed binary
	names_installed "$R/usr/local/lib/systemd/system/maitred.service" \
	    "$R/etc/init.d/maitred" /usr/local/sbin/maitred \
	    /etc/maitred/maitred.conf
	run mk uninstall DESTDIR="$R"
	assert_success
	run files_in "$R"
	assert_output ""
}

@test "uninstall removes every installed file (directories may stay)" {
	run mk install DESTDIR="$R" PREFIX=/usr
	assert_success
	run mk uninstall DESTDIR="$R" PREFIX=/usr
	assert_success
	run files_in "$R"
	assert_output ""
	# the package's own directories go too when empty
	[ ! -e "$R/etc/maitred" ]
	[ ! -e "$R/var/www/maitred" ]
	[ ! -e "$R/var/log/maitred" ]
	# uninstalling twice is harmless
	run mk uninstall DESTDIR="$R" PREFIX=/usr
	assert_success
}

@test "reinstall keeps a changed configuration; uninstall keeps it too" {
	run mk install DESTDIR="$R" PREFIX=/usr
	assert_success
	echo "# local change" >>"$R/etc/maitred/maitred.conf"
	echo "10.9.9.9" >>"$R/etc/maitred/blacklist.txt"
	run mk install DESTDIR="$R" PREFIX=/usr
	assert_success
	run tail -n 1 "$R/etc/maitred/maitred.conf"
	assert_output "# local change"
	run tail -n 1 "$R/etc/maitred/blacklist.txt"
	assert_output "10.9.9.9"
	run mk uninstall DESTDIR="$R" PREFIX=/usr
	assert_success
	assert_output --partial "keeping changed $R/etc/maitred/maitred.conf"
	run files_in "$R"
	assert_output "etc/maitred/blacklist.txt
etc/maitred/maitred.conf"
}

@test "installed maitred.conf: absolute FHS paths" {
	c=$REPO/conf/maitred.conf.install
	grep -qx 'pidfile /run/maitred.pid' "$c"
	grep -qx 'htdocs /var/www/maitred' "$c"
	grep -qx 'error_log /var/log/maitred/error.log' "$c"
	grep -qx 'access_log /var/log/maitred/access.log' "$c"
	grep -qx 'backends /etc/maitred/backends.cfg' "$c"
	grep -qx 'blacklist /etc/maitred/blacklist.txt' "$c"
	grep -qx 'cache_rules /etc/maitred/cache_rules.cfg' "$c"
	grep -qx 'user www-data' "$c"
	# every path directive is absolute
	run grep -E '^(pidfile|htdocs|backends|blacklist|cache_rules|error_log|access_log) [^/]' "$c"
	assert_failure
}

# relocate: the installed configuration with its paths moved into $R and
# a free port, in $R/etc/maitred/test.conf.
relocate() {
	PORT=$(free_port)
	export PORT
	mkdir -p "$R/run"
	sed -e "s|^listen .*|listen 127.0.0.1:$PORT|" \
	    -e "s| /etc/maitred/| $R/etc/maitred/|" \
	    -e "s| /var/| $R/var/|" -e "s| /run/| $R/run/|" \
	    "$R/etc/maitred/maitred.conf" >"$R/etc/maitred/test.conf"
}

@test "installed configuration passes maitred -t once relocated into DESTDIR" {
	run mk install DESTDIR="$R" PREFIX=/usr
	assert_success
	# as installed it names the real /etc and /var: only those are missing
	run "$R/usr/sbin/maitred" -t -c "$R/etc/maitred/maitred.conf"
	if [ "$status" -ne 0 ]; then
		refute_output --partial "unknown directive"
		refute_output --partial "invalid"
	fi
	relocate
	run "$R/usr/sbin/maitred" -t -c "$R/etc/maitred/test.conf"
	assert_success
	assert_output --partial "configuration ok"
}

@test "installed tree runs through the installed init script" {
	run mk install DESTDIR="$R" PREFIX=/usr
	assert_success
	relocate
	id www-data >/dev/null 2>&1 ||
	    sed -i 's/^user www-data$/# no www-data here/' \
	    "$R/etc/maitred/test.conf"
	printf 'installed docroot\n' >"$R/var/www/maitred/hello.txt"
	chmod 644 "$R/var/www/maitred/hello.txt"
	DAEMON=$R/usr/sbin/maitred CONF=$R/etc/maitred/test.conf \
	    PIDFILE=$R/run/maitred.pid MAITRED_DEFAULTS=/dev/null \
	    run "$R/etc/init.d/maitred" start 3>&-
	assert_success
	pid=$(cat "$R/run/maitred.pid")
	_ok() {
		[ "$(curl -s "http://127.0.0.1:$PORT/hello.txt")" = \
		    "installed docroot" ]
	}
	assert wait_for _ok
	assert wait_for test -s "$R/var/log/maitred/error.log"
	assert wait_for test -s "$R/var/log/maitred/access.log"
	if [ "$(id -u)" = 0 ] && id www-data >/dev/null 2>&1; then
		# workers dropped to www-data, the master stayed root
		for w in $(worker_pids "$pid"); do
			assert_equal "$(ps -o user= -p "$w")" www-data
		done
		assert_equal "$(ps -o user= -p "$pid")" root
	fi
	DAEMON=$R/usr/sbin/maitred CONF=$R/etc/maitred/test.conf \
	    PIDFILE=$R/run/maitred.pid MAITRED_DEFAULTS=/dev/null \
	    run "$R/etc/init.d/maitred" stop
	assert_success
	assert wait_gone "$pid" 10
}

@test "Makefile: install and uninstall honour DESTDIR (nothing outside it)" {
	local t paths
	for t in install uninstall; do
		run mk -n "$t" DESTDIR=/nonexistent-destdir PREFIX=/usr
		assert_success
		# every absolute path the recipe names is below DESTDIR
		paths=$(grep -oE '(^|[ =])/[^ ;"]*' <<<"$output" | sed 's/^[ =]//')
		[ -n "$paths" ]
		run grep -v '^/nonexistent-destdir/' <<<"$paths"
		assert_output ""
	done
}

#!/usr/bin/env bats
# Man pages: present, mandoc -Tlint clean, every flag of -h documented;
# and the documentation agrees with the code where a script can tell:
# directives, flags, fixed limits and defaults.

load helpers

MAN8=$BATS_TEST_DIRNAME/../man/maitred.8
MAN5=$BATS_TEST_DIRNAME/../man/maitred.conf.5
SRC=$BATS_TEST_DIRNAME/..

need_mandoc() {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
}

# The names of shared/conf.c's directives[] table, one a line.
parser_directives() {
	sed -n '/^static const struct directive directives\[\]/,/^};/p' \
	    "$SRC/shared/conf.c" | grep -oE '\{ "[a-z0-9_]+"' | tr -d '{" '
}

# <file> as one line, so that a phrase split over lines is found.
flat() {
	tr '\n' ' ' <"$1"
}

@test "man/maitred.8 and man/maitred.conf.5 exist" {
	[ -s "$MAN8" ]
	[ -s "$MAN5" ]
}

@test "mandoc -Tlint: maitred.8 is clean" {
	need_mandoc
	# warnings and errors; STYLE notes such as "referenced manual not
	# found" depend on what the host has installed
	run mandoc -Tlint -Wwarning "$MAN8"
	assert_success
	refute_output --regexp '(WARNING|ERROR|UNSUPP|BADARG)'
}

@test "mandoc -Tlint: maitred.conf.5 is clean" {
	need_mandoc
	# warnings and errors; STYLE notes such as "referenced manual not
	# found" depend on what the host has installed
	run mandoc -Tlint -Wwarning "$MAN5"
	assert_success
	refute_output --regexp '(WARNING|ERROR|UNSUPP|BADARG)'
}

@test "every flag of maitred -h is documented as .It Fl x in maitred.8" {
	run "$MAITRED" -h
	assert_success
	# "-c file", "[-dhtv]": every letter of a dash cluster is a flag
	flags=$(printf '%s\n' "$output" | grep -oE -- '(^|[[ ])-[a-zA-Z]+' |
	    sed 's/^[[ ]*-//' | fold -w1 | sort -u)
	[ -n "$flags" ] || fail "no flags found in: $output"
	missing=""
	for f in $flags; do
		grep -q "^\.It Fl $f\b" "$MAN8" || missing="$missing -$f"
	done
	[ -z "$missing" ] || fail "not documented in maitred.8:$missing"
	# and the fixed interface is all there
	for f in c p s w d t v h; do
		grep -q "^\.It Fl $f\b" "$MAN8" || fail "-$f not in maitred.8"
	done
}

@test "-h lists exactly the flags getopt takes, and maitred.8 has each" {
	opts=$(grep -oE 'getopt_long\(argc, argv, "[^"]*"' "$SRC/master/main.c" |
	    sed 's/.*"\(.*\)"/\1/' | tr -d ':' | fold -w1 | sort -u)
	[ -n "$opts" ] || fail "no option string found in master/main.c"
	run "$MAITRED" -h
	assert_success
	shown=$(printf '%s\n' "$output" | grep -oE -- '(^|[[ ])-[a-zA-Z]+' |
	    sed 's/^[[ ]*-//' | fold -w1 | sort -u)
	[ "$opts" = "$shown" ] ||
	    fail "getopt takes $(echo $opts), -h shows $(echo $shown)"
	for l in $(grep -oE '\{ "[a-z]+", (no|required)_argument' \
	    "$SRC/master/main.c" | cut -d'"' -f2); do
		assert_output --partial -- "--$l"
		grep -q "^\.It Fl [a-z] , -$l\$" "$MAN8" ||
		    fail "--$l not in maitred.8"
	done
	# the synopsis of maitred.8 and of -h are the same
	syn=$(sed -n '/^\.Sh SYNOPSIS/,/^\.Sh/p' "$MAN8" |
	    grep -oE '^\.Op Fl [a-z]+' | awk '{print $3}' | fold -w1 | sort -u)
	[ "$syn" = "$opts" ] ||
	    fail "maitred.8 SYNOPSIS has $(echo $syn), getopt $(echo $opts)"
}

@test "every directive of the parser is in maitred.conf.5, conf/maitred.conf and README.md" {
	names=$(parser_directives)
	[ "$(wc -l <<<"$names")" -gt 40 ] || fail "parser table not found"
	missing=""
	for d in $names; do
		grep -q "^\.It Ic $d\b" "$MAN5" || missing="$missing 5:$d"
		grep -qE "^#?$d[[:space:]]" "$SRC/conf/maitred.conf" ||
		    missing="$missing conf:$d"
		grep -qF "\`$d\`" "$SRC/README.md" || missing="$missing README:$d"
	done
	[ -z "$missing" ] || fail "not documented:$missing"
}

@test "no document names a directive the parser does not know" {
	names=" $(parser_directives | tr '\n' ' ') "
	unknown=""
	for d in $(grep -oE '^\.It Ic [a-z0-9_]+' "$MAN5" | awk '{print $3}'); do
		[[ $names == *" $d "* ]] || unknown="$unknown 5:$d"
	done
	# a directive line, or one commented out ("#gzip on"); prose
	# comments start with "# "
	for f in conf/maitred.conf conf/maitred.conf.install; do
		for d in $(grep -oE '^#?[a-z][a-z0-9_]*[[:space:]]' "$SRC/$f" |
		    tr -d '#' | sort -u); do
			[[ $names == *" $d "* ]] || unknown="$unknown $f:$d"
		done
	done
	# the directive table of README.md's Configuration section
	for d in $(sed -n '/^## Configuration/,/^## /p' "$SRC/README.md" |
	    grep -oE '^\| `[a-z0-9_]+`(, `[a-z0-9_]+`)* \|' |
	    grep -oE '[a-z0-9_]+'); do
		[[ $names == *" $d "* ]] || unknown="$unknown README:$d"
	done
	[ -z "$unknown" ] || fail "unknown directives:$unknown"
}

@test "the fixed limits of the code are the ones the documents state" {
	lim() {
		sed -n "s/^#define $1[[:space:]]\{1,\}\([0-9]\{1,\}\).*/\1/p" \
		    "$SRC"/shared/*.h "$SRC/shared/conf.c"
	}
	m5=$(flat "$MAN5")
	m8=$(flat "$MAN8")
	n=$(lim MTD_MAX_WORKERS)
	[[ $m5 == *"Number of worker processes, from 1 to $n."* ]] ||
	    fail "workers: 1 to $n not in maitred.conf.5"
	[[ $m8 == *"worker processes, from 1 to $n,"* ]] ||
	    fail "-w: 1 to $n not in maitred.8"
	run "$MAITRED" -h
	assert_output --partial "(1-$n)"
	n=$(lim MTD_MAX_LISTEN)
	[[ $m5 == *"may be repeated, up to $n times"* ]] ||
	    fail "listen: $n not in maitred.conf.5"
	n=$(lim MTD_MAX_BACKENDS)
	[[ $m5 == *"At most $n backends are read."* ]] ||
	    fail "backends: $n not in maitred.conf.5"
	n=$(lim CONF_MAX_WEIGHT)
	[[ $m5 == *"strategy, from 1 to $n."* ]] ||
	    fail "weight: 1 to $n not in maitred.conf.5"
	n=$(lim CONF_MAX_FAILS)
	[[ $m5 == *"marked down, from 1 to $n."* ]] ||
	    fail "max_failures: 1 to $n not in maitred.conf.5"
	n=$(lim CONF_MAX_WCONN)
	[[ $m5 == *"at a time, from 1 to $n."* ]] ||
	    fail "worker_connections: 1 to $n not in maitred.conf.5"
	n=$(lim CONF_MAX_LINE)
	a=$(( $(lim CONF_MAX_ARGS) - 1 ))
	[[ $m5 == *"at most $n bytes, and a directive at most $a arguments"* ]] ||
	    fail "line: $n bytes, $a arguments not in maitred.conf.5"
	n=$(lim CONF_MAX_GZIP_TYPES)
	[[ $m5 == *"case, at most $n;"* ]] ||
	    fail "gzip_types: $n not in maitred.conf.5"
	t=$(lim MTD_MAX_TARGET) h=$(lim MTD_MAX_HEAD) f=$(lim MTD_MAX_HEADERS)
	[[ $m5 == *"longer than $t bytes gets 414, and a request head larger than $h bytes or with more than $f header fields gets 431"* ]] ||
	    fail "$t, $h, $f (414, 431) not in maitred.conf.5"
}

@test "defaults: maitred.conf.5 agrees with conf.c, README.md and conf/maitred.conf" {
	run python3 "$BATS_TEST_DIRNAME/lib/docdefaults.py" "$SRC"
	assert_success
	# a parser that stopped finding the defaults would check nothing
	[[ $output =~ ([0-9]+)\ code\ defaults\ checked ]] ||
	    fail "no count in: $output"
	(( BASH_REMATCH[1] >= 20 )) || fail "only ${BASH_REMATCH[1]} checked"
}

#!/usr/bin/env bats
# Man pages: present, mandoc -Tlint clean, every flag of -h documented.

load helpers

MAN8=$BATS_TEST_DIRNAME/../man/maitred.8
MAN5=$BATS_TEST_DIRNAME/../man/maitred.conf.5

setup() {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
}

@test "man/maitred.8 and man/maitred.conf.5 exist" {
	[ -s "$MAN8" ]
	[ -s "$MAN5" ]
}

@test "mandoc -Tlint: maitred.8 is clean" {
	# warnings and errors; STYLE notes such as "referenced manual not
	# found" depend on what the host has installed
	run mandoc -Tlint -Wwarning "$MAN8"
	assert_success
	refute_output --regexp '(WARNING|ERROR|UNSUPP|BADARG)'
}

@test "mandoc -Tlint: maitred.conf.5 is clean" {
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

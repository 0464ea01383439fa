# Helpers shared by the hardening tests (t/800-faults, t/810-hostile,
# t/820-smuggling). Load after helpers:
#	load helpers
#	load lib/hardening

IDLE_CONNS=$BATS_TEST_DIRNAME/lib/idle_conns.py
BACKEND_PY=$BATS_TEST_DIRNAME/backend.py

# hb_backend_start NAME [PORT]: start t/backend.py (on a free port, or
# PORT); prints the port. Its pid is in $(mtd_dir)/NAME.pid and tracked.
hb_backend_start() {
	backend_start "$@"
}

# hb_backend_pid NAME
hb_backend_pid() {
	backend_pid "$1"
}

# hb_backend_count PORT: the backend's /count (asked directly).
hb_backend_count() {
	command curl -s -m 3 "http://127.0.0.1:$1/count" | tr -d '\n'
}

# hb_cpu_ticks PID: utime + stime of PID, in clock ticks.
hb_cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# hb_mem_kb PID...: the sum of Rss and Pss (kB) of the PIDs: "RSS PSS".
hb_mem_kb() {
	local p rss=0 pss=0 r s
	for p in "$@"; do
		r=$(awk '/^Rss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
		s=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
		rss=$((rss + ${r:-0}))
		pss=$((pss + ${s:-0}))
	done
	echo "$rss $pss"
}

# hb_note TEXT: a "# TEXT" line in the TAP output.
hb_note() {
	echo "# $*" >&3
}

# hb_field KEY LINE: the value of KEY=value in a "k=v k=v" LINE.
hb_field() {
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

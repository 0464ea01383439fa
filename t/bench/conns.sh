#!/usr/bin/env bash
# conns.sh -- memory scale test: N idle keep-alive client connections.
#
# For each adapter: start it fresh, warm it with 100 requests, then
# tools/idle_conns.py opens N connections, measures the proxy's memory
# (sum of VmRSS / Pss over all its processes, from /proc), sends one request
# on each, measures again, checks the proxy still answers, closes everything.
# Bounded: the python client has a hard timeout (CONNS_TIMEOUT, default 180 s).
#
# Env: CONNS=10000  CONN_ADAPTERS="nginx haproxy maitred" (peers not installed are skipped)
#      MAITRED=path of the binary (default: the checkout's ./maitred)
#      RESULTS_DIR=t/bench/results  CONNS_TIMEOUT=180  CONNS_SETTLE=2 (s before each measurement)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

N=${CONNS:-10000}
CONN_ADAPTERS=${CONN_ADAPTERS:-"nginx haproxy maitred"}
MAITRED=${MAITRED:-$(cd "$BENCH_DIR/../.." && pwd)/maitred}
export MAITRED
[[ -x $MAITRED ]] || die "no maitred binary at $MAITRED (run make first, or set MAITRED)"
command -v nginx >/dev/null || die "nginx is not installed: it runs the backends (apt-get install nginx-light)"
list=""
for a in $CONN_ADAPTERS; do
    if m=$(adapter_missing "$a"); then log "skipping $a: $m not installed"; else list+="$a "; fi
done
CONN_ADAPTERS=$list
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
CONNS_TIMEOUT=${CONNS_TIMEOUT:-180}
((N + 200 < $(ulimit -n))) || die "ulimit -n $(ulimit -n) too low for $N connections"

STARTED_BACKENDS=0 CUR=""
cleanup() {
    [[ -n $CUR ]] && proxy_stop ${CUR} || true
    if ((STARTED_BACKENDS)); then "$BENCH_DIR/backends.sh" stop || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log "$N idle connections: ${CONN_ADAPTERS}"
if ! "$BENCH_DIR/backends.sh" status >/dev/null 2>&1; then
    "$BENCH_DIR/backends.sh" start; STARTED_BACKENDS=1
fi

RUN_ID=$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS_DIR"
JSONL=$RESULTS_DIR/conns-$RUN_ID.jsonl
: >"$JSONL"
for a in $CONN_ADAPTERS; do
    port=$(free_ports 1)
    proxy_start "$a" "$port" || { log "$a did not start: skipped"; continue; }
    CUR="$a $port"
    pid=$(adapter_pid "$a" "$port")
    log "$a: $N idle connections"
    if out=$(timeout $((CONNS_TIMEOUT + 20)) "$PY" "$BENCH_DIR/tools/idle_conns.py" \
            --port "$port" --pid "$pid" --n "$N" --timeout "$CONNS_TIMEOUT" --settle "${CONNS_SETTLE:-2}"); then :; else
        log "$a: idle_conns failed: $out"
    fi
    # the proxy must still be alive and serving after the connections are gone
    post=$(curl -s -o /dev/null --max-time 3 -w '%{http_code}' "http://127.0.0.1:$port/small" || true)
    "$PY" -c 'import json,sys; d=json.loads(sys.argv[1] or "{}"); d["adapter"]=sys.argv[2]; d["after_close_http"]=sys.argv[3]; print(json.dumps(d))' \
        "$out" "$a" "$post" >>"$JSONL"
    proxy_stop "$a" "$port"; CUR=""
done

"$PY" - "$JSONL" "$N" <<'EOF' | tee "$RESULTS_DIR/conns-$RUN_ID.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
print(f"### {n} idle client connections (proxy memory = sum over its processes)\n")
print("| proxy | procs | base RSS (PSS) MiB | +N conns, no request: RSS (PSS) MiB | per conn RSS / PSS | after 1 req each: RSS (PSS) MiB | per conn RSS / PSS | open / still alive | verify new / idle / after close | after close RSS MiB |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
for d in rows:
    if "mem_base" not in d:
        print(f"| {d['adapter']} | error: {d.get('error', 'no data')} |"); continue
    b, o, r, c = d["mem_base"], d["mem_open"], d["mem_req"], d["mem_closed"]
    per = lambda x, k: (x[k] - b[k]) * 1024 / max(d["open_ok"], 1)
    m = lambda x: f"{x['rss_kb']/1024:.1f} ({x['pss_kb']/1024:.1f})"
    print(f"| {d['adapter']} | {b['nprocs']} | {m(b)} | {m(o)} | {per(o,'rss_kb'):,.0f} B / {per(o,'pss_kb'):,.0f} B "
          f"| {m(r)} | {per(r,'rss_kb'):,.0f} B / {per(r,'pss_kb'):,.0f} B | {d['open_ok']} / {d['alive']} "
          f"| {d.get('verify_new_conn')} / {d.get('verify_idle_conn')} / {d.get('after_close_http')} | {c['rss_kb']/1024:.1f} |")
print()
print("per conn = (memory with conns - base) / conns opened. RSS sums double-count pages shared between")
print("processes (nginx master+workers); PSS splits them. Upstream keep-alive connections opened while")
print("serving the 1 request per client connection are included in the 'after 1 req' numbers.")
print()
print("kernel side (both ends of each loopback connection, whole machine, not in RSS):")
for d in rows:
    if "kern_base" not in d: continue
    kb, kr = d["kern_base"], d["kern_req"]
    print(f"- {d['adapter']}: TCP sockets {kb['tcp_inuse']} -> {kr['tcp_inuse']}, TCP buffer pages {kb['tcp_mem_pages']} -> {kr['tcp_mem_pages']}, "
          f"Slab {kb['slab_kb']/1024:.0f} -> {kr['slab_kb']/1024:.0f} MiB (~{(kr['slab_kb']-kb['slab_kb'])*1024/max(2*d['open_ok'],1):,.0f} B per socket); "
          f"open {d['open_s']}s, {d['req_status']} in {d['req_s']}s, failures open/req {d['open_fail']}/{d['req_fail']}")
EOF
log "raw: $JSONL"

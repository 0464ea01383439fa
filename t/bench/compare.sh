#!/usr/bin/env bash
# compare.sh -- the scenario matrix for maitred and its peers, interleaved.
# (Adapted from the team harness, shared/bench/compare.sh; t/bench/run is the
# usual entry point.)
#
# All servers are started once, side by side on free 127.0.0.1 ports (idle
# ones cost ~nothing). Then for each round, for each scenario, every adapter
# of that scenario gets one wrk run; the adapter order rotates each round so
# no server is always first/last. Per (scenario, adapter) we report medians
# over the rounds and the paired ratio to the scenario's baseline (nginx).
# Peers that are not installed are skipped, and said so.
#
# Knobs (env):
#   ROUNDS=4 DURATION=3 (s per wrk run) THREADS=2 COOLDOWN=0.3 (s) WARMUP=2 (s)
#   SCENARIOS="static_1k small_ka big_100k small_c1000 big_c1000 small_close cache_1k acl_small php_hello
#              php_keep tls_static_1k tls_small_ka"
#             (also available: slow_50ms)
#   PROXY_ADAPTERS="nginx haproxy nginx_batch maitred"  (nginx_batch: nginx under chrt -b)
#   CACHE_ADAPTERS="nginx_cache varnish haproxy_cache maitred_cache"
#   REFERENCE=     (REFERENCE=direct adds wrk-straight-to-the-backend rows)
#   MAITRED=path of the maitred binary (default: the checkout's ./maitred)
#   TLS_STATIC_ADAPTERS="nginx_tls_static maitred_tls_static"
#   TLS_PROXY_ADAPTERS="nginx_tls haproxy_tls maitred_tls"
#   (TLS scenarios: one self-signed EC P-256 certificate, made with the openssl CLI in the
#   temp dir, shared by every server; wrk speaks https, keep-alive)
#   PHP_FPM=php-fpm8.2  PHP_FPM_CHILDREN=8
#   PHP_KEEP_ADAPTERS="nginx_php_keep maitred_php_keep"  PHP_KEEPALIVE=4 (kept FastCGI
#   connections per worker in php_keep; 2 workers x 4 = the 8 children)
#   MAITRED_BACKEND_MAX_CONNS=8 (maitred's backend_max_conns; 0 with slow_50ms, where 8 would
#   cap each worker at 8 / 50 ms x 3 backends = 480 req/s: set for the backend, as an operator would)
#   HAPROXY_SERVER_MAXCONN (unset: none; N = "maxconn N" on HAProxy's servers)
#   WRK_CPUS / SERVER_CPUS  optional taskset cpu lists (default: no pinning)
#   RESULTS_DIR=t/bench/results
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-3}
THREADS=${THREADS:-2}
COOLDOWN=${COOLDOWN:-0.3}
WARMUP=${WARMUP:-2}
SCENARIOS=${SCENARIOS:-"static_1k small_ka big_100k small_c1000 big_c1000 small_close cache_1k acl_small php_hello php_keep tls_static_1k tls_small_ka"}
REFERENCE=${REFERENCE-}
if [[ " $SCENARIOS " == *" slow_50ms "* && -z ${MAITRED_BACKEND_MAX_CONNS:-} ]]; then
    export MAITRED_BACKEND_MAX_CONNS=0
    log "slow_50ms: maitred without backend_max_conns (8 would cap it at 960 req/s)"
fi
PROXY_ADAPTERS=${PROXY_ADAPTERS:-"nginx haproxy nginx_batch maitred"}
CACHE_ADAPTERS=${CACHE_ADAPTERS:-"nginx_cache varnish haproxy_cache maitred_cache"}
STATIC_ADAPTERS=${STATIC_ADAPTERS:-"nginx_static maitred_static"}
ACL_ADAPTERS=${ACL_ADAPTERS:-"maitred maitred_acl"}
PHP_ADAPTERS=${PHP_ADAPTERS:-"nginx_php maitred_php"}
PHP_KEEP_ADAPTERS=${PHP_KEEP_ADAPTERS:-"nginx_php_keep maitred_php_keep"}
PHP_KEEPALIVE=${PHP_KEEPALIVE:-4}
TLS_STATIC_ADAPTERS=${TLS_STATIC_ADAPTERS:-"nginx_tls_static maitred_tls_static"}
TLS_PROXY_ADAPTERS=${TLS_PROXY_ADAPTERS:-"nginx_tls haproxy_tls maitred_tls"}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
PHP_FPM=${PHP_FPM:-php-fpm8.2}
MAITRED=${MAITRED:-$(cd "$BENCH_DIR/../.." && pwd)/maitred}
export MAITRED PHP_FPM PHP_KEEPALIVE
[[ -x $MAITRED ]] || die "no maitred binary at $MAITRED (run make first, or set MAITRED)"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
command -v nginx >/dev/null || die "nginx is not installed: it runs the backends (apt-get install nginx-light)"
command -v curl >/dev/null || die "curl is not installed"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is not installed (apt-get install time)"

# name -> "group|path|connections|extra header|description"
declare -A SCN=(
    [static_1k]="static|/1k|64||static 1 KB file from disk, keep-alive, c=64 (no backend)"
    [small_ka]="proxy|/small|64||proxied /small (100 B), keep-alive, c=64"
    [big_100k]="proxy|/100k|64||proxied /100k, keep-alive, c=64"
    [small_c1000]="proxy|/small|1000||proxied /small, keep-alive, c=1000"
    [big_c1000]="proxy|/100k|1000||proxied /100k, keep-alive, c=1000"
    [small_close]="proxy|/small|64|Connection: close|proxied /small, Connection: close (new TCP connection per request), c=64"
    [slow_50ms]="proxy|/slow|256||proxied /slow (backend sleeps 50 ms), c=256 -> ceiling 5120 req/s"
    [cache_1k]="cache|/1k|64||/1k cache HIT (cache primed in warm-up), c=64"
    [acl_small]="acl|/small|64||proxied /small, c=64: maitred with a 100,000-line blacklist + rate_limit 100000000/1s (maitred_acl) vs both off (maitred)"
    [php_hello]="php|/hello.php|32||hello-world PHP through one php-fpm (pm static, loopback TCP), c=32"
    [php_keep]="php_keep|/hello.php|32||php_hello with FastCGI connections kept: nginx fastcgi_keep_conn + upstream keepalive \$PHP_KEEPALIVE, maitred php_keepalive \$PHP_KEEPALIVE, c=32"
    [tls_static_1k]="tls_static|/1k|64||static 1 KB file over TLS 1.3 (same self-signed EC P-256 certificate), keep-alive, c=64"
    [tls_small_ka]="tls_proxy|/small|64||TLS 1.3 in front, plain HTTP to the backends, proxied /small (100 B), keep-alive, c=64"
)
declare -A BASELINE=([static]=nginx_static [proxy]=nginx [cache]=nginx_cache [acl]=maitred [php]=nginx_php [php_keep]=nginx_php_keep
    [tls_static]=nginx_tls_static [tls_proxy]=nginx_tls)
for s in $SCENARIOS; do [[ -n ${SCN[$s]:-} ]] || die "unknown scenario $s (known: ${!SCN[*]})"; done

# drop adapters whose program is not installed, and say so
declare -A SKIPPED=()
filter_installed() {  # filter_installed LIST -> installed adapters of LIST
    local a m out=""
    for a in $1; do
        if m=$(adapter_missing "$a"); then SKIPPED[$a]=$m; else out+="$a "; fi
    done
    echo "$out"
}
PROXY_ADAPTERS=$(filter_installed "$PROXY_ADAPTERS")
CACHE_ADAPTERS=$(filter_installed "$CACHE_ADAPTERS")
STATIC_ADAPTERS=$(filter_installed "$STATIC_ADAPTERS")
ACL_ADAPTERS=$(filter_installed "$ACL_ADAPTERS")
PHP_ADAPTERS=$(filter_installed "$PHP_ADAPTERS")
PHP_KEEP_ADAPTERS=$(filter_installed "$PHP_KEEP_ADAPTERS")
TLS_STATIC_ADAPTERS=$(filter_installed "$TLS_STATIC_ADAPTERS")
TLS_PROXY_ADAPTERS=$(filter_installed "$TLS_PROXY_ADAPTERS")
for a in "${!SKIPPED[@]}"; do log "skipping $a: ${SKIPPED[$a]} not installed"; done

group_adapters() {  # group_adapters GROUP -> adapter list
    case $1 in
        static) echo $STATIC_ADAPTERS ;; proxy) echo $PROXY_ADAPTERS ;;
        cache) echo $CACHE_ADAPTERS ;; acl) echo $ACL_ADAPTERS ;; php) echo $PHP_ADAPTERS ;;
        php_keep) echo $PHP_KEEP_ADAPTERS ;;
        tls_static) echo $TLS_STATIC_ADAPTERS ;; tls_proxy) echo $TLS_PROXY_ADAPTERS ;;
    esac
}
group_paths() {  # paths for the sanity check and the warm-up
    case $1 in
        static|tls_static) echo /1k ;; tls_proxy) echo /small ;; proxy|acl) echo /small /100k ;; cache) echo /small /1k ;; php|php_keep) echo /hello.php ;;
    esac
}
adapters_for() {  # adapters_for SCENARIO -> adapter list incl. reference
    local g=${SCN[$1]%%|*}
    case $g in proxy|cache) echo $REFERENCE $(group_adapters "$g") ;; *) group_adapters "$g" ;; esac
}

# ---- start everything ------------------------------------------------------
STARTED_BACKENDS=0 PHPFPM_DIR=$BENCH_PREFIX/php-fpm
declare -A PORT_OF GROUPS_OF
ALL_ADAPTERS=()
cleanup() {
    local a
    for a in "${ALL_ADAPTERS[@]}"; do proxy_stop "$a" "${PORT_OF[$a]}" || true; done
    stop_pidfile "$PHPFPM_DIR/pid" || true
    for a in $PHP_KEEP_ADAPTERS; do stop_pidfile "$PHPFPM_DIR-$a/pid" || true; done
    if ((STARTED_BACKENDS)); then "$BENCH_DIR/backends.sh" stop || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! "$BENCH_DIR/backends.sh" status >/dev/null 2>&1; then
    "$BENCH_DIR/backends.sh" start
    STARTED_BACKENDS=1
fi
load_backend_ports

# start_php_fpm DIR: a php-fpm with its own config in DIR, on a free loopback
# port, its pid in DIR/pid (stopped at exit); prints 127.0.0.1:PORT.
start_php_fpm() {
    local d=$1 fport asroot="" runas=""
    mkdir -p "$d"
    fport=$(free_ports 1)
    if [[ $(id -u) == 0 ]]; then asroot=-R; runas=$'user = root\ngroup = root'; fi
    cat >"$d/php-fpm.conf" <<CONF
[global]
pid = $d/php-fpm.pid
error_log = $d/error.log
log_level = warning
daemonize = no

[bench]
$runas
listen = 127.0.0.1:$fport
listen.backlog = 4096
pm = static
pm.max_children = ${PHP_FPM_CHILDREN:-8}
pm.max_requests = 0
catch_workers_output = yes
CONF
    "${PIN_SERVERS[@]}" "$PHP_FPM" $asroot -n -y "$d/php-fpm.conf" -F >"$d/out.log" 2>&1 </dev/null &
    echo $! >"$d/pid"
    if ! wait_port "$fport" 15; then
        cat "$d/out.log" "$d/error.log" >&2 2>/dev/null || true
        die "php-fpm did not come up on 127.0.0.1:$fport"
    fi
    log "php-fpm up on 127.0.0.1:$fport (pid $(<"$d/pid"), ${PHP_FPM_CHILDREN:-8} children)"
    echo "127.0.0.1:$fport"
}

need_php=0 need_php_keep=0
for s in $SCENARIOS; do
    [[ ${SCN[$s]%%|*} == php ]] && need_php=1
    [[ ${SCN[$s]%%|*} == php_keep ]] && need_php_keep=1
done
if ((need_php)) && [[ -n $PHP_ADAPTERS ]]; then
    PHP_FPM_ADDR=$(start_php_fpm "$PHPFPM_DIR")
    export PHP_FPM_ADDR
fi
# Kept connections hold php-fpm children (nginx's for its upstream
# keepalive_timeout, 60 s), so that a server would find none free after
# another: each adapter of the php_keep group gets a php-fpm of its own,
# at PHP_FPM_ADDR_<adapter>.
if ((need_php_keep)); then
    for a in $PHP_KEEP_ADAPTERS; do
        addr=$(start_php_fpm "$PHPFPM_DIR-$a")
        export "PHP_FPM_ADDR_$a=$addr"
    done
fi

for s in $SCENARIOS; do
    if [[ ${SCN[$s]%%|*} == tls_* ]]; then
        tls_make_cert "$BENCH_PREFIX/tls"
        log "TLS certificate: $TLS_CERT ($(openssl x509 -in "$TLS_CERT" -noout -text | grep -m1 -o 'ASN1 OID: [a-z0-9]*'))"
        break
    fi
done

wanted=()
for s in $SCENARIOS; do
    g=${SCN[$s]%%|*}
    for a in $(adapters_for "$s"); do
        wanted+=("$a")
        [[ " ${GROUPS_OF[$a]:-} " == *" $g "* ]] || GROUPS_OF[$a]+=" $g"
    done
done
for a in "${wanted[@]}"; do
    [[ -n ${PORT_OF[$a]:-} ]] && continue
    PORT_OF[$a]=$(free_ports 1)
    ALL_ADAPTERS+=("$a")
    proxy_start "$a" "${PORT_OF[$a]}" || die "could not start $a (see above)"
done

RUN_ID=$(date +%Y%m%d-%H%M%S)
RAW=$BENCH_PREFIX/runs/$RUN_ID
mkdir -p "$RAW" "$RESULTS_DIR"
TSV=$RESULTS_DIR/compare-$RUN_ID.tsv
MD=$RESULTS_DIR/compare-$RUN_ID.md

nruns=0
for s in $SCENARIOS; do set -- $(adapters_for "$s"); nruns=$((nruns + $#)); done
est=$(awk -v n="$nruns" -v r="$ROUNDS" -v d="$DURATION" -v c="$COOLDOWN" -v a="${#ALL_ADAPTERS[@]}" -v w="$WARMUP" \
    'BEGIN{printf "%d", n*r*(d+c+0.6) + a*(w+0.5)*1.5 + 10}')
log "adapters: ${ALL_ADAPTERS[*]}; $nruns runs/round x $ROUNDS rounds x ${DURATION}s; estimated ~$((est / 60))m$((est % 60))s"

echo "== sanity check (all 200; round-robin X-Backend; cache headers) ==" >&2
for a in "${ALL_ADAPTERS[@]}"; do
    paths=""
    for g in ${GROUPS_OF[$a]}; do paths+=" $(group_paths "$g")"; done
    adapter_check "$a" "${PORT_OF[$a]}" $paths >&2 || die "$a returned non-200"
done

# ---- one wrk run -----------------------------------------------------------
run_wrk() {  # run_wrk OUTFILE PORT PATH CONNS DURATION HEADER [SCHEME]
    local out=$1 port=$2 path=$3 c=$4 d=$5 hdr=$6 sch=${7:-http} t=$THREADS
    local args=(-t"$t" -c"$c" -d"${d}s" -s "$BENCH_DIR/tools/wrkstats.lua")
    ((c < t)) && args[0]=-t$c
    [[ -n $hdr ]] && args+=(-H "$hdr")
    /usr/bin/time -f 'WRKTIME %U %S %e' -a -o "$out" \
        "${PIN_WRK[@]}" timeout $((d + 30)) wrk "${args[@]}" "$sch://127.0.0.1:$port$path" >>"$out" 2>&1 || true
}

printf 'round\tscenario\tgroup\tadapter\tconns\trequests\tduration_us\tbytes\terr_connect\terr_read\terr_write\terr_status\terr_timeout\tp50_us\tp90_us\tp99_us\tmax_us\twrk_user_s\twrk_sys_s\tproxy_cpu_s\tbackend_cpu_s\tbe_accepts\tbe_requests\tsys_busy_s\tsys_idle_s\tpeak_rss_kb\n' >"$TSV"

one_run() {  # one_run ROUND SCENARIO ADAPTER
    local r=$1 s=$2 a=$3 g path c hdr desc port pid bpid out cpu0 cpu1 bc0 bc1 st tm spid="" stop peak=0
    IFS='|' read -r g path c hdr desc <<<"${SCN[$s]}"
    port=$(adapter_port "$a" "${PORT_OF[$a]}")
    pid=$(adapter_pid "$a" "${PORT_OF[$a]}"); bpid=$(backends_pid)
    [[ $g == php ]] && bpid=$(cat "$PHPFPM_DIR/pid")   # "backend" = php-fpm
    [[ $g == php_keep ]] && bpid=$(cat "$PHPFPM_DIR-$a/pid")
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then die "$a (pid $pid) died"; fi
    out=$RAW/r$r-$s-$a.txt; : >"$out"
    stop=$RAW/stop-r$r-$s-$a
    if [[ -n $pid ]]; then
        "$PY" "$BENCH_DIR/tools/proc.py" peak "$pid" "$stop" $((DURATION + 40)) >"$out.peak" &
        spid=$!
    fi
    bc0=$(backend_counters); cpu0=$("$PY" "$BENCH_DIR/tools/proc.py" cpus "${pid:--}" "$bpid")
    run_wrk "$out" "$port" "$path" "$c" "$DURATION" "$hdr" "$(adapter_scheme "$a")"
    cpu1=$("$PY" "$BENCH_DIR/tools/proc.py" cpus "${pid:--}" "$bpid"); bc1=$(backend_counters)
    if [[ -n $spid ]]; then touch "$stop"; wait "$spid" || true; peak=$(cat "$out.peak" 2>/dev/null || echo 0); fi
    [[ -n $bc0 ]] || bc0="0 0"; [[ -n $bc1 ]] || bc1="0 0"
    st=$(grep -m1 '^WRKSTATS' "$out" || true)
    tm=$(grep -m1 '^WRKTIME' "$out" || true)
    if [[ -z $st ]]; then log "wrk produced no stats for $s/$a, see $out"; tail -5 "$out" >&2; return 0; fi
    "$PY" - "$r" "$s" "$g" "$a" "$c" "$st" "$tm" "$cpu0" "$cpu1" "$bc0" "$bc1" "${peak:-0}" >>"$TSV" <<'EOF'
import sys
r, s, g, a, c, st, tm, cpu0, cpu1, bc0, bc1, peak = sys.argv[1:]
kv = dict(x.split("=") for x in st.split()[1:])
tmf = tm.split()[1:3] if tm else ["0", "0"]
p0, b0, sb0, si0 = map(float, cpu0.split()); p1, b1, sb1, si1 = map(float, cpu1.split())
a0, q0 = map(int, bc0.split()); a1, q1 = map(int, bc1.split())
row = [r, s, g, a, c] + [kv[k] for k in ("requests", "duration_us", "bytes", "connect", "read", "write", "status", "timeout", "p50", "p90", "p99", "max")]
row += tmf + [f"{p1 - p0:.2f}", f"{b1 - b0:.2f}", str(max(a1 - a0 - 1, 0)), str(max(q1 - q0 - 1, 0)), f"{sb1 - sb0:.2f}", f"{si1 - si0:.2f}", peak.strip() or "0"]
print("\t".join(row))
EOF
    printf '  r%d %-12s %-14s %s\n' "$r" "$s" "$a" "$(tail -n1 "$TSV" | awk -F'\t' '{printf "%8.0f req/s  p99 %6.2f ms  err %d/%d  rss %.0f MiB", $6/($7/1e6), $16/1000, $12, $9+$10+$11+$13, $26/1024}')" >&2
    sleep "$COOLDOWN"
}

# ---- warm-up (discarded): fills caches, opens upstream pools ---------------
log "warm-up ${WARMUP}s per adapter and path"
for a in "${ALL_ADAPTERS[@]}"; do
    paths=""
    for g in ${GROUPS_OF[$a]}; do paths+=" $(group_paths "$g")"; done
    for p in $(tr ' ' '\n' <<<"$paths" | sort -u); do
        [[ $p == /100k ]] && continue
        run_wrk "$RAW/warmup-$a-${p//\//_}.txt" "$(adapter_port "$a" "${PORT_OF[$a]}")" "$p" 64 "$WARMUP" "" "$(adapter_scheme "$a")"
    done
done

# ---- measured rounds ----------------------------------------------------------
T0=$SECONDS
for ((r = 1; r <= ROUNDS; r++)); do
    log "round $r/$ROUNDS"
    for s in $SCENARIOS; do
        set -- $(adapters_for "$s")
        list=("$@"); n=${#list[@]}
        for ((k = 0; k < n; k++)); do
            one_run "$r" "$s" "${list[$(((k + r - 1) % n))]}"
        done
    done
done
log "measured rounds took $((SECONDS - T0))s"

bargs=()
for g in "${!BASELINE[@]}"; do bargs+=(--baseline "$g=${BASELINE[$g]}"); done
{
    echo "## maitred bench compare $RUN_ID"
    echo
    echo "settings: ROUNDS=$ROUNDS DURATION=${DURATION}s THREADS=$THREADS COOLDOWN=${COOLDOWN}s WRK_CPUS=${WRK_CPUS:-none} SERVER_CPUS=${SERVER_CPUS:-none}"
    for a in "${!SKIPPED[@]}"; do echo "skipped: $a (${SKIPPED[$a]} not installed)"; done
    echo
    echo "scenarios:"
    for s in $SCENARIOS; do echo "- \`$s\`: ${SCN[$s]##*|}"; done
    echo
    "$PY" "$BENCH_DIR/tools/summarize.py" "$TSV" "${bargs[@]}"
} | tee "$MD"
log "wrote $MD and $TSV"

# shellcheck shell=bash
# Common helpers for the maitred benchmark suite (t/bench). Source it, don't
# run it. Adapted from the team harness (shared/bench).
#
# Everything this suite starts lives under $BENCH_PREFIX (t/bench/run uses a
# fresh mktemp dir; default /tmp/maitred-tbench-UID), listens on 127.0.0.1
# only, on free ports picked at start, and is stopped by the PID we recorded
# when we started it (plus that PID's descendants). Nothing here ever kills
# by process name.

BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
BENCH_PREFIX=${BENCH_PREFIX:-/tmp/maitred-tbench-$(id -u)}
BACKENDS_FILE=${BACKENDS_FILE:-$BENCH_PREFIX/backends.txt}
PY=${PYTHON:-python3}
export BENCH_PREFIX BENCH_DIR

mkdir -p "$BENCH_PREFIX"

# free_ports N -- N distinct TCP ports free on 127.0.0.1 right now.
free_ports() {
    "$PY" - "$1" <<'PYEOF'
import socket, sys
ss = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ss.append(s)
print(" ".join(str(s.getsockname()[1]) for s in ss))
PYEOF
}

# Backend ports: 3 backends + the stub_status port, chosen by backends.sh
# start (free ports) and recorded in $BENCH_PREFIX/backends/ports.
load_backend_ports() {
    local f=$BENCH_PREFIX/backends/ports
    if [[ -s $f ]]; then
        read -r -a BACKEND_PORTS <"$f"
        BACKEND_STATUS_PORT=${BACKEND_PORTS[3]}
        BACKEND_PORTS=("${BACKEND_PORTS[@]:0:3}")
    else
        BACKEND_PORTS=() BACKEND_STATUS_PORT=""
    fi
}
load_backend_ports
# static files (1k, 100k) served by the static adapters: the backends' docroot
STATIC_ROOT=$BENCH_PREFIX/backends/www
export STATIC_ROOT

# Use the whole (hard) fd limit: 1000-10000 client connections need it, and
# every server we start inherits it from this shell.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# wait_port PORT [TIMEOUT_S] -- wait until 127.0.0.1:PORT accepts TCP.
wait_port() {
    local port=$1 t=${2:-15} i
    for ((i = 0; i < t * 10; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Optional CPU pinning (taskset cpu lists). Empty = no pinning (the default).
#   SERVER_CPUS: backends + proxies    WRK_CPUS: the load generator
# (Arrays, not functions: "func args &" would fork a subshell and $! would
# not be the server's PID. taskset exec()s, so the PID is preserved.)
PIN_SERVERS=(); [[ -n ${SERVER_CPUS:-} ]] && PIN_SERVERS=(taskset -c "$SERVER_CPUS")
PIN_WRK=();     [[ -n ${WRK_CPUS:-} ]] && PIN_WRK=(taskset -c "$WRK_CPUS")

# pid_tree PID -- PID and all its descendants (one per line).
pid_tree() { "$PY" "$BENCH_DIR/tools/proc.py" tree "$1"; }

# stop_pidfile FILE -- TERM the recorded PID, wait, then KILL whatever is left
# of *its* process tree. Only touches processes we started.
stop_pidfile() {
    local f=$1 pid pids i
    [[ -s $f ]] || return 0
    pid=$(<"$f")
    if ! kill -0 "$pid" 2>/dev/null; then rm -f "$f"; return 0; fi
    pids=$(pid_tree "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        local alive=0 p
        for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for p in $pids; do
        if kill -0 "$p" 2>/dev/null; then log "pid $p ignored SIGTERM, sending SIGKILL"; kill -KILL "$p" 2>/dev/null || true; fi
    done
    for ((i = 0; i < 50; i++)); do
        local alive=0 p
        for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    rm -f "$f"
}

# ---------------------------------------------------------------------------
# Proxy adapters. An adapter is adapters/<name>.sh, called as
#     adapters/<name>.sh run PORT BACKENDS_FILE RUNDIR
# It writes its config into RUNDIR and exec's the proxy IN THE FOREGROUND.
# We background it, record its PID and wait for PORT to accept connections.
# The pseudo-adapter "direct" starts nothing and points at backend 9001.
# ---------------------------------------------------------------------------
adapter_rundir() { echo "$BENCH_PREFIX/proxies/$1-$2"; }

adapter_port() {   # adapter_port NAME PORT -> port the load generator must hit
    if [[ $1 == direct ]]; then echo "${BACKEND_PORTS[0]}"; else echo "$2"; fi
}

# adapter_requires NAME -> the program the adapter needs (empty: none)
adapter_requires() {
    case $1 in
        direct) echo "" ;;
        nginx_php|nginx_php_keep) echo "nginx ${PHP_FPM:-php-fpm8.2}" ;;
        maitred_php|maitred_php_keep) echo "${PHP_FPM:-php-fpm8.2}" ;;
        nginx*) echo nginx ;;
        haproxy*) echo haproxy ;;
        varnish*) echo varnishd ;;
        *) echo "" ;;
    esac
}
adapter_missing() {  # adapter_missing NAME -> prints the missing programs, status 0 if any
    local p m=""
    for p in $(adapter_requires "$1"); do command -v "$p" >/dev/null 2>&1 || m+="$p "; done
    [[ -n $m ]] && { echo "${m% }"; return 0; }
    return 1
}

# adapter_pid NAME PORT -> root PID of the running proxy (empty for direct)
adapter_pid() {
    local f
    f="$(adapter_rundir "$1" "$2")/pid"
    [[ -s $f ]] && cat "$f"
    return 0
}

proxy_start() {
    local name=$1 port=$2 rundir script pid
    [[ $name == direct ]] && return 0
    script="$BENCH_DIR/adapters/$name.sh"
    [[ -x $script ]] || die "no adapter $script"
    [[ -s $BACKENDS_FILE ]] || die "no backends file $BACKENDS_FILE (run backends.sh start)"
    port_busy "$port" && die "port $port already in use"
    rundir=$(adapter_rundir "$name" "$port")
    rm -rf "$rundir"; mkdir -p "$rundir"
    "${PIN_SERVERS[@]}" "$script" run "$port" "$BACKENDS_FILE" "$rundir" >"$rundir/out.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$rundir/pid"
    if ! wait_port "$port" 20 || ! kill -0 "$pid" 2>/dev/null; then
        log "adapter $name failed to come up on $port; log:"
        tail -n 30 "$rundir/out.log" >&2
        stop_pidfile "$rundir/pid"
        return 1
    fi
    log "started $name on 127.0.0.1:$port (pid $pid, $(pid_tree "$pid" | wc -l) procs)"
}

proxy_stop() {
    local name=$1 port=$2
    [[ $name == direct ]] && return 0
    stop_pidfile "$(adapter_rundir "$name" "$port")/pid"
}

# adapter_scheme NAME -> https for the TLS adapters (*_tls, *_tls_*), else http
adapter_scheme() { if [[ $1 == *_tls || $1 == *_tls_* ]]; then echo https; else echo http; fi; }

# tls_make_cert DIR -- self-signed EC P-256 certificate for CN=localhost (+ SAN 127.0.0.1),
# made with the openssl CLI; exports TLS_CERT, TLS_KEY and TLS_PEM (certificate + key, HAProxy).
tls_make_cert() {
    local d=$1
    command -v openssl >/dev/null || die "openssl is not installed (needed by the TLS scenarios)"
    mkdir -p "$d"
    if [[ ! -s $d/cert.pem ]]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
            -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -keyout "$d/key.pem" -out "$d/cert.pem" 2>"$d/openssl.log" || { cat "$d/openssl.log" >&2; die "openssl req failed"; }
        cat "$d/cert.pem" "$d/key.pem" >"$d/combined.pem"
        chmod 600 "$d/key.pem" "$d/combined.pem"
    fi
    export TLS_CERT=$d/cert.pem TLS_KEY=$d/key.pem TLS_PEM=$d/combined.pem
}

# tls_info PORT -> "TLSv1.3 TLS_AES_256_GCM_SHA384 X25519" as negotiated by the openssl CLI
tls_info() {
    timeout 5 openssl s_client -connect "127.0.0.1:$1" -servername localhost -brief </dev/null 2>&1 |
        awk -F': *' '/^Protocol version/{v=$2} /^Ciphersuite/{c=$2} /^(Server Temp Key|Negotiated TLS1.3 group)/{k=$2}
                     END{printf "%s %s %s", v, c, k}'
}

backends_pid() { [[ -s $BENCH_PREFIX/backends/pid ]] && cat "$BENCH_PREFIX/backends/pid"; return 0; }

# backend_counters -> "accepts requests" from the backends' stub_status
backend_counters() {
    curl -s --max-time 2 "http://127.0.0.1:$BACKEND_STATUS_PORT/status" |
        awk 'NR==3 {print $1, $3}'
}

# adapter_check NAME PORT PATH... -- GET each path 3 times on new connections;
# print status codes, X-Backend and cache headers. Returns 1 on non-200.
adapter_check() {
    local name=$1 p path i out codes="" bes="" cache="" sch tls=""
    p=$(adapter_port "$1" "$2"); sch=$(adapter_scheme "$1"); shift 2
    for path in "$@"; do
        for i in 1 2 3; do
            out=$(curl -s -k -D - -o /dev/null --max-time 3 -w 'CODE %{http_code}\n' "$sch://127.0.0.1:$p$path" | tr -d '\r')
            codes+="$(awk '$1=="CODE"{print $2}' <<<"$out") "
            bes+="$(awk -F': ' 'tolower($1)=="x-backend"{print $2}' <<<"$out") "
            cache+="$(awk -F': ' 'tolower($1)=="x-cache"{printf "X-Cache=%s ", $2} tolower($1)=="age"{printf "Age=%s ", $2}' <<<"$out")"
        done
    done
    [[ $sch == https ]] && tls=" | $(tls_info "$p")"
    printf '  %-14s %s | X-Backend: %s| %s| codes: %s%s\n' "$name" "$*" "$bes" "$cache" "$codes" "$tls"
    [[ $codes =~ ^(200 )+$ ]]
}

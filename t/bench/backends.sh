#!/usr/bin/env bash
# backends.sh start|stop|status|restart
#
# Three HTTP/1.1 backends on 127.0.0.1 (free ports picked at start and
# recorded in $BENCH_PREFIX/backends/ports), served by ONE nginx
# instance with worker_processes 1 (so all backends together use <= 1 core).
#   /small  200, 100-byte text body naming the backend
#   /1k     1024-byte fixed file      /100k  102400-byte fixed file
#   /slow   200 after a ~50 ms non-blocking sleep (nginx echo module:
#           Debian package libnginx-mod-http-echo; without it /slow is 404)
# Every response carries "X-Backend: <port>". Keep-alive is on (120 s,
# 1e6 requests per connection), access log off.
# stub_status of the backend instance: 4th port in backends/ports, /status.
# The docroot ($BENCH_PREFIX/backends/www) also holds hello.php, served by
# the php adapters (maitred_php, nginx_php) through php-fpm.
# Also writes $BENCH_PREFIX/backends.txt (host:port:weight:max_failures).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

D=$BENCH_PREFIX/backends
ECHO_MOD=${ECHO_MOD:-/usr/lib/nginx/modules/ngx_http_echo_module.so}
SLOW_MS=${SLOW_MS:-50}

gen_conf() {
    local load="" p body slow
    [[ -f $ECHO_MOD ]] && load="load_module $ECHO_MOD;"
    cat <<EOF
$load
user root root;
worker_processes 1;
daemon off;
pid $D/nginx.pid;
error_log $D/error.log warn;
worker_rlimit_nofile $(ulimit -Hn);
events { worker_connections $(( $(ulimit -Hn) - 1000 )); }
http {
    access_log off;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    open_file_cache max=64 inactive=600s;
    open_file_cache_valid 600s;
    default_type application/octet-stream;
    client_body_temp_path $D/tmp/body;
    proxy_temp_path $D/tmp/proxy;
    fastcgi_temp_path $D/tmp/fastcgi;
    uwsgi_temp_path $D/tmp/uwsgi;
    scgi_temp_path $D/tmp/scgi;
EOF
    for p in "${BACKEND_PORTS[@]}"; do
        # 100-byte body: "backend <port> " padded with 'x', newline-terminated
        body=$(printf 'backend %s ' "$p"); body=$body$(printf 'x%.0s' $(seq $((99 - ${#body}))))
        if [[ -f $ECHO_MOD ]]; then
            slow="location = /slow { default_type text/plain; echo_sleep $(awk "BEGIN{print $SLOW_MS/1000}"); echo \"slow backend $p\"; }"
        else
            slow="location = /slow { return 404; }"
        fi
        cat <<EOF
    server {
        listen 127.0.0.1:$p backlog=4096;
        root $D/www;
        add_header X-Backend $p always;
        location = /small { default_type text/plain; return 200 "$body\n"; }
        $slow
        location / { }
    }
EOF
    done
    cat <<EOF
    server {
        listen 127.0.0.1:$BACKEND_STATUS_PORT;
        location = /status { stub_status; }
    }
}
EOF
}

start() {
    if [[ -s $D/pid ]] && kill -0 "$(<"$D/pid")" 2>/dev/null; then
        log "backends already running (pid $(<"$D/pid"))"; return 0
    fi
    rm -rf "$D"; mkdir -p "$D/www" "$D/tmp"
    if [[ -n ${BENCH_BACKEND_PORTS:-} ]]; then echo "$BENCH_BACKEND_PORTS" >"$D/ports"; else free_ports 4 >"$D/ports"; fi
    load_backend_ports
    for p in "${BACKEND_PORTS[@]}" "$BACKEND_STATUS_PORT"; do
        port_busy "$p" && die "port $p already in use by something else"
    done
    printf '<?php\necho "Hello, world!\\n";\n' >"$D/www/hello.php"
    # fixed, deterministic content
    "$PY" - "$D/www" <<'EOF'
import sys, random
r = random.Random(42)
for name, n in (("1k", 1024), ("100k", 102400)):
    data = bytes(r.choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))
    open(f"{sys.argv[1]}/{name}", "wb").write(data)
EOF
    [[ -f $ECHO_MOD ]] || log "WARNING: $ECHO_MOD missing: /slow returns 404 (apt-get install libnginx-mod-http-echo)"
    gen_conf >"$D/nginx.conf"
    "${PIN_SERVERS[@]}" nginx -p "$D" -c "$D/nginx.conf" -e "$D/error.log" >"$D/out.log" 2>&1 </dev/null &
    echo $! >"$D/pid"
    for p in "${BACKEND_PORTS[@]}" "$BACKEND_STATUS_PORT"; do
        wait_port "$p" 10 || { cat "$D/out.log" "$D/error.log" >&2; stop_pidfile "$D/pid"; die "backend $p did not start"; }
    done
    : >"$BACKENDS_FILE"
    for p in "${BACKEND_PORTS[@]}"; do echo "127.0.0.1:$p:1:3" >>"$BACKENDS_FILE"; done
    log "backends up: pid $(<"$D/pid") ports ${BACKEND_PORTS[*]} (status :$BACKEND_STATUS_PORT), file $BACKENDS_FILE"
}

stop() {
    stop_pidfile "$D/pid"
    log "backends stopped"
}

status() {
    if [[ -s $D/pid ]] && kill -0 "$(<"$D/pid")" 2>/dev/null; then
        echo "running, pid $(<"$D/pid")"
        for p in "${BACKEND_PORTS[@]}"; do
            for path in /small /1k /100k /slow; do
                curl -s -o /dev/null -D - --max-time 3 -w "  :$p$path %{http_code} %{size_download}B %{time_total}s\n" \
                    "http://127.0.0.1:$p$path" | grep -E '^(X-Backend|  :)' | tr -d '\r' | paste -sd' '
            done
        done
    else
        echo "not running"; return 1
    fi
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    status) status ;;
    *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac

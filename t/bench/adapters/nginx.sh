#!/usr/bin/env bash
# nginx reverse proxy: worker_processes 2, round-robin, upstream keepalive.
# Env: NGINX_WORKERS (2), NGINX_UPSTREAM_KEEPALIVE (1024 idle conns/worker; 64 causes upstream
#      connection churn at c=1000: ~8k new backend conns/s, -40% req/s),
#      NGINX_WORKER_CONNECTIONS (fd hard limit - 1000), NGINX_REUSEPORT (1), NGINX_CACHE (0; 1 = proxy_cache, used by nginx_cache.sh),
#      NGINX_PROXY_BUFFERS ("16k": proxy_buffer_size 16k + proxy_buffers 8 16k, like HAProxy's
#      16k bufsize; nginx's default 8 x 4k halves /100k throughput here: ~9k vs ~19k req/s;
#      set to "" for nginx defaults),
#      NGINX_EXTRA_LOCATION (directives appended to "location /", e.g. "proxy_buffering off;"),
#      NGINX_MODE (proxy; static = serve $STATIC_ROOT as files, used by nginx_static.sh;
#      php = .php under $STATIC_ROOT through fastcgi_pass $PHP_FPM_ADDR, used by nginx_php.sh)
#      NGINX_FCGI_KEEPALIVE (php mode: fastcgi_keep_conn on and an upstream with keepalive N;
#      used by nginx_php_keep.sh)
#      NGINX_TLS (0; 1 = "listen ... ssl" with $TLS_CERT/$TLS_KEY, TLSv1.2+1.3, shared session
#      cache; used by nginx_tls.sh and nginx_tls_static.sh)
set -euo pipefail
source "$(dirname "$0")/_common.sh"
servers=$(while read -r h p w f; do
    echo "        server $h:$p weight=$w max_fails=$f fail_timeout=10s;"; done <<<"$BE_LINES")
reuse=""; [[ ${NGINX_REUSEPORT:-1} == 1 ]] && reuse=reuseport
bufs=""; b=${NGINX_PROXY_BUFFERS-16k}
[[ -n $b ]] && bufs="proxy_buffer_size $b; proxy_buffers 8 $b;"
cache_http="" cache_loc=""
fcgi_target=${PHP_FPM_ADDR:-} fcgi_keep="" fcgi_http=""
if [[ -n ${NGINX_FCGI_KEEPALIVE:-} ]]; then
    # kept FastCGI connections: needs an upstream block for keepalive
    fcgi_target=php_fpm fcgi_keep="fastcgi_keep_conn on;"
    fcgi_http="upstream php_fpm { server ${PHP_FPM_ADDR:?no php-fpm address}; keepalive $NGINX_FCGI_KEEPALIVE; }"
fi
if [[ ${NGINX_CACHE:-0} == 1 ]]; then
    cache_http="proxy_cache_path $RUNDIR/cache levels=1:2 keys_zone=c:16m max_size=256m inactive=1h use_temp_path=off;"
    cache_loc="proxy_cache c; proxy_cache_valid 200 1h; proxy_cache_lock on; add_header X-Cache \$upstream_cache_status;"
fi
location="location / {
            proxy_pass http://be;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            $bufs
            $cache_loc
            ${NGINX_EXTRA_LOCATION:-}
        }"
tls_listen="" tls_conf=""
if [[ ${NGINX_TLS:-0} == 1 ]]; then
    tls_listen=ssl
    tls_conf="ssl_certificate ${TLS_CERT:?}; ssl_certificate_key ${TLS_KEY:?};
        ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:SSL:10m;"
fi
case ${NGINX_MODE:-proxy} in
    static) location="root ${STATIC_ROOT:?}; location / { ${NGINX_EXTRA_LOCATION:-} }" ;;
    php) location="root ${STATIC_ROOT:?};
        location ~ \.php\$ {
            fastcgi_pass ${fcgi_target:?no php-fpm address};
            $fcgi_keep
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            fastcgi_param QUERY_STRING \$query_string;
            fastcgi_param REQUEST_METHOD \$request_method;
            fastcgi_param CONTENT_TYPE \$content_type;
            fastcgi_param CONTENT_LENGTH \$content_length;
            fastcgi_param SCRIPT_NAME \$fastcgi_script_name;
            fastcgi_param REQUEST_URI \$request_uri;
            fastcgi_param DOCUMENT_URI \$document_uri;
            fastcgi_param DOCUMENT_ROOT \$document_root;
            fastcgi_param SERVER_PROTOCOL \$server_protocol;
            fastcgi_param GATEWAY_INTERFACE CGI/1.1;
            fastcgi_param SERVER_SOFTWARE nginx;
            fastcgi_param REMOTE_ADDR \$remote_addr;
            fastcgi_param REMOTE_PORT \$remote_port;
            fastcgi_param SERVER_ADDR \$server_addr;
            fastcgi_param SERVER_PORT \$server_port;
            fastcgi_param SERVER_NAME \$server_name;
            fastcgi_param REDIRECT_STATUS 200;
            ${NGINX_EXTRA_LOCATION:-}
        }" ;;
esac
cat >"$RUNDIR/nginx.conf" <<CONF
user root root;
worker_processes ${NGINX_WORKERS:-2};
daemon off;
pid $RUNDIR/nginx.pid;
error_log $RUNDIR/error.log warn;
worker_rlimit_nofile $NOFILE;
events { worker_connections ${NGINX_WORKER_CONNECTIONS:-$((NOFILE - 1000))}; }
http {
    access_log off;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    client_body_temp_path $RUNDIR/body;
    proxy_temp_path $RUNDIR/proxy;
    fastcgi_temp_path $RUNDIR/fastcgi;
    uwsgi_temp_path $RUNDIR/uwsgi;
    scgi_temp_path $RUNDIR/scgi;
    $cache_http
    $fcgi_http
    upstream be {
$servers
        keepalive ${NGINX_UPSTREAM_KEEPALIVE:-1024};
        keepalive_requests 1000000;
        keepalive_timeout 120s;
    }
    server {
        listen 127.0.0.1:$PORT $tls_listen $reuse backlog=4096;
        $tls_conf
        $location
    }
}
CONF
exec nginx -p "$RUNDIR" -c "$RUNDIR/nginx.conf" -e "$RUNDIR/error.log"

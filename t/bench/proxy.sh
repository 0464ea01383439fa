#!/usr/bin/env bash
# proxy.sh start|stop NAME PORT   -- start/stop one adapter by hand
# proxy.sh check NAME PORT PATH... -- status, X-Backend and cache headers of each PATH
# NAME is a file in adapters/ (nginx, haproxy, nginx_cache, haproxy_cache,
# varnish, maitred, maitred_cache, maitred_static, maitred_acl, maitred_php,
# nginx_static, nginx_php, nginx_tls, nginx_tls_static, haproxy_tls, maitred_tls,
# maitred_tls_static) or "direct". Uses $BENCH_PREFIX (backends.sh start first);
# the *_tls* adapters get a self-signed certificate in $BENCH_PREFIX/tls.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cmd=${1:-}; name=${2:-}; port=${3:-}
[[ -n $cmd && -n $name && -n $port ]] || { sed -n '2,8p' "$0"; exit 2; }
[[ $(adapter_scheme "$name") == https ]] && tls_make_cert "$BENCH_PREFIX/tls"
case $cmd in
    start) proxy_start "$name" "$port" ;;
    stop) proxy_stop "$name" "$port" ;;
    check) load_backend_ports; adapter_check "$name" "$port" "${@:4}" ;;
    *) sed -n '2,8p' "$0"; exit 2 ;;
esac

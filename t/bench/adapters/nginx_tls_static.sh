#!/usr/bin/env bash
# nginx in static mode terminating TLS ($TLS_CERT/$TLS_KEY) (see nginx.sh).
NGINX_TLS=1 NGINX_MODE=static exec "$(dirname "$0")/nginx.sh" "$@"

#!/usr/bin/env bash
# nginx reverse proxy terminating TLS ($TLS_CERT/$TLS_KEY), plain HTTP to the backends (see nginx.sh).
NGINX_TLS=1 exec "$(dirname "$0")/nginx.sh" "$@"

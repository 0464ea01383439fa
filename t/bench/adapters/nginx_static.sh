#!/usr/bin/env bash
# nginx in static mode (see nginx.sh): same settings as the proxy adapter.
NGINX_MODE=static exec "$(dirname "$0")/nginx.sh" "$@"

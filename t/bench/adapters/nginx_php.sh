#!/usr/bin/env bash
# nginx in php mode (see nginx.sh): same settings as the proxy adapter.
NGINX_MODE=php exec "$(dirname "$0")/nginx.sh" "$@"

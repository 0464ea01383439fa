#!/usr/bin/env bash
# HAProxy terminating TLS (bind ... ssl crt $TLS_PEM), plain HTTP to the backends (see haproxy.sh).
HAPROXY_TLS=1 exec "$(dirname "$0")/haproxy.sh" "$@"

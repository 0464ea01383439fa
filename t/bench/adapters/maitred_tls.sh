#!/usr/bin/env bash
# maitred proxy terminating TLS (listen ... ssl, $TLS_CERT/$TLS_KEY), plain HTTP to the backends (see maitred.sh).
MAITRED_TLS=1 exec "$(dirname "$0")/maitred.sh" "$@"

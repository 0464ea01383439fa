#!/usr/bin/env bash
# maitred in static mode terminating TLS ($TLS_CERT/$TLS_KEY) (see maitred.sh).
MAITRED_TLS=1 MAITRED_MODE=static exec "$(dirname "$0")/maitred.sh" "$@"

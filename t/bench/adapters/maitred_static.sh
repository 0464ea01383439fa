#!/usr/bin/env bash
# maitred in static mode (see maitred.sh).
MAITRED_MODE=static exec "$(dirname "$0")/maitred.sh" "$@"

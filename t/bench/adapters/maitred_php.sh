#!/usr/bin/env bash
# maitred in php mode (see maitred.sh).
MAITRED_MODE=php exec "$(dirname "$0")/maitred.sh" "$@"

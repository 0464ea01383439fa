#!/usr/bin/env bash
# maitred in acl mode (see maitred.sh).
MAITRED_MODE=acl exec "$(dirname "$0")/maitred.sh" "$@"

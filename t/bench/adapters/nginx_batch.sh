#!/usr/bin/env bash
# nginx reverse proxy (see nginx.sh) with its processes under SCHED_BATCH
# (chrt -b 0), the scheduling policy maitred's workers use by default
# (worker_sched batch). Not a stock nginx: it shows how much of maitred's
# lead comes from that policy rather than from its code.
exec chrt -b 0 "$(dirname "$0")/nginx.sh" "$@"

#!/usr/bin/env bash
# HAProxy (see haproxy.sh) with "maxconn ${HAPROXY_QUEUE_MAXCONN:-16}" on each server: the
# others queue in HAProxy. 16 = maitred's backend_max_conns 8 x its 2 workers, so that the
# peer gets the same tuning. Not in the default PROXY_ADAPTERS.
HAPROXY_SERVER_MAXCONN=${HAPROXY_QUEUE_MAXCONN:-16} exec "$(dirname "$0")/haproxy.sh" "$@"

#!/usr/bin/env bash
# Static 1 KB file, keep-alive, wrk -c 64: maitred against nginx on this
# machine, interleaved rounds, medians and the paired ratio. Everything
# listens on 127.0.0.1, every run is bounded (wrk -d, timeout), and only
# the processes started here are stopped, by PID.
#   ROUNDS=5 DURATION=5 CONNS=64 t/bench/static.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-5} CONNS=${CONNS:-64}
MAITRED=${MAITRED:-$top/maitred}
dir=$(mktemp -d /tmp/maitred-bench-static.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "port $1 never opened" >&2; return 1
}

mkdir -p "$dir/htdocs" "$dir/nginx"
head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 >"$dir/htdocs/1k.txt"

mport=$(free_port)
cat >"$dir/maitred.conf" <<CONF
listen 127.0.0.1:$mport
workers 2
htdocs $dir/htdocs
rate_limit off
error_log $dir/maitred.err
log_level warning
worker_connections 10000
CONF
"$MAITRED" -c "$dir/maitred.conf" >/dev/null 2>&1 &
pids+=($!)
wait_port "$mport"
names=(maitred)
ports=($mport)

if command -v nginx >/dev/null; then
	nport=$(free_port)
	cat >"$dir/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
daemon off;
events { worker_connections 10000; }
http {
	access_log off;
	sendfile on; tcp_nopush on;
	keepalive_timeout 120s; keepalive_requests 1000000;
	client_body_temp_path $dir/nginx; proxy_temp_path $dir/nginx;
	fastcgi_temp_path $dir/nginx; uwsgi_temp_path $dir/nginx; scgi_temp_path $dir/nginx;
	server { listen 127.0.0.1:$nport reuseport; root $dir/htdocs; }
}
CONF
	nginx -c "$dir/nginx/nginx.conf" -p "$dir/nginx" 2>/dev/null &
	pids+=($!)
	wait_port "$nport"
	names+=(nginx)
	ports+=($nport)
else
	echo "nginx is not installed: measuring maitred alone (apt-get install nginx-light)"
fi

run() { # port -> req/s
	timeout $((DURATION + 10)) wrk -t2 -c"$CONNS" -d"${DURATION}s" \
	    "http://127.0.0.1:$1/1k.txt" | awk '/Requests\/sec/ {print $2}'
}
declare -A res
for r in $(seq "$ROUNDS"); do
	for i in "${!names[@]}"; do
		# rotate the order every round
		j=$(( (i + r) % ${#names[@]} ))
		res[${names[$j]},$r]=$(run "${ports[$j]}")
	done
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "static 1 KB, keep-alive, c=$CONNS, ${ROUNDS}x${DURATION}s"
echo
echo "| server | req/s (median) | ratio vs nginx (paired median) |"
echo "|---|---:|---:|"
for n in "${names[@]}"; do
	med=$(for r in $(seq "$ROUNDS"); do echo "${res[$n,$r]}"; done | median)
	ratio=-
	if [[ -n ${res[nginx,1]:-} ]]; then
		ratio=$(for r in $(seq "$ROUNDS"); do
			awk -v a="${res[$n,$r]}" -v b="${res[nginx,$r]}" 'BEGIN {printf "%.3f\n", a/b}'
		done | median)
	fi
	printf '| %s | %.0f | %s |\n' "$n" "$med" "$ratio"
done

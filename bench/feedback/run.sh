#!/usr/bin/env bash
# run.sh - the feedback benchmark: how fast `ambient feedback` takes
# deliveries, and how fast the deliverer sends them, each against a ceiling
# measured in the same run.
#
# Usage: bench/feedback/run.sh [BUILD_DIR]        (default: build)
#
# Uses BUILD_DIR/ambient and BUILD_DIR/bench/feedback/bench_feedback_delivery
# (delivery.c), wrk and nginx (scripts/deps.sh installs both).  Everything
# runs on 127.0.0.1 in one temporary directory ($FEEDBACK_DIR, $TMPDIR or
# /tmp: put it on a real disk, the stores fsync).
#
# (a) receive: wrk -t2 -c64 -d${FEEDBACK_WRK_SECONDS}s with post.lua (POST, a
#     307-byte JSON payload {task_id, event_type, data, timestamp, priority},
#     no webhook-id, so each request is a new event stored durably: SQLite,
#     WAL, synchronous=FULL) against `ambient feedback --listen 127.0.0.1:0`
#     on a fresh store, POST /process_background_feedback; then the same wrk
#     load against nginx answering every request with a static 200 JSON body
#     (`return 200`), started with its own config, prefix, pid and logs in the
#     temporary directory, `worker_processes` $FEEDBACK_NGINX_WORKERS
#     (default 1: one process, as `ambient feedback` is one process; "auto"
#     gives one per core), access log off.  nginx goes second so that it
#     does not warm what ambient reads.  Target: ambient >= 40% of nginx.
# (b) delivery: bench_feedback_delivery (see delivery.c): the real deliverer
#     (delivery_new/delivery_start, as `ambient serve` runs it) drains
#     $FEEDBACK_EVENTS events of 256 tasks to 1, 10 and 100 endpoints (one
#     port each) on in-process libmicrohttpd receivers; then, with one
#     endpoint, the p99 from the append to the receipt with events appended
#     at $FEEDBACK_RATE/s.  The ceiling: wrk with post.lua against one such
#     receiver alone (`--receiver`).  Targets: >= 20,000 events/s and
#     p99 < 20 ms for one endpoint.
#
# Environment: FEEDBACK_WRK_SECONDS [5], FEEDBACK_NGINX_WORKERS [1],
# FEEDBACK_EVENTS [50000], FEEDBACK_RATE [2000], FEEDBACK_LATENCY_SECONDS [5],
# FEEDBACK_ENDPOINTS [1,10,100], FEEDBACK_DIR, FEEDBACK_KEEP=1 (keep the
# temporary directory).
#
# `grep '^ratio'` extracts the verdict lines.  Exits 0 whether or not the
# targets are met; non-zero when something fails.  Only the processes it
# started are stopped.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "feedback: no build directory '$1'" >&2; exit 2; }
ambient=$build/ambient
bench=$build/bench/feedback/bench_feedback_delivery
wrk_seconds=${FEEDBACK_WRK_SECONDS:-5}
workers=${FEEDBACK_NGINX_WORKERS:-1}
events=${FEEDBACK_EVENTS:-50000}
rate=${FEEDBACK_RATE:-2000}
lat_seconds=${FEEDBACK_LATENCY_SECONDS:-5}
endpoints=${FEEDBACK_ENDPOINTS:-1,10,100}

for f in "$ambient" "$bench"; do
	[ -x "$f" ] || { echo "feedback: no $f; build first (make build)" >&2; exit 1; }
done
for tool in wrk nginx; do
	command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] ||
		{ echo "feedback: '$tool' not found (scripts/deps.sh installs it)" >&2; exit 1; }
done
nginx_bin=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)

tmp=$(mktemp -d "${FEEDBACK_DIR:-${TMPDIR:-/tmp}}/feedback-bench.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ "${FEEDBACK_KEEP:-0}" = 1 ]; then
		echo "feedback: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_url FILE PID NAME: the URL of the "listening URL" line (60 s).
wait_url() {
	local file=$1 pid=$2 name=$3 i url
	for ((i = 0; i < 1200; i++)); do
		url=$(sed -n 's/^listening \(http[^ ]*\).*/\1/p' "$file" 2>/dev/null | head -n1)
		if [ -n "$url" ]; then
			echo "$url"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "feedback: $name exited before listening:" >&2
			cat "$file" "$file.err" >&2 2>/dev/null || true
			return 1
		fi
		sleep 0.05
	done
	echo "feedback: $name did not print its URL within 60 s" >&2
	return 1
}

# wrk_rps NAME URL: requests/s of one wrk run with post.lua; errors fail.
wrk_rps() {
	local name=$1 url=$2 out
	out=$(wrk -t2 -c64 -d"${wrk_seconds}s" --latency -s "$here/post.lua" "$url")
	echo "$out" >"$tmp/wrk-$name.txt"
	if grep -q 'Non-2xx or 3xx\|Socket errors' <<<"$out"; then
		echo "feedback: wrk saw errors against $name:" >&2
		echo "$out" >&2
		return 1
	fi
	sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out"
}
wrk_p99() { sed -n 's/^ *99% *\([0-9.]*[a-z]*\).*/\1/p' "$tmp/wrk-$1.txt" | head -n1; }

# ratio NAME VALUE CEILING TARGET: "ratio NAME = V/C (target >= T): met".
ratio() {
	awk -v n="$1" -v v="$2" -v c="$3" -v t="$4" -v what="$5" 'BEGIN {
		r = c > 0 ? v / c : 0
		printf "ratio %s = %.2f (target >= %.2f): %s  [%s]\n", n, r, t,
			(r >= t ? "met" : "NOT met"), what }'
}

# free_port: a loopback port nobody listens on, below the kernel's range of
# ephemeral ports (wrk's own client ports linger there in TIME_WAIT), for
# nginx, which cannot tell which port it got for :0.
free_port() {
	local p i lo
	lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	[ "$lo" -gt 12000 ] || lo=32768
	for ((i = 0; i < 100; i++)); do
		p=$((10000 + (RANDOM * 32768 + RANDOM) % (lo - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

echo "feedback bench: wrk -t2 -c64 -d${wrk_seconds}s, $(nproc) cores, temp dir $tmp"

# ---- (a) receive: ambient feedback against nginx -------------------------------------

"$ambient" feedback --listen 127.0.0.1:0 --data-dir "$tmp/fb-data" \
	--feedback-db "sqlite:$tmp/feedback.db" >"$tmp/feedback.out" 2>"$tmp/feedback.out.err" &
fb_pid=$!
pids+=("$fb_pid")
fb_url=$(wait_url "$tmp/feedback.out" "$fb_pid" "ambient feedback")
fb_rps=$(wrk_rps feedback "$fb_url/process_background_feedback")
fb_p99=$(wrk_p99 feedback)
kill -TERM "$fb_pid" 2>/dev/null || true
wait "$fb_pid" 2>/dev/null || true
pids=()

# start_nginx: nginx on a free port ($port, $ng_pid), a few tries.
start_nginx() {
	local try i
	for ((try = 0; try < 5; try++)); do
		port=$(free_port)
		mkdir -p "$tmp/nginx/logs"
		cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes $workers;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$port;
		location / {
			default_type application/json;
			return 200 '{"status":"received"}';
		}
	}
}
EOF
		"$nginx_bin" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" \
			>"$tmp/nginx.out" 2>&1 &
		ng_pid=$!
		for ((i = 0; i < 200; i++)); do
			if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
				pids+=("$ng_pid")
				return 0
			fi
			kill -0 "$ng_pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -TERM "$ng_pid" 2>/dev/null || true
		wait "$ng_pid" 2>/dev/null || true
	done
	echo "feedback: nginx did not start:" >&2
	cat "$tmp/nginx.out" "$tmp/nginx/logs/error.log" >&2 2>/dev/null || true
	return 1
}
start_nginx
ng_rps=$(wrk_rps nginx "http://127.0.0.1:$port/process_background_feedback")
ng_p99=$(wrk_p99 nginx)
kill -TERM "$ng_pid" 2>/dev/null || true
wait "$ng_pid" 2>/dev/null || true
pids=()

printf '(a) receive  ambient feedback: %8.0f req/s (p99 %s)   nginx static 200 (%s worker%s): %8.0f req/s (p99 %s)\n' \
	"$fb_rps" "$fb_p99" "$workers" "$([ "$workers" = 1 ] && echo "" || echo s)" "$ng_rps" "$ng_p99"
ratio receive "$fb_rps" "$ng_rps" 0.40 "ambient feedback req/s (durable, synchronous=FULL) over nginx static 200 req/s"

# ---- (b) delivery ---------------------------------------------------------------------

"$bench" --receiver </dev/null >"$tmp/receiver.out" 2>"$tmp/receiver.out.err" &
rc_pid=$!
pids+=("$rc_pid")
rc_url=$(wait_url "$tmp/receiver.out" "$rc_pid" "receiver")
rc_rps=$(wrk_rps receiver "$rc_url/process_background_feedback")
kill -TERM "$rc_pid" 2>/dev/null || true
wait "$rc_pid" 2>/dev/null || true
pids=()

"$bench" --dir "$tmp" --events "$events" --endpoints "$endpoints" --rate "$rate" \
	--seconds "$lat_seconds" | tee "$tmp/delivery.txt"
printf '(b) receiver ceiling (wrk, post.lua, one receiver alone): %.0f req/s\n' "$rc_rps"
while read -r line; do
	case $line in
	throughput*)
		ep=$(sed -n 's/.*endpoints=\([0-9]*\).*/\1/p' <<<"$line")
		eps=$(sed -n 's/.* events_per_s=\([0-9.]*\).*/\1/p' <<<"$line")
		done_eps=$(sed -n 's/.* done_per_s=\([0-9.]*\).*/\1/p' <<<"$line")
		ratio "delivery_${ep}ep_target" "$eps" 20000 1.00 "events/s received with $ep endpoint(s) over 20,000/s"
		ratio "delivery_${ep}ep_ceiling" "$eps" "$rc_rps" 0.00 "events/s received with $ep endpoint(s) over the receiver's wrk ceiling (informative)"
		ratio "delivery_${ep}ep_done_target" "$done_eps" 20000 1.00 "events/s with their feedback_delivered durable, over 20,000/s"
		;;
	latency*)
		p99=$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")
		awk -v p="$p99" 'BEGIN { r = p / 20; printf "ratio delivery_p99 = %.2f (target <= 1.00): %s  [p99 ms from append to receipt, one endpoint, over 20 ms]\n", r, (r <= 1 ? "met" : "NOT met") }'
		;;
	esac
done <"$tmp/delivery.txt"

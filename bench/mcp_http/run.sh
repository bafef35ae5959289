#!/usr/bin/env bash
# run.sh - MCP tools/call over Streamable HTTP: ambient against a peer built on
# the official TypeScript SDK, under the same wrk load, in one run.
#
# Usage: bench/mcp_http/run.sh AMBIENT_BINARY
#
# Starts, in a fresh temporary directory, `ambient serve --stateless` on a
# SQLite store and peer_server.mjs (McpServer + StreamableHTTPServerTransport,
# stateless, JSON responses, tasks in a Map), both on ephemeral 127.0.0.1
# ports; seeds the same N tasks into each through tools/call; then runs wrk
# with call.lua: list_background_tasks on each, then create_background_task on
# each (the creates go to another user, so the lists keep N tasks).  Prints
# requests/s, latency and the ratios against the targets:
#
#   ratio list ambient/peer >= 60, ratio create ambient/peer >= 20,
#   p99 latency of ambient < 5 ms at 50 connections (list and create).
#
# Environment (defaults in brackets):
#   MCP_BENCH_SECONDS [10]      wrk duration per measured run
#   MCP_BENCH_WARMUP [2]        seconds of unmeasured load before each run (at
#                               least 1; its responses are all checked)
#   MCP_BENCH_CONNECTIONS [50]  wrk connections
#   MCP_BENCH_THREADS [2]       wrk threads
#   MCP_BENCH_TASKS [100]       tasks seeded into each server
#   MCP_BENCH_QUICK=1           3 s runs, 1 s warm-up (a smoke test of the bench)
#   MCP_BENCH_DIR [$TMPDIR or /tmp]  where the temporary directory (and so the
#                               SQLite file) goes: a real disk, not a tmpfs
#   MCP_BENCH_PERF=DIR          record `perf record -g` of ambient during its
#                               measured runs into DIR/perf-{list,create}.data
#                               and write DIR/perf-{list,create}.txt reports
#   NODE                        node to run the peer [tools/npm's Node 22, else node]
#   AMBIENT_NPM_MODULES         node_modules holding the SDK [tools/npm/node_modules]
#
# Exits 0 whether or not the targets are met; non-zero when something fails
# (a server does not start, seeding fails, wrk is missing).  Only the
# processes it started are stopped.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
	echo "usage: $0 AMBIENT_BINARY" >&2
	exit 2
fi
ambient=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")

seconds=${MCP_BENCH_SECONDS:-10}
warmup=${MCP_BENCH_WARMUP:-2}
[ "$warmup" -ge 1 ] 2>/dev/null || warmup=1
if [ "${MCP_BENCH_QUICK:-0}" = 1 ]; then
	seconds=${MCP_BENCH_SECONDS:-3}
	warmup=${MCP_BENCH_WARMUP:-1}
fi
conns=${MCP_BENCH_CONNECTIONS:-50}
threads=${MCP_BENCH_THREADS:-2}
ntasks=${MCP_BENCH_TASKS:-100}
perf_dir=${MCP_BENCH_PERF:-}

if [ -z "${NODE:-}" ]; then
	NODE=node
	[ -x "$repo/tools/npm/node_modules/.bin/node" ] && NODE=$repo/tools/npm/node_modules/.bin/node
fi
for tool in wrk curl "$NODE"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "mcp_http: '$tool' not found (scripts/deps.sh installs it)" >&2
		exit 1
	fi
done
if [ -n "$perf_dir" ]; then
	command -v perf >/dev/null 2>&1 || { echo "mcp_http: perf not found" >&2; exit 1; }
	mkdir -p "$perf_dir"
	perf_dir=$(cd "$perf_dir" && pwd)
fi

tmp=$(mktemp -d "${MCP_BENCH_DIR:-${TMPDIR:-/tmp}}/mcp_http.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_url FILE PID NAME: the URL from the "listening URL" line the process
# PID writes to FILE, waiting up to 30 s.
wait_url() {
	local file=$1 pid=$2 name=$3 i url
	for ((i = 0; i < 600; i++)); do
		url=$(sed -n 's/^listening \(http[^ ]*\).*/\1/p' "$file" 2>/dev/null | head -n1)
		if [ -n "$url" ]; then
			echo "$url"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "mcp_http: $name exited before listening:" >&2
			cat "$file" "$file.err" >&2 2>/dev/null || true
			return 1
		fi
		sleep 0.05
	done
	echo "mcp_http: $name did not print its URL within 30 s" >&2
	return 1
}

"$ambient" serve --no-engine --listen 127.0.0.1:0 --db "sqlite:$tmp/ambient.db" --stateless --rate-limits off \
	>"$tmp/ambient.out" 2>"$tmp/ambient.out.err" &
ambient_pid=$!
pids+=("$ambient_pid")
"$NODE" "$here/peer_server.mjs" 0 >"$tmp/peer.out" 2>"$tmp/peer.out.err" &
peer_pid=$!
pids+=("$peer_pid")
ambient_url=$(wait_url "$tmp/ambient.out" "$ambient_pid" "ambient serve")
peer_url=$(wait_url "$tmp/peer.out" "$peer_pid" "the peer")

hdrs=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream'
      -H 'MCP-Protocol-Version: 2025-06-18')

# seed URL NAME: create $ntasks tasks of the default user through tools/call,
# on one keep-alive connection; every one must answer 200 without an error.
seed() {
	local url=$1 name=$2 i args=() out bad
	for ((i = 1; i <= ntasks; i++)); do
		[ "$i" -gt 1 ] && args+=(--next)
		args+=(-s -o "$tmp/seed-$name-$i.json" -w '%{http_code}\n' "${hdrs[@]}" -d
		       '{"jsonrpc":"2.0","id":'"$i"',"method":"tools/call","params":{"name":"create_background_task","arguments":{"task_type":"schedule","description":"Seed task '"$i"'","config":{"type":"daily","hour":9,"minute":0,"message":"Check project status"}}}}'
		       "$url")
	done
	out=$(curl "${args[@]}") || true
	bad=$(grep -l '"isError": *true\|"error": *{' "$tmp"/seed-"$name"-*.json 2>/dev/null |
		head -n1) || true
	if [ "$(grep -c '^200$' <<<"$out")" -ne "$ntasks" ] || [ -n "$bad" ]; then
		echo "mcp_http: seeding $name failed; statuses: $(sort <<<"$out" | uniq -c | tr '\n' ' ')" >&2
		[ -n "$bad" ] && cat "$bad" >&2
		return 1
	fi
	rm -f "$tmp"/seed-"$name"-*.json
	# the list must now hold exactly the seeded tasks
	out=$(curl -s "${hdrs[@]}" -d '{"jsonrpc":"2.0","id":0,"method":"tools/call","params":{"name":"list_background_tasks","arguments":{}}}' "$url") || true
	if ! grep -q '"total_tasks": *'"$ntasks"'[,}]' <<<"$out"; then
		echo "mcp_http: $name does not list $ntasks tasks after seeding: ${out:0:400}" >&2
		return 1
	fi
}
seed "$ambient_url" ambient
seed "$peer_url" peer

# measure NAME URL MODE: warm up, then one measured wrk run; writes its
# RESULT line (and any error samples) and the server's CPU use to
# $tmp/NAME-MODE.txt.
measure() {
	local name=$1 url=$2 mode=$3 perf_pid='' pid cpu0 cpu1 check
	pid=$ambient_pid
	[ "$name" = peer ] && pid=$peer_pid
	# the warm-up checks every response body; the measured run of list does
	# not (reading 80 kB bodies in Lua would make wrk the bottleneck)
	wrk -t"$threads" -c"$conns" -d"${warmup}s" --timeout 10s -s "$here/call.lua" "$url" \
		-- "$mode" check >"$tmp/$name-$mode-warmup.txt"
	check=check
	[ "$mode" = list ] && check=
	if [ -n "$perf_dir" ] && [ "$name" = ambient ]; then
		# DWARF unwinding: the Debian libraries have no frame pointers
		perf record -q --call-graph dwarf,16384 -F 499 -p "$ambient_pid" \
			-o "$perf_dir/perf-$mode.data" -- sleep "$seconds" 2>/dev/null &
		perf_pid=$!
	fi
	cpu0=$(cpu_ticks "$pid")
	wrk -t"$threads" -c"$conns" -d"${seconds}s" --timeout 10s -s "$here/call.lua" "$url" \
		-- "$mode" $check >"$tmp/$name-$mode.txt"
	cpu1=$(cpu_ticks "$pid")
	awk -v a="$cpu0" -v b="$cpu1" -v hz="$(getconf CLK_TCK)" -v s="$seconds" \
		'BEGIN { printf "CPU cores=%.2f\n", (b - a) / hz / s }' >>"$tmp/$name-$mode.txt"
	if [ -n "$perf_pid" ]; then
		wait "$perf_pid" || true
		{
			echo "# inclusive time (children), by symbol"
			perf report -i "$perf_dir/perf-$mode.data" --stdio --children \
				--sort symbol -g none --percent-limit 1 2>/dev/null | grep '%'
			echo "# self time, by symbol"
			perf report -i "$perf_dir/perf-$mode.data" --stdio --no-children \
				--sort dso,symbol -g none --percent-limit 0.5 2>/dev/null | grep '%'
		} >"$perf_dir/perf-$mode.txt"
	fi
	if ! grep -q '^RESULT ' "$tmp/$name-$mode.txt"; then
		echo "mcp_http: wrk gave no result for $name $mode:" >&2
		cat "$tmp/$name-$mode.txt" >&2
		return 1
	fi
}

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# field NAME-MODE KEY: a value of a RESULT line.
field() {
	sed -n 's/^\(RESULT\|CPU\) \(.* \)\{0,1\}'"$2"'=\([^ ]*\).*/\3/p' "$tmp/$1.txt"
}

for mode in list create; do
	measure ambient "$ambient_url" "$mode"
	measure peer "$peer_url" "$mode"
done

cores=$(nproc 2>/dev/null || echo '?')
echo "MCP tools/call over Streamable HTTP, stateless, JSON responses"
echo "load: wrk -t$threads -c$conns -d${seconds}s (after ${warmup}s warm-up), $ntasks tasks listed;" \
     "ambient create is durable (SQLite WAL, fsync via group commit), the peer's is a Map"
echo "machine: $cores cores, shared by wrk, ambient and the peer (one server loaded at a time)"
echo
# errors NAME-MODE: failed requests of the measured run and its warm-up.
errors() {
	local n=0 f
	for f in "$1" "$1-warmup"; do
		n=$((n + $(field "$f" non200) + $(field "$f" tool_errors) + $(field "$f" socket_errors)))
	done
	echo "$n"
}
printf '%-7s %13s %10s %7s %19s %17s %13s %s\n' tool 'ambient req/s' 'peer req/s' ratio \
	'ambient p50/p99 ms' 'peer p50/p99 ms' 'CPU amb/peer' 'failed amb/peer'
for mode in list create; do
	printf '%-7s %13.0f %10.0f %7.1f %19s %17s %13s %s\n' "$mode" \
		"$(field ambient-$mode rps)" "$(field peer-$mode rps)" \
		"$(awk -v a="$(field ambient-$mode rps)" -v p="$(field peer-$mode rps)" \
			'BEGIN { print (p > 0 ? a / p : 0) }')" \
		"$(field ambient-$mode p50_ms)/$(field ambient-$mode p99_ms)" \
		"$(field peer-$mode p50_ms)/$(field peer-$mode p99_ms)" \
		"$(field ambient-$mode cores)/$(field peer-$mode cores)" \
		"$(errors ambient-$mode)/$(errors peer-$mode)"
done
echo "(CPU: cores the server process used during the measured run; failed: non-200," \
     "isError/JSON-RPC error, or socket error, in the run or its warm-up; list bodies are" \
     "checked in the warm-up only)"
echo

# verdict WHAT VALUE OP TARGET ERRORS: one grep-able line.
verdict() {
	local what=$1 value=$2 op=$3 target=$4 errors=$5 ok
	ok=$(awk -v v="$value" -v t="$target" -v op="$op" \
		'BEGIN { print ((op == ">=" ? v >= t : v < t) ? "PASS" : "MISS") }')
	if [ "$errors" -gt 0 ]; then
		ok="MISS ($errors failed requests)"
	fi
	echo "$what = $value (target $op $target): $ok"
}
for mode in list create; do
	errors=$(errors ambient-$mode)
	target=60
	[ "$mode" = create ] && target=20
	verdict "ratio $mode ambient/peer" \
		"$(awk -v a="$(field ambient-$mode rps)" -v p="$(field peer-$mode rps)" \
			'BEGIN { printf "%.1f", (p > 0 ? a / p : 0) }')" ">=" "$target" "$errors"
done
for mode in list create; do
	errors=$(errors ambient-$mode)
	verdict "p99 $mode ambient ms" "$(field ambient-$mode p99_ms)" "<" 5 "$errors"
done

# error samples, if any
for f in "$tmp"/ambient-*.txt "$tmp"/peer-*.txt; do
	[ -f "$f" ] || continue
	if grep -q '^SAMPLE ' "$f"; then
		echo
		echo "error samples from $(basename "$f" .txt):"
		grep '^SAMPLE ' "$f" | head -n 6
	fi
done
if [ -n "$perf_dir" ]; then
	echo
	echo "perf profiles of ambient: $perf_dir/perf-list.txt, $perf_dir/perf-create.txt"
fi

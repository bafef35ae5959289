#!/usr/bin/env bash
# run.sh - MCP over stdio: how close `ambient mcp` comes to a server that does
# no work, under the official TypeScript SDK client, in one run.
#
# Usage: bench/mcp_stdio/run.sh AMBIENT_BINARY CANNED_SERVER_BINARY
#        (the canned server is bench_mcp_canned, built from canned_server.c)
#
# In a fresh temporary directory: stdio_client.mjs --capture asks `ambient
# mcp` (on a new SQLite store, after seeding MCP_STDIO_TASKS tasks) for its
# initialize, tools/list and tools/call results and keeps them byte for byte;
# the canned server replays them.  Then the same SDK client (Client +
# StdioClientTransport, tools listed first so structuredContent is
# validated) makes MCP_STDIO_CALLS sequential calls of list_background_tasks
# against each, alternating, MCP_STDIO_ROUNDS times, in two placements:
# "shared" (client and server wherever the scheduler puts them; the usual
# case) and "1core" (both pinned to one CPU with taskset: no cross-core
# wake-ups, so steadier, and the ratio is the CPU cost per call).  The median
# rates are compared:
#
#   ratio stdio ambient/canned >= 0.90        (shared)
#   ratio stdio-1core ambient/canned >= 0.90  (1core)
#
# Environment (defaults in brackets):
#   MCP_STDIO_CALLS [10000]   timed calls per run
#   MCP_STDIO_WARMUP [3000]   untimed calls first, in each run (Node's JIT)
#   MCP_STDIO_ROUNDS [3]      runs against each server per placement (the
#                             median counts)
#   MCP_STDIO_TASKS [0]       tasks in the store, so in the listed result
#   MCP_STDIO_QUICK=1         2,000 calls, 1 round (a smoke test of the bench)
#   MCP_BENCH_DIR [$TMPDIR or /tmp]  where the temporary directory goes
#   MCP_BENCH_PERF=DIR        `perf record` ambient during its last shared run into
#                             DIR/perf-stdio.data, report in DIR/perf-stdio.txt
#   NODE                      node for the client [tools/npm's Node 22, else node]
#   AMBIENT_NPM_MODULES       node_modules holding the SDK [tools/npm/node_modules]
#
# Exits 0 whether or not the target is met; non-zero when something fails.
# The servers are children of the client and end with it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ $# -ne 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
	echo "usage: $0 AMBIENT_BINARY CANNED_SERVER_BINARY" >&2
	exit 2
fi
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
ambient=$(abs "$1")
canned=$(abs "$2")

calls=${MCP_STDIO_CALLS:-10000}
rounds=${MCP_STDIO_ROUNDS:-3}
if [ "${MCP_STDIO_QUICK:-0}" = 1 ]; then
	calls=${MCP_STDIO_CALLS:-2000}
	rounds=${MCP_STDIO_ROUNDS:-1}
fi
warmup=${MCP_STDIO_WARMUP:-3000}
ntasks=${MCP_STDIO_TASKS:-0}
perf_dir=${MCP_BENCH_PERF:-}

if [ -z "${NODE:-}" ]; then
	NODE=node
	[ -x "$repo/tools/npm/node_modules/.bin/node" ] && NODE=$repo/tools/npm/node_modules/.bin/node
fi
command -v "$NODE" >/dev/null 2>&1 || { echo "mcp_stdio: '$NODE' not found" >&2; exit 1; }
if [ -n "$perf_dir" ]; then
	command -v perf >/dev/null 2>&1 || { echo "mcp_stdio: perf not found" >&2; exit 1; }
	mkdir -p "$perf_dir"
	perf_dir=$(cd "$perf_dir" && pwd)
fi

tmp=$(mktemp -d "${MCP_BENCH_DIR:-${TMPDIR:-/tmp}}/mcp_stdio.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/canned"

db="sqlite:$tmp/ambient.db"
"$NODE" "$here/stdio_client.mjs" --seed "$ntasks" --capture "$tmp/canned" \
	-- "$ambient" mcp --no-engine --rate-limits off --db "$db"

client=("$NODE" "$here/stdio_client.mjs" --calls "$calls" --warmup "$warmup")
ambient_cmd=("$ambient" mcp --no-engine --rate-limits off --db "$db")
canned_cmd=("$canned" --initialize "$tmp/canned/initialize.json"
	    --tools "$tmp/canned/tools.json" --call "$tmp/canned/call.json")

# run NAME MODE ROUND CMD...: one timed client run, its RESULT line in
# $tmp/NAME-MODE-ROUND.txt.  MODE "shared": client and server go where the
# scheduler puts them; "1core": both pinned to one CPU with taskset (no
# cross-core wake-ups: steadier, and it shows the CPU cost per call).
run() {
	local name=$1 mode=$2 round=$3
	shift 3
	if [ -n "$perf_dir" ] && [ "$name" = ambient ] && [ "$mode" = shared ] &&
	   [ "$round" = "$rounds" ]; then
		set -- perf record -q --call-graph dwarf,16384 -F 999 \
			-o "$perf_dir/perf-stdio.data" -- "$@"
	fi
	local pin=()
	[ "$mode" = 1core ] && pin=(taskset -c "$pin_cpu")
	"${pin[@]}" "${client[@]}" -- "$@" >"$tmp/$name-$mode-$round.txt"
	if ! grep -q '^RESULT ' "$tmp/$name-$mode-$round.txt"; then
		echo "mcp_stdio: no result from the $name run ($mode):" >&2
		cat "$tmp/$name-$mode-$round.txt" >&2
		return 1
	fi
}
modes=(shared)
pin_cpu=$(($(nproc 2>/dev/null || echo 1) - 1))
command -v taskset >/dev/null 2>&1 && modes+=(1core)
for mode in "${modes[@]}"; do
	for ((r = 1; r <= rounds; r++)); do
		run ambient "$mode" "$r" "${ambient_cmd[@]}"
		run canned "$mode" "$r" "${canned_cmd[@]}"
	done
done

# median NAME-MODE KEY: KEY of the run with the median rate.
median() {
	grep -h '^RESULT ' "$tmp/$1"-*.txt |
		awk '{ r = $0; sub(/.* rate=/, "", r); sub(/ .*/, "", r); print r, $0 }' |
		sort -n | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }' |
		sed -n 's/.* '"$2"'=\([^ ]*\).*/\1/p'
}
rates() {
	grep -h '^RESULT ' "$tmp/$1"-*.txt | sed 's/.* rate=\([^ ]*\).*/\1/' |
		awk '{ printf "%.0f ", $1 }'
}

errors=$(grep -h '^RESULT ' "$tmp"/ambient-*.txt | sed 's/.* errors=\([0-9]*\).*/\1/' |
	awk '{ n += $1 } END { print n + 0 }')
echo "MCP over stdio: the SDK's Client + StdioClientTransport, $calls sequential calls of" \
     "list_background_tasks ($ntasks tasks) after $warmup untimed; median of $rounds run(s)"
echo "machine: $(nproc 2>/dev/null || echo '?') cores, shared by the client (node) and the server;" \
     "1core: both pinned to CPU $pin_cpu"
echo
printf '%-7s %-8s %10s %8s %8s   %s\n' mode server 'calls/s' 'p50 ms' 'p99 ms' 'all runs (calls/s)'
for mode in "${modes[@]}"; do
	for name in ambient canned; do
		printf '%-7s %-8s %10.0f %8s %8s   %s\n' "$mode" "$name" \
			"$(median "$name-$mode" rate)" "$(median "$name-$mode" p50_ms)" \
			"$(median "$name-$mode" p99_ms)" "$(rates "$name-$mode")"
	done
done
echo
for mode in "${modes[@]}"; do
	ratio=$(awk -v a="$(median "ambient-$mode" rate)" -v c="$(median "canned-$mode" rate)" \
		'BEGIN { printf "%.2f", (c > 0 ? a / c : 0) }')
	ok=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.90 ? "PASS" : "MISS") }')
	[ "$errors" -gt 0 ] && ok="MISS ($errors failed calls)"
	label="stdio"
	[ "$mode" = 1core ] && label="stdio-1core"
	echo "ratio $label ambient/canned = $ratio (target >= 0.90): $ok"
done
if [ -n "$perf_dir" ]; then
	{
		echo "# inclusive time (children), by symbol"
		perf report -i "$perf_dir/perf-stdio.data" --stdio --children --sort symbol \
			-g none --percent-limit 1 2>/dev/null | grep '%'
		echo "# self time, by symbol"
		perf report -i "$perf_dir/perf-stdio.data" --stdio --no-children \
			--sort dso,symbol -g none --percent-limit 0.5 2>/dev/null | grep '%'
	} >"$perf_dir/perf-stdio.txt"
	echo "perf profile of ambient: $perf_dir/perf-stdio.txt"
fi

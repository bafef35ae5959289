#!/usr/bin/env bash
# run.sh - the cluster benchmark (issue 8): checks/s and append throughput of
# one, two and three `ambient serve` nodes sharing one PostgreSQL database on
# this machine, as ratios to one node, and append throughput on PostgreSQL
# against SQLite in the same run.
#
# Usage: bench/cluster/run.sh [BUILD_DIR]        (default: build)
#
# Uses BUILD_DIR/ambient and BUILD_DIR/bench/cluster/bench_cluster
# (bench_cluster.c, built with the project).  PostgreSQL comes
# from tests/support/pgtmp.sh (a throwaway cluster on a loopback port, fsync
# on); the MCP load from wrk with bench/cluster/create.lua.
#
# What runs, in order, all on 127.0.0.1 and in one temporary directory:
#  1. store appends (no server): `bench_cluster append`, 64 threads each
#     appending one event per store_append() (as bench_append's case (b)), for
#     CLUSTER_BENCH_APPEND_SECONDS on SQLite (WAL, synchronous=FULL) and on
#     PostgreSQL; then on PostgreSQL from 1, 2 and 3 processes at once (32
#     threads each), as 1, 2 and 3 nodes would;
#  2. one node on SQLite: MCP appends, `wrk -c48 -s create.lua` (each wrk
#     thread opens an MCP session, then calls create_background_task in it: a
#     daily schedule, one task_created event per call, nothing due), the same
#     load step 3 puts on the PostgreSQL nodes;
#  3. the PostgreSQL cluster, growing from 1 to 3 nodes; with k nodes, once
#     the 64 shards are spread over them:
#     - checks: `bench_cluster seed` creates CLUSTER_BENCH_BURST schedule
#       tasks {"type": "once", "at": T} due at the same second T a few seconds
#       ahead; at T the engines of the k nodes run them, each check recording
#       its scheduled_trigger; ambient_engine_checks_total of every node is
#       read every 50 ms, and checks/s is the burst over the time from T to
#       its last check (an engine closes the checks that came due together
#       at once, after appending their events together, so the counter
#       jumps; the whole burst is the honest unit), with each node's share;
#     - then MCP appends: 48 connections in all, 48/k to each node (one wrk per
#       node, at the same time), for CLUSTER_BENCH_WRK_SECONDS; requests/s
#       summed.
#
# Reported: one line per node count and grep-able ratio lines (`grep ^ratio`):
#   ratio checks k/1, ratio mcp-append k/1, ratio store-append k/1 (k = 2, 3),
#   ratio store-append postgres/sqlite, ratio mcp-append postgres/sqlite.
# The nodes share the machine's cores (2 on the development machine) with
# PostgreSQL and the load generators, so more nodes cannot add CPU here: the
# ratios show what sharing the work costs or gains on one machine.  No
# targets; nothing is asserted on timings.
#
# Environment (defaults in brackets):
#   CLUSTER_BENCH_BURST [5000]          tasks per check burst
#   CLUSTER_BENCH_WRK_SECONDS [5]       MCP append run per node count
#   CLUSTER_BENCH_CONNECTIONS [48]      wrk connections in all
#   CLUSTER_BENCH_APPEND_SECONDS [3]    each store append run
#   CLUSTER_BENCH_MCP [1]               0: skip the MCP append runs
#   CLUSTER_BENCH_DB [postgres]         sqlite: the nodes share one SQLite file
#                                       instead (for debugging the bench)
#   CLUSTER_BENCH_DIR [$TMPDIR or /tmp] where the temporary directory goes (a
#                                       real disk: the stores fsync)
#   CLUSTER_BENCH_KEEP=1                keep the temporary directory (logs)
#
# Exits 0 whatever the figures; non-zero when something fails (a process does
# not start, PostgreSQL is missing, a request fails).  Only the processes it
# started are stopped.  Takes about 2 minutes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:-build}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "cluster: no build directory '$1'" >&2; exit 2; }
ambient=$build/ambient
tool=$build/bench/cluster/bench_cluster
pgtmp=$repo/tests/support/pgtmp.sh
call_lua=$here/create.lua

burst=${CLUSTER_BENCH_BURST:-5000}
wrk_seconds=${CLUSTER_BENCH_WRK_SECONDS:-5}
conns=${CLUSTER_BENCH_CONNECTIONS:-48}
append_seconds=${CLUSTER_BENCH_APPEND_SECONDS:-3}
dbkind=${CLUSTER_BENCH_DB:-postgres}
with_mcp=${CLUSTER_BENCH_MCP:-1}

[ -x "$ambient" ] || { echo "cluster: no $ambient; build first (make build)" >&2; exit 1; }
for t in wrk curl awk; do
	command -v "$t" >/dev/null 2>&1 || { echo "cluster: '$t' not found (scripts/deps.sh installs it)" >&2; exit 1; }
done
[ -f "$pgtmp" ] || { echo "cluster: $pgtmp is missing" >&2; exit 1; }
[ -f "$call_lua" ] || { echo "cluster: $call_lua is missing" >&2; exit 1; }
case $dbkind in postgres | sqlite) ;; *) echo "cluster: CLUSTER_BENCH_DB must be postgres or sqlite" >&2; exit 2 ;; esac

tmp=$(mktemp -d "${CLUSTER_BENCH_DIR:-${TMPDIR:-/tmp}}/cluster.XXXXXX")
chmod 0755 "$tmp" # the PostgreSQL server runs as "postgres" when this runs as root
pids=()
node_pids=()
pg_started=0
cleanup() {
	local p
	for p in "${node_pids[@]}" "${pids[@]}"; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${node_pids[@]}" "${pids[@]}"; do
		[ -n "$p" ] && wait "$p" 2>/dev/null || true
	done
	[ $pg_started = 1 ] && bash "$pgtmp" stop "$tmp/pg" >/dev/null 2>&1 || true
	if [ "${CLUSTER_BENCH_KEEP:-0}" = 1 ]; then
		echo "cluster: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "cluster: $*" >&2; }
now() { echo "${EPOCHREALTIME/./}"; } # wall clock, microseconds
# field NAME < "RESULT a=1 b=2": the value of NAME
field() { sed -n 's/.*[[:space:]]'"$1"'=\([^[:space:]]*\).*/\1/p' | head -n1; }
# sumof NAME < lines: the sum of NAME=value over all lines
sumof() { sed -n 's/.*[[:space:]]'"$1"'=\([^[:space:]]*\).*/\1/p' | awk '{ s += $1 } END { printf "%.0f", s }'; }
ratio() { # A B: A/B with two decimals, n/a when either was not measured
	case "$1$2" in *-*) echo n/a ;; *) awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }' ;; esac
}

# ---- the load generator ---------------------------------------------------------------

[ -x "$tool" ] || { echo "cluster: no $tool; build first (make build)" >&2; exit 1; }

# ---- PostgreSQL ---------------------------------------------------------------------------

if [ "$dbkind" = postgres ]; then
	pg_started=1
	pgurl=$(bash "$pgtmp" start "$tmp/pg" 2>"$tmp/pgtmp.err") || { say "pgtmp.sh start failed: $(cat "$tmp/pgtmp.err")"; exit 1; }
	pg_port=$(cat "$tmp/pg/port")
	psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n1 || true)
	if ! "$ambient" --db "$pgurl" events --limit 1 >/dev/null 2>"$tmp/pgcheck.err"; then
		say "the PostgreSQL store does not work: $(cat "$tmp/pgcheck.err")"
		exit 1
	fi
fi
# newdb NAME: the URL of a fresh database (on the PostgreSQL server; the
# default one when psql is missing; a new SQLite file with CLUSTER_BENCH_DB=sqlite)
newdb() {
	if [ "$dbkind" = sqlite ]; then
		echo "sqlite:$tmp/$1.db"
	elif [ -n "$psql" ] && "$psql" -q -h 127.0.0.1 -p "$pg_port" -U ambient -d ambient \
		-c "CREATE DATABASE $1" >/dev/null 2>"$tmp/psql.err"; then
		echo "postgres://ambient@127.0.0.1:$pg_port/$1"
	else
		echo "$pgurl"
	fi
}

# ---- 1. store appends -------------------------------------------------------------------

declare -A store_eps
say "store appends: SQLite, then $dbkind, ${append_seconds} s each, 64 threads"
r_sqlite=$("$tool" append --db "sqlite:$tmp/append.db?synchronous=full" --threads 64 --seconds "$append_seconds")
rm -f "$tmp"/append.db*
pg_append_url=$(newdb bench_append)
r_pg=$("$tool" append --db "$pg_append_url" --threads 64 --seconds "$append_seconds" --tag single)
for k in 1 2 3; do
	say "store appends: PostgreSQL from $k process(es) at once, 32 threads each"
	ps=()
	for ((i = 0; i < k; i++)); do
		"$tool" append --db "$pg_append_url" --threads 32 --seconds "$append_seconds" \
			--tag "p$k-$i" >"$tmp/append-$k-$i.out" &
		ps+=($!)
	done
	for p in "${ps[@]}"; do wait "$p" || { say "a store append run failed"; exit 1; }; done
	store_eps[$k]=$(cat "$tmp"/append-$k-*.out | sumof eps)
done

# ---- the nodes ----------------------------------------------------------------------------

node_base=()
# start_node DB NAME: one node on DB; appends its pid and base URL
start_node() {
	local db=$1 name=$2 i url=
	: >"$tmp/$name.out" # before the child opens it: the loop below reads it at once
	"$ambient" --db "$db" serve --listen 127.0.0.1:0 --no-delivery \
		--rate-limits off >"$tmp/$name.out" 2>"$tmp/$name.err" &
	local pid=$!
	node_pids+=("$pid")
	for ((i = 0; i < 600; i++)); do
		url=$(sed -n 's/^listening \(http[^ ]*\).*/\1/p' "$tmp/$name.out" | head -n1 || true)
		[ -n "$url" ] && break
		kill -0 "$pid" 2>/dev/null || { say "$name exited:"; tail -n 20 "$tmp/$name.err" >&2; exit 1; }
		sleep 0.05
	done
	[ -n "$url" ] || { say "$name did not start in 30 s"; exit 1; }
	node_base+=("${url%/mcp}")
}
stop_nodes() {
	local p
	for p in "${node_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${node_pids[@]}"; do wait "$p" 2>/dev/null || true; done
	node_pids=()
	node_base=()
}
metric() { # BASE NAME: one sample of a node's /metrics
	{ curl -s -m 2 "$1/metrics" || true; } | awk -v n="$2" '$1 == n { v = $2 } END { print v }'
}
# balanced: every node sees all of them and holds its share of the 64 shards
balanced() {
	local n=${#node_base[@]} b s k sum=0 max
	max=$(((64 + n - 1) / n))
	for b in "${node_base[@]}"; do
		s=$(metric "$b" ambient_engine_shards)
		k=$(metric "$b" ambient_engine_nodes)
		[ "${k:-0}" = "$n" ] && [ "${s:-0}" -ge 1 ] && [ "$s" -le "$max" ] || return 1
		sum=$((sum + s))
	done
	[ $sum -eq 64 ]
}
wait_balanced() {
	local end=$(($(now) + 30000000))
	until balanced; do
		[ "$(now)" -lt $end ] || { say "the shards did not spread over ${#node_base[@]} nodes in 30 s"; exit 1; }
		sleep 0.1
	done
}

# mcp_append: 48 connections over the running nodes, one wrk per node; prints
# the summed requests/s (fails when a request failed; "-" with CLUSTER_BENCH_MCP=0)
mcp_append() {
	local n=${#node_base[@]} i c ps=() bad
	if [ "$with_mcp" = 0 ]; then
		echo -
		return 0
	fi
	c=$((conns / n))
	[ $c -ge 1 ] || c=1
	for ((i = 0; i < n; i++)); do
		wrk -t1 -c"$c" -d"${wrk_seconds}s" --timeout 10s -s "$call_lua" "${node_base[$i]}/mcp" \
			>"$tmp/wrk-$n-$i.out" 2>&1 &
		ps+=($!)
	done
	for p in "${ps[@]}"; do wait "$p" || true; done
	bad=$(cat "$tmp"/wrk-$n-*.out | grep '^RESULT' | awk '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] ~ /non200|tool_errors|socket_errors/) s += kv[2] }
	} END { print s + 0 }')
	if [ "$(cat "$tmp"/wrk-$n-*.out | grep -c '^RESULT')" -ne "$n" ] ||
		[ "$bad" -ne 0 ]; then
		say "MCP append load with $n node(s) failed ($bad failed requests):"
		cat "$tmp"/wrk-$n-*.out >&2
		exit 1
	fi
	cat "$tmp"/wrk-$n-*.out | grep '^RESULT' | sumof rps
}

# ---- 2. one node on SQLite ------------------------------------------------------------------

mcp_sqlite=-
if [ "$with_mcp" != 0 ]; then
	say "MCP appends: one node on SQLite, ${wrk_seconds} s, $conns connections"
	start_node "sqlite:$tmp/node-sqlite.db" node-sqlite
	mcp_sqlite=$(mcp_append)
	stop_nodes
fi

# ---- 3. the PostgreSQL (or shared SQLite) cluster ----------------------------------------------

cdb=$(newdb bench_cluster)
declare -A mcp_rps checks_s done_s shares seed_tps
seed_rate=2000 # tasks/s assumed for the first burst's lead time
for k in 1 2 3; do
	start_node "$cdb" "node$k"
	wait_balanced
	# The burst: due at a whole second far enough ahead for the seeding and for
	# the engines to load the tasks.
	lead=$((3 + 2 * burst / seed_rate))
	at_s=$((($(now) / 1000000) + lead))
	at_iso=$(date -u -d "@$at_s" +%Y-%m-%dT%H:%M:%SZ)
	say "$k node(s): $burst checks due at $at_iso"
	declare -a c0=()
	for ((i = 0; i < k; i++)); do c0[$i]=$(metric "${node_base[$i]}" ambient_engine_checks_total); done
	seed_out=$("$tool" seed --db "$cdb" --count "$burst" --at "$at_iso" --tag "k$k")
	seed_tps[$k]=$(field tps <<<"$seed_out")
	seed_rate=${seed_tps[$k]%.*}
	[ "${seed_rate:-0}" -ge 100 ] || seed_rate=100
	if [ "$(now)" -ge $((at_s * 1000000)) ]; then
		say "note: the seeding ended after the burst's due time ($seed_out); its figure includes seeding"
	fi
	# every 50 ms: the checks done since before the seeding, summed over the nodes
	: >"$tmp/burst-$k.txt"
	end=$((at_s * 1000000 + 120000000))
	while :; do
		t=$(now)
		sum=0
		line="$t"
		for ((i = 0; i < k; i++)); do
			c=$(metric "${node_base[$i]}" ambient_engine_checks_total)
			d=$((${c:-0} - ${c0[$i]:-0}))
			sum=$((sum + d))
			line+=" $d"
		done
		echo "$line $sum" >>"$tmp/burst-$k.txt"
		[ $sum -ge "$burst" ] && break
		[ "$t" -lt $end ] || { say "only $sum of $burst checks ran within 120 s of their due time"; exit 1; }
		sleep 0.05
	done
	read -r checks_s[$k] done_s[$k] shares[$k] < <(awk -v n="$burst" -v at=$((at_s * 1000000)) -v k="$k" '
		{ last = $0 }
		END {
			split(last, f, " ")
			share = ""
			for (i = 2; i <= k + 1; i++) share = share (i > 2 ? "/" : "") f[i]
			took = (f[1] - at) / 1e6
			rate = took > 0 ? n / took : 0
			printf "%.0f %.2f %s\n", rate, took, share
		}' "$tmp/burst-$k.txt")

	# after the burst, so the tasks it creates do not load the engines meanwhile
	[ "$with_mcp" = 0 ] || say "$k node(s): MCP appends, ${wrk_seconds} s"
	mcp_rps[$k]=$(mcp_append)
done
stop_nodes

# ---- the report -----------------------------------------------------------------------------

store_pg=$(field eps <<<"$r_pg")
store_sqlite=$(field eps <<<"$r_sqlite")
echo "Cluster: 1, 2 and 3 ambient serve nodes on one $([ "$dbkind" = postgres ] && echo PostgreSQL || echo SQLite) database, this machine ($(nproc) cores shared with the store and the load)"
echo
echo "store appends, 64 threads, one event per append, fsync on:"
printf '  %-12s %10s events/s  p50 %s ms  p99 %s ms\n' \
	SQLite "$(printf '%.0f' "$store_sqlite")" "$(field p50_ms <<<"$r_sqlite")" "$(field p99_ms <<<"$r_sqlite")" \
	PostgreSQL "$(printf '%.0f' "$store_pg")" "$(field p50_ms <<<"$r_pg")" "$(field p99_ms <<<"$r_pg")"
echo "MCP appends (create_background_task, $conns connections, 1 node on SQLite): $mcp_sqlite requests/s"
echo
printf '%-6s %-22s %-16s %-18s %-22s %s\n' nodes "checks/s (burst)" "burst done" "checks per node" \
	"MCP appends/s" "store appends/s (processes)"
for k in 1 2 3; do
	printf '%-6s %-22s %-16s %-18s %-22s %s\n' "$k" "${checks_s[$k]}" "${done_s[$k]} s after due" \
		"${shares[$k]}" "${mcp_rps[$k]}" "${store_eps[$k]}"
done
echo "(a burst: $burst schedule tasks due in the same second, each check recording its trigger;"
echo " checks/s: the burst over the time from its due second to its last check; seeding ran at ${seed_tps[1]}/${seed_tps[2]}/${seed_tps[3]} tasks/s)"
echo
for k in 2 3; do
	echo "ratio checks $k/1 = $(ratio "${checks_s[$k]}" "${checks_s[1]}")  [checks/s of a burst, $k nodes over 1]"
	echo "ratio mcp-append $k/1 = $(ratio "${mcp_rps[$k]}" "${mcp_rps[1]}")  [create_background_task requests/s, $k nodes over 1]"
	echo "ratio store-append $k/1 = $(ratio "${store_eps[$k]}" "${store_eps[1]}")  [PostgreSQL appends/s, $k processes over 1]"
done
echo "ratio store-append postgres/sqlite = $(ratio "$store_pg" "$store_sqlite")  [64 threads, one event per append]"
echo "ratio mcp-append postgres/sqlite = $(ratio "${mcp_rps[1]}" "$mcp_sqlite")  [one node, create_background_task]"

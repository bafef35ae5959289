#!/usr/bin/env bash
# mcp_stdio_test.sh - `ambient mcp` over a pipe: one message per line, only
# protocol on stdout, every bad line answered with the right JSON-RPC error
# and the server serving on; the original client's 2024-11-05 handshake
# (no notifications/initialized).
#
# Usage: mcp_stdio_test.sh PATH_TO_AMBIENT
set -u
AMBIENT=${1:?usage: mcp_stdio_test.sh PATH_TO_AMBIENT}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ambient-mcpstdio-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export XDG_CONFIG_HOME="$WORK/config"
export AMBIENT_DB="sqlite:$WORK/ambient.db"
# No task engine: this test is about the protocol, and must leave no server
# behind (mcp_autostart_test.sh covers the engine start).
export AMBIENT_NO_ENGINE=1

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# line_for ID: the response line with that id
line_for() { grep -F "\"id\":$1," "$WORK/out" | head -1; }
expect() { # ID NEEDLE NAME
	local l
	l=$(line_for "$1")
	if [[ "$l" == *"$2"* ]]; then ok; else fail "$3: id $1: '$l' lacks '$2'"; fi
}

{
	echo '{"jsonrpc":"2.0","id":0,"method":"tools/list"}'
	echo '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"v13","version":"1"}}}'
	echo '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_background_task","arguments":{"task_type":"web_monitor","description":"TechCrunch AI","config":"{\"urls\": [\"https://techcrunch.com\"], \"keywords\": [\"AI\"], \"check_interval_minutes\": 30}"}}}'
	echo 'this is not json'
	echo '{"jsonrpc":"2.0","id":3,"method":"no/such/method"}'
	echo '[]'
	echo ''
	echo '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"create_background_task","arguments":{"task_type":"rocket","description":"x","config":{}}}}'
	echo '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"list_background_tasks","arguments":{}}}'
	echo '{"jsonrpc":"2.0","id":6,"method":"ping","params":[1]}'
	echo '{"jsonrpc":"2.0","id":7,"method":"resources/read","params":{"uri":"event://config/examples"}}'
	echo '{"jsonrpc":"2.0","id":8,"method":"prompts/list"}'
	printf '{"jsonrpc":"2.0","id":9,"method":"ping"}'   # last line without a newline
} | "$AMBIENT" mcp >"$WORK/out" 2>"$WORK/err"
status=$?

[ "$status" -eq 0 ] && ok || fail "mcp exited $status at EOF: $(cat "$WORK/err")"
expect 0 '-32600' "request before initialize"
expect 1 '"protocolVersion":"2024-11-05"' "2024-11-05 handshake"
expect 2 '\"status\": \"success\"' "create with config as a JSON string, no initialized notification"
grep -q '"id":null,"error":{"code":-32700' "$WORK/out" && ok || fail "parse error not answered: $(cat "$WORK/out")"
expect 3 '-32601' "unknown method"
grep -q 'batch' "$WORK/out" && ok || fail "batch not rejected"
expect 4 '"isError":true' "unknown task type"
expect 4 'web_monitor' "unknown task type lists the valid ones"
expect 5 'TechCrunch AI' "list sees the task"
expect 6 '-32600' "params as an array"
expect 7 'threshold_watch' "examples resource"
expect 8 'prompts' "prompts/list"
expect 9 '"result":{}' "last line without newline"
# stdout holds only JSON-RPC lines
if grep -v '^{"jsonrpc":"2.0"' "$WORK/out" >/dev/null; then
	fail "non-protocol output on stdout: $(grep -v '^{"jsonrpc":"2.0"' "$WORK/out")"
else ok; fi
lines=$(wc -l <"$WORK/out")
[ "$lines" -eq 12 ] && ok || fail "expected 12 answers (blank line ignored), got $lines: $(cat "$WORK/out")"

# A huge line is refused and the next one still served.
{
	echo '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
	printf '{"jsonrpc":"2.0","id":2,"method":"ping","params":{"pad":"'
	head -c 5000000 /dev/zero | tr '\0' 'a'
	echo '"}}'
	echo '{"jsonrpc":"2.0","id":3,"method":"ping"}'
} | "$AMBIENT" mcp >"$WORK/out" 2>"$WORK/err"
grep -q 'too large' "$WORK/out" && ok || fail "oversized line not refused: $(head -c 300 "$WORK/out")"
expect 3 '"result":{}' "served after an oversized line"

echo "mcp_stdio_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

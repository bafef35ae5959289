#!/usr/bin/env bash
# mcp_http_test.sh - `ambient serve` over real HTTP with curl: the Streamable
# HTTP rules (sessions, headers, SSE, DELETE), authentication, stateless
# mode, and every kind of bad input answered with the right status and
# JSON-RPC error while the server keeps serving and loses nothing.
#
# Usage: mcp_http_test.sh PATH_TO_AMBIENT
set -u
AMBIENT=${1:?usage: mcp_http_test.sh PATH_TO_AMBIENT}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ambient-mcphttp-XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
export XDG_CONFIG_HOME="$WORK/config"

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# start_server NAME ARGS...: start `ambient serve`, wait for its URL line.
start_server() {
	local name=$1
	shift
	"$AMBIENT" serve --no-engine --listen 127.0.0.1:0 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	PIDS+=($!)
	local end=$((SECONDS + 20))
	until grep -q '^listening ' "$WORK/$name.out" 2>/dev/null; do
		if [ $SECONDS -ge $end ] || ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
			echo "server $name did not start:" >&2
			cat "$WORK/$name.err" >&2
			exit 1
		fi
		sleep 0.05
	done
	URL=$(sed -n 's/^listening //p' "$WORK/$name.out" | head -1)
}

# post NAME BODY [extra curl args...]: sets STATUS, BODY_OUT, HDRS
post() {
	local name=$1 body=$2
	shift 2
	BODY_OUT=$(curl -s -o - -D "$WORK/hdrs" -w '\n%{http_code}' -X POST "$URL" \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
		"$@" --data-binary "$body")
	STATUS=${BODY_OUT##*$'\n'}
	BODY_OUT=${BODY_OUT%$'\n'*}
	HDRS=$(tr -d '\r' <"$WORK/hdrs")
}
expect_status() { # NAME WANT
	if [ "$STATUS" = "$2" ]; then ok; else fail "$1: HTTP $STATUS, wanted $2; body: $BODY_OUT"; fi
}
expect_body() { # NAME NEEDLE
	if [[ "$BODY_OUT" == *"$2"* ]]; then ok; else fail "$1: body lacks '$2': $BODY_OUT"; fi
}

INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
DB="sqlite:$WORK/ambient.db"

start_server main --db "$DB"
MAIN_PID=${PIDS[-1]}

# --- lifecycle and sessions -------------------------------------------------------
post "initialize" "$INIT"
expect_status "initialize" 200
expect_body "initialize" '"protocolVersion":"2025-11-25"'
SID=$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p' <<<"$HDRS")
[ -n "$SID" ] && ok || fail "initialize: no Mcp-Session-Id header: $HDRS"
S=(-H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25')

post "initialized" '{"jsonrpc":"2.0","method":"notifications/initialized"}' "${S[@]}"
expect_status "initialized notification" 202

post "old version" "${INIT/2025-11-25/2024-11-05}"
expect_body "2024-11-05 is accepted" '"protocolVersion":"2024-11-05"'
post "unknown version" "${INIT/2025-11-25/1999-01-01}"
expect_body "unknown version gets the latest" '"protocolVersion":"2025-11-25"'

post "ping" '{"jsonrpc":"2.0","id":"p","method":"ping"}' "${S[@]}"
expect_status "ping" 200
expect_body "ping" '"result":{}'

post "tools/list" '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' "${S[@]}"
expect_body "tools/list" '"create_background_task"'
expect_body "tools/list has outputSchema" '"outputSchema"'

CREATE='{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"create_background_task","arguments":{"task_type":"schedule","description":"9 AM reminder","config":{"type":"daily","hour":9,"minute":0}}}}'
post "create" "$CREATE" "${S[@]}"
expect_status "create" 200
expect_body "create" '"structuredContent"'
expect_body "create" '\"status\": \"success\"'

# --- session errors -------------------------------------------------------------------
post "no session" '{"jsonrpc":"2.0","id":4,"method":"tools/list"}'
expect_status "request without Mcp-Session-Id" 400
post "unknown session" '{"jsonrpc":"2.0","id":4,"method":"tools/list"}' -H 'Mcp-Session-Id: nope'
expect_status "unknown Mcp-Session-Id" 404
post "bad version header" '{"jsonrpc":"2.0","id":4,"method":"tools/list"}' -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 1.0'
expect_status "unsupported MCP-Protocol-Version" 400

# --- bad input ------------------------------------------------------------------------------
post "parse error" '{"jsonrpc":"2.0",' "${S[@]}"
expect_status "malformed JSON" 400
expect_body "malformed JSON" '-32700'
post "batch" '[{"jsonrpc":"2.0","id":1,"method":"ping"}]' "${S[@]}"
expect_status "batch" 400
expect_body "batch" '-32600'
post "no jsonrpc" '{"id":5,"method":"ping"}' "${S[@]}"
expect_body "missing jsonrpc member" '-32600'
post "unknown method" '{"jsonrpc":"2.0","id":6,"method":"tools/frobnicate"}' "${S[@]}"
expect_body "unknown method" '-32601'
post "unknown tool" '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"nope","arguments":{}}}' "${S[@]}"
expect_body "unknown tool" '-32602'
post "wrong arg type" '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"create_background_task","arguments":{"task_type":5,"description":"x","config":{}}}}' "${S[@]}"
expect_body "wrong argument type is an isError result" '"isError":true'
post "bad params" '{"jsonrpc":"2.0","id":9,"method":"resources/read","params":{"uri":42}}' "${S[@]}"
expect_body "resources/read with a number" '-32602'
post "unknown resource" '{"jsonrpc":"2.0","id":10,"method":"resources/read","params":{"uri":"event://nope"}}' "${S[@]}"
expect_body "unknown resource" '-32002'
post "bad cursor" '{"jsonrpc":"2.0","id":11,"method":"tools/list","params":{"cursor":"zz"}}' "${S[@]}"
expect_body "bad cursor" '-32602'
BODY_OUT=$(curl -s -w '\n%{http_code}' -X POST "$URL" -H 'Content-Type: text/plain' "${S[@]}" --data-binary '{}')
STATUS=${BODY_OUT##*$'\n'}
expect_status "wrong content type" 415
BODY_OUT=$(curl -s -w '\n%{http_code}' -X POST "$URL" -H 'Content-Type: application/json' -H 'Accept: text/html' "${S[@]}" --data-binary '{"jsonrpc":"2.0","id":1,"method":"ping"}')
STATUS=${BODY_OUT##*$'\n'}
expect_status "unacceptable Accept" 406
head -c 5000000 /dev/zero | tr '\0' ' ' >"$WORK/big.json"
BODY_OUT=$(curl -s -w '\n%{http_code}' -X POST "$URL" -H 'Content-Type: application/json' "${S[@]}" --data-binary @"$WORK/big.json")
STATUS=${BODY_OUT##*$'\n'}
expect_status "oversized body" 413
post "before initialize" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' -H 'Mcp-Session-Id: '
[ "$STATUS" = 400 ] && ok || fail "empty session id: $STATUS"

# --- DNS rebinding --------------------------------------------------------------------------------
post "evil host" '{"jsonrpc":"2.0","id":1,"method":"ping"}' "${S[@]}" -H 'Host: evil.example.com'
expect_status "foreign Host" 403
post "evil origin" '{"jsonrpc":"2.0","id":1,"method":"ping"}' "${S[@]}" -H 'Origin: http://evil.example.com'
expect_status "foreign Origin" 403
post "local origin" '{"jsonrpc":"2.0","id":1,"method":"ping"}' "${S[@]}" -H 'Origin: http://localhost:3000'
expect_status "localhost Origin" 200

# --- GET stream and DELETE ------------------------------------------------------------------------------
STATUS=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$URL" -H 'Accept: text/event-stream' "${S[@]}")
# curl's --max-time ends the open stream: 200 was sent before the timeout (code 28)
[ "$STATUS" = 200 ] && ok || fail "GET stream: $STATUS"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$URL" "${S[@]}")
expect_status "PUT" 405

# --- the server is still serving, and nothing was lost ---------------------------------------------------------
post "list after abuse" '{"jsonrpc":"2.0","id":20,"method":"tools/call","params":{"name":"list_background_tasks","arguments":{}}}' "${S[@]}"
expect_body "task survived" '9 AM reminder'
STATUS=$(curl -s -o /dev/null -w '%{http_code}' "${URL%/mcp}/health")
expect_status "health" 200

STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL" "${S[@]}")
expect_status "DELETE session" 200
post "after delete" '{"jsonrpc":"2.0","id":21,"method":"ping"}' "${S[@]}"
expect_status "deleted session" 404

# --- tasks written over HTTP are seen by stdio, and the reverse -----------------------------------------------------
OUT=$(printf '%s\n%s\n' "$INIT" '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_background_tasks","arguments":{}}}' |
	"$AMBIENT" mcp --no-engine --db "$DB" 2>/dev/null)
[[ "$OUT" == *"9 AM reminder"* ]] && ok || fail "stdio does not see the task created over HTTP: $OUT"

# --- authentication --------------------------------------------------------------------------------------------------------
start_server auth --db "$DB" --api-keys 'k1-secret,k2-secret'
post "no token" "$INIT"
expect_status "missing bearer token" 401
grep -qi '^www-authenticate: Bearer' <<<"$HDRS" && ok || fail "401 without WWW-Authenticate: $HDRS"
post "bad token" "$INIT" -H 'Authorization: Bearer wrong'
expect_status "wrong bearer token" 401
post "good token" "$INIT" -H 'Authorization: Bearer k2-secret'
expect_status "right bearer token" 200
ASID=$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p' <<<"$HDRS")
post "other key, same session" '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H 'Authorization: Bearer k1-secret' -H "Mcp-Session-Id: $ASID"
expect_status "a session belongs to its key" 403

# --- stateless mode ------------------------------------------------------------------------------------------------------------
start_server stateless --db "$DB" --stateless
post "stateless without session" '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_background_tasks","arguments":{}}}'
expect_status "stateless tools/call" 200
expect_body "stateless sees the shared store" '9 AM reminder'
post "stateless initialize, old client" "${INIT/2025-11-25/2024-11-05}"
expect_body "stateless initialize" '"protocolVersion":"2024-11-05"'
grep -qi '^mcp-session-id' <<<"$HDRS" && fail "stateless server sent a session id" || ok
STATUS=$(curl -s -o /dev/null -w '%{http_code}' "$URL" -H 'Accept: text/event-stream')
expect_status "stateless GET" 405

# --- clean shutdown ---------------------------------------------------------------------------------------------------------------
kill -TERM "$MAIN_PID"
if wait "$MAIN_PID"; then ok; else fail "serve did not exit 0 on SIGTERM"; fi

echo "mcp_http_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

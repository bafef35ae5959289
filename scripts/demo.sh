#!/usr/bin/env bash
# demo.sh - what ambient can do today, on a throwaway SQLite database.
#
# Honest label: this version has the event store, the task aggregate and the
# admin commands.  The task engine (monitors that fetch pages), the MCP
# server, the feedback server and notifications come in later versions; this
# demo does not pretend to run them.  It creates the seed's four example
# tasks, walks one through its lifecycle, shows the event log, and rebuilds
# the projection from the log.
set -euo pipefail
AMBIENT=${1:-build/ambient}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/ambient-demo-XXXXXX")
trap 'rm -rf "$DIR"' EXIT
export AMBIENT_DB="sqlite:$DIR/ambient.db"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*" >&2; "$@"; }

echo "ambient demo: event store + tasks on a temporary database ($DIR)."
echo "Not yet in this version: the engine that runs the tasks, MCP, feedback and notifications."

step "The seed's four example tasks, with their JSON configs as written"
show "$AMBIENT" task create --type web_monitor --description "Monitor TechCrunch for AI news" \
	--config '{"urls": ["https://techcrunch.com", "https://news.ycombinator.com"], "keywords": ["artificial intelligence", "AI", "machine learning"], "check_interval_minutes": 30, "notification": {"method": "send_sms", "phone_number": "+1234567890"}}' >"$DIR/web.json"
WEB_ID=$(sed -n 's/^  "task_id": "\(.*\)",*$/\1/p' "$DIR/web.json")
echo "created web_monitor $WEB_ID"
show "$AMBIENT" task create --type schedule --description "Daily 9 AM project status reminder" \
	--config '{"type": "daily", "hour": 9, "minute": 0, "action": "check_project_status", "notification": {"method": "send_sms", "phone_number": "+1234567890"}}' >/dev/null
show "$AMBIENT" task create --type news_digest --description "Morning tech digest" \
	--config '{"news_urls": ["https://techcrunch.com", "https://news.ycombinator.com"], "hour": 8, "categories": ["technology", "business"], "notification": {"method": "send_sms", "phone_number": "+1234567890"}}' >/dev/null
show "$AMBIENT" task create --type threshold_watch --description "Bitcoin above 50k" \
	--config '{"metric": "bitcoin_price", "threshold": 50000, "check_interval_minutes": 15, "notification": {"method": "send_sms", "phone_number": "+1234567890"}}' >/dev/null

step "The task list (a projection kept in the same transaction as each append)"
show "$AMBIENT" task list

step "Bad input is refused with a message that says how to fix it"
show "$AMBIENT" task create --type web_monitor --description "oops" --config '{"urls": ["https://a.example"], "check_interval_minutes": "30m"}' || true
show "$AMBIENT" task create --type weather_alert --description "oops" --config '{}' || true

step "Lifecycle: pause (twice), resume, update"
show "$AMBIENT" task pause "$WEB_ID" --reason "on holiday" | sed -n 1p
show "$AMBIENT" task pause "$WEB_ID" | sed -n 1p
show "$AMBIENT" task resume "$WEB_ID" | sed -n 1p
show "$AMBIENT" task update "$WEB_ID" --description "Monitor TechCrunch and HN for AI news" | sed -n 1p

step "The event log of that task (one JSON object per line)"
show "$AMBIENT" events --stream "task-$WEB_ID"

step "Replay: rebuild the projection from the log and compare"
show "$AMBIENT" replay

echo
echo "Demo finished; the temporary database is removed."

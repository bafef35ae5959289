#!/usr/bin/env bash
# cli_test.sh - the `ambient` binary as a user runs it: task commands with the
# seed's JSON configs, lifecycle answers, events (also --follow across
# processes), replay, and clear errors for bad input.
#
# Usage: cli_test.sh PATH_TO_AMBIENT
set -u
AMBIENT=${1:?usage: cli_test.sh PATH_TO_AMBIENT}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ambient-cli-XXXXXX")
FOLLOW_PID=
cleanup() {
	[ -n "$FOLLOW_PID" ] && kill "$FOLLOW_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
export AMBIENT_DB="sqlite:$WORK/data/ambient.db"
export XDG_CONFIG_HOME="$WORK/config" # no user config file leaks in
unset EVENT_FEEDBACK_URL AMBIENT_ALLOW_NET

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# run NAME EXPECTED_STATUS CMD... ; output in $OUT (stdout+stderr)
run() {
	local name=$1 want=$2
	shift 2
	OUT=$("$@" 2>&1)
	local got=$?
	if [ "$got" -ne "$want" ]; then
		fail "$name: exit $got, wanted $want; output: $OUT"
		return 1
	fi
	ok
}
contains() { # NAME NEEDLE
	if [[ "$OUT" == *"$2"* ]]; then ok; else fail "$1: output lacks '$2': $OUT"; fi
}
json_field() { # FIELD: from a pretty-printed JSON object in $OUT
	sed -n "s/^  \"$1\": \"\\([^\"]*\\)\".*/\\1/p" <<<"$OUT" | head -1
}
# wait_for SECONDS CMD...: poll until CMD succeeds
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.05
	done
}

# --- help and usage -------------------------------------------------------
run "help" 0 "$AMBIENT" --help && contains "help" "Commands:"
run "task help" 0 "$AMBIENT" task create --help && contains "task help" "--config JSON"
run "version" 0 "$AMBIENT" version && contains "version" "ambient "
run "unknown command" 2 "$AMBIENT" frobnicate && contains "unknown command" "unknown command 'frobnicate'"
run "unknown option" 2 "$AMBIENT" task list --colour && contains "unknown option" "--colour"

# --- the seed's four configs, verbatim --------------------------------------
run "create web_monitor" 0 "$AMBIENT" task create --type web_monitor --description "TechCrunch AI news" \
	--config '{"urls": ["https://techcrunch.com", "https://news.ycombinator.com"], "keywords": ["artificial intelligence", "AI", "machine learning"], "check_interval_minutes": 30, "notification": {"method": "send_sms", "phone_number": "+1234567890"}}'
WEB_ID=$(json_field task_id)
contains "web_monitor keeps notification" '"phone_number": "+1234567890"'
run "create schedule" 0 "$AMBIENT" task create schedule "Daily digest trigger" \
	'{"type": "daily", "hour": 8, "minute": 0, "action": "news_digest", "notification": {"method": "send_sms", "phone_number": "+1234567890"}}'
SCHED_ID=$(json_field task_id)
contains "schedule keeps action" '"action": "news_digest"'
printf '%s' '{"news_urls": ["https://techcrunch.com", "https://bbc.com/news"], "hour": 8, "categories": ["technology", "business"], "notification": {"method": "send_sms", "phone_number": "+1234567890"}}' >"$WORK/digest.json"
run "create news_digest from a file" 0 "$AMBIENT" task create --type news_digest --description "Morning digest" --config "@$WORK/digest.json" --user alice
contains "digest default minute" '"minute": 0'
run "create threshold_watch from stdin" 0 bash -c "echo '{\"metric\": \"bitcoin_price\", \"threshold\": 50000, \"check_interval_minutes\": 15, \"notification\": {\"method\": \"send_sms\", \"phone_number\": \"+1234567890\"}}' | '$AMBIENT' task create --type threshold_watch --description 'BTC above 50k' --config -"
contains "threshold default comparison" '"comparison": "above"'

run "list" 0 "$AMBIENT" task list && contains "list" "(4 tasks)"
run "list --user alice" 0 "$AMBIENT" task list --user alice && contains "list alice" "(1 task)"
run "list --json" 0 "$AMBIENT" task list --json && contains "list json" '"task_type": "threshold_watch"'

# --- bad input ----------------------------------------------------------------
run "unknown type" 1 "$AMBIENT" task create --type rss_monitor --description x --config '{}'
contains "unknown type" "Invalid task type. Must be one of: ['web_monitor', 'schedule', 'news_digest', 'threshold_watch']"
run "bad json" 1 "$AMBIENT" task create --type schedule --description x --config '{"type": "daily",'
contains "bad json" "Invalid JSON in config"
run "out of range" 1 "$AMBIENT" task create --type schedule --description x --config '{"type": "daily", "hour": 25}'
contains "out of range" "config.hour"
run "mistyped" 1 "$AMBIENT" task create --type web_monitor --description x --config '{"urls": ["https://a.example"], "check_interval_minutes": "30m"}'
contains "mistyped" "config.check_interval_minutes"
run "missing field" 1 "$AMBIENT" task create --type threshold_watch --description x --config '{"metric": "bitcoin_price"}'
contains "missing field" "config.threshold"
run "missing args" 2 "$AMBIENT" task create --type schedule
run "bad status filter" 2 "$AMBIENT" task list --status sleeping

# --- lifecycle -------------------------------------------------------------------
run "pause" 0 "$AMBIENT" task pause "$WEB_ID" --reason "holiday" && contains "pause" "Task $WEB_ID paused"
run "pause again" 0 "$AMBIENT" task pause "$WEB_ID" && contains "pause again" "already paused; nothing changed"
run "list paused" 0 "$AMBIENT" task list --status paused && contains "list paused" "(1 task)"
run "resume" 0 "$AMBIENT" task resume "$WEB_ID" && contains "resume" "resumed"
run "resume again" 0 "$AMBIENT" task resume "$WEB_ID" && contains "resume again" "already active"
run "update" 0 "$AMBIENT" task update "$SCHED_ID" --config '{"type": "daily", "hour": 9}' && contains "update" '"hour": 9'
run "update bad" 1 "$AMBIENT" task update "$SCHED_ID" --config '{"type": "daily", "hour": -1}' && contains "update bad" "config.hour"
run "delete" 0 "$AMBIENT" task delete "$SCHED_ID" && contains "delete" "deleted"
run "show deleted" 0 "$AMBIENT" task show "$SCHED_ID" && contains "show deleted" '"status": "deleted"'
run "pause deleted" 1 "$AMBIENT" task pause "$SCHED_ID" && contains "pause deleted" "was deleted"
run "delete again" 1 "$AMBIENT" task delete "$SCHED_ID" && contains "delete again" "was deleted"
run "unknown id" 1 "$AMBIENT" task pause 00000000-0000-4000-8000-000000000000 && contains "unknown id" "not found"
run "list after delete" 0 "$AMBIENT" task list && contains "list after delete" "(3 tasks)"

# --- events -----------------------------------------------------------------------
run "events" 0 "$AMBIENT" events
lines=$(wc -l <<<"$OUT")
[ "$lines" -eq 8 ] && ok || fail "events: wanted 8 lines, got $lines: $OUT"
contains "events are JSON" '"position":1,'
run "events --type" 0 "$AMBIENT" events --type task_paused && contains "events --type" '"reason":"holiday"'
[ "$(wc -l <<<"$OUT")" -eq 1 ] && ok || fail "events --type: one line wanted"
run "events --stream --limit" 0 "$AMBIENT" events --stream "task-$WEB_ID" --limit 2
[ "$(wc -l <<<"$OUT")" -eq 2 ] && ok || fail "events --limit 2: $OUT"
run "events --after" 0 "$AMBIENT" events --after 7 && contains "events --after" '"position":8,'

# --follow sees events appended by another process
"$AMBIENT" events --follow --after 8 >"$WORK/follow.out" 2>&1 &
FOLLOW_PID=$!
run "create while following" 0 "$AMBIENT" task create --type schedule --description "every 5 min" --config '{"type": "interval", "minutes": 5}'
if wait_for 10 grep -q '"position":9,' "$WORK/follow.out"; then ok; else fail "events --follow did not show position 9: $(cat "$WORK/follow.out")"; fi
kill "$FOLLOW_PID" && wait "$FOLLOW_PID" 2>/dev/null
FOLLOW_PID=

# --- replay ---------------------------------------------------------------------------
run "replay" 0 "$AMBIENT" replay && contains "replay" "matches the stored projection"
run "replay --check" 0 "$AMBIENT" replay --check

# --- configs the engine could not run are refused at once -------------------------------
# (a database of its own, so the event counts above stay as they are)
G=(--db "sqlite:$WORK/rules.db")
LOOP='{"urls": ["https://example.com", "http://127.0.0.1:8080/page"]}'
run "loopback refused" 1 "$AMBIENT" "${G[@]}" task create --type web_monitor --description x --config "$LOOP"
contains "loopback refused" "config.urls[1]: refusing to connect to 127.0.0.1 (loopback)"
contains "loopback refused says how" "allow them with --allow-net 127.0.0.1"
run "localhost metric_url refused" 1 "$AMBIENT" "${G[@]}" task create --type threshold_watch --description x \
	--config '{"metric_url": "http://localhost:9/price", "threshold": 1}'
contains "localhost metric_url refused" "config.metric_url: refusing"
run "numeric loopback refused" 1 "$AMBIENT" "${G[@]}" task create --type news_digest --description x \
	--config '{"news_urls": ["http://2130706433/feed"]}'
contains "numeric loopback refused" "config.news_urls[0]: refusing to connect to 127.0.0.1"
run "nothing recorded" 0 "$AMBIENT" "${G[@]}" task list && contains "nothing recorded" "(0 tasks)"
run "loopback with --allow-net" 0 "$AMBIENT" --allow-net 127.0.0.1 "${G[@]}" task create --type web_monitor --description x --config "$LOOP"
RULES_ID=$(json_field task_id)
contains "loopback with --allow-net" '"http://127.0.0.1:8080/page"'
run "loopback with AMBIENT_ALLOW_NET" 0 env AMBIENT_ALLOW_NET=127.0.0.0/8 "$AMBIENT" "${G[@]}" task create --type threshold_watch \
	--description x --config '{"metric_url": "http://127.0.0.1:9/price", "json_path": "$.price", "threshold": 1}'
run "update to a private URL refused" 1 "$AMBIENT" "${G[@]}" task update "$RULES_ID" --config '{"urls": ["http://10.1.2.3/"]}'
contains "update to a private URL refused" "config.urls[0]: refusing to connect to 10.1.2.3 (private)"
run "callback on localhost is fine" 0 "$AMBIENT" "${G[@]}" task create --type schedule --description x \
	--config '{"type": "interval"}' --callback-url http://127.0.0.1:8000/process_background_feedback
run "bad timezone" 1 "$AMBIENT" "${G[@]}" task create --type schedule --description x --config '{"type": "daily", "timezone": "Mars/Base"}'
contains "bad timezone" 'config.timezone "Mars/Base" is not a time zone in the tz database'
contains "bad timezone says how" "use a name like Europe/Berlin"
run "good timezone" 0 "$AMBIENT" "${G[@]}" task create --type schedule --description x --config '{"type": "daily", "timezone": "Europe/Berlin"}'
run "bad selector" 1 "$AMBIENT" "${G[@]}" task create --type web_monitor --description x \
	--config '{"urls": ["https://example.com"], "selector": "article:first-child"}'
contains "bad selector" 'config.selector "article:first-child" cannot be used'
run "bad xpath" 1 "$AMBIENT" "${G[@]}" task create --type web_monitor --description x \
	--config '{"urls": ["https://example.com"], "selector": "//div[@class="}'
contains "bad xpath" "does not compile"
run "bad ignore_text regex" 1 "$AMBIENT" "${G[@]}" task create --type web_monitor --description x \
	--config '{"urls": ["https://example.com"], "ignore_text": ["Updated", "/[0-9/"]}'
contains "bad ignore_text regex" "config.ignore_text[1] is written /.../"
run "unknown metric" 1 "$AMBIENT" "${G[@]}" task create --type threshold_watch --description x --config '{"metric": "cpu_usage", "threshold": 90}'
contains "unknown metric" 'config.metric "cpu_usage" is not a built-in metric (built-in: bitcoin_price)'
run "max_failures" 1 "$AMBIENT" "${G[@]}" task create --type web_monitor --description x --config '{"urls": ["https://example.com"], "max_failures": 0}'
contains "max_failures" "config.max_failures must be an integer from 1 to 1000"

# --- task run ------------------------------------------------------------------------------
run "task run" 0 "$AMBIENT" "${G[@]}" task run "$RULES_ID" --reason "try it now"
contains "task run" "Run of task $RULES_ID requested (event task_run_requested at version 2)"
contains "task run result" '"event_type": "task_run_requested"'
run "task run recorded" 0 "$AMBIENT" "${G[@]}" events --type task_run_requested
contains "task run recorded" '"reason":"try it now"'
contains "task run recorded stream" "\"stream\":\"task-$RULES_ID\""
[ "$(wc -l <<<"$OUT")" -eq 1 ] && ok || fail "events --type task_run_requested: one line wanted: $OUT"
run "task run paused" 0 "$AMBIENT" "${G[@]}" task pause "$RULES_ID"
run "task run refuses paused" 1 "$AMBIENT" "${G[@]}" task run "$RULES_ID" && contains "task run refuses paused" "is paused; resume it first"
run "task run unknown" 1 "$AMBIENT" "${G[@]}" task run 00000000-0000-4000-8000-000000000000 && contains "task run unknown" "not found"
run "task run needs an id" 2 "$AMBIENT" "${G[@]}" task run
run "task run deleted" 0 "$AMBIENT" "${G[@]}" task delete "$RULES_ID"
run "task run refuses deleted" 1 "$AMBIENT" "${G[@]}" task run "$RULES_ID" && contains "task run refuses deleted" "was deleted"
run "one request recorded" 0 "$AMBIENT" "${G[@]}" events --type task_run_requested
[ "$(wc -l <<<"$OUT")" -eq 1 ] && ok || fail "refused runs recorded events: $OUT"

# --- configuration: flags > env > file > defaults ----------------------------------------
mkdir -p "$WORK/config/ambient"
echo "db = sqlite:$WORK/other.db" >"$WORK/config/ambient/ambient.conf"
run "env beats file" 0 "$AMBIENT" task list && contains "env beats file" "(4 tasks)"
run "file used without env" 0 env -u AMBIENT_DB "$AMBIENT" task list && contains "file used" "(0 tasks)"
run "flag beats env" 0 "$AMBIENT" --db "sqlite:$WORK/third.db" task list && contains "flag beats env" "(0 tasks)"
echo "colour = blue" >"$WORK/config/ambient/ambient.conf"
run "bad config file" 1 "$AMBIENT" task list && contains "bad config file" "ambient.conf:1: unknown option 'colour'"
rm "$WORK/config/ambient/ambient.conf"
run "bad log level" 1 "$AMBIENT" --log-level loud task list && contains "bad log level" "unknown log level"

# --- bad database files -------------------------------------------------------------------
head -c 5000 /dev/urandom >"$WORK/junk.db"
run "junk database" 1 "$AMBIENT" --db "sqlite:$WORK/junk.db" task list && contains "junk database" "not an ambient database"
run "postgres not yet" 1 "$AMBIENT" --db "postgres://localhost/x" task list && contains "postgres" "PostgreSQL"

# --- the default data directory ---------------------------------------------------------------
run "XDG data dir" 0 env -u AMBIENT_DB XDG_DATA_HOME="$WORK/xdg" "$AMBIENT" task list
[ -f "$WORK/xdg/ambient/ambient.db" ] && ok || fail "no database at \$XDG_DATA_HOME/ambient/ambient.db"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# engine_test.sh - the task engine inside `ambient serve`, end to end: tasks
# created by another process against the fixture web server (tests/fixture_web),
# checks triggered with `ambient task run` (or the MCP tool run_task_now), and
# the events they leave in the log, read with `ambient events` and jq.
#
#   1. web_monitor: baseline, keyword change, non-matching change, 304, first-check notify
#   2. threshold_watch with hysteresis: exactly two breaches
#   3. news_digest on RSS and an HTML page with feed discovery: only new items
#   4. interval schedule: first trigger right after creation
#   5. pause, and delete, while a (slow) check is in flight: the check records nothing
#   6. failures: max_failures in a row pause the task
#   7. SSRF: a redirect to a blocked address fails "blocked"; create refuses loopback
#   8. restart: a task created while serve is down runs; nothing runs twice
#   9. delete: run refused, no more events
#
# Usage: engine_test.sh PATH_TO_AMBIENT PATH_TO_FIXTURE_WEB
# Needs curl and jq.  Everything listens on 127.0.0.1.  No fixed sleeps: every
# "nothing happened" is shown after a later observable condition (the engine's
# check counter in /health, the fixture's request statistics), see mark().
set -u
AMBIENT=${1:?usage: engine_test.sh PATH_TO_AMBIENT PATH_TO_FIXTURE_WEB}
FIXTURE=${2:?usage: engine_test.sh PATH_TO_AMBIENT PATH_TO_FIXTURE_WEB}
for tool in curl jq; do
	command -v "$tool" >/dev/null || { echo "engine_test: $tool is required" >&2; exit 1; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ambient-engine-XXXXXX")
FIX_PID='' SERVE_PID=''
cleanup() {
	for p in $SERVE_PID $FIX_PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "engine_test: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
export XDG_CONFIG_HOME="$WORK/config" # no user config file leaks in
unset AMBIENT_DB AMBIENT_ALLOW_NET AMBIENT_PRICE_API_URL AMBIENT_MAX_FAILURES AMBIENT_CONFIG \
	AMBIENT_LISTEN AMBIENT_STATELESS AMBIENT_API_KEYS EVENT_FEEDBACK_URL
DB="sqlite:$WORK/ambient.db"
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

# ---- processes --------------------------------------------------------------

# wait_line FILE PID WHAT: wait for a "listening URL" line from PID; sets LINE_URL
wait_line() {
	local end=$((SECONDS + 20))
	until grep -q '^listening ' "$1" 2>/dev/null; do
		if [ $SECONDS -ge $end ] || ! kill -0 "$2" 2>/dev/null; then
			echo "engine_test: $3 did not start:" >&2
			cat "$1" "${1%.out}.err" >&2 2>/dev/null
			exit 1
		fi
		sleep 0.05
	done
	LINE_URL=$(sed -n 's/^listening //p' "$1" | head -1)
}

start_fixture() {
	"$FIXTURE" >"$WORK/fixture.out" 2>"$WORK/fixture.err" &
	FIX_PID=$!
	wait_line "$WORK/fixture.out" "$FIX_PID" fixture_web
	FIX=$LINE_URL
	FIXPORT=${FIX##*:}
}

# start_serve NAME: `ambient serve` on $DB with the engine; sets SERVE_PID, MCP, HEALTH.
# --stateless lets the MCP fallback of run_task skip initialize.
start_serve() {
	"$AMBIENT" serve --no-delivery --listen 127.0.0.1:0 --db "$DB" --allow-net 127.0.0.1 \
		--price-api-url "$FIX" --stateless --pid-file "$WORK/serve.pid" \
		>"$WORK/$1.out" 2>"$WORK/$1.err" &
	SERVE_PID=$!
	wait_line "$WORK/$1.out" "$SERVE_PID" "serve ($1)"
	MCP=$LINE_URL
	HEALTH=${MCP%/mcp}/health
	# the engine takes the lease and loads the tasks
	if ! wait_for 10 engine_leader; then
		echo "engine_test: the engine in serve ($1) did not become leader; /health: $(health)" >&2
		exit 1
	fi
}

stop_serve() {
	kill -TERM "$SERVE_PID"
	if wait "$SERVE_PID"; then ok; else fail "serve did not exit 0 on SIGTERM"; fi
	SERVE_PID=
	[ ! -e "$WORK/serve.pid" ] && ok || fail "serve left its pid file behind"
}

# ---- ambient commands -------------------------------------------------------------

amb() { "$AMBIENT" --db "$DB" --allow-net 127.0.0.1 "$@"; }

# create TYPE DESCRIPTION CONFIG: sets TID
create() {
	local out
	TID=
	if ! out=$(amb task create --type "$1" --description "$2" --config "$3" 2>&1); then
		fail "task create $1 '$2': $out"
		return 1
	fi
	TID=$(jq -r .task_id <<<"$out")
}

HAVE_TASK_RUN=0
"$AMBIENT" task run --help >/dev/null 2>&1 && HAVE_TASK_RUN=1
RUN_VIA=cli # or mcp: the MCP tool run_task_now over HTTP (serve runs --stateless)

# run_task ID: ask for one check now; fails when the request is refused.
# Output (the refusal) in RUN_OUT.
run_task() {
	if [ $HAVE_TASK_RUN = 1 ] && [ $RUN_VIA = cli ]; then
		RUN_OUT=$(amb task run "$1" 2>&1)
		return
	fi
	local body
	body=$(jq -cn --arg id "$1" '{jsonrpc:"2.0",id:1,method:"tools/call",
		params:{name:"run_task_now",arguments:{task_id:$id}}}')
	RUN_OUT=$(curl -s --max-time 10 -X POST "$MCP" -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' --data-binary "$body")
	# JSON, or SSE whose last data line is the response
	[[ "$RUN_OUT" == *'"result"'* && "$RUN_OUT" != *'"isError":true'* ]]
}

# events ID [TYPE]: the task's events, one JSON object a line
events() {
	if [ $# -ge 2 ]; then
		amb events --stream "task-$1" --type "$2"
	else
		amb events --stream "task-$1"
	fi
}
count() { events "$@" | grep -c '^{'; }
count_ge() { [ "$(count "$1" "$2")" -ge "$3" ]; } # ID TYPE N
last() { events "$1" "$2" | tail -1; }              # ID TYPE
# wait_events ID TYPE N [SECONDS]: until the task has at least N events of TYPE
wait_events() {
	wait_for "${4:-10}" count_ge "$1" "$2" "$3" && return 0
	fail "waited ${4:-10} s for $3 $2 event(s) of task $1; stream: $(events "$1" | jq -c '[.type, .data]' | tr '\n' ' ')"
	return 1
}

# ---- observable engine and fixture state --------------------------------------------------

# Every check the engine finishes (a page, a price, a digest, a schedule trigger, a failed
# fetch) adds one to engine.checks in /health, right after the check's events were appended;
# a check cut short by a pause or a delete adds nothing.  The tasks here are due once an
# hour or once a day, so the only checks are those the test causes, one at a time: mark
# the count, cause one check, wait for count + 1.  That is how absence is shown without
# sleeping: "the check ran and recorded nothing".
health() { curl -s --max-time 2 "$HEALTH"; }
engine_leader() { [ "$(health | jq -r '.engine.leader // false' 2>/dev/null)" = true ]; }
engine_checks() { health | jq -r '.engine.checks // -1' 2>/dev/null; }
engine_tasks_is() { [ "$(health | jq -r '.engine.tasks // -1' 2>/dev/null)" = "$1" ]; }
checks_ge() { local n; n=$(engine_checks) && [ "${n:--1}" -ge "$1" ]; }
mark() { MARK=$(engine_checks); }
# wait_check WHAT: until the check caused after the last mark has finished
wait_check() {
	wait_for 10 checks_ge $((MARK + 1)) && return 0
	fail "$1: the engine did not finish a check in 10 s (checks was $MARK): $(health)"
	return 1
}
# run_and_wait ID WHAT: run one check of task ID and wait until the engine finished it
run_and_wait() {
	mark
	if ! run_task "$1"; then
		fail "$2: run refused: $RUN_OUT"
		return 1
	fi
	wait_check "$2"
}

fx_stats() { curl -s --max-time 2 "$FIX/_control/stats"; }
put_page() { # PATH HTML
	curl -s -f -o /dev/null -X PUT -H 'Content-Type: text/html; charset=utf-8' \
		--data-binary "$2" "$FIX/_control/page/${1#/}" || fail "fixture: PUT $1 failed"
}
set_price() {
	curl -s -f -o /dev/null -X POST "$FIX/_control/price?value=$1" || fail "fixture: price $1 failed"
}
page() { # BODY_LINES...: a small HTML page with one <p> per argument
	local p
	printf '<!DOCTYPE html><html><head><title>Ambient watch</title></head><body>\n'
	for p in "$@"; do printf '<p>%s</p>\n' "$p"; done
	printf '</body></html>\n'
}

start_fixture
start_serve serve1
[ "$(cat "$WORK/serve.pid" 2>/dev/null)" = "$SERVE_PID" ] && ok || fail "pid file does not hold serve's pid"
[ $HAVE_TASK_RUN = 1 ] || echo "(no 'ambient task run': using the MCP tool run_task_now)"

# ==== 1. web_monitor ==========================================================================
step "1. web_monitor"
WATCH=$FIX/watch/ai.html
L1="Company news for the week" L2="Nothing about models yet"
put_page /watch/ai.html "$(page "$L1" "$L2")"
mark
create web_monitor "AI watch" "{\"urls\": [\"$WATCH\"], \"keywords\": [\"AI\"], \"check_interval_minutes\": 60}"
WEB=$TID
wait_check "web_monitor baseline"
expect_eq "baseline emits nothing" "$(count "$WEB" web_content_change)" 0

put_page /watch/ai.html "$(page "$L1" "$L2" "OpenAI ships a new AI model")"
mark
run_task "$WEB" || fail "run web_monitor: $RUN_OUT"
if wait_events "$WEB" web_content_change 1; then
	EV=$(last "$WEB" web_content_change)
	expect_eq "change: keywords_found" "$(jq -c .data.keywords_found <<<"$EV")" '["AI"]'
	expect_eq "change: added line" \
		"$(jq '[.data.added_lines[] | select(contains("OpenAI ships a new AI model"))] | length > 0' <<<"$EV")" true
	expect_eq "change: url" "$(jq -r .data.url <<<"$EV")" "$WATCH"
	expect_eq "change: first_check" "$(jq -r .data.first_check <<<"$EV")" false
	expect_eq "change: task_type" "$(jq -r .data.task_type <<<"$EV")" web_monitor
	expect_eq "change: description" "$(jq -r .data.description <<<"$EV")" "AI watch"
	expect_eq "change: content has the line" \
		"$(jq '.data.content | contains("OpenAI ships a new AI model")' <<<"$EV")" true
	expect_eq "change: metadata principal" "$(jq -r .metadata.principal <<<"$EV")" engine
fi
wait_check "keyword change"

# "AI" is not a word in "email" or "main": no event.  The check ran (wait_check), and the
# next matching change must then be exactly the second event, with only its own line.
put_page /watch/ai.html "$(page "$L1" "$L2" "OpenAI ships a new AI model" "email from the main office")"
run_and_wait "$WEB" "non-matching change"
expect_eq "email/main do not match AI" "$(count "$WEB" web_content_change)" 1

# unchanged page: a conditional request answered 304, and nothing recorded
nm_before=$(fx_stats | jq .not_modified)
run_and_wait "$WEB" "unchanged page"
nm_after=$(fx_stats | jq .not_modified)
[ "$nm_after" -gt "$nm_before" ] && ok ||
	fail "unchanged page: the engine did not revalidate (fixture not_modified $nm_before -> $nm_after)"
expect_eq "unchanged page emits nothing" "$(count "$WEB" web_content_change)" 1

put_page /watch/ai.html "$(page "$L1" "$L2" "OpenAI ships a new AI model" "email from the main office" \
	"Regulators publish AI safety rules")"
run_and_wait "$WEB" "second matching change"
expect_eq "exactly two changes" "$(count "$WEB" web_content_change)" 2
EV=$(last "$WEB" web_content_change)
expect_eq "second change: added line" \
	"$(jq '[.data.added_lines[] | select(contains("Regulators publish AI safety rules"))] | length > 0' <<<"$EV")" true
expect_eq "second change: old lines are not added lines" \
	"$(jq '[.data.added_lines[] | select(contains("email") or contains("OpenAI"))] | length' <<<"$EV")" 0

# notify_on_first_check: an event on the first check, keywords looked for in the whole text
put_page /watch/first.html "$(page "AI news desk" "Today: the AI roundup")"
mark
create web_monitor "AI first check" "{\"urls\": [\"$FIX/watch/first.html\"], \"keywords\": [\"AI\"], \"notify_on_first_check\": true, \"check_interval_minutes\": 60}"
FIRST=$TID
if wait_events "$FIRST" web_content_change 1; then
	EV=$(last "$FIRST" web_content_change)
	expect_eq "first check: first_check" "$(jq -r .data.first_check <<<"$EV")" true
	expect_eq "first check: keywords_found" "$(jq -c .data.keywords_found <<<"$EV")" '["AI"]'
	expect_eq "first check: title" "$(jq -r '.data.title // ""' <<<"$EV")" "Ambient watch"
fi
wait_check "first check"

# ==== 2. threshold_watch ========================================================================
step "2. threshold_watch"
set_price 65000
mark
create threshold_watch "BTC above 70k" '{"metric": "bitcoin_price", "threshold": 70000, "comparison": "above", "hysteresis": 1000, "check_interval_minutes": 60}'
BTC=$TID
wait_check "threshold first reading"
expect_eq "65000: no breach" "$(count "$BTC" threshold_breach)" 0
set_price 71000
mark
run_task "$BTC" || fail "run threshold: $RUN_OUT"
if wait_events "$BTC" threshold_breach 1; then
	EV=$(last "$BTC" threshold_breach)
	expect_eq "breach: current_value" "$(jq .data.current_value <<<"$EV")" 71000
	expect_eq "breach: previous_value" "$(jq .data.previous_value <<<"$EV")" 65000
	expect_eq "breach: threshold" "$(jq .data.threshold <<<"$EV")" 70000
	expect_eq "breach: comparison" "$(jq -r .data.comparison <<<"$EV")" above
	expect_eq "breach: hysteresis" "$(jq .data.hysteresis <<<"$EV")" 1000
	expect_eq "breach: metric" "$(jq -r .data.metric <<<"$EV")" bitcoin_price
	expect_eq "breach: source_url" \
		"$(jq --arg p "$FIX/api/v3/simple/price" -r '.data.source_url | startswith($p)' <<<"$EV")" true
fi
wait_check "71000"
RUN_VIA=mcp # these two through run_task_now
set_price 72000
run_and_wait "$BTC" "72000"
expect_eq "72000: still the same excursion" "$(count "$BTC" threshold_breach)" 1
set_price 68500
run_and_wait "$BTC" "68500"
RUN_VIA=cli
expect_eq "68500: re-armed, no breach" "$(count "$BTC" threshold_breach)" 1
set_price 71500
run_and_wait "$BTC" "71500"
expect_eq "71500: second breach" "$(count "$BTC" threshold_breach)" 2
EV=$(last "$BTC" threshold_breach)
expect_eq "second breach: current_value" "$(jq .data.current_value <<<"$EV")" 71500
expect_eq "second breach: previous_value" "$(jq .data.previous_value <<<"$EV")" 68500

# ==== 3. news_digest ==============================================================================
step "3. news_digest"
# an hour far from now, so the digest's own schedule does not fire during the test
HOUR=$(((10#$(date -u +%H) + 12) % 24))
create news_digest "Fixture digest" "{\"news_urls\": [\"$FIX/rss.xml\", \"$FIX/news\"], \"hour\": $HOUR, \"minute\": 0, \"timezone\": \"UTC\"}"
NEWS=$TID
mark
run_task "$NEWS" || fail "run digest: $RUN_OUT"
if wait_events "$NEWS" daily_news_digest 1; then
	EV=$(last "$NEWS" daily_news_digest)
	for title in "Chip maker unveils new AI accelerator" "Markets rally as inflation cools" \
		"Astronomers find water vapour on a distant exoplanet"; do
		expect_eq "digest has '$title'" \
			"$(jq --arg t "$title" '[.data.news_summaries[].headlines[] | select(. == $t)] | length > 0' <<<"$EV")" true
	done
	expect_eq "digest: one summary per source" "$(jq -c '[.data.news_summaries[].source]' <<<"$EV")" \
		"$(jq -cn --arg a "$FIX/rss.xml" --arg b "$FIX/news" '[$a, $b]')"
	expect_eq "digest: no source error" "$(jq '[.data.news_summaries[] | select(.error)] | length' <<<"$EV")" 0
	expect_eq "digest: total_items" "$(jq '.data.total_items' <<<"$EV")" 3
	expect_eq "digest: digest_date" "$(jq -r '.data.digest_date | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}$")' <<<"$EV")" true
	expect_eq "digest: the HTML page's feed was discovered" \
		"$(jq -r --arg u "$FIX/news" '.data.news_summaries[] | select(.source == $u) | .feed_url' <<<"$EV")" "$FIX/rss.xml"
	expect_eq "digest: items have links" \
		"$(jq --arg a "$FIX/articles/1" '[.data.news_summaries[].items[] | select(.link == $a)] | length > 0' <<<"$EV")" true
fi
wait_check "first digest"
run_and_wait "$NEWS" "digest without news"
expect_eq "no new items: no second digest" "$(count "$NEWS" daily_news_digest)" 1
NEW_TITLE="Ambient engine test headline $$"
curl -s -f -o /dev/null -X POST "$FIX/_control/news/add" \
	--data-binary "$(jq -cn --arg t "$NEW_TITLE" --arg l "$FIX/articles/42" \
		'{title:$t, link:$l, summary:"one more", category:"technology"}')" ||
	fail "fixture: news/add failed"
mark
run_task "$NEWS" || fail "run digest: $RUN_OUT"
if wait_events "$NEWS" daily_news_digest 2; then
	EV=$(last "$NEWS" daily_news_digest)
	expect_eq "second digest: only the new item" \
		"$(jq -c '[.data.news_summaries[].headlines[]] | unique' <<<"$EV")" "$(jq -cn --arg t "$NEW_TITLE" '[$t]')"
	expect_eq "second digest: total_items" "$(jq '.data.total_items' <<<"$EV")" 1
fi
wait_check "second digest"

# ==== 4. interval schedule ============================================================================
step "4. interval schedule"
mark
create schedule "hourly ping" '{"type": "interval", "minutes": 60}'
SCHED=$TID
if wait_events "$SCHED" scheduled_trigger 1; then
	EV=$(last "$SCHED" scheduled_trigger)
	expect_eq "trigger: trigger_time is ISO-8601 with offset" \
		"$(jq -r '.data.trigger_time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})$")' <<<"$EV")" true
	expect_eq "trigger: schedule_config" "$(jq -c '.data.schedule_config | {type, minutes}' <<<"$EV")" '{"type":"interval","minutes":60}'
	expect_eq "trigger: not a catch-up" "$(jq -r .data.catch_up <<<"$EV")" false
	expect_eq "trigger: task_type" "$(jq -r .data.task_type <<<"$EV")" schedule
fi
wait_check "interval trigger"

# ==== 5. pause while a check is in flight ================================================================
step "5. pause during a check"
slow_in_flight() { [ "$(fx_stats | jq '.slow.in_flight')" -ge 1 ]; }
slow_finished() { [ "$(fx_stats | jq '.slow.in_flight')" -eq 0 ]; }
create web_monitor "slow page" "{\"urls\": [\"$FIX/slow?ms=3000\"], \"notify_on_first_check\": true, \"check_interval_minutes\": 60}"
SLOW=$TID
if wait_for 5 slow_in_flight; then
	amb task pause "$SLOW" --reason "paused mid-check" >/dev/null || fail "pause slow task"
	# The fixture answers after 3 s; an engine that kept the check would record the page
	# right after.  Then one more check (of another task) goes through the engine, so it
	# has certainly dealt with the slow answer.
	wait_for 10 slow_finished || fail "the fixture's slow request did not finish"
	run_and_wait "$FIRST" "check after the slow answer"
	expect_eq "paused mid-check: nothing recorded" \
		"$(events "$SLOW" | jq -r .type | tr '\n' ' ')" "task_created task_paused "
else
	fail "the engine did not fetch the slow page within 5 s of creating the task"
fi
# The same with a delete: the check in flight records nothing either.
create web_monitor "slow page, deleted" "{\"urls\": [\"$FIX/slow?ms=2000\"], \"notify_on_first_check\": true, \"check_interval_minutes\": 60}"
SLOW2=$TID
if wait_for 5 slow_in_flight; then
	amb task delete "$SLOW2" >/dev/null || fail "delete slow task"
	wait_for 10 slow_finished || fail "the fixture's slow request did not finish"
	run_and_wait "$FIRST" "check after the second slow answer"
	expect_eq "deleted mid-check: nothing recorded" \
		"$(events "$SLOW2" | jq -r .type | tr '\n' ' ')" "task_created task_deleted "
else
	fail "the engine did not fetch the second slow page within 5 s of creating the task"
fi

# ==== 6. failures ===========================================================================================
step "6. failures"
mark
create web_monitor "broken page" "{\"urls\": [\"$FIX/status/500\"], \"max_failures\": 3, \"check_interval_minutes\": 60}"
BROKEN=$TID
if wait_events "$BROKEN" task_check_failed 1; then
	EV=$(last "$BROKEN" task_check_failed)
	expect_eq "failure: kind" "$(jq -r .data.failure <<<"$EV")" http
	expect_eq "failure: status_code" "$(jq -r .data.status_code <<<"$EV")" 500
	expect_eq "failure: consecutive_failures" "$(jq -r .data.consecutive_failures <<<"$EV")" 1
	expect_eq "failure: max_failures" "$(jq -r .data.max_failures <<<"$EV")" 3
	expect_eq "failure: url" "$(jq -r .data.url <<<"$EV")" "$FIX/status/500"
	expect_eq "failure: error is a sentence" "$(jq -r '.data.error | length > 10' <<<"$EV")" true
fi
wait_check "failure 1"
for n in 2 3; do
	mark
	run_task "$BROKEN" || fail "run broken $n: $RUN_OUT"
	wait_events "$BROKEN" task_check_failed $n
	wait_check "failure $n"
done
expect_eq "failures counted in a row" \
	"$(events "$BROKEN" task_check_failed | jq -c .data.consecutive_failures | tr '\n' ' ')" "1 2 3 "
if wait_events "$BROKEN" task_paused 1; then
	EV=$(last "$BROKEN" task_paused)
	expect_eq "auto pause: automatic" "$(jq -r .data.automatic <<<"$EV")" true
	expect_eq "auto pause: task is paused" "$(amb task show "$BROKEN" | jq -r .status)" paused
fi

# ==== 7. SSRF ===============================================================================================
step "7. SSRF"
mark
create web_monitor "redirect to a blocked address" \
	"{\"urls\": [\"$FIX/redirect?to=http://127.0.0.2:$FIXPORT/news\"], \"check_interval_minutes\": 60}"
SSRF=$TID
if wait_events "$SSRF" task_check_failed 1; then
	EV=$(events "$SSRF" task_check_failed | head -1)
	expect_eq "redirect: blocked" "$(jq -r .data.failure <<<"$EV")" blocked
	expect_eq "redirect: error names --allow-net" "$(jq -r '.data.error | contains("allow-net")' <<<"$EV")" true
fi
wait_check "redirect"
amb task pause "$SSRF" >/dev/null # no retries later in the test
for url in "http://127.0.0.1:$FIXPORT/news" "http://localhost:$FIXPORT/news"; do
	out=$("$AMBIENT" --db "$DB" task create --type web_monitor --description "no allow-net" \
		--config "{\"urls\": [\"$url\"]}" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && [[ "$out" == *allow-net* ]]; then ok; else
		fail "task create without --allow-net accepted $url (exit $rc): $out"
	fi
done
expect_eq "refused tasks were not created" \
	"$(amb task list --json | jq '[.[] | select(.description == "no allow-net")] | length' 2>/dev/null)" 0

# ==== 8. restart ==============================================================================================
step "8. restart"
stop_serve
create schedule "created while down" '{"type": "interval", "minutes": 60}'
DOWN=$TID
start_serve serve2
MARK=0 # a new process counts from 0
wait_events "$DOWN" scheduled_trigger 1
wait_check "first trigger after the restart"
# one more check through the engine; by then anything started at start-up has finished
run_and_wait "$FIRST" "check after the restart"
# nothing that already ran runs again: slots and page/metric state survived the restart
expect_eq "restart: only the new task and the requested run were checked" "$(engine_checks)" 2
expect_eq "restart: interval task not triggered again" "$(count "$SCHED" scheduled_trigger)" 1
expect_eq "restart: first-check monitor not notified again" "$(count "$FIRST" web_content_change)" 1
expect_eq "restart: no breach again" "$(count "$BTC" threshold_breach)" 2
expect_eq "restart: no change again" "$(count "$WEB" web_content_change)" 2
# /health's task numbers are refreshed every few seconds
wait_for 5 engine_tasks_is 9 || fail "restart: engine does not run the 9 tasks: $(health)"

# ==== 9. delete ===================================================================================================
step "9. delete"
put_page /watch/ai.html "$(page "$L1" "$L2" "OpenAI ships a new AI model" "email from the main office" \
	"Regulators publish AI safety rules" "An AI change nobody will see")"
amb task delete "$WEB" >/dev/null || fail "delete web_monitor"
for RUN_VIA in cli mcp; do
	if run_task "$WEB"; then fail "run ($RUN_VIA) of a deleted task was accepted: $RUN_OUT"; else ok; fi
done
RUN_VIA=cli
# one more check through the engine after it has read the delete
run_and_wait "$FIRST" "check after delete"
expect_eq "deleted: last event is task_deleted" "$(events "$WEB" | tail -1 | jq -r .type)" task_deleted
expect_eq "deleted: no more changes" "$(count "$WEB" web_content_change)" 2
wait_for 5 engine_tasks_is 8 || fail "deleted: engine still runs it: $(health)"

stop_serve
echo "engine_test: $passed passed, $failed failed ($((SECONDS - T0)) s)"
[ "$failed" -eq 0 ]

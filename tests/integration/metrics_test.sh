#!/usr/bin/env bash
# metrics_test.sh - observability end to end with the real binary on
# 127.0.0.1:0, curl and jq (docs/observability.md):
#
#   1. `ambient serve --log-dir --log-format json`: a few MCP calls, then
#      GET /metrics is well-formed Prometheus text (every sample belongs to a
#      family declared once with HELP and TYPE, histogram buckets are
#      cumulative and end in +Inf = _count) with the expected families and
#      counts; unknown methods count as method="other"
#   2. the log directory: mcp_server.log and event_sourcing.log hold JSON
#      lines from the right sources, and no API key ever appears in them
#   3. with API keys: /metrics needs an admin key (401 without, 403 for a
#      user key)
#   4. `ambient feedback --log-dir`: its lines go to event_feedback.log and
#      its /metrics (the shared writer) still parses
#   5. bad --log-format and --log-file with --log-dir are refused
#
# Usage: metrics_test.sh PATH_TO_AMBIENT
# No fixed sleeps: every wait polls a condition with a deadline.
set -u
AMBIENT=${1:?usage: metrics_test.sh PATH_TO_AMBIENT}
for tool in curl jq awk; do
	command -v "$tool" >/dev/null || { echo "metrics_test: $tool is required" >&2; exit 1; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ambient-metrics-XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "metrics_test: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
export XDG_CONFIG_HOME="$WORK/config" XDG_DATA_HOME="$WORK/data" AMBIENT_DB="sqlite:$WORK/ambient.db"
unset AMBIENT_LOG_FILE AMBIENT_LOG_DIR AMBIENT_LOG_FORMAT AMBIENT_LOG_LEVEL AMBIENT_CONFIG \
	AMBIENT_API_KEYS AMBIENT_NO_AUTH AMBIENT_DATA_DIR AMBIENT_FEEDBACK_DB AMBIENT_LISTEN
T0=$SECONDS

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { # NAME STATUS (0 = pass)
	if [ "$2" -eq 0 ]; then ok; else fail "$1"; fi
}
step() { echo "--- $* ($((SECONDS - T0)) s)"; }

# start NAME ARGS...: run the binary in the background, wait for "listening URL"
# and set URL (and BASE, without the path)
start() {
	local name=$1
	shift
	"$AMBIENT" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	PIDS+=($!)
	local pid=$! end=$((SECONDS + 20))
	until grep -q '^listening ' "$WORK/$name.out" 2>/dev/null; do
		if [ $SECONDS -ge $end ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "metrics_test: $name did not start:" >&2
			cat "$WORK/$name.err" >&2
			exit 1
		fi
		sleep 0.05
	done
	URL=$(sed -n 's/^listening //p' "$WORK/$name.out" | head -1)
	BASE=$(sed -E 's#^(https?://[^/]+).*#\1#' <<<"$URL")
}

# stop: end the last started process
stop() {
	local pid=${PIDS[-1]}
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset 'PIDS[-1]'
}

SESSION=''
KEY=''
# rpc BODY: POST to the MCP endpoint; sets OUT
rpc() {
	local h=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream'
		-H 'MCP-Protocol-Version: 2025-11-25')
	[ -n "$SESSION" ] && h+=(-H "Mcp-Session-Id: $SESSION")
	[ -n "$KEY" ] && h+=(-H "Authorization: Bearer $KEY")
	OUT=$(curl -s -D "$WORK/hdrs" -X POST "$URL" "${h[@]}" --data-binary "$1")
}
open_session() {
	SESSION=''
	rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"metrics_test","version":"1"}}}'
	SESSION=$(tr -d '\r' <"$WORK/hdrs" | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
	rpc '{"jsonrpc":"2.0","method":"notifications/initialized"}'
}
tool() { # NAME ARGS
	rpc "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"$1\",\"arguments\":$2}}"
}

# get PATH [KEY]: GET from BASE; sets STATUS, CTYPE and BODY (in $WORK/body)
get() {
	local h=()
	[ $# -ge 2 ] && h=(-H "Authorization: Bearer $2")
	local r
	r=$(curl -s -o "$WORK/body" -w '%{http_code} %{content_type}' "${h[@]}" "$BASE$1")
	STATUS=${r%% *}
	CTYPE=${r#* }
}

# prom_check FILE: the checks of the text format we rely on; prints problems
prom_check() {
	awk '
	function fail(msg) { print "line " NR ": " msg ": " $0; bad = 1 }
	/^# HELP / { if ($3 in help) fail("second HELP"); help[$3] = 1; next }
	/^# TYPE / {
		if ($3 in type) fail("second TYPE")
		if ($4 !~ /^(counter|gauge|histogram|summary|untyped)$/) fail("bad type")
		type[$3] = $4; next
	}
	/^#/ { next }
	/^$/ { fail("empty line"); next }
	{
		if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf|NaN)$/) {
			fail("malformed sample"); next
		}
		name = $0; sub(/[{ ].*/, "", name)
		fam = name
		if (!(fam in type)) { fam = name; sub(/_(bucket|sum|count)$/, "", fam) }
		if (!(fam in type)) { fail("sample without TYPE"); next }
		if (!(fam in help)) fail("sample without HELP")
		if (type[fam] == "histogram" && name ~ /_bucket$/) {
			series = $0; sub(/,?le="[^"]*"/, "", series); sub(/ [^ ]*$/, "", series)
			sub(/\{\}$/, "", series)
			v = $NF + 0
			if ((series in last) && v < last[series]) fail("bucket not cumulative")
			last[series] = v
			if ($0 ~ /le="\+Inf"/) inf[series] = v
		}
		if (type[fam] == "histogram" && name ~ /_count$/) {
			series = $0; sub(/_count/, "_bucket", series); sub(/ [^ ]*$/, "", series)
			sub(/\{\}$/, "", series)
			if (!(series in inf)) fail("_count before its +Inf bucket")
			else if (inf[series] != $NF + 0) fail("_count differs from the +Inf bucket")
		}
	}
	END { exit bad }' "$1"
}

# value FILE SAMPLE: the value of an exact sample (name{labels}), or "missing"
value() {
	awk -v s="$2" 'substr($0, 1, length(s) + 1) == s " " { print $NF; found = 1; exit }
		END { if (!found) print "missing" }' "$1"
}

# ---- 5. option checks first (they need no server) -------------------------------------------
step "bad logging options"
"$AMBIENT" --log-format xml version >/dev/null 2>"$WORK/bad.err"
check "--log-format xml must fail" $(($? == 0))
grep -q "unknown log format 'xml'" "$WORK/bad.err"
check "the refusal names the format: $(cat "$WORK/bad.err")" $?
"$AMBIENT" --log-file "$WORK/x.log" --log-dir "$WORK/xdir" version >/dev/null 2>"$WORK/both.err"
check "--log-file with --log-dir must fail" $(($? == 0))
grep -q "use one" "$WORK/both.err"
check "the refusal says to use one: $(cat "$WORK/both.err")" $?
AMBIENT_LOG_FILE="$WORK/x.log" "$AMBIENT" --log-dir "$WORK/envdir" version >/dev/null 2>&1
check "a --log-dir flag beats AMBIENT_LOG_FILE" $?
[ -d "$WORK/envdir" ] && [ ! -e "$WORK/x.log" ]
check "and logs go to the directory" $?

# ---- 1. serve and /metrics ------------------------------------------------------------------
step "serve with --log-dir --log-format json"
LOGS="$WORK/logs"
start serve --log-dir "$LOGS" --log-format json --log-level info serve --listen 127.0.0.1:0 \
	--no-delivery
open_session
[ -n "$SESSION" ]
check "an MCP session opens" $?
rpc '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
tool create_background_task '{"task_type":"schedule","description":"metrics standup","config":{"type":"daily","hour":9}}'
[[ "$OUT" == *task_id* ]]
check "a task is created: $OUT" $?
tool create_background_task '{"task_type":"web_monitor","description":"bad","config":{"url":"ftp://nope"}}'
tool no_such_tool '{}'
rpc '{"jsonrpc":"2.0","id":3,"method":"made/up/method"}'
rpc '{"jsonrpc":"2.0","id":4,"method":"another/unknown"}'
rpc '{"jsonrpc":"2.0","id":5,"method":"ping"}'

step "GET /metrics"
get /metrics
check "GET /metrics answers 200 (got $STATUS)" $((STATUS != 200))
[[ "$CTYPE" == "text/plain; version=0.0.4"* ]]
check "content type is the Prometheus text format (got $CTYPE)" $?
cp "$WORK/body" "$WORK/metrics.txt"
problems=$(prom_check "$WORK/metrics.txt")
check "the text format is well formed: $problems" $?

for fam in ambient_build_info ambient_store_up ambient_store_position ambient_tasks \
	ambient_engine_checks_total ambient_engine_check_failures_total \
	ambient_engine_events_appended_total ambient_mcp_requests_total \
	ambient_mcp_request_duration_seconds ambient_mcp_tool_calls_total \
	ambient_mcp_notifications_total ambient_auth_failures_total; do
	grep -q "^# TYPE $fam " "$WORK/metrics.txt"
	check "family $fam is present" $?
done
M="$WORK/metrics.txt"
check "one active schedule task" $(($(value "$M" 'ambient_tasks{task_type="schedule",status="active"}') != 1))
check "no web_monitor task" $(($(value "$M" 'ambient_tasks{task_type="web_monitor",status="active"}') != 0))
check "the store is up" $(($(value "$M" ambient_store_up) != 1))
pos=$(value "$M" ambient_store_position)
check "the store position counts the appended events (got $pos)" $((pos < 1))
check "initialize counted" $(($(value "$M" 'ambient_mcp_requests_total{method="initialize",outcome="ok"}') != 1))
check "tools/list counted" $(($(value "$M" 'ambient_mcp_requests_total{method="tools/list",outcome="ok"}') != 1))
check "a good tools/call counted ok" $(($(value "$M" 'ambient_mcp_requests_total{method="tools/call",outcome="ok"}') != 1))
check "a refused task counted as tool_error" $(($(value "$M" 'ambient_mcp_requests_total{method="tools/call",outcome="tool_error"}') != 1))
check "an unknown tool counted as invalid_params" $(($(value "$M" 'ambient_mcp_requests_total{method="tools/call",outcome="invalid_params"}') != 1))
check "unknown methods count as other" $(($(value "$M" 'ambient_mcp_requests_total{method="other",outcome="method_not_found"}') != 2))
! grep -q 'made/up' "$M"
check "unknown method names never become labels" $?
check "ping counted" $(($(value "$M" 'ambient_mcp_requests_total{method="ping",outcome="ok"}') != 1))
check "tools/call latency histogram has 3 observations" $(($(value "$M" 'ambient_mcp_request_duration_seconds_count{method="tools/call"}') != 3))
[ "$(value "$M" 'ambient_mcp_request_duration_seconds_bucket{method="tools/call",le="+Inf"}')" = 3 ]
check "its +Inf bucket holds them all" $?
check "create_background_task calls by outcome" $(($(value "$M" 'ambient_mcp_tool_calls_total{tool="create_background_task",outcome="ok"}') != 1))
[ "$(value "$M" 'ambient_mcp_notifications_total{channel="sms",outcome="sent"}')" = 0 ]
check "no SMS sent" $?

# Counters move: a second scrape after more calls.
rpc '{"jsonrpc":"2.0","id":6,"method":"ping"}'
get /metrics
check "ping counted again" $(($(value "$WORK/body" 'ambient_mcp_requests_total{method="ping",outcome="ok"}') != 2))

# ---- 2. the log directory --------------------------------------------------------------------
step "log files"
[ -s "$LOGS/mcp_server.log" ] && [ -s "$LOGS/event_sourcing.log" ]
check "mcp_server.log and event_sourcing.log are written" $?
[ ! -e "$LOGS/event_feedback.log" ]
check "serve writes no event_feedback.log line" $?
for f in "$LOGS"/*.log; do
	jq -e 'has("time") and has("level") and has("process") and has("pid") and has("msg") and has("source")' \
		"$f" >/dev/null 2>"$WORK/jq.err"
	check "every line of $(basename "$f") is a JSON object with the six fields: $(cat "$WORK/jq.err")" $?
done
jq -r .source "$LOGS/event_sourcing.log" | grep -qv '^\(engine\|store\)/'
check "event_sourcing.log holds only engine/ and store/ lines" $(($? == 0))
jq -r .source "$LOGS/mcp_server.log" | grep -q '^\(engine\|store\)/'
check "mcp_server.log holds no engine/ or store/ line" $(($? == 0))
grep -q '"process":"serve"' "$LOGS/mcp_server.log"
check "lines name the process" $?
stop

# ---- 3. /metrics with API keys ----------------------------------------------------------------
step "/metrics with API keys"
ADMIN=$("$AMBIENT" keys create --user ops --role admin 2>/dev/null)
USER_KEY=$("$AMBIENT" keys create --user alice 2>/dev/null)
[[ "$ADMIN" == amb_* && "$USER_KEY" == amb_* ]]
check "keys are made" $?
start serve-auth --log-dir "$LOGS" --log-format json --log-level debug serve \
	--listen 127.0.0.1:0 --no-delivery --no-engine
get /metrics
check "no key: 401 (got $STATUS)" $((STATUS != 401))
get /metrics "$USER_KEY"
check "a user key: 403 (got $STATUS)" $((STATUS != 403))
grep -q admin "$WORK/body"
check "the 403 says an admin key is needed: $(cat "$WORK/body")" $?
get /metrics "amb_0123456789abcdef_$(printf 'x%.0s' {1..43})"
check "a wrong key: 401 (got $STATUS)" $((STATUS != 401))
get /metrics "$ADMIN"
check "an admin key: 200 (got $STATUS)" $((STATUS != 200))
problems=$(prom_check "$WORK/body")
check "well formed with keys too: $problems" $?
! grep -q '^ambient_engine_' "$WORK/body"
check "--no-engine: no engine metrics" $?
check "the refused key is counted" $(($(value "$WORK/body" ambient_auth_failures_total) < 1))
stop
for k in "$ADMIN" "$USER_KEY"; do
	! grep -rqF "${k:21}" "$LOGS"
	check "no API key secret in the logs" $?
done

# ---- 4. the feedback server ----------------------------------------------------------------------
step "feedback with --log-dir"
start feedback --log-dir "$LOGS" --log-level info feedback --listen 127.0.0.1:0 \
	--feedback-db "sqlite:$WORK/feedback.db" --no-notify
get /metrics
check "feedback /metrics answers 200 (got $STATUS)" $((STATUS != 200))
problems=$(prom_check "$WORK/body")
check "feedback metrics are well formed: $problems" $?
grep -q '^ambient_feedback_received_total 0$' "$WORK/body"
check "feedback metrics carry their counters" $?
stop
[ -s "$LOGS/event_feedback.log" ]
check "the feedback server writes event_feedback.log" $?
grep -q 'feedback\[' "$LOGS/event_feedback.log"
check "in text, naming the process" $?
! grep -q 'feedback\[' "$LOGS/mcp_server.log" "$LOGS/event_sourcing.log"
check "and nowhere else" $?

echo "metrics_test: $passed passed, $failed failed ($((SECONDS - T0)) s)"
[ "$failed" -eq 0 ]

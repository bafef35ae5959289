#!/usr/bin/env bash
# chat_test.sh - `ambient chat` against real processes on 127.0.0.1: `ambient
# serve` (engine + MCP over Streamable HTTP), `ambient feedback`, and the
# OpenAI and Twilio stand-ins of fixture_sinks.
#
#   1. commands without an LLM: tasks, events, the message that says how to
#      configure one; `demo` creating the seed's three tasks (over stdio, on a
#      server without an engine, so nothing fetches the real sites)
#   2. the agent: the stand-in scripts a create_background_task call; the
#      requests carry the MCP tools and the tool's result; the task exists
#   3. piped commands: `simulate` posts the original's samples to the
#      feedback server, they come back on its live stream and are shown
#   4. the REPL in a terminal (tmux): prompt, commands, history recall with
#      the up arrow, an event arriving while a line is half typed is printed
#      above the prompt and the line is drawn again; the agent is then asked
#      about it and sends an SMS (through the Twilio stand-in); an event
#      arriving at an idle prompt; Ctrl-C stopping a streamed answer; quit
#   5. the MCP server restarts under a running chat: it reconnects
#
# Usage: chat_test.sh PATH_TO_AMBIENT PATH_TO_FIXTURE_SINKS
# No fixed sleeps: every wait polls a condition with a deadline.
set -u
AMBIENT=${1:?usage: chat_test.sh PATH_TO_AMBIENT PATH_TO_FIXTURE_SINKS}
SINKS=${2:?usage: chat_test.sh PATH_TO_AMBIENT PATH_TO_FIXTURE_SINKS}
for tool in curl jq tmux; do # missing: skipped (77), see scripts/deps.sh
	command -v "$tool" >/dev/null || { echo "chat_test: $tool is required (scripts/deps.sh)" >&2; exit 77; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ambient-chat-XXXXXX")
TMUX_SOCK="$WORK/tmux.sock"
SINKS_PID='' FEEDBACK_PID='' SERVE_PID='' CHAT_PID=''
cleanup() {
	tmux -S "$TMUX_SOCK" kill-server 2>/dev/null
	for p in $CHAT_PID $SERVE_PID $FEEDBACK_PID $SINKS_PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "chat_test: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
export XDG_CONFIG_HOME="$WORK/config" XDG_DATA_HOME="$WORK/data" LANG=C.UTF-8
unset AMBIENT_FEEDBACK_DB AMBIENT_FEEDBACK_LISTEN AMBIENT_CONFIG AMBIENT_NOTIFY AMBIENT_MCP_URL \
	AMBIENT_NOTIFY_RULES AMBIENT_SMTP_URL OPENAI_API_KEY OPENAI_API_BASE OPENAI_BASE_URL \
	OPENAI_MODEL TWILIO_ACCOUNT_SID TWILIO_AUTH_TOKEN TWILIO_PHONE_NUMBER TWILIO_API_BASE \
	AMBIENT_DATA_DIR AMBIENT_API_KEY AMBIENT_FEEDBACK_URL AMBIENT_WEBHOOK_SECRET EVENT_FEEDBACK_URL
export AMBIENT_DB="sqlite:$WORK/ambient.db"
T0=$SECONDS

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
expect_in() { # NAME HAYSTACK NEEDLE
	case "$2" in *"$3"*) ok ;; *) fail "$1: '$3' not in: $2" ;; esac
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

step "fixture_sinks (OpenAI and Twilio stand-ins)"
"$SINKS" --no-smtp --twilio-sid ACchat --twilio-token tok --port-file "$WORK/sinks.ports" \
	>"$WORK/sinks.out" 2>"$WORK/sinks.err" &
SINKS_PID=$!
wait_for 10 test -s "$WORK/sinks.ports" || { echo "fixture_sinks did not start" >&2; exit 1; }
read -r HTTP_PORT _ <"$WORK/sinks.ports"
SINK="http://127.0.0.1:$HTTP_PORT"
llm() { curl -sf -X POST "$SINK/_control/llm" --data "$1" >/dev/null || fail "scripting the LLM: $1"; }
llm_requests() { curl -sf "$SINK/llm/requests"; }

step "ambient feedback and ambient serve"
"$AMBIENT" feedback --listen 127.0.0.1:0 --feedback-db "sqlite:$WORK/feedback.db" --no-notify \
	>"$WORK/feedback.out" 2>"$WORK/feedback.err" &
FEEDBACK_PID=$!
wait_for 10 listening "$WORK/feedback.out" || { echo "feedback did not start" >&2; cat "$WORK/feedback.err" >&2; exit 1; }
FEEDBACK=$(url_of "$WORK/feedback.out")
EVENT_FEEDBACK_URL="$FEEDBACK/process_background_feedback" TWILIO_ACCOUNT_SID=ACchat \
	TWILIO_AUTH_TOKEN=tok TWILIO_PHONE_NUMBER=+15550001111 TWILIO_API_BASE="$SINK" \
	"$AMBIENT" --allow-net 127.0.0.1 serve --listen 127.0.0.1:0 \
	>"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE_PID=$!
wait_for 10 listening "$WORK/serve.out" || { echo "serve did not start" >&2; cat "$WORK/serve.err" >&2; exit 1; }
MCP=$(url_of "$WORK/serve.out")
CHAT=("$AMBIENT" chat --url "$MCP" --feedback "$FEEDBACK")

step "1. commands without an LLM"
out=$("${CHAT[@]}" -c tasks 2>"$WORK/err1")
expect_in "tasks on an empty server" "$out" "No background tasks yet"
expect_in "says where it connected" "$(cat "$WORK/err1")" "Connected to ambient"
expect_in "says where it connected" "$(cat "$WORK/err1")" "$MCP (Streamable HTTP)"
out=$("${CHAT[@]}" -c "what runs?" 2>&1)
rc=$?
[ $rc = 1 ] && ok || fail "a message without an LLM exits $rc, wanted 1"
expect_in "no LLM: how to configure one" "$out" "OPENAI_API_KEY"
expect_in "no LLM: local servers" "$out" "OPENAI_API_BASE"
out=$("${CHAT[@]}" -c "wait 1" 2>&1)
rc=$?
[ $rc = 1 ] && ok || fail "wait without events exits $rc, wanted 1"
# -c TEXT and --command TEXT are the same; unknown options are refused
out=$("${CHAT[@]}" --command help 2>&1)
expect_in "help" "$out" "simulate"
"${CHAT[@]}" -x 2>/dev/null && fail "an unknown option was accepted" || ok

# demo over stdio, on a server without an engine (nothing runs the tasks)
STDIO=("$AMBIENT" --db "sqlite:$WORK/stdio.db" chat --stdio "$AMBIENT --db sqlite:$WORK/stdio.db mcp --no-engine" --feedback off)
out=$("${STDIO[@]}" -c demo 2>"$WORK/err2")
expect_in "stdio: says so" "$(cat "$WORK/err2")" "over stdio"
expect_in "demo: web monitor" "$out" "Monitor TechCrunch for new articles about artificial intelligence"
n=$(grep -c "<- Background task '.*' created and will run in background" <<<"$out")
[ "$n" = 3 ] && ok || fail "demo created $n tasks, wanted 3: $out"
out=$("${STDIO[@]}" -c tasks 2>/dev/null)
expect_in "demo tasks: web_monitor" "$out" "web_monitor      active  every 30 min"
expect_in "demo tasks: news_digest" "$out" "news_digest      active  daily 08:00"
expect_in "demo tasks: schedule" "$out" "schedule         active  daily 09:00"

step "2. the agent calls a tool (OpenAI stand-in)"
LLM_ENV=(env OPENAI_API_BASE="$SINK/v1" OPENAI_MODEL=chat-test-model)
llm '{"replies": [{"content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "create_background_task", "arguments": "{\"task_type\": \"schedule\", \"description\": \"Project status reminder\", \"config\": {\"type\": \"interval\", \"minutes\": 600, \"message\": \"How is the project going?\"}}"}}]}, "I created a reminder every 10 hours."]}'
out=$("${LLM_ENV[@]}" "${CHAT[@]}" -c "remind me about the project every 10 hours" 2>&1)
expect_in "agent: tool call shown" "$out" "-> create_background_task"
expect_in "agent: tool result shown" "$out" "<- Background task 'Project status reminder' created"
expect_in "agent: answer" "$out" "I created a reminder every 10 hours."
reqs=$(llm_requests)
[ "$(jq '.count' <<<"$reqs")" = 2 ] && ok || fail "the agent made $(jq '.count' <<<"$reqs") model calls, wanted 2"
[ "$(jq -r '.requests[0].model' <<<"$reqs")" = chat-test-model ] && ok || fail "model not sent"
[ "$(jq '.requests[0].stream' <<<"$reqs")" = true ] && ok || fail "the agent did not stream"
[ "$(jq '[.requests[0].tools[].function.name] | index("create_background_task") != null' <<<"$reqs")" = true ] \
	&& ok || fail "the MCP tools were not sent: $(jq -c '[.requests[0].tools[].function.name]' <<<"$reqs")"
expect_in "system prompt has the examples" "$(jq -r '.requests[0].messages[0].content' <<<"$reqs")" "event_config_examples"
expect_in "system prompt: callback to this chat" "$(jq -r '.requests[0].messages[0].content' <<<"$reqs")" "$FEEDBACK/process_background_feedback"
[ "$(jq -r '.requests[1].messages[3].role' <<<"$reqs")" = tool ] && ok || fail "no tool message"
[ "$(jq -r '.requests[1].messages[3].tool_call_id' <<<"$reqs")" = call_1 ] && ok || fail "tool_call_id"
expect_in "the tool's result went back" "$(jq -r '.requests[1].messages[3].content' <<<"$reqs")" '"status": "success"'
out=$("${CHAT[@]}" -c tasks 2>/dev/null)
expect_in "the agent's task exists" "$out" "Project status reminder"
curl -sf -X POST "$SINK/_control/reset" >/dev/null

step "3. piped commands: simulate, the events come back live"
out=$(printf 'simulate\nwait 10\nwait 10\nevents 3\n' | "${CHAT[@]}" --no-agent-events 2>"$WORK/err3")
expect_in "simulate posted" "$out" "simulate: posted web_content_change of demo-task-1"
expect_in "event 1 shown" "$out" "[event] web_content_change (priority 3) task demo-task-1"
expect_in "event 1 details" "$out" "https://techcrunch.com - keywords: artificial intelligence, GPT-5"
expect_in "event 2 shown" "$out" "[event] daily_news_digest (priority 3) task demo-task-2"
expect_in "event 2 details" "$out" "- Show HN: My AI coding assistant"
expect_in "no prompt in a pipe" "$(cat "$WORK/err3")" "Connected to ambient"
case "$out" in *"ambient> "*) fail "a prompt was printed into a pipe" ;; *) ok ;; esac

step "4. the REPL in a terminal (tmux)"
screen() { tmux -S "$TMUX_SOCK" capture-pane -p -J -S - -t chat 2>/dev/null; }
on_screen() { screen | grep -qF -- "$1"; }
times_on_screen() { [ "$(screen | grep -cF -- "$2")" -ge "$1" ]; } # N TEXT: at least N lines
last_line() { screen | sed 's/[[:space:]]*$//; /^$/d' | tail -1; }
last_line_is() { [ "$(last_line)" = "$1" ]; }
keys() { tmux -S "$TMUX_SOCK" send-keys -t chat "$@"; }
HIST="$WORK/chat_history"
tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s chat -x 160 -y 50 \
	"env OPENAI_API_BASE=$SINK/v1 OPENAI_MODEL=chat-test-model LANG=C.UTF-8 TERM=screen \
	$AMBIENT chat --url $MCP --feedback $FEEDBACK --history-file $HIST; echo \$? >$WORK/chat.rc; sleep 60"
wait_for 15 last_line_is "ambient>" || fail "no prompt: $(screen)"
wait_for 10 on_screen "[feedback] following the feedback server's events" || fail "feedback stream not followed"
keys "tasks" Enter
wait_for 10 on_screen "Project status reminder" || fail "tasks in the terminal: $(screen)"
keys "help" Enter
wait_for 10 on_screen "Commands:" || fail "help in the terminal"
wait_for 10 last_line_is "ambient>" || fail "no prompt after help"
keys Up Up
wait_for 10 last_line_is "ambient> tasks" || fail "up arrow did not recall 'tasks': $(last_line)"
keys Enter
wait_for 10 times_on_screen 2 "(1 task;" || fail "the recalled command did not run: $(screen)"
grep -qx tasks "$HIST" && grep -qx help "$HIST" && ok || fail "history file: $(cat "$HIST" 2>/dev/null)"

# An event while a line is half typed: printed above, the line drawn again.
wait_for 10 last_line_is "ambient>" || fail "no prompt"
keys "hello wor"
wait_for 10 last_line_is "ambient> hello wor" || fail "typed text not shown"
llm '{"replies": [{"content": null, "tool_calls": [{"id": "sms_1", "type": "function", "function": {"name": "send_sms", "arguments": "{\"to\": \"+15551234567\", \"message\": \"Bitcoin is above 50000\"}"}}]}, "Sent you an SMS about bitcoin."]}'
curl -sf -X POST -H 'Content-Type: application/json' "$FEEDBACK/process_background_feedback" \
	--data '{"task_id": "btc-watch", "event_type": "threshold_breach", "priority": 4, "data": {"metric": "bitcoin_price", "current_value": 51234.5, "threshold": 50000, "comparison": "above"}, "notification": {"method": "send_sms", "phone_number": "+15551234567"}}' >/dev/null \
	|| fail "posting an event"
wait_for 10 on_screen "[event] threshold_breach (priority 4) task btc-watch" || fail "event not shown while typing: $(screen)"
wait_for 10 last_line_is "ambient> hello wor" || fail "the half-typed line was not drawn again: $(last_line)"
# The agent waits for the line; Ctrl-U empties it, and then it is asked.
keys C-u
wait_for 15 on_screen "Sent you an SMS about bitcoin." || fail "the agent was not asked about the event: $(screen)"
expect_in "agent called send_sms" "$(screen)" "-> send_sms"
sms=$(curl -sf "$SINK/sms" | jq -r '.messages[0].to + " " + .messages[0].body')
[ "$sms" = "+15551234567 Bitcoin is above 50000" ] && ok || fail "the SMS the agent sent: '$sms'"
reqs=$(llm_requests)
q=$(jq -r '.requests[0].messages[-1].content' <<<"$reqs")
expect_in "the agent was told the event" "$q" "Background task event received"
expect_in "the agent was told the event" "$q" "Event type: threshold_breach"
expect_in "the agent was told the event" "$q" "NO_NOTIFICATION_NEEDED"
wait_for 10 last_line_is "ambient>" || fail "no prompt after the agent: $(last_line)"

# An event at an idle prompt.
llm '{"replies": ["NO_NOTIFICATION_NEEDED"]}'
curl -sf -X POST -H 'Content-Type: application/json' "$FEEDBACK/process_background_feedback" \
	--data '{"task_id": "standup", "event_type": "scheduled_trigger", "priority": 2, "data": {"message": "Standup in 5 minutes"}}' >/dev/null
wait_for 10 on_screen "Standup in 5 minutes" || fail "event at an idle prompt not shown"
wait_for 15 on_screen "NO_NOTIFICATION_NEEDED" || fail "the agent's answer to the idle event"
wait_for 10 last_line_is "ambient>" || fail "no prompt after the idle event: $(last_line)"

# Ctrl-C stops a streamed answer; the chat goes on.
llm '{"chunk_ms": 100, "replies": ["A long answer that comes slowly, piece by piece, and is stopped by Ctrl-C long before its end, which is here."]}'
keys "tell me a story" Enter
wait_for 15 on_screen "A long answer" || fail "the streamed answer did not start"
keys C-c
wait_for 10 on_screen "(interrupted)" || fail "Ctrl-C did not stop the answer: $(screen)"
case "$(screen)" in *"which is here."*) fail "the answer was not stopped" ;; *) ok ;; esac
wait_for 10 last_line_is "ambient>" || fail "no prompt after Ctrl-C"
curl -sf -X POST "$SINK/_control/reset" >/dev/null

keys "quit" Enter
wait_for 10 test -s "$WORK/chat.rc" || fail "chat did not exit"
[ "$(cat "$WORK/chat.rc" 2>/dev/null)" = 0 ] && ok || fail "chat exit status $(cat "$WORK/chat.rc" 2>/dev/null)"

step "5. the MCP server restarts: the chat reconnects"
mkfifo "$WORK/in"
"${CHAT[@]}" --feedback off <"$WORK/in" >"$WORK/out5" 2>&1 &
CHAT_PID=$!
exec 7>"$WORK/in"
echo tasks >&7
out5() { cat "$WORK/out5"; }
wait_for 10 grep -q "(1 task;" "$WORK/out5" || fail "tasks before the restart: $(out5)"
PORT=${MCP##*:}
PORT=${PORT%%/*}
kill "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null
# --local-sessions: the new server does not know the old session (sessions
# in the database would survive the restart), so the reconnect path runs.
"$AMBIENT" serve --listen "127.0.0.1:$PORT" --no-engine --local-sessions >"$WORK/serve2.out" 2>"$WORK/serve2.err" 7>&- &
SERVE_PID=$!
wait_for 10 listening "$WORK/serve2.out" || fail "serve did not start again: $(cat "$WORK/serve2.err")"
echo tasks >&7
wait_for 15 grep -q "reconnected to $MCP" "$WORK/out5" || fail "no reconnect: $(out5)"
at_least_in() { [ "$(grep -cF -- "$2" "$3")" -ge "$1" ]; } # N TEXT FILE
wait_for 10 at_least_in 2 "(1 task;" "$WORK/out5" || fail "tasks after the restart: $(out5)"
exec 7>&-
if wait_for 10 eval '! kill -0 $CHAT_PID 2>/dev/null'; then
	wait "$CHAT_PID" 2>/dev/null
	CHAT_PID=''
	ok
else
	fail "chat did not end at the end of its input"
fi

echo "chat_test: $passed passed, $failed failed ($((SECONDS - T0)) s)"
[ "$failed" = 0 ]

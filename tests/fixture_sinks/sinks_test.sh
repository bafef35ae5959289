#!/usr/bin/env bash
# fixture_sinks black-box: start the program on ephemeral ports, drive each
# endpoint with the curl tool (Twilio, OpenAI, ntfy, webhook, SMTP), check what
# it recorded, stop it.  Usage: sinks_test.sh FIXTURE_SINKS CURL
set -u
BIN=$1
CURL=${2:-curl}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/ambient-sinks-XXXXXX")
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
expect() { # expect WHAT HAYSTACK NEEDLE
	case "$2" in *"$3"*) echo "ok: $1" ;; *) fail "$1: '$3' not in: $2" ;; esac
}

"$BIN" --http-port 0 --smtp-port 0 --twilio-sid ACfixture --twilio-token secret \
	--smtp-user mailer --smtp-pass pw --openai-key sk-test --port-file "$DIR/ports" \
	>"$DIR/out" 2>"$DIR/err" &
PID=$!
for _ in $(seq 1 500); do
	[ -s "$DIR/ports" ] && break
	kill -0 "$PID" 2>/dev/null || fail "fixture_sinks exited: $(cat "$DIR/err")"
	sleep 0.01
done
[ -s "$DIR/ports" ] || fail "no port file after 5 s"
read -r HTTP SMTP <"$DIR/ports"
B="http://127.0.0.1:$HTTP"
C=("$CURL" -sS --noproxy '*' --max-time 10)

# Twilio
out=$("${C[@]}" -u ACfixture:secret --data-urlencode To=+15551234567 --data-urlencode From=+15557654321 \
	--data-urlencode 'Body=hello there' "$B/2010-04-01/Accounts/ACfixture/Messages.json" \
	-w ' %{http_code}')
expect "twilio 201" "$out" '"status":"queued"'
expect "twilio code" "$out" ' 201'
out=$("${C[@]}" -u ACfixture:wrong --data-urlencode To=+15551234567 --data-urlencode From=+15557654321 -d Body=x \
	"$B/2010-04-01/Accounts/ACfixture/Messages.json" -w ' %{http_code}')
expect "twilio 401" "$out" '"code":20003'
out=$("${C[@]}" -u ACfixture:secret --data-urlencode To=12 --data-urlencode From=+15557654321 -d Body=x \
	"$B/2010-04-01/Accounts/ACfixture/Messages.json" -w ' %{http_code}')
expect "twilio 400" "$out" '"code":21211'
out=$("${C[@]}" -d '{"fail":1,"status":429}' "$B/_control/twilio")
out=$("${C[@]}" -u ACfixture:secret --data-urlencode To=+15551234567 --data-urlencode From=+15557654321 -d Body=x \
	"$B/2010-04-01/Accounts/ACfixture/Messages.json" -D - -o /dev/null)
expect "twilio 429" "$out" 'Retry-After: 1'
out=$("${C[@]}" "$B/sms")
expect "sms list" "$out" '"body":"hello there"'

# OpenAI
out=$("${C[@]}" -H 'Authorization: Bearer sk-test' -H 'Content-Type: application/json' \
	-d '{"model":"m","messages":[{"role":"user","content":"event priority: 4 price up"}]}' \
	"$B/v1/chat/completions")
expect "llm default" "$out" '"content":"Heads-up: event priority: 4 price up"'
"${C[@]}" -d '{"replies":["scripted one"]}' "$B/_control/llm" >/dev/null
out=$("${C[@]}" -H 'Authorization: Bearer sk-test' \
	-d '{"model":"m","messages":[{"role":"user","content":"x"}]}' "$B/v1/chat/completions")
expect "llm scripted" "$out" '"content":"scripted one"'
out=$("${C[@]}" -H 'Authorization: Bearer nope' \
	-d '{"model":"m","messages":[{"role":"user","content":"x"}]}' "$B/v1/chat/completions")
expect "llm 401" "$out" 'invalid_api_key'
out=$("${C[@]}" "$B/llm/requests")
expect "llm requests" "$out" '"count":2'
# streamed, as OpenAI streams: chunks, then [DONE]
"${C[@]}" -d '{"replies":[{"content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\": 1}"}}]}]}' \
	"$B/_control/llm" >/dev/null
out=$("${C[@]}" -H 'Authorization: Bearer sk-test' -D - \
	-d '{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}' "$B/v1/chat/completions")
expect "llm stream type" "$out" 'Content-Type: text/event-stream'
expect "llm stream chunk" "$out" 'data: {"id":"chatcmpl-fixture'
expect "llm stream call" "$out" '"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]'
expect "llm stream finish" "$out" '"finish_reason":"tool_calls"'
expect "llm stream done" "$out" 'data: [DONE]'

# ntfy and webhooks
out=$("${C[@]}" -H 'Title: hi' -H 'Priority: 4' -d 'body text' "$B/ntfy/alerts")
expect "ntfy" "$out" '"topic":"alerts"'
out=$("${C[@]}" -H 'webhook-id: msg_1' -d '{"a":1}' "$B/hook/h1" -w ' %{http_code}')
expect "hook" "$out" ' 200'
"${C[@]}" -d '{"fail":1,"status":410}' "$B/_control/hook" >/dev/null
out=$("${C[@]}" -d '{}' "$B/hook/h1" -o /dev/null -w '%{http_code}')
expect "hook 410" "$out" '410'
out=$("${C[@]}" "$B/captured")
expect "captured" "$out" '"webhook-id":"msg_1"'

# SMTP
printf 'From: a@example.com\r\nTo: b@example.com\r\nSubject: =?UTF-8?B?w4ljaGVj?=\r\n\r\n.dot line\r\nbye\r\n' >"$DIR/mail"
"${C[@]}" "smtp://127.0.0.1:$SMTP" --user mailer:pw --mail-from a@example.com \
	--mail-rcpt b@example.com -T "$DIR/mail" || fail "smtp send"
if "${C[@]}" "smtp://127.0.0.1:$SMTP" --user mailer:bad --mail-from a@example.com \
	--mail-rcpt b@example.com -T "$DIR/mail" 2>/dev/null; then
	fail "smtp accepted a bad password"
fi
out=$("${C[@]}" "$B/emails")
expect "email subject" "$out" '"subject":"Échec"'
expect "email dot" "$out" '.dot line'
expect "email auth" "$out" '"auth_user":"mailer"'
expect "email count" "$out" '"count":1'

kill "$PID"
wait "$PID"
rc=$?
PID=
[ "$rc" = 0 ] || fail "fixture_sinks exited with $rc on SIGTERM"
echo "all fixture_sinks checks passed"

#!/usr/bin/env bash
# demo_test.sh AMBIENT [SECONDS] - `ambient demo --duration` end to end.
#
# Runs the demo in a temporary data directory and checks, from what it left
# there, that each of the seed's task types recorded its event in the task
# store, that the feedback server received and decided on each of those
# events (feedback_decided in its own store), and that SMS reached the
# Twilio stand-in (sms.jsonl).  Exits non-zero naming what is missing.
set -euo pipefail
AMBIENT=$1
SECONDS_RUN=${2:-40}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ambient-demo-test-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
DIR=$TMP/data

set +e
"$AMBIENT" demo --duration "$SECONDS_RUN" --dir "$DIR" >"$TMP/demo.out" 2>"$TMP/demo.err"
rc=$?
set -e
cat "$TMP/demo.out"
fail=0
bad() {
	echo "FAIL: $*" >&2
	fail=1
}
if [ "$rc" -ne 0 ]; then
	bad "ambient demo exited with status $rc"
	cat "$TMP/demo.err" >&2
fi
for f in ambient.db feedback.db sms.jsonl; do
	[ -e "$DIR/$f" ] || bad "the demo left no $f in its data directory"
done
[ "$fail" -eq 0 ] || exit 1

"$AMBIENT" events --db "sqlite:$DIR/ambient.db" >"$TMP/tasks.jsonl"
"$AMBIENT" events --db "sqlite:$DIR/feedback.db" >"$TMP/feedback.jsonl"

for type in web_content_change daily_news_digest scheduled_trigger threshold_breach; do
	events=$(jq -r --arg t "$type" 'select(.type == $t) | .event_id' "$TMP/tasks.jsonl")
	if [ -z "$events" ]; then
		bad "no $type event in the task store"
		continue
	fi
	# Every such event was delivered (feedback_delivered names its id) ...
	for id in $events; do
		jq -se --arg id "$id" 'any(.[]; .type == "feedback_delivered" and .data.event_id == $id)' \
			"$TMP/tasks.jsonl" >/dev/null || bad "$type event $id was not delivered"
	done
	# ... and the feedback server decided about what it received.
	decided=$(jq -s --arg t "$type" '
		([.[] | select(.type == "feedback_received" and .data.event_type == $t) | .position]) as $got
		| [.[] | select(.type == "feedback_decided" and (.data.event as $e | $got | index($e)))]
		| length' "$TMP/feedback.jsonl")
	if [ "$decided" -lt 1 ]; then
		bad "the feedback server recorded no feedback_decided for a $type event"
	else
		echo "ok: $type: $(echo "$events" | wc -l) event(s), $decided decision(s)"
	fi
done

sent=$(jq -s '[.[] | select(.type == "notification_sent" and .data.channel == "sms")] | length' \
	"$TMP/feedback.jsonl")
sms=$(wc -l <"$DIR/sms.jsonl")
[ "$sent" -ge 4 ] || bad "only $sent SMS notifications recorded as sent (want one per task type)"
[ "$sms" -ge 4 ] || bad "only $sms SMS reached the Twilio stand-in (want one per task type)"
jq -se 'all(.[]; (.sid | startswith("SM")) and (.body | length) > 0 and .to == "+1234567890")' \
	"$DIR/sms.jsonl" >/dev/null || bad "the SMS at the stand-in lack a sid, a body or the seed's number"
[ "$fail" -ne 0 ] || echo "ok: $sent SMS sent, $sms at the Twilio stand-in"
grep -q '^== Summary' "$TMP/demo.out" || bad "the demo printed no summary"
exit "$fail"

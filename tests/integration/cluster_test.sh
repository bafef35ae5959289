#!/usr/bin/env bash
# cluster_test.sh - three `ambient serve` nodes on one PostgreSQL database behind
# nginx (deploy/nginx.conf), end to end (issue 8, docs/cluster.md):
#
#   1. a throwaway PostgreSQL cluster (tests/support/pgtmp.sh: initdb in a temp
#      directory, as the user "postgres" when run as root, on a loopback port), the
#      fixture web site, `ambient feedback` as every task's callback, three nodes
#      with a short lease (--lease-ttl 6000) and nginx in front, rendered from
#      deploy/nginx.conf with this run's ports;
#   2. the 64 shards spread over the three nodes (/health of each);
#   3. through nginx (round-robin), in one MCP session: 300 tasks created with the
#      tool create_background_task (schedule every minute, web_monitor and
#      threshold_watch every minute against the fixture site, schedules that run a
#      news digest, daily news_digests due during the run); three rounds of slots,
#      with the site changed between rounds so every web_monitor and digest slot
#      records an event;
#   4. SIGKILL of one node just before the second round: within the lease time the
#      two others hold all 64 shards and run its tasks, late slots included;
#   5. PostgreSQL restarted in the middle of the second round (`pgtmp.sh stop`,
#      down until both nodes notice, `pgtmp.sh restart`): the nodes reconnect,
#      /health is fine again, new events are recorded, slots due meanwhile run;
#   6. delivery shared by the nodes (--delivery-partitions 3) and in order per task
#      at the feedback server; `ambient replay --check` on the shared database: the
#      projections match the log;
#   7. from the event log: for every task and slot (metadata.slot_us) at most one
#      event of a type; every schedule fired every minute from its creation with no
#      gap and no slot missing; every web_monitor reported exactly its three
#      changes, every threshold_watch its two breaches, every digest its new items
#      once; every deliverable event reached the feedback server; a summary.
#
# Usage: cluster_test.sh PATH_TO_AMBIENT PATH_TO_FIXTURE_WEB
# Environment:
#   CLUSTER_DB=postgres|sqlite  the shared store (default postgres; sqlite: the three
#                               nodes share one SQLite file, for debugging)
#   CLUSTER_TASKS=N             tasks to create (default 300)
#   CLUSTER_LEASE_MS=MS         --lease-ttl of the nodes (default 6000)
#   CLUSTER_MCP=session|stateless  the test initializes one MCP session and sends
#                               every call with it through nginx's round-robin, so
#                               each node serves calls of a session another node
#                               opened (sessions live in the store; default), or the
#                               nodes run --stateless and every call stands alone
#   CLUSTER_PG_DOWN_S=S         keep PostgreSQL down at least S seconds (default 8: longer
#                               than the nodes' reconnect wait, AMBIENT_PG_RECONNECT_MS=2000,
#                               so their calls fail fast and the engines put slots back
#                               and run them again once the database is back)
#   KEEP_WORK=1                 keep the temp directory (logs of every process)
# Exit status 77 (skipped) when nginx or PostgreSQL is not installed.
#
# Waits poll conditions with deadlines.  The only waits for a point in time are
# those that place an action on the slot timeline (the kill just before the
# second round), since slots are wall-clock minutes.
set -u
AMBIENT=${1:?usage: cluster_test.sh PATH_TO_AMBIENT PATH_TO_FIXTURE_WEB}
FIXTURE=${2:?usage: cluster_test.sh PATH_TO_AMBIENT PATH_TO_FIXTURE_WEB}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
PGTMP=$SRC/tests/support/pgtmp.sh
NGINX_CONF=$SRC/deploy/nginx.conf
DBKIND=${CLUSTER_DB:-postgres}
NTASKS=${CLUSTER_TASKS:-300}
LEASE_MS=${CLUSTER_LEASE_MS:-6000}
MCP_MODE=${CLUSTER_MCP:-session}

for tool in curl jq awk; do
	command -v "$tool" >/dev/null || { echo "cluster_test: $tool is required" >&2; exit 1; }
done
NGINX=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null) ||
	{ echo "cluster_test: SKIP: nginx is not installed (Debian package nginx)" >&2; exit 77; }
if [ "$DBKIND" = postgres ]; then
	if ! command -v pg_config >/dev/null && ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
		echo "cluster_test: SKIP: PostgreSQL is not installed (Debian package postgresql)" >&2
		exit 77
	fi
	[ -f "$PGTMP" ] || { echo "cluster_test: $PGTMP is missing" >&2; exit 1; }
fi
[ -f "$NGINX_CONF" ] || { echo "cluster_test: $NGINX_CONF is missing" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ambient-cluster-XXXXXX")
# PostgreSQL (run as "postgres" under root) and nginx's workers ("nobody") must
# reach their directories inside.
chmod 0755 "$WORK"
FIX_PID='' FB_PID='' NGX_PID=''
NODE_PID=('' '' '')
PG_STARTED=0
cleanup() {
	local p
	for p in "${NODE_PID[@]}" $NGX_PID $FB_PID $FIX_PID; do
		[ -n "$p" ] || continue
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ $PG_STARTED = 1 ] && bash "$PGTMP" stop "$WORK/pg" >/dev/null 2>&1
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "cluster_test: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export XDG_CONFIG_HOME="$WORK/config" XDG_DATA_HOME="$WORK/data"
unset AMBIENT_DB AMBIENT_ALLOW_NET AMBIENT_PRICE_API_URL AMBIENT_MAX_FAILURES AMBIENT_CONFIG \
	AMBIENT_LISTEN AMBIENT_STATELESS AMBIENT_API_KEYS EVENT_FEEDBACK_URL AMBIENT_LEASE_TTL_MS \
	AMBIENT_WEBHOOK_SECRET AMBIENT_FEEDBACK_DB AMBIENT_DATA_DIR AMBIENT_LOG_FILE AMBIENT_LOG_DIR \
	AMBIENT_RATE_LIMITS AMBIENT_NO_AUTH AMBIENT_LOG_LEVEL
T0=$SECONDS

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
expect_eq() { # NAME GOT WANT
	if [ "$2" = "$3" ]; then ok; else fail "$1: got '$2', wanted '$3'"; fi
}
step() { echo "--- $* ($((SECONDS - T0)) s)"; }
die() {
	echo "cluster_test: $*" >&2
	exit 1
}

# wait_for SECONDS CMD...: poll until CMD succeeds
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}

now_us() { # wall clock in microseconds
	local t=${EPOCHREALTIME/./}
	echo "$t"
}

# wait_until_us T: until the wall clock reaches T (placing an action on the slot
# timeline; see the header)
wait_until_us() {
	local now
	now=$(now_us)
	while [ "$now" -lt "$1" ]; do
		sleep 0.1
		now=$(now_us)
	done
}

# ---- processes ----------------------------------------------------------------------

# wait_listening NAME PID: wait for the "listening URL" line in NAME.out; sets URL
wait_listening() {
	local end=$((SECONDS + 30))
	until grep -q '^listening ' "$WORK/$1.out" 2>/dev/null; do
		if [ $SECONDS -ge $end ] || ! kill -0 "$2" 2>/dev/null; then
			echo "cluster_test: $1 did not start:" >&2
			tail -n 20 "$WORK/$1.out" "$WORK/$1.err" >&2 2>/dev/null
			exit 1
		fi
		sleep 0.05
	done
	URL=$(sed -n 's/^listening //p' "$WORK/$1.out" | head -1)
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

step "store: $DBKIND"
if [ "$DBKIND" = postgres ]; then
	PG_STARTED=1
	DB=$(bash "$PGTMP" start "$WORK/pg" 2>"$WORK/pgtmp.err") ||
		die "pgtmp.sh start failed: $(cat "$WORK/pgtmp.err")"
	echo "    $DB"
	if ! out=$("$AMBIENT" --db "$DB" events --limit 1 2>&1); then
		die "the PostgreSQL store does not work yet (ambient events --db $DB: $out); CLUSTER_DB=sqlite runs this test on one shared SQLite file"
	fi
elif [ "$DBKIND" = sqlite ]; then
	DB="sqlite:$WORK/ambient.db"
else
	die "CLUSTER_DB must be postgres or sqlite (got '$DBKIND')"
fi
amb() { "$AMBIENT" --db "$DB" "$@"; }

step "fixture site and feedback server"
"$FIXTURE" --pages 1000 >"$WORK/fixture.out" 2>"$WORK/fixture.err" &
FIX_PID=$!
wait_listening fixture "$FIX_PID"
FIX=$URL

FB_DB="sqlite:$WORK/feedback.db"
SECRET="whsec_$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
AMBIENT_WEBHOOK_SECRET="$SECRET" "$AMBIENT" feedback --listen 127.0.0.1:0 --feedback-db "$FB_DB" \
	--no-notify >"$WORK/feedback.out" 2>"$WORK/feedback.err" &
FB_PID=$!
wait_listening feedback "$FB_PID"
FEEDBACK=$URL

step "three nodes (--lease-ttl $LEASE_MS, MCP $MCP_MODE)"
NODE_BASE=('' '' '')
NODE_PORT=('' '' '')
NODE_OWNER=('' '' '')
start_node() { # I
	local i=$1 extra=()
	[ "$MCP_MODE" = stateless ] && extra+=(--stateless)
	AMBIENT_PG_RECONNECT_MS=2000 AMBIENT_WEBHOOK_SECRET="$SECRET" \
		"$AMBIENT" --db "$DB" --allow-net 127.0.0.1 \
		--log-level info serve --listen 127.0.0.1:0 --lease-ttl "$LEASE_MS" \
		--price-api-url "$FIX" --feedback-url "$FEEDBACK/process_background_feedback" \
		--rate-limits off --delivery-partitions 3 "${extra[@]}" >"$WORK/node$i.out" \
		2>"$WORK/node$i.err" &
	NODE_PID[$i]=$!
	wait_listening "node$i" "${NODE_PID[$i]}"
	NODE_BASE[$i]=${URL%/mcp}
	local hp=${URL#http://}
	hp=${hp%%/*}
	NODE_PORT[$i]=${hp##*:}
}
for i in 0 1 2; do start_node $i; done

health() { curl -s --max-time 3 "${NODE_BASE[$1]}/health"; } # I
# shards_of I: the shards node I holds (-1 when it does not answer)
shards_of() { health "$1" | jq -r '.engine.shards // -1' 2>/dev/null || echo -1; }
nodes_seen() { health "$1" | jq -r '.engine.nodes // -1' 2>/dev/null || echo -1; }
SHARDS_LINE=''
# shards_balanced I...: the listed nodes see each other, hold all 64 shards between
# them, each its fair share (ceil(64 / n)) at most and at least one
shards_balanced() {
	local n=$# sum=0 i s k max=$(((64 + $# - 1) / $#))
	SHARDS_LINE=''
	for i in "$@"; do
		s=$(shards_of "$i")
		k=$(nodes_seen "$i")
		SHARDS_LINE+="node$i=$s/$k "
		[ "${s:--1}" -ge 1 ] && [ "$s" -le $max ] && [ "$k" = "$n" ] || return 1
		sum=$((sum + s))
	done
	[ $sum -eq 64 ]
}
if wait_for 30 shards_balanced 0 1 2; then ok; else fail "shards not spread over the three nodes in 30 s: $SHARDS_LINE"; fi
echo "    shards (held/nodes seen): $SHARDS_LINE"
for i in 0 1 2; do
	NODE_OWNER[$i]=$(health $i | jq -r '.engine.holder')
	m=$(curl -s --max-time 3 "${NODE_BASE[$i]}/metrics" | awk '$1 == "ambient_engine_shards" {print $2}')
	expect_eq "node$i: /metrics ambient_engine_shards agrees with /health" "$m" "$(shards_of $i)"
done

step "nginx in front (deploy/nginx.conf rendered with this run's ports)"
NGX=$WORK/nginx
mkdir -p "$NGX/logs" "$NGX/temp"
[ "$(id -u)" -eq 0 ] && chown nobody "$NGX/temp" 2>/dev/null
for _ in 1 2 3 4 5 6 7 8 9 10; do
	NGX_PORT=$((20000 + RANDOM % 40000))
	port_free "$NGX_PORT" || continue
	sed -e "s/^\([[:space:]]*\)listen 80;/\1listen 127.0.0.1:$NGX_PORT;/" \
		-e "s/127\.0\.0\.1:8001/127.0.0.1:${NODE_PORT[0]}/" \
		-e "s/127\.0\.0\.1:8002/127.0.0.1:${NODE_PORT[1]}/" \
		-e "s/127\.0\.0\.1:8003/127.0.0.1:${NODE_PORT[2]}/" \
		-e "s/^worker_processes auto;/worker_processes 1;/" \
		"$NGINX_CONF" >"$NGX/nginx.conf"
	grep -q "listen 127.0.0.1:$NGX_PORT;" "$NGX/nginx.conf" &&
		grep -q "127.0.0.1:${NODE_PORT[2]} " "$NGX/nginx.conf" ||
		die "could not render $NGINX_CONF (no 'listen 80;' or 'server 127.0.0.1:8001..8003' lines)"
	"$NGINX" -p "$NGX/" -c "$NGX/nginx.conf" -e logs/error.log -t >"$NGX/t.log" 2>&1 ||
		die "nginx -t refused the rendered config: $(cat "$NGX/t.log")"
	"$NGINX" -p "$NGX/" -c "$NGX/nginx.conf" -e logs/error.log -g 'daemon off;' \
		>"$WORK/nginx.out" 2>"$WORK/nginx.err" &
	NGX_PID=$!
	ngx_up() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$NGX_PORT/health"; }
	if wait_for 10 ngx_up; then break; fi
	kill "$NGX_PID" 2>/dev/null
	wait "$NGX_PID" 2>/dev/null
	NGX_PID=''
	grep -q "Address already in use" "$NGX/logs/error.log" "$WORK/nginx.err" 2>/dev/null ||
		die "nginx did not start: $(tail -n 5 "$NGX/logs/error.log" "$WORK/nginx.err" 2>/dev/null)"
done
[ -n "$NGX_PID" ] || die "found no free port for nginx"
LB=http://127.0.0.1:$NGX_PORT
MCP=$LB/mcp
echo "    $LB -> ${NODE_PORT[*]}"
code=$(curl -s -o "$WORK/lb-health" -w '%{http_code}' --max-time 3 "$LB/health")
expect_eq "nginx /health" "$code $(jq -r .status "$WORK/lb-health" 2>/dev/null)" "200 healthy"

# ---- MCP through nginx --------------------------------------------------------------------

SESSION_HDR=()
# mcp_post BODY: POST one JSON-RPC message through nginx; the response (JSON, or
# the data of an SSE stream's last message) in RESP, the status in CODE.  Retries
# on 429 (nginx's rate limit, 30 r/s) and on 502/503/504 with backoff.
mcp_post() {
	local tries=0 raw
	while :; do
		CODE=$(curl -s -o "$WORK/resp" -D "$WORK/resp.h" -w '%{http_code}' --max-time 15 \
			-X POST "$MCP" -H 'Content-Type: application/json' \
			-H 'Accept: application/json, text/event-stream' "${SESSION_HDR[@]}" \
			--data-binary "$1")
		case $CODE in
		429 | 502 | 503 | 504)
			tries=$((tries + 1))
			[ $tries -ge 50 ] && break
			sleep "0.$((tries < 9 ? tries : 9))"
			continue
			;;
		esac
		break
	done
	raw=$(cat "$WORK/resp" 2>/dev/null)
	if grep -qi '^content-type: *text/event-stream' "$WORK/resp.h"; then
		RESP=$(sed -n 's/^data: *//p' <<<"$raw" | grep -v '^$' | tail -1)
	else
		RESP=$raw
	fi
}

if [ "$MCP_MODE" = session ]; then
	mcp_post '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"cluster_test","version":"1"}}}'
	SID=$(awk 'tolower($1) == "mcp-session-id:" {print $2}' "$WORK/resp.h" | tr -d '\r')
	[ -n "$SID" ] || die "initialize through nginx gave no session id ($CODE): $RESP"
	SESSION_HDR=(-H "Mcp-Session-Id: $SID" -H "MCP-Protocol-Version: 2025-11-25")
	mcp_post '{"jsonrpc":"2.0","method":"notifications/initialized"}'
	expect_eq "notifications/initialized" "$CODE" 202
fi

# ---- the tasks ------------------------------------------------------------------------------

N=$NTASKS
N_SD=$((N / 30 > 0 ? N / 30 : 1))       # schedules that run a news digest
N_DG=$((N / 30 > 0 ? N / 30 : 1))       # daily news_digests due during the run
N_WEB=$((N * 8 / 30 > 0 ? N * 8 / 30 : 1)) # web_monitor, one page each
N_THR=$((N * 6 / 30 > 1 ? N * 6 / 30 : 2)) # threshold_watch, half via bitcoin_price
N_SCH=$((N - N_SD - N_DG - N_WEB - N_THR)) # plain interval schedules
[ $N_SCH -ge 1 ] || die "CLUSTER_TASKS=$N is too small"
PRICE_HI=65000 PRICE_LO=40000 THRESHOLD=50000
curl -s -f -o /dev/null -X POST "$FIX/_control/price?value=$PRICE_HI" || die "fixture: price"

# The daily digests are due at the first whole minute at least 75 s from now (UTC):
# after the second round started, before the test ends.
DG_AT=$((($(date +%s) + 75 + 59) / 60 * 60))
DG_H=$(date -u -d "@$DG_AT" +%-H)
DG_M=$(date -u -d "@$DG_AT" +%-M)

# One JSON-RPC body per line, with the kind of task before it.
jq -cnr --arg fix "$FIX" --argjson nsch $N_SCH --argjson nsd $N_SD --argjson ndg $N_DG \
	--argjson nweb $N_WEB --argjson nthr $N_THR --argjson thr $THRESHOLD \
	--argjson h "$DG_H" --argjson m "$DG_M" '
	def call($i; $type; $desc; $cfg):
		{jsonrpc: "2.0", id: $i, method: "tools/call",
		 params: {name: "create_background_task",
			  arguments: {task_type: $type, description: $desc, config: $cfg}}};
	[range(0; $nsch) | ["sched", call(.; "schedule"; "cluster tick \(.)";
		{type: "interval", minutes: 1, message: "tick \(.)"})]]
	+ [range(0; $nweb) | ["web", call(.; "web_monitor"; "cluster page \(.)";
		{urls: ["\($fix)/page/\(.)"], check_interval_minutes: 1,
		 notify_on_first_check: true})]]
	+ [range(0; $nthr) | ["thr", call(.; "threshold_watch"; "cluster price \(.)";
		if . % 2 == 0 then
			{metric: "bitcoin_price", threshold: $thr, comparison: "above",
			 check_interval_minutes: 1}
		else
			{metric: "btc_usd", metric_url: "\($fix)/api/v3/simple/price?ids=bitcoin&vs_currencies=usd",
			 json_path: "bitcoin.usd", threshold: $thr, comparison: "above",
			 check_interval_minutes: 1}
		end)]]
	+ [range(0; $nsd) | ["sd", call(.; "schedule"; "cluster digest schedule \(.)";
		{type: "interval", minutes: 1, action: "news_digest",
		 news_urls: ["\($fix)/rss.xml"]})]]
	+ [range(0; $ndg) | ["dg", call(.; "news_digest"; "cluster daily digest \(.)";
		{news_urls: ["\($fix)/rss.xml", "\($fix)/news"], hour: $h, minute: $m,
		 timezone: "UTC"})]]
	# interleave the kinds, so every shard and every second gets a mix
	| to_entries | sort_by((.key * 7919) % length) | .[].value
	| "\(.[0]) \(.[1] | tojson)"' >"$WORK/bodies" || die "jq: task bodies"

step "create $N tasks through nginx ($N_SCH schedules, $N_WEB web_monitor, $N_THR threshold_watch, $N_SD digest schedules, $N_DG news_digest at $(date -u -d "@$DG_AT" +%H:%M) UTC)"
: >"$WORK/tasks"
CS=$(now_us)
k=0 create_fail=0
while read -r kind body; do
	# 25 calls a second: under nginx's 30 r/s (mcp_post still retries a 429)
	wait_until_us $((CS + k * 40000))
	k=$((k + 1))
	mcp_post "$body"
	id=$(jq -r '.result.structuredContent.data.task_id // empty' <<<"$RESP" 2>/dev/null)
	if [ "$CODE" != 200 ] || [ -z "$id" ]; then
		create_fail=$((create_fail + 1))
		[ $create_fail -le 3 ] && fail "create ($kind) through nginx: HTTP $CODE: ${RESP:0:300}"
		continue
	fi
	echo "$id $kind" >>"$WORK/tasks"
done <"$WORK/bodies"
CE=$(now_us)
expect_eq "tasks created through nginx" "$(wc -l <"$WORK/tasks")" "$N"
[ $create_fail -eq 0 ] || die "$create_fail create calls failed"
# which node answered each call (nginx's access log: upstream=ADDR)
echo "    created in $(((CE - CS) / 1000)) ms; answered by: $(grep -o 'upstream=[0-9.:]*' "$NGX/logs/access.log" |
	sort | uniq -c | awk '{printf "%s %s  ", $2, $1}')"
for i in 0 1 2; do
	n=$(grep -cE "\"POST /mcp.*upstream=127\.0\.0\.1:${NODE_PORT[$i]}( |,|$)" "$NGX/logs/access.log")
	[ "$n" -gt 0 ] && ok || fail "nginx sent no create call to node$i"
done
jq -R -s 'split("\n") | map(select(length > 0) | split(" ") | {key: .[0], value: .[1]}) | from_entries' \
	"$WORK/tasks" >"$WORK/kinds.json"

# ---- the log, read incrementally ------------------------------------------------------------

LOG=$WORK/log.jsonl
: >"$LOG"
LAST=0
# sync_log: append the events after the last position read (positions are gap-free
# and monotonic, so nothing is skipped); fails while the store is unreachable
sync_log() {
	amb events --after "$LAST" >"$WORK/chunk" 2>"$WORK/chunk.err" || return 1
	[ -s "$WORK/chunk" ] || return 0
	cat "$WORK/chunk" >>"$LOG"
	LAST=$(tail -n 1 "$WORK/chunk" | jq -r .position)
}

# progress: per kind, the least number of events of the kind's type any task has,
# plus the breaches and events per type, as one JSON object in PROG
PROG='{}'
progress() {
	sync_log || return 1
	PROG=$(jq -c -n --slurpfile k "$WORK/kinds.json" '
		($k[0]) as $kinds
		| (reduce (inputs | select(.stream | startswith("task-"))
			   | [(.stream | ltrimstr("task-")), .type]) as [$t, $ty]
			({}; .[$t][$ty] += 1)) as $c
		| def least($kind; $type):
			[$kinds | to_entries[] | select(.value == $kind) | ($c[.key][$type] // 0)] | min;
		{sched: least("sched"; "scheduled_trigger"), web: least("web"; "web_content_change"),
		 thr: least("thr"; "threshold_breach"), sd: least("sd"; "scheduled_trigger"),
		 sd_digest: least("sd"; "daily_news_digest"), dg: least("dg"; "daily_news_digest")}' \
		"$LOG") || { PROG='{}'; return 1; }
}
# round_done R: every schedule fired R times, every page and digest schedule
# recorded its R-th change, and the price API was read R times per threshold_watch
price_reads() { curl -s --max-time 3 "$FIX/_control/stats" | jq -r '.routes.price // 0'; }
round_done() {
	progress || return 1
	[ "$(jq -r --argjson r "$1" '.sched >= $r and .sd >= $r and .web >= $r and .sd_digest >= $r' \
		<<<"$PROG")" = true ] || return 1
	[ "$(price_reads)" -ge $(($1 * N_THR)) ]
}
ROUND_DEADLINE=45 # seconds after a round's last slot is due

step "round 1 (at creation)"
if wait_for $((ROUND_DEADLINE + (CE - CS) / 1000000)) round_done 1; then ok; else
	fail "round 1 not complete: $PROG, price reads $(price_reads)"
fi
expect_eq "round 1: every threshold_watch breached" "$(jq .thr <<<"$PROG")" 1
echo "    $PROG"

# Change the site for round 2: every watched page, the price (back under the
# threshold: the watches re-arm), one more news item.
change_site() { # ROUND PRICE
	local urls=() i
	for ((i = 0; i < N_WEB; i++)); do urls+=("$FIX/_control/bump?page=$i"); done
	curl -s -f -X POST "${urls[@]}" >/dev/null || fail "fixture: bump pages"
	curl -s -f -o /dev/null -X POST "$FIX/_control/price?value=$2" || fail "fixture: price"
	curl -s -f -o /dev/null -X POST "$FIX/_control/news/add" \
		--data-binary "$(jq -cn --arg t "Cluster headline of round $1" --arg l "$FIX/articles/$((100 + $1))" \
			'{title: $t, link: $l, summary: "round", category: "technology"}')" ||
		fail "fixture: news/add"
}
change_site 2 $PRICE_LO

# ---- SIGKILL one node just before round 2 ---------------------------------------------------
# Its tasks' first slots of round 2 come due while nobody runs them; the others
# must take its shards within the lease time and run those slots late, once.
VICTIM=1
KILL_AT=$((CS + 60000000 - LEASE_MS * 1000 / 2))
wait_until_us "$KILL_AT"
step "SIGKILL node$VICTIM (${NODE_OWNER[$VICTIM]}) $((LEASE_MS / 2000)) s before round 2"
KILL_US=$(now_us)
kill -KILL "${NODE_PID[$VICTIM]}"
wait "${NODE_PID[$VICTIM]}" 2>/dev/null
NODE_PID[$VICTIM]=''
survivors_hold_all() { shards_balanced 0 2; }
if wait_for $((LEASE_MS / 1000 + 8)) survivors_hold_all; then
	TAKEOVER_US=$(now_us)
	TAKEOVER_MS=$(((TAKEOVER_US - KILL_US) / 1000))
	ok
	echo "    the two others hold all 64 shards $TAKEOVER_MS ms after the kill: $SHARDS_LINE"
	[ $TAKEOVER_MS -le $((LEASE_MS + 5000)) ] && ok ||
		fail "takeover took $TAKEOVER_MS ms, lease $LEASE_MS ms"
else
	fail "the two other nodes do not hold all 64 shards $((LEASE_MS / 1000 + 8)) s after the kill: $SHARDS_LINE"
fi

# ---- restart PostgreSQL during round 2 ------------------------------------------------------
if [ "$DBKIND" = postgres ]; then
	progress
	BEFORE=$LAST
	step "restart PostgreSQL under load (log position $BEFORE)"
	# Down until both nodes notice (their /health reads the store: 503 once
	# the reconnect wait is over, not a hang) and at least CLUSTER_PG_DOWN_S
	# seconds, so slots come due while the database is away; then up again on
	# its port.
	OUT_START=$(now_us)
	bash "$PGTMP" stop "$WORK/pg" 2>"$WORK/pgtmp.err" || fail "pgtmp.sh stop: $(cat "$WORK/pgtmp.err")"
	node_down() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${NODE_BASE[$1]}/health")" = 503 ]; }
	for i in 0 2; do
		if wait_for 15 node_down $i; then ok; else fail "node$i /health does not answer 503 with the database down"; fi
	done
	wait_until_us $((OUT_START + ${CLUSTER_PG_DOWN_S:-8} * 1000000))
	bash "$PGTMP" restart "$WORK/pg" 2>"$WORK/pgtmp.err" || fail "pgtmp.sh restart: $(cat "$WORK/pgtmp.err")"
	OUT_END=$(now_us)
	echo "    PostgreSQL was down for $(((OUT_END - OUT_START) / 1000)) ms"
	node_healthy() { [ "$(health "$1" | jq -r '.status + " " + (.engine.nodes | tostring)' 2>/dev/null)" = "healthy 2" ]; }
	for i in 0 2; do
		if wait_for 30 node_healthy $i; then ok; else fail "node$i /health after the restart: $(health $i)"; fi
	done
	log_grew() { sync_log && [ "$LAST" -gt "$BEFORE" ]; }
	if wait_for 60 log_grew; then ok; else fail "no event recorded after the PostgreSQL restart"; fi
	if wait_for 30 survivors_hold_all; then ok; else fail "shards after the restart: $SHARDS_LINE"; fi
fi

step "round 2"
if wait_for $((ROUND_DEADLINE + (CE - CS) / 1000000 + 60 - (($(now_us) - CS) / 1000000))) round_done 2; then ok; else
	fail "round 2 not complete: $PROG, price reads $(price_reads)"
fi
echo "    $PROG"
change_site 3 $PRICE_HI

step "round 3"
round3_done() { round_done 3 && [ "$(jq '.dg >= 1' <<<"$PROG")" = true ]; }
if wait_for $((ROUND_DEADLINE + (CE - CS) / 1000000 + 120 - (($(now_us) - CS) / 1000000))) round3_done; then ok; else
	fail "round 3 not complete: $PROG, price reads $(price_reads)"
fi
echo "    $PROG"

# ---- every deliverable event reached the feedback server ------------------------------------
step "delivery to the feedback server"
sync_log
SNAP_US=$(now_us)
jq -r 'select((.stream | startswith("task-"))
	and ((.type | IN("web_content_change", "scheduled_trigger", "daily_news_digest",
			 "threshold_breach", "task_check_failed"))
	     or (.type == "task_paused" and .data.automatic == true))) | .event_id' "$LOG" |
	sort -u >"$WORK/deliverable"
fb_ids() {
	"$AMBIENT" --db "$FB_DB" events --type feedback_received 2>/dev/null | jq -r .event_id | sort -u
}
MISSING=0
all_delivered() {
	fb_ids >"$WORK/received"
	MISSING=$(comm -23 "$WORK/deliverable" "$WORK/received" | wc -l)
	[ "$MISSING" -eq 0 ]
}
if wait_for 60 all_delivered; then ok; else
	fail "$MISSING of $(wc -l <"$WORK/deliverable") deliverable events never reached the feedback server, e.g. $(comm -23 "$WORK/deliverable" "$WORK/received" | head -3 | tr '\n' ' ')"
fi
FB_DUP=$(curl -s --max-time 3 "$FEEDBACK/metrics" | awk '$1 == "ambient_feedback_duplicates_total" {print $2 + 0}')
# In order per task: the positions of each task's events, as they first arrived
# (the feedback server keeps the first receipt of an id), only ever grow.
"$AMBIENT" --db "$FB_DB" events --type feedback_received 2>/dev/null >"$WORK/fb_events"
OUT_OF_ORDER=$(jq -s '[group_by(.data.task_id)[] | [.[].data.position] | select(. != sort)] | length' \
	"$WORK/fb_events")
expect_eq "tasks whose events reached the feedback server out of order" "$OUT_OF_ORDER" 0
# Shared: with --delivery-partitions 3 every node delivers its share (the
# deliverer's owner is host:pid:random).
sync_log
DELIVERING=$(jq -r 'select(.type == "feedback_delivered") | .metadata.deliverer | split(":")[1]' "$LOG" |
	sort | uniq -c | awk '{printf "pid %s %s  ", $2, $1}')
N_DELIVERING=$(jq -r 'select(.type == "feedback_delivered") | .metadata.deliverer | split(":")[1]' "$LOG" |
	sort -u | wc -l)
echo "    delivered by: $DELIVERING"
if [ "$N_DELIVERING" -ge 2 ]; then ok; else fail "delivery was not shared: only $N_DELIVERING node(s) delivered"; fi

# ---- stop the nodes, then read the whole log ----------------------------------------------
step "stop the nodes"
for i in 0 2; do
	kill -TERM "${NODE_PID[$i]}"
	if wait "${NODE_PID[$i]}"; then ok; else fail "node$i did not exit 0 on SIGTERM"; fi
	NODE_PID[$i]=''
done
sync_log || fail "reading the log after the stop: $(cat "$WORK/chunk.err")"

# `ambient replay` on the shared database: the projections the three nodes kept
# (through a kill and an outage) are what the log folds to.
if amb replay --check >"$WORK/replay.out" 2>&1; then ok; else
	fail "ambient replay --check on the cluster's database: $(tail -n 5 "$WORK/replay.out")"
fi

step "the event log"
owners=$(jq -cn --arg a "${NODE_OWNER[0]}" --arg b "${NODE_OWNER[1]}" --arg c "${NODE_OWNER[2]}" \
	'{($a): "node0", ($b): "node1", ($c): "node2"}')
jq -n --slurpfile k "$WORK/kinds.json" --argjson owners "$owners" --arg victim "${NODE_OWNER[$VICTIM]}" \
	--argjson out_start "${OUT_START:-0}" --argjson out_end "${OUT_END:-0}" \
	--argjson kill_us "$KILL_US" --argjson takeover_us "${TAKEOVER_US:-$KILL_US}" --argjson snap_us "$SNAP_US" '
	def us: capture("^(?<s>[^.Z]+)(\\.(?<f>[0-9]+))?Z$")
		| ((.s + "Z") | fromdateiso8601) * 1000000 + ((.f // "0") + "000000" | .[0:6] | tonumber);
	($k[0]) as $kinds
	| [inputs | select(.stream | startswith("task-"))
	   | . + {task: (.stream | ltrimstr("task-")), at: (.recorded_at | us)}] as $ev
	| ["scheduled_trigger", "web_content_change", "daily_news_digest", "threshold_breach"] as $mon
	| [$ev[] | select(.type | IN($mon[]))] as $m
	| ($ev | map(select(.type == "task_created")) | map({key: .task, value: .at}) | from_entries) as $created
	| ($m | group_by(.task) | map({key: .[0].task, value: .}) | from_entries) as $by
	| {
	  tasks: ($kinds | length),
	  events: ($ev | length),
	  monitor_events: ($m | length),
	  by_type: ($ev | group_by(.type) | map({key: .[0].type, value: length}) | from_entries),
	  # 1. at most one event of a type per task and slot (and URL)
	  duplicates: [$m | group_by([.task, .type, .metadata.slot_us, (.data.url // "")])[]
			| select(length > 1) | {task: .[0].task, type: .[0].type, slot_us: .[0].metadata.slot_us,
			  n: length, by: [.[].metadata.engine]}],
	  without_slot: [$m[] | select(.metadata.slot_us == null) | {task, type}],
	  # 2. schedules: a trigger every minute from the creation, none missing up to
	  #    the snapshot (slots due 10 s before it), catch-ups listed
	  schedule_problems: [$kinds | to_entries[] | select(.value == "sched" or .value == "sd") | .key as $t
		| ([($by[$t] // [])[] | select(.type == "scheduled_trigger") | .metadata.slot_us] | sort) as $s
		| ($created[$t]) as $c
		| ([range(0; 1000) | $c + . * 60000000 | select(. + 10000000 <= $snap_us)] | length) as $want
		| [ (if ($s | length) == 0 then "never fired" else empty end),
		    (if ($s | length) > 0 and (($s[0] - $c) | fabs) > 1000000
		     then "first slot \($s[0] - $c) us after creation" else empty end),
		    (range(1; $s | length) as $i | ($s[$i] - $s[$i - 1]) as $d
		     | select($d != 60000000) | "slot \($i): \($d / 1000000) s after the previous"),
		    (if ($s | length) < $want then "\($s | length) slots, \($want) due" else empty end) ]
		| select(length > 0) | {task: $t, problems: .}],
	  catch_ups: [$m[] | select(.data.catch_up == true) | {task, missed: .data.missed}],
	  # 3. exactly the changes there were: pages 3, breaches 2, digest schedules 3, daily 1
	  count_problems: [$kinds | to_entries[] | .key as $t | .value as $kind
		| (($by[$t] // []) | group_by(.type) | map({key: .[0].type, value: length}) | from_entries) as $n
		| {web: ["web_content_change", 3], thr: ["threshold_breach", 2],
		   sd: ["daily_news_digest", 3], dg: ["daily_news_digest", 1]}[$kind] as $want
		| select($want != null and ($n[$want[0]] // 0) != $want[1])
		| {task: $t, kind: $kind, type: $want[0], got: ($n[$want[0]] // 0), want: $want[1]}],
	  # digests of a schedule go with a trigger of the same slot
	  digest_without_trigger: [$kinds | to_entries[] | select(.value == "sd") | .key as $t
		| ([($by[$t] // [])[] | select(.type == "scheduled_trigger") | .metadata.slot_us]) as $tr
		| ($by[$t] // [])[] | select(.type == "daily_news_digest")
		| select(.metadata.slot_us as $s | $tr | index($s) | not) | {task: $t, slot_us: .metadata.slot_us}],
	  # 4. the killed node: nothing after its death; its tasks went on elsewhere
	  victim_after_kill: [$m[] | select(.metadata.engine == $victim and .at > $kill_us + 1000000)
		| {task, type, at: .recorded_at}],
	  victim_tasks: (([$m[] | select(.metadata.engine == $victim) | .task] | unique) as $vt
		| {n: ($vt | length),
		   resumed: ([$vt[] | . as $t | select(any($m[]; .task == $t and .at > $kill_us
			and .metadata.engine != $victim))] | length)}),
	  # slots of its tasks that came due while it was dead (until the takeover
	  # was seen), run late by the others
	  late_after_kill: (([$m[] | select(.metadata.engine == $victim) | .task] | unique) as $vt
		| [$m[] | select(.metadata.slot_us > $kill_us and .metadata.slot_us <= $takeover_us)
		   | select(.task as $t | $vt | index($t)) | (.at - .metadata.slot_us)] as $late
		| {n: ($late | length), max_lag_ms: (($late | max // 0) / 1000 | floor)}),
	  # slots due while the victim was dead, run late by the others
	  # slots that came due while the database was down
	  during_outage: ([$m[] | select(.metadata.slot_us >= $out_start and .metadata.slot_us <= $out_end)
		| (.at - .metadata.slot_us)] as $l
		| {n: ($l | length), max_lag_ms: (($l | max // 0) / 1000 | floor)}),
	  max_lag_ms: (([$m[] | .at - .metadata.slot_us] | max // 0) / 1000 | floor),
	  per_node: ($m | group_by(.metadata.engine)
		| map({key: ($owners[.[0].metadata.engine] // .[0].metadata.engine), value: length}) | from_entries),
	  check_failed: ([$ev[] | select(.type == "task_check_failed") | {task, reason: (.data.error // .data.reason // .data)}] | .[0:5]),
	  paused: ([$ev[] | select(.type == "task_paused") | {task, reason: .data.reason}] | .[0:5])
	}' "$LOG" >"$WORK/summary.json" || die "jq: the analysis failed"
S=$WORK/summary.json

expect_eq "duplicate slot events" "$(jq -c '.duplicates | .[0:5]' "$S")" "[]"
expect_eq "monitor events without slot_us" "$(jq -c '.without_slot | .[0:5]' "$S")" "[]"
expect_eq "schedules with a gap, a missing or a shifted slot" "$(jq -c '.schedule_problems | .[0:5]' "$S")" "[]"
expect_eq "catch-up runs (no slot was due longer than the grace)" "$(jq -c '.catch_ups | .[0:5]' "$S")" "[]"
expect_eq "tasks with more or fewer events than changes" "$(jq -c '.count_problems | .[0:5]' "$S")" "[]"
expect_eq "digests without their slot's trigger" "$(jq -c '.digest_without_trigger | .[0:5]' "$S")" "[]"
expect_eq "events by the killed node after its death" "$(jq -c '.victim_after_kill | .[0:5]' "$S")" "[]"
expect_eq "the killed node's tasks resumed on the others" "$(jq -r '.victim_tasks | .resumed == .n and .n > 0' "$S")" true
expect_eq "no task paused" "$(jq -c .paused "$S")" "[]"
[ "$(jq '.late_after_kill.n' "$S")" -gt 0 ] && ok || echo "    (no slot came due while the killed node was dead)"
expect_eq "slots due while a node was dead ran within the lease time" \
	"$(jq --argjson l $((LEASE_MS + 5000)) '.late_after_kill.max_lag_ms <= $l' "$S")" true
expect_eq "no check failed" "$(jq -c .check_failed "$S")" "[]"
for i in 0 1 2; do
	[ "$(jq --arg n node$i '.per_node[$n] // 0' "$S")" -gt 0 ] && ok || fail "node$i recorded no event"
done

step "summary"
jq -r --arg db "$DBKIND" --arg mcp "$MCP_MODE" --argjson fbdup "${FB_DUP:-0}" \
	--argjson delivered "$(wc -l <"$WORK/deliverable")" --arg takeover "${TAKEOVER_MS:-?}" '
	"    store \($db), MCP \($mcp) through nginx; \(.tasks) tasks, \(.events) events in task streams, \(.monitor_events) slot events",
	"    by type: \(.by_type | to_entries | map("\(.key) \(.value)") | join(", "))",
	"    slot events per node: \(.per_node | to_entries | map("\(.key) \(.value)") | join(", "))",
	"    killed node: \(.victim_tasks.n) tasks, \(.victim_tasks.resumed) resumed elsewhere; shards taken over in \($takeover) ms; \(.late_after_kill.n) slots due while it was dead ran at most \(.late_after_kill.max_lag_ms) ms late",
	"    database outage: \(.during_outage.n) slots came due while it was down, run at most \(.during_outage.max_lag_ms) ms late",
	"    max slot lag \(.max_lag_ms) ms; duplicates \(.duplicates | length); catch-ups \(.catch_ups | length)",
	"    \($delivered) deliverable events all at the feedback server (\($fbdup) redeliveries deduplicated)"' "$S"
refused=0 retried=0
for i in 0 1 2; do
	refused=$((refused + $(grep -c "for this slot was already recorded" "$WORK/node$i.err")))
	retried=$((retried + $(grep -c "the store could not record this run" "$WORK/node$i.err")))
done
echo "    duplicate slot appends refused by the store: $refused"
echo "    runs the store could not take while it was down, put back and run again: $retried"

echo "cluster_test: $passed passed, $failed failed ($((SECONDS - T0)) s)"
[ "$failed" -eq 0 ]

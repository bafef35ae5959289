#!/usr/bin/env bash
# deploy_test.sh - the files of deploy/ (docs/cluster.md), checked for real:
#
#   1. deploy/nginx.conf rendered into a temporary prefix passes `nginx -t` (also as an
#      unprivileged user when the test runs as root); deploy/nginx-docker.conf passes too and
#      keeps the same server block;
#   2. deploy/docker-compose.yml is valid YAML with the expected services, wired to each other
#      and to nginx-docker.conf (`docker compose config` too when Docker Compose is there);
#      the Dockerfile's runtime packages cover the libraries the binary links;
#   3. the systemd units pass `systemd-analyze verify` (skipped with a note without it), and
#      every setting the deploy files name is one ambient knows;
#   4. end to end: three `ambient serve` nodes on ephemeral loopback ports sharing one SQLite
#      store, nginx with the rendered deploy/nginx.conf in front, and through nginx: /health,
#      MCP initialize + tools/list, a task created on one node seen by all, the dashboard's SSE
#      stream arriving while it is open, requests spread over every node, a killed node
#      skipped without a failed request, and the rate limit.
#
# MCP sessions: when a session made on one node is known to another (sessions in the store),
# the nodes run with sessions and the test uses them through nginx; otherwise (sessions per
# process) they run --stateless, and the test says so.  DEPLOY_TEST_SESSIONS=1 makes shared
# sessions required.
#
# Usage: deploy_test.sh PATH_TO_AMBIENT      (exit 77: nginx is not installed)
set -u
AMBIENT=${1:?usage: deploy_test.sh PATH_TO_AMBIENT}
AMBIENT=$(cd "$(dirname "$AMBIENT")" && pwd)/$(basename "$AMBIENT")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEPLOY=$ROOT/deploy
NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
if [ -z "$NGINX" ]; then
	echo "deploy_test: SKIP: nginx is not installed (make deps installs it)"
	exit 77
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ambient-deploy-XXXXXX")
chmod 755 "$WORK" # nginx started as root runs its workers as nobody
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
export XDG_CONFIG_HOME="$WORK/config" XDG_DATA_HOME="$WORK/xdg"

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() {
	failed=$((failed + 1))
	echo "FAIL: $*" >&2
}
note() { echo "deploy_test: note: $*"; }
check() { # NAME COMMAND...: ok when the command succeeds
	local name=$1
	shift
	if "$@"; then ok; else fail "$name"; fi
}

# forget PID: a process of ours that has ended; stop PID: end one, and wait for it.
forget() {
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}
stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	forget "$1"
}

# A port nobody listens on now (nginx needs a number; port 0 is not allowed there).  Taken
# at random, so a race with another process is unlikely, and start_nginx retries anyway.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# render SRC OUT LISTEN PORT1 PORT2 PORT3: deploy/nginx.conf with the public port and the
# three nodes' ports replaced; fails when a template line is missing.
render() {
	local src=$1 out=$2 listen=$3
	sed -e "s/^\([[:space:]]*\)listen 80;/\1listen 127.0.0.1:$listen;/" \
		-e "s/127\.0\.0\.1:8001 /127.0.0.1:$4 /" -e "s/127\.0\.0\.1:8002 /127.0.0.1:$5 /" \
		-e "s/127\.0\.0\.1:8003 /127.0.0.1:$6 /" "$src" >"$out"
	grep -q "listen 127.0.0.1:$listen;" "$out" && grep -q "server 127.0.0.1:$4 " "$out" &&
		grep -q "server 127.0.0.1:$5 " "$out" && grep -q "server 127.0.0.1:$6 " "$out"
}

# new_prefix DIR: an nginx prefix as deploy/nginx.conf's header says (logs/, temp/).
new_prefix() {
	mkdir -p "$1/logs" "$1/temp"
}

# ---- 1. nginx -t -------------------------------------------------------------------------------
NGX_T=$WORK/nginx-t
new_prefix "$NGX_T"
if render "$DEPLOY/nginx.conf" "$NGX_T/nginx.conf" "$(free_port)" 8001 8002 8003; then ok; else
	fail "deploy/nginx.conf lacks 'listen 80;' or a 'server 127.0.0.1:800N ' line to template"
fi
if OUT=$("$NGINX" -t -p "$NGX_T/" -c nginx.conf -e logs/error.log 2>&1); then ok; else
	fail "nginx -t on deploy/nginx.conf: $OUT"
fi
if [ "$(id -u)" = 0 ]; then
	# The claim that it runs as any user with a prefix of its own.
	if command -v setpriv >/dev/null; then
		NGX_U=$WORK/nginx-user
		new_prefix "$NGX_U"
		cp "$NGX_T/nginx.conf" "$NGX_U/nginx.conf"
		chown -R 65534:65534 "$NGX_U"
		if OUT=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
			"$NGINX" -t -p "$NGX_U/" -c nginx.conf -e logs/error.log 2>&1); then ok; else
			fail "nginx -t on deploy/nginx.conf as an unprivileged user: $OUT"
		fi
	else
		note "setpriv missing: nginx -t as an unprivileged user not tried"
	fi
fi

# nginx-docker.conf: the same server block as nginx.conf ...
server_block() { sed -n '/^\tserver {/,$p' "$1" | grep -v '^[[:space:]]*#' | grep -v '^[[:space:]]*$'; }
if diff <(server_block "$DEPLOY/nginx.conf") <(server_block "$DEPLOY/nginx-docker.conf") >"$WORK/srv.diff"; then
	ok
else
	fail "the server blocks of nginx.conf and nginx-docker.conf differ: $(cat "$WORK/srv.diff")"
fi
# ... and valid: names mapped to loopback, paths into a prefix; `resolve` needs nginx >= 1.27.3.
NGX_D=$WORK/nginx-docker
new_prefix "$NGX_D"
NVER=$("$NGINX" -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')
RESOLVE_OK=0
if [ "$(printf '%s\n1.27.3\n' "$NVER" | sort -V | head -1)" = 1.27.3 ]; then RESOLVE_OK=1; fi
sed -e "s/^\([[:space:]]*\)listen 80;/\1listen 127.0.0.1:$(free_port);/" \
	-e 's/mcp-server-[123]:/127.0.0.1:/' \
	-e 's|^worker_processes auto;|worker_processes 1;\npid nginx.pid;|' \
	-e 's|/dev/stderr|logs/error.log|; s|/dev/stdout|logs/access.log|' \
	-e 's|^http {|http {\n\tclient_body_temp_path temp/b; proxy_temp_path temp/p; fastcgi_temp_path temp/f; uwsgi_temp_path temp/u; scgi_temp_path temp/s;|' \
	"$DEPLOY/nginx-docker.conf" >"$NGX_D/nginx.conf"
if [ $RESOLVE_OK = 0 ]; then
	note "nginx $NVER predates 'resolve' in upstreams (1.27.3): nginx-docker.conf tested without it"
	sed -i 's/ resolve;/;/' "$NGX_D/nginx.conf"
fi
if OUT=$("$NGINX" -t -p "$NGX_D/" -c nginx.conf -e logs/error.log 2>&1); then ok; else
	fail "nginx -t on deploy/nginx-docker.conf: $OUT"
fi

# ---- 2. docker-compose.yml and the Dockerfile ------------------------------------------------------
COMPOSE=$DEPLOY/docker-compose.yml
if docker compose version >/dev/null 2>&1; then
	if OUT=$(AMBIENT_API_KEYS=test-key docker compose -f "$COMPOSE" config -q 2>&1); then ok; else
		fail "docker compose config: $OUT"
	fi
else
	note "Docker Compose not installed: 'docker compose config' not run"
fi
if python3 -c 'import yaml' 2>/dev/null; then
	if OUT=$(python3 - "$COMPOSE" "$DEPLOY/nginx-docker.conf" 2>&1 <<'EOF'
import re, sys, yaml
compose, ngx = sys.argv[1], open(sys.argv[2]).read()
d = yaml.safe_load(open(compose))
bad = []
svc = d.get("services") or {}
want = ["postgres", "mcp-server-1", "mcp-server-2", "mcp-server-3", "event-feedback-server", "nginx"]
for w in want:
    if w not in svc:
        bad.append("no service " + w)
pg = svc.get("postgres", {})
if not str(pg.get("image", "")).startswith("postgres:15"):
    bad.append("postgres is not the postgres:15 image")
if "pg_isready" not in str(pg.get("healthcheck", {}).get("test")):
    bad.append("postgres has no pg_isready health check")
if not any(str(v).endswith(":/var/lib/postgresql/data") for v in pg.get("volumes", [])):
    bad.append("postgres keeps no volume")
listen = {}
for name in ["mcp-server-1", "mcp-server-2", "mcp-server-3", "event-feedback-server"]:
    s = svc.get(name, {})
    cmd = s.get("command") or []
    env = s.get("environment") or {}
    role = "serve" if name.startswith("mcp") else "feedback"
    if not cmd or cmd[0] != role or "--listen" not in cmd:
        bad.append(f"{name}: command is not `{role} --listen ...`: {cmd}")
        continue
    hostport = cmd[cmd.index("--listen") + 1]
    port = hostport.rsplit(":", 1)[1]
    listen[name] = port
    if not hostport.startswith("0.0.0.0:"):
        bad.append(f"{name}: does not listen on 0.0.0.0 inside its container")
    if not env.get("AMBIENT_API_KEYS"):
        bad.append(f"{name}: no AMBIENT_API_KEYS (required beyond loopback)")
    if not str(env.get("AMBIENT_DB", "")).startswith("postgres://") or "@postgres:" not in str(env.get("AMBIENT_DB")):
        bad.append(f"{name}: AMBIENT_DB is not the postgres service")
    if "postgres" not in (s.get("depends_on") or {}):
        bad.append(f"{name}: does not depend on postgres")
    test = " ".join(map(str, s.get("healthcheck", {}).get("test", [])))
    if f"127.0.0.1:{port}/health" not in test:
        bad.append(f"{name}: health check does not ask its own /health: {test}")
    if not any(str(p).endswith(f":{port}") for p in s.get("ports", [])):
        bad.append(f"{name}: port {port} not published")
    if "build" not in s or s["build"].get("dockerfile") != "deploy/Dockerfile":
        bad.append(f"{name}: not built from deploy/Dockerfile")
for name in ["mcp-server-1", "mcp-server-2", "mcp-server-3"]:
    url = str((svc.get(name, {}).get("environment") or {}).get("EVENT_FEEDBACK_URL", ""))
    if url != f"http://event-feedback-server:{listen.get('event-feedback-server')}/process_background_feedback":
        bad.append(f"{name}: EVENT_FEEDBACK_URL does not name the feedback service: {url}")
if [listen.get(f"mcp-server-{i}") for i in (1, 2, 3)] != ["8001", "8002", "8003"]:
    bad.append(f"the nodes do not listen on 8001-8003: {listen}")
ups = re.findall(r"^\s*server\s+([\w.-]+):(\d+)\b", ngx, re.M)
if sorted(ups) != sorted((f"mcp-server-{i}", listen.get(f"mcp-server-{i}")) for i in (1, 2, 3)):
    bad.append(f"nginx-docker.conf upstreams {ups} are not the node services")
n = svc.get("nginx", {})
if not any(str(v).startswith("./nginx-docker.conf:/etc/nginx/nginx.conf") for v in n.get("volumes", [])):
    bad.append("nginx does not mount ./nginx-docker.conf as /etc/nginx/nginx.conf")
if not any(str(p).endswith(":80") for p in n.get("ports", [])):
    bad.append("nginx does not publish port 80")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF
	); then ok; else
		fail "docker-compose.yml: $OUT"
	fi
else
	# No YAML parser: the shape, by text.
	note "python3 yaml missing: docker-compose.yml checked by text only"
	for s in postgres mcp-server-1 mcp-server-2 mcp-server-3 event-feedback-server nginx; do
		check "docker-compose.yml has service $s" grep -q "^  $s:$" "$COMPOSE"
	done
	check "docker-compose.yml has no tabs" bash -c "! grep -q $'\t' '$COMPOSE'"
fi

# Every file the build stage copies exists, and the runtime stage installs the package of
# every shared library the binary links (found with dpkg).
for f in $(sed -n 's/^COPY \([^-][^ ]*\) .*/\1/p' "$DEPLOY/Dockerfile"); do
	check "Dockerfile copies $f, which exists" test -e "$ROOT/$f"
done
RUNTIME_PKGS=$(sed -n '/^FROM debian:12-slim/,$p' "$DEPLOY/Dockerfile")
if command -v dpkg >/dev/null && command -v objdump >/dev/null; then
	for lib in $(objdump -p "$AMBIENT" | awk '/NEEDED/ {print $2}'); do
		case $lib in lib*san.so* | libc.so* | libm.so* | libpthread.so* | libdl.so* | ld-linux*) continue ;; esac
		path=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
		pkg=$( (dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null) | head -1 | cut -d: -f1)
		if [ -z "$pkg" ]; then
			note "no Debian package found for $lib"
		elif grep -qw -- "$pkg" <<<"$RUNTIME_PKGS"; then
			ok
		else
			fail "the Dockerfile's runtime stage does not install $pkg (for $lib)"
		fi
	done
else
	note "dpkg or objdump missing: the Dockerfile's runtime packages not checked"
fi

# ---- 3. systemd units, and the settings the deploy files name ---------------------------------------
if command -v systemd-analyze >/dev/null; then
	U=$WORK/units
	mkdir -p "$U"
	for f in "$DEPLOY"/systemd/*.service; do
		sed -e "s#/usr/local/bin/ambient#$AMBIENT#g" -e "s#/usr/sbin/nginx#$NGINX#g" "$f" >"$U/$(basename "$f")"
	done
	ln -s 'ambient-serve@.service' "$U/ambient-serve@8001.service"
	# verify warns about unknown keys and bad values but exits 0: any word about our units
	# is a failure.
	OUT=$(cd "$U" && systemd-analyze verify ./ambient-serve@8001.service ./ambient-feedback.service \
		./ambient-nginx.service 2>&1)
	rc=$?
	if [ $rc = 0 ] && ! grep -q "ambient" <<<"$OUT"; then ok; else
		fail "systemd-analyze verify: $OUT"
	fi
else
	note "systemd-analyze missing: the systemd units were not verified"
fi
# Names in ambient.env (set or commented out) and in the compose environments are ambient's.
KNOWN=$( ("$AMBIENT" serve --help; "$AMBIENT" feedback --help) | sed -n 's/.*\[env \([A-Z_0-9]*\)\].*/\1/p' | sort -u)
for name in $(sed -n 's/^#\{0,1\}\([A-Z][A-Z_0-9]*\)=.*/\1/p' "$DEPLOY/systemd/ambient.env") \
	$(sed -n 's/^ *\(AMBIENT_[A-Z_0-9]*\|EVENT_FEEDBACK_URL\|TWILIO_[A-Z_]*\|OPENAI_[A-Z_]*\):.*/\1/p' "$COMPOSE"); do
	if grep -qx "$name" <<<"$KNOWN"; then ok; else fail "deploy files set $name, which ambient does not read"; fi
done

# ---- 4. end to end through nginx ------------------------------------------------------------------
DB="sqlite:$WORK/ambient.db"
NODE_PIDS=() NODE_PORTS=()

# start_node NAME ARGS...: `ambient serve` on an ephemeral loopback port.
start_node() {
	local name=$1
	shift
	"$AMBIENT" serve --listen 127.0.0.1:0 --no-auth --no-delivery --db "$DB" \
		--data-dir "$WORK/data" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	local pid=$!
	PIDS+=("$pid")
	local end=$((SECONDS + 20))
	until grep -q '^listening ' "$WORK/$name.out" 2>/dev/null; do
		if [ $SECONDS -ge $end ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "node $name did not start:" >&2
			cat "$WORK/$name.err" >&2
			exit 1
		fi
		sleep 0.05
	done
	NODE_PIDS+=("$pid")
	NODE_PORTS+=("$(sed -n 's|^listening http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$WORK/$name.out")")
}

# post URL BODY [curl args...]: sets STATUS, BODY_OUT, HDRS.
post() {
	local url=$1 body=$2
	shift 2
	BODY_OUT=$(curl -s -o - -D "$WORK/hdrs" -w '\n%{http_code}' -X POST "$url" \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
		"$@" --data-binary "$body")
	STATUS=${BODY_OUT##*$'\n'}
	BODY_OUT=${BODY_OUT%$'\n'*}
	HDRS=$(tr -d '\r' <"$WORK/hdrs" 2>/dev/null)
}
session_id() { sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p' <<<"$HDRS" | head -1; }

INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"deploy_test","version":"1"}}}'
LIST='{"jsonrpc":"2.0","id":2,"method":"tools/list"}'

# Are MCP sessions shared between nodes?  A session made on one node, used on another.
start_node probe1
start_node probe2
post "http://127.0.0.1:${NODE_PORTS[0]}/mcp" "$INIT"
SID=$(session_id)
post "http://127.0.0.1:${NODE_PORTS[1]}/mcp" "$LIST" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25'
if [ -n "$SID" ] && [ "$STATUS" = 200 ] && [[ "$BODY_OUT" == *create_background_task* ]]; then
	SESSIONS=1
	start_node node3
else
	SESSIONS=0
	if [ "${DEPLOY_TEST_SESSIONS:-0}" = 1 ]; then
		fail "a session made on one node is unknown to another (HTTP $STATUS): sessions are not shared"
	fi
	note "MCP sessions are per process in this build (a session from one node got HTTP $STATUS on another): the nodes run --stateless"
	stop "${NODE_PIDS[0]}"
	stop "${NODE_PIDS[1]}"
	NODE_PIDS=() NODE_PORTS=()
	start_node node1 --stateless
	start_node node2 --stateless
	start_node node3 --stateless
fi
P1=${NODE_PORTS[0]} P2=${NODE_PORTS[1]} P3=${NODE_PORTS[2]}

# nginx in the foreground with the rendered config; another port when the one taken was
# grabbed in between.
NGX=$WORK/nginx
new_prefix "$NGX"
NGINX_PID=
for _ in 1 2 3 4 5; do
	LPORT=$(free_port)
	render "$DEPLOY/nginx.conf" "$NGX/nginx.conf" "$LPORT" "$P1" "$P2" "$P3" || break
	: >"$NGX/logs/error.log"
	"$NGINX" -p "$NGX/" -c nginx.conf -e logs/error.log -g 'daemon off;' \
		>"$WORK/nginx.out" 2>&1 &
	NGINX_PID=$!
	PIDS+=("$NGINX_PID")
	end=$((SECONDS + 20))
	up=0
	while [ $SECONDS -lt $end ] && kill -0 "$NGINX_PID" 2>/dev/null; do
		if curl -s -o /dev/null "http://127.0.0.1:$LPORT/health"; then
			up=1
			break
		fi
		sleep 0.05
	done
	[ $up = 1 ] && break
	stop "$NGINX_PID"
	NGINX_PID=
	grep -q 'Address already in use' "$NGX/logs/error.log" "$WORK/nginx.out" || break
done
if [ -z "$NGINX_PID" ]; then
	echo "nginx did not start:" >&2
	cat "$NGX/logs/error.log" "$WORK/nginx.out" >&2
	exit 1
fi
LB=http://127.0.0.1:$LPORT
ACCESS=$NGX/logs/access.log

# /health through nginx.
HEALTH=$(curl -s -w '\n%{http_code}' "$LB/health")
[ "${HEALTH##*$'\n'}" = 200 ] && [[ "$HEALTH" == *'"status":"healthy"'* ]] && ok ||
	fail "GET /health through nginx: $HEALTH"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' "$LB/metrics")
[ "$STATUS" = 404 ] && ok || fail "GET /metrics through nginx: $STATUS, wanted 404 (scrape each node)"
PAGE=$(curl -s -D - "$LB/" | tr -d '\r')
grep -qi '^content-type: text/html' <<<"$PAGE" && ok || fail "GET / (the dashboard) through nginx: $(head -5 <<<"$PAGE")"

# MCP initialize + tools/list through nginx.
post "$LB/mcp" "$INIT"
[ "$STATUS" = 200 ] && [[ "$BODY_OUT" == *'"protocolVersion":"2025-11-25"'* ]] && ok ||
	fail "initialize through nginx: HTTP $STATUS $BODY_OUT"
S=(-H 'MCP-Protocol-Version: 2025-11-25')
if [ $SESSIONS = 1 ]; then
	SID=$(session_id)
	[ -n "$SID" ] && ok || fail "initialize through nginx: no Mcp-Session-Id: $HDRS"
	S+=(-H "Mcp-Session-Id: $SID")
	post "$LB/mcp" '{"jsonrpc":"2.0","method":"notifications/initialized"}' "${S[@]}"
	[ "$STATUS" = 202 ] && ok || fail "notifications/initialized through nginx: HTTP $STATUS"
fi
for i in 1 2 3 4; do # round-robin: these land on every node
	post "$LB/mcp" "$LIST" "${S[@]}"
	[ "$STATUS" = 200 ] && [[ "$BODY_OUT" == *create_background_task* ]] && ok ||
		fail "tools/list #$i through nginx: HTTP $STATUS $BODY_OUT"
done
post "$LB/mcp/" "$LIST" "${S[@]}"
[ "$STATUS" = 200 ] && ok || fail "POST /mcp/ through nginx: HTTP $STATUS (no redirect wanted)"
if [ $SESSIONS = 1 ]; then
	# The session's GET stream, through nginx: 200 and SSE before curl gives up.
	OUT=$(curl -s -D - -o /dev/null --max-time 2 "$LB/mcp" -H 'Accept: text/event-stream' "${S[@]}" | tr -d '\r')
	grep -q '^HTTP/1.1 200' <<<"$OUT" && grep -qi '^content-type: text/event-stream' <<<"$OUT" && ok ||
		fail "GET /mcp stream through nginx: $OUT"
fi

# The dashboard's SSE stream through nginx: its first comment arrives while the stream stays
# open, then a task created through nginx (on whichever node) arrives on it.
curl -sN -D "$WORK/sse.hdrs" "$LB/api/events/stream" >"$WORK/sse.out" 2>/dev/null &
SSE_PID=$!
PIDS+=("$SSE_PID")
wait_for() { # FILE NEEDLE SECONDS
	local end=$((SECONDS + $3))
	until grep -qF -- "$2" "$1" 2>/dev/null; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.05
	done
}
if wait_for "$WORK/sse.out" ': ambient task events after position' 10; then ok; else
	fail "the SSE stream's first comment did not come through nginx: $(cat "$WORK/sse.out")"
fi
SSE_HDRS=$(tr -d '\r' <"$WORK/sse.hdrs")
grep -qi '^content-type: text/event-stream' <<<"$SSE_HDRS" && ok || fail "SSE through nginx: $SSE_HDRS"
grep -qi '^transfer-encoding: chunked' <<<"$SSE_HDRS" && ok || fail "SSE through nginx is not chunked: $SSE_HDRS"
DESC="deploy test $$ $RANDOM"
CREATE='{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"create_background_task","arguments":{"task_type":"schedule","description":"'$DESC'","config":{"type":"daily","hour":9,"minute":0}}}}'
post "$LB/mcp" "$CREATE" "${S[@]}"
[ "$STATUS" = 200 ] && [[ "$BODY_OUT" == *'\"status\": \"success\"'* ]] && ok ||
	fail "create_background_task through nginx: HTTP $STATUS $BODY_OUT"
if wait_for "$WORK/sse.out" "$DESC" 15; then ok; else
	fail "the new task's event did not arrive on the open SSE stream: $(cat "$WORK/sse.out")"
fi
kill -0 "$SSE_PID" 2>/dev/null && ok || fail "the SSE stream through nginx ended early"
stop "$SSE_PID"
# Every node sees the task (one store).
for p in "$P1" "$P2" "$P3"; do
	L=$(curl -s "http://127.0.0.1:$p/api/tasks")
	[[ "$L" == *"$DESC"* ]] && ok || fail "node on $p does not list the task made through nginx: $L"
done

# Spread: the POST /mcp requests so far went to all three nodes.
USED=$(grep '"POST /mcp' "$ACCESS" | sed -n 's/.*upstream=\([^ ]*\) .*/\1/p' | sort -u)
for p in "$P1" "$P2" "$P3"; do
	grep -qx "127.0.0.1:$p" <<<"$USED" && ok || fail "no /mcp request went to the node on $p: $USED"
done

# A dead node: stop node 2; every request still succeeds, and the log shows one that was
# refused by the dead node and passed on to the next.
stop "${NODE_PIDS[1]}"
for i in 1 2 3 4 5 6; do
	post "$LB/mcp" "$LIST" "${S[@]}"
	[ "$STATUS" = 200 ] && ok || fail "tools/list #$i with a node down: HTTP $STATUS $BODY_OUT"
done
grep -q "upstream=127.0.0.1:$P2, 127.0.0.1:" "$ACCESS" && ok ||
	fail "no request was passed from the dead node to the next: $(tail -8 "$ACCESS")"

# The rate limit: 200 requests at once from one address get 429s beyond 30/s + 50.
# (Only a run slower than 200 requests in 5 s would see none.)
URLS=()
for i in $(seq 200); do URLS+=(-o /dev/null "$LB/mcp?n=$i"); done
CODES=$(curl -s -Z --parallel-max 50 -w '%{http_code}\n' "${URLS[@]}" 2>/dev/null)
N429=$(grep -c '^429$' <<<"$CODES")
[ "$N429" -gt 0 ] && ok || fail "no 429 among 200 requests at once: $(sort <<<"$CODES" | uniq -c | tr '\n' ' ')"

# nginx and the nodes stop cleanly.
kill -QUIT "$NGINX_PID"
if wait "$NGINX_PID"; then ok; else fail "nginx did not stop cleanly"; fi
forget "$NGINX_PID"
for pid in "${NODE_PIDS[0]}" "${NODE_PIDS[2]}"; do
	kill -TERM "$pid"
	if wait "$pid"; then ok; else fail "a node did not exit 0 on SIGTERM"; fi
	forget "$pid"
done

echo "deploy_test: $passed passed, $failed failed ($([ $SESSIONS = 1 ] && echo 'shared sessions' || echo 'stateless nodes'))"
[ "$failed" -eq 0 ]

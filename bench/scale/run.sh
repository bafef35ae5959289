#!/usr/bin/env bash
# run.sh - the scale benchmark: N web_monitor tasks on a 60 s interval run by
# one `ambient serve` engine against the fixture web server, 10 KB pages,
# 1% of the pages changing per minute.
#
# Usage: bench/scale/run.sh [BUILD_DIR]        (default: build)
#
# Uses BUILD_DIR/ambient, BUILD_DIR/tests/fixture_web/fixture_web and
# BUILD_DIR/bench/scale/bench_scale_seed (seed_tasks.c); when the last was not
# built (bench/CMakeLists.txt without add_subdirectory(scale)) it is compiled
# with cc against BUILD_DIR/libambient_core.a into the temporary directory.
#
# What runs, in order, all on 127.0.0.1 and in one temporary directory:
#  1. fixture_web --pages P --threads 2;
#  2. its ceiling: wrk -t2 -c64 for SCALE_WRK_SECONDS on /page/1 (200, ~10 KB
#     bodies) and again with If-None-Match (304, what most checks get), before
#     anything else loads the machine;
#  3. the seeding rate: bench_scale_seed (seed_tasks.c) creates min(N, 20000)
#     tasks as fast as it can (64 threads, group commit) in a scratch store;
#  4. ambient serve --db sqlite:DB --allow-net 127.0.0.1 --listen 127.0.0.1:0
#     on a fresh store, and, while it runs, bench_scale_seed creates the N
#     tasks paced evenly over SCALE_SPREAD (60) s, each
#     {"urls":["FIX/page/<i % P>"],"keywords":["update"],"check_interval_minutes":1}.
#     A web_monitor is due at its creation and then every minute after it
#     (slots do not drift), so the pacing spreads the due times evenly over
#     the minute, as users creating tasks over time would; with
#     SCALE_SPREAD=0 all N are created at once and stay due in one burst
#     every minute (a stress case: the lag then measures the burst);
#  5. warm-up: the seeding, then SCALE_WARMUP_EXTRA more seconds (each task's
#     first check is made as the engine sees it in the log; the lag figures
#     of the window should not include those);
#  6. the steady window, SCALE_SECONDS: every 5 s GET /health (its "engine"
#     object: checks, fetches, failures, events, lag_p50_ms, lag_p99_ms,
#     tasks, in_flight), VmRSS and utime+stime of the serve process.
#  From the start of the seeding, every 10 s 1/6 of 1% of the pages get a new
#  version (POST /_control/bump?count=K): 1% per minute.  A bumped page has
#  the word "update" in an added line, so each of its tasks should append a
#  web_content_change event.
#
# Reported (figures as ratios against a ceiling or target of the same run):
#   checks/s over the steady window, against the demand N/60 (a ratio of 1
#   means the engine keeps up) and against the fixture's wrk ceiling;
#   scheduling lag p50 (median of the samples) and p99 (worst sample), start
#   minus due time as the engine reports it (over its last 8192 checks),
#   against the 1 s target -- the engine takes that time when it starts a
#   check, so a check queued behind the fetcher's transfer slots is not late
#   by that measure; the "checks in flight" line (mean and max of the
#   samples, and the mean time in flight by Little's law) shows that part; resident memory at the end (and peak), per task,
#   against 1 GiB; CPU of the serve process in cores; events appended against
#   pages bumped.
# Targets (issue): 100,000 tasks, p99 lag < 1 s, resident < 1 GiB, on 2 cores.
# `grep '^ratio'` extracts the verdict lines.
#
# Environment (defaults in brackets):
#   SCALE_N [10000]         tasks
#   SCALE_SECONDS [120]     steady window
#   SCALE_SPREAD [60]       seconds the creation of the N tasks is paced over
#   SCALE_WARMUP_EXTRA      seconds after the seeding that are not measured
#                           [the time the engine takes to make 8192 checks at
#                           N/60 checks/s, + 5 s, within 20..60; 54 s for N =
#                           10,000; SCALE_SPREAD=0: 60, the first burst]
#   SCALE_PAGES [min(N, 100000)]  distinct pages (tasks share pages when fewer)
#   SCALE_CHANGE_PERCENT [1]      pages bumped per minute, in percent
#   SCALE_SEED_THREADS [64] threads creating tasks
#   SCALE_WRK_SECONDS [5]   duration of each wrk ceiling run
#   SCALE_DIR [$TMPDIR or /tmp]   where the temporary directory goes (a real
#                           disk: the store fsyncs)
#   SCALE_PERF=DIR          also `perf record` the serve process for 30 s at
#                           the start of the steady window into DIR/perf-scale.data
#                           and write DIR/perf-scale.txt
#   SCALE_KEEP=1            keep the temporary directory (store, logs, samples)
#
# Exits 0 whether or not the targets are met; non-zero when something fails
# (a process does not start, seeding fails, /health has no engine).  Only the
# processes it started are stopped.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:-build}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "scale: no build directory '$1'" >&2; exit 2; }
ambient=$build/ambient
fixture=$build/tests/fixture_web/fixture_web
seed=$build/bench/scale/bench_scale_seed

n=${SCALE_N:-10000}
seconds=${SCALE_SECONDS:-120}
spread=${SCALE_SPREAD:-60}
# The engine reports the lag over its last 8192 checks; the warm-up lasts
# until that ring holds only checks after the first round (at N/60 checks/s),
# but at least 20 s, at most 60 s.
ring_s=$((8192 * 60 / (n > 0 ? n : 1) + 5))
ring_s=$((ring_s < 20 ? 20 : ring_s > 60 ? 60 : ring_s))
if [ "$spread" -gt 0 ]; then
	warmup_extra=${SCALE_WARMUP_EXTRA:-$ring_s}
else
	warmup_extra=${SCALE_WARMUP_EXTRA:-60}
fi
rate_n=$((n < 20000 ? n : 20000))
pages=${SCALE_PAGES:-$((n < 100000 ? n : 100000))}
[ "$pages" -ge 1 ] || pages=1
change_pct=${SCALE_CHANGE_PERCENT:-1}
seed_threads=${SCALE_SEED_THREADS:-64}
wrk_seconds=${SCALE_WRK_SECONDS:-5}
perf_dir=${SCALE_PERF:-}
sample_every=5
bump_every=10

for f in "$ambient" "$fixture"; do
	if [ ! -x "$f" ]; then
		echo "scale: no $f; build first (make build)" >&2
		exit 1
	fi
done
for tool in wrk curl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "scale: '$tool' not found (scripts/deps.sh installs it)" >&2
		exit 1
	fi
done
if [ -n "$perf_dir" ]; then
	command -v perf >/dev/null 2>&1 || { echo "scale: perf not found" >&2; exit 1; }
	mkdir -p "$perf_dir"
	perf_dir=$(cd "$perf_dir" && pwd)
fi

tmp=$(mktemp -d "${SCALE_DIR:-${TMPDIR:-/tmp}}/scale.XXXXXX")
pids=()
serve_pid=
cleanup() {
	local p i
	# serve first (its engine flushes soft state on the way out), then the rest
	if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
		kill -TERM "$serve_pid" 2>/dev/null || true
		for ((i = 0; i < 300; i++)); do
			kill -0 "$serve_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$serve_pid" 2>/dev/null || true
	fi
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ "${SCALE_KEEP:-0}" = 1 ]; then
		echo "scale: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_url FILE PID NAME: the URL of the "listening URL" line the process
# PID writes to FILE, waiting up to 60 s.
wait_url() {
	local file=$1 pid=$2 name=$3 i url
	for ((i = 0; i < 1200; i++)); do
		url=$(sed -n 's/^listening \(http[^ ]*\).*/\1/p' "$file" 2>/dev/null | head -n1)
		if [ -n "$url" ]; then
			echo "$url"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "scale: $name exited before listening:" >&2
			cat "$file" "$file.err" >&2 2>/dev/null || true
			return 1
		fi
		sleep 0.05
	done
	echo "scale: $name did not print its URL within 60 s" >&2
	return 1
}

# jnum KEY < JSON: the first number (or true/false) after "KEY": in the text.
jnum() {
	sed -n 's/.*"'"$1"'": *\([-+0-9.eE]\{1,\}\|true\|false\).*/\1/p' | head -n1
}

# now: wall time in microseconds (bash 5's EPOCHREALTIME: no process per call).
now() { echo "${EPOCHREALTIME/./}"; }
# us2s US: microseconds as seconds with one decimal.
us2s() { printf '%d.%d' $(($1 / 1000000)) $(($1 % 1000000 / 100000)); }

# ---- 1. the fixture web server and its ceiling ------------------------------------

"$fixture" --pages "$pages" --threads 2 >"$tmp/fixture.out" 2>"$tmp/fixture.out.err" &
fixture_pid=$!
pids+=("$fixture_pid")
fix_url=$(wait_url "$tmp/fixture.out" "$fixture_pid" fixture_web)

# wrk_rps ARGS...: requests/s of one wrk run (also checks the status codes:
# wrk counts non-2xx/3xx responses).
wrk_rps() {
	local out
	out=$(wrk -t2 -c64 -d"${wrk_seconds}s" "$@")
	if grep -q 'Non-2xx or 3xx\|Socket errors' <<<"$out"; then
		echo "scale: wrk saw errors against the fixture:" >&2
		echo "$out" >&2
	fi
	sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out"
}
echo "scale: fixture at $fix_url; measuring its ceiling with wrk" >&2
etag=$(curl -s -D - -o /dev/null "$fix_url/page/1" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: *//p')
ceil_200=$(wrk_rps "$fix_url/page/1")
ceil_304=$(wrk_rps -H "If-None-Match: $etag" "$fix_url/page/1")

# ---- 2. seeding -----------------------------------------------------------------

if [ ! -x "$seed" ]; then
	if [ ! -f "$build/libambient_core.a" ]; then
		echo "scale: neither $seed nor $build/libambient_core.a; build first" >&2
		exit 1
	fi
	seed=$tmp/bench_scale_seed
	# shellcheck disable=SC2046
	cc -std=gnu11 -O2 -I"$repo/src" -o "$seed" "$here/seed_tasks.c" \
		"$build/libambient_core.a" \
		$(pkg-config --libs jansson sqlite3 libmicrohttpd libcurl libcrypto libxml-2.0) \
		-lpthread -lm
fi
echo "scale: seeding rate: $rate_n tasks into a scratch store" >&2
rate_line=$("$seed" --db "sqlite:$tmp/rate.db" --count "$rate_n" --pages "$pages" \
	--base "$fix_url" --threads "$seed_threads")
rm -f "$tmp"/rate.db*

# ---- 3. the engine, and the tasks created while it runs ---------------------------

db=$tmp/ambient.db
echo "scale: ambient serve; $n tasks paced over ${spread} s, warm-up ${warmup_extra} s more," \
     "then ${seconds} s measured" >&2
"$ambient" serve --listen 127.0.0.1:0 --db "sqlite:$db" --allow-net 127.0.0.1 \
	--price-api-url "$fix_url" --pid-file "$tmp/serve.pid" \
	>"$tmp/serve.out" 2>"$tmp/serve.out.err" &
serve_pid=$!
serve_url=$(wait_url "$tmp/serve.out" "$serve_pid" "ambient serve")
health_url=${serve_url%/mcp}/health
if [ -s "$tmp/serve.pid" ] && [ "$(cat "$tmp/serve.pid")" != "$serve_pid" ]; then
	echo "scale: note: pid file says $(cat "$tmp/serve.pid"), started $serve_pid" >&2
fi

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
# bytes the process caused to be written to storage so far (0 when unreadable)
wbytes() {
	local v=
	[ -r "/proc/$1/io" ] && v=$(awk '/^write_bytes:/ { print $2 }' "/proc/$1/io" 2>/dev/null)
	echo "${v:-0}"
}

# sample FILE: append one line to FILE (times in microseconds):
# t checks fetches failures events tasks in_flight lag_p50_ms lag_p99_ms rss_kb cpu_ticks leader
# write_bytes
sample() {
	local file=$1 h e t
	kill -0 "$serve_pid" 2>/dev/null || { echo "scale: ambient serve died:" >&2;
		tail -n 20 "$tmp/serve.out.err" >&2; return 1; }
	t=$(now)
	h=$(curl -s -m 4 "$health_url" | tr -d '\n') || h=
	e=$(sed -n 's/.*"engine": *{\([^}]*\)}.*/\1/p' <<<"$h")
	if [ -z "$e" ]; then
		echo "$t - - - - - - - - $(rss_kb "$serve_pid") $(cpu_ticks "$serve_pid") -" \
		     "$(wbytes "$serve_pid")" >>"$file"
		return 0
	fi
	echo "$t $(jnum checks <<<"$e") $(jnum fetches <<<"$e") $(jnum failures <<<"$e")" \
	     "$(jnum events <<<"$e") $(jnum tasks <<<"$e") $(jnum in_flight <<<"$e")" \
	     "$(jnum lag_p50_ms <<<"$e") $(jnum lag_p99_ms <<<"$e")" \
	     "$(rss_kb "$serve_pid") $(cpu_ticks "$serve_pid") $(jnum leader <<<"$e")" \
	     "$(wbytes "$serve_pid")" >>"$file"
}

# The engine must show up in /health, leading, before the tasks come.
h=
deadline=$(($(now) + 60 * 1000000))
while :; do
	h=$(curl -s -m 4 "$health_url" | tr -d '\n') || h=
	e=$(sed -n 's/.*"engine": *{\([^}]*\)}.*/\1/p' <<<"$h")
	[ -n "$e" ] && [ "$(jnum leader <<<"$e")" = true ] && break
	kill -0 "$serve_pid" 2>/dev/null || { echo "scale: ambient serve died:" >&2;
		tail -n 20 "$tmp/serve.out.err" >&2; exit 1; }
	if [ "$(now)" -ge "$deadline" ]; then
		echo "scale: /health shows no leading engine after 60 s; last answer:" >&2
		echo "${h:0:600}" >&2
		exit 1
	fi
	sleep 0.1
done

curl -s -X POST "$fix_url/_control/reset_stats" >/dev/null
t_start=$(now)
"$seed" --db "sqlite:$db" --count "$n" --pages "$pages" --base "$fix_url" \
	--threads "$seed_threads" --spread "$spread" >"$tmp/seed.out" 2>"$tmp/seed.out.err" &
seed_pid=$!
pids+=("$seed_pid")

# bump_step: one step of page changes.  Over the 60 / bump_every steps of a
# minute, change_pct percent of the pages in all.
steps_per_min=$((60 / bump_every))
per_min=$(awk -v p="$pages" -v c="$change_pct" 'BEGIN { printf "%d", p * c / 100 + 0.5 }')
bumped=0
bump_k=0
next_bump=$(now)
bump_step() {
	local j=$((bump_k % steps_per_min)) cnt
	cnt=$(((j + 1) * per_min / steps_per_min - j * per_min / steps_per_min))
	bump_k=$((bump_k + 1))
	next_bump=$((next_bump + bump_every * 1000000))
	[ "$cnt" -gt 0 ] || return 0
	curl -s -m 4 -X POST "$fix_url/_control/bump?count=$cnt" >/dev/null || true
	bumped=$((bumped + cnt))
}

# run_until END_US FILE EVERY_US: bump on schedule and sample into FILE every
# EVERY_US until END_US (the last sample is taken at or after END_US).
run_until() {
	local end=$1 file=$2 every=$3 next tn
	next=$(now)
	while :; do
		tn=$(now)
		[ "$tn" -ge "$next_bump" ] && bump_step
		if [ "$tn" -ge "$next" ]; then
			sample "$file"
			[ "$tn" -ge "$end" ] && break
			next=$((next + every))
		fi
		sleep 0.2
	done
}

# Warm-up: the seeding, sampled every second, then warmup_extra seconds.
: >"$tmp/samples-warmup.txt"
run_until $((t_start + spread * 1000000)) "$tmp/samples-warmup.txt" 1000000
if ! wait "$seed_pid"; then
	echo "scale: seeding the $n tasks failed:" >&2
	cat "$tmp/seed.out.err" >&2
	exit 1
fi
seed_end=$(now)
seed_line=$(cat "$tmp/seed.out")
run_until $((seed_end + warmup_extra * 1000000)) "$tmp/samples-warmup.txt" 1000000
bumped_warmup=$bumped
# when /health first showed all N tasks, and N checks (the first round)
milestones=$(awk -v n="$n" -v t0="$t_start" '
	$2 != "-" && !ts && $6 + 0 >= n { ts = $1 }
	$2 != "-" && !tc && $2 + 0 >= n { tc = $1 }
	$2 != "-" && !tc && $9 + 0 > p99 { p99 = $9 + 0 }
	$2 != "-" && !tc && $7 + 0 > ifmax { ifmax = $7 + 0 }
	END {
		printf "all %d tasks in the engine %s; first %d checks done %s", n,
			ts ? sprintf("%.1f s after the seeding began", (ts - t0) / 1e6) : "not within the warm-up",
			n, tc ? sprintf("%.1f s after it began", (tc - t0) / 1e6) : "not within the warm-up"
		printf " (lag p99 of those up to %.1f ms, up to %d in flight)\n", p99, ifmax
	}' "$tmp/samples-warmup.txt")

perf_pid=
if [ -n "$perf_dir" ]; then
	perf record -q --call-graph dwarf,16384 -F 99 -p "$serve_pid" \
		-o "$perf_dir/perf-scale.data" -- sleep 30 2>/dev/null &
	perf_pid=$!
	pids+=("$perf_pid")
fi

# ---- 4. the steady window ---------------------------------------------------------

curl -s -X POST "$fix_url/_control/reset_stats" >/dev/null
t0=$(now)
: >"$tmp/samples.txt"
run_until $((t0 + seconds * 1000000)) "$tmp/samples.txt" $((sample_every * 1000000))
bumped_window=$((bumped - bumped_warmup))
hwm=$(hwm_kb "$serve_pid")
fix_stats=$(curl -s -m 4 "$fix_url/_control/stats" | tr -d '\n')

if [ -n "$perf_pid" ]; then
	wait "$perf_pid" 2>/dev/null || true
	{
		echo "# inclusive time (children), by symbol"
		perf report -i "$perf_dir/perf-scale.data" --stdio --children \
			--sort symbol -g none --percent-limit 1 2>/dev/null | grep '%'
		echo "# self time, by dso and symbol"
		perf report -i "$perf_dir/perf-scale.data" --stdio --no-children \
			--sort dso,symbol -g none --percent-limit 0.5 2>/dev/null | grep '%'
	} >"$perf_dir/perf-scale.txt"
fi

# ---- 5. the report ----------------------------------------------------------------

# The steady-window figures from the samples (first line = start of the window).
read -r win checks_s fetches_s failures events p50 p50max p99 rss cores wmb peak ifmax ifmean \
	< <(awk -v hz="$hz" '
	$2 != "-" {
		if (!have) { t0 = $1; c0 = $2; f0 = $3; x0 = $4; e0 = $5; cpu0 = $11; w0 = $13; have = 1 }
		else if ($1 > t1 && ($2 - c1) / (($1 - t1) / 1e6) > peak) peak = ($2 - c1) / (($1 - t1) / 1e6)
		t1 = $1; c1 = $2; f1 = $3; x1 = $4; e1 = $5; cpu1 = $11; rss = $10; w1 = $13
		if (n > 0) { p50s[n] = $8 }  # skip the window start: it reports the warm-up
		if (n > 0 && $9 + 0 > p99) p99 = $9 + 0
		if (n > 0 && $8 + 0 > p50max) p50max = $8 + 0
		if ($7 + 0 > ifmax) ifmax = $7 + 0
		ifsum += $7
		n++
	}
	END {
		if (n < 2) { print "0 0 0 0 0 0 0 0 0 0 0 0 0 0"; exit }
		m = n - 1
		# median of the p50 samples (insertion sort: a few dozen values)
		for (i = 2; i <= m; i++) { v = p50s[i]; j = i - 1
			while (j >= 1 && p50s[j] + 0 > v + 0) { p50s[j + 1] = p50s[j]; j-- }
			p50s[j + 1] = v }
		med = (m % 2) ? p50s[(m + 1) / 2] : (p50s[m / 2] + p50s[m / 2 + 1]) / 2
		d = (t1 - t0) / 1e6
		printf "%.1f %.1f %.1f %d %d %.1f %.1f %.1f %d %.2f %.2f %.0f %d %.1f\n", d,
			(c1 - c0) / d, (f1 - f0) / d, x1 - x0, e1 - e0, med, p50max, p99, rss,
			(cpu1 - cpu0) / hz / d, (w1 - w0) / 1048576 / d, peak, ifmax, ifsum / n
	}' "$tmp/samples.txt")

demand=$(awk -v n="$n" 'BEGIN { printf "%.1f", n / 60 }')
per_task=$(awk -v r="$rss" -v n="$n" 'BEGIN { printf "%.0f", r * 1024 / n }')
fix_reqs=$(jnum requests <<<"$fix_stats")
fix_304=$(jnum not_modified <<<"$fix_stats")
cores_total=$(nproc 2>/dev/null || echo '?')

echo "Scale: $n web_monitor tasks, 60 s interval, $pages pages of ~10 KB, ${change_pct}% of pages changed per minute"
echo "machine: $cores_total cores shared by ambient serve, fixture_web (2 threads) and this script;" \
     "store: SQLite (WAL, fsync) in $(dirname "$tmp")"
echo
echo "fixture ceiling (wrk -t2 -c64 -d${wrk_seconds}s, /page/1): $(printf '%.0f' "$ceil_200") req/s (200, 10 KB)," \
     "$(printf '%.0f' "$ceil_304") req/s (304, If-None-Match)"
echo "seeding rate (scratch store, unpaced): $rate_line"
echo "seeding the run: $seed_line"
echo "engine: $milestones; warm-up ${warmup_extra} s after the seeding, not measured"
echo
echo "steady window: $win s"
# Little's law: the mean time a check spends started but unfinished (queued
# for a transfer slot included), from the mean number in flight.
inflight_ms=$(awk -v l="$ifmean" -v r="$checks_s" 'BEGIN { printf "%.0f", (r > 0 ? l / r * 1000 : 0) }')
printf '  %-28s %s\n' \
	"checks/s" "$checks_s (demand N/60 = $demand; highest over 5 s: $peak)" \
	"checks in flight" "mean $ifmean, max $ifmax (mean time in flight ~$inflight_ms ms, Little's law)" \
	"fetches/s" "$fetches_s" \
	"fixture requests" "${fix_reqs:-?} (${fix_304:-?} answered 304)" \
	"failed checks" "$failures" \
	"events appended" "$events ($bumped_window page versions made in the window)" \
	"lag p50 ms" "$p50 (median of samples; worst sample $p50max)" \
	"lag p99 ms" "$p99 (worst sample)" \
	"resident" "$((rss / 1024)) MiB at the end, peak $((hwm / 1024)) MiB; $per_task bytes per task" \
	"CPU" "$cores cores of $cores_total (serve process)" \
	"disk writes" "$wmb MiB/s (serve process; store file $(du -m "$db" | cut -f1) MiB at the end)"
echo

# verdict WHAT VALUE OP TARGET NOTE: one grep-able line.
verdict() {
	local ok
	ok=$(awk -v v="$2" -v t="$4" -v op="$3" \
		'BEGIN { print ((op == ">=" ? v >= t : v < t) ? "PASS" : "MISS") }')
	echo "$1 = $2 (target $3 $4): $ok  [$5]"
}
verdict "ratio checks/demand" "$(awk -v a="$checks_s" -v d="$demand" 'BEGIN { printf "%.3f", (d > 0 ? a / d : 0) }')" \
	">=" 0.98 "checks/s over N/60: does the engine keep up"
echo "ratio checks/ceiling = $(awk -v a="$checks_s" -v c="$ceil_304" 'BEGIN { printf "%.4f", (c > 0 ? a / c : 0) }')" \
     "(no target)  [checks/s over the fixture's 304 ceiling; over the 200 ceiling:" \
     "$(awk -v a="$checks_s" -v c="$ceil_200" 'BEGIN { printf "%.4f", (c > 0 ? a / c : 0) }')]"
verdict "ratio lag-p99/1s" "$(awk -v p="$p99" 'BEGIN { printf "%.3f", p / 1000 }')" "<" 1 \
	"worst reported p99 scheduling lag over the 1 s target"
verdict "ratio rss/1GiB" "$(awk -v r="$rss" 'BEGIN { printf "%.3f", r / 1048576 }')" "<" 1 \
	"resident memory of serve over 1 GiB (at $n tasks)"
if [ -n "$perf_dir" ]; then
	echo
	echo "perf profile of ambient serve: $perf_dir/perf-scale.txt"
fi

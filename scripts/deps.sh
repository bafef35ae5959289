#!/usr/bin/env bash
# deps.sh - install, idempotently, every Debian package ambient needs to build
# and test, and the pinned npm test tools.  Uses sudo when not root; installs
# only what is missing, so a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build and test dependencies (see ARCHITECTURE.md's table).
PACKAGES=(
	build-essential cmake pkg-config
	libjansson-dev libsqlite3-dev libssl-dev libcmocka-dev
	libmicrohttpd-dev libcurl4-openssl-dev libxml2-dev zlib1g-dev libedit-dev libpq-dev
	tzdata curl jq openssl
	wrk nginx chromium tmux postgresql
)

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
# Node.js and npm run the npm test tools.  Any installed node/npm will do (the
# machine may carry another vendor's nodejs, which conflicts with Debian's npm
# package), so these are checked by command, not by package.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Pinned npm test tools (tools/npm/package-lock.json), installed once.
if [ -f tools/npm/package-lock.json ]; then
	stamp=tools/npm/node_modules/.ambient-installed
	if [ ! -f "$stamp" ] || [ tools/npm/package-lock.json -nt "$stamp" ]; then
		echo "deps: installing pinned npm test tools"
		(cd tools/npm && npm ci --no-audit --no-fund --loglevel=error)
		touch "$stamp"
	fi
fi

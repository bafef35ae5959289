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
	nodejs npm
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

#!/usr/bin/env bash
# Idempotent setup for a fresh Debian machine with Node 20 and npm (run as root).
#   scripts/setup.sh            pnpm, dependencies, the web build
#   scripts/setup.sh --browser  ... and Debian's Chromium for the e2e tests
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

node_major=$(node -p 'process.versions.node.split(".")[0]')
node_minor=$(node -p 'process.versions.node.split(".")[1]')
if [ "$node_major" -lt 20 ] || { [ "$node_major" -eq 20 ] && [ "$node_minor" -lt 19 ]; }; then
  echo "iocpscope needs Node >= 20.19 (found $(node --version))" >&2
  exit 1
fi

if ! command -v pnpm >/dev/null 2>&1; then
  log "installing pnpm (npm i -g pnpm)"
  npm i -g pnpm >/dev/null 2>&1 || npm i -g pnpm
fi

if [ "$want_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  log "installing Debian's Chromium for the e2e tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends chromium >/dev/null
fi

log "installing dependencies (pnpm install)"
pnpm install --frozen-lockfile --reporter=append-only 2>&1 | grep -vE '^(Progress|npm warn)' | tail -3

log "building the dashboard (apps/web/dist)"
pnpm --filter @iocpscope/web build >/dev/null
log "ready"

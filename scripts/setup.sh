#!/usr/bin/env bash
# Idempotent setup for a fresh Debian machine with Node 20 and npm (run as root).
#   scripts/setup.sh            pnpm, dependencies, the web build
#   scripts/setup.sh --test     ... and what the tests need from Debian: Chromium (e2e),
#                               mingw-w64 and Wine (the native addon's tests)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

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

if [ "$want_test" = 1 ]; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || missing+=(g++-mingw-w64-x86-64)
  [ -x /usr/lib/wine/wine64 ] || missing+=(wine64)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing from Debian: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

log "installing dependencies (pnpm install)"
pnpm install --frozen-lockfile --reporter=append-only 2>&1 | grep -vE '^(Progress|npm warn)' | tail -3

log "building the native index pass (apps/server/native-index; the JS pass is used without it)"
bash apps/server/native-index/build.sh

log "building the dashboard (apps/web/dist)"
pnpm --filter @iocpscope/web build >/dev/null
log "ready"

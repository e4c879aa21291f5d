#!/usr/bin/env bash
# Set everything up, then run the dashboard with the reference echo server under a demo load.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec pnpm --silent iocpscope serve --demo "$@"

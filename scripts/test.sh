#!/usr/bin/env bash
# Set everything up (Chromium included), then run every test: typecheck, lint, format,
# unit/conformance/integration (vitest) and e2e (Playwright in Debian's Chromium).
# The last line is a plain summary of all test runners: "tests: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser || exit 1
rm -rf .reports && mkdir -p .reports
pnpm test
status=$?
node scripts/summary.mjs .reports || status=1
exit $status

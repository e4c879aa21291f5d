#!/usr/bin/env bash
# Set everything up (Chromium, mingw-w64 and Wine included), then run every test: typecheck,
# lint, format, unit/conformance/integration (vitest), e2e (Playwright in Debian's Chromium),
# and the native Win32 addon's conformance, echo and differential tests under Wine.
# The last line is a plain summary of all test runners: "tests: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test || exit 1
rm -rf .reports && mkdir -p .reports
pnpm test
status=$?
pnpm --silent test:native 2>&1 | tee .reports/native.log
[ "${PIPESTATUS[0]}" = 0 ] || status=1
node scripts/summary.mjs .reports || status=1
exit $status

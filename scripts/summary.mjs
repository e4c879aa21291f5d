// Prints one plain closing line for the whole run from the runners' JSON reports:
//   tests: N passed, N failed, N skipped
// Vitest writes .reports/vitest.json, Playwright .reports/playwright.json, and the native
// suite's output (ending "native: N passed, N failed") is kept in .reports/native.log.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.reports';
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];

const vitestFile = join(dir, 'vitest.json');
if (existsSync(vitestFile)) {
  const v = JSON.parse(readFileSync(vitestFile, 'utf8'));
  passed += v.numPassedTests ?? 0;
  failed += v.numFailedTests ?? 0;
  // A file that failed to load has no failed tests of its own: count it once.
  for (const file of v.testResults ?? []) {
    const tests = file.assertionResults ?? [];
    if (file.status === 'failed' && !tests.some((t) => t.status === 'failed')) failed += 1;
  }
  skipped += (v.numPendingTests ?? 0) + (v.numTodoTests ?? 0);
} else missing.push('vitest');

const pwFile = join(dir, 'playwright.json');
if (existsSync(pwFile)) {
  const p = JSON.parse(readFileSync(pwFile, 'utf8'));
  const s = p.stats ?? {};
  passed += (s.expected ?? 0) + (s.flaky ?? 0);
  failed += s.unexpected ?? 0;
  skipped += s.skipped ?? 0;
} else missing.push('playwright');

const nativeFile = join(dir, 'native.log');
const nativeLine = existsSync(nativeFile)
  ? /^native: (\d+) passed, (\d+) failed/m.exec(readFileSync(nativeFile, 'utf8'))
  : null;
if (nativeLine) {
  passed += Number(nativeLine[1]);
  failed += Number(nativeLine[2]);
} else missing.push('native');

if (missing.length) console.log(`(no report from: ${missing.join(', ')} — that stage did not run)`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || missing.length > 0 ? 1 : 0);

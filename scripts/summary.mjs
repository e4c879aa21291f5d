// Prints one plain closing line for the whole run from the runners' JSON reports:
//   tests: N passed, N failed, N skipped
// Vitest writes .reports/vitest.json, Playwright .reports/playwright.json, and the native
// suite's output (ending "native: N passed, N failed") is kept in .reports/native.log.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const dir = process.argv[2] ?? '.reports';

/** The start of a failure's message (no colours), indented under its test: a CI log's tail says why. */
function why(message) {
  if (typeof message !== 'string' || message === '') return '';
  const lines = message
    .replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const shown = lines.slice(0, 12).map((l) => `      ${l.slice(0, 240)}`);
  if (lines.length > 12) shown.push(`      ... (${lines.length - 12} more lines in .reports)`);
  return `\n${shown.join('\n')}`;
}
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
/** The failed tests by name, listed above the summary line so the tail of a CI log says what failed. */
const failures = [];

const vitestFile = join(dir, 'vitest.json');
if (existsSync(vitestFile)) {
  const v = JSON.parse(readFileSync(vitestFile, 'utf8'));
  passed += v.numPassedTests ?? 0;
  failed += v.numFailedTests ?? 0;
  // A file that failed to load has no failed tests of its own: count it once.
  for (const file of v.testResults ?? []) {
    const tests = file.assertionResults ?? [];
    const where = relative(process.cwd(), file.name ?? '');
    if (file.status === 'failed' && !tests.some((t) => t.status === 'failed')) {
      failed += 1;
      failures.push(`vitest ${where}: the file failed to load`);
    }
    for (const t of tests)
      if (t.status === 'failed')
        failures.push(
          `vitest ${where} :: ${t.fullName ?? t.title}${why((t.failureMessages ?? [])[0])}`,
        );
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
  const walk = (suite, path) => {
    for (const spec of suite.specs ?? [])
      for (const t of spec.tests ?? [])
        if (t.status === 'unexpected')
          failures.push(
            `e2e ${spec.file ?? suite.file ?? ''} :: ${[...path, spec.title].join(' > ')}${why(
              (t.results ?? [])
                .map((r) => r.error?.message ?? r.errors?.[0]?.message)
                .find(Boolean),
            )}`,
          );
    for (const child of suite.suites ?? []) walk(child, [...path, child.title]);
  };
  for (const suite of p.suites ?? []) walk(suite, []);
} else missing.push('playwright');

const nativeFile = join(dir, 'native.log');
const nativeLine = existsSync(nativeFile)
  ? /^native: (\d+) passed, (\d+) failed/m.exec(readFileSync(nativeFile, 'utf8'))
  : null;
if (nativeLine) {
  for (const line of readFileSync(nativeFile, 'utf8').split('\n'))
    if (/^\s+FAIL\s/.test(line)) failures.push(`native ${line.trim().replace(/^FAIL\s+/, '')}`);
  passed += Number(nativeLine[1]);
  failed += Number(nativeLine[2]);
} else missing.push('native');

if (failures.length) console.log(`failed:\n${failures.map((f) => `  ${f}`).join('\n')}`);
if (missing.length) console.log(`(no report from: ${missing.join(', ')} — that stage did not run)`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || missing.length > 0 ? 1 : 0);

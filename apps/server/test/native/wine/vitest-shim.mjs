// A small stand-in for 'vitest' inside node.exe under Wine. Vitest itself cannot
// run there: vite, rolldown and esbuild need their Windows binaries, which a
// Linux install does not have. scripts/native/bundle.mjs bundles the suite with
// this module aliased as 'vitest'; the assertions are vitest's own (@vitest/expect
// on chai, the same matchers and messages), only the collector/runner is ours.
//
// Supports what the suites use: describe (nested), it/test (with a timeout
// argument), beforeAll/afterAll/beforeEach/afterEach, expect with the jest
// matchers and asymmetric matchers. Tests run one at a time in declaration
// order; every result is handed to the reporter as soon as it is known, so a
// run that hangs still leaves the results before the hang.

import {
  ASYMMETRIC_MATCHERS_OBJECT,
  JestAsymmetricMatchers,
  JestChaiExpect,
  JestExtend,
  chai,
  setState,
} from '@vitest/expect';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

export const expect = (value, message) => chai.expect(value, message);
Object.assign(expect, chai.expect);
Object.assign(expect, globalThis[ASYMMETRIC_MATCHERS_OBJECT]);
setState(
  {
    assertionCalls: 0,
    isExpectingAssertions: false,
    isExpectingAssertionsError: null,
    expectedAssertionsNumber: null,
    expectedAssertionsNumberErrorGen: null,
  },
  expect,
);

const DEFAULT_TIMEOUT_MS = Number(process.env.IOCPSCOPE_TEST_TIMEOUT_MS ?? 30_000);
// Tests expected to fail by waiting forever (known Wine differences) get a short
// timeout: $IOCPSCOPE_SHORT_IDS is a JSON array of test ids.
const SHORT_IDS = new Set(JSON.parse(process.env.IOCPSCOPE_SHORT_IDS ?? '[]'));
const SHORT_TIMEOUT_MS = Number(process.env.IOCPSCOPE_SHORT_TIMEOUT_MS ?? 6_000);
// Teardown hooks stop threads; one a failed test left blocked never stops.
const TEARDOWN_TIMEOUT_MS = Math.min(DEFAULT_TIMEOUT_MS, 5_000);
// $IOCPSCOPE_BAIL: stop at the first failing test (its threads may be stuck in
// the kernel, so neither later tests nor teardown hooks can be trusted); the
// runner runs the rest again, one process each.
const BAIL = Boolean(process.env.IOCPSCOPE_BAIL);
let bailed = false;

function newSuite(name, parent, file) {
  return {
    name,
    parent,
    file,
    children: [],
    beforeAll: [],
    afterAll: [],
    beforeEach: [],
    afterEach: [],
  };
}

const root = newSuite('', null, '');
let current = root;
let currentFile = '';

/** Called by the generated entry before it imports each test file. */
export function __setFile(file) {
  currentFile = file;
}

export function describe(name, fn) {
  const s = newSuite(name, current, currentFile);
  current.children.push({ kind: 'suite', suite: s });
  const prev = current;
  current = s;
  try {
    fn();
  } finally {
    current = prev;
  }
}

export function it(name, fn, timeout) {
  const ms = typeof timeout === 'number' ? timeout : (timeout?.timeout ?? DEFAULT_TIMEOUT_MS);
  current.children.push({ kind: 'test', name, fn, timeout: ms, file: currentFile });
}
export const test = it;

export function beforeAll(fn) {
  current.beforeAll.push(fn);
}
export function afterAll(fn) {
  current.afterAll.push(fn);
}
export function beforeEach(fn) {
  current.beforeEach.push(fn);
}
export function afterEach(fn) {
  current.afterEach.push(fn);
}

function withTimeout(promiseFn, ms, what) {
  let timer;
  return Promise.race([
    Promise.resolve().then(promiseFn),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function errorText(e) {
  if (e instanceof Error) return `${e.message}\n${e.stack ?? ''}`.slice(0, 4000);
  return String(e).slice(0, 4000);
}

function chain(s) {
  const out = [];
  for (let p = s; p; p = p.parent) out.unshift(p);
  return out;
}

/** `file :: suite > test`, the id a runner uses to select one test. */
export const testId = (file, name) => `${file} :: ${name}`;

/**
 * Runs the registered tests. `report(result)` gets one object per test:
 * { file, name (suite names and test name joined by ' > '), status: 'pass'|'fail', ms, error? }.
 * With $IOCPSCOPE_LIST set, reports every test as status 'listed' without running anything.
 * With $IOCPSCOPE_TEST_ONLY = a testId, runs that test alone (with its suites' hooks);
 * with $IOCPSCOPE_TEST_FILE = a file name, runs that file's tests.
 */
export async function runRegistered(report) {
  if (process.env.IOCPSCOPE_LIST) {
    list(root, report);
    return;
  }
  const id = process.env.IOCPSCOPE_TEST_ONLY || null;
  const file = process.env.IOCPSCOPE_TEST_FILE || null;
  const only =
    id === null && file === null
      ? null
      : (f, name) => (id === null || testId(f, name) === id) && (file === null || f === file);
  await runSuite(root, report, only);
}

function list(s, report) {
  const names = chain(s)
    .map((x) => x.name)
    .filter(Boolean);
  for (const c of s.children) {
    if (c.kind === 'suite') list(c.suite, report);
    else report({ file: c.file, name: [...names, c.name].join(' > '), status: 'listed', ms: 0 });
  }
}

/** Whether suite `s` contains the selected test (or no test is selected). */
function selects(s, only) {
  if (only === null) return true;
  const names = chain(s)
    .map((x) => x.name)
    .filter(Boolean);
  return s.children.some((c) =>
    c.kind === 'suite' ? selects(c.suite, only) : only(c.file, [...names, c.name].join(' > ')),
  );
}

async function runSuite(s, report, only) {
  if (!selects(s, only)) return;
  const names = chain(s)
    .map((x) => x.name)
    .filter(Boolean);
  let setupError = null;
  for (const h of s.beforeAll) {
    try {
      await withTimeout(h, DEFAULT_TIMEOUT_MS, 'beforeAll');
    } catch (e) {
      setupError = e;
      break;
    }
  }
  for (const c of s.children) {
    if (bailed) return;
    if (c.kind === 'suite') {
      if (!selects(c.suite, only)) continue;
      if (setupError) await failAll(c.suite, setupError, report, only);
      else await runSuite(c.suite, report, only);
      continue;
    }
    const name = [...names, c.name].join(' > ');
    if (only !== null && !only(c.file, name)) continue;
    const t0 = Date.now();
    if (setupError) {
      report({
        file: c.file,
        name,
        status: 'fail',
        ms: 0,
        error: `beforeAll failed: ${errorText(setupError)}`,
      });
      continue;
    }
    let error = null;
    try {
      for (const x of chain(s))
        for (const h of x.beforeEach) await withTimeout(h, DEFAULT_TIMEOUT_MS, 'beforeEach');
      await withTimeout(
        c.fn,
        SHORT_IDS.has(testId(c.file, name)) ? SHORT_TIMEOUT_MS : c.timeout,
        'test',
      );
    } catch (e) {
      error = e;
    }
    for (const x of chain(s).reverse()) {
      for (const h of x.afterEach) {
        try {
          await withTimeout(h, TEARDOWN_TIMEOUT_MS, 'afterEach');
        } catch (e) {
          error ??= e;
        }
      }
    }
    report({
      file: c.file,
      name,
      status: error ? 'fail' : 'pass',
      ms: Date.now() - t0,
      ...(error ? { error: errorText(error) } : {}),
    });
    if (error && BAIL) bailed = true;
  }
  if (bailed) return;
  for (const h of s.afterAll) {
    try {
      await withTimeout(h, TEARDOWN_TIMEOUT_MS, 'afterAll');
    } catch (e) {
      report({
        file: s.file,
        name: `${names.join(' > ')} (afterAll)`,
        status: 'fail',
        ms: 0,
        error: errorText(e),
      });
    }
  }
}

async function failAll(s, why, report, only) {
  const names = chain(s)
    .map((x) => x.name)
    .filter(Boolean);
  for (const c of s.children) {
    if (c.kind === 'suite') await failAll(c.suite, why, report, only);
    else if (only === null || only(c.file, [...names, c.name].join(' > ')))
      report({
        file: c.file,
        name: [...names, c.name].join(' > '),
        status: 'fail',
        ms: 0,
        error: `beforeAll failed: ${errorText(why)}`,
      });
  }
}

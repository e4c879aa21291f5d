// pnpm bench:hook — what the hook DLL costs, under Wine, in one run:
//  1. the ns it adds to an interposed call (hook_bench.c, run through
//     `iocpscope run --record`: its calls go through the hooks, and it times the
//     same calls through the real functions in the same process, interleaved);
//     the target is <= 100 ns per hooked call. The end-to-end figure (a) is the
//     DLL as shipped; the hook's own time (b) comes from a second run with the DLL
//     built to time itself, whose clock reads would otherwise be in (a);
//     It also times the hook's code apart from Wine (hook_fake.c: the hook compiled
//     into a program whose "real" functions are instant stand-ins, everything warm),
//     and what a page costs here at its first touch after a system call (on a kernel
//     with page-table isolation and no PCID, every system call empties the TLB);
//  2. an unmodified echo server's messages/s under the same `iocpscope load`,
//     plain and through `iocpscope run --record`, in interleaved rounds, as a
//     ratio; the target is hooked >= 0.85x plain. Both test servers are measured.
// A benchmark, not a test: it prints and exits 0. Run it on a quiet machine: it
// prints the load average it started with and the busiest other processes.
// Options: --rounds N (server rounds per mode, default 3), --seconds N (per load,
// default 5), --batches N (default 30), --calls-only (part 1 only).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { CC, WARNINGS, load, run, runExe, winPath } from '../../tracer/test/harness.ts';
import { ensurePrefix, startWineserver, stopWineserver } from '../../../scripts/native/wine.mjs';
import {
  HOOK_BUILD,
  HOOK_DIR,
  buildHook,
  cliToFile,
  startServer,
  workDir,
  type ServerKind,
} from '../test/harness.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const ROUNDS = opt('--rounds', 3);
const SECONDS = opt('--seconds', 5);
const BATCHES = opt('--batches', 30);
const CALLS_ONLY = args.includes('--calls-only');

interface CallCase {
  name: string;
  calls: number;
  /** Medians of the paired per-iteration times. */
  realNs: number;
  hookedNs: number;
  realMeanNs: number;
  hookedMeanNs: number;
  samples: number;
  /** The hook's own time per hooked call, outside the real call (the selftime DLL). */
  insideCalls: number;
  insideNs: number;
}

interface FakeResults {
  cases: { name: string; minNs: number; medianNs: number }[];
  lines16Ns: number;
  pages16Ns: number;
  lost: number;
  clockNs: number;
  clockFencedNs: number;
  lockedAddNs: number;
  cas64Ns: number;
}

/** The kernel's Meltdown mitigation and whether the CPU offers PCID (Linux only). */
function tlbNote(): string {
  try {
    const m = readFileSync('/sys/devices/system/cpu/vulnerabilities/meltdown', 'utf8').trim();
    const pcid = /\bpcid\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
    return `meltdown: ${m}; PCID ${pcid ? 'present' : 'absent'}${
      /PTI/.test(m) && !pcid ? ': every system call empties the TLB' : ''
    }`;
  } catch {
    return 'meltdown mitigation unknown';
  }
}

/** Builds bench/NAME.c into the hook's build folder (flags as the tests'); its path. */
function buildBench(name: string, flags: string[] = []): string {
  const exe = join(HOOK_BUILD, `${name}.exe`);
  const src = join(HOOK_DIR, 'bench', `${name}.c`);
  const r = run(CC, [
    '-std=c99',
    '-O2',
    ...WARNINGS,
    '-static-libgcc',
    ...flags,
    src,
    '-o',
    exe,
    '-lws2_32',
  ]);
  if (!r.ok) throw new Error(`building ${name}.exe failed:\n${r.output}`);
  return exe;
}

async function fake(): Promise<FakeResults> {
  const dir = workDir('bench-fake');
  const exe = buildBench('hook_fake', [`-I${join(HOOK_DIR, '..', 'tracer', 'include')}`]);
  const results = join(dir, 'fake.json');
  const x = await runExe(exe, [winPath(results), winPath(join(dir, 'fake.iocptrace'))], {
    timeoutMs: 120_000,
    logFile: join(dir, 'fake.log'),
    // the collector drains every 5 ms (50 by default), so it empties the ring in the 10 ms
    // between two bursts: no record is lost, and no call is timed on the cheap lost path
    env: { IOCPSCOPE_FLUSH_MS: '5' },
  });
  if (x.status !== 0) throw new Error(`hook_fake.exe exited ${x.status}: ${x.log.slice(-800)}`);
  return JSON.parse(readFileSync(results, 'utf8')) as FakeResults;
}

interface CallResults {
  selftime: boolean;
  /** What the timing's own TSC reads add to insideNs. */
  timerNs: number;
  cases: CallCase[];
}

const signed = (x: number): string => `${x < 0 ? '-' : '+'}${Math.abs(x).toFixed(0)}`;

function busiest(): string {
  try {
    const out = execFileSync('ps', ['-eo', 'pcpu,comm', '--sort=-pcpu'], { encoding: 'utf8' });
    return out
      .split('\n')
      .slice(1, 6)
      .map((l) => l.trim())
      .filter(Boolean)
      .join('; ');
  } catch {
    return '(ps failed)';
  }
}

/**
 * hook_bench.exe through `iocpscope run --record`, with the hook DLL as shipped
 * (`selftime` false) or built to time itself (hook.c IOCPSCOPE_HOOK_SELFTIME: four
 * more clock reads and a store per hooked call, which the end-to-end figure must
 * not carry, so that figure comes from a run of its own).
 */
async function perCall(exe: string, selftime: boolean): Promise<CallResults> {
  const dir = workDir(selftime ? 'bench-calls-selftime' : 'bench-calls');
  const results = join(dir, 'calls.json');
  const c = cliToFile(
    [
      'run',
      '--record',
      join(dir, 'calls.iocptrace'),
      '--quiet',
      '--',
      exe,
      winPath(results),
      String(BATCHES),
      '2000',
    ],
    join(dir, 'calls.log'),
    selftime
      ? { IOCPSCOPE_HOOK_DLL: buildHook({ dir: join(HOOK_BUILD, 'selftime'), selftime: true }).dll }
      : {},
  );
  const status = await c.exited;
  if (status !== 0) throw new Error(`hook_bench.exe exited ${status}`);
  return JSON.parse(readFileSync(results, 'utf8')) as CallResults;
}

async function throughput(kind: ServerKind, hooked: boolean, round: number): Promise<number> {
  const dir = workDir(`bench-${kind}-${hooked ? 'hooked' : 'plain'}-${round}`);
  const server = await startServer(kind, dir, {
    hooked,
    ...(hooked ? { record: join(dir, 'bench.iocptrace') } : {}),
    args: ['--workers', '2'],
  });
  let rate: number;
  try {
    const l = await load(server.port, ['-c', '16', '-s', '64', '-p', '4', '-d', `${SECONDS}s`]);
    if (l.report === null || l.report.mismatches.count > 0 || l.status !== 0)
      throw new Error(`the load failed: ${l.output.slice(-500)}`);
    rate = l.report.messagesPerSec;
  } finally {
    await server.stop();
  }
  return rate;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const t0 = Date.now();
  console.log(
    `bench:hook on ${cpus().length} CPUs, load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}; busiest processes: ${busiest()}`,
  );
  ensurePrefix();
  startWineserver();
  try {
    buildHook();
    console.log(
      '\n1. ns the hook adds per interposed call (recording to a file)\n' +
        '  a. end to end: medians of paired iterations, real and hooked back to back',
    );
    const exe = buildBench('hook_bench');
    const { cases } = await perCall(exe, false); // a: the DLL as shipped
    const timed = await perCall(exe, true);
    const { timerNs, selftime } = timed;
    let worst = 0;
    for (const c of cases) {
      const added = (c.hookedNs - c.realNs) / c.calls;
      const addedMean = (c.hookedMeanNs - c.realMeanNs) / c.calls;
      worst = Math.max(worst, added);
      console.log(
        `  ${c.name.padEnd(46)} real ${c.realNs.toFixed(0).padStart(7)} ns, hooked ${c.hookedNs
          .toFixed(0)
          .padStart(
            7,
          )} ns per iteration (${c.samples} pairs): ${signed(added)} ns per hooked call ` +
          `(means: ${signed(addedMean)})`,
      );
    }
    const timedWorst = Math.max(...timed.cases.map((c) => (c.hookedNs - c.realNs) / c.calls));
    console.log(
      `  worst: ${signed(worst)} ns per hooked call (the DLL as shipped; the self-timing build of b,\n` +
        `     run apart, came to ${signed(timedWorst)}: its own clock reads are not in this figure)`,
    );
    console.log(
      "  b. the hook's own time on the calling thread, outside the real call (TSC read at the hook's\n" +
        `     entry, around the real call and at its return; the reads' own ${timerNs.toFixed(0)} ns subtracted)`,
    );
    if (!selftime)
      throw new Error(
        'the selftime DLL was not loaded: hook_bench found no iocpscope_hook_selftime',
      );
    let worstInside = 0;
    for (const c of timed.cases) {
      const net = c.insideNs - timerNs;
      worstInside = Math.max(worstInside, net);
      console.log(
        `  ${c.name.padEnd(46)} ${net.toFixed(0).padStart(5)} ns per hooked call (${c.insideCalls} calls)`,
      );
    }
    console.log(
      `  worst: ${worstInside.toFixed(0)} ns per hooked call (target <= 100 ns); the end-to-end figure ` +
        `above is ${(worst / Math.max(1, worstInside)).toFixed(1)}x that`,
    );
    const f = await fake();
    console.log(
      "  c. the hook's code alone: compiled into a program whose real functions are instant stand-ins\n" +
        '     (no call into Wine between hooked calls: caches and TLB warm), ns per hooked call',
    );
    for (const c of f.cases)
      console.log(
        `  ${c.name.padEnd(46)} ${c.medianNs.toFixed(0).padStart(5)} ns median, ${c.minNs.toFixed(0)} ns min`,
      );
    console.log(
      `  worst median: ${Math.max(...f.cases.map((c) => c.medianNs)).toFixed(0)} ns per hooked call` +
        `${f.lost > 0 ? ` (${f.lost} records lost: the figure is low)` : ''}`,
    );
    console.log(
      `  d. this machine after a call into Wine's server: 16 dependent loads in one page ${f.lines16Ns.toFixed(0)} ns, ` +
        `in 16 pages ${f.pages16Ns.toFixed(0)} ns\n` +
        `     (+${((f.pages16Ns - f.lines16Ns) / 16).toFixed(1)} ns per page touched; ${tlbNote()})`,
    );
    console.log(
      `  e. what the paths are built of costs here: a clock read ${f.clockNs.toFixed(1)} ns, after a fence ` +
        `${f.clockFencedNs.toFixed(1)} ns (the IOCount stamps do without: the count's word bounds them), ` +
        `a locked add ${f.lockedAddNs.toFixed(1)} ns, ` +
        `a 64-bit compare-and-swap ${f.cas64Ns.toFixed(1)} ns\n` +
        '     (uncontended: another core writing the same line costs far more)',
    );
    if (CALLS_ONLY) return;

    console.log(
      `\n2. echo messages/s, plain vs through iocpscope run --record (same load, ${ROUNDS} interleaved rounds of ${SECONDS} s)`,
    );
    for (const kind of ['course', 'acceptex'] as ServerKind[]) {
      const plain: number[] = [];
      const hooked: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        plain.push(await throughput(kind, false, r));
        hooked.push(await throughput(kind, true, r));
      }
      const ratio = median(hooked) / median(plain);
      console.log(
        `  ${kind.padEnd(9)} plain ${plain.map((x) => x.toFixed(0)).join('/')} msg/s, hooked ${hooked
          .map((x) => x.toFixed(0))
          .join('/')} msg/s: ${ratio.toFixed(2)}x (median; target >= 0.85x)`,
      );
    }
    console.log(
      `\nbench:hook done in ${((Date.now() - t0) / 1000).toFixed(0)} s; busiest processes now: ${busiest()}`,
    );
  } finally {
    stopWineserver();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  stopWineserver();
  process.exit(1);
});

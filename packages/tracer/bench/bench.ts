// pnpm bench:tracer — the tracer's costs, under Wine, measured in one run:
//  1. the record path in a tight loop (record_bench.c), ns per event on 1 and
//     4 threads, with the clock's own cost apart (QueryPerformanceCounter and
//     rdtsc); the target is <= 30 ns per event;
//  2. the example C++ echo server's messages/s under the same `iocpscope load`,
//     untraced and traced (recording to a file), in interleaved rounds, as a
//     ratio; the target is traced >= 0.9x untraced.
// A benchmark, not a test: it prints and exits 0. Run it on a quiet machine
// (it prints the load average it started with).
// Options: --rounds N (server rounds per build, default 5), --seconds N (per load, default 5).

import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import {
  BUILD,
  TRACER_DIR,
  buildEchoServer,
  buildExe,
  load,
  readText,
  runExe,
  startEchoServer,
  winPath,
  workDir,
} from '../test/harness.ts';
import { ensurePrefix, startWineserver, stopWineserver } from '../../../scripts/native/wine.mjs';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const ROUNDS = opt('--rounds', 5);
const SECONDS = opt('--seconds', 5);

interface RecordBench {
  threads: number;
  nsPerEventMin: number;
  nsPerEventMedian: number;
  qpcNs: number;
  rdtscNs: number;
  clock: string;
  records: number;
  lost: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const f1 = (x: number): string => x.toFixed(1);

async function recordPath(
  threads: number,
  lang: 'c' | 'c++',
  env: Record<string, string> = {},
): Promise<RecordBench> {
  const dir = workDir(`bench-record-${lang === 'c' ? 'c' : 'cpp'}-${threads}`);
  const exe = buildExe(
    join(BUILD, lang === 'c' ? 'record_bench.exe' : 'record_bench_cpp.exe'),
    [join(TRACER_DIR, 'bench', 'record_bench.c')],
    // g++ compiles the .c file as C++: its call sites are then per-site statics.
    lang === 'c' ? { defines: ['IOCPSCOPE_ENABLE'] } : { cxx: true, defines: ['IOCPSCOPE_ENABLE'] },
  );
  const log = join(dir, 'out.txt');
  const r = await runExe(exe, [String(threads), '100000', '20'], {
    env: {
      IOCPSCOPE_OUTPUT: winPath(join(dir, 'bench.iocptrace')),
      IOCPSCOPE_RING_KB: '8192',
      IOCPSCOPE_BUDGET_MB: '256',
      ...env,
    },
    timeoutMs: 180_000,
    logFile: log,
  });
  const line = r.log.split('\n').find((l) => l.startsWith('{'));
  if (r.status !== 0 || !line)
    throw new Error(`record_bench failed (${r.status}): ${readText(log)}`);
  return JSON.parse(line) as RecordBench;
}

/** CPU time (user + system) of a process so far, in µs, from /proc (10 ms ticks). */
function cpuUs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return NaN;
  }
}

async function serverRound(traced: boolean): Promise<{ rate: number; cpuPerMsgUs: number }> {
  const name = `bench-server-${traced ? 'traced' : 'plain'}`;
  const dir = workDir(`${name}-trace`);
  const server = await startEchoServer(name, {
    traced,
    workers: 2,
    ...(traced ? { output: join(dir, 'bench.iocptrace') } : {}),
  });
  let rate: number;
  let cpuPerMsgUs: number;
  try {
    const cpu0 = cpuUs(server.pid);
    const l = await load(server.port, [
      '-c',
      '16',
      '-s',
      '64',
      '-p',
      '4',
      '-d',
      `${SECONDS}s`,
      '--warmup',
      '1s',
    ]);
    if (l.status !== 0 || !l.report) throw new Error(`load failed: ${l.output.slice(-800)}`);
    rate = l.report.messagesPerSec;
    cpuPerMsgUs = (cpuUs(server.pid) - cpu0) / l.report.messages;
  } finally {
    await server.stop();
  }
  return { rate, cpuPerMsgUs };
}

async function main(): Promise<void> {
  const la = loadavg();
  console.log(
    `bench:tracer — ${cpus().length} CPUs, load average at start ${la.map((x) => x.toFixed(2)).join(' ')}`,
  );
  ensurePrefix();
  startWineserver();
  try {
    buildEchoServer(true);
    buildEchoServer(false);
    console.log(
      '\nrecord path (IOCPSCOPE_IOCOUNT in a tight loop, bursts that fit the ring, rings drained between):',
    );
    const rows: string[] = [];
    for (const lang of ['c++', 'c'] as const) {
      for (const threads of [1, 4]) {
        const runs = [await recordPath(threads, lang), await recordPath(threads, lang)];
        const best = runs.reduce((a, b) => (a.nsPerEventMedian < b.nsPerEventMedian ? a : b));
        rows.push(
          `  ${lang.padEnd(4)} ${String(threads)} thread${threads > 1 ? 's' : ' '}  ` +
            `${f1(best.nsPerEventMedian).padStart(5)} ns/event median  (${f1(best.nsPerEventMin)} min)  ` +
            `clock ${best.clock}  lost ${best.lost}`,
        );
        if (lang === 'c++' && threads === 1) {
          console.log(
            `  the clock alone: QueryPerformanceCounter ${f1(best.qpcNs)} ns/call, rdtsc ${f1(best.rdtscNs)} ns/read`,
          );
        }
      }
    }
    const qpc = await recordPath(1, 'c++', { IOCPSCOPE_CLOCK: 'qpc' });
    rows.push(
      `  c++  1 thread    ${f1(qpc.nsPerEventMedian).padStart(5)} ns/event median  (${f1(qpc.nsPerEventMin)} min)  ` +
        `clock ${qpc.clock} (IOCPSCOPE_CLOCK=qpc: the fallback without an invariant TSC)`,
    );
    for (const r of rows) console.log(r);
    console.log(
      `  (${cpus().length} CPUs: with 4 threads, a burst preempted midway counts its wait; the min is the unpreempted cost)`,
    );

    console.log(
      `\necho server (2 workers) under iocpscope load -c 16 -s 64 -p 4 -d ${SECONDS}s, ${ROUNDS} interleaved rounds:`,
    );
    const plain: number[] = [];
    const traced: number[] = [];
    const plainCpu: number[] = [];
    const tracedCpu: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // ABBA order, so a trend in the machine's load falls on both builds alike.
      const order = i % 2 === 0 ? [false, true] : [true, false];
      for (const t of order) {
        const r = await serverRound(t);
        (t ? traced : plain).push(r.rate);
        (t ? tracedCpu : plainCpu).push(r.cpuPerMsgUs);
      }
      console.log(
        `  round ${i + 1}: untraced ${plain.at(-1)!.toFixed(0)} msg/s (${f1(plainCpu.at(-1)!)} µs CPU/msg), ` +
          `traced ${traced.at(-1)!.toFixed(0)} msg/s (${f1(tracedCpu.at(-1)!)} µs CPU/msg)`,
      );
    }
    const ratio = median(traced) / median(plain);
    const cpuRatio = median(tracedCpu) / median(plainCpu);
    console.log(
      `  median: untraced ${median(plain).toFixed(0)} msg/s, traced ${median(traced).toFixed(0)} msg/s` +
        `  →  traced/untraced ${ratio.toFixed(3)}x (target >= 0.9)`,
    );
    console.log(
      `  the server process's CPU per message (every thread, the collector's included): ` +
        `untraced ${f1(median(plainCpu))} µs, traced ${f1(median(tracedCpu))} µs → ${cpuRatio.toFixed(3)}x`,
    );
    console.log(
      '  (rounds on a shared 2-core machine vary by ±15%: compare medians, and rerun when it is quiet)',
    );
    const la2 = loadavg();
    console.log(`\nload average at the end ${la2.map((x) => x.toFixed(2)).join(' ')}`);
  } finally {
    stopWineserver();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  stopWineserver();
  process.exit(1);
});

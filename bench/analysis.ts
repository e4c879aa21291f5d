// pnpm bench:analysis — seeking in a 10 M-event trace (issue 7 §1).
//
// 1. Generates a seeded synthetic trace of the reference echo server
//    (packages/analysis/src/synth.ts): 10 M events, 10,000 concurrent sessions
//    with churn, 4 workers at concurrency 2, resets and closes.
// 2. Builds the checkpoint index (every --interval events) and reports the build
//    time and the memory the checkpoints keep (heap after a forced GC, minus the
//    heap before, minus one live state: what the index itself costs).
// 3. Seeks to --seeks random events (seeded) with stateAt() and prints the
//    p50/p99/max time, against the baseline measured in the same run: replaying
//    from event 0 to random events (--baseline of them), the way a tool without
//    checkpoints would. Target: every seek under 50 ms.
// 4. Runs every detector over the whole trace (the CLI's `check`) and prints its
//    throughput against the bare replay's (skip with --no-check).
// Options: --events N, --sessions N, --interval K, --seeks N, --baseline N,
// --seed N, --intervals K1,K2,... (compare several intervals: build, memory, seeks).

import { loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  Checkpoints,
  Replayer,
  Rng,
  checkTrace,
  replayFromStart,
  summarize,
  synthesize,
  type TraceRecords,
} from '../packages/analysis/src/index.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number`);
  return v;
}

const EVENTS = arg('events', 10_000_000);
const SESSIONS = arg('sessions', 10_000);
const INTERVAL = arg('interval', 8_192);
const SEEKS = arg('seeks', 300);
const BASELINE = arg('baseline', 5);
const SEED = arg('seed', 1);
const CHECK = !process.argv.includes('--no-check');
const listArg = process.argv.indexOf('--intervals');
const INTERVALS = listArg >= 0 ? process.argv[listArg + 1]!.split(',').map(Number) : [INTERVAL];

const ms = (x: number): string => `${x.toFixed(x < 10 ? 2 : 1)} ms`;
const mb = (x: number): string => `${(x / 1048576).toFixed(1)} MiB`;
/** JS heap plus ArrayBuffer memory (the checkpoint arena lives in one), after a full GC. */
const heap = (): number => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

console.log(
  `bench:analysis  node ${process.version}  load ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
let t0 = performance.now();
const trace: TraceRecords = synthesize({
  seed: SEED,
  events: EVENTS,
  sessions: SESSIONS,
  workers: 4,
  concurrency: 2,
  shutdown: false,
});
console.log(
  `trace: ${trace.length.toLocaleString()} events, ${SESSIONS.toLocaleString()} sessions target, ` +
    `${mb(trace.length * 32)} of records, generated in ${ms(performance.now() - t0)}`,
);

// The bare replay: events/s, and the size of one live state (what every seek materialises).
const before = heap();
t0 = performance.now();
const live = new Replayer();
live.advance(trace, trace.length);
const replayMs = performance.now() - t0;
const liveBytes = heap() - before;
console.log(
  `replay 0→end: ${ms(replayMs)} (${(trace.length / replayMs / 1000).toFixed(2)} M events/s); final state: ` +
    `${live.state.sessions.size.toLocaleString()} sessions, ${live.state.port.queue.size} queued packets, ~${mb(liveBytes)}`,
);

const rng = new Rng(SEED + 1);
// Baseline: a seek without checkpoints replays from the start.
const baseline: number[] = [];
for (let k = 0; k < BASELINE; k++) {
  const i = rng.int(0, trace.length - 1);
  const t = performance.now();
  replayFromStart(trace, i + 1);
  baseline.push(performance.now() - t);
}
const baseMean = baseline.reduce((a, b) => a + b, 0) / Math.max(1, baseline.length);
console.log(
  `baseline seek (replay from event 0, ${BASELINE} random events): mean ${ms(baseMean)}, max ${ms(Math.max(...baseline))}`,
);

/** Build, measure and seek one index; everything it allocates is garbage when it returns. */
function measure(interval: number): void {
  const h0 = heap();
  let t = performance.now();
  const cp = new Checkpoints({ interval });
  cp.extend(trace);
  const buildMs = performance.now() - t;
  const bytes = heap() - h0 - liveBytes; // the builder keeps one live state itself
  const st = cp.stats();
  const seeks: number[] = [];
  for (let k = 0; k < SEEKS; k++) {
    const i = rng.int(0, trace.length - 1);
    t = performance.now();
    cp.stateAt(trace, i);
    seeks.push(performance.now() - t);
  }
  const mean = seeks.reduce((a, b) => a + b, 0) / seeks.length;
  const max = Math.max(...seeks);
  console.log(
    `\ncheckpoints every ${interval.toLocaleString()} events: ${st.checkpoints} checkpoints, built in ${ms(buildMs)} ` +
      `(${(buildMs / replayMs).toFixed(2)}× the bare replay)`,
  );
  console.log(
    `  memory: ${mb(bytes)} measured (${(bytes / trace.length).toFixed(1)} bytes/event); ` +
      `${st.sessionVersions.toLocaleString()} session versions, ${mb(st.arenaWords * 4)} encoded ` +
      `(${((st.arenaWords * 4) / Math.max(1, st.sessionVersions)).toFixed(0)} bytes each) in ${mb(st.arenaBytes)} of arena; ` +
      `offset tables ${mb(st.tableBytes)}`,
  );
  console.log(
    `  seek (${SEEKS} random events): p50 ${ms(quantile(seeks, 0.5))}, p99 ${ms(quantile(seeks, 0.99))}, max ${ms(max)}; ` +
      `mean ${ms(mean)}, ${(baseMean / mean).toFixed(0)}× faster than the baseline; target max < 50 ms: ${max < 50 ? 'met' : 'NOT met'}`,
  );
}

for (const interval of INTERVALS) measure(interval);

if (CHECK) {
  t0 = performance.now();
  const res = checkTrace(trace);
  const checkMs = performance.now() - t0;
  const sum = summarize(res.findings);
  console.log(
    `\ncheck (all 16 detectors): ${ms(checkMs)} (${(trace.length / checkMs / 1000).toFixed(2)} M events/s, ` +
      `${(checkMs / replayMs).toFixed(2)}× the bare replay); findings: ${sum.total}` +
      (sum.total > 0
        ? ` (${sum.byRule.map((r) => `${r.rule} ${r.count}`).join(', ')})`
        : ' (the synthetic trace is clean)'),
  );
}

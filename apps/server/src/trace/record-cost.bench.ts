// Measures the per-record cost of RingRecorder.record() against the cost of the
// clock read alone, with a consumer keeping up (no overflow). Run:
//   pnpm --filter @iocpscope/server exec tsx src/trace/record-cost.bench.ts
import { EventKind, ThreadRole } from '@iocpscope/protocol';
import { Drainer } from './drainer.ts';
import { attachRecorder } from './recorder.ts';
import { TraceShared } from './shared.ts';

const N = 1 << 16;
const ROUNDS = 40;
const shared = TraceShared.create({ maxThreads: 1, ringRecords: N * 2 });
const rec = attachRecorder(shared, { role: ThreadRole.Worker, name: 'bench' });
const drainer = new Drainer(shared, { windowNs: 0, maxBatchRecords: N * 4 });
let recordNs = 0;
let clockNs = 0;
let sink = 0;
for (let round = 0; round < ROUNDS; round++) {
  let t0 = performance.now();
  for (let i = 0; i < N; i++) rec.record(EventKind.IoCount, 6, 1, i, 0, 0xffffffff, i);
  recordNs += (performance.now() - t0) * 1e6;
  t0 = performance.now();
  for (let i = 0; i < N; i++) sink += performance.now();
  clockNs += (performance.now() - t0) * 1e6;
  drainer.pump(true);
}
const per = recordNs / (N * ROUNDS);
const clk = clockNs / (N * ROUNDS);
console.log(
  `record(): ${per.toFixed(1)} ns/record, of which clock ~${clk.toFixed(1)} ns ` +
    `(ratio record/clock ${(per / clk).toFixed(2)}); lost=${drainer.stats().lostRecords} ${sink > 0 ? '' : ' '}`,
);

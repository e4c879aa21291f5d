import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, synthesize } from '@iocpscope/analysis';
import {
  EventKind,
  RECORD_WORDS,
  SnapshotReason,
  readTraceFile,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import { RecordingSink, type RecordingSummary } from '../record/sink.ts';
import { TrackingSource, liveState, replayWords } from '../trace/state.test-util.ts';
import { SESSION_KINDS } from './builder.ts';
import { LiveTrace } from './live-trace.ts';
import { IndexedTrace } from './trace.ts';

const W = RECORD_WORDS;
const HEADER: TraceFileHeader = {
  clock: 'monotonic-ns',
  host: 'test',
  backend: 'emulated',
  portConfig: { workers: 4, concurrency: 0 },
  startWallMs: 0,
  name: 'live',
};
const INTERVAL = 2000;

let dir: string;
let live: LiveTrace;
let summary: RecordingSummary;
/** The naive model: every part file's records, concatenated. */
let all: Uint32Array;
let n: number;
/** Each part's first event in `all`. */
let partStarts: number[];
let source: Uint32Array;

const kindOf = (i: number): number => all[i * W]! & 0xff;
const sessionOf = (i: number): bigint => (BigInt(all[i * W + 5]!) << 32n) | BigInt(all[i * W + 4]!);
const partStartOf = (i: number): number => partStarts.filter((s) => s <= i).pop()!;
/** Event i, or the end of the Snapshot bracket it falls inside (a state mid-bracket is no state). */
function outsideBracket(i: number): number {
  let open = -1;
  for (let k = 0; k <= i; k++) {
    if (kindOf(k) !== EventKind.Snapshot) continue;
    open = ((all[k * W]! >>> 8) & 0xff) === 0 ? k : -1;
  }
  if (open < 0) return i;
  let k = i;
  while (!(kindOf(k) === EventKind.Snapshot && ((all[k * W]! >>> 8) & 0xff) === 1)) k++;
  return k;
}
const tsOf = (w: Uint32Array, i: number): number =>
  w[i * W + 2]! + (w[i * W + 3]! & 0x1fffff) * 4294967296;

async function until(what: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-live-'));
  const t = synthesize({ events: 40_000, seed: 8, maxEntries: 4, sessions: 48 });
  source = t.words.subarray(0, t.length * W);
  const strings = [...t.strings.entries()].filter(([id]) => id !== 0);
  // A source that tracks its state like the drainer: rotations open on an exact bracket.
  const src = new TrackingSource();
  live = new LiveTrace({
    scratchDir: path.join(dir, 'scratch'),
    header: HEADER,
    checkpointInterval: INTERVAL,
    maxLagMs: 0,
  });
  const sink = new RecordingSink({
    path: path.join(dir, 'spool.iocptrace'),
    header: HEADER,
    maxFileBytes: 256 * 1024,
    flushMs: 5,
    rotateSnapshot: (deliver) => src.requestSnapshot(SnapshotReason.RecordingStart, deliver),
    onChunk: (c) => live.addChunk(c),
  });
  src.subscribe(sink.write);
  const rng = new Rng(3);
  for (let i = 0; i < t.length;) {
    const k = Math.min(t.length - i, rng.int(1, 700));
    src.emit(source.subarray(i * W, (i + k) * W), i === 0 ? strings : []);
    src.answer();
    i += k;
    if (rng.int(0, 3) === 0) await new Promise((r) => setTimeout(r, 1));
  }
  summary = await sink.close();
  const parts = await Promise.all(summary.files.map((f) => readFile(f.path)));
  const decoded = parts.map((b) => readTraceFile(b).records);
  partStarts = [];
  all = new Uint32Array(decoded.reduce((s, r) => s + r.length, 0));
  let at = 0;
  for (const r of decoded) {
    partStarts.push(at / W);
    all.set(r, at);
    at += r.length;
  }
  n = all.length / W;
  await until(() => live.head === n);
  // The walk (findings and checkpoints) follows the written chunks.
  await until(() => live.findings!.walked === n);
  await until(
    () => live.checkpoints.count >= Math.floor((n - summary.files.length * INTERVAL) / INTERVAL),
  );
}, 120_000);

afterAll(async () => {
  await live.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a trace being written, queried while it grows', { timeout: 60_000 }, () => {
  it('numbers the parts’ records as written, brackets and TraceEnds included', async () => {
    expect(summary.files.length).toBeGreaterThan(3);
    expect(live.head).toBe(n);
    expect(live.index.events).toBe(n);
    expect(live.parts().map((p) => p.firstEvent)).toEqual(partStarts);
    for (const [from, count] of [
      [0, 50],
      [partStarts[3]! - 7, 30],
      [1234, 9000],
      [n - 10, 100],
    ] as const) {
      const got = await live.records(from, count);
      expect(got).toEqual(all.subarray(from * W, Math.min(n, from + count) * W));
    }
  });

  it('maps the source’s records to the events they became', () => {
    let mapped = 0;
    for (const s of live.streamMap) {
      for (let j = 0; j < s.count; j += 97) {
        const a = all.subarray((s.event + j) * W, (s.event + j + 1) * W);
        const b = source.subarray((s.stream + j) * W, (s.stream + j + 1) * W);
        expect(a).toEqual(b);
      }
      mapped += s.count;
    }
    expect(mapped).toBe(source.length / W);
    expect(live.eventOfStream(0)).toBe(live.streamMap[0]!.event);
  });

  it('steps and lists sessions across parts like a naive scan', async () => {
    const naive = (from: number, dir: 1 | -1, pred: (i: number) => boolean): number => {
      for (let i = from + dir; i >= 0 && i < n; i += dir) if (pred(i)) return i;
      return -1;
    };
    const sid = live.index.sessions.at(live.index.sessions.length >> 1)!.id;
    const rng = new Rng(9);
    // Right next to a match (in a later part than the first), at both ends, and anywhere.
    const d = naive(partStarts[3]!, 1, (i) => kindOf(i) === EventKind.Disconnect);
    const near = [d - 1, d + 1, partStarts[6]! - 1, partStarts[6]!];
    for (let c = 0; c < 16; c++) {
      const from = c === 0 ? -1 : c === 1 ? n : c < 6 ? near[c - 2]! : rng.int(0, n - 1);
      for (const dir of [1, -1] as const) {
        expect(await live.nextEvent(from, dir, { kind: EventKind.Disconnect })).toBe(
          naive(from, dir, (i) => kindOf(i) === EventKind.Disconnect),
        );
        expect(await live.nextEvent(from, dir, { kind: EventKind.Snapshot })).toBe(
          naive(from, dir, (i) => kindOf(i) === EventKind.Snapshot),
        );
        expect(await live.nextEvent(from, dir, { session: sid })).toBe(
          naive(from, dir, (i) => SESSION_KINDS[kindOf(i)] === 1 && sessionOf(i) === sid),
        );
      }
    }
    // Sessions: first and last event, events, lifecycle events, across parts.
    const want = new Map<
      bigint,
      { first: number; last: number; events: number; created: number }
    >();
    for (let i = 0; i < n; i++) {
      if (SESSION_KINDS[kindOf(i)] !== 1 || (all[i * W + 4]! | all[i * W + 5]!) === 0) continue;
      const id = sessionOf(i);
      const s = want.get(id) ?? { first: i, last: i, events: 0, created: -1 };
      s.last = i;
      s.events++;
      if (kindOf(i) === EventKind.SessionCreated && s.created < 0) s.created = i;
      want.set(id, s);
    }
    expect(live.index.sessions.length).toBe(want.size);
    for (const s of live.index.sessions) {
      const w = want.get(s.id)!;
      expect([s.firstEvent, s.lastEvent, s.events, s.createdEvent]).toEqual([
        w.first,
        w.last,
        w.events,
        w.created,
      ]);
    }
    for (const s of [...live.index.sessions].filter((_, k) => k % 7 === 0)) {
      const events: number[] = [];
      for (let i = 0; i < n; i++) {
        if (SESSION_KINDS[kindOf(i)] === 1 && sessionOf(i) === s.id) events.push(i);
      }
      expect(await live.sessionEvents(s.id)).toEqual(events);
      expect(await live.sessionEvents(s.id, events[3] ?? 0, 5)).toEqual(
        events.slice(Math.min(3, events.length), 8),
      );
    }
  });

  it('finds the first event at a time', async () => {
    for (const i of [0, partStarts[2]!, 7777, n - 1]) {
      const ns = tsOf(all, i);
      const j = await live.eventAtNs(ns);
      let k = 0;
      while (tsOf(all, k) < ns) k++;
      expect(j).toBe(k);
    }
  });

  it('gives the state at any event: what its part replays to from its start', async () => {
    const rng = new Rng(12);
    for (let c = 0; c < 16; c++) {
      const at = outsideBracket(
        c === 0 ? partStarts[4]! : c === 1 ? partStarts[4]! + INTERVAL : rng.int(0, n - 1),
      );
      const st = (await live.stateAt(at))!;
      expect(st).not.toBeNull();
      expect(st.base).toBeGreaterThanOrEqual(partStartOf(at));
      expect(st.records).toEqual(all.subarray(st.base * W, (at + 1) * W));
      const held = new Uint32Array(st.bracket.length + st.records.length);
      held.set(st.bracket);
      held.set(st.records, st.bracket.length);
      const want = liveState(replayWords(all.subarray(partStartOf(at) * W, (at + 1) * W)));
      expect(liveState(replayWords(held)), `state after ${at}`).toEqual(want);
      // The parts open on exact brackets: the same as replaying everything before.
      expect(liveState(replayWords(held))).toEqual(
        liveState(replayWords(all.subarray(0, (at + 1) * W))),
      );
    }
    // Checkpoints are used: somewhere the base is past the part's start.
    const far = partStarts.findIndex((s, k) => (partStarts[k + 1] ?? n) - s > 2 * INTERVAL);
    expect(far).toBeGreaterThanOrEqual(0);
    const st = (await live.stateAt(partStarts[far]! + 2 * INTERVAL + 5))!;
    expect(st.base).toBe(partStarts[far]! + 2 * INTERVAL);
  });

  it('opens a window anywhere, across parts, whose replay agrees with the whole trace', async () => {
    const rng = new Rng(13);
    for (let c = 0; c < 10; c++) {
      const from = c === 0 ? partStarts[5]! - 20 : rng.int(1, n - 300);
      const count = rng.int(50, 6000);
      const w = (await live.window(from, count))!;
      const end = Math.min(n, w.from + count);
      expect(w.records).toEqual(all.subarray(w.from * W, end * W));
      const at = outsideBracket(rng.int(from, end - 1));
      if (at >= end) continue;
      const held = new Uint32Array(w.bracket.length + (at + 1 - w.from) * W);
      held.set(w.bracket);
      held.set(w.records.subarray(0, (at + 1 - w.from) * W), w.bracket.length);
      expect(liveState(replayWords(held)), `window at ${from}, after ${at}`).toEqual(
        liveState(replayWords(all.subarray(0, (at + 1) * W))),
      );
    }
  });

  it('merges the parts’ summaries on one time grid: each part scanned from its file, bucket by bucket', async () => {
    const files = await Promise.all(
      summary.files.map((f) => IndexedTrace.open(f.path, { cacheDir: path.join(dir, 'idx') })),
    );
    const tids = live.index.lanes.map((l) => l.tid);
    for (const level of [0, 3, 7, live.index.levels.length - 1]) {
      const meta = live.index.levels[level]!;
      const got = live.summary(level, meta.origin, meta.origin + meta.count);
      expect(got.count).toBe(meta.count);
      const frac = tids.map(() => new Uint16Array(meta.count * 3));
      const flags = tids.map(() => new Uint8Array(meta.count));
      const qMax = new Int32Array(meta.count).fill(-1);
      for (const f of files) {
        const k = Math.min(level, f.index.levels.length - 1);
        if (f.index.levels[k]!.shift !== meta.shift) continue; // a part shorter than the level
        const s = f.summary(k, meta.origin, meta.origin + meta.count);
        for (let j = 0; j < s.count; j++) {
          const o = s.from + j - meta.origin;
          qMax[o] = Math.max(qMax[o]!, s.queueMax[j]!);
          s.lanes.forEach((l, lk) => {
            const m = tids.indexOf(f.index.lanes[lk]!.tid);
            for (let x = 0; x < 3; x++) frac[m]![o * 3 + x] += l.frac[j * 3 + x]!;
            flags[m]![o]! |= l.flags[j]!;
          });
        }
      }
      if (files.every((f) => f.index.levels.length > level)) {
        for (let o = 0; o < meta.count; o++)
          if (qMax[o]! >= 0) expect(got.queueMax[o]).toBe(qMax[o]);
        got.lanes.forEach((l, m) => {
          expect(Array.from(l.flags)).toEqual(Array.from(flags[m]!));
          expect(Array.from(l.frac)).toEqual(Array.from(frac[m]!, (v) => Math.min(255, v)));
        });
      }
    }
    for (const f of files) await f.close();
  });

  it('walks its findings as it is written', () => {
    const v = live.findings!.view(0, 100);
    expect(v.state).toBe('running');
    expect(v.walked).toBe(n);
  });
});

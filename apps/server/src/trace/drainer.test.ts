import { describe, expect, it } from 'vitest';
import {
  EventKind,
  GapSource,
  RECORD_WORDS,
  ThreadRole,
  ThreadStateValue,
  kindAt,
  tidAt,
  tsAt,
  xAt,
  yAt,
} from '@iocpscope/protocol';
import { ManualClock } from './clock.ts';
import { Drainer, type DrainBatch, type StringEntry } from './drainer.ts';
import { attachRecorder, type TraceRecorder } from './recorder.ts';
import { C_HEAD, C_REPORTED_LOST, C_TAIL, C_TOTAL_LOST, TraceShared } from './shared.ts';
import { randInt, seededRandom } from './testing.ts';

interface Rec {
  kind: number;
  tid: number;
  ts: number;
  x: number;
  y: number;
}

function collect(batches: (DrainBatch | null)[]): { recs: Rec[]; strings: StringEntry[] } {
  const recs: Rec[] = [];
  const strings: StringEntry[] = [];
  for (const b of batches) {
    if (!b) continue;
    strings.push(...b.strings);
    for (let i = 0; i < b.records.length / RECORD_WORDS; i++) {
      recs.push({
        kind: kindAt(b.records, i),
        tid: tidAt(b.records, i),
        ts: tsAt(b.records, i),
        x: xAt(b.records, i),
        y: yAt(b.records, i),
      });
    }
  }
  return { recs, strings };
}

/**
 * The naive model of one ring: a bounded queue that counts drops. A loss is
 * reported once, by whoever comes first: the drainer at its next pump (a Gap
 * right after the ring's last record, at its timestamp) or the producer before
 * its next record (at that record's timestamp). The producer keeps room for a
 * Gap until it has written again, whoever reported the loss.
 */
class ModelRing {
  queue: Rec[] = [];
  /** Drops since the producer last wrote (it still keeps room for a Gap). */
  pending = 0;
  /** Drops nobody has reported. */
  unclaimed = 0;
  lastTs = -1;
  constructor(
    readonly tid: number,
    readonly cap: number,
  ) {}
  record(r: Rec): void {
    const need = this.pending > 0 ? 2 : 1;
    if (this.cap - this.queue.length < need) {
      this.pending++;
      this.unclaimed++;
      return;
    }
    if (this.unclaimed > 0) {
      this.queue.push({ kind: EventKind.Gap, tid: this.tid, ts: r.ts, x: this.unclaimed, y: 0 });
    }
    this.pending = 0;
    this.unclaimed = 0;
    this.queue.push(r);
    this.lastTs = r.ts;
  }
  /** A pump: everything published, then the drainer's Gap for unclaimed loss. */
  drain(): Rec[] {
    const out = this.queue.splice(0);
    if (this.unclaimed > 0) {
      out.push({ kind: EventKind.Gap, tid: this.tid, ts: this.lastTs, x: this.unclaimed, y: 0 });
      this.unclaimed = 0;
    }
    return out;
  }
}

describe('Drainer', () => {
  it('merges randomly interleaved producers exactly like a naive bounded-queue model', () => {
    for (const seed of [1, 2, 3, 42, 1234]) {
      const rand = seededRandom(seed);
      const cap = 8;
      const shared = TraceShared.create({ maxThreads: 4, ringRecords: cap, stringSlots: 4 });
      const clock = new ManualClock(1);
      const producers: TraceRecorder[] = [];
      const models: ModelRing[] = [];
      const expected: Rec[] = [];
      for (let t = 0; t < 3; t++) {
        clock.advance(1);
        const p = attachRecorder(shared, { role: ThreadRole.Worker, name: `w${t}`, clock });
        producers.push(p);
        const m = new ModelRing(p.tid, cap);
        m.record({ kind: EventKind.ThreadStart, tid: p.tid, ts: clock.ns, x: t + 1, y: 0 });
        models.push(m);
      }
      // Window 0 and a strictly advancing clock: each pump takes everything published.
      const drainer = new Drainer(shared, { windowNs: 0, clock });
      const batches: (DrainBatch | null)[] = [];
      const drainModel = (): void => {
        const all = models.flatMap((m) => m.drain());
        // Stable: a ring's Gap stays after its record with the same timestamp.
        all.sort((a, b) => a.ts - b.ts || a.tid - b.tid);
        expected.push(...all);
      };
      for (let step = 0; step < 2000; step++) {
        clock.advance(1);
        if (rand() < 0.08) {
          batches.push(drainer.pump());
          drainModel();
          continue;
        }
        const t = randInt(rand, 0, 2);
        const x = step;
        producers[t]!.record(EventKind.Marker, 0, x, 0, 0, 7, 0);
        models[t]!.record({
          kind: EventKind.Marker,
          tid: producers[t]!.tid,
          ts: clock.ns,
          x,
          y: 7,
        });
      }
      clock.advance(1);
      batches.push(drainer.pump());
      drainModel();
      const got = collect(batches).recs;
      expect(got).toEqual(expected);
      const lostModel = expected
        .filter((r) => r.kind === EventKind.Gap)
        .reduce((s, r) => s + r.x, 0);
      expect(drainer.stats().lostRecords).toBe(lostModel);
      expect(drainer.stats().lateRecords).toBe(0);
    }
  });

  it('reports ring overflow as a gap with the exact count right after the last record before it', () => {
    const shared = TraceShared.create({ maxThreads: 2, ringRecords: 8, stringSlots: 4 });
    const clock = new ManualClock(10);
    const p = attachRecorder(shared, { role: ThreadRole.Worker, name: 'w', clock });
    for (let i = 0; i < 19; i++) {
      clock.advance(1);
      p.record(EventKind.Marker, 0, i, 0, 0, 0, 0);
    }
    // ThreadStart + 7 markers fit; 12 markers are lost. Another thread records
    // after the loss, before the lossy thread records again: its record must
    // not come before the Gap (or it would be judged as if nothing was lost).
    clock.advance(1);
    const q = attachRecorder(shared, { role: ThreadRole.Worker, name: 'v', clock });
    const d = new Drainer(shared, { windowNs: 0, clock });
    clock.advance(1);
    const first = collect([d.pump()]).recs;
    const lastMarkerTs = first[7]!.ts;
    expect(first.map((r) => [r.kind, r.tid])).toEqual([
      [EventKind.ThreadStart, p.tid],
      ...Array(7).fill([EventKind.Marker, p.tid]),
      [EventKind.Gap, p.tid],
      [EventKind.ThreadStart, q.tid],
    ]);
    expect(first[8]).toEqual({ kind: EventKind.Gap, tid: p.tid, ts: lastMarkerTs, x: 12, y: 0 });
    clock.advance(1);
    p.record(EventKind.Marker, 0, 100, 0, 0, 0, 0);
    clock.advance(1);
    // Reported once: the producer's next record comes without a Gap of its own.
    const second = collect([d.pump()]).recs;
    expect(second).toEqual([
      { kind: EventKind.Marker, tid: p.tid, ts: second[0]!.ts, x: 100, y: 0 },
    ]);
    expect(d.stats().lostRecords).toBe(12);
  });

  it('keeps a claimed gap before the records the thread wrote after the loss', () => {
    // The Gap is claimed in a pump that cannot emit it yet (another thread
    // holds the frontier back); the thread then writes again before the next
    // pump. The Gap must stay where the loss was, not after the new records.
    const shared = TraceShared.create({ maxThreads: 2, ringRecords: 8, stringSlots: 4 });
    const clock = new ManualClock(10);
    const a = attachRecorder(shared, { role: ThreadRole.Worker, name: 'a', clock });
    const b = attachRecorder(shared, { role: ThreadRole.Worker, name: 'b', clock });
    for (let ts = 11; ts <= 19; ts++) a.recordAt(ts, EventKind.Marker, 0, ts, 0, 0, 0, 0);
    // 11..17 fit after ThreadStart; 18 and 19 are lost.
    b.recordAt(12, EventKind.Marker, 0, 12, 0, 0, 0, 0);
    clock.ns = 20;
    const d = new Drainer(shared, { windowNs: 100, clock });
    const first = collect([d.pump()]).recs;
    expect(first.map((r) => r.ts)).toEqual([10, 10, 11, 12, 12]);
    // Room for three: 20..22 are written, 23 and 24 lost again. The second
    // loss is a Gap of its own after 22, not added to the first (which would
    // make 20..22 look like the end of the loss and hide the second one).
    for (let ts = 20; ts <= 24; ts++) a.recordAt(ts, EventKind.Marker, 0, ts, 0, 0, 0, 0);
    b.recordAt(25, EventKind.Marker, 0, 25, 0, 0, 0, 0);
    clock.ns = 30;
    const second = collect([d.pump()]).recs.filter((r) => r.tid === a.tid);
    expect(second.map((r) => [r.kind, r.ts, r.x])).toEqual([
      [EventKind.Marker, 13, 13],
      [EventKind.Marker, 14, 14],
      [EventKind.Marker, 15, 15],
      [EventKind.Marker, 16, 16],
      [EventKind.Marker, 17, 17],
      [EventKind.Gap, 17, 2],
      [EventKind.Marker, 20, 20],
      [EventKind.Marker, 21, 21],
      [EventKind.Marker, 22, 22],
      [EventKind.Gap, 22, 2],
    ]);
  });

  it('keeps a loss in its place when the final drain takes several batches', () => {
    const shared = TraceShared.create({ maxThreads: 2, ringRecords: 32, stringSlots: 4 });
    const clock = new ManualClock(10);
    const a = attachRecorder(shared, { role: ThreadRole.Worker, name: 'a', clock });
    for (let i = 0; i < 40; i++) {
      clock.advance(1);
      a.record(EventKind.Marker, 0, i, 0, 0, 0, 0);
    }
    const b = attachRecorder(shared, { role: ThreadRole.Worker, name: 'b', clock });
    for (let i = 0; i < 10; i++) {
      clock.advance(1);
      b.record(EventKind.Marker, 0, 100 + i, 0, 0, 0, 0);
    }
    const d = new Drainer(shared, { windowNs: 0, clock, maxBatchRecords: 16 });
    const batches: (DrainBatch | null)[] = [];
    for (let x = d.pump(true); x; x = d.pump(true)) batches.push(x);
    const recs = collect(batches).recs;
    expect(batches.length).toBeGreaterThan(2);
    expect(d.stats().lateRecords).toBe(0);
    // ThreadStart + 31 markers of a, its Gap (9 lost), then b's records.
    expect(recs.map((r) => (r.kind === EventKind.Gap ? `gap ${r.x}` : r.tid))).toEqual([
      ...Array(32).fill(a.tid),
      'gap 9',
      ...Array(11).fill(b.tid),
    ]);
  });

  it('reports loss the producer could not report itself once the thread has exited', () => {
    const shared = TraceShared.create({ maxThreads: 1, ringRecords: 4, stringSlots: 4 });
    const clock = new ManualClock(10);
    const p = attachRecorder(shared, { role: ThreadRole.Worker, name: 'w', clock });
    for (let i = 0; i < 10; i++) p.record(EventKind.Marker, 0, i, 0, 0, 0, 0);
    p.exit(0); // lost too: the ring is full
    clock.advance(1);
    const d = new Drainer(shared, { windowNs: 0, clock });
    const { recs } = collect([d.pump(), d.pump()]);
    expect(recs.length).toBe(5);
    expect(recs[4]).toMatchObject({ kind: EventKind.Gap, tid: p.tid, x: 8 });
    expect(d.stats().lostRecords).toBe(8);
    expect(d.pump()).toBeNull();
  });

  it('breaks timestamp ties by thread index', () => {
    const shared = TraceShared.create({ maxThreads: 3, ringRecords: 16, stringSlots: 4 });
    const clock = new ManualClock(5);
    const ps = [0, 1, 2].map((i) =>
      attachRecorder(shared, { role: ThreadRole.Worker, name: `w${i}`, clock }),
    );
    for (const p of [ps[2]!, ps[0]!, ps[1]!]) p.record(EventKind.Marker, 0, p.tid, 0, 0, 0, 0);
    clock.advance(1);
    const { recs } = collect([new Drainer(shared, { windowNs: 0, clock }).pump()]);
    // Equal timestamps: thread 0's records first (in its own order), then 1, then 2.
    expect(recs.map((r) => [r.kind, r.tid])).toEqual([
      [EventKind.ThreadStart, 0],
      [EventKind.Marker, 0],
      [EventKind.ThreadStart, 1],
      [EventKind.Marker, 1],
      [EventKind.ThreadStart, 2],
      [EventKind.Marker, 2],
    ]);
  });

  it('holds back records until a silent busy thread is past them or the window passes', () => {
    const shared = TraceShared.create({ maxThreads: 2, ringRecords: 16, stringSlots: 4 });
    const clock = new ManualClock(100);
    const a = attachRecorder(shared, { role: ThreadRole.Worker, name: 'a', clock });
    attachRecorder(shared, { role: ThreadRole.Worker, name: 'b', clock });
    const d = new Drainer(shared, { windowNs: 1000, clock });
    clock.advance(10);
    a.record(EventKind.Marker, 0, 1, 0, 0, 0, 0); // ts 110; b's newest is its ThreadStart at 100
    clock.advance(10);
    expect(collect([d.pump()]).recs.map((r) => r.tid)).toEqual([0, 1]); // both starts only
    clock.advance(2000);
    expect(collect([d.pump()]).recs.map((r) => r.x)).toEqual([1]);
  });

  it('merges past an idle thread at once', () => {
    const shared = TraceShared.create({ maxThreads: 2, ringRecords: 16, stringSlots: 4 });
    const clock = new ManualClock(100);
    const a = attachRecorder(shared, { role: ThreadRole.Worker, name: 'a', clock });
    const b = attachRecorder(shared, { role: ThreadRole.Worker, name: 'b', clock });
    b.record(EventKind.ThreadState, ThreadStateValue.Waiting, 0, 0, 0, 0, 0);
    const d = new Drainer(shared, { windowNs: 1e12, clock });
    clock.advance(10);
    a.record(EventKind.Marker, 0, 1, 0, 0, 0, 0);
    clock.advance(10);
    // a's own newest record bounds a; b is idle: the marker goes out now.
    const kinds = collect([d.pump()]).recs.map((r) => r.kind);
    expect(kinds).toEqual([
      EventKind.ThreadStart,
      EventKind.ThreadStart,
      EventKind.ThreadState,
      EventKind.Marker,
    ]);
  });

  it('clamps a record published later than the window allowed and counts it as late', () => {
    const shared = TraceShared.create({ maxThreads: 2, ringRecords: 16, stringSlots: 4 });
    const clock = new ManualClock(100);
    const a = attachRecorder(shared, { role: ThreadRole.Worker, name: 'a', clock });
    const late = new ManualClock(150);
    const b = attachRecorder(shared, { role: ThreadRole.Worker, name: 'b', clock: late });
    const d = new Drainer(shared, { windowNs: 10, clock });
    clock.ns = 300;
    a.record(EventKind.Marker, 0, 1, 0, 0, 0, 0);
    clock.ns = 400;
    d.pump();
    b.record(EventKind.Marker, 0, 2, 0, 0, 0, 0); // stamped 150, published after 300 went out
    clock.ns = 500;
    const { recs } = collect([d.pump()]);
    expect(recs).toEqual([{ kind: EventKind.Marker, tid: 1, ts: 300, x: 2, y: 0 }]);
    expect(d.stats().lateRecords).toBe(1);
  });

  it('delivers each interned string once, before the records that use it', () => {
    const shared = TraceShared.create({ maxThreads: 1, ringRecords: 16, stringSlots: 4 });
    const clock = new ManualClock(1);
    const p = attachRecorder(shared, { role: ThreadRole.Accept, name: 'accept', clock });
    const peer = p.internOnce('127.0.0.1:5000');
    expect(p.intern('accept')).toBe(1);
    const long = p.internOnce('é'.repeat(200));
    p.record(EventKind.Marker, 0, peer, 0, 0, 0, 0);
    clock.advance(1);
    const d = new Drainer(shared, { windowNs: 0, clock });
    const { strings, recs } = collect([d.pump()]);
    expect(strings).toEqual([
      [1, 'accept'],
      [peer, '127.0.0.1:5000'],
      [long, 'é'.repeat(60)],
    ]);
    expect(recs[0]).toMatchObject({ kind: EventKind.ThreadStart, x: 1, y: 0 });
    // The string ring holds 4: with 4 unread strings, interning reports "none".
    for (const s of ['a', 'b', 'c', 'd']) expect(p.internOnce(s)).not.toBe(0);
    expect(p.internOnce('e')).toBe(0);
    expect(d.stats().lostStrings).toBe(1);
    expect(d.pump()!.strings.map((s) => s[1])).toEqual(['a', 'b', 'c', 'd']);
    expect(p.internOnce('f')).not.toBe(0);
  });

  it('gives every gap the source ring-overflow', () => {
    const shared = TraceShared.create({ maxThreads: 1, ringRecords: 4, stringSlots: 4 });
    const clock = new ManualClock(1);
    const p = attachRecorder(shared, { role: ThreadRole.Worker, name: 'w', clock });
    for (let i = 0; i < 6; i++) p.record(EventKind.Marker, 0, i, 0, 0, 0, 0);
    const d = new Drainer(shared, { windowNs: 0, clock });
    clock.advance(1);
    const b = d.pump()!;
    expect(kindAt(b.records, 4)).toBe(EventKind.Gap);
    expect((b.records[4 * RECORD_WORDS]! >>> 8) & 0xff).toBe(GapSource.RingOverflow);
    // A producer's own Gap too (the drainer had not looked since the loss).
    for (let i = 0; i < 6; i++) p.record(EventKind.Marker, 0, i, 0, 0, 0, 0);
    Atomics.store(shared.ctrl(0), C_TAIL, Atomics.load(shared.ctrl(0), C_HEAD));
    p.record(EventKind.Marker, 0, 9, 0, 0, 0, 0);
    const words = shared.records(0);
    const h = Atomics.load(shared.ctrl(0), C_HEAD);
    const o = ((h - 2) & 3) * RECORD_WORDS;
    expect(words[o]! & 0xff).toBe(EventKind.Gap);
    expect((words[o]! >>> 8) & 0xff).toBe(GapSource.RingOverflow);
    expect(words[o + 1]).toBe(2);
    expect(Atomics.load(shared.ctrl(0), C_REPORTED_LOST)).toBe(5);
    expect(Atomics.load(shared.ctrl(0), C_TOTAL_LOST)).toBe(5);
  });
});

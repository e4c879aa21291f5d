import { describe, expect, it } from 'vitest';
import {
  EventKind,
  RECORD_WORDS,
  ThreadRole,
  ThreadStateValue,
  kindAt,
  tidAt,
  tsAt,
  xAt,
  yAt,
} from '@iocpscope/protocol';
import { attachRecorder } from './recorder.ts';
import { DrainerThread } from './drainer-thread.ts';
import { TraceShared } from './shared.ts';
import { spawnThread } from '../port/threads.ts';
import { waitExit } from './spawn.ts';

describe('DrainerThread', () => {
  it('merges concurrent producers in real threads in timestamp order and accounts for every lost record', async () => {
    const shared = TraceShared.create({ maxThreads: 4, ringRecords: 1024, stringSlots: 16 });
    const feed = new DrainerThread(shared, { intervalMs: 1, windowNs: 2_000_000 });
    const perTid = new Map<
      number,
      { seen: number; lost: number; lastX: number; exited: boolean }
    >();
    let lastTs = 0;
    let ordered = true;
    const names = new Map<number, string>();
    feed.subscribe((records, strings) => {
      for (const [id, s] of strings) names.set(id, s);
      for (let i = 0; i < records.length / RECORD_WORDS; i++) {
        const ts = tsAt(records, i);
        if (ts < lastTs) ordered = false;
        lastTs = ts;
        const tid = tidAt(records, i);
        const st = perTid.get(tid) ?? { seen: 0, lost: 0, lastX: -1, exited: false };
        perTid.set(tid, st);
        const k = kindAt(records, i);
        if (k === EventKind.Marker) {
          expect(xAt(records, i)).toBeGreaterThan(st.lastX);
          st.lastX = xAt(records, i);
          st.seen++;
        } else if (k === EventKind.Gap) st.lost += xAt(records, i) + yAt(records, i) * 2 ** 32;
        else if (k === EventKind.ThreadExit) st.exited = true;
      }
    });
    await feed.start();
    const count = 100_000;
    const workers = await Promise.all(
      [0, 1, 2].map((i) =>
        spawnThread(new URL('./fixtures/producer.ts', import.meta.url), {
          workerData: { trace: shared.descriptor, count, name: `producer-${i}` },
        }),
      ),
    );
    await Promise.all(workers.map((w) => waitExit(w, 20_000)));
    const { stats } = await feed.stop();
    expect(ordered).toBe(true);
    expect(perTid.size).toBe(3);
    let lostTotal = 0;
    for (const st of perTid.values()) {
      // Every marker and the ThreadExit either arrived or was counted in a gap.
      expect(st.seen + (st.exited ? 1 : 0) + st.lost).toBe(count + 1);
      lostTotal += st.lost;
    }
    expect(stats.lostRecords).toBe(lostTotal);
    expect([...names.values()].sort()).toEqual(['producer-0', 'producer-1', 'producer-2']);
  }, 30_000);

  it('places a ring overflow where the loss began, not where the thread found room again', async () => {
    // Producers that overflow a small ring while the drainer pumps: the
    // drainer claims the loss before it gives the room back, so the Gap sits
    // right after the thread's last record before the loss (same timestamp).
    // Left to the producer, the Gap would come with its next record, after
    // whatever other threads recorded during the loss. Three producers one
    // after the other: when the loss falls during a pump is a matter of timing.
    const shared = TraceShared.create({ maxThreads: 4, ringRecords: 256, stringSlots: 16 });
    const feed = new DrainerThread(shared, { intervalMs: 1, windowNs: 2_000_000 });
    const per = new Map<number, { prevTs: number; atLoss: number; later: number; gaps: number }>();
    feed.subscribe((records) => {
      for (let i = 0; i < records.length / RECORD_WORDS; i++) {
        const k = kindAt(records, i);
        const tid = tidAt(records, i);
        const p = per.get(tid) ?? { prevTs: -1, atLoss: 0, later: 0, gaps: 0 };
        per.set(tid, p);
        if (k === EventKind.Gap) {
          p.gaps++;
          if (tsAt(records, i) === p.prevTs) p.atLoss += xAt(records, i);
          else p.later += xAt(records, i);
        } else if (k === EventKind.Marker) p.prevTs = tsAt(records, i);
      }
    });
    await feed.start();
    for (let k = 0; k < 3; k++) {
      const w = await spawnThread(new URL('./fixtures/producer.ts', import.meta.url), {
        workerData: { trace: shared.descriptor, count: 2_000_000, name: `producer-${k}` },
      });
      await waitExit(w, 20_000);
    }
    await feed.stop();
    expect(per.size).toBe(3);
    for (const p of per.values()) {
      expect(p.gaps).toBeGreaterThan(0);
      // What a producer reports itself is what it dropped in the instant
      // between the drainer's last claim and the room it gives back.
      expect(p.later).toBeLessThan((p.atLoss + p.later) / 100);
    }
  }, 60_000);

  it('keeps the snapshot current without subscribers and streams whole batches once one subscribes', async () => {
    const shared = TraceShared.create({ maxThreads: 2, ringRecords: 1024, stringSlots: 16 });
    const feed = new DrainerThread(shared, { intervalMs: 1, windowNs: 1_000_000 });
    await feed.start();
    const rec = attachRecorder(shared, { role: ThreadRole.Main, name: 'main-test' });
    rec.record(EventKind.ThreadState, ThreadStateValue.Waiting, 0, 0, 0, 0, 0);
    const until = async (cond: () => boolean): Promise<void> => {
      for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
    };
    await until(() => feed.snapshot().records.length === 2 * RECORD_WORDS);
    const snap = feed.snapshot();
    expect([kindAt(snap.records, 0), kindAt(snap.records, 1)]).toEqual([
      EventKind.ThreadStart,
      EventKind.ThreadState,
    ]);
    expect(snap.strings).toEqual([[1, 'main-test']]);
    const got: number[] = [];
    feed.subscribe((w) => {
      for (let i = 0; i < w.length / RECORD_WORDS; i++) got.push(kindAt(w, i));
    });
    rec.record(EventKind.Marker, 0, 0, 0, 0, 0, 0);
    rec.exit(0);
    await until(() => got.length === 2);
    await feed.stop();
    expect(got).toEqual([EventKind.Marker, EventKind.ThreadExit]);
  }, 30_000);
});

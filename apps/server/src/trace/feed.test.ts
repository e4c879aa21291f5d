import { describe, expect, it, vi } from 'vitest';
import {
  EventKind,
  RECORD_WORDS,
  ThreadRole,
  ThreadStateValue,
  kindAt,
  tidAt,
  writeRecord,
} from '@iocpscope/protocol';
import { FeedFanout } from './feed.ts';

function recs(rows: Array<[kind: number, a: number, tid: number, ts: number]>): Uint32Array {
  const w = new Uint32Array(rows.length * RECORD_WORDS);
  rows.forEach(([k, a, tid, ts], i) => writeRecord(w, i, k, a, tid, 0, ts, 0, 0, 0, 0));
  return w;
}

describe('FeedFanout', () => {
  it('gives late subscribers the port, each live thread with its latest state, and every string', () => {
    const f = new FeedFanout();
    f.deliver(
      recs([
        [EventKind.ThreadStart, ThreadRole.Kernel, 0, 1],
        [EventKind.PortCreated, 0, 0, 2],
        [EventKind.ThreadStart, ThreadRole.Worker, 1, 3],
        [EventKind.ThreadStart, ThreadRole.Worker, 2, 4],
        [EventKind.ThreadState, ThreadStateValue.Running, 1, 5],
        [EventKind.ThreadState, ThreadStateValue.Waiting, 1, 6],
        [EventKind.ThreadExit, 0, 2, 7],
      ]),
      [
        [1, 'main (kernel)'],
        [2, 'worker-0'],
      ],
    );
    f.deliver(new Uint32Array(0), [[3, 'worker-1']]);
    const snap = f.snapshot();
    const n = snap.records.length / RECORD_WORDS;
    const rows = Array.from({ length: n }, (_, i) => [
      kindAt(snap.records, i),
      tidAt(snap.records, i),
    ]);
    expect(rows).toEqual([
      [EventKind.ThreadStart, 0],
      [EventKind.PortCreated, 0],
      [EventKind.ThreadStart, 1],
      [EventKind.ThreadState, 1],
    ]);
    expect((snap.records[(3 * RECORD_WORDS) as number]! >>> 8) & 0xff).toBe(
      ThreadStateValue.Waiting,
    );
    expect(snap.strings).toEqual([
      [1, 'main (kernel)'],
      [2, 'worker-0'],
      [3, 'worker-1'],
    ]);
  });

  it('keeps delivering to the other subscribers when one throws, and stops after unsubscribe', () => {
    const f = new FeedFanout();
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const good = vi.fn();
    f.subscribe(() => {
      throw new Error('boom');
    });
    const off = f.subscribe(good);
    f.deliver(recs([[EventKind.Marker, 0, 0, 1]]), []);
    expect(good).toHaveBeenCalledTimes(1);
    expect(err).toHaveBeenCalled();
    off();
    f.deliver(recs([[EventKind.Marker, 0, 0, 2]]), []);
    expect(good).toHaveBeenCalledTimes(1);
    err.mockRestore();
  });
});

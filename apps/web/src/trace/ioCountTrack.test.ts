import { EventKind, IoCountCause, RECORD_WORDS, encodeEvent } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { rng } from './randomTrace.test-util.ts';
import { IoCountTrack } from './ioCountTrack.ts';
import { WebTrace } from './webTrace.ts';

/** A trace of IoCount changes over a few sessions, with other events between. */
function counts(seed: number, n: number): Uint32Array {
  const r = rng(seed);
  const w = new Uint32Array(n * RECORD_WORDS);
  const value = new Map<bigint, number>();
  for (let i = 0; i < n; i++) {
    const session = BigInt(1 + Math.floor(r() * 4)) | (BigInt(Math.floor(r() * 2)) << 32n);
    if (r() < 0.6) {
      const delta = r() < 0.55 ? 1 : -1;
      const v = (value.get(session) ?? 0) + delta;
      value.set(session, v);
      encodeEvent(w, i, {
        kind: EventKind.IoCount,
        tsNs: i * 10,
        tid: 1,
        cause: delta > 0 ? IoCountCause.RecvPost : IoCountCause.Completion,
        session,
        value: v,
        delta,
        ioId: i,
      });
    } else {
      encodeEvent(w, i, { kind: EventKind.Marker, tsNs: i * 10, tid: 1, labelStr: 0, session });
    }
  }
  return w;
}

/** Naive model: a linear scan of the records. */
function naive(w: Uint32Array, n: number, s: bigint): { e: number[]; v: number[] } {
  const e: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < n; i++) {
    const o = i * RECORD_WORDS;
    const sess = (BigInt(w[o + 5]!) << 32n) | BigInt(w[o + 4]!);
    if ((w[o]! & 0xff) === EventKind.IoCount && sess === s) {
      e.push(i);
      v.push(w[o + 1]! | 0);
    }
  }
  return { e, v };
}

describe('IoCountTrack', () => {
  it("holds a session's IoCount changes and values like a scan of the records, as the trace grows", () => {
    const w = counts(7, 3000);
    const t = new WebTrace();
    const tracks = [1n, 2n, 0x1_0000_0003n, 99n].map((s) => new IoCountTrack(s));
    for (let at = 0; at < 3000;) {
      const n = Math.min(3000 - at, 1 + ((at * 7) % 400));
      t.append(w.subarray(at * RECORD_WORDS, (at + n) * RECORD_WORDS));
      at += n;
      for (const tr of tracks) {
        tr.update(t);
        const m = naive(w, t.count, tr.session);
        expect([...tr.events.view()]).toEqual(m.e);
        expect([...tr.values.view()]).toEqual(m.v);
        expect(tr.min).toBe(Math.min(0, ...m.v));
        expect(tr.max).toBe(Math.max(0, ...m.v));
      }
    }
    expect(tracks[3]!.length).toBe(0);
  });

  it('starts over for another trace and finds the change in force at an event', () => {
    const w = counts(3, 500);
    const tr = new IoCountTrack(1n);
    tr.update(WebTrace.from(w));
    const m = naive(w, 500, 1n);
    expect(tr.positionAtOrBefore(m.e[3]!)).toBe(3);
    expect(tr.positionAtOrBefore(m.e[3]! + 0.5)).toBe(3);
    expect(tr.positionAtOrBefore(m.e[0]! - 1)).toBe(-1);
    expect(tr.deltaAt(w, 0)).toBe(w[m.e[0]! * RECORD_WORDS + 6]! | 0);
    tr.update(WebTrace.from(w.subarray(0, 100 * RECORD_WORDS)));
    expect([...tr.events.view()]).toEqual(naive(w, 100, 1n).e);
  });
});

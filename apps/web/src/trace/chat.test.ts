import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventKind, RECORD_WORDS, SendBufferOp, readTraceFile } from '@iocpscope/protocol';
import { ChatModel, OPEN } from './chat.ts';
import { WebTrace } from './webTrace.ts';

/** An example recording as a WebTrace, appended in uneven pieces (as a live stream grows). */
function example(name: string, model?: ChatModel): WebTrace {
  // The repository's examples/, found from wherever vitest runs (the root or apps/web).
  let dir = process.cwd();
  while (!existsSync(path.join(dir, 'examples', 'stories.json')) && path.dirname(dir) !== dir)
    dir = path.dirname(dir);
  const file = path.join(dir, 'examples', `${name}.iocptrace`);
  const r = readTraceFile(new Uint8Array(readFileSync(file)));
  const t = new WebTrace();
  const n = r.records.length / RECORD_WORDS;
  for (let at = 0; at < n;) {
    const k = Math.min(n - at, 1 + ((at * 13) % 700));
    t.append(r.records.subarray(at * RECORD_WORDS, (at + k) * RECORD_WORDS));
    model?.update(t);
    at += k;
  }
  return t;
}

/** Naive: per queue, the open flushes at each JobFlush begin. */
function maxOverlap(t: WebTrace): number {
  const open = new Map<number, number>();
  let max = 0;
  for (let i = 0; i < t.count; i++) {
    if (t.kindAt(i) !== EventKind.JobFlush) continue;
    const o = i * RECORD_WORDS;
    const q = t.words[o + 1]!;
    const phase = (t.words[o]! >>> 8) & 0xff;
    const v = (open.get(q) ?? 0) + (phase === 0 ? 1 : -1);
    open.set(q, v);
    if (v > max) max = v;
  }
  return max;
}

describe('ChatModel', () => {
  it("reads a clean chat run's rooms, flushes, pool and locks as the trace grows", () => {
    const grown = new ChatModel();
    const t = example('chat', grown);
    const once = new ChatModel();
    once.update(t);
    for (const m of [grown, once]) {
      expect(m.hasChat).toBe(true);
      expect(m.queueList().map((q) => q.queueId)).toEqual([0, 1]);
      let flushes = 0;
      for (const q of m.queueList()) {
        flushes += q.flushBegin.length;
        // One flusher at a time, every flush closed, and the queue empty after each.
        for (let k = 0; k < q.flushBegin.length; k++) {
          expect(q.flushEnd.data[k]).not.toBe(OPEN);
          if (k > 0) expect(q.flushBegin.data[k]!).toBeGreaterThan(q.flushEnd.data[k - 1]!);
        }
      }
      expect(flushes).toBeGreaterThan(20);
      expect(m.broadcasts.length).toBeGreaterThan(10);
      expect(m.poolFree.data[m.poolFree.length - 1]).toBe(m.poolMax);
      expect(m.lockList().map((l) => l.lockId)).toEqual([10, 11]);
      for (const l of m.lockList()) expect(l.openHold.size).toBe(0);
    }
    expect(maxOverlap(t)).toBe(1);
  });

  it("gives a broadcast's buffer life (acquired, shared by each member's send, released, returned) and its fan-out", () => {
    const m = new ChatModel();
    const t = example('chat', m);
    const b = m.broadcasts.data[Math.floor(m.broadcasts.length / 2)]!;
    const life = m.bufferLife(t, b)!;
    const recipients = t.words[b * RECORD_WORDS + 6]!;
    expect(life.acquired).toBeGreaterThanOrEqual(0);
    expect(life.acquired).toBeLessThan(b);
    expect(life.broadcast).toBe(b);
    expect(life.returned).toBeGreaterThan(b);
    expect(life.shares).toBe(recipients);
    // The acquirer's own release, then one per member's send.
    expect(life.releases).toBe(recipients + 1);
    const sends = life.entries.filter((e) => e.op === SendBufferOp.Release && e.ioId !== 0);
    expect(sends).toHaveLength(recipients);
    for (const e of sends) {
      expect(t.kindAt(e.completion)).toBe(EventKind.GqcsReturn);
      expect(t.words[e.completion * RECORD_WORDS + 7]).toBe(e.ioId);
    }
    const fan = m.fanOut(t, b)!;
    expect(fan.completions.sort((x, y) => x - y)).toEqual(
      sends.map((e) => e.completion).sort((x, y) => x - y),
    );
    // The same life from any of its events.
    expect(m.bufferLife(t, life.returned)!.acquired).toBe(life.acquired);
  });

  it('shows two flushes of one room open at once in the two-flushers example, and contended holds under the room lock', () => {
    const two = new ChatModel();
    const t2 = example('job-queue-two-flushers', two);
    expect(maxOverlap(t2)).toBeGreaterThan(1);
    let overlapped = false;
    for (const q of two.queueList()) {
      for (let k = 1; k < q.flushBegin.length; k++)
        if (q.flushBegin.data[k]! < q.flushEnd.data[k - 1]!) overlapped = true;
    }
    expect(overlapped).toBe(true);
    const locked = new ChatModel();
    example('broadcast-under-room-lock', locked);
    const room = locked.locks.get(100)!;
    expect(room.contended).toBeGreaterThan(0);
    expect(room.waitFrom.length).toBeGreaterThan(0);
    expect(room.maxWaitNs).toBeGreaterThan(0);
  });
});

import { describe, expect, it } from 'vitest';
import {
  BlockReason,
  EventKind,
  EVENT_KIND_MAX,
  GapSource,
  IoCountCause,
  Op,
  RECORD_WORDS,
  ThreadStateValue,
  WinError,
  encodeEvent,
  writeRecord,
  type TraceEvent,
} from '@iocpscope/protocol';
import { describeEvent } from './describe.ts';

const ctx = {
  threadName: (t: number) => `worker ${t}`,
  text: (id: number) => (id === 1 ? '10.0.0.9:1234' : ''),
};
const one = (e: TraceEvent) => {
  const w = new Uint32Array(RECORD_WORDS);
  encodeEvent(w, 0, e);
  return describeEvent(w, 0, ctx);
};

describe('describeEvent', () => {
  it('explains the four GQCS outcomes differently', () => {
    const base = {
      kind: EventKind.GqcsReturn,
      tsNs: 5,
      tid: 2,
      op: Op.Recv,
      bytes: 64,
      key: 0x2an,
      error: 0,
      ioId: 3,
    } as const;
    expect(one({ ...base, ok: true, hasOverlapped: true }).sentence).toContain(
      'successful recv completion of 64 bytes',
    );
    expect(one({ ...base, ok: true, hasOverlapped: true, bytes: 0 }).sentence).toContain(
      'peer closed',
    );
    const failed = one({
      ...base,
      ok: false,
      hasOverlapped: true,
      error: WinError.OperationAborted,
    });
    expect(failed.sentence).toContain('995 ERROR_OPERATION_ABORTED');
    expect(failed.tone).toBe('warn');
    expect(
      one({ ...base, ok: false, hasOverlapped: false, error: WinError.WaitTimeout }).sentence,
    ).toContain('timed out');
    expect(one({ ...base, ok: true, hasOverlapped: false }).sentence).toContain('exit request');
  });

  it('says whether a post will produce a packet', () => {
    const p = {
      kind: EventKind.IoPosted,
      tsNs: 1,
      tid: 2,
      op: Op.Send,
      bufCount: 2,
      requestedBytes: 10,
      session: 7n,
      ioId: 1,
    } as const;
    expect(one({ ...p, result: WinError.IoPending }).sentence).toContain('a packet will come');
    expect(one({ ...p, result: 0 }).sentence).toContain('a packet will still come');
    expect(one({ ...p, result: 10054 }).sentence).toContain('no packet will ever come');
  });

  it('names the IOCount cause and flags a count below zero', () => {
    const d = one({
      kind: EventKind.IoCount,
      tsNs: 1,
      tid: 2,
      cause: IoCountCause.Completion,
      session: 7n,
      value: -1,
      delta: -1,
      ioId: 4,
    });
    expect(d.title).toBe('IOCount -1');
    expect(d.sentence).toContain('completion handled');
    expect(d.tone).toBe('bad');
  });

  it('gives the block reason of a blocked thread and the lost count of a gap', () => {
    expect(
      one({
        kind: EventKind.ThreadState,
        tsNs: 1,
        tid: 3,
        state: ThreadStateValue.Blocked,
        reason: BlockReason.Lock,
        detail: 0,
      }).sentence,
    ).toBe('worker 3 is now blocked on a lock.');
    // Idle in accept() is waiting for work, as the timeline and the port panel say.
    const accept = one({
      kind: EventKind.ThreadState,
      tsNs: 1,
      tid: 1,
      state: ThreadStateValue.Blocked,
      reason: BlockReason.Accept,
      detail: 0,
    });
    expect(accept.title).toBe('Thread waiting in accept');
    expect(accept.fields).toContainEqual(['state', 'waiting in accept']);
    expect(accept.tone).toBe('neutral');
    expect(
      one({ kind: EventKind.Gap, tsNs: 1, tid: 0xffff, source: GapSource.ClientQueue, lost: 1500 })
        .sentence,
    ).toContain('1,500 events are missing');
  });

  it('has a title and a sentence for every event kind', () => {
    for (let k = 1; k <= EVENT_KIND_MAX; k++) {
      const w = new Uint32Array(RECORD_WORDS);
      writeRecord(w, 0, k, 0, 1, 1, 100, 1, 0, 0, 0);
      const d = describeEvent(w, 0, ctx);
      expect(d.title.length).toBeGreaterThan(2);
      expect(d.sentence.length).toBeGreaterThan(5);
    }
  });

  it('reports an unknown kind instead of throwing', () => {
    const w = new Uint32Array(RECORD_WORDS);
    writeRecord(w, 0, 99, 0, 1, 0, 0, 0, 0, 0, 0);
    expect(describeEvent(w, 0, ctx).kind).toBe('unknown');
  });
});

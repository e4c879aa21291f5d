// A ThreadRecorder for the conformance suite. Every event gets a sequence
// number from one counter shared by all threads (Atomics.add), which orders
// events across threads consistently with causality: an event recorded before a
// handshake on one thread gets a smaller number than an event recorded after it
// on another. The number stands in for tsNs in the decoded event.

import { decodeEvent, RECORD_WORDS, writeRecord, type TraceEvent } from '@iocpscope/protocol';
import type { ThreadRecorder } from '../../../src/port/index.ts';

export type SeqEvent = TraceEvent & { seq: number };

export class SeqRecorder implements ThreadRecorder {
  private readonly seq: Int32Array;
  private readonly w = new Uint32Array(RECORD_WORDS);
  readonly events: SeqEvent[] = [];

  constructor(
    seqBuffer: SharedArrayBuffer,
    private readonly tid: number,
    private readonly onEvent?: (e: SeqEvent) => void,
  ) {
    this.seq = new Int32Array(seqBuffer);
  }

  record(
    kind: number,
    a: number,
    x: number,
    sessLo: number,
    sessHi: number,
    y: number,
    z: number,
  ): void {
    const seq = Atomics.add(this.seq, 0, 1) + 1;
    writeRecord(
      this.w,
      0,
      kind,
      a,
      this.tid,
      x >>> 0,
      seq,
      sessLo >>> 0,
      sessHi >>> 0,
      y >>> 0,
      z >>> 0,
    );
    const e = decodeEvent(this.w, 0);
    if (!e) throw new Error(`recorded an unknown event kind ${kind}`);
    const se = Object.assign(e, { seq });
    this.events.push(se);
    this.onEvent?.(se);
  }
}

export const newSeqBuffer = (): SharedArrayBuffer => new SharedArrayBuffer(4);

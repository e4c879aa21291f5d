// Test helpers for the hub: a sink whose writes complete only when the test
// says so (a stalled or slow socket), and a decoder of what a client saw.

import {
  EventKind,
  GapSource,
  RECORD_WORDS,
  decodeFrame,
  kindAt,
  aAt,
  xAt,
  yAt,
} from '@iocpscope/protocol';
import type { ClientSink } from './hub.ts';

export class FakeSink implements ClientSink {
  readonly binary: Uint8Array[] = [];
  readonly text: string[] = [];
  readonly #pending: Array<() => void> = [];
  closed: { code: number; reason: string } | undefined;
  /** Complete writes at once (a client that keeps up). */
  autoComplete: boolean;

  constructor(autoComplete = true) {
    this.autoComplete = autoComplete;
  }

  sendBinary(data: Uint8Array, done: (err?: Error | null) => void): void {
    this.binary.push(data);
    this.#later(done);
  }
  sendText(text: string, done: (err?: Error | null) => void): void {
    this.text.push(text);
    this.#later(done);
  }
  close(code: number, reason: string): void {
    this.closed ??= { code, reason };
  }

  get pendingWrites(): number {
    return this.#pending.length;
  }

  /** Complete up to n queued writes (oldest first). */
  complete(n = Infinity): number {
    let done = 0;
    while (done < n && this.#pending.length > 0) {
      this.#pending.shift()!();
      done++;
    }
    return done;
  }

  #later(done: (err?: Error | null) => void): void {
    if (this.autoComplete) queueMicrotask(() => done());
    else this.#pending.push(() => done());
  }
}

export interface SeenStream {
  seqs: number[];
  /** Every record received, in order. */
  records: Uint32Array;
  strings: Map<number, string>;
  /** Sum of ClientQueue Gap records. */
  lost: number;
  gaps: number;
  /** String ids referenced (ThreadStart nameStr) before being defined. */
  undefinedRefs: number;
}

/** Decode every binary frame a sink got, checking strings precede their use. */
export function decodeSeen(frames: readonly Uint8Array[]): SeenStream {
  const seqs: number[] = [];
  const parts: Uint32Array[] = [];
  const strings = new Map<number, string>();
  let lost = 0;
  let gaps = 0;
  let undefinedRefs = 0;
  for (const bytes of frames) {
    const f = decodeFrame(bytes);
    seqs.push(f.seq);
    for (const [id, s] of f.strings) strings.set(id, s);
    const n = f.records.length / RECORD_WORDS;
    for (let i = 0; i < n; i++) {
      const k = kindAt(f.records, i);
      if (k === EventKind.Gap && aAt(f.records, i) === GapSource.ClientQueue) {
        lost += xAt(f.records, i) + yAt(f.records, i) * 2 ** 32;
        gaps++;
      }
      if (
        k === EventKind.ThreadStart &&
        xAt(f.records, i) !== 0 &&
        !strings.has(xAt(f.records, i))
      ) {
        undefinedRefs++;
      }
    }
    parts.push(f.records);
  }
  const total = parts.reduce((s, p) => s + p.length, 0);
  const records = new Uint32Array(total);
  let off = 0;
  for (const p of parts) {
    records.set(p, off);
    off += p.length;
  }
  return { seqs, records, strings, lost, gaps, undefinedRefs };
}

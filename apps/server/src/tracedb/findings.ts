// The detectors' findings over a trace the browser does not hold: one
// streaming pass over its records in file order, chunk by chunk, at bounded
// memory (the runner keeps per-session and per-thread state, and caps its
// findings per rule; no records are kept). Each chunk is fed as a window of
// the trace (DetectorRunner.feedWindow): event indices stay global.
//
// The end-of-trace checks run under the same rule as `iocpscope check`: only
// when the trace was read whole without damage and its last record is a
// TraceEnd with reason ServerExit (the trace covers the server's exit).
//
// A finding marked at an event before the current chunk gets that event's
// time from `timeOf` (the worker reads it back from the file).

import { DetectorRunner, type Finding, type RuleId } from '@iocpscope/analysis';
import {
  EventKind,
  RECORD_WORDS,
  StringTable,
  TraceEndReason,
  decodeChunkAt,
  tsAt,
} from '@iocpscope/protocol';
import { closeSync, openSync, readSync } from 'node:fs';
import { OWN_CHUNK } from './crc.ts';

export interface FindingsPassOptions {
  /** The first event's index (a spool part after older ones were lost). */
  startAt?: number;
  /** Time of an earlier event, for findings marked before the chunk being fed. */
  timeOf?: (index: number) => number | undefined;
}

export class FindingsPass {
  readonly strings = new StringTable();
  readonly #runner: DetectorRunner;
  #endsWithServerExit = false;

  constructor(options: FindingsPassOptions = {}) {
    this.#runner = new DetectorRunner({
      strings: (i) => this.strings.text(i) || undefined,
      ...(options.startAt !== undefined ? { startAt: options.startAt } : {}),
      ...(options.timeOf !== undefined ? { timeOf: options.timeOf } : {}),
    });
  }

  /** Index of the next event to walk (events walked, when started at 0). */
  get walked(): number {
    return this.#runner.count;
  }

  get findings(): readonly Finding[] {
    return this.#runner.findings;
  }

  get suppressed(): ReadonlyMap<RuleId, number> {
    return this.#runner.suppressed;
  }

  /** The walk reached a TraceEnd with reason ServerExit as its last record so far. */
  get endsWithServerExit(): boolean {
    return this.#endsWithServerExit;
  }

  /**
   * One chunk: its records are events [first, first + n) (first must be
   * `walked`), `strings` those it defines. Returns the findings it produced.
   */
  chunk(
    records: Uint32Array,
    strings: ReadonlyArray<readonly [number, string]>,
    first: number,
  ): Finding[] {
    for (const [id, s] of strings) this.strings.set(id, s);
    const n = records.length / RECORD_WORDS;
    const found = this.#runner.feedWindow(records, first, first + n);
    if (n > 0) {
      const w0 = records[(n - 1) * RECORD_WORDS]!;
      this.#endsWithServerExit =
        (w0 & 0xff) === EventKind.TraceEnd && ((w0 >>> 8) & 0xff) === TraceEndReason.ServerExit;
    }
    return found;
  }

  /**
   * The walk is over. `damaged`: the trace could not be read to its end.
   * Returns the end-of-trace findings (none unless the rule above holds).
   */
  finish(damaged: boolean): { findings: Finding[]; endOfRun: boolean } {
    const endOfRun = !damaged && this.#endsWithServerExit;
    return { findings: this.#runner.finish({ endOfRun }), endOfRun };
  }
}

/**
 * Where the chunks of a walked trace are, to read an earlier event's time
 * back (per chunk a few numbers: bounded by the trace's chunk count).
 */
export class ChunkLocator {
  readonly #first: number[] = [];
  readonly #events: number[] = [];
  readonly #path: string[] = [];
  readonly #offset: number[] = [];
  readonly #bytes: number[] = [];
  readonly #version: number[] = [];
  #cached: { k: number; records: Uint32Array } | null = null;

  add(
    first: number,
    events: number,
    path: string,
    offset: number,
    bytes: number,
    version: number,
  ): void {
    this.#first.push(first);
    this.#events.push(events);
    this.#path.push(path);
    this.#offset.push(offset);
    this.#bytes.push(bytes);
    this.#version.push(version);
  }

  /** The time of event `index`, read from its file; undefined when it cannot be read. */
  readonly timeOf = (index: number): number | undefined => {
    const f = this.#first;
    let lo = 0;
    let hi = f.length - 1;
    if (hi < 0 || index < f[0]!) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (f[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    if (index >= f[lo]! + this.#events[lo]!) return undefined;
    let recs = this.#cached?.k === lo ? this.#cached.records : null;
    if (recs === null) {
      try {
        const fd = openSync(this.#path[lo]!, 'r');
        try {
          const bytes = new Uint8Array(this.#bytes[lo]!);
          readSync(fd, bytes, 0, bytes.length, this.#offset[lo]!);
          recs = decodeChunkAt(bytes, this.#offset[lo]!, this.#version[lo], OWN_CHUNK).records;
        } finally {
          closeSync(fd);
        }
      } catch {
        return undefined; // a spool part deleted meanwhile: the caller's fallback
      }
      this.#cached = { k: lo, records: recs };
    }
    return tsAt(recs, index - f[lo]!);
  };
}

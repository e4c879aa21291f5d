// What the trace query API (transport/trace-api.ts) asks of a trace: an
// IndexedTrace (a file, indexed once) answers it, and so does a LiveTrace (the
// live spool or a recording in progress: parts being written, indexed as
// they grow). Event numbers, summaries and sessions mean the same in both.

import type { TraceFileHeader } from '@iocpscope/protocol';
import type { LaneInfo, SessionInfo } from './builder.ts';
import type { SessionList } from './session-list.ts';
import type { ScanFacts } from './index-file.ts';
import type { SummaryLevel } from './summary.ts';
import type { EventFilter } from './trace.ts';

export interface TraceIndexView {
  /** One past the newest event (events are numbered from the trace's first). */
  readonly events: number;
  readonly startNs: number;
  readonly endNs: number;
  readonly chunks: { readonly count: number };
  readonly lanes: readonly LaneInfo[];
  /** Summary levels, finest first: bucket width 2^shift ns, element 0 is bucket `origin`. */
  readonly levels: ReadonlyArray<{ shift: number; origin: number; count: number }>;
  readonly sessions: SessionList;
  readonly gaps: { events: Float64Array; ns: Float64Array; lost: Float64Array };
  readonly markers: { events: Float64Array; ns: Float64Array };
  readonly snapshots: { events: Float64Array };
  readonly traceEnd: number;
}

export interface TraceView {
  readonly index: TraceIndexView;
  readonly strings: { get(id: number): string | undefined };
  readonly header: TraceFileHeader | undefined;
  readonly facts: ScanFacts;
  readonly checkpoints: { readonly interval: number; readonly count: number } | null;
  readonly checkpointProgress: { events: number; checkpoints: number };
  records(from: number, count: number): Promise<Uint32Array>;
  stringsOf(records: Uint32Array): Array<[number, string]>;
  window(
    from: number,
    count: number,
  ): Promise<{ from: number; bracket: Uint32Array; records: Uint32Array } | null>;
  eventAtNs(ns: number): Promise<number>;
  stateAt(at: number): Promise<{ bracket: Uint32Array; base: number; records: Uint32Array } | null>;
  summary(level: number, from: number, to: number): SummaryLevel & { from: number };
  session(id: bigint): SessionInfo | undefined;
  sessionEvents(id: bigint, from?: number, limit?: number): Promise<number[]>;
  nextEvent(from: number, dir: 1 | -1, f: EventFilter): Promise<number>;
}

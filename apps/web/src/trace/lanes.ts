// Thread lanes: one per thread in the trace's thread table (plus a synthetic
// kernel lane for events recorded with tid NO_THREAD). Each lane owns
// - `states`: its state entries (event indices, ascending; the state each one
//   introduces is stateAt(event)), one per state change plus one per
//   GqcsReturn, so the completion marks are the GqcsReturn entries and the
//   series' per-block OR of MarkFlags serves the dense mark drawing;
// - `stateCum`: every STATE_BLOCK entries, the time already spent in each
//   state, so the time waiting/running/blocked before any instant costs one
//   binary search plus at most STATE_BLOCK steps;
// - `marks`: the packets queued on this lane (PacketQueued, Pqcs): the kernel's
//   marks (the emulated backend's main thread plays the kernel);
// - `buckets`: the lane's time-bucket summaries (buckets.ts).

import { NO_THREAD, ThreadRole, ThreadStateValue } from '@iocpscope/protocol';
import { type BucketGrid, LaneBuckets } from './buckets.ts';
import { F64Column } from './column.ts';
import { EventSeries, SERIES_BLOCK, SERIES_BLOCK_SHIFT, SeriesKind } from './series.ts';

// Equal to the series block so a lane's stateCum blocks and its states' blockOr align.
export const STATE_BLOCK = SERIES_BLOCK;
export const STATE_BLOCK_SHIFT = SERIES_BLOCK_SHIFT;
/** Marker for "no event" in index columns. */
export const NONE = 0xffffffff;

export interface StringLookup {
  get(id: number): string | undefined;
}

/** Where a lane finds its name string; the trace swaps `strings` as tables arrive. */
export interface StringsHolder {
  strings: StringLookup;
}

export class Lane {
  /** Creation order, stable for the life of the trace (bit position in lane masks). */
  readonly id: number;
  /** Thread table index (NO_THREAD for the synthetic kernel lane). */
  readonly tid: number;
  role: ThreadRole;
  nameStr = 0;
  osThreadId = 0;
  startIdx = NONE;
  exitIdx = NONE;
  /** True once the thread called GQCS or was declared a worker: counts toward "running". */
  isPortThread = false;
  /** State entries (see the header), with MarkFlag block summaries. */
  readonly states = new EventSeries(SeriesKind.Flags);
  /** Packets queued by this thread (PacketQueued, Pqcs), with MarkFlag block summaries. */
  readonly marks = new EventSeries(SeriesKind.Flags);
  /** Per STATE_BLOCK entries: ns spent [waiting, running, blocked] before the block's first entry. */
  readonly stateCum = new F64Column();
  /** State of the last entry (-1 before the first), its block reason, and its time. */
  lastState = -1;
  lastReason = 0;
  lastStateNs = 0;
  /** Time-bucket summaries of states and marks, for zoomed-out views. */
  readonly buckets = new LaneBuckets();
  /** Accumulated ns per state up to lastStateNs. */
  readonly acc = new Float64Array(3);
  private readonly holder: StringsHolder;

  constructor(id: number, tid: number, role: ThreadRole, holder: StringsHolder) {
    this.id = id;
    this.tid = tid;
    this.role = role;
    this.holder = holder;
  }

  /** Whether this lane queues packets (it plays the kernel). */
  get isKernel(): boolean {
    return this.role === ThreadRole.Kernel || this.marks.length > 0;
  }

  /** Display name: the thread's name string, else a name derived from role and tid. */
  get name(): string {
    const s = this.nameStr !== 0 ? this.holder.strings.get(this.nameStr) : undefined;
    if (s) return s;
    if (this.tid === NO_THREAD) return 'kernel';
    return `${ROLE_NAMES[this.role] ?? 'thread'} ${this.tid}`;
  }

  /** Append a state entry (event `i` at `ns`, introducing `state`; `flags` = its MarkFlags). */
  pushState(
    grid: BucketGrid,
    i: number,
    ns: number,
    state: number,
    reason: number,
    flags: number,
  ): void {
    const n = this.states.length;
    if (n > 0) {
      if (this.lastState < ThreadStateValue.Exited)
        this.acc[this.lastState]! += ns - this.lastStateNs;
      this.buckets.addInterval(grid, this.lastStateNs, ns, this.lastState);
    }
    if (flags !== 0) this.buckets.addFlags(grid, ns, flags);
    if ((n & (STATE_BLOCK - 1)) === 0) {
      this.stateCum.push(this.acc[0]!);
      this.stateCum.push(this.acc[1]!);
      this.stateCum.push(this.acc[2]!);
    }
    this.states.pushFlags(i, flags);
    this.lastState = state;
    this.lastReason = reason;
    this.lastStateNs = ns;
  }

  trim(): void {
    this.states.trim();
    this.stateCum.trim();
    this.marks.trim();
  }

  get bytes(): number {
    return this.states.bytes + this.stateCum.bytes + this.marks.bytes + this.buckets.bytes;
  }
}

export const ROLE_NAMES: Record<number, string> = {
  [ThreadRole.Main]: 'main',
  [ThreadRole.Worker]: 'worker',
  [ThreadRole.Accept]: 'accept',
  [ThreadRole.Kernel]: 'kernel',
  [ThreadRole.Other]: 'thread',
  [ThreadRole.Unknown]: 'thread',
};

/** Display rank: accept, kernel, workers, other, main (kernel sits between posters and workers). */
const ROLE_RANK: Record<number, number> = {
  [ThreadRole.Accept]: 0,
  [ThreadRole.Kernel]: 1,
  [ThreadRole.Worker]: 2,
  [ThreadRole.Other]: 3,
  [ThreadRole.Unknown]: 3,
  [ThreadRole.Main]: 4,
};

/** The number a lane is known by among its role: "worker 10" -> 10; its tid when unnamed. */
export function laneNumber(lane: Lane): number {
  const m = /(\d+)\s*$/.exec(lane.name);
  return m ? Number(m[1]) : lane.tid;
}

/**
 * Lanes in display order (a new array; `lanes` is not modified): accept,
 * kernel, then workers by their number ("worker 2" before "worker 10",
 * whatever their thread indices), others, main; ties by thread index.
 */
export function sortLanes(lanes: readonly Lane[]): Lane[] {
  const rank = (l: Lane): number =>
    l.isKernel ? ROLE_RANK[ThreadRole.Kernel]! : (ROLE_RANK[l.role] ?? 3);
  return lanes.slice().sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    if (ra !== rb) return ra - rb;
    const na = laneNumber(a);
    const nb = laneNumber(b);
    return na !== nb ? na - nb : a.tid - b.tid;
  });
}

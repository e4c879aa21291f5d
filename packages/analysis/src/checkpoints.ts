// Checkpoints: the state after every `interval` events, so the state at any
// event is one checkpoint plus at most `interval - 1` replayed events.
//
// Memory model: a checkpoint copies the small parts of the state (threads, the
// port's queue and waiters, locks) and refers to its sessions by offset in one
// shared, compact Int32 arena (session-codec.ts). A session is encoded again
// only if it changed since the previous checkpoint: the builder's Replayer is
// copy-on-write (SessionState.rev), so after a checkpoint an unchanged session
// is still the same object, and a WeakMap remembers where that object was
// encoded. The cost per checkpoint is one int per live session plus the
// sessions that changed in the interval.
//
// stateAt() decodes fresh objects, lazily (lazy-sessions.ts): the returned state
// belongs to the caller (to read, mutate, or continue with `new Replayer(state)`).
// The index grows with the trace (extend()), for live recordings as well as
// files; stateAt() of an event not yet indexed replays from the last checkpoint.

import { AnalysisError } from './errors.ts';
import { Replayer } from './replay.ts';
import {
  decodeSession as decodeSession_,
  encodeSession as encodeSession_,
  Int32Arena,
} from './session-codec.ts';
import type { SessionId } from './ids.ts';
import { LazySessionMap } from './lazy-sessions.ts';
import { checkSource as checkSource_, type TraceRecords } from './source.ts';
import {
  cloneStateSharingSessions as cloneStateSharingSessions_,
  createState as createState_,
  type ReplayState,
  type SessionState,
} from './state.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const decodeSession = decodeSession_;
const encodeSession = encodeSession_;
const checkSource = checkSource_;
const cloneStateSharingSessions = cloneStateSharingSessions_;
const createState = createState_;

export interface CheckpointOptions {
  /** Events between checkpoints (default 8,192). Smaller: faster seeks, more memory. */
  interval?: number;
}

interface Checkpoint {
  /** The state after `count` events, without its sessions (see the offsets). */
  state: ReplayState;
  /** Arena offsets of `sessions`, in the Map's order. */
  sessions: Int32Array;
  /** Arena offsets of `recentReleased`, oldest first. */
  released: Int32Array;
}

export interface CheckpointStats {
  interval: number;
  checkpoints: number;
  events: number;
  /** Session encodings written (a session that did not change is not written again). */
  sessionVersions: number;
  /** Bytes allocated for encoded sessions. */
  arenaBytes: number;
  /** Words of encoded sessions written (4 bytes each). */
  arenaWords: number;
  /** Bytes of per-checkpoint session offset tables. */
  tableBytes: number;
}

const EMPTY: Map<SessionId, SessionState> = new Map();

export class Checkpoints {
  readonly interval: number;
  private readonly list: Checkpoint[] = [];
  private readonly builder: Replayer;
  private readonly arena = new Int32Arena();
  private readonly encodedAt = new WeakMap<SessionState, number>();
  private versions = 0;
  private tableBytes = 0;

  /**
   * `replayer`: share a pass with other work (DetectorRunner does): give a fresh
   * Replayer, apply events to it yourself and call noteApplied() after each.
   * Without it, extend() runs its own.
   */
  constructor(
    opts: CheckpointOptions = {},
    replayer: Replayer = new Replayer(undefined, { cacheSize: 65536 }),
  ) {
    const k = opts.interval ?? 8192;
    if (!Number.isInteger(k) || k < 1 || k > 1 << 30) {
      throw new AnalysisError(
        'ANALYSIS_BAD_OPTION',
        `checkpoint interval must be an integer in [1, 2^30], got ${k}`,
      );
    }
    if (replayer.state.count !== 0) {
      throw new AnalysisError(
        'ANALYSIS_BAD_OPTION',
        'checkpoints need a replayer that has not applied any event',
      );
    }
    this.interval = k;
    this.builder = replayer;
    this.list.push(this.capture());
  }

  /** Events indexed so far. */
  get count(): number {
    return this.builder.state.count;
  }

  /** The shared replayer applied one more event: take a checkpoint if one is due. */
  noteApplied(): void {
    if (this.builder.state.count % this.interval === 0) this.list.push(this.capture());
  }

  /**
   * Index events [count, upto) of `src`. `onEvent`, if given, runs after each
   * event with the builder's replayer (to share the pass with other work).
   */
  extend(
    src: TraceRecords,
    upto: number = src.length,
    onEvent?: (r: Replayer, i: number) => void,
  ): void {
    checkSource(src);
    if (!Number.isInteger(upto) || upto < this.count || upto > src.length) {
      throw new AnalysisError(
        'ANALYSIS_BAD_INDEX',
        `cannot index up to ${upto}: ${this.count} indexed, ${src.length} available`,
      );
    }
    const r = this.builder;
    const w = src.words;
    for (let i = this.count; i < upto; i++) {
      r.apply(w, i);
      if (onEvent !== undefined) onEvent(r, i);
      this.noteApplied();
    }
  }

  /** The state after event `index` (inclusive); index -1 is the state before any event. */
  stateAt(src: TraceRecords, index: number): ReplayState {
    return this.stateAfter(src, index + 1);
  }

  /** The state after the first `count` events, as a new object the caller owns. */
  stateAfter(src: TraceRecords, count: number): ReplayState {
    checkSource(src);
    if (!Number.isInteger(count) || count < 0 || count > src.length) {
      throw new AnalysisError(
        'ANALYSIS_BAD_INDEX',
        `no state after ${count} events: the trace has ${src.length}`,
      );
    }
    const c = this.list[Math.min(Math.floor(count / this.interval), this.list.length - 1)]!;
    const st = cloneStateSharingSessions(c.state);
    const a = this.arena;
    // Sessions are decoded when first read: a seek touches few of them.
    st.sessions = new LazySessionMap(a, c.sessions);
    for (let k = 0; k < c.released.length; k++)
      st.recentReleased.push(decodeSession(a, c.released[k]!, 0));
    new Replayer(st, { cacheSize: 8192 }).advance(src, count);
    return st;
  }

  /**
   * Release the arena's spare room, e.g. once a recording has been indexed to
   * its end. Indexing may continue afterwards (the arena grows again).
   */
  trim(): void {
    this.arena.trim();
  }

  stats(): CheckpointStats {
    return {
      interval: this.interval,
      checkpoints: this.list.length,
      events: this.count,
      sessionVersions: this.versions,
      arenaBytes: this.arena.bytes,
      arenaWords: this.arena.words,
      tableBytes: this.tableBytes,
    };
  }

  private offsetOf(s: SessionState): number {
    let o = this.encodedAt.get(s);
    if (o === undefined) {
      o = encodeSession(this.arena, s);
      this.encodedAt.set(s, o);
      this.versions++;
    }
    return o;
  }

  private capture(): Checkpoint {
    const live = this.builder.state;
    const sessions = new Int32Array(live.sessions.size);
    let k = 0;
    for (const s of live.sessions.values()) sessions[k++] = this.offsetOf(s);
    const released = new Int32Array(live.recentReleased.length);
    k = 0;
    for (const s of live.recentReleased) released[k++] = this.offsetOf(s);
    this.tableBytes += (sessions.length + released.length) * 4;
    // From now on the builder copies a session before changing it, so an
    // object still in the WeakMap at the next checkpoint has not changed.
    this.builder.share();
    const state = cloneStateSharingSessions({ ...live, sessions: EMPTY, recentReleased: [] });
    return { state, sessions, released };
  }
}

/** Replay events [0, count) from scratch: the baseline a checkpoint seek is measured against. */
export function replayFromStart(src: TraceRecords, count: number): ReplayState {
  checkSource(src);
  if (!Number.isInteger(count) || count < 0 || count > src.length) {
    throw new AnalysisError(
      'ANALYSIS_BAD_INDEX',
      `no state after ${count} events: the trace has ${src.length}`,
    );
  }
  const st = createState();
  new Replayer(st).advance(src, count);
  return st;
}

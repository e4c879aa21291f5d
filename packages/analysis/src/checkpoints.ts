// Checkpoints: the state after every `interval` events, so the state at any
// event is one checkpoint plus at most `interval - 1` replayed events.
//
// Memory model: a checkpoint copies the small parts of the state (threads, the
// port, locks) and keeps references to the session objects. Sessions are
// copy-on-write (SessionState.rev): after a checkpoint the builder's Replayer
// gives up ownership, so a session that does not change between checkpoints is
// one object shared by all of them, and only sessions touched in an interval
// cost memory again. Shared sessions are frozen, so a caller that mutates a
// returned state by mistake gets a TypeError instead of corrupting checkpoints.
//
// The index grows with the trace (extend()), for live recordings as well as
// files; stateAt() of an event not yet indexed replays from the last checkpoint.

import { AnalysisError } from './errors.ts';
import { Replayer } from './replay.ts';
import { checkSource, type TraceRecords } from './source.ts';
import { cloneStateSharingSessions, createState, type ReplayState, type SessionState } from './state.ts';

export interface CheckpointOptions {
  /** Events between checkpoints (default 65,536). Smaller: faster seeks, more memory. */
  interval?: number;
}

interface Checkpoint {
  /** The state after `count` events, with `sessions` emptied: see `sessionList`. */
  state: ReplayState;
  sessionList: SessionState[];
}

export interface CheckpointStats {
  interval: number;
  checkpoints: number;
  events: number;
  /** Session objects kept by checkpoints (shared ones counted once). */
  sessionObjects: number;
  /** Session references held by checkpoints (one per session per checkpoint). */
  sessionRefs: number;
}

function freezeSession(s: SessionState): void {
  for (const o of s.ops) Object.freeze(o);
  Object.freeze(s.ops);
  Object.freeze(s.holds);
  Object.freeze(s.recentOps);
  Object.freeze(s);
}

export class Checkpoints {
  readonly interval: number;
  private readonly list: Checkpoint[] = [];
  private readonly builder = new Replayer();

  constructor(opts: CheckpointOptions = {}) {
    const k = opts.interval ?? 65536;
    if (!Number.isInteger(k) || k < 1 || k > 1 << 30) {
      throw new AnalysisError('ANALYSIS_BAD_OPTION', `checkpoint interval must be an integer in [1, 2^30], got ${k}`);
    }
    this.interval = k;
    this.list.push(this.capture());
  }

  /** Events indexed so far. */
  get count(): number {
    return this.builder.state.count;
  }

  /**
   * Index events [count, upto) of `src`. `onEvent`, if given, runs after each
   * event with the builder's replayer (to share the pass with other work).
   */
  extend(src: TraceRecords, upto: number = src.length, onEvent?: (r: Replayer, i: number) => void): void {
    checkSource(src);
    if (!Number.isInteger(upto) || upto < this.count || upto > src.length) {
      throw new AnalysisError('ANALYSIS_BAD_INDEX', `cannot index up to ${upto}: ${this.count} indexed, ${src.length} available`);
    }
    const r = this.builder;
    const w = src.words;
    const k = this.interval;
    for (let i = this.count; i < upto; i++) {
      r.apply(w, i);
      if (onEvent !== undefined) onEvent(r, i);
      if ((i + 1) % k === 0) this.list.push(this.capture());
    }
  }

  /** The state after event `index` (inclusive); index -1 is the state before any event. */
  stateAt(src: TraceRecords, index: number): ReplayState {
    return this.stateAfter(src, index + 1);
  }

  /**
   * The state after the first `count` events. The result is the caller's to read
   * and to continue with `new Replayer(state)`; do not mutate it directly (its
   * untouched sessions are shared with the checkpoints and frozen).
   */
  stateAfter(src: TraceRecords, count: number): ReplayState {
    checkSource(src);
    if (!Number.isInteger(count) || count < 0 || count > src.length) {
      throw new AnalysisError('ANALYSIS_BAD_INDEX', `no state after ${count} events: the trace has ${src.length}`);
    }
    const c = this.list[Math.min(Math.floor(count / this.interval), this.list.length - 1)]!;
    const st = cloneStateSharingSessions(c.state);
    const m = st.sessions;
    for (const s of c.sessionList) m.set(s.id, s);
    const r = new Replayer(st);
    r.advance(src, count);
    return st;
  }

  stats(): CheckpointStats {
    const objects = new Set<SessionState>();
    let refs = 0;
    for (const c of this.list) {
      refs += c.sessionList.length;
      for (const s of c.sessionList) objects.add(s);
    }
    return {
      interval: this.interval,
      checkpoints: this.list.length,
      events: this.count,
      sessionObjects: objects.size,
      sessionRefs: refs,
    };
  }

  private capture(): Checkpoint {
    const live = this.builder.state;
    const sessionList = [...live.sessions.values()];
    for (const s of sessionList) if (!Object.isFrozen(s)) freezeSession(s);
    for (const s of live.recentReleased) if (!Object.isFrozen(s)) freezeSession(s);
    // From now on the builder copies a session before changing it.
    this.builder.share();
    const state = cloneStateSharingSessions(live);
    state.sessions = new Map();
    return { state, sessionList };
  }
}

/** Replay events [0, count) from scratch: the baseline a checkpoint seek is measured against. */
export function replayFromStart(src: TraceRecords, count: number): ReplayState {
  checkSource(src);
  if (!Number.isInteger(count) || count < 0 || count > src.length) {
    throw new AnalysisError('ANALYSIS_BAD_INDEX', `no state after ${count} events: the trace has ${src.length}`);
  }
  const st = createState();
  new Replayer(st).advance(src, count);
  return st;
}

// The analysis of the loaded trace, as the store and panels use it: the
// replayed state at any event and the detectors' findings, both from one
// @iocpscope/analysis DetectorRunner, mapped to the timeline's marker shape.
// One instance per loaded trace.
//
// Model: the runner walks the trace once, in order, running the detectors and
// (checkpointInterval) keeping compact copy-on-write checkpoints in the same
// pass. Its replayer is the "head" state, which a live view that follows the
// newest event reads every frame without any replay. A recording is walked in
// the background in short time slices, starting once the first frame was
// painted (afterNextPaint); findings arrive as the walk proceeds, and
// `progress` says how far it got.
//
// The state at any other event comes from a private "walker": a replay that
// starts at the checkpoint before the event and moves forward, leaving a trail
// of states every TRAIL_EVERY events behind it. Stepping, playing and
// scrubbing forward replay only the events in between; a step back restarts
// from the nearest trail state (at most TRAIL_EVERY events of replay); only a
// jump restarts from a checkpoint (at most CHECKPOINT_EVERY events). So the
// checkpoints can be far apart (they cost ~300 bytes per changed session,
// kept for the life of the trace) while stepping stays under a millisecond.
// Answers and trail states are copies that share sessions with the walker
// (copy-on-write), so an answer never changes after it was given.
//
// stateAt() remembers its last answer: several panels ask for the state at
// the same cursor in one render.

import {
  cloneStateSharingSessions,
  DetectorRunner,
  Replayer,
  type Checkpoints,
  type TraceRecords,
  type Finding as AnalysisFinding,
  type ReplayState,
} from '@iocpscope/analysis';
import type { WebTrace } from '../trace/index.ts';

export interface Finding {
  /** Stable rule id, e.g. "iocount-balance". */
  rule: string;
  /** Which check of the rule fired, e.g. "double-decrement". */
  check: string;
  /** Short rule name for markers and list titles. */
  label: string;
  /** What happened, in words a course student understands. */
  message: string;
  severity: 'error' | 'warning';
  session: bigint | null;
  tid: number | null;
  /** Event indices that prove it, ascending. */
  events: readonly number[];
  /** The event the cursor jumps to: where the finding became certain. */
  anchor: number;
  /** The anchor's time, ns (known without its record: a finding of a trace the server holds). */
  ns?: number;
}

export interface TraceAnalysis {
  /** Walk events appended to the trace since the last call, now (live). */
  update(): void;
  /**
   * Walk the rest of the trace in background slices, then (when `finish`)
   * run the end-of-trace checks. onChange fires after each slice.
   */
  runInBackground(finish: boolean): void;
  /** The state after event `index` (0 <= index < trace.count). */
  stateAt(index: number): ReplayState;
  /** Findings so far, sorted by anchor. The array is replaced when it changes. */
  findings(): readonly Finding[];
  /** Fraction of the trace walked, 0..1. */
  progress(): number;
  /** The whole trace was walked (and finished, when asked). */
  readonly done: boolean;
  /** Stop background work. */
  dispose(): void;
}

export interface AnalysisOptions {
  /** Runs a background slice later; default: a zero-delay macrotask. */
  runTask?: (cb: () => void) => void;
  /**
   * Runs the first background slice; default runTask. The store passes
   * afterNextPaint(runTask), so the walk never delays the first frame.
   */
  start?: (cb: () => void) => void;
  /** Main-thread time per background slice, ms: short enough to keep frames smooth. */
  sliceMs?: number;
  /** Clock for sliceMs; default performance.now. */
  now?: () => number;
  /** Events between stored states; default CHECKPOINT_EVERY. */
  checkpointEvery?: number;
  /** Events between the walker's trail states; default TRAIL_EVERY. */
  trailEvery?: number;
  /** Called after background progress (new findings or more of the trace walked). */
  onChange?: () => void;
  /**
   * Run the detectors (default true). A window of a trace the server holds
   * passes false: its findings come from the server's pass over the whole
   * trace, and the window only needs the replayed state.
   */
  detectors?: boolean;
  /** The trace's IoCount source (its header's `ioCount`): 'derived' runs only the rules that apply. */
  ioCount?: 'application' | 'derived';
}

/**
 * Events between two stored states: bounds a jump to this many replayed events
 * (~20 ms typical, ~60 ms worst in Chromium here). Each checkpoint stores the
 * sessions that changed since the previous one (~300 bytes each), so this sets
 * the memory: ~1.2 MB per million events of the synthetic echo trace.
 */
export const CHECKPOINT_EVERY = 131_072;
/** Events between two trail states of the walker: bounds a step back. */
const TRAIL_EVERY = 2048;
/** Trail states kept (the newest): steps back within 16 K events of the walker stay cheap. */
const TRAIL_MAX = 8;
/** The runner's session cache (the default is sized for servers with far more sessions). */
const RUNNER_SESSION_CACHE = 4096;
const WALKER_SESSION_CACHE = 1024;
const DEFAULT_SLICE_MS = 8;
/** Events fed between two clock reads inside a slice. */
const STEP_EVENTS = 2048;

/**
 * A zero-delay macrotask: MessageChannel avoids the 4 ms clamp of nested
 * setTimeout, and still lets the browser render between slices.
 */
export function macrotask(): (cb: () => void) => void {
  if (typeof MessageChannel === 'undefined') return (cb) => void setTimeout(cb, 0);
  const ch = new MessageChannel();
  const queue: Array<() => void> = [];
  ch.port1.onmessage = () => queue.shift()?.();
  return (cb) => {
    queue.push(cb);
    ch.port2.postMessage(0);
  };
}

/**
 * Run tasks with `runTask` once the next frame has been painted: two animation
 * frames (the second one starts after the first was presented), or after
 * `fallbackMs` where frames do not come (a hidden tab, no DOM).
 */
export function afterNextPaint(
  runTask: (cb: () => void) => void,
  fallbackMs = 250,
): (cb: () => void) => void {
  return (cb) => {
    let started = false;
    const go = (): void => {
      if (started) return;
      started = true;
      runTask(cb);
    };
    if (typeof requestAnimationFrame === 'function') {
      requestAnimationFrame(() => requestAnimationFrame(go));
    }
    setTimeout(go, fallbackMs);
  };
}

/** The replay behind stateAt() for any event but the head (see the header). */
class Walker {
  private replayer: Replayer | null = null;
  /** Private copies, ascending by count, none past the replayer's position. */
  private trail: ReplayState[] = [];

  constructor(
    private readonly src: TraceRecords,
    private readonly checkpoints: Checkpoints,
    private readonly interval: number,
    private readonly trailEvery: number,
  ) {}

  /** The state after the first `want` events, as a copy the caller owns. */
  stateAfter(want: number): ReplayState {
    const cp = this.checkpoints;
    // The checkpoint a restart from scratch would use.
    const base =
      Math.min(Math.floor(want / this.interval), Math.floor(cp.count / this.interval)) *
      this.interval;
    let r = this.replayer;
    const at = r ? r.state.count : -1;
    if (r === null || at > want || at < base) {
      const trail = this.trail;
      let k = trail.length - 1;
      while (k >= 0 && trail[k]!.count > want) k--;
      if (k >= 0 && trail[k]!.count >= base) {
        trail.length = k + 1;
        r = new Replayer(cloneStateSharingSessions(trail[k]!), { cacheSize: WALKER_SESSION_CACHE });
      } else {
        this.trail = [];
        r = new Replayer(cp.stateAfter(this.src, base), { cacheSize: WALKER_SESSION_CACHE });
      }
      this.replayer = r;
    }
    while (r.state.count < want) {
      const every = this.trailEvery;
      const next = Math.min(want, (Math.floor(r.state.count / every) + 1) * every);
      r.advance(this.src, next);
      if (next % every === 0) this.keep(r);
    }
    const out = cloneStateSharingSessions(r.state);
    // From now on the replayer copies a session before changing it: `out` keeps these.
    r.share();
    return out;
  }

  private keep(r: Replayer): void {
    const last = this.trail[this.trail.length - 1];
    if (last && last.count === r.state.count) return;
    this.trail.push(cloneStateSharingSessions(r.state));
    r.share();
    if (this.trail.length > TRAIL_MAX) this.trail.shift();
  }
}

function toFinding(f: AnalysisFinding): Finding {
  const s = f.subject;
  return {
    rule: f.rule,
    check: f.check,
    label: f.title,
    message: f.message,
    severity: f.severity,
    session: s.kind === 'session' ? s.session : null,
    tid: s.kind === 'thread' || s.kind === 'lock' ? s.tid : null,
    events: f.evidence,
    anchor: f.index,
  };
}

export function createTraceAnalysis(trace: WebTrace, o: AnalysisOptions = {}): TraceAnalysis {
  const runTask = o.runTask ?? macrotask();
  const start = o.start ?? runTask;
  const sliceMs = o.sliceMs ?? DEFAULT_SLICE_MS;
  const now = o.now ?? (() => performance.now());
  const src = {
    get words() {
      return trace.words;
    },
    get length() {
      return trace.count;
    },
  };
  const interval = o.checkpointEvery ?? CHECKPOINT_EVERY;
  const runner = new DetectorRunner({
    strings: (id: number) => trace.string(id),
    checkpointInterval: interval,
    sessionCacheSize: RUNNER_SESSION_CACHE,
    ...(o.detectors === false ? { rules: [] } : {}),
    ...(o.ioCount ? { ioCount: o.ioCount } : {}),
  });
  const checkpoints: Checkpoints = runner.checkpoints!;
  const head = runner.replayer;
  let findings: Finding[] = [];
  let last: { index: number; state: ReplayState } | null = null;
  const trailEvery = o.trailEvery ?? TRAIL_EVERY;
  let walker: Walker | null = null;
  let trimmed = false;
  let finished = false;
  let wantFinish = false;
  let running = false;
  let disposed = false;

  const addFindings = (fs: readonly AnalysisFinding[]): void => {
    if (fs.length === 0) return;
    findings = [...findings, ...fs.map(toFinding)].sort((a, b) => a.anchor - b.anchor);
  };

  const walkTo = (to: number): void => {
    const end = Math.min(to, trace.count);
    if (end <= runner.count || finished) return;
    // The head state is about to change under any cached answer that is it.
    if (last && last.state === head.state) last = null;
    addFindings(runner.feed(src, end));
  };

  const finishNow = (): void => {
    if (finished) return;
    finished = true;
    // "Never happened before the end" holds only for a trace that covers the
    // server's exit (TraceEnd ServerExit), not one stopped or cut mid-run.
    addFindings(runner.finish({ endOfRun: runner.endOfRun }));
  };

  const step = (): void => {
    running = false;
    if (disposed) return;
    const until = now() + sliceMs;
    do walkTo(runner.count + STEP_EVENTS);
    while (runner.count < trace.count && now() < until);
    if (runner.count >= trace.count) {
      if (wantFinish) finishNow();
      // A recording walked to its end: its checkpoints are complete.
      if (!trimmed) checkpoints.trim();
      trimmed = true;
    }
    o.onChange?.();
    if (runner.count < trace.count) {
      running = true;
      runTask(step);
    }
  };

  return {
    update: () => walkTo(trace.count),
    runInBackground(finish) {
      wantFinish = finish;
      if (running || disposed) return;
      running = true;
      start(step);
    },
    stateAt(index) {
      if (last && last.index === index) return last.state;
      const want = index + 1;
      let state: ReplayState;
      if (want === runner.count) {
        // The head is the runner's own state (a live view reads it every frame).
        state = head.state;
      } else {
        walker ??= new Walker(src, checkpoints, interval, trailEvery);
        state = walker.stateAfter(want);
      }
      last = { index, state };
      return state;
    },
    findings: () => findings,
    progress: () => (trace.count === 0 ? 1 : Math.min(1, runner.count / trace.count)),
    get done() {
      return runner.count >= trace.count && (!wantFinish || finished);
    },
    dispose() {
      disposed = true;
      walker = null;
    },
  };
}

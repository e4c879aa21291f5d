// The analysis of the loaded trace, as the store and panels use it: the
// replayed state at any event and the detectors' findings, both from one
// @iocpscope/analysis DetectorRunner, mapped to the timeline's marker shape.
// One instance per loaded trace.
//
// Model: the runner walks the trace once, in order, running the detectors and
// (checkpointInterval) keeping compact copy-on-write checkpoints in the same
// pass. Its replayer is the "head" state, which a live view that follows the
// newest event reads every frame without any replay. A recording is walked in
// the background in short time slices (the timeline paints first; findings
// arrive as the walk proceeds, and `progress` says how far it got).
//
// The state at any other event comes from a private "walker": a replay that
// starts at the checkpoint before the event and moves forward. Stepping,
// playing and scrubbing forward move the walker on by the events in between;
// a step back, or a jump past the next checkpoint, starts it again from a
// checkpoint (at most CHECKPOINT_EVERY events of replay). So checkpoints can be
// far apart (little memory: a few hundred KB per million events) while
// stepping stays cheap. Every answer is a copy that shares sessions with the
// walker (copy-on-write), so an answer never changes after it was given.
//
// stateAt() remembers its last answer: several panels ask for the state at
// the same cursor in one render.

import {
  cloneStateSharingSessions,
  DetectorRunner,
  Replayer,
  type Checkpoints,
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
  /** Main-thread time per background slice, ms: short enough to keep frames smooth. */
  sliceMs?: number;
  /** Clock for sliceMs; default performance.now. */
  now?: () => number;
  /** Events between stored states; default CHECKPOINT_EVERY. */
  checkpointEvery?: number;
  /** Called after background progress (new findings or more of the trace walked). */
  onChange?: () => void;
}

/**
 * Events between two stored states: bounds a jump (or a step back) to this many
 * replayed events, ~15 ms in Chromium here; forward steps replay only the
 * events stepped over. Each checkpoint stores the sessions that changed since
 * the previous one (~300 bytes each), so this also sets the memory.
 */
export const CHECKPOINT_EVERY = 65_536;
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
  });
  const checkpoints: Checkpoints = runner.checkpoints!;
  const head = runner.replayer;
  let findings: Finding[] = [];
  let last: { index: number; state: ReplayState } | null = null;
  let walker: Replayer | null = null;
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
    addFindings(runner.finish());
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
      runTask(step);
    },
    stateAt(index) {
      if (last && last.index === index) return last.state;
      const want = index + 1;
      let state: ReplayState;
      if (want === runner.count) {
        // The head is the runner's own state (a live view reads it every frame).
        state = head.state;
      } else {
        // The checkpoint a fresh start would use; the walker is worth keeping
        // while it is at or past it and not past the event.
        const at = walker ? walker.state.count : -1;
        const base = Math.min(
          Math.floor(want / interval),
          Math.floor(checkpoints.count / interval),
        );
        if (walker && at <= want && at >= base * interval) {
          walker.advance(src, want);
        } else {
          walker = new Replayer(checkpoints.stateAfter(src, want), {
            cacheSize: WALKER_SESSION_CACHE,
          });
        }
        state = cloneStateSharingSessions(walker.state);
        // From now on the walker copies a session before changing it: `state` keeps these.
        walker.share();
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

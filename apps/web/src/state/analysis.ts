// The analysis of the loaded trace, as the store and panels use it: the
// replayed state at any event (through @iocpscope/analysis' reducer, with
// checkpoints) and the detectors' findings, mapped to the timeline's marker
// shape. One instance per loaded trace; a live trace calls update() after
// appending, so the head state and the findings follow the stream.
//
// Model: one DetectorRunner walks the trace once (its replayer is the head
// state); every CHECKPOINT_EVERY events a clone of the state is kept, so
// stateAt(i) costs one clone plus at most CHECKPOINT_EVERY applies.
// stateAt() also remembers its last answer: several panels ask for the state
// at the same cursor in one render, and the cursor mostly moves one event at a
// time.

import { DetectorRunner } from '../../../../packages/analysis/src/runner.ts'; // TEMP-ANALYSIS
import { Replayer } from '../../../../packages/analysis/src/replay.ts'; // TEMP-ANALYSIS
import { cloneState, type ReplayState } from '../../../../packages/analysis/src/state.ts'; // TEMP-ANALYSIS
import type { Finding as AnalysisFinding } from '../../../../packages/analysis/src/findings.ts'; // TEMP-ANALYSIS
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
  /** Consume events appended to the trace since the last call. */
  update(): void;
  /** Run the end-of-trace checks (a complete recording, not a live stream). */
  finish(): void;
  /** The state after event `index` (0 <= index < trace.count). */
  stateAt(index: number): ReplayState;
  /** Findings so far, sorted by anchor. The array is replaced when it changes. */
  findings(): readonly Finding[];
}

/** Events between two stored states: bounds a seek to this many applies. */
export const CHECKPOINT_EVERY = 8192;

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

export function createTraceAnalysis(trace: WebTrace): TraceAnalysis {
  const src = {
    get words() {
      return trace.words;
    },
    get length() {
      return trace.count;
    },
  };
  const runner = new DetectorRunner({ strings: (id: number) => trace.string(id) });
  const head = runner.replayer;
  const checkpoints: ReplayState[] = [cloneState(head.state)];
  let findings: Finding[] = [];
  let last: { index: number; state: ReplayState } | null = null;
  let finished = false;

  const addFindings = (fs: readonly AnalysisFinding[]): void => {
    if (fs.length === 0) return;
    findings = [...findings, ...fs.map(toFinding)].sort((a, b) => a.anchor - b.anchor);
  };

  const update = (): void => {
    const to = trace.count;
    // The head state is about to change under any cached answer that is it.
    if (last && last.state === head.state && to > head.state.count) last = null;
    while (head.state.count < to) {
      const next = Math.min(to, checkpoints.length * CHECKPOINT_EVERY);
      addFindings(runner.feed(src, next));
      if (head.state.count === checkpoints.length * CHECKPOINT_EVERY) {
        checkpoints.push(cloneState(head.state));
      }
    }
  };
  update();

  return {
    update,
    finish() {
      if (finished) return;
      finished = true;
      update();
      addFindings(runner.finish());
    },
    stateAt(index) {
      if (last && last.index === index) return last.state;
      const want = index + 1;
      let state: ReplayState;
      if (want === head.state.count) {
        state = head.state;
      } else {
        const k = Math.min(checkpoints.length - 1, Math.floor(want / CHECKPOINT_EVERY));
        const r = new Replayer(cloneState(checkpoints[k]!));
        r.advance(src, want);
        state = r.state;
      }
      last = { index, state };
      return state;
    },
    findings: () => findings,
  };
}

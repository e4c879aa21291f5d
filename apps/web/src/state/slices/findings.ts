// The findings slice: the detectors' output for the loaded trace (sorted by
// anchor), the anchors as a typed array for next/previous anomaly, and how
// far the background analysis got. Event indices here are global: for a trace
// the server holds (remote slice), the server's pass over the whole trace,
// which the window's local indices reach through toLocal.

import type { AppState } from '../store.ts';
import type { Finding, TraceAnalysis } from '../analysis.ts';
import { contextFrame, evidenceFrame } from '../framing.ts';
import type { Slice, SliceContext } from './context.ts';

/** Which finding is framed, and how wide (issue 19 §1). */
export interface FramedFinding {
  /** rule:anchor:check, stable while findings arrive. */
  key: string;
  mode: 'evidence' | 'context';
}

export interface FindingsState {
  findings: readonly Finding[];
  /** Event index that anchors each finding, ascending (for next/previous anomaly). */
  findingAnchors: Uint32Array;
  /** How much of the trace the detectors have walked, 0..1 (1 when done or nothing loaded). */
  analysisProgress: number;
  /** The finding last gone to, and whether its evidence or its context is framed. */
  framed: FramedFinding | null;
  /** That finding's evidence events (ringed on the timeline), or null. */
  evidence: readonly number[] | null;
}

export interface FindingsActions {
  /**
   * Go to a finding: the cursor to its anchor, its session selected, the view
   * framing its evidence. Going to the finding that is framed already zooms
   * out to its context (and back again).
   */
  goToFinding(f: Finding, mode?: 'evidence' | 'context'): void;
  /** The finding at the cursor: toggle between its evidence and its context (Z). */
  toggleFindingFrame(): void;
}

export interface FindingsInternal {
  /** The findings fields for `a`; unchanged (same objects) when its findings did not change. */
  findingState(a: TraceAnalysis | null): Pick<AppState, 'findings' | 'findingAnchors'>;
  /** Publish the background analysis' progress (whole percents) and new findings. */
  onAnalysisProgress(a: TraceAnalysis | null): void;
}

export const noFindings = (): Pick<
  FindingsState,
  'findings' | 'findingAnchors' | 'analysisProgress'
> => ({
  findings: [],
  findingAnchors: new Uint32Array(0),
  analysisProgress: 1,
});

export function findingKey(f: Finding): string {
  return `${f.rule}:${f.anchor}:${f.check}`;
}

export function createFindingsSlice(
  ctx: SliceContext,
): Slice<FindingsState, FindingsActions, FindingsInternal> {
  const { set, get, life, internal } = ctx;

  const findingState: FindingsInternal['findingState'] = (a) => {
    const findings = a ? a.findings() : [];
    const s = get();
    if (findings === s.findings) return { findings, findingAnchors: s.findingAnchors };
    const anchors = new Uint32Array(findings.length);
    for (let k = 0; k < findings.length; k++) anchors[k] = findings[k]!.anchor;
    anchors.sort();
    return { findings, findingAnchors: anchors };
  };

  const onAnalysisProgress = (a: TraceAnalysis | null): void => {
    const s = get();
    if (life.disposed || !a || s.analysis !== a) return;
    const progress = a.done ? 1 : a.progress();
    // Publish whole percents only: a slice every few ms must not re-render the panels each time.
    if (
      a.findings() === s.findings &&
      Math.floor(progress * 100) === Math.floor(s.analysisProgress * 100)
    ) {
      return;
    }
    set({ ...findingState(a), analysisProgress: progress });
  };

  /** Frame finding f whose anchor is in the loaded trace (or window). */
  const frameFinding = (f: Finding, mode?: 'evidence' | 'context'): void => {
    const s = get();
    const trace = s.trace;
    if (!trace || trace.count === 0) return;
    const anchor = internal.toLocal(f.anchor);
    if (anchor < 0) return;
    // Findings are global; a window frames the evidence it holds.
    const events: number[] = [];
    for (const e of f.events) {
      const l = internal.toLocal(e);
      if (l >= 0) events.push(l);
    }
    const key = findingKey(f);
    const m =
      mode ?? (s.framed?.key === key && s.framed.mode === 'evidence' ? 'context' : 'evidence');
    const frame =
      m === 'evidence'
        ? evidenceFrame(trace, events, anchor)
        : contextFrame(trace, events, anchor, f.session);
    const a = s.actions;
    if (f.session !== null) a.selectSession(f.session);
    if (frame) a.setView(frame.startNs, frame.endNs);
    a.setCursor(anchor, { reveal: false });
    set({ framed: { key, mode: m }, evidence: f.events });
  };

  const goToFinding = (f: Finding, mode?: 'evidence' | 'context'): void => {
    const s = get();
    if (s.remote && internal.toLocal(f.anchor) < 0) {
      // Far away in a trace the server holds: load its window first.
      void s.actions.seekEvent(f.anchor, { reveal: false }).then(() => {
        if (!life.disposed) frameFinding(f, mode ?? 'evidence');
      });
      return;
    }
    frameFinding(f, mode);
  };

  return {
    state: { ...noFindings(), framed: null, evidence: null },
    actions: {
      goToFinding,
      toggleFindingFrame: () => {
        const s = get();
        const g = internal.toGlobal(s.cursor);
        const at = s.findings.filter((f) => f.anchor === g);
        if (at.length === 0) return;
        const framed = at.find((f) => findingKey(f) === s.framed?.key) ?? at[0]!;
        goToFinding(framed);
      },
    },
    internal: { findingState, onAnalysisProgress },
  };
}

// The findings slice: the detectors' output for the loaded trace (sorted by
// anchor), the anchors as a typed array for next/previous anomaly, and how
// far the background analysis got.

import type { AppState } from '../store.ts';
import type { Finding, TraceAnalysis } from '../analysis.ts';
import type { Slice, SliceContext } from './context.ts';

export interface FindingsState {
  findings: readonly Finding[];
  /** Event index that anchors each finding, ascending (for next/previous anomaly). */
  findingAnchors: Uint32Array;
  /** How much of the trace the detectors have walked, 0..1 (1 when done or nothing loaded). */
  analysisProgress: number;
}

export interface FindingsInternal {
  /** The findings fields for `a`; unchanged (same objects) when its findings did not change. */
  findingState(a: TraceAnalysis | null): Pick<AppState, 'findings' | 'findingAnchors'>;
  /** Publish the background analysis' progress (whole percents) and new findings. */
  onAnalysisProgress(a: TraceAnalysis | null): void;
}

export const noFindings = (): FindingsState => ({
  findings: [],
  findingAnchors: new Uint32Array(0),
  analysisProgress: 1,
});

export function createFindingsSlice(
  ctx: SliceContext,
): Slice<FindingsState, object, FindingsInternal> {
  const { set, get, life } = ctx;

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

  return {
    state: noFindings(),
    actions: {},
    internal: { findingState, onAnalysisProgress },
  };
}

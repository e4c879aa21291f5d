import { EventKind, RECORD_WORDS } from '@iocpscope/protocol';
import { describe, expect, it } from 'vitest';
import { contextFrame, evidenceFrame, MIN_FRAME_NS, SEPARATE } from './framing.ts';
import { harness } from './storeHarness.test-util.ts';
import { syntheticTraceFile } from './synthetic.test-util.ts';

const BUGGY = syntheticTraceFile(
  { sessions: 30, workers: 3, rounds: 3, seed: 8, doubleDecrement: [17] },
  512,
);

async function openBuggy() {
  const h = harness();
  await h.a().loadBytes(BUGGY, 'buggy.iocptrace');
  while (h.store.getState().analysisProgress < 1) h.runTasks();
  const s = h.store.getState();
  const f = s.findings.find((x) => x.rule === 'iocount-balance')!;
  expect(f, 'the double decrement is found').toBeDefined();
  return { h, f };
}

describe('framing a finding (issue 19 §1)', () => {
  it('frames the evidence with a margin, so marks 15 µs apart are far apart on screen', () => {
    const t = {
      count: 3,
      timeAt: (i: number) => [1_000_000, 1_015_000, 5_000_000][i]!,
      startNs: 0,
      endNs: 9_000_000,
    };
    const trace = t as unknown as Parameters<typeof evidenceFrame>[0];
    const v = evidenceFrame(trace, [0, 1], 1)!;
    expect(v.startNs).toBeLessThan(1_000_000);
    expect(v.endNs).toBeGreaterThan(1_015_000);
    // The two events sit at least half the view apart: two marks at any plot width.
    expect(15_000 / (v.endNs - v.startNs)).toBeGreaterThan(0.5);
    const one = evidenceFrame(trace, [2], 2)!;
    expect(one.endNs - one.startNs).toBe(MIN_FRAME_NS);
    expect(
      contextFrame(trace, [0, 1], 1, null)!.endNs - contextFrame(trace, [0, 1], 1, null)!.startNs,
    ).toBeGreaterThan((v.endNs - v.startNs) * 9);
  });

  it('going to a finding selects its session, puts the cursor on it and frames its evidence; again: its context', async () => {
    const { h, f } = await openBuggy();
    h.a().goToFinding(f);
    let s = h.store.getState();
    expect(s.cursor).toBe(f.anchor);
    expect(s.selectedSession).toBe(f.session);
    expect(s.framed).toMatchObject({ mode: 'evidence' });
    expect(s.evidence).toEqual(f.events);
    const evidenceWidth = s.viewEndNs - s.viewStartNs;
    // The anchor and its nearest evidence event are in view and visibly apart.
    const ta = s.trace!.timeAt(f.anchor);
    const gaps = f.events.map((e) => Math.abs(s.trace!.timeAt(e) - ta)).filter((d) => d > 0);
    const near = Math.min(...gaps);
    expect(ta).toBeGreaterThan(s.viewStartNs);
    expect(ta).toBeLessThan(s.viewEndNs);
    expect(near / evidenceWidth).toBeGreaterThanOrEqual(1 / SEPARATE - 1e-9);
    h.a().goToFinding(f);
    s = h.store.getState();
    expect(s.framed).toMatchObject({ mode: 'context' });
    expect(s.viewEndNs - s.viewStartNs).toBeGreaterThan(evidenceWidth * 5);
    // The session's whole life is in the context.
    const list = s.trace!.sessionEvents(f.session!);
    expect(s.trace!.timeAt(list[0]!)).toBeGreaterThanOrEqual(s.viewStartNs);
    expect(s.trace!.timeAt(list[list.length - 1]!)).toBeLessThanOrEqual(s.viewEndNs);
    h.a().toggleFindingFrame();
    expect(h.store.getState().framed).toMatchObject({ mode: 'evidence' });
    expect(h.store.getState().viewEndNs - h.store.getState().viewStartNs).toBeCloseTo(
      evidenceWidth,
      0,
    );
  });

  it('] frames the next finding the same way', async () => {
    const { h, f } = await openBuggy();
    h.a().setCursor(0);
    h.a().setView(h.store.getState().trace!.startNs, h.store.getState().trace!.endNs);
    while (h.store.getState().cursor < f.anchor) {
      const before = h.store.getState().cursor;
      h.a().step('anomaly', 1);
      if (h.store.getState().cursor === before) break;
    }
    const s = h.store.getState();
    expect(s.cursor).toBe(f.anchor);
    expect(s.framed?.mode).toBe('evidence');
    expect(s.viewEndNs - s.viewStartNs).toBeLessThan((s.trace!.endNs - s.trace!.startNs) / 10);
    // It is an IOCount finding: its evidence holds the two decrements.
    const w = s.trace!.words;
    const decs = f.events.filter((e) => (w[e * RECORD_WORDS]! & 0xff) === EventKind.IoCount);
    expect(decs.length).toBeGreaterThanOrEqual(2);
  });
});

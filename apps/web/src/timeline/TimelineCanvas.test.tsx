import { act, cleanup, render } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { randomRecords } from '../trace/randomTrace.test-util.ts';
import { WebTrace } from '../trace/index.ts';
import { computeLayout, laneTop } from './layout.ts';
import type { TimelineModel, TimelineState } from './model.ts';
import { TimelineCanvas } from './TimelineCanvas.tsx';

// happy-dom has no 2D canvas: a context that accepts every call and counts
// drawn frames (each starts with one setTransform on the timeline's canvas).
function fakeContext(counter: { frames: number }): CanvasRenderingContext2D {
  const target: Record<string, unknown> = {
    measureText: (s: string) => ({ width: s.length * 6 }),
    setTransform: () => {
      counter.frames++;
    },
  };
  return new Proxy(target, {
    get: (t, k: string) => (k in t ? t[k] : () => undefined),
    set: (t, k: string, v) => {
      t[k] = v;
      return true;
    },
  }) as unknown as CanvasRenderingContext2D;
}

function fakeModel(initial: TimelineState) {
  let state = initial;
  const listeners = new Set<() => void>();
  const calls = {
    view: [] as [number, number][],
    cursor: [] as number[],
    hover: [] as (number | null)[],
  };
  const model: TimelineModel = {
    getState: () => state,
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    setView: (s, e) => calls.view.push([s, e]),
    setCursor: (i) => calls.cursor.push(i),
    setHover: (i) => calls.hover.push(i),
  };
  const set = (patch: Partial<TimelineState>): void => {
    state = { ...state, ...patch };
    for (const l of listeners) l();
  };
  return { model, set, listeners, calls };
}

const frame = (): Promise<void> =>
  act(() => new Promise<void>((r) => requestAnimationFrame(() => r())));

const W = 1000;
const H = 600;
const trace = WebTrace.from(randomRecords(12, 2000));

describe('<TimelineCanvas>', () => {
  const counter = { frames: 0 };

  beforeEach(() => {
    counter.frames = 0;
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(
      () => fakeContext(counter) as never,
    );
    vi.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockReturnValue(W);
    vi.spyOn(HTMLElement.prototype, 'clientHeight', 'get').mockReturnValue(H);
    vi.stubGlobal(
      'Path2D',
      class {
        moveTo(): void {}
        lineTo(): void {}
        closePath(): void {}
      },
    );
  });

  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  const initial: TimelineState = {
    trace,
    viewStartNs: trace.startNs,
    viewEndNs: trace.endNs,
    cursor: -1,
    hoverIndex: -1,
    selectedSession: 1n,
    findings: [{ events: [10, 20], label: 'test finding' }],
  };

  it('draws once per change it shows and not for changes it does not show', async () => {
    const m = fakeModel(initial);
    render(<TimelineCanvas model={m.model} />);
    await frame();
    expect(counter.frames).toBe(1);
    m.set({}); // a store change elsewhere in the app
    await frame();
    expect(counter.frames).toBe(1);
    m.set({ cursor: 5 });
    m.set({ hoverIndex: 7 });
    await frame();
    expect(counter.frames).toBe(2); // two changes, one frame
  });

  it('stops listening and drawing when unmounted', async () => {
    const m = fakeModel(initial);
    const r = render(<TimelineCanvas model={m.model} />);
    await frame();
    expect(m.listeners.size).toBe(1);
    r.unmount();
    expect(m.listeners.size).toBe(0);
    m.set({ cursor: 3 });
    await frame();
    expect(counter.frames).toBe(1);
  });

  it('puts the cursor on an event of the lane that was clicked and reports hovers', async () => {
    const m = fakeModel(initial);
    const r = render(<TimelineCanvas model={m.model} />);
    await frame();
    const canvas = r.container.querySelector('canvas')!;
    const l = computeLayout(W, H, trace.lanes.length, 0);
    for (const row of [0, 2]) {
      const y = laneTop(l, row) + l.laneH / 2;
      canvas.dispatchEvent(new MouseEvent('click', { clientX: 600, clientY: y, bubbles: true }));
      const i = m.calls.cursor.at(-1)!;
      expect(trace.tidAt(i)).toBe(trace.lanes[row]!.tid);
    }
    const y = laneTop(l, 1) + l.laneH / 2;
    canvas.dispatchEvent(
      new PointerEvent('pointermove', { clientX: 500, clientY: y, bubbles: true }),
    );
    const h = m.calls.hover.at(-1);
    expect(h === null || trace.tidAt(h!) === trace.lanes[1]!.tid).toBe(true);
    canvas.dispatchEvent(new PointerEvent('pointerleave', { bubbles: true }));
    expect(m.calls.hover.at(-1)).toBeNull();
  });

  it('jumps the view to where the overview strip is clicked, keeping its width', async () => {
    const m = fakeModel({
      ...initial,
      viewStartNs: trace.startNs,
      viewEndNs: trace.startNs + 1000,
    });
    const r = render(<TimelineCanvas model={m.model} />);
    await frame();
    const canvas = r.container.querySelector('canvas')!;
    canvas.setPointerCapture = () => undefined;
    canvas.releasePointerCapture = () => undefined;
    const l = computeLayout(W, H, trace.lanes.length, 0);
    const x = l.plotX0 + (l.plotX1 - l.plotX0) * 0.75;
    canvas.dispatchEvent(
      new PointerEvent('pointerdown', { clientX: x, clientY: 20, button: 0, bubbles: true }),
    );
    const [s, e] = m.calls.view.at(-1)!;
    expect(e - s).toBeCloseTo(1000, 6);
    const span = trace.endNs - trace.startNs;
    const mid = (s + e) / 2;
    expect(mid).toBeGreaterThan(trace.startNs + span * 0.7);
    expect(mid).toBeLessThan(trace.startNs + span * 0.8);
  });

  it('says so instead of failing when the browser has no 2D canvas', async () => {
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(() => null);
    const m = fakeModel(initial);
    const r = render(<TimelineCanvas model={m.model} />);
    await frame();
    expect(r.container.textContent).toContain('cannot draw the timeline');
  });
});

import { describe, expect, it } from 'vitest';
import { WebTrace } from '../trace/index.ts';
import { randomRecords } from '../trace/randomTrace.test-util.ts';
import { computeTicks, formatTick } from './axis.ts';
import { cursorFlag, drawAxisLabels, type Geom } from './drawVector.ts';
import { computeLayout } from './layout.ts';
import { Pen } from './pen.ts';

/** A 2D context that records fillText calls (text, x) and measures 6 px per character. */
function recordingPen(): { pen: Pen; texts: Array<{ text: string; x: number }> } {
  const texts: Array<{ text: string; x: number }> = [];
  const target: Record<string, unknown> = {
    measureText: (s: string) => ({ width: s.length * 6 }),
    fillText: (text: string, x: number) => texts.push({ text, x }),
  };
  const ctx = new Proxy(target, {
    get: (t, k: string) => (k in t ? t[k] : () => undefined),
    set: (t, k: string, v) => {
      t[k] = v;
      return true;
    },
  }) as unknown as CanvasRenderingContext2D;
  return { pen: new Pen(ctx), texts };
}

const trace = WebTrace.from(randomRecords(3, 400));

function geom(t0: number, t1: number): Geom {
  const layout = computeLayout(1200, 500, 0, 0);
  return {
    layout,
    t0,
    t1,
    nsPerPx: (t1 - t0) / (layout.plotX1 - layout.plotX0),
    rowOfLane: new Int32Array(0),
    lanes: [],
  };
}

describe('time axis labels', () => {
  const g = geom(trace.startNs, trace.endNs);
  const ticks = computeTicks(g.t0, g.t1, g.layout.plotX1 - g.layout.plotX0);
  const all = (() => {
    const r = recordingPen();
    drawAxisLabels(r.pen, g, []);
    return r.texts;
  })();

  it('draws every tick label when nothing else is on the axis', () => {
    expect(all.length).toBeGreaterThan(3);
    expect(all[0]!.text).toBe(formatTick(ticks.firstNs, ticks));
  });

  it('leaves out exactly the tick labels the cursor flag would touch', () => {
    // Every event of the trace as the cursor: no drawn label overlaps the flag.
    for (let i = 0; i < trace.count; i += 7) {
      const r = recordingPen();
      const flag = cursorFlag(r.pen, trace, g, i)!;
      expect(flag).not.toBeNull();
      drawAxisLabels(r.pen, g, [flag.x, flag.x + flag.w]);
      for (const t of r.texts) {
        const x1 = t.x + t.text.length * 6;
        expect(x1 <= flag.x || t.x >= flag.x + flag.w, `${t.text} under the flag at ${i}`).toBe(
          true,
        );
      }
      // Naive model: the labels kept are all those clear of the flag by 6 px.
      const clear = all.filter(
        (t) => t.x + t.text.length * 6 + 6 <= flag.x || t.x - 6 >= flag.x + flag.w,
      );
      expect(r.texts).toEqual(clear);
    }
  });

  it('places the flag inside the plot even for an event at either edge', () => {
    const r = recordingPen();
    const first = cursorFlag(r.pen, trace, g, 0)!;
    const last = cursorFlag(r.pen, trace, g, trace.count - 1)!;
    expect(first.x).toBeGreaterThanOrEqual(g.layout.plotX0);
    expect(last.x + last.w).toBeLessThanOrEqual(g.layout.plotX1);
    expect(cursorFlag(r.pen, trace, geom(trace.endNs + 10, trace.endNs + 20), 0)).toBeNull();
  });
});

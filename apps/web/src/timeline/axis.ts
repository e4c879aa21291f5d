// Time-axis ticks and labels. Steps are 1-2-5 x 10^k ns so labels stay round
// in every unit; the unit (ns, µs, ms, s) follows the step. Deep in a long
// trace (a 100 ns step at 3.2 s) absolute labels would be unreadable, so the
// axis switches to a base label ("@ 3.200 012 s", lib/format formatTimeNs)
// plus short offsets ("+200 ns").

export interface Ticks {
  /** Distance between ticks, ns. */
  readonly stepNs: number;
  /** Time of the first tick at or after the window start. */
  readonly firstNs: number;
  readonly count: number;
  /** When set, labels are offsets from this time (shown once). */
  readonly baseNs: number | null;
}

const UNITS = [
  { ns: 1e9, name: 's' },
  { ns: 1e6, name: 'ms' },
  { ns: 1e3, name: 'µs' },
  { ns: 1, name: 'ns' },
] as const;

/** A 1-2-5 step (ns, >= 1) giving ticks at least `minSpacingPx` apart. */
export function niceStep(spanNs: number, widthPx: number, minSpacingPx: number): number {
  const raw = (spanNs * minSpacingPx) / Math.max(1, widthPx);
  if (!(raw > 1)) return 1;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  const m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return m * mag;
}

export function computeTicks(
  startNs: number,
  endNs: number,
  widthPx: number,
  minSpacingPx = 96,
): Ticks {
  const stepNs = niceStep(endNs - startNs, widthPx, minSpacingPx);
  const firstNs = Math.ceil(startNs / stepNs) * stepNs;
  const count = firstNs > endNs ? 0 : Math.floor((endNs - firstNs) / stepNs) + 1;
  // Offsets once an absolute label would need more than ~6 significant digits.
  const baseNs =
    Math.abs(firstNs) / stepNs > 1e4 ? Math.floor(startNs / (stepNs * 1000)) * stepNs * 1000 : null;
  return { stepNs, firstNs, count, baseNs };
}

/** The unit a step is labelled in: the largest unit at most twice the step (0.5 ms steps read "1.5 ms"). */
export function unitFor(stepNs: number): { ns: number; name: string } {
  for (const u of UNITS) if (stepNs * 2 >= u.ns) return u;
  return UNITS[3];
}

/** Digits after the point so that multiples of `stepNs` print exactly in `unitNs`. */
function decimalsFor(stepNs: number, unitNs: number): number {
  let d = 0;
  let v = stepNs / unitNs;
  while (d < 9 && Math.abs(v - Math.round(v)) > 1e-9 * Math.max(1, Math.abs(v))) {
    v *= 10;
    d++;
  }
  return d;
}

/** Label of a tick at `ns` for a tick step (absolute, or "+offset" when the axis has a base). */
export function formatTick(ns: number, ticks: Ticks): string {
  if (ticks.baseNs !== null) return `+${stepLabel(ns - ticks.baseNs, ticks.stepNs)}`;
  if (ns === 0) return '0';
  return stepLabel(ns, ticks.stepNs);
}

/**
 * A multiple of a tick step in the step's unit, moved up a unit past 4
 * integer digits: "386.25 ms" and "+90.7 s" read better than "386250 µs" and
 * "+90700 ms".
 */
function stepLabel(ns: number, stepNs: number): string {
  const u = unitFor(stepNs);
  const k = UNITS.indexOf(u as (typeof UNITS)[number]);
  if (k > 0 && Math.abs(ns) / u.ns >= 1000) {
    const up = UNITS[k - 1]!;
    return `${(ns / up.ns).toFixed(decimalsFor(stepNs, up.ns))} ${up.name}`;
  }
  return `${(ns / u.ns).toFixed(decimalsFor(stepNs, u.ns))} ${u.name}`;
}

// Feeding a runner the way a caller that cannot hold the whole trace does
// (the server walking a file chunk by chunk): windows of records with a
// moving base. Each window is a fresh array holding only its own records,
// seen through a guard that throws on any read past them: a detector that
// still reads the current record by its global index (words[i * 8]) fails
// the first time that code runs, even where the wrong value would not have
// changed a finding.

import { RECORD_WORDS } from '../proto.ts';
import { DetectorRunner, type RunnerOptions } from '../runner.ts';
import type { TraceRecords } from '../source.ts';
import type { Rng } from '../synth.ts';
import type { Finding } from '../findings.ts';

export interface WindowedRun {
  findings: Finding[];
  /** The runner after finish(), for its suppressed counts. */
  runner: DetectorRunner;
  /** Windows fed. */
  windows: number;
}

/** `w` as seen by the runner: reading a word it does not hold throws. */
function guarded(w: Uint32Array, base: number): Uint32Array {
  return new Proxy(w, {
    get(target, key) {
      if (typeof key === 'string' && /^\d+$/.test(key) && Number(key) >= target.length) {
        const i = Math.floor(Number(key) / RECORD_WORDS);
        throw new RangeError(
          `read of word ${key} (record ${i}) of a window holding records [${base}, ` +
            `${base + target.length / RECORD_WORDS}) at words [0, ${target.length}): ` +
            'read the current record through ctx.o, not by its global index',
        );
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * Feed `src` in windows of minSize..maxSize events (sizes from `rng`; the
 * first one shorter, since only there would a read by global index still find
 * the right record), each a guarded copy of its own records; then finish.
 */
export function feedInWindows(
  src: TraceRecords,
  rng: Rng,
  opts: RunnerOptions & { minSize: number; maxSize: number; endOfRun?: boolean },
): WindowedRun {
  const { minSize, maxSize, endOfRun, ...runnerOpts } = opts;
  const r = new DetectorRunner(runnerOpts);
  const n = src.length;
  let windows = 0;
  while (r.count < n) {
    const base = r.count;
    const size = base === 0 ? rng.int(1, 16) : rng.int(minSize, maxSize);
    const upto = Math.min(n, base + size);
    const w = src.words.slice(base * RECORD_WORDS, upto * RECORD_WORDS);
    r.feedWindow(guarded(w, base), base, upto);
    windows++;
  }
  r.finish(endOfRun === undefined ? {} : { endOfRun });
  return { findings: r.findings, runner: r, windows };
}

/** The fields a finding is judged by (what a reader sees), for comparisons. */
export function findingKey(f: Finding): unknown {
  return {
    rule: f.rule,
    check: f.check,
    index: f.index,
    evidence: f.evidence,
    message: f.message,
    subject: f.subject,
    severity: f.severity,
  };
}

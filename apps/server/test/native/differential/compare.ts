// Comparing two runs of the differential scenario (scenario.ts). Per session,
// the observation sequences must be equal; sessions are compared
// independently, so how sessions interleave never matters. Completions a
// single step owes together (several packets for one step) are compared as a
// multiset within that step, since the contract does not order them.

import type { Observation, ScenarioResult } from './scenario.ts';

export interface Difference {
  session: string;
  /** Index in the normalised sequence where the runs first disagree (-1: session missing). */
  at: number;
  left: string;
  right: string;
}

export class ScenarioFileError extends Error {
  readonly code = 'ERR_SCENARIO_FILE';
}

/** One observation as a comparable line. */
export function describeObservation(o: Observation): string {
  switch (o.kind) {
    case 'post':
      return `#${o.step} ${o.what} -> ${o.result}`;
    case 'completion':
      return (
        `#${o.step} completion ${o.op} ${o.ok ? 'TRUE' : 'FALSE'} bytes=${o.bytes} error=${o.error}` +
        (o.data !== undefined ? ` data=${JSON.stringify(o.data)}` : '')
      );
    case 'client':
      return `#${o.step} client ${o.what} ${JSON.stringify(o.data)}`;
    case 'timeout':
      return `#${o.step} timed out waiting for ${o.waitingFor}`;
  }
}

/** The sequence with runs of completions of one step sorted (their order is free). */
export function normalise(seq: readonly Observation[]): string[] {
  const out: string[] = [];
  let run: string[] = [];
  let runStep = -1;
  const flush = (): void => {
    out.push(...run.sort());
    run = [];
  };
  for (const o of seq) {
    if (o.kind === 'completion') {
      if (o.step !== runStep) flush();
      runStep = o.step;
      run.push(describeObservation(o));
    } else {
      flush();
      runStep = -1;
      out.push(describeObservation(o));
    }
  }
  flush();
  return out;
}

export function compareRuns(left: ScenarioResult, right: ScenarioResult): Difference[] {
  const diffs: Difference[] = [];
  const names = new Set([...Object.keys(left.sessions), ...Object.keys(right.sessions)]);
  for (const name of [...names].sort()) {
    const l = left.sessions[name];
    const r = right.sessions[name];
    if (!l || !r) {
      diffs.push({
        session: name,
        at: -1,
        left: l ? 'present' : 'missing',
        right: r ? 'present' : 'missing',
      });
      continue;
    }
    const a = normalise(l);
    const b = normalise(r);
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (a[i] !== b[i]) {
        diffs.push({ session: name, at: i, left: a[i] ?? '(end)', right: b[i] ?? '(end)' });
        break;
      }
    }
  }
  return diffs;
}

/** Parses a scenario result file; ERR_SCENARIO_FILE when it is not one. */
export function parseScenarioResult(text: string): ScenarioResult {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ScenarioFileError(`not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const r = v as Partial<ScenarioResult>;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.backend !== 'string' ||
    typeof r.sessions !== 'object' ||
    r.sessions === null
  ) {
    throw new ScenarioFileError('not a scenario result');
  }
  for (const [name, seq] of Object.entries(r.sessions)) {
    if (
      !Array.isArray(seq) ||
      seq.some((o) => typeof o !== 'object' || o === null || typeof o.kind !== 'string')
    ) {
      throw new ScenarioFileError(`session ${name} has no observation list`);
    }
  }
  return r as ScenarioResult;
}

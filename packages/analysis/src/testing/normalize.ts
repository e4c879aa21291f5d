// A plain, comparable form of a ReplayState (Maps sorted by key, bigints as hex,
// internal copy-on-write marks dropped), for deep-equality assertions in tests.

import type { ReplayState, SessionState } from '../state.ts';

type Plain = null | boolean | number | string | Plain[] | { [k: string]: Plain };

function plain(v: unknown): Plain {
  if (typeof v === 'bigint') return '0x' + v.toString(16);
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object') {
    const out: { [k: string]: Plain } = {};
    for (const k of Object.keys(v).sort())
      if (k !== 'rev') out[k] = plain((v as Record<string, unknown>)[k]);
    return out;
  }
  throw new Error(`normalize: unexpected ${typeof v}`);
}

const sessionPlain = (s: SessionState): Plain => plain(s);

export function normalizeState(st: ReplayState): Plain {
  const byKey = <K extends number | bigint, V>(m: Map<K, V>, f: (v: V) => Plain): Plain =>
    [...m.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([k, v]) => [plain(k), f(v)]);
  return {
    count: st.count,
    tsNs: st.tsNs,
    threads: byKey(st.threads, plain),
    port: plain({ ...st.port, queue: st.port.queue.toArray() }),
    sessions: byKey(st.sessions, sessionPlain),
    recentReleased: st.recentReleased.map(sessionPlain),
    locks: byKey(st.locks, plain),
    gaps: st.gaps,
    lostEvents: st.lostEvents,
    unknownEvents: st.unknownEvents,
    sessionsCreated: st.sessionsCreated,
    sessionsReleased: st.sessionsReleased,
  };
}

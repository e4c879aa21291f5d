import { describe, expect, it } from 'vitest';
import {
  EventKind,
  RECORD_WORDS,
  encodeChunk,
  encodeEvent,
  encodeFileHeader,
} from '@iocpscope/protocol';
import { createAppStore } from '../state/store.ts';
import { frameOpenedTraces } from './framing.ts';

const MS = 1e6;

function fileOf(times: number[]): Uint8Array {
  const w = new Uint32Array(times.length * RECORD_WORDS);
  times.forEach((tsNs, i) =>
    encodeEvent(w, i, { kind: EventKind.Marker, tsNs, tid: 0, labelStr: 0, session: 0n }),
  );
  const head = encodeFileHeader({
    clock: 'monotonic-ns',
    host: 't',
    backend: 'emulated',
    portConfig: { workers: 1, concurrency: 1 },
    startWallMs: 0,
  });
  const chunk = encodeChunk(w);
  const out = new Uint8Array(head.length + chunk.length);
  out.set(head);
  out.set(chunk, head.length);
  return out;
}

function store() {
  const s = createAppStore({
    schedule: (cb) => setTimeout(cb, 0),
    location: { protocol: 'http:', host: 'test:1', search: '' },
    fetch: (async () => new Response('{"recordings":[]}')) as typeof fetch,
  });
  frameOpenedTraces(s);
  return s;
}

describe('frameOpenedTraces', () => {
  it('opens a recording at its activity, with the cursor on the first event in view', async () => {
    const s = store();
    const run = Array.from({ length: 50 }, (_, k) => 4000 * MS + k * MS);
    await s.getState().actions.loadBytes(fileOf([1 * MS, 20 * MS, ...run]), 'lead.iocptrace');
    const st = s.getState();
    expect(st.trace!.count).toBe(52);
    expect(st.viewStartNs).toBeGreaterThan(20 * MS);
    expect(st.viewStartNs).toBeLessThan(4000 * MS);
    expect(st.viewEndNs).toBeGreaterThan(4049 * MS);
    expect(st.cursor).toBe(2);
    // Home still goes to the very first event.
    st.actions.jumpToStart();
    expect(s.getState().cursor).toBe(0);
  });

  it('leaves a recording without a lead-in at the whole-trace view and its first event', async () => {
    const s = store();
    const times = Array.from({ length: 50 }, (_, k) => 1000 + k * MS);
    await s.getState().actions.loadBytes(fileOf(times), 'even.iocptrace');
    const st = s.getState();
    expect(st.cursor).toBe(0);
    expect(st.viewStartNs).toBeLessThan(1000);
  });
});

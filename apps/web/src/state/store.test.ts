import { describe, expect, it } from 'vitest';
import {
  EventKind,
  GapSource,
  RECORD_WORDS,
  encodeEvent,
  encodeFrame,
  sessionAt,
  tidAt,
} from '@iocpscope/protocol';
import { SESSION_KINDS } from '../trace/flags.ts';
import type { AppStore } from './store.ts';
import { syntheticTraceFile } from './synthetic.test-util.ts';
import { FILE, harness, liveFrames, openLive } from './storeHarness.test-util.ts';

function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('loading a file', () => {
  it('opens a valid recording with the cursor on the first event and the whole trace in view', async () => {
    const { store, a } = harness();
    await a().loadBytes(FILE, 'run.iocptrace');
    const s = store.getState();
    expect(s.source).toEqual({ kind: 'file', name: 'run.iocptrace', bytes: FILE.length });
    expect(s.trace!.count).toBeGreaterThan(200);
    expect(s.cursor).toBe(0);
    expect(s.viewStartNs).toBeLessThanOrEqual(s.trace!.startNs);
    expect(s.viewEndNs).toBeGreaterThanOrEqual(s.trace!.endNs);
    expect(s.loadFailure).toBeNull();
    expect(s.loading).toBeNull();
    expect(s.trace!.sessions.count).toBe(12);
  });

  it('opens the valid prefix of a corrupt file and reports the code and how many events were recovered', async () => {
    const { store, a } = harness();
    const bad = FILE.slice();
    bad[Math.floor(bad.length * 0.6)]! ^= 0x5a;
    await a().loadBytes(bad, 'bad.iocptrace');
    const s = store.getState();
    expect(s.loadFailure?.code).toBe('CHECKSUM_MISMATCH');
    expect(s.loadFailure?.recoveredEvents).toBe(s.trace!.count);
    expect(s.trace!.count).toBeGreaterThan(0);
    expect(s.trace!.count % 256).toBe(0);
    expect(s.toasts.some((t) => t.tone === 'error' && t.title.includes('CHECKSUM_MISMATCH'))).toBe(
      true,
    );
  });

  it('stays on the start screen with a clear error for a file that is not a trace, and can open a good one next', async () => {
    const { store, a } = harness();
    await a().loadBytes(new TextEncoder().encode('PK\u0003\u0004 a zip file'), 'x.zip');
    expect(store.getState().trace).toBeNull();
    expect(store.getState().loadFailure).toMatchObject({ code: 'BAD_MAGIC', recoveredEvents: 0 });
    await a().loadBytes(FILE, 'good.iocptrace');
    expect(store.getState().trace!.count).toBeGreaterThan(0);
    expect(store.getState().loadFailure).toBeNull();
  });

  it('reports a file cut short as TRUNCATED and keeps every complete chunk', async () => {
    const { store, a } = harness();
    await a().loadBytes(FILE.subarray(0, FILE.length - 100), 'cut.iocptrace');
    const s = store.getState();
    expect(s.loadFailure?.code).toBe('TRUNCATED');
    expect(s.trace!.count).toBeGreaterThan(0);
  });
});

/** Naive stepping model: linear scans over the records. */
function naiveNext(n: number, i: number, dir: 1 | -1, pred: (j: number) => boolean): number {
  for (let j = i + dir; j >= 0 && j < n; j += dir) if (pred(j)) return j;
  return i;
}
function sessionOf(w: Uint32Array, j: number): bigint | null {
  if (SESSION_KINDS[w[j * RECORD_WORDS]! & 0xff] !== 1) return null;
  const s = sessionAt(w, j);
  return s === 0n ? null : s;
}

describe('analysis', () => {
  it('paints first, finds the double decrement in the background, and steps to it', async () => {
    const h = harness();
    const file = syntheticTraceFile(
      { sessions: 6, workers: 2, rounds: 2, seed: 9, doubleDecrement: [3] },
      256,
    );
    await h.a().loadBytes(file);
    expect(h.store.getState().trace!.count).toBeGreaterThan(0);
    expect(h.store.getState().analysisProgress).toBeLessThan(1);
    expect(h.store.getState().findings).toEqual([]);
    h.runTasks();
    const s = h.store.getState();
    expect(s.analysisProgress).toBe(1);
    const f = s.findings.find((x) => x.rule === 'iocount-balance');
    expect(f?.session).toBe((1n << 32n) | 4n);
    h.a().setCursor(0);
    h.a().step('anomaly', 1);
    expect(h.store.getState().cursor).toBe(s.findings[0]!.anchor);
  });

  it('reports nothing for a clean run', async () => {
    const h = harness();
    await h
      .a()
      .loadBytes(syntheticTraceFile({ sessions: 40, workers: 3, rounds: 3, seed: 21 }, 512));
    h.runTasks();
    expect(h.store.getState().analysisProgress).toBe(1);
    expect(h.store.getState().findings).toEqual([]);
  });

  it('gives the state at the cursor even before the background walk got there', async () => {
    const h = harness();
    await h.a().loadBytes(FILE);
    const s = h.store.getState();
    const st = s.analysis!.stateAt(s.trace!.count - 1);
    expect(st.count).toBe(s.trace!.count);
    expect(s.analysis!.stateAt(10).count).toBe(11);
  });
});

describe('stepping', () => {
  it('agrees with a naive model for random event, thread and session steps', async () => {
    const { store, a } = harness();
    await a().loadBytes(FILE);
    const trace = store.getState().trace!;
    const w = trace.words;
    const n = trace.count;
    const rnd = mulberry32(99);
    let model = 0;
    for (let k = 0; k < 400; k++) {
      const dir: 1 | -1 = rnd() < 0.5 ? 1 : -1;
      const r = rnd();
      if (r < 0.1) {
        const to = Math.floor(rnd() * n);
        a().setCursor(to);
        model = to;
      } else if (r < 0.4) {
        a().step('event', dir);
        model = Math.max(0, Math.min(n - 1, model + dir));
      } else if (r < 0.7) {
        a().step('thread', dir);
        const tid = tidAt(w, model);
        model = naiveNext(n, model, dir, (j) => tidAt(w, j) === tid);
      } else {
        const pick = rnd();
        if (pick < 0.3) a().selectSession(null);
        else if (pick < 0.5) a().selectSession(sessionOf(w, model));
        const sess = store.getState().selectedSession ?? sessionOf(w, model);
        a().step('session', dir);
        if (sess !== null) model = naiveNext(n, model, dir, (j) => sessionOf(w, j) === sess);
      }
      expect(store.getState().cursor).toBe(model);
    }
  });

  it('walks findings in anchor order and stays put past the last one', async () => {
    const { store, a } = harness();
    await a().loadBytes(FILE);
    store.setState({ findingAnchors: Uint32Array.of(10, 50, 90) });
    a().setCursor(0);
    a().step('anomaly', 1);
    expect(store.getState().cursor).toBe(10);
    a().step('anomaly', 1);
    a().step('anomaly', 1);
    expect(store.getState().cursor).toBe(90);
    a().step('anomaly', 1);
    expect(store.getState().cursor).toBe(90);
    a().step('anomaly', -1);
    expect(store.getState().cursor).toBe(50);
    a().setCursor(70);
    a().step('anomaly', -1);
    expect(store.getState().cursor).toBe(50);
  });

  it('does not pan when the cursor is already in view, nor past the trace start when it must', async () => {
    const { store, a } = harness();
    await a().loadBytes(FILE);
    const before = [store.getState().viewStartNs, store.getState().viewEndNs];
    a().step('event', 1);
    expect([store.getState().viewStartNs, store.getState().viewEndNs]).toEqual(before);
    const t = store.getState().trace!;
    a().setView(t.endNs - 10_000, t.endNs);
    a().setCursor(0);
    const s = store.getState();
    expect(s.viewEndNs - s.viewStartNs).toBe(10_000);
    expect(s.viewStartNs).toBeGreaterThanOrEqual(t.startNs - 100);
  });

  it('pans the view to keep the cursor visible after a step, keeping the zoom', async () => {
    const { store, a } = harness();
    await a().loadBytes(FILE);
    const t = store.getState().trace!;
    a().setView(t.startNs, t.startNs + 10_000);
    a().setCursor(t.count - 1);
    const s = store.getState();
    expect(s.viewEndNs - s.viewStartNs).toBe(10_000);
    expect(t.timeAt(t.count - 1)).toBeGreaterThanOrEqual(s.viewStartNs);
    expect(t.timeAt(t.count - 1)).toBeLessThanOrEqual(s.viewEndNs);
  });
});

describe('play', () => {
  it('advances one event per 1/speed seconds and stops at the end', async () => {
    const { store, timers, a } = harness();
    await a().loadBytes(FILE);
    const n = store.getState().trace!.count;
    a().setSpeed(10);
    a().setCursor(5);
    a().setPlaying(true);
    timers.advance(1000);
    expect(store.getState().cursor).toBe(15);
    a().setSpeed(100);
    timers.advance(100);
    expect(store.getState().cursor).toBe(25);
    a().setPlaying(false);
    timers.advance(10_000);
    expect(store.getState().cursor).toBe(25);
    a().setCursor(n - 3);
    a().setPlaying(true);
    timers.advance(1000);
    expect(store.getState().cursor).toBe(n - 1);
    expect(store.getState().playing).toBe(false);
  });
});

describe('live', () => {
  it('connects to /ws of the serving host and asks for status and recordings', () => {
    const h = harness();
    const s = openLive(h);
    expect(s.url).toBe('ws://test:1/ws');
    expect(s.sent.map((m) => JSON.parse(m).type)).toEqual(['get-status', 'list-recordings']);
    expect(h.store.getState().connection.status.state).toBe('open');
  });

  it('starts a live trace with a gap record: history before the join is unknown', () => {
    const h = harness();
    const s = openLive(h);
    s.serverBinary(liveFrames()[0]!);
    h.flush();
    const t = h.store.getState().trace!;
    expect(t.kindAt(0)).toBe(EventKind.Gap);
    expect(t.timeAt(0)).toBe(t.timeAt(1));
    expect(h.store.getState().connection.gaps).toBe(0);
  });

  it('follows the head: after each published frame the cursor is on the newest event', () => {
    const h = harness();
    const s = openLive(h);
    const frames = liveFrames();
    s.serverBinary(frames[0]!);
    s.serverBinary(frames[1]!);
    expect(h.frames.length).toBe(1);
    h.flush();
    const st = h.store.getState();
    expect(st.cursor).toBe(st.trace!.count - 1);
    expect(st.viewEndNs).toBeGreaterThanOrEqual(st.trace!.endNs);
    expect(st.viewStartNs).toBeLessThan(st.trace!.endNs);
  });

  it('freezes the view and the cursor while paused, counts what arrives, and jumps to the head on resume', () => {
    const h = harness();
    const s = openLive(h);
    const frames = liveFrames();
    s.serverBinary(frames[0]!);
    h.flush();
    h.a().setPaused(true);
    const frozen = h.store.getState();
    const frozenCount = frozen.trace!.count;
    const frozenView = [frozen.viewStartNs, frozen.viewEndNs];
    h.a().step('event', -1);
    const cursor = h.store.getState().cursor;
    expect(cursor).toBe(frozen.cursor - 1);
    const steppedView = [h.store.getState().viewStartNs, h.store.getState().viewEndNs];
    s.serverBinary(frames[1]!);
    s.serverBinary(frames[2]!);
    h.flush();
    const st = h.store.getState();
    expect(st.cursor).toBe(cursor);
    expect([st.viewStartNs, st.viewEndNs]).toEqual(steppedView);
    expect(steppedView[1]! - steppedView[0]!).toBeCloseTo(frozenView[1]! - frozenView[0]!, 6);
    expect(st.trace!.count).toBeGreaterThan(frozenCount);
    expect(st.eventsSincePause).toBe(st.trace!.count - frozenCount);
    h.a().setPaused(false);
    const after = h.store.getState();
    expect(after.paused).toBe(false);
    expect(after.cursor).toBe(after.trace!.count - 1);
  });

  it('stops following when the user moves the cursor', () => {
    const h = harness();
    const s = openLive(h);
    s.serverBinary(liveFrames()[0]!);
    h.flush();
    h.a().step('event', -1);
    expect(h.store.getState().paused).toBe(true);
  });

  it('counts gap markers with their lost events, and reconnects as gaps of unknown size', () => {
    // (With the overview on, the hub's gap would switch the view to it: live.test.ts.)
    const h = harness({ search: '?overview=off' });
    const s = openLive(h);
    const w = new Uint32Array(RECORD_WORDS);
    encodeEvent(w, 0, {
      kind: EventKind.Gap,
      tsNs: 10,
      tid: 0xffff,
      source: GapSource.ClientQueue,
      lost: 777,
    });
    s.serverBinary(encodeFrame({ seq: 0, records: w }));
    let c = h.store.getState().connection;
    expect(c.gaps).toBe(1);
    expect(c.lostEvents).toBe(777);
    s.serverDrop();
    expect(h.store.getState().connection.status.state).toBe('waiting');
    h.timers.advance(1000);
    h.sockets.at(-1)!.serverOpen();
    c = h.store.getState().connection;
    expect(c.gaps).toBe(2);
    expect(c.unknownGaps).toBe(1);
    h.flush();
    // The join marker, the server's gap record, and one for the reconnect (size unknown).
    expect(h.store.getState().trace!.gaps.length).toBe(3);
  });

  it('keeps server status and sends control messages on the open socket', () => {
    const h = harness();
    const s = openLive(h);
    s.serverText(
      JSON.stringify({
        type: 'status',
        load: { running: true },
        recording: { active: false },
        faults: ['two-sends-in-flight'],
        portConfig: { workers: 4, concurrency: 2 },
        backend: 'emulated',
        clients: 1,
        streamPaused: false,
      }),
    );
    expect(h.store.getState().server.status?.faults).toEqual(['two-sends-in-flight']);
    expect(h.a().sendControl({ type: 'stop-load' })).toBe(true);
    expect(JSON.parse(s.sent.at(-1)!)).toMatchObject({ type: 'stop-load' });
    s.serverText(JSON.stringify({ type: 'error', code: 'BAD_MESSAGE', message: 'nope' }));
    expect(h.store.getState().server.lastError).toEqual({ code: 'BAD_MESSAGE', message: 'nope' });
  });

  it('closes the socket and returns to the start state on closeSource', () => {
    const h = harness();
    const s = openLive(h);
    h.a().closeSource();
    expect(s.closedWith).not.toBeNull();
    expect(h.store.getState().source.kind).toBe('none');
    expect(h.store.getState().trace).toBeNull();
  });
});

describe('store factory', () => {
  it('creates independent stores (no module singletons)', async () => {
    const h1 = harness();
    const h2 = harness();
    await h1.a().loadBytes(FILE);
    expect(h1.store.getState().trace).not.toBeNull();
    expect(h2.store.getState().trace).toBeNull();
    const s: AppStore = h2.store;
    expect(s.getState().cursor).toBe(-1);
  });
});

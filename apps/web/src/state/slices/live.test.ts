// A live view that runs for hours (issue 15 §3): following, the browser's
// trace stays within its share of the memory budget (it resyncs and starts
// again from the bracket that answers); paused, "Browse spool" opens the server's spool
// (trace `live`) at the cursor's time and steps back to the oldest event the
// spool holds; resumed, it follows again from a bracket at the head. The
// stream and the spool here are one seeded synthetic trace: the socket sends
// its records in frames, a fake trace API serves the same records as the
// spool, with its first part deleted (events before FIRST answer 410).

import { describe, expect, it } from 'vitest';
import {
  EventKind,
  NO_THREAD,
  RECORD_WORDS,
  SnapshotPhase,
  SnapshotReason,
  GapSource,
  encodeEvent,
  encodeFrame,
} from '@iocpscope/protocol';
import { synthesize } from '@iocpscope/analysis';
import { createAppStore } from '../store.ts';
import { FakeSocket, ManualTimers } from '../../connection/fakeSocket.test-util.ts';
import { globalIndexOf } from '../selectors.ts';
import {
  LIVE_TRACE_SHARE,
  OVERVIEW_RATE,
  OVERVIEW_TICK_MS,
  OVERVIEW_TICK_TIMEOUT_MS,
  overviewRateOf,
  startsWithBracket,
} from './live.ts';

const T = (() => {
  const t = synthesize({ events: 240_000, seed: 7, sessions: 32, workers: 3, maxEntries: 16 });
  const strings = [...t.strings.entries()].filter(([id]) => id !== 0) as Array<[number, string]>;
  return { n: t.length, words: t.words.slice(0, t.length * RECORD_WORDS), strings };
})();
const tsOf = (g: number): number =>
  T.words[g * 8]! === 0 ? 0 : T.words[g * 8 + 2]! + (T.words[g * 8 + 3]! & 0x1fffff) * 2 ** 32;
/** The spool's oldest held event: the part before it was deleted. */
const FIRST = 20_000;
const FRAME = 2048;

function json(v: unknown, status = 200): Response {
  return new Response(JSON.stringify(v), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

/**
 * The trace API serving T as the live spool, up to `held()` events; `gate`
 * holds /window answers back; `metaGate` holds a meta answer back (the events
 * it reports are those held when it was asked).
 */
function spoolApi(
  held: () => number,
  noSpool = false,
  gate?: () => Promise<void>,
  metaGate?: () => Promise<void>,
) {
  return (async (input: RequestInfo | URL) => {
    const u = new URL(String(input), 'http://test:1');
    const q = (k: string): number => Number(u.searchParams.get(k));
    if (u.pathname.startsWith('/api/traces/live') && noSpool) {
      return json({ code: 'NO_SPOOL', message: 'serve --spool-bytes 0' }, 404);
    }
    const n = held();
    if (u.pathname === '/api/traces/live') {
      if (metaGate) await metaGate();
      return json({
        state: 'ready',
        events: n,
        startNs: tsOf(0),
        endNs: tsOf(n - 1),
        chunks: 1,
        lanes: [],
        levels: [],
        sessions: 0,
        gaps: [],
        markers: 0,
        checkpoints: { interval: 4096, built: 0, done: true },
        snapshots: 0,
        traceEnd: -1,
        damage: null,
        validBytes: 0,
        totalBytes: 0,
        live: true,
        head: n,
        available: { firstEvent: FIRST, firstNs: tsOf(FIRST) },
        dropped: { events: FIRST, parts: 1, reason: 'spool-limit', limitBytes: 4 << 20 },
      });
    }
    if (u.pathname === '/api/traces/live/window') {
      if (gate) await gate();
      const from = q('from');
      if (from < FIRST) return json({ code: 'NOT_AVAILABLE', message: 'gone' }, 410);
      const end = Math.min(n, from + q('count'));
      // The bracket is the whole held prefix (the state it gives is what matters here).
      const records = T.words.slice(FIRST * RECORD_WORDS, end * RECORD_WORDS);
      return new Response(encodeFrame({ seq: 0, records, strings: T.strings }).slice(), {
        headers: { 'x-first-event': String(from), 'x-bracket-records': String(from - FIRST) },
      });
    }
    if (u.pathname === '/api/traces/live/at') {
      const ns = q('ns');
      let g = FIRST;
      while (g < n && tsOf(g) < ns) g++;
      return json({ event: g });
    }
    if (u.pathname === '/api/traces/live/findings') {
      return json({ state: 'running', walked: 0, events: n, from: 0, total: 0, findings: [] });
    }
    if (u.pathname === '/api/recordings') return json({ recordings: [] });
    return json({ code: 'NOT_FOUND', message: u.pathname }, 404);
  }) as typeof fetch;
}

/** A bracket as the hub answers a resync: Snapshot begin (Resync) and end, at `ns`. */
function bracket(ns: number): Uint32Array {
  const w = new Uint32Array(2 * RECORD_WORDS);
  encodeEvent(w, 0, {
    kind: EventKind.Snapshot,
    tsNs: ns,
    tid: NO_THREAD,
    phase: SnapshotPhase.Begin,
    reason: SnapshotReason.Resync,
    count: 0,
  });
  encodeEvent(w, 1, {
    kind: EventKind.Snapshot,
    tsNs: ns,
    tid: NO_THREAD,
    phase: SnapshotPhase.End,
    reason: SnapshotReason.Resync,
    count: 0,
  });
  return w;
}

function live(
  o: {
    noSpool?: boolean;
    search?: string;
    gate?: () => Promise<void>;
    metaGate?: () => Promise<void>;
  } = {},
) {
  let sent = 0;
  let seq = 0;
  const sockets: FakeSocket[] = [];
  const timers = new ManualTimers();
  const store = createAppStore({
    timers,
    schedule: (cb) => cb(),
    runTask: (cb) => void setTimeout(cb, 0),
    location: { protocol: 'http:', host: 'test:1', search: o.search ?? '?budget=8M&overview=off' },
    fetch: spoolApi(() => sent, o.noSpool, o.gate, o.metaGate),
    storage: null,
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
  });
  store.getState().actions.connectLive();
  const socket = sockets[0]!;
  socket.serverOpen();
  const frame = (records: Uint32Array, strings: Array<[number, string]> = []): void =>
    socket.serverBinary(encodeFrame({ seq: seq++, records, strings }));
  /** Send the next `events` of T (the spool holds them too). */
  const stream = (events: number): void => {
    const end = Math.min(T.n, sent + events);
    while (sent < end) {
      const k = Math.min(FRAME, end - sent);
      frame(
        T.words.slice(sent * RECORD_WORDS, (sent + k) * RECORD_WORDS),
        sent === 0 ? T.strings : [],
      );
      sent += k;
    }
  };
  const resyncs = (): number =>
    socket.sent.filter((m) => (JSON.parse(m) as { type: string }).type === 'resync').length;
  /** Control messages of this type sent so far. */
  const sentOf = (type: string): number =>
    socket.sent.filter((m) => (JSON.parse(m) as { type: string }).type === type).length;
  /** The spool gains `events` the socket does not carry (the hub holds them back). */
  const grow = (events: number): void => {
    sent = Math.min(T.n, sent + events);
  };
  /** Frames the hub did not send (their seq numbers are skipped). */
  const skipFrames = (n: number): void => {
    seq += n;
  };
  return {
    store,
    socket,
    timers,
    frame,
    stream,
    resyncs,
    sentOf,
    grow,
    skipFrames,
    at: () => sent,
  };
}

const settle = async (ok: () => boolean): Promise<void> => {
  for (let k = 0; k < 200 && !ok(); k++) await new Promise((r) => setTimeout(r, 0));
};

/** T's rate, events per second of its trace time. */
const T_RATE = (T.n - 2) / ((tsOf(T.n - 1) - tsOf(1)) / 1e9);

/** Until the overview follows the spool (asked until it holds what the view had, within about a second). */
async function untilFollowing(h: ReturnType<typeof live>): Promise<void> {
  for (let k = 0; k < 10 && h.store.getState().overview?.state !== 'following'; k++) {
    await settle(() => h.store.getState().overview?.state === 'following');
    h.timers.advance(300);
  }
}

describe('the live view over hours', { timeout: 60_000 }, () => {
  it('knows a bracket at the head of a frame (after at most one Gap)', () => {
    expect(startsWithBracket(bracket(5))).toBe(true);
    expect(startsWithBracket(T.words.slice(8, 16 * 8))).toBe(false);
  });

  it('following, holds at most its share of the budget: resyncs and starts again from the bracket', () => {
    const h = live();
    const cap = 8 * 2 ** 20 * LIVE_TRACE_SHARE;
    let max = 0;
    let trims = 0;
    while (h.at() < T.n) {
      h.stream(FRAME);
      const s = h.store.getState();
      max = Math.max(max, s.trace!.bytes);
      if (h.resyncs() > trims) {
        // The hub answers with a bracket at the head; the trace starts there.
        trims = h.resyncs();
        h.frame(bracket(tsOf(h.at() - 1)));
        const after = h.store.getState();
        expect(after.trace!.count).toBe(3); // the leading Gap and the bracket
        expect(after.liveTrim!.times).toBe(trims);
      }
    }
    const s = h.store.getState();
    // 240 K events are 7.3 MB of records: without trimming the trace would hold them all.
    expect(trims).toBeGreaterThanOrEqual(2);
    expect(max).toBeLessThanOrEqual(2 * cap);
    // Every event once, plus the leading Gap of the first trace and, per trim, a Gap and the bracket.
    expect(s.liveTrim!.events + s.trace!.count).toBe(T.n + 1 + 3 * trims);
    // Following: the cursor is on the newest event.
    expect(s.cursor).toBe(s.trace!.count - 1);
  });

  it('following, a bracket that comes late: nothing is kept until it comes, so the trace stays at its cap, and what was not kept is counted in the trim', () => {
    const h = live();
    const cap = 8 * 2 ** 20 * LIVE_TRACE_SHARE;
    while (h.resyncs() === 0) h.stream(FRAME);
    const asked = h.store.getState().trace!;
    const held = asked.count;
    expect(asked.bytes).toBeGreaterThan(cap);
    // The hub is busy: 20 frames come before the bracket (seen in e2e on a fast machine,
    // where the trace had grown to 7.9 MB of an 8 MB budget by the time it came).
    for (let k = 0; k < 20; k++) h.stream(FRAME);
    expect(h.store.getState().trace!.count).toBe(held);
    expect(h.resyncs()).toBe(1);
    h.frame(bracket(tsOf(h.at() - 1)));
    const s = h.store.getState();
    expect(s.trace!.count).toBe(3); // the leading Gap and the bracket
    expect(s.liveTrim).toMatchObject({ times: 1, events: held + 20 * FRAME });
    // Following again from the bracket.
    h.stream(FRAME);
    expect(h.store.getState().trace!.count).toBe(3 + FRAME);
  });

  it('paused, opens the spool at the cursor’s time and steps back to its oldest event; resumed, follows from a bracket', async () => {
    const h = live();
    h.stream(60_000);
    const before = h.store.getState();
    const cursorNs = before.trace!.timeAt(before.trace!.count - 200);
    h.store.getState().actions.setCursor(before.trace!.count - 200); // a click pauses
    expect(h.store.getState().remote).toBeNull(); // pausing alone keeps the live trace
    h.store.getState().actions.browseSpool();
    await settle(() => h.store.getState().remote !== null);
    let s = h.store.getState();
    expect(s.source.kind).toBe('live');
    expect(s.paused).toBe(true);
    expect(s.remote!.meta.live).toBe(true);
    // The cursor is on the spool's event at the cursor's time.
    const g = globalIndexOf(s, s.cursor);
    expect(tsOf(g)).toBe(cursorNs);
    expect(tsOf(g - 1)).toBeLessThan(cursorNs);

    // Frames that arrive while browsing are counted, not kept.
    const count = s.trace!.count;
    h.stream(5000);
    s = h.store.getState();
    expect(s.trace!.count).toBe(count);
    expect(s.eventsSincePause).toBe(5000);

    // Back to the oldest event held: the spool answers from FIRST, never before.
    await s.actions.seekEvent(0);
    await settle(() => h.store.getState().seeking === null);
    s = h.store.getState();
    expect(globalIndexOf(s, s.cursor)).toBe(FIRST);
    expect(s.remote!.firstAvailable).toBe(FIRST);
    s.actions.step('event', 1);
    await settle(() => h.store.getState().seeking === null);
    s = h.store.getState();
    expect(globalIndexOf(s, s.cursor)).toBe(FIRST + 1);
    expect(Array.from(s.trace!.words.subarray(s.cursor * 8, s.cursor * 8 + 8))).toEqual(
      Array.from(T.words.subarray((FIRST + 1) * 8, (FIRST + 2) * 8)),
    );

    // Resume: the spool view goes, a resync is asked for, and what comes before
    // its bracket is not kept.
    s.actions.setPaused(false);
    s = h.store.getState();
    expect(s.remote).toBeNull();
    expect(h.resyncs()).toBe(1);
    h.stream(3000);
    expect(h.store.getState().trace!.count).toBe(0);
    h.frame(bracket(tsOf(h.at() - 1)));
    h.stream(1000);
    s = h.store.getState();
    expect(s.trace!.count).toBe(3 + 1000);
    expect(s.paused).toBe(false);
    expect(s.cursor).toBe(s.trace!.count - 1);
  });

  it('paused while a resync is pending: its bracket neither replaces the paused view nor drops the spool being opened', async () => {
    const h = live();
    // Stream until the live trace passes its share and asks for a resync, then pause
    // before the bracket comes (the hub answers late on a busy server).
    while (h.resyncs() === 0) h.stream(FRAME);
    const held = h.store.getState().trace!;
    h.store.getState().actions.browseSpool();
    expect(h.store.getState().spool).toBe('opening');
    h.frame(bracket(tsOf(h.at() - 1)));
    h.stream(3000);
    let s = h.store.getState();
    expect(s.trace).toBe(held); // the paused view is what the user paused on
    await settle(() => h.store.getState().remote !== null);
    s = h.store.getState();
    expect(s.remote!.meta.live).toBe(true);
    expect(s.paused).toBe(true);
    // Resuming follows again from a fresh bracket.
    s.actions.setPaused(false);
    expect(h.resyncs()).toBe(2);
    h.frame(bracket(tsOf(h.at() - 1)));
    h.stream(500);
    s = h.store.getState();
    expect(s.remote).toBeNull();
    expect(s.trace!.count).toBe(3 + 500);
  });

  it('paused without a spool (NO_SPOOL), keeps what it holds and says so', async () => {
    const h = live({ noSpool: true });
    h.stream(10_000);
    h.store.getState().actions.browseSpool();
    await settle(() => h.store.getState().spool !== 'opening');
    const s = h.store.getState();
    expect(s.spool).toBe('none');
    expect(s.remote).toBeNull();
    expect(s.trace!.count).toBeGreaterThanOrEqual(10_000);
    expect(s.toasts).toEqual([]);
  });

  it('reads the overview threshold from the page: ?overview=N, off', () => {
    expect(overviewRateOf('')).toBe(OVERVIEW_RATE);
    expect(overviewRateOf('?overview=20000')).toBe(20_000);
    expect(overviewRateOf('?overview=off')).toBe(Infinity);
    expect(overviewRateOf('?overview=0')).toBe(Infinity);
    expect(overviewRateOf('?overview=fast')).toBe(OVERVIEW_RATE);
  });

  it('following faster than the threshold: the hub holds the records back and the view follows the spool’s head; a pause fetches the records there; a calm stream is followed record by record again, nothing counted lost', async () => {
    const h = live({ search: `?budget=64M&overview=${Math.floor(T_RATE / 20)}` });
    while (h.store.getState().overview === null && h.at() < 120_000) h.stream(FRAME);
    let s = h.store.getState();
    expect(s.overview).toMatchObject({ reason: 'rate', state: 'opening' });
    expect(s.overview!.rate).toBeGreaterThan(T_RATE / 20);
    expect(h.sentOf('pause-stream')).toBe(1);
    await untilFollowing(h);
    s = h.store.getState();
    expect(s.overview?.state).toBe('following');
    expect(s.remote!.meta.live).toBe(true);
    // Frames still on their way when the hub was asked to hold are counted, not kept.
    const count = s.trace!.count;
    h.stream(FRAME);
    expect(h.store.getState().trace!.count).toBe(count);

    // Each tick: the spool's meta, the view ending at its newest event.
    const width = s.viewEndNs - s.viewStartNs;
    for (let k = 0; k < 4; k++) {
      h.grow(10_000);
      const head = tsOf(h.at() - 1);
      const there = (): boolean =>
        h.store.getState().remote?.events === h.at() && h.store.getState().viewEndNs >= head;
      for (let t = 0; t < 20 && !there(); t++) {
        h.timers.advance(OVERVIEW_TICK_MS);
        await settle(there);
      }
      s = h.store.getState();
      expect(s.viewEndNs).toBeGreaterThanOrEqual(head);
      expect(s.viewStartNs).toBeLessThan(head);
      expect(s.viewEndNs - s.viewStartNs).toBeCloseTo(width, -1);
      expect(s.overview!.state).toBe('following');
      expect(s.remote!.events).toBe(h.at());
    }
    expect(s.overview!.rate).toBeGreaterThan(T_RATE / 20);
    // It holds the newest window only (the fake spool's window: every record from FIRST).
    expect(s.remote!.heldBytes).toBeLessThanOrEqual((h.at() - FIRST) * RECORD_WORDS * 4);

    // Pause: the records at the head, the cursor on the newest event.
    s.actions.setPaused(true);
    await settle(() => globalIndexOf(h.store.getState(), h.store.getState().cursor) === h.at() - 1);
    s = h.store.getState();
    expect(globalIndexOf(s, s.cursor)).toBe(h.at() - 1);
    expect(Array.from(s.trace!.words.subarray(s.cursor * 8, s.cursor * 8 + 8))).toEqual(
      Array.from(T.words.subarray((h.at() - 1) * 8, h.at() * 8)),
    );
    // Paused, nothing ticks: the view stays.
    const view = [s.viewStartNs, s.viewEndNs];
    h.grow(10_000);
    h.timers.advance(OVERVIEW_TICK_MS * 4);
    await settle(() => false);
    expect([h.store.getState().viewStartNs, h.store.getState().viewEndNs]).toEqual(view);

    // Resume: the overview again (the hub still holds the records).
    s.actions.setPaused(false);
    expect(h.store.getState().overview).not.toBeNull();
    expect(h.sentOf('resume-stream')).toBe(0);

    // The stream goes quiet: after a few calm ticks, records again, from a bracket.
    const lostBefore = h.store.getState().connection.lostEvents;
    for (let k = 0; k < 20 && h.store.getState().overview !== null; k++) {
      h.timers.advance(OVERVIEW_TICK_MS);
      await settle(() => false);
    }
    s = h.store.getState();
    expect(s.overview).toBeNull();
    expect(s.remote).toBeNull();
    expect(h.sentOf('resume-stream')).toBe(1);
    // The hub answers: a Gap for what it held back (in the spool), then a Resync bracket.
    const held = 30_000;
    const w = new Uint32Array(RECORD_WORDS * 3);
    encodeEvent(w, 0, {
      kind: EventKind.Gap,
      tsNs: tsOf(h.at() - 1),
      tid: NO_THREAD,
      source: GapSource.ClientQueue,
      lost: held,
    });
    w.set(bracket(tsOf(h.at() - 1)), RECORD_WORDS);
    const gapsBefore = h.store.getState().connection.gaps;
    h.skipFrames(40); // the frames it held back
    h.frame(w);
    h.stream(1000);
    s = h.store.getState();
    expect(s.connection.skipped).toBe(held);
    expect(s.connection.lostEvents).toBe(lostBefore);
    expect(s.connection.gaps).toBe(gapsBefore);
    expect(s.trace!.count).toBe(1 + 3 + 1000); // the leading Gap, the hub's Gap and bracket, the records
    expect(s.cursor).toBe(s.trace!.count - 1);
  });

  it('a hub that drops frames for a following view switches it to the overview; without a spool it stays on records', async () => {
    const gapFrame = (lost: number): Uint32Array => {
      const w = new Uint32Array(RECORD_WORDS);
      encodeEvent(w, 0, {
        kind: EventKind.Gap,
        tsNs: tsOf(h.at() - 1),
        tid: NO_THREAD,
        source: GapSource.ClientQueue,
        lost,
      });
      return w;
    };
    let h = live({ search: '?budget=8M&overview=off' });
    h.stream(4000);
    h.frame(gapFrame(500));
    expect(h.store.getState().overview).toBeNull(); // off: never
    expect(h.store.getState().connection.lostEvents).toBe(500);

    h = live({ search: '?budget=8M' });
    h.stream(4000);
    h.frame(gapFrame(500));
    expect(h.store.getState().overview).toMatchObject({ reason: 'gap' });
    expect(h.sentOf('pause-stream')).toBe(1);
    await settle(() => h.store.getState().overview?.state === 'following');
    expect(h.store.getState().connection.lostEvents).toBe(500);

    h = live({ noSpool: true, search: '?budget=8M' });
    h.stream(4000);
    h.frame(gapFrame(500));
    await settle(() => h.store.getState().overview === null);
    const s = h.store.getState();
    expect(s.overview).toBeNull();
    expect(s.spool).toBe('none');
    // The hub sends records again (and a bracket to start from).
    expect(h.sentOf('resume-stream')).toBe(1);
    h.frame(bracket(tsOf(h.at() - 1)));
    h.stream(100);
    expect(h.store.getState().trace!.count).toBe(1 + 2 + 100);
  });

  it('a click while the overview fetches its head window keeps the cursor where the user put it', async () => {
    let held = false;
    let waiting = 0;
    const release: Array<() => void> = [];
    const h = live({
      search: `?budget=64M&overview=${Math.floor(T_RATE / 20)}`,
      gate: () => {
        if (!held) return Promise.resolve();
        waiting++;
        return new Promise<void>((r) => release.push(r));
      },
    });
    while (h.store.getState().overview === null && h.at() < 120_000) h.stream(FRAME);
    await untilFollowing(h);
    expect(h.store.getState().overview?.state).toBe('following');
    // Tick until a head window is asked for, and hold its answer back.
    held = true;
    for (let k = 0; k < 12 && waiting === 0; k++) {
      h.grow(5_000);
      h.timers.advance(OVERVIEW_TICK_MS);
      await settle(() => waiting > 0);
    }
    expect(waiting).toBe(1);
    // The user clicks an event meanwhile: that pauses, the cursor there.
    const s = h.store.getState();
    const mine = Math.floor(s.trace!.count / 2);
    s.actions.setCursor(mine);
    expect(h.store.getState().paused).toBe(true);
    const g = globalIndexOf(h.store.getState(), mine);
    held = false;
    for (const r of release.splice(0)) r();
    await settle(() => false);
    const after = h.store.getState();
    expect(globalIndexOf(after, after.cursor)).toBe(g);
    expect(after.paused).toBe(true);
  });

  it('a pause while a tick still waits for an older meta: the pause’s head stays, the older answer is dropped', async () => {
    // Seen in e2e (live-overview): the paused cursor beyond the spool's events,
    // or moved on to a newer head after the pause, when the answers of a tick
    // in flight and of the pause crossed.
    let hold = false;
    const release: Array<() => void> = [];
    const h = live({
      search: `?budget=64M&overview=${Math.floor(T_RATE / 20)}`,
      metaGate: () => {
        if (!hold) return Promise.resolve();
        hold = false; // only the next one
        return new Promise<void>((r) => release.push(r));
      },
    });
    while (h.store.getState().overview === null && h.at() < 120_000) h.stream(FRAME);
    await untilFollowing(h);
    expect(h.store.getState().overview?.state).toBe('following');
    // A tick asks for the meta; its answer (the spool as it is now) is held back.
    hold = true;
    for (let k = 0; k < 20 && release.length === 0; k++) {
      h.timers.advance(OVERVIEW_TICK_MS);
      await settle(() => release.length > 0);
    }
    expect(release.length).toBe(1);
    const older = h.at();
    // The spool grows; the user pauses: the pause's meta and head window come first.
    h.grow(10_000);
    const head = h.at() - 1;
    h.store.getState().actions.setPaused(true);
    const there = (): boolean => {
      const s = h.store.getState();
      return s.remote?.events === h.at() && globalIndexOf(s, s.cursor) === head;
    };
    await settle(there);
    expect(there()).toBe(true);
    // Then the tick's older answer.
    for (const r of release.splice(0)) r();
    await settle(() => false);
    const s = h.store.getState();
    expect(older).toBeLessThan(h.at());
    expect(s.remote!.events).toBe(h.at());
    expect(globalIndexOf(s, s.cursor)).toBe(head);
    expect(Array.from(s.trace!.words.subarray(s.cursor * 8, s.cursor * 8 + 8))).toEqual(
      Array.from(T.words.subarray(head * 8, head * 8 + 8)),
    );
    expect(s.paused).toBe(true);
  });

  it('a pause shows a seek until the records at the head land (the cursor meanwhile is a tick’s older head)', async () => {
    // Seen in e2e (live-overview): right after the pause the cursor was on the
    // last tick's head, so "paused, no seek, cursor on the newest" held before
    // the pause's own window landed and moved the cursor on.
    let held = false;
    const release: Array<() => void> = [];
    const h = live({
      search: `?budget=64M&overview=${Math.floor(T_RATE / 20)}`,
      gate: () => (held ? new Promise<void>((r) => release.push(r)) : Promise.resolve()),
    });
    while (h.store.getState().overview === null && h.at() < 120_000) h.stream(FRAME);
    await untilFollowing(h);
    // A few ticks, one of which installs a head window (the cursor on its newest).
    for (let k = 0; k < 8; k++) {
      h.grow(5_000);
      h.timers.advance(OVERVIEW_TICK_MS);
      await settle(() => false);
    }
    held = true;
    h.grow(10_000);
    h.store.getState().actions.setPaused(true);
    expect(h.store.getState().seeking).not.toBeNull();
    await settle(() => release.length > 0);
    expect(release.length).toBe(1);
    expect(h.store.getState().seeking).not.toBeNull();
    held = false;
    for (const r of release.splice(0)) r();
    await settle(() => h.store.getState().seeking === null);
    const s = h.store.getState();
    expect(s.seeking).toBeNull();
    expect(globalIndexOf(s, s.cursor)).toBe(h.at() - 1);
  });

  it('a pause whose meta fails shows no seek for good', async () => {
    let failing = false;
    const h = live({
      search: `?budget=64M&overview=${Math.floor(T_RATE / 20)}`,
      metaGate: () => (failing ? Promise.reject(new Error('refused')) : Promise.resolve()),
    });
    while (h.store.getState().overview === null && h.at() < 120_000) h.stream(FRAME);
    await untilFollowing(h);
    failing = true;
    h.store.getState().actions.setPaused(true);
    await settle(() => h.store.getState().seeking === null);
    expect(h.store.getState().seeking).toBeNull();
    expect(h.store.getState().paused).toBe(true);
  });

  it('a tick whose meta never answers does not end the ticks: the overview still ends once the stream is calm', async () => {
    // Seen once in CI (live-overview): after the load stopped the overview
    // kept its last rate (466 k events/s) for a minute, its ticks gone.
    let hang = false;
    let hung = 0;
    const h = live({
      search: `?budget=64M&overview=${Math.floor(T_RATE / 20)}`,
      metaGate: () => {
        if (!hang) return Promise.resolve();
        hang = false;
        hung++;
        return new Promise<void>(() => undefined); // never
      },
    });
    while (h.store.getState().overview === null && h.at() < 120_000) h.stream(FRAME);
    await untilFollowing(h);
    hang = true;
    for (let k = 0; k < 10 && hung === 0; k++) {
      h.timers.advance(OVERVIEW_TICK_MS);
      await settle(() => hung > 0);
    }
    expect(hung).toBe(1);
    // The stream stays calm (the spool does not grow): within the timeout and
    // some calm ticks, records again.
    for (let t = 0; t < 60 && h.store.getState().overview !== null; t++) {
      h.timers.advance(OVERVIEW_TICK_TIMEOUT_MS / 10);
      await settle(() => false);
    }
    expect(h.store.getState().overview).toBeNull();
    expect(h.sentOf('resume-stream')).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import { BIG_SESSION, STRINGS, SAMPLE_EVENTS, encodeAll, rng } from '../test/samples.ts';
import { EventKind, RECORD_WORDS, WinError } from './events.ts';
import { exportChromeTrace } from './export-chrome.ts';
import { writeRecord } from './record.ts';
import { EventStore } from './store.ts';
import { StringTable } from './strings.ts';

interface ChromeEvent {
  name: string;
  ph: string;
  cat?: string;
  s?: string;
  pid?: number;
  tid?: number;
  ts?: number;
  dur?: number;
  bind_id?: number;
  flow_in?: boolean;
  flow_out?: boolean;
  args?: Record<string, unknown>;
}

const sampleStrings = (): StringTable => {
  const t = new StringTable();
  for (const [id, s] of STRINGS) t.set(id, s);
  return t;
};

function exportToJson(w: Uint32Array, strings = sampleStrings()) {
  const chunks: string[] = [];
  exportChromeTrace(w, strings, (c) => chunks.push(c));
  const json = JSON.parse(chunks.join('')) as {
    traceEvents: ChromeEvent[];
    displayTimeUnit: string;
  };
  return { chunks, json, events: json.traceEvents };
}

const ns = (us: number): number => Math.round(us * 1000);

/** Slices on each thread either contain each other or do not overlap. */
function expectStrictlyNested(events: ChromeEvent[]): void {
  const byTid = new Map<number, Array<{ start: number; end: number; name: string }>>();
  const problems: string[] = [];
  for (const e of events) {
    if (e.ph !== 'X') continue;
    if (!(e.dur! >= 0)) problems.push(`${e.name}: dur ${e.dur}`);
    const list = byTid.get(e.tid!) ?? [];
    list.push({ start: ns(e.ts!), end: ns(e.ts!) + ns(e.dur!), name: e.name });
    byTid.set(e.tid!, list);
  }
  for (const [tid, list] of byTid) {
    list.sort((a, b) => a.start - b.start || b.end - a.end);
    const open: number[] = []; // ends of the enclosing slices
    for (const s of list) {
      while (open.length > 0 && open[open.length - 1]! <= s.start && s.end > s.start) open.pop();
      while (open.length > 0 && open[open.length - 1]! < s.start) open.pop();
      if (open.length > 0 && s.end > open[open.length - 1]!) {
        problems.push(`tid ${tid}: ${s.name} [${s.start}, ${s.end}] escapes its parent`);
      }
      open.push(s.end);
    }
  }
  expect(problems).toEqual([]);
}

/** Every flow has one start and at most one end, and ends no earlier than it starts. */
function expectFlowsPaired(events: ChromeEvent[], checkTime: boolean): number {
  const outs = new Map<number, ChromeEvent>();
  const ins = new Map<number, ChromeEvent>();
  const problems: string[] = [];
  for (const e of events) {
    if (e.bind_id === undefined) continue;
    if (e.ph !== 'X' || !Number.isInteger(e.bind_id)) problems.push(`bad flow carrier ${e.name}`);
    const m = e.flow_out ? outs : ins;
    if (m.has(e.bind_id)) problems.push(`bind_id ${e.bind_id} used twice`);
    m.set(e.bind_id, e);
  }
  for (const [id, end] of ins) {
    const start = outs.get(id);
    if (start === undefined) problems.push(`flow ${id} has no start`);
    else if (checkTime && ns(end.ts!) < ns(start.ts!))
      problems.push(`flow ${id} goes back in time`);
  }
  expect(problems).toEqual([]);
  return ins.size;
}

/**
 * A random IOCP-shaped trace: workers alternating GQCS waits and handlers
 * that post I/O, take locks (sometimes never releasing them, or releasing
 * locks they do not hold), PQCS and kernel-queued packets. With `jitter`,
 * timestamps sometimes step backwards, as merged per-thread buffers can.
 */
function randomTrace(seed: number, n: number, jitter: boolean): Uint32Array {
  const next = rng(seed);
  const pick = (k: number): number => Math.floor(next() * k);
  const w = new Uint32Array(n * RECORD_WORDS);
  let t = 1000;
  const posted: Array<[number, number, number]> = []; // session, ioId, op
  let ioId = 1;
  for (let i = 0; i < n; i++) {
    t += pick(500);
    const ts = jitter && next() < 0.1 ? Math.max(0, t - pick(2000)) : t;
    const tid = 1 + pick(3);
    const r = next();
    if (r < 0.2) writeRecord(w, i, EventKind.GqcsEnter, 0, tid, 0xffffffff, ts, 0, 0, 1, 0);
    else if (r < 0.4) {
      const p =
        posted.length > 0 && next() < 0.8 ? posted.splice(pick(posted.length), 1)[0]! : [0, 0, 0];
      const ok = next() < 0.8 ? 0x10 : 0;
      const ov = p[0] !== 0 || next() < 0.5 ? 0x20 : 0;
      writeRecord(
        w,
        i,
        EventKind.GqcsReturn,
        p[2] | ok | ov,
        tid,
        pick(100),
        ts,
        p[0],
        0,
        ok ? 0 : WinError.NetnameDeleted,
        p[1],
      );
    } else if (r < 0.55) {
      const session = 1 + pick(5);
      const result = next() < 0.9 ? WinError.IoPending : WinError.ConnectionReset;
      const op = 1 + pick(2);
      writeRecord(w, i, EventKind.IoPosted, op | (1 << 4), tid, 64, ts, session, 0, result, ioId);
      if (result === WinError.IoPending) posted.push([session, ioId, op]);
      ioId++;
    } else if (r < 0.6) writeRecord(w, i, EventKind.Pqcs, 0, tid, 0, ts, 0, 0, 0, 0);
    else if (r < 0.65) writeRecord(w, i, EventKind.PacketQueued, 1, 0xffff, 8, ts, 1, 0, 0, 0);
    else if (r < 0.85) {
      const kind = [EventKind.LockWait, EventKind.LockAcquire, EventKind.LockRelease][pick(3)]!;
      writeRecord(w, i, kind, 0, tid, 1 + pick(2), ts, 0, 0, 4, 0);
    } else if (r < 0.95)
      writeRecord(w, i, EventKind.IoCount, 3, tid, pick(3), ts, 1 + pick(5), 0, 1, 0);
    else if (r < 0.97) writeRecord(w, i, EventKind.ThreadExit, 0, tid, 0, ts, 0, 0, 0, 0);
    else writeRecord(w, i, EventKind.Disconnect, 1, tid, 0, ts, 1 + pick(5), 0, 0, 0);
  }
  return w;
}

describe('Chrome trace export', () => {
  it('names every thread it draws on', () => {
    const { events } = exportToJson(encodeAll(SAMPLE_EVENTS));
    const names = new Map(
      events
        .filter((e) => e.ph === 'M' && e.name === 'thread_name')
        .map((e) => [e.tid, e.args?.['name']]),
    );
    expect(names.get(2)).toBe('worker-0 [worker]');
    expect(names.get(3)).toBe('accept [accept]');
    for (const e of events) if (e.ph === 'X' || e.ph === 'i') expect(names.has(e.tid)).toBe(true);
    expect(events.find((e) => e.name === 'process_name')?.args?.['name']).toBe('iocpscope');
  });

  it('draws a handler slice from GqcsReturn to the next GqcsEnter, fed by a flow from the post', () => {
    const { events } = exportToJson(encodeAll(SAMPLE_EVENTS));
    const recv = events.find((e) => e.ph === 'X' && e.name === 'recv completion')!;
    expect(ns(recv.ts!)).toBe(151);
    expect(ns(recv.dur!)).toBe(180 - 151);
    expect(recv.flow_in).toBe(true);
    const post = events.find((e) => e.ph === 'X' && e.name === 'WSARecv')!;
    expect(post.flow_out).toBe(true);
    expect(post.bind_id).toBe(recv.bind_id);
    expect(post.tid).toBe(3); // posted by the accept thread, dequeued by the worker
    // The lock slices sit inside the handler.
    const hold = events.find((e) => e.ph === 'X' && e.name === 'hold session-table')!;
    expect(ns(hold.ts!)).toBe(154);
    expect(ns(hold.dur!)).toBe(1);
    expectStrictlyNested(events);
    // Exit packet: PQCS (0,0,NULL) to the worker.
    const exit = events.find((e) => e.ph === 'X' && e.name === 'exit packet')!;
    const pqcs = events.find((e) => e.ph === 'X' && e.name === 'PQCS')!;
    expect(exit.bind_id).toBe(pqcs.bind_id);
  });

  it('links a completion dequeued before its post was recorded', () => {
    const w = new Uint32Array(4 * RECORD_WORDS);
    writeRecord(w, 0, EventKind.GqcsEnter, 0, 1, 0xffffffff, 10, 0, 0, 1, 0);
    // Worker 1 dequeues ioId 50 at t=20; the accept thread records the post at t=25.
    writeRecord(w, 1, EventKind.GqcsReturn, 1 | 0x30, 1, 64, 20, 9, 0, 0, 50);
    writeRecord(w, 2, EventKind.IoPosted, 1 | 0x10, 2, 4096, 25, 9, 0, WinError.IoPending, 50);
    writeRecord(w, 3, EventKind.GqcsEnter, 0, 1, 0xffffffff, 30, 0, 0, 1, 0);
    const { events } = exportToJson(w, new StringTable());
    const handler = events.find((e) => e.name === 'recv completion')!;
    const post = events.find((e) => e.name === 'WSARecv')!;
    expect(handler.flow_in).toBe(true);
    expect(post.flow_out).toBe(true);
    expect(handler.bind_id).toBe(post.bind_id);
  });

  it('emits IOCount counters named by the exact 64-bit session, and the port queue depth', () => {
    const { events } = exportToJson(encodeAll(SAMPLE_EVENTS));
    const c = events.filter((e) => e.ph === 'C' && e.name === `IOCount session ${BIG_SESSION}`);
    // The last value is the count a snapshot gave (v2 sample).
    expect(c.map((e) => e.args?.['value'])).toEqual([1, 2, 1, 1, 0, 2]);
    const depth = events.filter((e) => e.ph === 'C' && e.name === 'port queue depth');
    expect(depth.map((e) => e.args?.['value'])).toEqual([1, 0, 1, 0, 1, 0]);
  });

  it('marks disconnects, failed completions, gaps and markers with instants', () => {
    const { events } = exportToJson(encodeAll(SAMPLE_EVENTS));
    const instants = events.filter((e) => e.ph === 'i').map((e) => e.name);
    expect(instants).toEqual([
      'phase: ünïcödé ✓',
      'failed send completion',
      'disconnect (IoError)',
      'session released',
      '1099511627779 events lost',
    ]);
    const gap = events.find((e) => e.name.endsWith('events lost'))!;
    expect(gap.s).toBe('g');
    expect(gap.args).toEqual({ lost: 2 ** 40 + 3, source: 'ClientQueue' });
  });

  it('writes microsecond timestamps as exact decimals of the nanoseconds', () => {
    const w = new Uint32Array(2 * RECORD_WORDS);
    writeRecord(w, 0, EventKind.Marker, 0, 1, 0, 2 ** 53 - 1, 0, 0, 0, 0);
    writeRecord(w, 1, EventKind.Marker, 0, 1, 0, 1_000_010, 0, 0, 0, 0);
    const chunks: string[] = [];
    exportChromeTrace(w, new StringTable(), (c) => chunks.push(c));
    const text = chunks.join('');
    expect(text).toContain('"ts":9007199254740.991');
    expect(text).toContain('"ts":1000.01,');
  });

  for (const seed of [11, 12, 13]) {
    it(`keeps slices strictly nested and flows paired on a random trace (seed ${seed})`, () => {
      const { events } = exportToJson(randomTrace(seed, 2000, false));
      expectStrictlyNested(events);
      expect(expectFlowsPaired(events, true)).toBeGreaterThan(50);
      for (const e of events) {
        if (e.name === 'port queue depth') expect(e.args?.['value']).toBeGreaterThanOrEqual(0);
      }
    });
  }

  it('keeps slices strictly nested even when timestamps step backwards', () => {
    for (const seed of [21, 22, 23]) {
      const { events } = exportToJson(randomTrace(seed, 2000, true));
      expectStrictlyNested(events);
      expectFlowsPaired(events, false);
    }
  });

  it('streams a large trace in bounded pieces', () => {
    const store = new EventStore();
    store.append(randomTrace(5, 40_000, false));
    const { chunks, json } = exportToJson(store.words);
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) expect(c.length).toBeLessThan(64 * 1024 + 4096);
    expect(json.displayTimeUnit).toBe('ns');
  });

  it('exports an empty trace as valid JSON', () => {
    const { events } = exportToJson(new Uint32Array(0));
    expect(events.map((e) => e.name)).toEqual(['process_name']);
  });
});

// The live spool through the trace query API, over real HTTP: a source that
// tracks its state (as the drainer does) streams a synthesized run into a
// server with a small spool; every route of the id `live` is checked against
// a naive scan of the part files the spool holds, events it deleted answer
// 410, a dashboard's frames carry stream numbers that the spool's stream map
// turns into the spool's own events, and a recording in progress is served
// as written so far.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, synthesize } from '@iocpscope/analysis';
import {
  EventKind,
  RECORD_WORDS,
  decodeFrame,
  decodeSummary,
  readTraceFile,
} from '@iocpscope/protocol';
import { FakeSink } from '../../src/hub/testing.ts';
import { TrackingSource, liveState, replayWords } from '../../src/trace/state.test-util.ts';
import { SESSION_KINDS } from '../../src/tracedb/builder.ts';
import { startStreamServer, type StreamServer } from '../../src/transport/server.ts';

const W = RECORD_WORDS;
let dir: string;
let server: StreamServer;
let source: TrackingSource;
let client: FakeSink;
let t: ReturnType<typeof synthesize>;
/** The naive model: the held part files' records, and the first one's number. */
let held: Uint32Array;
let first: number;
let head: number;
let partStarts: number[];
let recordingId: string;
let recordingFile: string;

const url = (p: string): string => new URL(p, server.url).toString();
const json = async (p: string): Promise<{ status: number; body: Record<string, unknown> }> => {
  const r = await fetch(url(p));
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};
const rec = (i: number): Uint32Array => held.subarray((i - first) * W, (i - first + 1) * W);
const kindOf = (i: number): number => rec(i)[0]! & 0xff;
const sessionOf = (i: number): bigint => (BigInt(rec(i)[5]!) << 32n) | BigInt(rec(i)[4]!);

async function until(what: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-live-api-'));
  source = new TrackingSource();
  server = await startStreamServer({
    port: 0,
    recordingsDir: dir,
    examplesDir: path.join(dir, 'none'),
    source,
    spool: {
      limitBytes: 800 * 1024,
      partBytes: 256 * 1024,
      maxLagMs: 0,
      checkpointInterval: 2048,
    },
  });
  client = new FakeSink(true);
  server.hub.addClient(client);
  t = synthesize({ events: 60_000, seed: 51, sessions: 40 });
  const strings: Array<[number, string]> = [...t.strings.entries()].filter(([id]) => id !== 0);
  source.answer(); // the spool's first part and the client's first frame open here
  const rng = new Rng(5);
  for (let i = 0; i < t.length;) {
    const k = Math.min(t.length - i, rng.int(50, 800));
    source.emit(t.words.subarray(i * W, (i + k) * W), i === 0 ? strings : []);
    source.answer();
    if (i < 30_000 && i + k >= 30_000) {
      const st = await server.recordings!.start({ name: 'in progress' });
      recordingId = st.id!;
      source.answer();
    }
    i += k;
    await new Promise((r) => setImmediate(r));
  }
  server.hub.flush();
  const trace = server.spool!.trace;
  await until(() => trace.eventOfStream(t.length - 1) >= 0);
  await until(() => trace.findings!.walked === trace.head);
  const parts = trace.parts();
  first = parts[0]!.firstEvent;
  head = trace.head;
  partStarts = parts.map((p) => p.firstEvent);
  const files = await Promise.all(parts.map((p) => readFile(p.file)));
  const recs = files.map((b) => readTraceFile(b).records);
  held = new Uint32Array(recs.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of recs) {
    held.set(r, at);
    at += r.length;
  }
  recordingFile = server.recordings!.status().name!;
}, 120_000);

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the live spool through the trace API', { timeout: 60_000 }, () => {
  it('describes the spool: what it holds, what it dropped and why, its newest event', async () => {
    const { status, body } = await json('/api/traces/live');
    expect(status).toBe(200);
    expect(body['live']).toBe(true);
    expect(body['head']).toBe(head);
    expect(body['events']).toBe(head);
    expect(body['available']).toMatchObject({ firstEvent: first });
    const dropped = body['dropped'] as { events: number; parts: number; reason: string };
    expect(dropped.parts).toBeGreaterThan(1);
    expect(dropped.events).toBe(first);
    expect(dropped).toMatchObject({ reason: 'spool-limit', limitBytes: 800 * 1024 });
    // Where the gone range starts: the first event ever held, before the oldest one held.
    const fromNs = (dropped as { fromNs?: number }).fromNs;
    expect(typeof fromNs).toBe('number');
    expect(fromNs).toBeLessThan((body['available'] as { firstNs: number }).firstNs);
    const spool = body['spool'] as { bytes: number; parts: number; limitBytes: number };
    expect(spool.bytes).toBeLessThanOrEqual(spool.limitBytes);
    expect(spool.parts).toBe(partStarts.length);
    expect(held.length / W).toBe(head - first);
  });

  it('answers records, stepping and sessions like a naive scan of the part files', async () => {
    for (const [from, count] of [
      [first, 40],
      [partStarts[1]! - 5, 900],
      [head - 30, 100],
    ] as const) {
      const r = await fetch(url(`/api/traces/live/records?from=${from}&count=${count}`));
      expect(r.headers.get('x-first-event')).toBe(String(from));
      const f = decodeFrame(new Uint8Array(await r.arrayBuffer()));
      expect(f.records).toEqual(
        held.subarray((from - first) * W, (Math.min(head, from + count) - first) * W),
      );
    }
    const naive = (from: number, dir: 1 | -1, pred: (i: number) => boolean): number => {
      for (let i = from + dir; i >= first && i < head; i += dir) if (pred(i)) return i;
      return -1;
    };
    const next = async (q: string): Promise<number> =>
      (await json(`/api/traces/live/next?${q}`)).body['event'] as number;
    const rng = new Rng(7);
    for (let c = 0; c < 6; c++) {
      const from = rng.int(first, head - 1);
      for (const dir of [1, -1] as const) {
        expect(await next(`from=${from}&dir=${dir}&kind=${EventKind.SessionCreated}`)).toBe(
          naive(from, dir, (i) => kindOf(i) === EventKind.SessionCreated),
        );
      }
    }
    const list = (await json('/api/traces/live/sessions?limit=10000')).body as {
      total: number;
      sessions: Array<{ id: string; firstEvent: number; lastEvent: number; events: number }>;
    };
    const want = new Map<string, { first: number; last: number; events: number }>();
    for (let i = first; i < head; i++) {
      if (SESSION_KINDS[kindOf(i)] !== 1 || (rec(i)[4]! | rec(i)[5]!) === 0) continue;
      const id = `0x${sessionOf(i).toString(16)}`;
      const s = want.get(id) ?? { first: i, last: i, events: 0 };
      s.last = i;
      s.events++;
      want.set(id, s);
    }
    expect(list.total).toBe(want.size);
    for (const s of list.sessions) {
      const w = want.get(s.id)!;
      expect([s.firstEvent, s.lastEvent, s.events]).toEqual([w.first, w.last, w.events]);
    }
    const s = list.sessions[list.sessions.length >> 1]!;
    const one = (await json(`/api/traces/live/sessions/${s.id}`)).body as { events: number[] };
    const events: number[] = [];
    for (let i = first; i < head; i++) {
      if (SESSION_KINDS[kindOf(i)] === 1 && `0x${sessionOf(i).toString(16)}` === s.id)
        events.push(i);
    }
    expect(one.events).toEqual(events);
  });

  it('gives the state at an event and summaries on one time grid', async () => {
    // An event two checkpoint intervals into the longest part held.
    const parts = server.spool!.trace.parts().filter((p) => p.firstEvent >= first);
    const long = parts.reduce((a, b) => (b.events > a.events ? b : a));
    expect(long.events).toBeGreaterThan(2 * 2048 + 10);
    const partStart = long.firstEvent;
    const at = partStart + 2 * 2048 + 5;
    let base = -1;
    let f!: ReturnType<typeof decodeFrame>;
    // Its checkpoints are folded by the findings thread: they may come a moment later.
    await until(async () => {
      const r = await fetch(url(`/api/traces/live/state?at=${at}`));
      if (r.status !== 200) return false;
      base = Number(r.headers.get('x-state-base'));
      f = decodeFrame(new Uint8Array(await r.arrayBuffer()));
      return base > partStart;
    });
    expect(base).toBe(partStart + 2 * 2048);
    expect(liveState(replayWords(f.records))).toEqual(
      liveState(replayWords(held.subarray((partStart - first) * W, (at + 1 - first) * W))),
    );
    const meta = (await json('/api/traces/live')).body as {
      levels: Array<{ origin: number; count: number }>;
      lanes: unknown[];
    };
    const l = meta.levels[4]!;
    const sr = await fetch(
      url(`/api/traces/live/summary?level=4&from=${l.origin}&to=${l.origin + l.count}`),
    );
    const sum = decodeSummary(new Uint8Array(await sr.arrayBuffer()));
    expect([sum.from, sum.count, sum.lanes.length]).toEqual([l.origin, l.count, meta.lanes.length]);
    // Time before the oldest part held has no buckets: the grid starts at the held parts.
    const firstNs = ((await json('/api/traces/live')).body['available'] as { firstNs: number })
      .firstNs;
    expect(l.origin).toBe(Math.floor(firstNs / 2 ** sum.shift));
  });

  it('walks its findings as the spool is written', async () => {
    const { body } = await json('/api/traces/live/findings');
    expect(body['state']).toBe('running');
    expect(body['walked']).toBe(head);
    expect(body['events']).toBe(head);
  });

  it('answers 410 for events it no longer holds, naming the limit and the setting', async () => {
    for (const q of [
      `records?from=${first - 1}&count=5`,
      'records?from=0&count=5',
      `state?at=${first - 2}`,
      `window?from=${first - 100}&count=10`,
      `next?from=${first - 1}&dir=1`,
    ]) {
      const { status, body } = await json(`/api/traces/live/${q}`);
      expect(status, q).toBe(410);
      expect(body['code']).toBe('NOT_AVAILABLE');
      expect(body['firstEvent']).toBe(first);
      expect(body['message']).toMatch(/800 KiB.*--spool-bytes/);
    }
    expect((await fetch(url(`/api/traces/live/records?from=${first}&count=1`))).status).toBe(200);
    for (const q of ['records?from=x&count=1', 'findings?limit=0', 'state', 'summary?level=0']) {
      const { status, body } = await json(`/api/traces/live/${q}`);
      expect(status, q).toBe(400);
      expect(body['code']).toBe('BAD_QUERY');
    }
  });

  it('numbers a dashboard’s frames so that its records at stream number N are the spool’s event for N', async () => {
    const map = (await json('/api/traces/live')).body['streamMap'] as Array<{
      stream: number;
      event: number;
      count: number;
    }>;
    const eventOf = (s: number): number => {
      for (const m of map)
        if (s >= m.stream && s < m.stream + m.count) return m.event + s - m.stream;
      return -1;
    };
    let checked = 0;
    let brackets = 0;
    for (const bytes of client.binary) {
      const f = decodeFrame(bytes);
      expect(f.stream).toBeTypeOf('number');
      const n = f.records.length / W;
      if (n > 0 && (f.records[0]! & 0xff) === EventKind.Snapshot) {
        brackets++; // per client: not spool records
        continue;
      }
      for (let j = 0; j < n; j += 37) {
        const e = eventOf(f.stream! + j);
        if (e < first) continue; // deleted since
        expect(f.records.subarray(j * W, (j + 1) * W)).toEqual(rec(e));
        checked++;
      }
    }
    expect(brackets).toBe(1);
    expect(checked).toBeGreaterThan(100);
  });

  it('serves a recording in progress up to its newest event, and as a file once it stops', async () => {
    const { status, body } = await json(`/api/traces/${recordingId}`);
    expect(status).toBe(200);
    expect(body['live']).toBe(true);
    const n = body['events'] as number;
    expect(n).toBeGreaterThan(1000);
    const file = path.join(dir, `${recordingFile}.iocptrace`);
    const onDisk = readTraceFile(await readFile(file)).records;
    const r = await fetch(url(`/api/traces/${recordingId}/records?from=0&count=${n}`));
    expect(decodeFrame(new Uint8Array(await r.arrayBuffer())).records).toEqual(
      onDisk.subarray(0, n * W),
    );
    await server.recordings!.stop();
    let after: { status: number; body: Record<string, unknown> };
    await until(async () => {
      after = await json(`/api/traces/${recordingId}`);
      return after.status === 200;
    });
    expect(after!.body['live']).toBeUndefined();
    expect(after!.body['events']).toBe(n + 1); // its TraceEnd
  });

  it('answers 404 NO_SPOOL on a server that keeps none', async () => {
    const other = await startStreamServer({
      port: 0,
      recordingsDir: dir,
      examplesDir: path.join(dir, 'none'),
      source: new TrackingSource(),
    });
    const r = await fetch(new URL('/api/traces/live', other.url));
    expect(r.status).toBe(404);
    expect(((await r.json()) as { code: string }).code).toBe('NO_SPOOL');
    await other.close();
  });
});

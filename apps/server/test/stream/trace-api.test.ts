// The trace query API over real HTTP: a synthesized recording in the
// recordings directory, its index built by a worker thread on the first
// request (202 with progress until then), then every route checked against
// the records themselves, and bad parameters refused with BAD_QUERY.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventKind, RECORD_WORDS, decodeFrame, decodeSummary } from '@iocpscope/protocol';
import { synthesize } from '@iocpscope/analysis';
import { startStreamServer, type StreamServer } from '../../src/transport/server.ts';
import { synthFileBytes } from '../../src/tracedb/synth-file.test-util.ts';

let dir: string;
let server: StreamServer;
let words: Uint32Array;
let n: number;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-trace-api-'));
  const t = synthesize({ events: 60_000, seed: 4 });
  n = t.length;
  words = t.words.subarray(0, n * RECORD_WORDS);
  await writeFile(path.join(dir, 'big run.iocptrace'), synthFileBytes(words, n, t.strings, 4096));
  server = await startStreamServer({
    port: 0,
    recordingsDir: dir,
    examplesDir: path.join(dir, 'none'),
  });
}, 60_000);
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const url = (p: string): string => new URL(p, server.url).toString();
async function ready(): Promise<Record<string, unknown>> {
  for (let k = 0; k < 600; k++) {
    const r = await fetch(url('/api/traces/big_run'));
    const body = (await r.json()) as Record<string, unknown>;
    if (r.status === 200) return body;
    expect(r.status).toBe(202);
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('the index never became ready');
}

describe('the trace query API', () => {
  it('builds the index on the first request and then describes the trace', async () => {
    const m = await ready();
    expect(m['events']).toBe(n);
    expect((m['lanes'] as unknown[]).length).toBeGreaterThan(2);
    expect((m['levels'] as unknown[]).length).toBeGreaterThan(3);
  }, 60_000);

  it('serves records of any window as a frame, with their strings', async () => {
    await ready();
    const r = await fetch(url('/api/traces/big_run/records?from=5000&count=3000'));
    expect(r.headers.get('x-first-event')).toBe('5000');
    const f = decodeFrame(new Uint8Array(await r.arrayBuffer()));
    expect(Array.from(f.records)).toEqual(Array.from(words.subarray(5000 * 8, 8000 * 8)));
    const first = await fetch(url('/api/traces/big_run/records?from=0&count=20'));
    const g = decodeFrame(new Uint8Array(await first.arrayBuffer()));
    const named = g.strings.map(([, s]) => s);
    expect(named.length).toBeGreaterThan(0);
  });

  it('serves summary buckets that decode to the index level', async () => {
    await ready();
    const r = await fetch(url('/api/traces/big_run/summary?level=2&from=0&to=50'));
    const s = decodeSummary(new Uint8Array(await r.arrayBuffer()));
    expect(s.from).toBe(0);
    expect(s.count).toBeGreaterThan(0);
    expect(s.lanes.length).toBeGreaterThan(2);
    expect(s.queueMax.length).toBe(s.count);
  });

  it('answers stepping and time queries like a scan of the records', async () => {
    await ready();
    const next = async (q: string): Promise<number> =>
      ((await (await fetch(url(`/api/traces/big_run/next?${q}`))).json()) as { event: number })
        .event;
    let want = -1;
    for (let i = 10_001; i < n; i++)
      if ((words[i * 8]! & 0xff) === EventKind.SessionReleased) {
        want = i;
        break;
      }
    expect(await next(`from=10000&dir=1&kind=${EventKind.SessionReleased}`)).toBe(want);
    expect(await next(`from=-1&dir=-1&kind=${EventKind.ThreadStart}`)).toBeGreaterThanOrEqual(0);
    const at = (await (await fetch(url('/api/traces/big_run/at?ns=0'))).json()) as {
      event: number;
    };
    expect(at.event).toBe(0);
  });

  it('gives the state after an event as records to replay', async () => {
    await ready();
    const r = await fetch(url('/api/traces/big_run/state?at=99'));
    expect(r.status).toBe(200);
    expect(r.headers.get('x-state-base')).toBe('0');
    expect(r.headers.get('x-bracket-records')).toBe('0');
    const f = decodeFrame(new Uint8Array(await r.arrayBuffer()));
    expect(Array.from(f.records)).toEqual(Array.from(words.subarray(0, 100 * 8)));
  });

  it('opens a window anywhere: the state before it as a bracket, then its records', async () => {
    await ready();
    let r: Response;
    // Checkpoints follow the index: 202 until they reach the window.
    for (let k = 0; ; k++) {
      r = await fetch(url('/api/traces/big_run/window?from=50000&count=300'));
      if (r.status === 200 || k > 300) break;
      expect(r.status).toBe(202);
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(r.status).toBe(200);
    expect(r.headers.get('x-first-event')).toBe('50000');
    const b = Number(r.headers.get('x-bracket-records'));
    expect(b).toBeGreaterThan(2);
    const f = decodeFrame(new Uint8Array(await r.arrayBuffer()));
    expect(f.records[0]! & 0xff).toBe(EventKind.Snapshot);
    expect(f.records[(b - 1) * RECORD_WORDS]! & 0xff).toBe(EventKind.Snapshot);
    expect(Array.from(f.records.subarray(b * RECORD_WORDS))).toEqual(
      Array.from(words.subarray(50000 * 8, 50300 * 8)),
    );
  });

  it('lists sessions and one session’s events', async () => {
    await ready();
    const list = (await (await fetch(url('/api/traces/big_run/sessions?limit=5'))).json()) as {
      total: number;
      sessions: Array<{ id: string; events: number }>;
    };
    expect(list.total).toBeGreaterThan(5);
    const s = list.sessions[0]!;
    const one = (await (await fetch(url(`/api/traces/big_run/sessions/${s.id}`))).json()) as {
      events: number[];
    };
    expect(one.events.length).toBe(s.events);
  });

  it('walks the findings from the first request on and pages them by what the browser has', async () => {
    await ready();
    type Findings = {
      state: string;
      walked: number;
      events: number;
      total: number;
      from: number;
      findings: Array<{ rule: string; index: number; subject: { session?: string } }>;
    };
    let f: Findings;
    for (let k = 0; ; k++) {
      f = (await (await fetch(url('/api/traces/big_run/findings'))).json()) as Findings;
      if (f.state !== 'running' || k > 300) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(f.state).toBe('done');
    expect([f.walked, f.events, f.from]).toEqual([n, n, 0]);
    expect(f.findings.length).toBe(f.total);
    const later = (await (
      await fetch(url(`/api/traces/big_run/findings?from=${f.total}`))
    ).json()) as Findings;
    expect([later.from, later.findings.length, later.total]).toEqual([f.total, 0, f.total]);
    for (const q of ['findings?from=-1', 'findings?limit=0', 'findings?x=1']) {
      expect((await fetch(url(`/api/traces/big_run/${q}`))).status, q).toBe(400);
    }
  });

  it('refuses unknown or out-of-range parameters with BAD_QUERY, and unknown traces', async () => {
    await ready();
    for (const q of [
      'records?from=0&count=99999999',
      'records?from=-5&count=1',
      'records?from=0&count=1&evil=1',
      'summary?level=999&from=0&to=1',
      'next?from=0&dir=0',
      'next?from=0&dir=1&session=0xZZ',
      'records?from=1&from=2&count=1',
      'window?from=0&count=999999999',
      'window?count=5',
    ]) {
      const r = await fetch(url(`/api/traces/big_run/${q}`));
      expect(r.status, q).toBe(400);
      expect(((await r.json()) as { code: string }).code).toBe('BAD_QUERY');
    }
    const r = await fetch(url('/api/traces/nope'));
    expect(r.status).toBe(404);
    expect(((await r.json()) as { code: string }).code).toBe('UNKNOWN_RECORDING');
  });
});

// The live spool in a real `serve`: the reference echo server under a small
// load with a small spool (--spool-bytes 4M, parts of 1M), read through
// /api/traces/live while it runs. A dashboard on /ws sees its frames carry
// stream numbers that the spool's stream map turns into spool events holding
// the same records; it asks for a resync and gets the bracket at a cut; the
// newest events become queryable within about a second; the spool is gone
// when the server stops.

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventKind, RECORD_WORDS, SnapshotReason, decodeFrame } from '@iocpscope/protocol';
import { runServeCli } from '../../src/cli/serve.ts';
import { dashboardAttach } from '../../src/transport/attach.ts';
import { TestClient, waitFor } from './helpers.ts';

const W = RECORD_WORDS;
let dir: string;
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

interface Meta {
  live: boolean;
  head: number;
  available: { firstEvent: number; firstNs: number };
  dropped: { events: number; parts: number; reason: string; limitBytes: number };
  spool: { bytes: number; limitBytes: number; parts: number };
  streamMap: Array<{ stream: number; event: number; count: number }>;
}

function sink(): { text: string; write(s: string): void } {
  return {
    text: '',
    write(s: string) {
      this.text += s;
    },
  };
}

describe('serve with a small live spool', () => {
  it('keeps the newest 4 MB while it runs, queryable up to its newest events, and deletes it at stop', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-spool-serve-'));
    const out = sink();
    const err = sink();
    const stop = new AbortController();
    const serving = runServeCli(
      {
        echoPort: '0',
        port: '0',
        workers: '2',
        recordingsDir: dir,
        spoolBytes: '4M',
        spoolPartBytes: '1M',
      },
      {
        stdout: out,
        stderr: err,
        signal: stop.signal,
        attachDashboard: dashboardAttach({ examplesDir: path.join(dir, 'none') }),
      },
    );
    let base = '';
    await waitFor(
      'the dashboard',
      () => (base = /iocpscope dashboard: (\S+)/.exec(out.text)?.[1] ?? '') !== '',
      30_000,
    );
    const api = async <T>(p: string): Promise<{ status: number; body: T }> => {
      const r = await fetch(new URL(p, base));
      return { status: r.status, body: (await r.json()) as T };
    };
    const records = async (from: number, count: number): Promise<Uint32Array | number> => {
      const r = await fetch(new URL(`/api/traces/live/records?from=${from}&count=${count}`, base));
      if (r.status !== 200) return r.status;
      return decodeFrame(new Uint8Array(await r.arrayBuffer())).records;
    };
    const client = await TestClient.open(new URL('/ws', base).toString().replace('http', 'ws'));
    await waitFor('the first frame', () => client.frames.length > 0);
    client.send({
      type: 'start-load',
      id: 1,
      options: { connections: 16, inFlight: 2, durationMs: 6000, messageSize: 64 },
    });
    expect(await client.reply(1)).toMatchObject({ type: 'ack' });

    // While it runs: the spool fills, rotates, and drops its oldest parts.
    let meta!: Meta;
    for (let k = 0; k < 300; k++) {
      meta = (await api<Meta>('/api/traces/live')).body;
      if (meta.dropped.parts > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(meta.live).toBe(true);
    expect(meta.dropped).toMatchObject({ reason: 'spool-limit', limitBytes: 4 * 2 ** 20 });
    expect(meta.dropped.parts).toBeGreaterThan(0);
    expect(meta.spool.bytes).toBeLessThanOrEqual(4 * 2 ** 20);
    expect(meta.available.firstEvent).toBe(meta.dropped.events);
    const gone = await api<{ code: string; firstEvent: number }>(
      `/api/traces/live/records?from=${meta.available.firstEvent - 1}&count=1`,
    );
    expect(gone.status).toBe(410);
    expect(gone.body.code).toBe('NOT_AVAILABLE');
    const held = await records(meta.available.firstEvent, 500);
    expect(held).toBeInstanceOf(Uint32Array);

    // Latency: a record a dashboard just got is queryable in the spool soon after.
    const lags: number[] = [];
    for (let k = 0; k < 5; k++) {
      const bytes = client.frames[client.frames.length - 1]!;
      const t0 = performance.now();
      const f = decodeFrame(bytes);
      const n = f.records.length / W;
      if (n === 0 || (f.records[0]! & 0xff) === EventKind.Snapshot) continue;
      const s = f.stream! + n - 1;
      let got: Uint32Array | number = 0;
      for (let q = 0; q < 200; q++) {
        const m = (await api<Meta>('/api/traces/live')).body;
        const seg = m.streamMap.find((x) => s >= x.stream && s < x.stream + x.count);
        if (seg !== undefined) {
          got = await records(seg.event + (s - seg.stream), 1);
          if (got instanceof Uint32Array && got.length === W) break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(got).toEqual(f.records.subarray((n - 1) * W, n * W));
      lags.push(performance.now() - t0);
    }
    expect(lags.length).toBeGreaterThan(0);
    console.log(`spool head latency (ms): ${lags.map((x) => x.toFixed(0)).join(', ')}`);
    expect(Math.max(...lags)).toBeLessThan(3000);

    // A resync on request: the bracket arrives as the next frame, at a cut.
    const before = client.frames.length;
    client.send({ type: 'resync', id: 2 });
    expect(await client.reply(2)).toMatchObject({ type: 'ack', of: 'resync' });
    await waitFor('the resync bracket', () =>
      client.frames
        .slice(before)
        .some((b) => (decodeFrame(b).records[0]! & 0xff) === EventKind.Snapshot),
    );
    const bracket = client.frames
      .slice(before)
      .map((b) => decodeFrame(b))
      .find((f) => (f.records[0]! & 0xff) === EventKind.Snapshot)!;
    expect(bracket.records[1]).toBe(SnapshotReason.Resync);
    expect(bracket.stream).toBeTypeOf('number');

    // The findings are walked as the spool is written.
    const findings = await api<{ state: string; walked: number }>('/api/traces/live/findings');
    expect(findings.body.state).toBe('running');
    expect(findings.body.walked).toBeGreaterThan(meta.available.firstEvent);

    const spoolRoot = path.join(dir, '.spool');
    expect((await readdir(spoolRoot)).length).toBe(1);
    await client.close();
    stop.abort();
    expect(await serving).toBe(0);
    expect(err.text).toBe('');
    expect(await readdir(spoolRoot)).toEqual([]);
  }, 120_000);
});

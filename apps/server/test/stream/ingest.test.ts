// `serve --ingest` end to end on loopback: a TypeScript tracer (speaking the
// tracer stream of FORMAT.md §11 as iocpscope.h does) attaches, dashboards
// see its process and its events live, --record writes its trace with the
// tracer's own header, and the next process's tracer starts a fresh trace.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventKind, RECORD_WORDS, kindAt, readTraceFile } from '@iocpscope/protocol';
import { runIngestCli } from '../../src/cli/ingest.ts';
import {
  FOREIGN_HEADER,
  connectTracer,
  foreignChunk,
  opening,
  type TestTracer,
} from '../../src/ingest/testing.ts';
import { TestClient, waitFor } from './helpers.ts';

let dir: string;
let abort: AbortController;
let done: Promise<number> | null;
let out: string;
const opened: Array<TestClient | TestTracer> = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-ingest-'));
  abort = new AbortController();
  out = '';
  done = null;
});
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.log(out);
  for (const o of opened.splice(0)) {
    if (o instanceof TestClient) o.ws.terminate();
    else o.socket.destroy();
  }
  abort.abort();
  await done;
  await rm(dir, { recursive: true, force: true });
});

async function serve(extra: Record<string, string> = {}): Promise<{ ingest: number; url: string }> {
  done = runIngestCli(
    { ingest: '127.0.0.1:0', port: '0', recordingsDir: dir, ...extra },
    {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (out += t) },
      signal: abort.signal,
    },
  );
  await waitFor('the viewer to listen', () => /iocpscope dashboard: /.test(out));
  const ingest = Number(/waiting for a tracer on 127\.0\.0\.1:(\d+)/.exec(out)![1]);
  const url = /iocpscope dashboard: (\S+)/.exec(out)![1]!;
  return { ingest, url };
}

const wsUrl = (url: string): string => url.replace(/^http/, 'ws') + 'ws';

async function dashboard(url: string): Promise<TestClient> {
  const c = await TestClient.open(wsUrl(url), { headers: { origin: url.replace(/\/$/, '') } });
  opened.push(c);
  return c;
}

async function tracer(port: number): Promise<TestTracer> {
  const t = await connectTracer(port);
  opened.push(t);
  return t;
}

describe('serve --ingest', () => {
  it('shows the attached process to dashboards: hello and status name it, frames carry its events', async () => {
    const { ingest, url } = await serve();
    const before = await dashboard(url);
    await waitFor('hello', () => before.messages.some((m) => m.type === 'hello'));
    const hello0 = before.messages.find((m) => m.type === 'hello')!;
    expect(hello0).toMatchObject({
      backend: 'external',
      source: { kind: 'ingest', attached: false },
    });

    const t = await tracer(ingest);
    await t.send(opening());
    await t.send(foreignChunk(10));
    await waitFor('events on the dashboard', () => before.events >= 12);
    await waitFor('a status naming the process', () =>
      before.messages.some(
        (m) => m.type === 'status' && m.source?.attached === true && m.source.process?.pid === 4711,
      ),
    );
    // A dashboard that joins now gets the process in its hello, and the thread in its first frame.
    const late = await dashboard(url);
    await waitFor('late hello', () => late.messages.some((m) => m.type === 'hello'));
    const hello = late.messages.find((m) => m.type === 'hello')!;
    expect(hello).toMatchObject({
      backend: 'external',
      portConfig: FOREIGN_HEADER.portConfig,
      source: { kind: 'ingest', attached: true, process: { name: 'GameServer.exe', pid: 4711 } },
    });
    await t.end();
  });

  it('records the tracer with its own header (--record), and ends the file when it detaches', async () => {
    const file = path.join(dir, 'foreign.iocptrace');
    const { ingest } = await serve({ record: file });
    const t = await tracer(ingest);
    await t.send(opening());
    await t.send(foreignChunk(50));
    await t.send(foreignChunk(50, 5000));
    await t.end();
    await waitFor('the recording summary', () => /recording: \d+ events/.test(out));
    const r = readTraceFile(new Uint8Array(await readFile(file)));
    expect(r.error).toBeUndefined();
    expect(r.header).toMatchObject({
      backend: 'external',
      process: { pid: 4711, name: 'GameServer.exe' },
      tracer: 'header',
      startWallMs: FOREIGN_HEADER.startWallMs,
    });
    let markers = 0;
    for (let i = 0; i < r.records.length / RECORD_WORDS; i++) {
      if (kindAt(r.records, i) === EventKind.Marker) markers++;
    }
    expect(markers).toBe(100);
    expect(r.strings.get(1)).toBe('worker 1');
  });

  it('starts a new trace for the next process: dashboards reconnect to a new trace id, recordings are numbered', async () => {
    const file = path.join(dir, 'run.iocptrace');
    const { ingest, url } = await serve({ record: file });
    const d = await dashboard(url);
    const a = await tracer(ingest);
    await a.send(opening());
    await a.send(foreignChunk(3));
    await waitFor('first recording', () => /recording GameServer\.exe/.test(out));
    await waitFor('first trace events', () => d.events >= 5);
    const firstId = d.messages.find((m) => m.type === 'hello')!;
    await a.end();
    const b = await tracer(ingest);
    await b.send(opening('', { ...FOREIGN_HEADER, process: { pid: 77, name: 'Fixed.exe' } }));
    await waitFor('the old dashboard connection to close', () => d.closed !== undefined);
    // As the web app does: reconnect (retrying while the stream restarts).
    let again: TestClient | null = null;
    for (let k = 0; again === null && k < 100; k++) {
      again = await dashboard(url).catch(async () => {
        await new Promise((r) => setTimeout(r, 20));
        return null;
      });
    }
    await waitFor('second hello', () => again!.messages.some((m) => m.type === 'hello'));
    await b.send(foreignChunk(4, 10, 'second worker'));
    const second = again!.messages.find((m) => m.type === 'hello')!;
    expect(second.type === 'hello' && second.source?.process?.name).toBe('Fixed.exe');
    expect(second.type === 'hello' && second.source?.traceId).not.toBe(
      firstId.type === 'hello' && firstId.source?.traceId,
    );
    await waitFor('second trace events', () => again!.events >= 6);
    await b.end();
    await waitFor('two recordings', () => (out.match(/recording: \d+ events/g) ?? []).length === 2);
    const r2 = readTraceFile(new Uint8Array(await readFile(path.join(dir, 'run-2.iocptrace'))));
    expect(r2.header?.process?.name).toBe('Fixed.exe');
    expect(r2.strings.get(1)).toBe('second worker');
  });

  it('refuses echo-server flags with a clear message', async () => {
    let text = '';
    const code = await runIngestCli(
      { ingest: '7702', workers: '4' },
      {
        stdout: { write: (t: string) => (text += t) },
        stderr: { write: (t: string) => (text += t) },
      },
    );
    expect(code).toBe(2);
    expect(text).toMatch(/--workers: belongs to the reference server/);
  });
});

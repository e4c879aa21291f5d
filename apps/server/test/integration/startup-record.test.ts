// Issue 14 §1: `serve --record F` must hold every thread's records from its
// first one, even for clients that connect while the server is still starting
// (the file used to miss the first sessions' SessionCreated, accept hold and
// first recv, records the drainer had merged before the recording subscribed,
// with no Gap to say so, and `check` then blamed the correct server).
//
// The echo port is connected to as soon as it opens (polled every 50 ms from
// before serve runs), then five clients echo for a second. The file is then
// read against a naive model: every thread's first record is its ThreadStart;
// every record about a session comes after its SessionCreated; every session
// is created and released exactly once, with an IOCount chain from 0 that
// never goes below it and ends at 0 (trace-check.ts); nothing was lost; and
// `check` finds nothing.

import { createServer, connect, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import {
  EventKind,
  NO_THREAD,
  RECORD_WORDS,
  kindAt,
  readTraceFile,
  sessionAt,
  tidAt,
} from '@iocpscope/protocol';
import { checkFile } from '../../src/cli/check.ts';
import { tempDir } from '../../src/cli/trace-file.test-util.ts';
import { runServeCli } from '../../src/cli/serve.ts';
import { runLoad } from '../../src/load/run.ts';
import { TraceChecker } from './trace-check.ts';

const tmp = tempDir('iocpscope-startup-');
afterAll(() => tmp.remove());

/** A port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** Connect every 50 ms until the port answers; resolves with the open socket. */
async function firstConnection(port: number, deadline: number): Promise<Socket> {
  for (;;) {
    const s = await new Promise<Socket | null>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => resolve(c));
      c.once('error', () => {
        c.destroy();
        resolve(null);
      });
    });
    if (s) return s;
    if (Date.now() > deadline) throw new Error('the echo port never opened');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Session-scoped kinds whose session field is a SessionID (not IoRing's off1/avail). */
const SESSION_KINDS = new Set<number>([
  EventKind.IoCount,
  EventKind.IoPosted,
  EventKind.IoDetail,
  EventKind.SessionRings,
  EventKind.SessionReleased,
  EventKind.Accept,
  EventKind.Disconnect,
  EventKind.SocketClosed,
]);

describe('serve --record while clients connect during start-up', () => {
  it('records every session from its creation, every thread from its start, and nothing lost', async () => {
    const file = tmp.file('startup.iocptrace');
    const port = await freePort();
    const stop = new AbortController();
    let out = '';
    const capture = { write: (t: string) => ((out += t), true) };
    const polling = firstConnection(port, Date.now() + 30_000);
    const serving = runServeCli(
      { echoPort: String(port), record: file, workers: '2' },
      { stdout: capture, stderr: capture, signal: stop.signal },
    );
    const first = await polling;
    // The first client sends one packet and stays; five more echo for a second.
    first.write(Buffer.from([4, 0, 1, 0, 1, 2, 3, 4]));
    const load = await runLoad({
      target: { host: '127.0.0.1', port },
      connections: 5,
      durationMs: 1000,
      inFlight: 2,
      messageSize: 48,
    });
    expect(load.ok, JSON.stringify(load.failures)).toBe(true);
    first.destroy();
    await new Promise((r) => setTimeout(r, 100));
    stop.abort();
    expect(await serving, out).toBe(0);

    const r = readTraceFile(await readFile(file));
    expect(r.error).toBeUndefined();
    const w = r.records;
    const n = w.length / RECORD_WORDS;
    const started = new Set<number>();
    const created = new Set<bigint>();
    const strays: string[] = [];
    for (let i = 0; i < n; i++) {
      const k = kindAt(w, i);
      const tid = tidAt(w, i);
      if (k === EventKind.ThreadStart) started.add(tid);
      else if (tid !== NO_THREAD && !started.has(tid))
        strays.push(`event ${i}: thread ${tid} before its ThreadStart`);
      if (k === EventKind.SessionCreated) created.add(sessionAt(w, i));
      else if (SESSION_KINDS.has(k) && !created.has(sessionAt(w, i)))
        strays.push(
          `event ${i}: kind ${k} for session ${sessionAt(w, i).toString(16)} before its SessionCreated`,
        );
      if (k === EventKind.Snapshot)
        strays.push(`event ${i}: a snapshot in a recording from the start`);
    }
    expect(strays.slice(0, 10)).toEqual([]);
    const model = new TraceChecker();
    model.onBatch(w);
    expect(model.violations()).toEqual([]);
    expect(model.gaps).toBe(0);
    // The first client (connected the moment the port opened) and the five others.
    expect(created.size).toBeGreaterThanOrEqual(6);
    expect(kindAt(w, n - 1)).toBe(EventKind.TraceEnd);
    const checked = await checkFile(file);
    expect(checked.findings.map((f) => `${f.rule}/${f.check}`)).toEqual([]);
  }, 60_000);
});

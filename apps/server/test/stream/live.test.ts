// The live path end to end: the reference echo server, the dashboard attached
// through the serve seam, a client on /ws driving load and fault switches over
// the control channel, and the events of that load arriving with labelled
// lanes (the first frame names every live thread).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EventKind,
  RECORD_WORDS,
  ThreadRole,
  aAt,
  decodeFrame,
  kindAt,
  readTraceFile,
  xAt,
} from '@iocpscope/protocol';
import { startServer, type RunningServer } from '../../src/echo/server.ts';
import { dashboardAttach, type AttachedDashboard } from '../../src/transport/attach.ts';
import { TestClient, waitFor } from './helpers.ts';

let running: RunningServer | undefined;
let dashboard: AttachedDashboard | undefined;
let dir: string | undefined;
afterEach(async () => {
  await dashboard?.close();
  await running?.stop();
  dashboard = undefined;
  running = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('live streaming from the echo server', () => {
  it('streams the events of a load started from the control channel, with named threads', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-live-'));
    const startedMs = Date.now();
    running = await startServer({ echoPort: 0, workers: 2, shutdownTimeoutMs: 500 });
    dashboard = await dashboardAttach({ examplesDir: path.join(dir, 'none'), recordingsDir: dir })(
      running,
      {
        host: '127.0.0.1',
        port: 0,
      },
    );
    const client = await TestClient.open(dashboard.server.wsUrl);
    await waitFor(
      'hello and snapshot',
      () => client.messages.length >= 2 && client.frames.length >= 1,
    );
    expect(client.messages[0]).toMatchObject({
      type: 'hello',
      backend: 'emulated',
      portConfig: { workers: 2 },
    });

    // The first frame labels the lanes: every thread started so far, with its name.
    const first = decodeFrame(client.frames[0]!);
    const names = new Map(first.strings);
    const roles: number[] = [];
    for (let i = 0; i < first.records.length / RECORD_WORDS; i++) {
      if (kindAt(first.records, i) === EventKind.ThreadStart) {
        roles.push(aAt(first.records, i));
        expect(names.has(xAt(first.records, i))).toBe(true);
      }
    }
    expect(roles.filter((r) => r === ThreadRole.Worker).length).toBe(2);

    client.send({ type: 'set-faults', id: 1, faults: ['recv-not-reposted'] });
    expect(await client.reply(1)).toMatchObject({ type: 'ack' });
    expect(running.faults.active()).toEqual(['recv-not-reposted']);
    client.send({ type: 'set-faults', id: 2, faults: [] });
    await client.reply(2);

    client.send({ type: 'start-recording', id: 10, name: 'live' });
    expect(await client.reply(10)).toMatchObject({ type: 'ack' });
    const before = client.events;
    client.send({
      type: 'start-load',
      id: 3,
      options: { connections: 4, messages: 400, inFlight: 2 },
    });
    expect(await client.reply(3)).toMatchObject({ type: 'ack' });
    await waitFor(
      'load result',
      () => client.messages.some((m) => m.type === 'load-result'),
      20_000,
    );
    expect(client.messages.find((m) => m.type === 'load-result')).toMatchObject({
      outcome: 'completed',
    });
    await waitFor('events of the load', () => client.events - before > 400 * 4, 10_000);
    client.send({ type: 'stop-recording', id: 11 });
    expect(await client.reply(11)).toMatchObject({
      type: 'recording-saved',
      recording: { id: 'live' },
    });
    const file = readTraceFile(
      new Uint8Array(await (await fetch(`${dashboard.url}api/recordings/live`)).arrayBuffer()),
    );
    expect(file.error).toBeUndefined();
    expect(file.records.length / RECORD_WORDS).toBeGreaterThan(400 * 4);
    // Trace time 0 is when the echo server created its trace, not when the dashboard attached.
    expect(file.header!.startWallMs).toBeGreaterThanOrEqual(startedMs);
    expect(file.header!.startWallMs).toBeLessThan(startedMs + 2000);
    const status = client.messages.filter((m) => m.type === 'status').at(-1);
    expect(status).toMatchObject({ load: { running: false }, clients: 1 });
    await client.close();
  }, 40_000);
});

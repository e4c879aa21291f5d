// set-port-config end to end: a dashboard client asks for another worker count
// and concurrency; the server stops the port the course's way (sessions
// disconnected, exit packets, threads joined), starts a new one on the same
// echo port, and the client, still connected, sees it all in the stream: the
// old threads exit, a second PortCreated with the new values, the new workers
// start, and the echo works again.

import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EventKind,
  RECORD_WORDS,
  ThreadRole,
  aAt,
  decodeFrame,
  kindAt,
  tidAt,
  xAt,
  yAt,
} from '@iocpscope/protocol';
import { startServer, type RunningServer } from '../../src/echo/server.ts';
import { runLoad } from '../../src/load/run.ts';
import { dashboardAttach, type AttachedDashboard } from '../../src/transport/attach.ts';
import { TestClient, waitFor } from '../stream/helpers.ts';

let running: RunningServer | undefined;
let dashboard: AttachedDashboard | undefined;
afterEach(async () => {
  await running?.stop();
  await dashboard?.close();
  running = undefined;
  dashboard = undefined;
});

/** A connection that has had one packet echoed, with a promise of its close. */
async function liveSession(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const packet = Buffer.from([4, 0, 1, 0, 9, 8, 7, 6]);
  const echoed = new Promise<Buffer>((r) => socket.once('data', r));
  socket.write(packet);
  expect(await echoed).toEqual(packet);
  return { socket, closed };
}

interface Seen {
  kind: number;
  a: number;
  x: number;
  y: number;
  tid: number;
}

function eventsOf(client: TestClient): Seen[] {
  const out: Seen[] = [];
  for (const f of client.frames) {
    const w = decodeFrame(f).records;
    for (let i = 0; i < w.length / RECORD_WORDS; i++) {
      out.push({ kind: kindAt(w, i), a: aAt(w, i), x: xAt(w, i), y: yAt(w, i), tid: tidAt(w, i) });
    }
  }
  return out;
}

describe('port restart from the control channel', () => {
  it('restarts the port and its threads with the new values; sessions are disconnected, the dashboard keeps streaming, the echo port stays', async () => {
    running = await startServer({ echoPort: 0, workers: 2, shutdownTimeoutMs: 2000 });
    const echoPort = running.echoPort;
    dashboard = await dashboardAttach({ examplesDir: path.join('/nonexistent', 'examples') })(
      running,
      { host: '127.0.0.1', port: 0 },
    );
    const client = await TestClient.open(dashboard.server.wsUrl);
    await waitFor('hello', () => client.messages.some((m) => m.type === 'hello'));
    const session = await liveSession(echoPort);

    client.send({ type: 'set-port-config', id: 1, config: { workers: 3, concurrency: 1 } });
    expect(await client.reply(1, 30_000)).toMatchObject({ type: 'ack', of: 'set-port-config' });

    // The session open across the restart was disconnected by the server.
    await session.closed;
    expect(running.echoPort).toBe(echoPort);
    expect(running.portConfig()).toEqual({ workers: 3, concurrency: 1 });
    expect(running.config).toMatchObject({ workers: 3, concurrency: 1 });
    await waitFor('a status with the new port config', () =>
      client.messages.some(
        (m) => m.type === 'status' && m.portConfig.workers === 3 && m.portConfig.concurrency === 1,
      ),
    );

    // The same echo port serves again, with every byte verified.
    const load = await runLoad({
      target: { host: '127.0.0.1', port: echoPort },
      connections: 8,
      messages: 5,
      inFlight: 2,
      connectTimeoutMs: 20_000,
      stallTimeoutMs: 20_000,
    });
    expect({ ok: load.ok, messages: load.messages }).toEqual({ ok: true, messages: 40 });

    // The stream told the story, and the client stayed connected throughout.
    await waitFor('the new workers in the stream', () => {
      const e = eventsOf(client);
      return e.filter((r) => r.kind === EventKind.PortCreated).length >= 2;
    });
    await waitFor('the load in the stream', () =>
      eventsOf(client).some((r) => r.kind === EventKind.SessionReleased),
    );
    expect(client.closed).toBeUndefined();
    const e = eventsOf(client);
    const ports = e.filter((r) => r.kind === EventKind.PortCreated);
    expect(ports.at(-1)).toMatchObject({ x: 1, y: 3 }); // concurrency 1, 3 workers
    const second = e.lastIndexOf(ports.at(-1)!);
    const workerStarts = e
      .slice(second)
      .filter((r) => r.kind === EventKind.ThreadStart && r.a === ThreadRole.Worker);
    expect(workerStarts).toHaveLength(3);
    const oldWorkers = e
      .slice(0, second)
      .filter((r) => r.kind === EventKind.ThreadStart && r.a === ThreadRole.Worker)
      .map((r) => r.tid);
    expect(oldWorkers).toHaveLength(2);
    const exited = new Set(e.filter((r) => r.kind === EventKind.ThreadExit).map((r) => r.tid));
    for (const tid of oldWorkers) expect(exited.has(tid)).toBe(true);

    // Values the server cannot run are refused, and the port keeps running.
    client.send({ type: 'set-port-config', id: 2, config: { workers: 100, concurrency: 1 } });
    expect(await client.reply(2)).toMatchObject({ type: 'error', code: 'BAD_OPTIONS' });
    expect(running.portConfig()).toEqual({ workers: 3, concurrency: 1 });
    const again = await liveSession(echoPort);
    again.socket.destroy();

    const report = await running.stop();
    expect(report.workersJoined).toBe(3);
    expect(report.stuckSessions).toBe(0);
    expect(report.threadErrors).toEqual([]);
    expect(report.acceptedSessions).toBe(report.releasedSessions);
  }, 90_000);

  it('refuses a restart while the server shuts down', async () => {
    running = await startServer({ echoPort: 0, workers: 1, shutdownTimeoutMs: 1000 });
    const stopping = running.stop();
    await expect(running.restartPort({ workers: 2, concurrency: 0 })).rejects.toMatchObject({
      code: 'ERR_SERVER_STOPPING',
    });
    expect((await stopping).workersJoined).toBe(1);
  }, 60_000);
});

// Recording from the control channel and opening it from the server, as the
// dashboard does: start-recording, events flow, stop-recording answers
// recording-saved with an id, GET /api/recordings/:id returns a trace that
// holds every event published while recording.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EventKind,
  RECORD_WORDS,
  TraceEndReason,
  aAt,
  kindAt,
  readTraceFile,
} from '@iocpscope/protocol';
import { ReplaySource } from '../../src/hub/replay.ts';
import { syntheticTrace } from '../../src/hub/synthetic.ts';
import { startStreamServer, type StreamServer } from '../../src/transport/server.ts';
import { TestClient } from './helpers.ts';

let server: StreamServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('recordings over the control channel and the API', () => {
  it('records what streamed while recording and serves it by id', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-recapi-'));
    const t = syntheticTrace({ events: 100_000, workers: 3 });
    const replay = new ReplaySource(t);
    server = await startStreamServer({
      port: 0,
      source: replay,
      recordingsDir: dir,
      examplesDir: path.join(dir, 'none'),
    });
    const client = await TestClient.open(server.wsUrl);
    client.send({ type: 'start-recording', id: 1, name: 'api run' });
    expect((await client.reply(1)).type).toBe('ack');
    await replay.run({ batchRecords: 5000 });
    client.send({ type: 'stop-recording', id: 2 });
    const saved = await client.reply(2);
    expect(saved).toMatchObject({
      type: 'recording-saved',
      recording: { id: 'api_run', name: 'api run' },
    });
    const statuses = client.messages.filter((m) => m.type === 'status');
    expect(statuses.some((m) => m.type === 'status' && m.recording.active)).toBe(true);
    expect(statuses.at(-1)).toMatchObject({ recording: { active: false } });

    client.send({ type: 'list-recordings', id: 3 });
    expect(await client.reply(3)).toMatchObject({ recordings: [{ id: 'api_run' }] });
    const res = await fetch(`${server.url}api/recordings/api_run`);
    expect(res.status).toBe(200);
    const r = readTraceFile(new Uint8Array(await res.arrayBuffer()));
    expect(r.error).toBeUndefined();
    // Every event, then the TraceEnd of a recording that was stopped.
    const n = r.records.length / RECORD_WORDS;
    expect(n).toBe(t.records.length / RECORD_WORDS + 1);
    expect(
      Buffer.from(r.records.buffer, r.records.byteOffset, (n - 1) * 32).equals(
        Buffer.from(t.records.buffer),
      ),
    ).toBe(true);
    expect(kindAt(r.records, n - 1)).toBe(EventKind.TraceEnd);
    expect(aAt(r.records, n - 1)).toBe(TraceEndReason.Stopped);
    expect(r.strings.get(4)).toBe('worker-3');
    await client.close();
  });
});

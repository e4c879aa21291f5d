import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EventKind,
  SnapshotReason,
  decodeFrame,
  kindAt,
  parseServerMessageText,
  xAt,
  type FaultName,
  type LoadStats,
  type PortConfig,
  type ServerMessage,
  PROTOCOL_VERSION,
} from '@iocpscope/protocol';
import { Hub } from '../hub/hub.ts';
import { TrackingSource } from '../trace/state.test-util.ts';
import { FakeSink } from '../hub/testing.ts';
import { ReplaySource } from '../hub/replay.ts';
import { RecordingCatalogue } from '../record/catalogue.ts';
import { RecordingManager } from '../record/manager.ts';
import { ControlChannel, type ControlTarget, type LoadRunner } from './control.ts';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

/** Waits (up to 10 s) for the reply to request `id`: work on disk takes what it takes on a loaded box. */
async function replyTo(sink: FakeSink, id: number): Promise<ServerMessage> {
  for (let waited = 0; waited < 10_000; waited += 5) {
    const m = messages(sink).find((x) => 'id' in x && x.id === id);
    if (m !== undefined) return m;
    await tick();
  }
  throw new Error(`no reply to request ${id} in 10 s`);
}

function messages(sink: FakeSink): ServerMessage[] {
  return sink.text.map((t) => {
    const r = parseServerMessageText(t);
    if (!r.ok) throw new Error(`server sent an invalid message: ${t}`);
    return r.value;
  });
}

class FakeTarget implements ControlTarget {
  readonly backend = 'emulated' as const;
  readonly serverVersion = 'test';
  config: PortConfig = { workers: 2, concurrency: 0 };
  active: FaultName[] = [];
  restarts = 0;
  release: (() => void) | undefined;
  portConfig(): PortConfig {
    return this.config;
  }
  faults(): FaultName[] {
    return this.active;
  }
  async setPortConfig(c: PortConfig): Promise<void> {
    this.restarts++;
    await new Promise<void>((r) => (this.release = r));
    this.config = c;
  }
  setFaults(f: FaultName[]): void {
    this.active = f;
  }
  runLoad: LoadRunner = (_options, { onProgress, signal }) =>
    new Promise<LoadStats>((resolve) => {
      const stats: LoadStats = {
        elapsedMs: 1,
        connected: 1,
        sent: 1,
        received: 1,
        bytesSent: 64,
        bytesReceived: 64,
        errors: 0,
        resets: 0,
      };
      onProgress(stats);
      signal.addEventListener('abort', () => resolve(stats));
    });
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-ctl-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function connect(
  hub: Hub,
  ctl: ControlChannel,
): { sink: FakeSink; client: ReturnType<Hub['addClient']> } {
  const sink = new FakeSink(true);
  const client = hub.addClient(sink, (c) => ctl.connected(c));
  return { sink, client };
}

describe('ControlChannel', () => {
  it('greets a client with hello, then status, before any event frame', () => {
    const hub = new Hub();
    const ctl = new ControlChannel({ hub, target: new FakeTarget() });
    const { sink } = connect(hub, ctl);
    expect(messages(sink).map((m) => m.type)).toEqual(['hello', 'status']);
    expect(messages(sink)[0]).toMatchObject({
      protocolVersion: PROTOCOL_VERSION,
      backend: 'emulated',
      portConfig: { workers: 2 },
    });
    expect(sink.binary.length).toBe(1);
  });

  it('answers malformed and unknown messages with BAD_MESSAGE, echoing the id, and stays open', async () => {
    const hub = new Hub();
    const ctl = new ControlChannel({ hub, target: new FakeTarget() });
    const { sink, client } = connect(hub, ctl);
    sink.text.length = 0;
    ctl.handleText(client, '{not json');
    ctl.handleText(client, JSON.stringify({ type: 'launch-missiles', id: 7 }));
    ctl.handleText(
      client,
      JSON.stringify({ type: 'set-port-config', id: 8, config: { workers: 0, concurrency: 1 } }),
    );
    ctl.handleText(client, JSON.stringify({ type: 'get-status', id: 9, extra: true }));
    ctl.handleBinary(client);
    ctl.handleText(client, 'x'.repeat(70_000));
    await tick();
    const replies = messages(sink);
    expect(replies.map((m) => m.type)).toEqual([
      'error',
      'error',
      'error',
      'error',
      'error',
      'error',
    ]);
    expect(replies.map((m) => (m.type === 'error' ? [m.id, m.code] : null))).toEqual([
      [undefined, 'BAD_MESSAGE'],
      [7, 'BAD_MESSAGE'],
      [8, 'BAD_MESSAGE'],
      [9, 'BAD_MESSAGE'],
      [undefined, 'BAD_MESSAGE'],
      [undefined, 'BAD_MESSAGE'],
    ]);
    expect(client.closed).toBe(false);
  });

  it('answers resync with an ack and the bracket as the next frame; a second one while it is pending with BUSY', async () => {
    const source = new TrackingSource();
    const hub = new Hub();
    hub.attach(source);
    const ctl = new ControlChannel({ hub, target: new FakeTarget() });
    const { sink, client } = connect(hub, ctl);
    source.answer();
    const frames = sink.binary.length;
    ctl.handleText(client, JSON.stringify({ type: 'resync', id: 7 }));
    ctl.handleText(client, JSON.stringify({ type: 'resync', id: 8 }));
    await tick();
    const replies = messages(sink).filter((m) => m.type === 'ack' || m.type === 'error');
    expect(replies.map((m) => [m.type, m.id, m.type === 'error' ? m.code : m.of])).toEqual([
      ['ack', 7, 'resync'],
      ['error', 8, 'BUSY'],
    ]);
    source.answer();
    expect(sink.binary.length).toBe(frames + 1);
    const f = decodeFrame(sink.binary[frames]!);
    expect([kindAt(f.records, 0), xAt(f.records, 0)]).toEqual([
      EventKind.Snapshot,
      SnapshotReason.Resync,
    ]);
    // A server whose stream has no brackets says so.
    const bare = new Hub();
    const ctl2 = new ControlChannel({ hub: bare });
    const c2 = connect(bare, ctl2);
    ctl2.handleText(c2.client, JSON.stringify({ type: 'resync', id: 1 }));
    await tick();
    expect(messages(c2.sink).find((m) => m.type === 'error')).toMatchObject({
      code: 'UNSUPPORTED',
      id: 1,
    });
  });

  it('survives a seeded fuzz of random and mutated messages, replying with codes only', async () => {
    const hub = new Hub();
    const ctl = new ControlChannel({ hub, target: new FakeTarget() });
    const { sink, client } = connect(hub, ctl);
    sink.text.length = 0;
    const rnd = mulberry32(42);
    const valid = [
      { type: 'get-status', id: 1 },
      { type: 'set-faults', faults: ['recv-not-reposted'] },
      { type: 'list-recordings' },
      { type: 'pause-stream' },
      { type: 'resume-stream' },
      { type: 'resync' },
    ];
    const values = [null, true, -1, 1e308, 'x', '', [], {}, [1, 2], { a: 1 }, 2 ** 53, NaN];
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
    let sent = 0;
    for (let i = 0; i < 2000; i++) {
      const r = rnd();
      let text: string;
      if (r < 0.3) {
        text = String.fromCharCode(
          ...Array.from({ length: Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 0xffff)),
        );
      } else if (r < 0.6) {
        const m: Record<string, unknown> = { ...pick(valid) };
        m[pick(['type', 'id', 'faults', 'options', 'config', 'name', '__proto__', 'constructor'])] =
          pick(values);
        text = JSON.stringify(m);
      } else if (r < 0.8) {
        const t = JSON.stringify(pick(valid));
        const at = Math.floor(rnd() * t.length);
        text = t.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 128)) + t.slice(at + 1);
      } else {
        text = JSON.stringify(pick(values));
      }
      ctl.handleText(client, text);
      sent++;
    }
    await tick();
    const replies = messages(sink).filter((m) => m.type !== 'status' || m.id !== undefined);
    expect(sent).toBe(2000);
    for (const m of replies) {
      if (m.type === 'error') expect(m.code).toMatch(/^[A-Z_]+$/);
    }
    expect(replies.filter((m) => m.type === 'error').length).toBeGreaterThan(1000);
    expect(client.closed).toBe(false);
  });

  it('starts and stops load, pushing progress, result and status to every client', async () => {
    const hub = new Hub();
    const ctl = new ControlChannel({ hub, target: new FakeTarget() });
    const a = connect(hub, ctl);
    const b = connect(hub, ctl);
    ctl.handleText(
      a.client,
      JSON.stringify({ type: 'start-load', id: 1, options: { connections: 2 } }),
    );
    await tick();
    ctl.handleText(a.client, JSON.stringify({ type: 'start-load', id: 2, options: {} }));
    await tick();
    ctl.handleText(a.client, JSON.stringify({ type: 'stop-load', id: 3 }));
    await tick();
    ctl.handleText(a.client, JSON.stringify({ type: 'stop-load', id: 4 }));
    await tick();
    const ma = messages(a.sink);
    expect(ma.find((m) => m.type === 'ack' && m.id === 1)).toBeDefined();
    expect(ma.find((m) => m.type === 'error' && m.id === 2)).toMatchObject({ code: 'BUSY' });
    expect(ma.find((m) => m.type === 'ack' && m.id === 3)).toBeDefined();
    expect(ma.find((m) => m.type === 'error' && m.id === 4)).toMatchObject({ code: 'NOT_RUNNING' });
    const mb = messages(b.sink);
    expect(mb.some((m) => m.type === 'load-progress')).toBe(true);
    expect(mb.find((m) => m.type === 'load-result')).toMatchObject({ outcome: 'stopped' });
    expect(mb.some((m) => m.type === 'status' && m.load.running)).toBe(true);
    const last = mb.filter((m) => m.type === 'status').at(-1);
    expect(last).toMatchObject({ load: { running: false } });
  });

  it('restarts the port once at a time and broadcasts the new config', async () => {
    const hub = new Hub();
    const target = new FakeTarget();
    const ctl = new ControlChannel({ hub, target });
    const a = connect(hub, ctl);
    const b = connect(hub, ctl);
    const config = { workers: 4, concurrency: 2 };
    ctl.handleText(a.client, JSON.stringify({ type: 'set-port-config', id: 1, config }));
    ctl.handleText(b.client, JSON.stringify({ type: 'set-port-config', id: 2, config }));
    await tick();
    expect(messages(b.sink).find((m) => m.type === 'error')).toMatchObject({ id: 2, code: 'BUSY' });
    target.release!();
    await tick();
    expect(messages(a.sink).find((m) => m.type === 'ack')).toMatchObject({
      id: 1,
      of: 'set-port-config',
    });
    expect(
      messages(b.sink)
        .filter((m) => m.type === 'status')
        .at(-1),
    ).toMatchObject({ portConfig: config });
    expect(target.restarts).toBe(1);
  });

  it('answers UNSUPPORTED for what the server was started without', async () => {
    const hub = new Hub();
    const ctl = new ControlChannel({ hub });
    const { sink, client } = connect(hub, ctl);
    for (const m of [
      { type: 'start-load', id: 1, options: {} },
      { type: 'set-port-config', id: 2, config: { workers: 1, concurrency: 1 } },
      { type: 'set-faults', id: 3, faults: [] },
      { type: 'start-recording', id: 4 },
    ]) {
      ctl.handleText(client, JSON.stringify(m));
    }
    await tick();
    const errors = messages(sink).filter((m) => m.type === 'error');
    expect(errors.map((e) => (e.type === 'error' ? e.code : ''))).toEqual(
      Array(4).fill('UNSUPPORTED'),
    );
  });

  it('starts and stops a recording, replies recording-saved, and lists it', async () => {
    const hub = new Hub();
    const source = new ReplaySource({ records: new Uint32Array(0), strings: [] });
    const catalogue = new RecordingCatalogue({ dir, examplesDir: path.join(dir, 'none') });
    const recordings = new RecordingManager({
      dir,
      source,
      header: () => ({
        clock: 'monotonic-ns',
        host: 'h',
        backend: 'emulated',
        portConfig: { workers: 1, concurrency: 0 },
        startWallMs: 0,
      }),
      catalogue,
    });
    const ctl = new ControlChannel({ hub, recordings, catalogue });
    const { sink, client } = connect(hub, ctl);
    ctl.handleText(
      client,
      JSON.stringify({ type: 'start-recording', id: 1, name: 'from control' }),
    );
    await replyTo(sink, 1);
    ctl.handleText(client, JSON.stringify({ type: 'start-recording', id: 2 }));
    await replyTo(sink, 2);
    ctl.handleText(client, JSON.stringify({ type: 'stop-recording', id: 3 }));
    await replyTo(sink, 3);
    ctl.handleText(client, JSON.stringify({ type: 'list-recordings', id: 4 }));
    await replyTo(sink, 4);
    const ms = messages(sink);
    expect(ms.find((m) => m.type === 'ack' && m.id === 1)).toBeDefined();
    expect(ms.find((m) => m.type === 'error' && m.id === 2)).toMatchObject({
      code: 'ALREADY_RECORDING',
    });
    expect(ms.find((m) => m.type === 'recording-saved')).toMatchObject({
      id: 3,
      recording: { id: 'from_control', name: 'from control' },
    });
    expect(ms.find((m) => m.type === 'recordings')).toMatchObject({
      id: 4,
      recordings: [{ id: 'from_control' }],
    });
    expect(ms.some((m) => m.type === 'status' && m.recording.active)).toBe(true);
  });
});

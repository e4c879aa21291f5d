// Fuzz the control channel over a real WebSocket with seeded random and
// malformed frames (text and binary). Every reply must be a valid server
// message, every error must carry a code, the connection must stay open, and
// the server must keep serving (status, new connections). Oversized messages
// are the one thing that closes a connection (1009, by maxPayload), and the
// server survives that too.

import { afterEach, describe, expect, it } from 'vitest';
import { MAX_CONTROL_MESSAGE_CHARS } from '@iocpscope/protocol';
import { ReplaySource } from '../../src/hub/replay.ts';
import { syntheticTrace } from '../../src/hub/synthetic.ts';
import { startStreamServer, type StreamServer } from '../../src/transport/server.ts';
import { TestClient, mulberry32, waitFor } from './helpers.ts';

let server: StreamServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const VALID = [
  { type: 'get-status' },
  { type: 'list-recordings' },
  { type: 'set-faults', faults: [] },
  { type: 'pause-stream' },
  { type: 'resume-stream' },
  { type: 'start-load', options: { connections: 1 } },
  { type: 'stop-load' },
  { type: 'set-port-config', config: { workers: 2, concurrency: 1 } },
];
const VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e300,
  '',
  'x',
  [],
  {},
  [null],
  { type: 'get-status' },
];

function randomText(rnd: () => number): string {
  const r = rnd();
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  if (r < 0.25) {
    return String.fromCharCode(
      ...Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 0xd7ff)),
    );
  }
  if (r < 0.5) {
    const m: Record<string, unknown> = { ...pick(VALID) };
    m[pick(['type', 'id', 'faults', 'options', 'config', 'name', 'extra'])] = pick(VALUES);
    return JSON.stringify(m);
  }
  if (r < 0.75) {
    const t = JSON.stringify({ ...pick(VALID), id: Math.floor(rnd() * 1000) });
    const at = Math.floor(rnd() * t.length);
    return t.slice(0, at) + String.fromCharCode(32 + Math.floor(rnd() * 95)) + t.slice(at + 1);
  }
  return JSON.stringify(pick(VALUES));
}

describe('control channel fuzz', () => {
  it('answers random and malformed frames with coded errors and stays open', async () => {
    const t = syntheticTrace({ events: 50_000 });
    const replay = new ReplaySource(t);
    server = await startStreamServer({ port: 0, source: replay, maxPayload: 4096 });
    const client = await TestClient.open(server.wsUrl);
    const streaming = replay.run({ batchRecords: 500 });
    const rnd = mulberry32(20240601);
    for (let i = 0; i < 600; i++) {
      if (rnd() < 0.15) {
        client.ws.send(
          Buffer.from(
            Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)),
          ),
        );
      } else {
        client.send(randomText(rnd));
      }
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    client.send({ type: 'get-status', id: 999_999 });
    const status = await client.reply(999_999, 10_000);
    expect(status.type).toBe('status');
    await streaming;
    expect(client.closed).toBeUndefined();
    expect(client.invalidMessages).toEqual([]);
    const errors = client.messages.filter((m) => m.type === 'error');
    expect(errors.length).toBeGreaterThan(300);
    for (const e of errors) if (e.type === 'error') expect(e.code).toMatch(/^[A-Z_]+$/);
    // Without a control target, load and port requests are UNSUPPORTED, not crashes.
    const codes = new Set(errors.map((e) => (e.type === 'error' ? e.code : '')));
    const expected = ['BAD_MESSAGE', 'UNSUPPORTED', 'NOT_RUNNING'];
    expect([...codes].filter((c) => !expected.includes(c))).toEqual([]);
    await client.close();
  }, 30_000);

  it('closes only the connection that sends more than maxPayload, and keeps serving others', async () => {
    server = await startStreamServer({ port: 0, maxPayload: 4096 });
    const big = await TestClient.open(server.wsUrl);
    const other = await TestClient.open(server.wsUrl);
    big.send('x'.repeat(10_000));
    await waitFor('oversized sender closed', () => big.closed !== undefined);
    expect(big.closed?.code).toBe(1009);
    other.send({ type: 'get-status', id: 1 });
    expect((await other.reply(1)).type).toBe('status');
    const again = await TestClient.open(server.wsUrl);
    again.send({ type: 'get-status', id: 2 });
    expect((await again.reply(2)).type).toBe('status');
    await other.close();
    await again.close();
  });

  it('answers a message over the control limit (but under the transport cap) with BAD_MESSAGE and stays open', async () => {
    server = await startStreamServer({ port: 0 });
    const c = await TestClient.open(server.wsUrl);
    c.send(
      JSON.stringify({
        type: 'start-recording',
        id: 5,
        name: 'x'.repeat(MAX_CONTROL_MESSAGE_CHARS),
      }),
    );
    await waitFor('the error reply', () => c.messages.some((m) => m.type === 'error'));
    const e = c.messages.find((m) => m.type === 'error')!;
    expect(e).toMatchObject({ type: 'error', code: 'BAD_MESSAGE' });
    expect(e.type === 'error' && e.message).toMatch(/longer than 65536/);
    c.send({ type: 'get-status', id: 6 });
    expect((await c.reply(6)).type).toBe('status');
    expect(c.closed).toBeUndefined();
    await c.close();
  });

  it('closes a text frame of invalid UTF-8 with 1007 (RFC 6455) and keeps serving others', async () => {
    server = await startStreamServer({ port: 0 });
    const bad = await TestClient.open(server.wsUrl);
    bad.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    await waitFor('the close', () => bad.closed !== undefined);
    expect(bad.closed?.code).toBe(1007);
    const ok = await TestClient.open(server.wsUrl);
    ok.send({ type: 'get-status', id: 1 });
    expect((await ok.reply(1)).type).toBe('status');
    await ok.close();
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { EventKind, RECORD_WORDS, kindAt } from '@iocpscope/protocol';
import { IngestViewer, type IngestTrace } from './viewer.ts';
import {
  FOREIGN_HEADER,
  connectTracer,
  foreignChunk,
  opening,
  until,
  type TestTracer,
} from './testing.ts';

let viewer: IngestViewer | null = null;
const tracers: TestTracer[] = [];
afterEach(async () => {
  for (const t of tracers.splice(0)) t.socket.destroy();
  await viewer?.close();
  viewer = null;
});

async function start(
  opts: Partial<ConstructorParameters<typeof IngestViewer>[0]> = {},
): Promise<{ v: IngestViewer; port: number; log: string[]; events: Uint32Array[] }> {
  const log: string[] = [];
  const v = new IngestViewer({ host: '127.0.0.1', port: 0, log: (l) => log.push(l), ...opts });
  viewer = v;
  const { port } = await v.listen();
  const events: Uint32Array[] = [];
  v.feed.subscribe((r) => events.push(r.slice()));
  return { v, port, log, events };
}

async function tracer(port: number): Promise<TestTracer> {
  const t = await connectTracer(port);
  tracers.push(t);
  return t;
}

const count = (batches: Uint32Array[]): number =>
  batches.reduce((n, b) => n + b.length / RECORD_WORDS, 0);

describe('the ingest viewer', () => {
  it('attaches a tracer, answers ok, and delivers its records to the feed', async () => {
    const { v, port, events } = await start();
    const t = await tracer(port);
    await t.send(opening());
    await t.send(foreignChunk(5));
    await until(() => count(events) === 7, 5000, 'records');
    expect(t.lines[0]).toBe('{"ok":true}');
    expect(v.attached).toBe(true);
    expect(v.trace?.header).toEqual(FOREIGN_HEADER);
    expect(v.trace?.events).toBe(7);
    // The feed's snapshot names the thread and carries the strings.
    const snap = v.feed.snapshot();
    expect(snap.strings).toContainEqual([1, 'worker 1']);
    expect(kindAt(snap.records, 0)).toBe(EventKind.ThreadStart);
    await t.end();
    await until(() => !v.attached, 5000, 'detach');
    expect(v.trace?.end?.code).toBe('closed');
  });

  it('refuses a second tracer while one is attached, with BUSY, and keeps the first', async () => {
    const { v, port, events, log } = await start();
    const a = await tracer(port);
    await a.send(opening());
    await until(() => v.attached, 5000, 'attach');
    const b = await tracer(port);
    await b.send(opening());
    await b.closed;
    expect(JSON.parse(b.lines[0]!)).toMatchObject({ ok: false, code: 'BUSY' });
    expect(log.join('\n')).toMatch(/refused tracer .*BUSY/);
    await a.send(foreignChunk(1));
    await until(() => count(events) === 3, 5000, 'records after the refusal');
  });

  it('needs the token when it has one, and says so', async () => {
    const { v, port } = await start({ token: 'tok-12345678' });
    const none = await tracer(port);
    await none.send(opening());
    await none.closed;
    expect(JSON.parse(none.lines[0]!)).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });
    const wrong = await tracer(port);
    await wrong.send(opening('tok-87654321'));
    await wrong.closed;
    expect(JSON.parse(wrong.lines[0]!)).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });
    expect(v.attached).toBe(false);
    const good = await tracer(port);
    await good.send(opening('tok-12345678'));
    await until(() => v.attached, 5000, 'attach with the token');
  });

  it('refuses to listen off loopback without a token', () => {
    expect(() => new IngestViewer({ host: '0.0.0.0', port: 0 })).toThrow(/TOKEN_REQUIRED/);
  });

  it('closes a tracer that sends garbage, logs the code and offset, and keeps listening', async () => {
    const { v, port, log } = await start();
    const t = await tracer(port);
    await t.send(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await t.closed;
    expect(JSON.parse(t.lines[0]!)).toMatchObject({ ok: false, code: 'BAD_MAGIC' });
    expect(log.join('\n')).toMatch(/BAD_MAGIC/);
    const ok = await tracer(port);
    await ok.send(opening());
    await until(() => v.attached, 5000, 'a good tracer after a bad one');
  });

  it('closes a tracer whose stream is damaged mid-trace and keeps what came before', async () => {
    const { v, port, events } = await start();
    const t = await tracer(port);
    await t.send(opening());
    await t.send(foreignChunk(3));
    const bad = foreignChunk(3);
    bad[20] = bad[20]! ^ 0xff;
    await t.send(bad);
    await t.closed;
    expect(v.trace?.end?.code).toBe('CHECKSUM_MISMATCH');
    expect(v.trace?.end?.offset).toBeGreaterThan(0);
    expect(count(events)).toBe(5);
  });

  it('gives up on a connection that sends no handshake in time', async () => {
    const { port } = await start({ handshakeMs: 100 });
    const t = await tracer(port);
    await t.closed;
    expect(JSON.parse(t.lines[0]!)).toMatchObject({ ok: false, code: 'HANDSHAKE_TIMEOUT' });
  });

  it('starts a new trace for the next tracer, with a new id and a fresh snapshot', async () => {
    const { v, port } = await start();
    const a = await tracer(port);
    await a.send(opening());
    await a.send(foreignChunk(1, 1000, 'old worker'));
    await until(() => (v.trace?.events ?? 0) === 3, 5000, 'first trace');
    const first = v.trace!.id;
    await a.end();
    await until(() => !v.attached, 5000, 'detach');
    const b = await tracer(port);
    await b.send(opening('', { ...FOREIGN_HEADER, process: { pid: 99, name: 'Other.exe' } }));
    await b.send(foreignChunk(1, 10, 'new worker'));
    await until(() => v.attached && (v.trace?.events ?? 0) === 3, 5000, 'second trace');
    expect(v.trace!.id).not.toBe(first);
    expect(v.trace!.header.process?.name).toBe('Other.exe');
    expect(v.feed.snapshot().strings).toContainEqual([1, 'new worker']);
    expect(v.feed.snapshot().strings).not.toContainEqual([1, 'old worker']);
  });

  it('holds the chunks read while a new trace is being set up, then delivers them in order', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: IngestTrace[] = [];
    const { port, events } = await start({
      onTraceStart: (t) => {
        started.push(t);
        return gate;
      },
    });
    const t = await tracer(port);
    await t.send(opening());
    await t.send(foreignChunk(4));
    await until(() => started.length === 1, 5000, 'start');
    await new Promise((r) => setTimeout(r, 50));
    expect(count(events)).toBe(0);
    release();
    await until(() => count(events) === 6, 5000, 'held records');
    // In order: the thread start first, then the session, then the markers.
    expect(kindAt(events[0]!, 0)).toBe(EventKind.ThreadStart);
  });
});

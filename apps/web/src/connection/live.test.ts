import { describe, expect, it } from 'vitest';
import {
  EventKind,
  GapSource,
  RECORD_WORDS,
  encodeEvent,
  encodeFrame,
  writeRecord,
} from '@iocpscope/protocol';
import { LiveConnection, type GapInfo } from './live.ts';
import { FakeSocket, ManualTimers } from './fakeSocket.test-util.ts';

function recs(n: number, t0: number): Uint32Array {
  const w = new Uint32Array(n * RECORD_WORDS);
  for (let i = 0; i < n; i++) writeRecord(w, i, EventKind.Marker, 0, 0, 0, t0 + i, 0, 0, 0, 0);
  return w;
}

function setup() {
  const sockets: FakeSocket[] = [];
  const timers = new ManualTimers();
  const got = {
    records: [] as Uint32Array[],
    gaps: [] as GapInfo[],
    messages: [] as unknown[],
    bad: [] as string[],
    states: [] as string[],
  };
  const live = new LiveConnection(
    {
      url: 'ws://x/ws',
      timers,
      random: () => 0,
      createSocket: (u) => {
        const s = new FakeSocket(u);
        sockets.push(s);
        return s;
      },
    },
    {
      onStatus: (s) => got.states.push(s.state),
      onRecords: (r) => got.records.push(r),
      onGap: (g) => got.gaps.push(g),
      onMessage: (m) => got.messages.push(m),
      onBadInput: (e, what) => got.bad.push(`${what}:${e.code}`),
    },
  );
  live.connect();
  sockets[0]!.serverOpen();
  return { live, sockets, timers, got };
}

describe('LiveConnection', () => {
  it('decodes binary frames into records and validated text into control messages', () => {
    const t = setup();
    t.sockets[0]!.serverBinary(encodeFrame({ seq: 0, records: recs(3, 100) }));
    t.sockets[0]!.serverText(JSON.stringify({ type: 'ack', id: 1, of: 'stop-load' }));
    expect(t.got.records).toHaveLength(1);
    expect(t.got.records[0]!.length).toBe(3 * RECORD_WORDS);
    expect(t.got.messages).toEqual([{ type: 'ack', id: 1, of: 'stop-load' }]);
    expect(t.got.gaps).toEqual([]);
  });

  it('surfaces a server gap record with its exact lost count and still delivers the records', () => {
    const t = setup();
    const w = new Uint32Array(2 * RECORD_WORDS);
    encodeEvent(w, 0, {
      kind: EventKind.Gap,
      tsNs: 500,
      tid: 0xffff,
      source: GapSource.ClientQueue,
      lost: 5_000_000_123,
    });
    writeRecord(w, 1, EventKind.Marker, 0, 0, 0, 501, 0, 0, 0, 0);
    t.sockets[0]!.serverBinary(encodeFrame({ seq: 0, records: w }));
    expect(t.got.gaps).toEqual([
      { kind: 'server', source: GapSource.ClientQueue, lost: 5_000_000_123, tsNs: 500 },
    ]);
    expect(t.got.records[0]!.length).toBe(2 * RECORD_WORDS);
  });

  it('reports missing frames when the frame counter jumps, including across the u32 wrap', () => {
    const t = setup();
    const s = t.sockets[0]!;
    s.serverBinary(encodeFrame({ seq: 0xfffffffe, records: recs(1, 0) }));
    s.serverBinary(encodeFrame({ seq: 0xffffffff, records: recs(1, 1) }));
    s.serverBinary(encodeFrame({ seq: 2, records: recs(1, 2) }));
    expect(t.got.gaps).toEqual([{ kind: 'sequence', missingFrames: 2 }]);
  });

  it('reports a reconnect as a gap and restarts frame counting on the new socket', () => {
    const t = setup();
    t.sockets[0]!.serverBinary(encodeFrame({ seq: 7, records: recs(1, 0) }));
    t.sockets[0]!.serverDrop();
    t.timers.advance(1000);
    t.sockets[1]!.serverOpen();
    t.sockets[1]!.serverBinary(encodeFrame({ seq: 0, records: recs(1, 1) }));
    expect(t.got.gaps).toEqual([{ kind: 'reconnect' }]);
    expect(t.got.states).toEqual(['connecting', 'open', 'waiting', 'connecting', 'open']);
  });

  it('reports a corrupt frame or a malformed message and keeps the stream going', () => {
    const t = setup();
    const good = encodeFrame({ seq: 0, records: recs(2, 0) });
    const bad = good.slice();
    bad[0] = 0;
    t.sockets[0]!.serverBinary(bad);
    t.sockets[0]!.serverText('{"type":"nope"}');
    t.sockets[0]!.serverText('not json');
    t.sockets[0]!.serverBinary(encodeFrame({ seq: 1, records: recs(2, 5) }));
    expect(t.got.bad).toEqual(['frame:BAD_MAGIC', 'message:BAD_MESSAGE', 'message:BAD_MESSAGE']);
    expect(t.got.records).toHaveLength(1);
  });

  it('sends control messages with increasing ids only while open', () => {
    const t = setup();
    expect(t.live.send({ type: 'get-status' })).toBe(1);
    expect(t.live.send({ type: 'stop-load' })).toBe(2);
    expect(t.sockets[0]!.sent.map((x) => JSON.parse(x))).toEqual([
      { type: 'get-status', id: 1 },
      { type: 'stop-load', id: 2 },
    ]);
    t.sockets[0]!.serverDrop();
    expect(t.live.send({ type: 'get-status' })).toBe(-1);
  });
});

import { describe, expect, it } from 'vitest';
import {
  LiveSocket,
  backoffDelayMs,
  DEFAULT_BACKOFF,
  defaultLiveUrl,
  type LiveStatus,
} from './liveSocket.ts';
import { FakeSocket, ManualTimers } from './fakeSocket.test-util.ts';

function setup(random = () => 0) {
  const sockets: FakeSocket[] = [];
  const statuses: LiveStatus[] = [];
  const binary: Uint8Array[] = [];
  const text: string[] = [];
  const opens: boolean[] = [];
  const timers = new ManualTimers();
  const live = new LiveSocket({
    url: 'ws://h/ws',
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    timers,
    random,
    onStatus: (s) => statuses.push(s),
    onBinary: (b) => binary.push(b),
    onText: (t) => text.push(t),
    onOpen: (r) => opens.push(r),
  });
  return { live, sockets, statuses, binary, text, opens, timers };
}

describe('LiveSocket', () => {
  it('connects, reports open, and hands binary and text messages up separately', () => {
    const t = setup();
    t.live.connect();
    expect(t.statuses.at(-1)).toEqual({ state: 'connecting', attempt: 0 });
    expect(t.sockets[0]!.binaryType).toBe('arraybuffer');
    t.sockets[0]!.serverOpen();
    expect(t.statuses.at(-1)!.state).toBe('open');
    t.sockets[0]!.serverBinary(new Uint8Array([1, 2, 3]));
    t.sockets[0]!.serverText('{"type":"hello"}');
    expect(Array.from(t.binary[0]!)).toEqual([1, 2, 3]);
    expect(t.text).toEqual(['{"type":"hello"}']);
    expect(t.opens).toEqual([false]);
  });

  it('reconnects with growing delays after failures and resets them after a successful open', () => {
    const t = setup();
    t.live.connect();
    t.sockets[0]!.serverDrop();
    const w1 = t.statuses.at(-1)!;
    expect(w1).toMatchObject({ state: 'waiting', attempt: 1, retryAt: 500 });
    t.timers.advance(499);
    expect(t.sockets).toHaveLength(1);
    t.timers.advance(1);
    expect(t.sockets).toHaveLength(2);
    t.sockets[1]!.serverDrop();
    expect(t.statuses.at(-1)).toMatchObject({ state: 'waiting', attempt: 2, retryAt: 500 + 1000 });
    t.timers.advance(1000);
    t.sockets[2]!.serverOpen();
    expect(t.opens).toEqual([false]);
    t.sockets[2]!.serverDrop(1001, 'server going away');
    expect(t.statuses.at(-1)).toMatchObject({
      state: 'waiting',
      attempt: 1,
      retryAt: t.timers.nowMs + 500,
      lastError: 'server going away',
    });
    t.timers.advance(500);
    t.sockets[3]!.serverOpen();
    expect(t.opens).toEqual([false, true]);
  });

  it('caps the backoff delay and applies jitter below the cap', () => {
    expect(backoffDelayMs(0, DEFAULT_BACKOFF, 0)).toBe(500);
    expect(backoffDelayMs(3, DEFAULT_BACKOFF, 0)).toBe(4000);
    expect(backoffDelayMs(30, DEFAULT_BACKOFF, 0)).toBe(10_000);
    expect(backoffDelayMs(30, DEFAULT_BACKOFF, 1)).toBe(7000);
  });

  it('ignores messages from a socket it has replaced', () => {
    const t = setup();
    t.live.connect();
    const old = t.sockets[0]!;
    const onmessage = old.onmessage;
    old.serverDrop();
    t.timers.advance(500);
    onmessage?.({ data: 'late' });
    expect(t.text).toEqual([]);
  });

  it('stops for good on close(): no timer left, no more sockets, final status closed', () => {
    const t = setup();
    t.live.connect();
    t.sockets[0]!.serverDrop();
    expect(t.timers.size).toBe(1);
    t.live.close('user');
    expect(t.timers.size).toBe(0);
    t.timers.advance(60_000);
    expect(t.sockets).toHaveLength(1);
    expect(t.statuses.at(-1)).toEqual({ state: 'closed', reason: 'user' });
  });

  it('sends only while open', () => {
    const t = setup();
    t.live.connect();
    expect(t.live.send('x')).toBe(false);
    t.sockets[0]!.serverOpen();
    expect(t.live.send('y')).toBe(true);
    expect(t.sockets[0]!.sent).toEqual(['y']);
  });

  it('retries at once on retryNow() while waiting', () => {
    const t = setup();
    t.live.connect();
    t.sockets[0]!.serverDrop();
    t.live.retryNow();
    expect(t.sockets).toHaveLength(2);
    expect(t.timers.size).toBe(0);
  });
});

describe('defaultLiveUrl', () => {
  it('targets /ws on the serving host with the matching scheme and forwards the token', () => {
    expect(defaultLiveUrl({ protocol: 'http:', host: '127.0.0.1:7700', search: '' })).toBe(
      'ws://127.0.0.1:7700/ws',
    );
    expect(defaultLiveUrl({ protocol: 'https:', host: 'box:9', search: '?token=a b' })).toBe(
      'wss://box:9/ws?token=a%20b',
    );
  });
});

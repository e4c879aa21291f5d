import { describe, expect, it } from 'vitest';
import {
  LIVE_GIVE_UP_ATTEMPTS,
  liveOnLoad,
  livePhase,
  liveUrlLabel,
  recordingOnLoad,
} from './liveStartup.ts';
import { DEFAULT_BACKOFF, LiveSocket, backoffDelayMs, type LiveStatus } from './liveSocket.ts';
import { FakeSocket, ManualTimers } from './fakeSocket.test-util.ts';

describe('recordingOnLoad', () => {
  it('opens the recording a link names instead of the live stream', () => {
    expect(recordingOnLoad('?recording=open.my_run')).toBe('open.my_run');
    expect(liveOnLoad('?recording=open.my_run')).toBe(false);
    expect(liveOnLoad('?recording=open.my_run&live=1')).toBe(false);
  });

  it('ignores an id the server could never have given', () => {
    expect(recordingOnLoad('?recording=../etc/passwd')).toBeNull();
    expect(recordingOnLoad('?recording=')).toBeNull();
    expect(recordingOnLoad('?recording=' + 'a'.repeat(200))).toBeNull();
    expect(liveOnLoad('?recording=../x')).toBe(true);
  });
});

describe('liveOnLoad', () => {
  it('connects when the page URL says nothing about live', () => {
    expect(liveOnLoad('')).toBe(true);
    expect(liveOnLoad('?token=abcdefabcdefabcdef')).toBe(true);
  });

  it('stays on the start screen for ?live=0 and its spellings', () => {
    for (const v of ['0', 'off', 'false', 'no', 'OFF', ' No ']) {
      expect(liveOnLoad(`?live=${encodeURIComponent(v)}`), v).toBe(false);
    }
    expect(liveOnLoad('?token=x&live=0')).toBe(false);
  });

  it('connects for ?live=1 and for values it does not know', () => {
    expect(liveOnLoad('?live=1')).toBe(true);
    expect(liveOnLoad('?live=')).toBe(true);
    expect(liveOnLoad('?live=yes')).toBe(true);
  });
});

describe('livePhase', () => {
  const waiting = (attempt: number): LiveStatus => ({
    state: 'waiting',
    attempt,
    retryAt: 0,
    lastError: 'connection error',
  });

  it('is connecting during the very first attempt', () => {
    expect(livePhase({ state: 'idle' }, false)).toBe('connecting');
    expect(livePhase({ state: 'connecting', attempt: 0 }, false)).toBe('connecting');
  });

  it('is joined as soon as the socket opens, and stays joined through drops and retries', () => {
    expect(livePhase({ state: 'open', since: 1 }, false)).toBe('joined');
    expect(livePhase(waiting(1), true)).toBe('joined');
    expect(livePhase(waiting(40), true)).toBe('joined');
    expect(livePhase({ state: 'connecting', attempt: 3 }, true)).toBe('joined');
  });

  it('is unreachable after a failed first attempt, until the attempts run out', () => {
    expect(livePhase(waiting(1), false)).toBe('unreachable');
    expect(livePhase({ state: 'connecting', attempt: 1 }, false)).toBe('unreachable');
    expect(livePhase(waiting(LIVE_GIVE_UP_ATTEMPTS - 1), false)).toBe('unreachable');
    expect(livePhase(waiting(LIVE_GIVE_UP_ATTEMPTS), false)).toBe('give-up');
    expect(livePhase(waiting(3), false, 3)).toBe('give-up');
  });

  it('gives up on a socket closed before it ever opened', () => {
    expect(livePhase({ state: 'closed', reason: 'x' }, false)).toBe('give-up');
  });

  it('against a server that never answers: a few spaced attempts, then give-up', () => {
    // The real socket with its default backoff (random = 1: the shortest delays).
    const timers = new ManualTimers();
    const sockets: FakeSocket[] = [];
    let phase = livePhase({ state: 'idle' }, false);
    const phases: Array<[number, string]> = [];
    let everOpened = false;
    const live = new LiveSocket({
      url: 'ws://h/ws',
      timers,
      random: () => 1,
      createSocket: (url) => {
        const s = new FakeSocket(url);
        sockets.push(s);
        // The server refuses: the socket fails right after it is made.
        queueMicrotask(() => s.serverDrop());
        return s;
      },
      onStatus: (s) => {
        everOpened ||= s.state === 'open';
        const p = livePhase(s, everOpened);
        if (p !== phase) phases.push([timers.now(), p]);
        phase = p;
        // Like the app (an effect after the render), never from inside the status callback.
        if (p === 'give-up') queueMicrotask(() => live.close('gave up'));
      },
      onBinary: () => {},
      onText: () => {},
    });
    return (async () => {
      live.connect();
      for (let k = 0; k < 400 && phase !== 'give-up'; k++) {
        await Promise.resolve();
        timers.advance(100);
      }
      expect(phase).toBe('give-up');
      await Promise.resolve();
      expect(sockets).toHaveLength(LIVE_GIVE_UP_ATTEMPTS);
      expect(phases[0]).toEqual([0, 'unreachable']);
      // Never in a tight loop: the attempts are spread by the backoff.
      const minDelays = Array.from({ length: LIVE_GIVE_UP_ATTEMPTS - 1 }, (_, n) =>
        backoffDelayMs(n, DEFAULT_BACKOFF, 1),
      ).reduce((a, b) => a + b, 0);
      expect(phases.at(-1)![0]).toBeGreaterThanOrEqual(minDelays);
      expect(timers.size).toBe(0);
    })();
  });
});

describe('liveUrlLabel', () => {
  it('drops the scheme and the query (where the token travels)', () => {
    expect(liveUrlLabel('ws://127.0.0.1:7700/ws?token=secretsecretsecret')).toBe(
      '127.0.0.1:7700/ws',
    );
    expect(liveUrlLabel('wss://example.org/ws')).toBe('example.org/ws');
  });
});

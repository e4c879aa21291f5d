// What the dashboard does about the live stream when it starts, and what a
// live source that has not (yet) reached its server looks like to the user.
// Pure decisions on the socket's status; app/ applies them.
//
// Model
// - On load the dashboard connects to the server it was served from, unless
//   the page URL opts out with `?live=0` (also `off`, `false`, `no`).
// - A live source goes through phases:
//     connecting   first attempt, never opened: the live layout says "Connecting…"
//     joined       the socket opened at least once: the live layout, whatever
//                  happens next (a drop is a reconnect with backoff, shown in the
//                  top bar; the events received so far stay on screen)
//     unreachable  never opened and at least one attempt failed: the start screen,
//                  with the retry countdown, "Retry now" and "Stop"
//     give-up      never opened after `maxAttempts` attempts: the app closes the
//                  source and the start screen says no server answered
// - The retry delays are the socket's backoff (liveSocket.ts: 0.5 s doubling to
//   10 s, with jitter), so an absent server is asked a handful of times over
//   ~15 s, never in a tight loop.

import type { LiveStatus } from './liveSocket.ts';

/** Failed attempts, without ever opening, after which the dashboard stops asking. */
export const LIVE_GIVE_UP_ATTEMPTS = 6;

const OFF_VALUES = new Set(['0', 'off', 'false', 'no']);

/**
 * Whether to connect live on load, from the page's query string (`?live=0`
 * opts out; so does `?recording=ID`, which opens that recording instead).
 */
export function liveOnLoad(search: string): boolean {
  const p = new URLSearchParams(search);
  if (recordingOnLoad(search) !== null) return false;
  const v = p.get('live');
  return v === null || !OFF_VALUES.has(v.trim().toLowerCase());
}

/** `?recording=ID`: the server recording to open on load (as `iocpscope open FILE` prints). */
export function recordingOnLoad(search: string): string | null {
  const id = new URLSearchParams(search).get('recording');
  return id !== null && /^[A-Za-z0-9_.-]{1,128}$/.test(id) ? id : null;
}

export type LivePhase = 'connecting' | 'joined' | 'unreachable' | 'give-up';

export function livePhase(
  status: LiveStatus,
  everOpened: boolean,
  maxAttempts: number = LIVE_GIVE_UP_ATTEMPTS,
): LivePhase {
  if (everOpened || status.state === 'open') return 'joined';
  switch (status.state) {
    case 'waiting':
      return status.attempt >= maxAttempts ? 'give-up' : 'unreachable';
    case 'connecting':
      return status.attempt > 0 ? 'unreachable' : 'connecting';
    case 'closed':
      return 'give-up';
    default:
      return 'connecting';
  }
}

/** Why the dashboard stopped looking for a live server (shown on the start screen). */
export interface LiveGiveUp {
  url: string;
  attempts: number;
  lastError: string;
}

/** "127.0.0.1:7700/ws" from "ws://127.0.0.1:7700/ws?token=…": where, without the secret. */
export function liveUrlLabel(url: string): string {
  return url.replace(/^wss?:\/\//, '').replace(/\?.*$/, '');
}

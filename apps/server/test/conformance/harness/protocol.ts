// Messages between the test (main thread) and a remote-controlled port thread.

import type { AcceptResult, CompletionEntry, PortDescriptor } from '../../../src/port/index.ts';
import type { SeqEvent } from './recorder.ts';

export type Command =
  | { op: 'attach'; descriptor: PortDescriptor }
  | { op: 'detach' }
  | { op: 'gqcs'; timeoutMs: number }
  | { op: 'gqcsEx'; max: number; timeoutMs: number }
  | { op: 'pqcs'; bytes: number; keyLo: number; keyHi: number; overlapped: number }
  | { op: 'allocIoId' }
  | {
      op: 'recv' | 'send';
      socket: number;
      overlapped: number;
      off0: number;
      len0: number;
      off1: number;
      len1: number;
      ioId: number;
    }
  | { op: 'closesocket'; socket: number }
  | { op: 'associate'; socket: number; keyLo: number; keyHi: number }
  | { op: 'accept'; listenSocket: number; timeoutMs: number }
  | { op: 'blockBegin'; reason: number; detail: number }
  | { op: 'blockEnd' };

export interface Reply {
  /** BOOL results as booleans, counts and codes as numbers. */
  value: boolean | number | null;
  lastError: number;
  lastIoId: number;
  entries: CompletionEntry[];
  accepted: AcceptResult | null;
}

export type ToParent =
  | { type: 'ready' }
  | { type: 'event'; event: SeqEvent }
  | { type: 'reply'; id: number; reply: Reply }
  | { type: 'error'; id: number; message: string; code: string | undefined };

export interface ToThread {
  id: number;
  command: Command;
}

import { describe, expect, it } from 'vitest';
import {
  CLIENT_MESSAGE_TYPES,
  FAULT_NAMES,
  messageIdOf,
  parseClientMessage,
  parseClientMessageText,
  parseServerMessage,
  type ClientMessageInput,
  type ServerMessage,
} from './control.ts';

describe('control messages', () => {
  it('accept every client message type and fill load defaults', () => {
    const msgs: ClientMessageInput[] = [
      { type: 'start-load', id: 1, options: { connections: 10, durationMs: 1000 } },
      { type: 'stop-load' },
      { type: 'set-port-config', config: { workers: 4, concurrency: 2 } },
      { type: 'set-faults', faults: [...FAULT_NAMES] },
      { type: 'start-recording', name: 'run 1' },
      { type: 'stop-recording' },
      { type: 'list-recordings' },
      { type: 'get-status', id: 99 },
      { type: 'pause-stream' },
      { type: 'resume-stream' },
      { type: 'resync', id: 3 },
    ];
    expect(new Set(msgs.map((m) => m.type))).toEqual(new Set(CLIENT_MESSAGE_TYPES));
    for (const m of msgs) expect(parseClientMessage(m).ok).toBe(true);
    const r = parseClientMessage(msgs[0]);
    expect(r.ok && r.value.type === 'start-load' && r.value.options).toEqual({
      connections: 10,
      durationMs: 1000,
      messageSize: 64,
      inFlight: 1,
      rampMs: 0,
      resetRate: 0,
    });
  });

  it('reject unknown types, unknown keys, bad faults and path-like names as BAD_MESSAGE', () => {
    const bad: unknown[] = [
      null,
      42,
      { type: 'format-disk' },
      { type: 'stop-load', extra: 1 },
      { type: 'set-faults', faults: ['not-a-fault'] },
      { type: 'start-recording', name: '../etc/passwd' },
      { type: 'start-load', options: { connections: 0 } },
      { type: 'set-port-config', config: { workers: 1e9, concurrency: 1 } },
      { type: 'get-status', id: -1 },
      { type: 'start-load', options: { connections: 1, typo: 1 } },
      { type: 'set-port-config', config: { workers: 2, concurrency: 1, extra: true } },
    ];
    for (const m of bad) {
      const r = parseClientMessage(m);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('BAD_MESSAGE');
    }
  });

  it('reject text that is not JSON or too long', () => {
    const a = parseClientMessageText('{"type":');
    expect(!a.ok && a.error.code).toBe('BAD_MESSAGE');
    const b = parseClientMessageText(' '.repeat(70_000));
    expect(!b.ok && b.error.code).toBe('BAD_MESSAGE');
  });

  it('recover the id of an invalid message for the error reply', () => {
    expect(messageIdOf({ type: 'nope', id: 12 })).toBe(12);
    expect(messageIdOf({ id: 'x' })).toBeUndefined();
  });

  it('parse server messages and ignore unknown keys from a newer server', () => {
    const hello: ServerMessage = {
      type: 'hello',
      protocolVersion: 1,
      serverVersion: '0.1.0',
      backend: 'emulated',
      portConfig: { workers: 4, concurrency: 0 },
      faults: [],
    };
    const r = parseServerMessage({
      ...hello,
      futureField: true,
      portConfig: { ...hello.portConfig, futureNested: 1 },
    });
    expect(r.ok && r.value).toEqual(hello);
    expect(parseServerMessage({ type: 'error', code: 'BAD_MESSAGE', message: 'x', id: 3 }).ok).toBe(
      true,
    );
  });
});

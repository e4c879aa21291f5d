// Shared pieces of the streaming integration tests: a recording WebSocket
// client, polling with a deadline, and seeded randomness.

import { WebSocket, type ClientOptions } from 'ws';
import { decodeFrame, parseServerMessageText, type ServerMessage } from '@iocpscope/protocol';

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function waitFor(
  what: string,
  cond: () => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A dashboard stand-in: keeps every binary frame and every control message. */
export class TestClient {
  readonly ws: WebSocket;
  readonly frames: Uint8Array[] = [];
  readonly messages: ServerMessage[] = [];
  readonly invalidMessages: string[] = [];
  closed: { code: number; reason: string } | undefined;
  events = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        const bytes = data as Buffer;
        this.frames.push(bytes);
        this.events += decodeFrame(bytes).records.length / 8;
      } else {
        const text = String(data);
        const r = parseServerMessageText(text);
        if (r.ok) this.messages.push(r.value);
        else this.invalidMessages.push(text);
      }
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
    });
    ws.on('error', () => undefined); // close follows; tests look at `closed`
  }

  static open(url: string, options: ClientOptions = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
      const c = new TestClient(ws);
      ws.once('open', () => resolve(c));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** The reply to request `id`. */
  async reply(id: number, timeoutMs = 5000): Promise<ServerMessage> {
    const find = (): ServerMessage | undefined =>
      this.messages.find((m) => 'id' in m && m.id === id && m.type !== 'status') ??
      this.messages.find((m) => 'id' in m && m.id === id);
    await waitFor(`reply ${id}`, () => find() !== undefined, timeoutMs);
    return find()!;
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.terminate();
    });
  }
}

/** Status code of a refused upgrade (or 101 when it was accepted). */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('error', (e) => reject(e));
  });
}

// The live stream from the server: one LiveSocket, frames decoded with the
// protocol's decodeFrame, control messages validated with its zod schemas.
//
// Gaps are surfaced three ways, all through onGap:
// - 'server': a Gap record inside a frame (the hub's bounded queue for this
//   client overflowed, or the server's trace ring did); `lost` is exact.
// - 'sequence': the frame counter jumped, so whole frames never arrived;
//   the number of events lost is unknown.
// - 'reconnect': the socket dropped and came back; whatever happened in
//   between is unknown.
// Decoding errors never close the connection: a bad frame is reported and
// skipped (the next frame is independent, frames carry their own strings).

import {
  EventKind,
  RECORD_WORDS,
  decodeFrame,
  isProtocolError,
  parseServerMessageText,
  type ClientMessageInput,
  type GapSource,
  type ProtocolError,
  type ServerMessage,
  TS_HI_MASK,
} from '@iocpscope/protocol';
import { LiveSocket, type LiveSocketOptions, type LiveStatus } from './liveSocket.ts';

export type GapInfo =
  | { kind: 'server'; source: GapSource; lost: number; tsNs: number }
  | { kind: 'sequence'; missingFrames: number }
  | { kind: 'reconnect' };

export interface LiveCallbacks {
  onStatus(status: LiveStatus): void;
  /** Whole records of one frame (a fresh array the receiver may keep) and its new strings. */
  onRecords(records: Uint32Array, strings: Array<[number, string]>): void;
  onGap(gap: GapInfo): void;
  onMessage(msg: ServerMessage): void;
  /** A frame or control message that failed validation; the stream continues. */
  onBadInput(error: ProtocolError, what: 'frame' | 'message'): void;
}

export interface LiveConnectionOptions extends Pick<
  LiveSocketOptions,
  'createSocket' | 'timers' | 'random' | 'backoff'
> {
  url: string;
}

export class LiveConnection {
  private readonly socket: LiveSocket;
  private readonly cb: LiveCallbacks;
  private lastSeq = -1;
  private nextId = 1;
  /** Frames received, bytes received: for the status bar. */
  frames = 0;
  bytes = 0;

  constructor(options: LiveConnectionOptions, callbacks: LiveCallbacks) {
    this.cb = callbacks;
    this.socket = new LiveSocket({
      ...options,
      onStatus: (s) => this.cb.onStatus(s),
      onBinary: (b) => this.handleBinary(b),
      onText: (t) => this.handleText(t),
      onOpen: (reconnect) => {
        // Frame counters are per connection.
        this.lastSeq = -1;
        if (reconnect) this.cb.onGap({ kind: 'reconnect' });
      },
    });
  }

  connect(): void {
    this.socket.connect();
  }

  retryNow(): void {
    this.socket.retryNow();
  }

  close(): void {
    this.socket.close();
  }

  get status(): LiveStatus {
    return this.socket.currentStatus;
  }

  /**
   * Send a control message; returns its id (echoed in the server's reply), or
   * -1 when the socket is not open.
   */
  send(msg: ClientMessageInput): number {
    const id = this.nextId++;
    return this.socket.send(JSON.stringify({ ...msg, id })) ? id : -1;
  }

  private handleBinary(bytes: Uint8Array): void {
    this.frames++;
    this.bytes += bytes.length;
    let frame;
    try {
      frame = decodeFrame(bytes);
    } catch (e) {
      if (isProtocolError(e)) {
        this.cb.onBadInput(e, 'frame');
        return;
      }
      throw e;
    }
    if (this.lastSeq >= 0) {
      const expected = (this.lastSeq + 1) >>> 0;
      if (frame.seq !== expected) {
        const missing = (frame.seq - expected) >>> 0;
        this.cb.onGap({ kind: 'sequence', missingFrames: missing });
      }
    }
    this.lastSeq = frame.seq;
    const w = frame.records;
    for (let o = 0; o < w.length; o += RECORD_WORDS) {
      if ((w[o]! & 0xff) === EventKind.Gap) {
        this.cb.onGap({
          kind: 'server',
          source: ((w[o]! >>> 8) & 0xff) as GapSource,
          lost: w[o + 1]! + w[o + 6]! * 4294967296,
          tsNs: w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * 4294967296,
        });
      }
    }
    this.cb.onRecords(w, frame.strings);
  }

  private handleText(text: string): void {
    const r = parseServerMessageText(text);
    if (r.ok) this.cb.onMessage(r.value);
    else this.cb.onBadInput(r.error, 'message');
  }
}

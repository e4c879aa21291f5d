// One reconnecting WebSocket to the iocpscope server's /ws endpoint.
//
// Model: the socket is a small state machine
//   idle -> connecting -> open -> (closed by the server or the network) ->
//   waiting (backoff timer) -> connecting -> ...      close() -> closed (final)
// Binary messages are protocol frames and text messages are JSON control
// messages; this layer hands both up untouched (decoding lives in live.ts), so
// it can be tested against a fake socket with fake timers.
//
// Backoff: delay(n) = min(maxMs, initialMs * factor^n) scaled by a jitter in
// [1 - jitter, 1], n = failed attempts since the last successful open. A
// socket that opened and then dropped starts again at n = 0.

export type LiveStatus =
  | { state: 'idle' }
  | { state: 'connecting'; attempt: number }
  | { state: 'open'; since: number }
  | { state: 'waiting'; attempt: number; retryAt: number; lastError: string }
  | { state: 'closed'; reason: string };

/** The subset of the browser WebSocket this client uses (a fake implements it in tests). */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string; wasClean?: boolean }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

export type SocketFactory = (url: string) => SocketLike;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** Fraction of the delay removed at random, in [0, 1]. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  initialMs: 500,
  maxMs: 10_000,
  factor: 2,
  jitter: 0.3,
};

export interface LiveSocketOptions {
  url: string;
  onStatus(status: LiveStatus): void;
  onBinary(bytes: Uint8Array): void;
  onText(text: string): void;
  /** Called after every successful (re)connect; `reconnect` is false the first time. */
  onOpen?(reconnect: boolean): void;
  createSocket?: SocketFactory;
  timers?: Timers;
  random?: () => number;
  backoff?: Partial<BackoffOptions>;
}

const OPEN = 1;

export function backoffDelayMs(attempt: number, o: BackoffOptions, rnd: number): number {
  const raw = Math.min(o.maxMs, o.initialMs * Math.pow(o.factor, Math.max(0, attempt)));
  return Math.round(raw * (1 - o.jitter * rnd));
}

const browserTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

const browserSocket: SocketFactory = (url) => new WebSocket(url) as unknown as SocketLike;

export class LiveSocket {
  private readonly o: LiveSocketOptions;
  private readonly backoff: BackoffOptions;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly createSocket: SocketFactory;
  private socket: SocketLike | null = null;
  private timer: unknown = null;
  private failures = 0;
  private everOpened = false;
  private stopped = false;
  private status: LiveStatus = { state: 'idle' };

  constructor(options: LiveSocketOptions) {
    this.o = options;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.timers = options.timers ?? browserTimers;
    this.random = options.random ?? Math.random;
    this.createSocket = options.createSocket ?? browserSocket;
  }

  get currentStatus(): LiveStatus {
    return this.status;
  }

  /** Start connecting. Idempotent while connecting or open. */
  connect(): void {
    if (this.stopped) throw new Error('LiveSocket.connect after close()');
    if (this.socket) return;
    this.clearTimer();
    this.open();
  }

  /** Skip the remaining backoff delay and try now. */
  retryNow(): void {
    if (this.stopped || this.socket) return;
    this.clearTimer();
    this.open();
  }

  /** Send a text (control) message. Returns false when the socket is not open. */
  send(text: string): boolean {
    const s = this.socket;
    if (!s || s.readyState !== OPEN) return false;
    s.send(text);
    return true;
  }

  /** Close for good: no more reconnects or callbacks. */
  close(reason = 'closed by the user'): void {
    if (this.stopped) return;
    this.stopped = true;
    this.clearTimer();
    const s = this.socket;
    this.socket = null;
    if (s) {
      detach(s);
      s.close(1000, 'bye');
    }
    this.setStatus({ state: 'closed', reason });
  }

  private open(): void {
    this.setStatus({ state: 'connecting', attempt: this.failures });
    let s: SocketLike;
    try {
      s = this.createSocket(this.o.url);
    } catch (e) {
      // A malformed URL throws synchronously; treat it like a failed attempt.
      this.scheduleRetry(e instanceof Error ? e.message : String(e));
      return;
    }
    s.binaryType = 'arraybuffer';
    this.socket = s;
    let errorText = '';
    s.onopen = () => {
      if (this.socket !== s) return;
      const reconnect = this.everOpened;
      this.everOpened = true;
      this.failures = 0;
      this.setStatus({ state: 'open', since: this.timers.now() });
      this.o.onOpen?.(reconnect);
    };
    s.onmessage = (ev) => {
      if (this.socket !== s) return;
      const d = ev.data;
      if (typeof d === 'string') this.o.onText(d);
      else if (d instanceof ArrayBuffer) this.o.onBinary(new Uint8Array(d));
      else if (ArrayBuffer.isView(d))
        this.o.onBinary(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    };
    s.onerror = () => {
      errorText = 'connection error';
    };
    s.onclose = (ev) => {
      if (this.socket !== s) return;
      detach(s);
      this.socket = null;
      const why = ev.reason || errorText || `closed with code ${ev.code}`;
      this.scheduleRetry(why);
    };
  }

  private scheduleRetry(lastError: string): void {
    if (this.stopped) return;
    const delay = backoffDelayMs(this.failures, this.backoff, this.random());
    this.failures++;
    const retryAt = this.timers.now() + delay;
    this.setStatus({ state: 'waiting', attempt: this.failures, retryAt, lastError });
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.open();
    }, delay);
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      this.timers.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private setStatus(s: LiveStatus): void {
    this.status = s;
    this.o.onStatus(s);
  }
}

function detach(s: SocketLike): void {
  s.onopen = null;
  s.onclose = null;
  s.onerror = null;
  s.onmessage = null;
}

/**
 * The default live URL: the /ws endpoint of the server this page was served
 * from, carrying the page's `?token=` along when the server requires one.
 */
export function defaultLiveUrl(loc: { protocol: string; host: string; search: string }): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  const token = new URLSearchParams(loc.search).get('token');
  const q = token ? `?token=${encodeURIComponent(token)}` : '';
  return `${scheme}//${loc.host}/ws${q}`;
}

// The load generator: N dummy clients that pipeline echo packets at a server
// and verify every byte that comes back.
//
// Model. Connection slot i sends the stream image (stream.ts) read cyclically
// from a phase chosen by (seed, i, incarnation), keeping `inFlight` packets
// outstanding. Each read is compared in one memcmp against the same image
// from the receive position, so the generator knows what to expect without
// storing what it sent. Round-trip times come from a ring of send timestamps
// (one per outstanding packet) into a bounded histogram.
//
// Invariants:
// - per connection, bytes received never exceed bytes sent (more is an 'extra'
//   mismatch) and every received byte equals the image byte at the receive
//   position (else 'corrupt', 'out-of-order' or 'duplicate');
// - a connection with a mismatch or failure is closed and never reused; an
//   abrupt reset (resetsPerSec) is ours, its outstanding packets are counted as
//   lost (not mismatches) and the slot reconnects with a fresh phase;
// - when sending stops, outstanding echoes get drainTimeoutMs; whatever is still
//   missing then is a 'short' mismatch; every socket is closed before the
//   promise resolves.
// Efficiency (the client shares 2 cores with the server): one shared read
// buffer for all sockets (`onread`), one subarray write per read that refills
// the window (two, corked, when the image wraps), one performance.now() per read.

import net from 'node:net';
import { Histogram } from './histogram.ts';
import { validateLoadOptions } from './options.ts';
import type { LoadOptions, ResolvedLoadOptions } from './options.ts';
import { createRandom } from './random.ts';
import type { Random } from './random.ts';
import { StreamImage } from './stream.ts';

export type MismatchKind = 'corrupt' | 'out-of-order' | 'duplicate' | 'extra' | 'short';

export interface Mismatch {
  kind: MismatchKind;
  /** Connection slot index, 0-based. */
  connection: number;
  /** Connect attempt of that slot (0 = first; +1 after each reset). */
  incarnation: number;
  /** Sequence number (0-based, per incarnation) of the message expected when it went wrong. */
  message: number;
  /** Byte offset in that packet (header included) of the first wrong byte; -1 when not one byte. */
  offset: number;
  expected: number | null;
  actual: number | null;
  detail: string;
}

export interface ConnectionFailure {
  connection: number;
  incarnation: number;
  phase: 'connect' | 'open';
  /** A Node error code (ECONNREFUSED, ECONNRESET, ...) or CONNECT_TIMEOUT, PEER_CLOSED, CLOSED. */
  code: string;
  detail: string;
}

export interface LatencySummaryUs {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface LoadReport {
  /** No mismatch, no connection failure, not stalled. */
  ok: boolean;
  aborted: boolean;
  /** No echo arrived for stallTimeoutMs while some were outstanding. */
  stalled: boolean;
  options: ResolvedLoadOptions;
  elapsedMs: number;
  /** The measured window: from the end of warmup to when sending stopped. */
  measuredMs: number;
  /** Every verified echo of the run. */
  messages: number;
  /** Messages written (including those lost to resets or never echoed). */
  sentMessages: number;
  sentBytes: number;
  /** Bytes received and verified. */
  receivedBytes: number;
  /** Verified echoes inside the measured window. */
  measuredMessages: number;
  messagesPerSec: number;
  /** Echoed bytes (header + payload) per second in the measured window. */
  bytesPerSec: number;
  latencyUs: LatencySummaryUs;
  connections: { opened: number; peakOpen: number; resets: number; failed: number };
  /** Messages that were in flight on a connection when we reset it (expected losses). */
  lostToResets: number;
  mismatches: { count: number; samples: Mismatch[] };
  failures: { count: number; samples: ConnectionFailure[] };
}

export interface LoadProgress {
  elapsedMs: number;
  /** 0..1, by time (duration mode) or by verified messages (message mode); 0 until stopped. */
  fraction: number;
  phase: 'running' | 'draining' | 'closing';
  connectionsOpen: number;
  connections: number;
  /** Verified echoes so far. */
  messages: number;
  sentMessages: number;
  sentBytes: number;
  receivedBytes: number;
  /** Over the last progress interval. */
  messagesPerSec: number;
  /** Round trips so far (after warmup), microseconds; 0 while latencyCount is 0. */
  latencyCount: number;
  latencyP50Us: number;
  latencyP99Us: number;
  mismatches: number;
  failures: number;
  resets: number;
}

export interface RunLoadHooks {
  onProgress?: (progress: LoadProgress) => void;
  /** Aborting stops sending; outstanding echoes are still drained and verified. */
  signal?: AbortSignal;
}

const MAX_SAMPLES = 20;
const MAX_PENDING_CONNECTS = 256;
const READ_BUFFER_BYTES = 64 * 1024;
const TICK_MS = 20;
const CLOSE_TIMEOUT_MS = 2000;

const enum State {
  Idle,
  Connecting,
  Open,
  /** Done (all echoed, or sending stopped and drained): end() sent, waiting for close. */
  Closing,
  Done,
  Dead,
}

class Connection {
  state = State.Idle;
  socket: net.Socket | null = null;
  incarnation = -1;
  connectStartedAt = 0;
  /** Packets sent and bytes received in this incarnation. */
  txPackets = 0;
  rxBytes = 0;
  txOff = 0;
  rxOff = 0;
  phasePacket = 0;
  /** Messages still to send (message mode); Infinity in duration mode. */
  quota: number;
  readonly sentAt: Float64Array;

  constructor(
    readonly run: LoadRun,
    readonly index: number,
  ) {
    this.quota = run.quotaFor(index);
    this.sentAt = new Float64Array(run.opts.inFlight);
  }

  get outstanding(): number {
    return this.txPackets - Math.floor(this.rxBytes / this.run.image.packetBytes);
  }

  connect(now: number): void {
    const run = this.run;
    this.incarnation++;
    if (this.incarnation === 0) run.opened++;
    this.phasePacket = run.image.phasePacket(this.index, this.incarnation);
    this.txOff = this.rxOff = this.phasePacket * run.image.packetBytes;
    this.txPackets = 0;
    this.rxBytes = 0;
    this.state = State.Connecting;
    this.connectStartedAt = now;
    run.connecting.add(this);
    const sock = net.connect({
      host: run.opts.host,
      port: run.opts.port,
      noDelay: true,
      onread: {
        buffer: run.readBuffer,
        callback: (n: number) => {
          if (this.socket === sock) this.onRead(n);
          return true;
        },
      },
    });
    this.socket = sock;
    run.liveSockets++;
    sock.on('connect', () => {
      if (this.socket === sock) this.onConnect();
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (this.socket === sock) this.onError(err);
    });
    sock.on('end', () => {
      if (this.socket === sock) this.onEnd();
    });
    sock.on('close', () => {
      run.liveSockets--;
      if (this.socket === sock) this.onClose();
      run.checkFinished();
    });
  }

  private onConnect(): void {
    const run = this.run;
    run.connecting.delete(this);
    this.state = State.Open;
    run.setOpen(+1);
    run.lastEchoAt = performance.now();
    run.fillConnects();
    if (run.sending) this.fill(performance.now());
    if (this.outstanding === 0) this.finish();
  }

  /** Keeps the window full: sends min(room, quota) packets as one write. */
  fill(now: number): void {
    const { image, opts } = this.run;
    const k = Math.min(opts.inFlight - this.outstanding, this.quota);
    if (k <= 0) return;
    const img = image.bytes;
    const bytes = k * image.packetBytes;
    const sock = this.socket!;
    const end = this.txOff + bytes;
    if (end <= img.length) {
      sock.write(img.subarray(this.txOff, end));
      this.txOff = end === img.length ? 0 : end;
    } else {
      sock.cork();
      sock.write(img.subarray(this.txOff));
      sock.write(img.subarray(0, end - img.length));
      sock.uncork();
      this.txOff = end - img.length;
    }
    const ring = this.sentAt;
    for (let s = this.txPackets, last = this.txPackets + k; s < last; s++) {
      ring[s % opts.inFlight] = now;
    }
    this.txPackets += k;
    this.quota -= k;
    this.run.sentMessages += k;
  }

  private onRead(n: number): void {
    if (n <= 0 || (this.state !== State.Open && this.state !== State.Closing)) return;
    const run = this.run;
    const { image } = run;
    const buf = run.readBuffer;
    const sentBytes = this.txPackets * image.packetBytes;
    const extra = this.rxBytes + n - sentBytes;
    const valid = extra > 0 ? n - extra : n;
    if (valid > 0) {
      const d = image.firstDifference(buf, 0, valid, this.rxOff);
      if (d >= 0) {
        this.fail(this.explain(buf, d, valid));
        return;
      }
    }
    const now = performance.now();
    this.advance(valid, now);
    if (extra > 0) {
      this.fail({
        kind: 'extra',
        message: this.txPackets,
        offset: -1,
        expected: null,
        actual: null,
        detail: `received ${extra} byte(s) beyond the ${sentBytes} sent`,
      });
      return;
    }
    if (this.state !== State.Open) return;
    if (run.sending && this.quota > 0) this.fill(now);
    else if (this.outstanding === 0) this.finish();
  }

  private advance(valid: number, now: number): void {
    const run = this.run;
    const pkt = run.image.packetBytes;
    const before = Math.floor(this.rxBytes / pkt);
    this.rxBytes += valid;
    run.receivedBytes += valid;
    this.rxOff = (this.rxOff + valid) % run.image.bytes.length;
    const after = Math.floor(this.rxBytes / pkt);
    if (after === before) return;
    const ring = this.sentAt;
    const inFlight = run.opts.inFlight;
    for (let s = before; s < after; s++) run.recordLatency(now - ring[s % inFlight]!, now);
    run.onEchoes(after - before, now);
  }

  /** Classifies the first wrong byte at chunk index d (bytes [0, valid) are ours to check). */
  private explain(
    buf: Buffer,
    d: number,
    valid: number,
  ): Omit<Mismatch, 'connection' | 'incarnation'> {
    const { image } = this.run;
    const pkt = image.packetBytes;
    const abs = this.rxBytes + d;
    const message = Math.floor(abs / pkt);
    const offset = abs % pkt;
    const expected = image.bytes[(this.rxOff + d) % image.bytes.length]!;
    const actual = buf[d]!;
    const base = { message, offset, expected, actual };
    const where = `message #${message} byte ${offset}: expected 0x${hex(expected)}, got 0x${hex(actual)}`;
    if (offset < 4) {
      const field = offset < 2 ? 'length' : 'type';
      return { ...base, kind: 'corrupt', detail: `${where} (header ${field} field)` };
    }
    // Which packet do the received bytes of this packet look like?
    const startInChunk = d - offset;
    const from = Math.max(0, startInChunk);
    const to = Math.min(valid, startInChunk + pkt);
    const candidates = image.packetsMatching(buf, from, to, from - startInChunk);
    const K = image.packetCount;
    const expectedK = (this.phasePacket + message) % K;
    let ahead = Infinity;
    let behind = Infinity;
    for (const k of candidates) {
      const fwd = (k - expectedK + K) % K;
      const back = (expectedK - k + K) % K;
      if (fwd > 0 && fwd < this.txPackets - message) ahead = Math.min(ahead, fwd);
      if (back > 0 && back <= message) behind = Math.min(behind, back);
    }
    if (ahead !== Infinity) {
      return {
        ...base,
        kind: 'out-of-order',
        detail: `${where}: got the bytes of message #${message + ahead} (message #${message} dropped or reordered)`,
      };
    }
    if (behind !== Infinity) {
      return {
        ...base,
        kind: 'duplicate',
        detail: `${where}: got the bytes of message #${message - behind} again`,
      };
    }
    return { ...base, kind: 'corrupt', detail: where };
  }

  private fail(m: Omit<Mismatch, 'connection' | 'incarnation'>): void {
    this.run.addMismatch({ ...m, connection: this.index, incarnation: this.incarnation });
    this.kill();
  }

  /** Gives up on this slot for the rest of the run. */
  kill(): void {
    const prior = this.state;
    if (prior === State.Dead) return;
    if (prior === State.Connecting) this.run.connecting.delete(this);
    if (prior === State.Open) this.run.setOpen(-1);
    this.state = State.Dead;
    const sock = this.socket;
    this.socket = null;
    if (sock && !sock.destroyed) {
      // An abort (RST) for a stream we no longer trust; a plain close otherwise.
      if (prior === State.Open || prior === State.Closing) sock.resetAndDestroy();
      else sock.destroy();
    }
    if (prior !== State.Closing && prior !== State.Done) this.run.slotEnded();
  }

  /** Sending is over for this slot and nothing is outstanding: close gracefully. */
  finish(): void {
    if (this.state !== State.Open) return;
    this.run.setOpen(-1);
    this.state = State.Closing;
    this.socket!.end();
    this.run.slotEnded();
  }

  /** An abrupt reset (RST) chosen by the run; the slot reconnects with a fresh phase. */
  reset(now: number): void {
    const run = this.run;
    const lost = this.outstanding;
    run.lostToResets += lost;
    if (run.opts.mode === 'messages') this.quota += lost;
    run.resets++;
    run.setOpen(-1);
    const sock = this.socket!;
    this.socket = null;
    this.state = State.Idle;
    sock.resetAndDestroy();
    this.connect(now);
  }

  private onError(err: NodeJS.ErrnoException): void {
    if (this.state === State.Closing) {
      // The peer may reset after our FIN; nothing was outstanding, so nothing is lost.
      this.socket = null;
      this.state = State.Done;
      return;
    }
    const phase = this.state === State.Connecting ? 'connect' : 'open';
    this.run.addFailure({
      connection: this.index,
      incarnation: this.incarnation,
      phase,
      code: err.code ?? 'ERROR',
      detail: err.message,
    });
    this.kill();
  }

  private onEnd(): void {
    if (this.state !== State.Open) return;
    const missing = this.outstanding;
    if (missing > 0) {
      this.fail({
        kind: 'short',
        message: Math.floor(this.rxBytes / this.run.image.packetBytes),
        offset: this.rxBytes % this.run.image.packetBytes,
        expected: null,
        actual: null,
        detail: `the server closed the connection with ${missing} message(s) not echoed`,
      });
      return;
    }
    this.run.addFailure({
      connection: this.index,
      incarnation: this.incarnation,
      phase: 'open',
      code: 'PEER_CLOSED',
      detail: 'the server closed the connection while the run was using it',
    });
    this.kill();
  }

  private onClose(): void {
    if (this.state === State.Closing) {
      this.socket = null;
      this.state = State.Done;
      return;
    }
    if (this.state === State.Open || this.state === State.Connecting) {
      this.run.addFailure({
        connection: this.index,
        incarnation: this.incarnation,
        phase: this.state === State.Open ? 'open' : 'connect',
        code: 'CLOSED',
        detail: 'the socket closed without an error or end of stream',
      });
      this.kill();
    }
  }

  /** Drain time is up: what is still outstanding will never come. */
  giveUp(reason: string): void {
    if (this.state === State.Connecting) {
      this.kill();
      return;
    }
    if (this.state !== State.Open) return;
    const missing = this.outstanding;
    if (missing === 0) {
      this.finish();
      return;
    }
    this.fail({
      kind: 'short',
      message: Math.floor(this.rxBytes / this.run.image.packetBytes),
      offset: this.rxBytes % this.run.image.packetBytes,
      expected: null,
      actual: null,
      detail: `${missing} message(s) sent but not echoed ${reason}`,
    });
  }

  checkConnectTimeout(now: number): void {
    if (now - this.connectStartedAt < this.run.opts.connectTimeoutMs) return;
    this.run.addFailure({
      connection: this.index,
      incarnation: this.incarnation,
      phase: 'connect',
      code: 'CONNECT_TIMEOUT',
      detail: `not connected after ${this.run.opts.connectTimeoutMs} ms`,
    });
    this.kill();
  }

  get isOpen(): boolean {
    return this.state === State.Open;
  }
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}

class LoadRun {
  readonly image: StreamImage;
  readonly readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  readonly connecting = new Set<Connection>();
  readonly conns: Connection[] = [];
  readonly hist = new Histogram();
  readonly random: Random;

  phase: 'running' | 'draining' | 'closing' | 'finished' = 'running';
  sending = true;
  aborted = false;
  stalled = false;
  liveSockets = 0;
  open = 0;
  peakOpen = 0;
  /** Slots that will send no more (closing, done or dead). */
  ended = 0;
  resets = 0;
  lostToResets = 0;
  echoes = 0;
  measured = 0;
  opened = 0;
  sentMessages = 0;
  receivedBytes = 0;
  lastEchoAt: number;
  mismatchCount = 0;
  failureCount = 0;
  readonly mismatches: Mismatch[] = [];
  readonly failures: ConnectionFailure[] = [];

  readonly startAt: number;
  readonly measureFrom: number;
  stopAt = 0;
  private drainUntil = 0;
  private closeUntil = 0;
  private nextResetAt = Infinity;
  private nextProgressAt: number;
  private progressEchoes = 0;
  private progressAt: number;
  private tickTimer: NodeJS.Timeout | null = null;
  private stopTimer: NodeJS.Timeout | null = null;
  private resetTimer: NodeJS.Timeout | null = null;
  private resolveDone: (() => void) | null = null;

  constructor(
    readonly opts: ResolvedLoadOptions,
    private readonly hooks: RunLoadHooks,
  ) {
    this.image = new StreamImage(opts);
    this.random = createRandom(opts.seed ^ 0x2545f491);
    this.startAt = performance.now();
    this.measureFrom = this.startAt + opts.warmupMs;
    this.lastEchoAt = this.startAt;
    this.progressAt = this.startAt;
    this.nextProgressAt = this.startAt + opts.progressIntervalMs;
    if (opts.resetsPerSec > 0) this.nextResetAt = this.startAt + this.resetGapMs();
  }

  run(): Promise<void> {
    return new Promise((resolve) => {
      this.resolveDone = resolve;
      this.fillConnects();
      this.tickTimer = setInterval(() => this.tick(), TICK_MS);
      if (this.opts.mode === 'duration') {
        // Exact end of sending; the tick would be up to TICK_MS late.
        this.stopTimer = setTimeout(() => {
          if (this.phase === 'running') this.stopSending(performance.now());
        }, this.opts.durationMs);
      }
      this.scheduleReset();
    });
  }

  /**
   * Resets get their own timer so they spread over time as a Poisson process
   * would; done in the tick, they would come in bursts every TICK_MS that hit
   * most connections at once.
   */
  private scheduleReset(): void {
    if (this.nextResetAt === Infinity || this.phase !== 'running') return;
    this.resetTimer = setTimeout(
      () => {
        this.resetTimer = null;
        if (this.phase !== 'running') return;
        const now = performance.now();
        while (now >= this.nextResetAt) {
          this.resetOne(now);
          this.nextResetAt += this.resetGapMs();
        }
        this.scheduleReset();
      },
      Math.max(0, this.nextResetAt - performance.now()),
    );
  }

  private resetGapMs(): number {
    // Exponential inter-arrival times: a Poisson process at resetsPerSec.
    return (-Math.log(1 - this.random.float()) * 1000) / this.opts.resetsPerSec;
  }

  setOpen(delta: number): void {
    this.open += delta;
    if (this.open > this.peakOpen) this.peakOpen = this.open;
  }

  slotEnded(): void {
    this.ended++;
    if (this.opts.mode === 'messages' && this.sending && this.ended === this.opts.connections) {
      this.stopSending(performance.now());
    }
  }

  /** Opens slots up to the ramp's target, at most MAX_PENDING_CONNECTS at a time. */
  fillConnects(): void {
    if (!this.sending) return;
    const { connections, rampMs } = this.opts;
    const now = performance.now();
    const target =
      rampMs === 0
        ? connections
        : Math.min(connections, Math.ceil((connections * (now - this.startAt)) / rampMs));
    while (
      this.sending &&
      this.conns.length < target &&
      this.connecting.size < MAX_PENDING_CONNECTS
    ) {
      const c = new Connection(this, this.conns.length);
      this.conns.push(c);
      if (c.quota > 0) {
        c.connect(now);
      } else {
        // A total smaller than the connection count leaves some slots nothing to send.
        c.state = State.Done;
        this.slotEnded();
      }
    }
  }

  /** Messages slot `index` must get back verified (Infinity unless in message mode). */
  quotaFor(index: number): number {
    const { mode, messages, totalMessages, connections } = this.opts;
    if (mode !== 'messages') return Infinity;
    if (messages > 0) return messages;
    return Math.floor(totalMessages / connections) + (index < totalMessages % connections ? 1 : 0);
  }

  recordLatency(ms: number, now: number): void {
    if (now >= this.measureFrom && this.sending) this.hist.record(ms * 1e6);
  }

  onEchoes(n: number, now: number): void {
    this.echoes += n;
    this.lastEchoAt = now;
    if (now >= this.measureFrom && this.sending) this.measured += n;
  }

  addMismatch(m: Mismatch): void {
    this.mismatchCount++;
    if (this.mismatches.length < MAX_SAMPLES) this.mismatches.push(m);
  }

  addFailure(f: ConnectionFailure): void {
    this.failureCount++;
    if (this.failures.length < MAX_SAMPLES) this.failures.push(f);
  }

  stopSending(now: number, aborted = false): void {
    if (!this.sending) return;
    this.sending = false;
    this.aborted ||= aborted;
    this.stopAt = now;
    this.phase = 'draining';
    this.drainUntil = now + this.opts.drainTimeoutMs;
    for (const c of this.conns) if (c.isOpen && c.outstanding === 0) c.finish();
    // Connects still pending are not needed any more.
    for (const c of [...this.connecting]) c.kill();
    this.checkFinished();
  }

  private startClosing(now: number, reason: string): void {
    if (this.phase !== 'draining') return;
    this.phase = 'closing';
    this.closeUntil = now + CLOSE_TIMEOUT_MS;
    for (const c of this.conns) c.giveUp(reason);
    this.checkFinished();
  }

  checkFinished(): void {
    if (this.phase === 'draining' && this.open === 0) this.startClosing(performance.now(), '');
    if (this.phase === 'closing' && this.liveSockets === 0) this.finishRun();
  }

  private finishRun(): void {
    this.phase = 'finished';
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.stopTimer) clearTimeout(this.stopTimer);
    if (this.resetTimer) clearTimeout(this.resetTimer);
    this.tickTimer = this.stopTimer = this.resetTimer = null;
    this.emitProgress(performance.now());
    this.resolveDone?.();
  }

  private tick(): void {
    const now = performance.now();
    if (this.phase === 'running') {
      if (this.opts.mode === 'duration' && now - this.startAt >= this.opts.durationMs) {
        this.stopSending(now);
      } else {
        this.fillConnects();
        for (const c of [...this.connecting]) c.checkConnectTimeout(now);
        if (
          this.open > 0 &&
          now - this.lastEchoAt > this.opts.stallTimeoutMs &&
          this.anyOutstanding()
        ) {
          this.stalled = true;
          this.stopSending(now);
          this.startClosing(now, `(no echo for ${this.opts.stallTimeoutMs} ms)`);
        } else if (
          this.opts.mode !== 'messages' &&
          this.conns.length === this.opts.connections &&
          this.ended === this.opts.connections
        ) {
          // Every slot died: nothing left to measure.
          this.stopSending(now);
        }
      }
    } else if (this.phase === 'draining') {
      if (now >= this.drainUntil) {
        this.startClosing(now, `within the ${this.opts.drainTimeoutMs} ms drain time`);
      } else if (now - this.lastEchoAt > this.opts.stallTimeoutMs && this.anyOutstanding()) {
        this.stalled = true;
        this.startClosing(now, `(no echo for ${this.opts.stallTimeoutMs} ms)`);
      }
    } else if (this.phase === 'closing' && now >= this.closeUntil) {
      // A server that never closes its side after our FIN: stop waiting.
      for (const c of this.conns) {
        const s = c.socket;
        c.socket = null;
        s?.destroy();
      }
    }
    if (now >= this.nextProgressAt) this.emitProgress(now);
  }

  private anyOutstanding(): boolean {
    for (const c of this.conns) if (c.isOpen && c.outstanding > 0) return true;
    return false;
  }

  private resetOne(now: number): void {
    if (this.open === 0) return;
    const n = this.conns.length;
    const start = this.random.int(n);
    for (let i = 0; i < n; i++) {
      const c = this.conns[(start + i) % n]!;
      if (c.isOpen) {
        c.reset(now);
        return;
      }
    }
  }

  private emitProgress(now: number): void {
    const dt = now - this.progressAt;
    const rate = dt > 0 ? ((this.echoes - this.progressEchoes) * 1000) / dt : 0;
    this.progressAt = now;
    this.progressEchoes = this.echoes;
    this.nextProgressAt = now + this.opts.progressIntervalMs;
    const { opts } = this;
    const elapsedMs = now - this.startAt;
    const fraction =
      this.phase === 'finished'
        ? 1
        : opts.mode === 'duration'
          ? Math.min(1, elapsedMs / opts.durationMs)
          : opts.mode === 'messages'
            ? Math.min(1, this.echoes / opts.totalMessages)
            : 0;
    this.hooks.onProgress?.({
      elapsedMs,
      fraction,
      phase: this.phase === 'finished' ? 'closing' : this.phase,
      connectionsOpen: this.open,
      connections: opts.connections,
      messages: this.echoes,
      sentMessages: this.sentMessages,
      sentBytes: this.sentMessages * this.image.packetBytes,
      receivedBytes: this.receivedBytes,
      messagesPerSec: rate,
      latencyCount: this.hist.count,
      latencyP50Us: this.hist.valueAtQuantile(0.5) / 1000,
      latencyP99Us: this.hist.valueAtQuantile(0.99) / 1000,
      mismatches: this.mismatchCount,
      failures: this.failureCount,
      resets: this.resets,
    });
  }

  report(): LoadReport {
    const end = performance.now();
    const stopAt = this.stopAt || end;
    const measuredMs = Math.max(0, stopAt - this.measureFrom);
    const perSec = measuredMs > 0 ? 1000 / measuredMs : 0;
    const h = this.hist;
    const us = (ns: number) => ns / 1000;
    return {
      ok: this.mismatchCount === 0 && this.failureCount === 0 && !this.stalled,
      aborted: this.aborted,
      stalled: this.stalled,
      options: this.opts,
      elapsedMs: end - this.startAt,
      measuredMs,
      messages: this.echoes,
      sentMessages: this.sentMessages,
      sentBytes: this.sentMessages * this.image.packetBytes,
      receivedBytes: this.receivedBytes,
      measuredMessages: this.measured,
      messagesPerSec: this.measured * perSec,
      bytesPerSec: this.measured * this.image.packetBytes * perSec,
      latencyUs: {
        count: h.count,
        mean: us(h.mean),
        p50: us(h.valueAtQuantile(0.5)),
        p90: us(h.valueAtQuantile(0.9)),
        p99: us(h.valueAtQuantile(0.99)),
        p999: us(h.valueAtQuantile(0.999)),
        max: us(h.max),
      },
      connections: {
        opened: this.opened,
        peakOpen: this.peakOpen,
        resets: this.resets,
        failed: this.failureCount,
      },
      lostToResets: this.lostToResets,
      mismatches: { count: this.mismatchCount, samples: this.mismatches },
      failures: { count: this.failureCount, samples: this.failures },
    };
  }

  abort(): void {
    if (this.phase === 'running') this.stopSending(performance.now(), true);
  }
}

/**
 * Runs one load: validates `options` (throws LoadOptionError), connects,
 * pipelines and verifies echoes until the duration or message count is done
 * (or `signal` aborts), drains, closes every socket and resolves the report.
 * It never rejects for what the server does: mismatches and failures are in
 * the report (`ok === false`).
 */
export async function runLoad(options: LoadOptions, hooks: RunLoadHooks = {}): Promise<LoadReport> {
  const opts = validateLoadOptions(options);
  const run = new LoadRun(opts, hooks);
  const { signal } = hooks;
  const onAbort = () => run.abort();
  if (signal?.aborted) queueMicrotask(onAbort);
  else signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await run.run();
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return run.report();
}

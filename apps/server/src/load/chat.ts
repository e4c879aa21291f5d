// The chat load generator (issue 18 §5): N clients in M rooms, chatting at a
// rate, verifying what a chat server promises (chat/protocol.ts).
//
// Model. Client i is `c<i>.<incarnation>` and lives in room i mod M. It logs
// in, enters its room (EnterOk gives the first sequence number it will get),
// then sends chats: each text starts with (client, incarnation, message
// index) and continues with bytes derived from the seed and those three, so
// any receiver can rebuild the exact broadcast it should get (room, seq,
// sender's name, text) byte for byte. A fraction of the clients join late
// (after a third of the run), and resets (RST) make a client join again as a
// new incarnation: members who join late get the room from their join on.
//
// Verified, per member: every broadcast of its room from its EnterOk's
// sequence number on, exactly once, in sequence order (a gap, a repeat or a
// step back is a violation), byte for byte; every member agrees on what each
// sequence number carried; every chat a member sent comes back to it once, in
// the order sent. At the end, after a drain, every member has received up to
// its room's last broadcast. Any violation fails the run (exit 1 in the CLI).
//
// Rates: chats sent and broadcasts delivered (fan-out counted) per second in
// the measured window, and the delivery latency (a chat's send to each
// member's receipt, all clients being in this process) as p50/p99.

import net from 'node:net';
import { Histogram } from './histogram.ts';
import { LoadOptionError } from './errors.ts';
import { parseDuration, parseTarget, type LoadTarget } from './options.ts';
import { createRandom, mix32, type Random } from './random.ts';
import {
  BROADCAST_FIXED_BYTES,
  ChatPacket,
  HEADER_BYTES,
  MAX_TEXT_BYTES,
  chatPacket,
  decodeServerPacket,
  enterPacket,
  loginPacket,
  pingPacket,
} from '../chat/protocol.ts';

export interface ChatLoadOptions {
  target: string | LoadTarget;
  /** Clients, 1..20000. Default 20. */
  clients?: number;
  /** Rooms the clients are spread over (client i in room i mod rooms), 1..256. Default 4. */
  rooms?: number;
  /** Chats per second per client; 0 = as fast as `inFlight` allows. Default 5. */
  rate?: number;
  /** A client's own chats not yet back at most. Default 8. */
  inFlight?: number;
  /** Text bytes per chat, 16..512. Default 64. */
  textBytes?: number;
  /** Sending lasts this long (ms). Default 10 s (unless `messages`). */
  durationMs?: number;
  /** Instead of a duration: chats per client. */
  messages?: number;
  /** Open the clients evenly over this time. Default 0. */
  rampMs?: number;
  /** Fraction of the clients that join a third of the way into the run, 0..1. Default 0.1. */
  lateJoin?: number;
  /** Abrupt resets per second (each client reset joins again). Default 0. */
  resetsPerSec?: number;
  seed?: number;
  connectTimeoutMs?: number;
  /** After sending stops, wait this long for every member to catch up. Default 5 s. */
  drainTimeoutMs?: number;
  progressIntervalMs?: number;
}

export type ResolvedChatLoadOptions = Required<Omit<ChatLoadOptions, 'target' | 'messages'>> & {
  host: string;
  port: number;
  /** 0 = duration mode. */
  messages: number;
};

export type ChatViolationKind =
  | 'out-of-order'
  | 'duplicate'
  | 'corrupt'
  | 'inconsistent'
  | 'own-order'
  | 'missing'
  | 'protocol'
  | 'closed';

export interface ChatViolation {
  kind: ChatViolationKind;
  client: number;
  incarnation: number;
  room: number;
  seq: number;
  detail: string;
}

export interface ChatLoadReport {
  ok: boolean;
  aborted: boolean;
  options: ResolvedChatLoadOptions;
  elapsedMs: number;
  measuredMs: number;
  chatsSent: number;
  /** Distinct broadcasts seen (sequence numbers over all rooms). */
  broadcasts: number;
  /** Broadcast packets received by all members (fan-out counted), verified. */
  deliveries: number;
  chatsPerSec: number;
  deliveriesPerSec: number;
  latencyUs: { count: number; p50: number; p99: number; max: number };
  clients: { joined: number; lateJoined: number; resets: number; failed: number };
  /** Own chats in flight when a client was reset (not violations). */
  lostToResets: number;
  /** Every violation counted (and by kind); the first few kept as samples. */
  violations: {
    count: number;
    byKind: Partial<Record<ChatViolationKind, number>>;
    samples: ChatViolation[];
  };
}

export interface ChatLoadProgress {
  elapsedMs: number;
  fraction: number;
  phase: 'running' | 'draining' | 'closing';
  joined: number;
  clients: number;
  chatsSent: number;
  deliveries: number;
  deliveriesPerSec: number;
  latencyP50Us: number;
  latencyP99Us: number;
  violations: number;
}

export interface ChatLoadHooks {
  onProgress?: (p: ChatLoadProgress) => void;
  signal?: AbortSignal;
}

const MAX_SAMPLES = 20;
const TICK_MS = 10;
/** Send times kept per client for latency (older ones are not measured). */
const SENT_RING = 4096;
/** Per room, how many sequence numbers' contents are remembered for the consistency check. */
const SEQ_WINDOW = 1 << 16;
const TEXT_PREFIX = 12;

// ---------------------------------------------------------------------------
// options

function int(name: string, v: number | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new LoadOptionError('BAD_NUMBER', name, `expected an integer, got ${String(v)}`);
  if (v < min || v > max)
    throw new LoadOptionError('OUT_OF_RANGE', name, `${v} is not in ${min}..${max}`);
  return v;
}

function real(name: string, v: number | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new LoadOptionError('BAD_NUMBER', name, `expected a number, got ${String(v)}`);
  if (v < min || v > max)
    throw new LoadOptionError('OUT_OF_RANGE', name, `${v} is not in ${min}..${max}`);
  return v;
}

export function validateChatLoadOptions(o: ChatLoadOptions): ResolvedChatLoadOptions {
  const t = typeof o.target === 'string' ? parseTarget(o.target) : o.target;
  if (o.durationMs !== undefined && o.messages !== undefined) {
    throw new LoadOptionError(
      'CONFLICTING_OPTIONS',
      'messages',
      'durationMs and messages each say when to stop: give one of them',
    );
  }
  const rate = real('rate', o.rate, 5, 0, 10_000);
  return {
    host: t.host,
    port: t.port,
    clients: int('clients', o.clients, 20, 1, 20_000),
    rooms: int('rooms', o.rooms, 4, 1, 256),
    rate,
    inFlight: int('inFlight', o.inFlight, 8, 1, 1024),
    textBytes: int('textBytes', o.textBytes, 64, 16, MAX_TEXT_BYTES),
    durationMs:
      o.messages !== undefined ? 0 : int('durationMs', o.durationMs, 10_000, 1, 86_400_000),
    messages: o.messages === undefined ? 0 : int('messages', o.messages, 0, 1, 2 ** 31),
    rampMs: int('rampMs', o.rampMs, 0, 0, 3_600_000),
    lateJoin: real('lateJoin', o.lateJoin, 0.1, 0, 1),
    resetsPerSec: real('resetsPerSec', o.resetsPerSec, 0, 0, 10_000),
    seed: int('seed', o.seed, 1, 0, 0xffffffff),
    connectTimeoutMs: int('connectTimeoutMs', o.connectTimeoutMs, 5000, 1, 3_600_000),
    drainTimeoutMs: int('drainTimeoutMs', o.drainTimeoutMs, 5000, 0, 3_600_000),
    progressIntervalMs: int('progressIntervalMs', o.progressIntervalMs, 1000, 10, 3_600_000),
  };
}

/** The CLI's strings for `load --app chat`. */
export interface ChatLoadArgs {
  target?: string;
  connections?: string;
  rooms?: string;
  rate?: string;
  inFlight?: string;
  size?: string;
  duration?: string;
  messages?: string;
  ramp?: string;
  lateJoin?: string;
  resets?: string;
  seed?: string;
  connectTimeout?: string;
  drainTimeout?: string;
}

export function parseChatLoadArgs(a: ChatLoadArgs): ChatLoadOptions {
  if (a.target === undefined)
    throw new LoadOptionError('BAD_TARGET', 'target', 'a target host:port is required');
  const num = (name: string, s: string | undefined, integer = true): number | undefined => {
    if (s === undefined) return undefined;
    if (!(integer ? /^[0-9]+$/ : /^[0-9]+(\.[0-9]+)?$/).test(s))
      throw new LoadOptionError('BAD_NUMBER', name, `expected a number, got ${JSON.stringify(s)}`);
    return Number(s);
  };
  const o: ChatLoadOptions = { target: parseTarget(a.target) };
  const set = <K extends keyof ChatLoadOptions>(k: K, v: ChatLoadOptions[K] | undefined): void => {
    if (v !== undefined) o[k] = v;
  };
  set('clients', num('clients', a.connections));
  set('rooms', num('rooms', a.rooms));
  set('rate', num('rate', a.rate, false));
  set('inFlight', num('inFlight', a.inFlight));
  set('textBytes', num('textBytes', a.size));
  set('durationMs', a.duration === undefined ? undefined : parseDuration('durationMs', a.duration));
  set('messages', num('messages', a.messages));
  set('rampMs', a.ramp === undefined ? undefined : parseDuration('rampMs', a.ramp));
  set('lateJoin', num('lateJoin', a.lateJoin, false));
  set('resetsPerSec', num('resetsPerSec', a.resets, false));
  set('seed', num('seed', a.seed));
  set(
    'connectTimeoutMs',
    a.connectTimeout === undefined
      ? undefined
      : parseDuration('connectTimeoutMs', a.connectTimeout),
  );
  set(
    'drainTimeoutMs',
    a.drainTimeout === undefined ? undefined : parseDuration('drainTimeoutMs', a.drainTimeout),
  );
  return o;
}

// ---------------------------------------------------------------------------
// the expected bytes

const nameOf = (client: number, inc: number): string => `c${client}.${inc}`;

/** The text of chat `msg` of client `client`, incarnation `inc`: a prefix saying whose, then seeded bytes. */
function chatText(seed: number, client: number, inc: number, msg: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  b.writeUInt32LE(client, 0);
  b.writeUInt32LE(inc, 4);
  b.writeUInt32LE(msg, 8);
  let h = mix32(seed, client, mix32(inc, msg));
  for (let k = TEXT_PREFIX; k < len; k++) {
    if ((k & 3) === 0) h = mix32(h, k);
    b[k] = 0x20 + ((h >>> ((k & 3) * 8)) % 95); // printable ASCII
  }
  return b;
}

// ---------------------------------------------------------------------------
// the run

const enum St {
  Idle,
  Connecting,
  LoggingIn,
  Entering,
  Joined,
  Closing,
  Done,
}

class Client {
  st = St.Idle;
  socket: net.Socket | null = null;
  inc = -1;
  rx: Buffer = Buffer.alloc(0);
  /** Next sequence number expected from the room (after EnterOk). */
  expect = 0;
  /** Own chats sent (this incarnation) and seen back. */
  sent = 0;
  ownBack = 0;
  nextDueMs = 0;
  readonly sentAt = new Float64Array(SENT_RING);
  connectTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly run: ChatRun,
    readonly index: number,
    readonly room: number,
    readonly late: boolean,
  ) {}

  get outstanding(): number {
    return this.sent - this.ownBack;
  }

  connect(): void {
    const run = this.run;
    this.inc++;
    this.rx = Buffer.alloc(0);
    this.sent = 0;
    this.ownBack = 0;
    this.st = St.Connecting;
    const sock = net.connect({ host: run.o.host, port: run.o.port, noDelay: true });
    this.socket = sock;
    this.connectTimer = setTimeout(() => {
      if (this.socket === sock && this.st === St.Connecting) {
        run.fail(this, 'closed', `connect timed out after ${run.o.connectTimeoutMs} ms`);
        sock.destroy();
      }
    }, run.o.connectTimeoutMs);
    sock.on('connect', () => {
      if (this.socket !== sock) return;
      clearTimeout(this.connectTimer!);
      this.st = St.LoggingIn;
      sock.write(loginPacket(nameOf(this.index, this.inc)));
    });
    sock.on('data', (d: Buffer) => {
      if (this.socket === sock) this.onData(d);
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (this.socket !== sock) return;
      clearTimeout(this.connectTimer!);
      this.socket = null;
      if (this.st !== St.Closing && this.st !== St.Done) {
        run.fail(this, 'closed', `the server closed the connection (state ${this.st})`);
      }
      this.st = St.Done;
    });
  }

  private onData(d: Buffer): void {
    this.rx = this.rx.length === 0 ? d : Buffer.concat([this.rx, d]);
    let off = 0;
    const rx = this.rx;
    while (rx.length - off >= HEADER_BYTES) {
      const len = rx.readUInt16LE(off);
      if (rx.length - off < HEADER_BYTES + len) break;
      const type = rx.readUInt16LE(off + 2);
      this.onPacket(type, rx.subarray(off + HEADER_BYTES, off + HEADER_BYTES + len));
      off += HEADER_BYTES + len;
      if (this.socket === null) return;
    }
    this.rx = off === rx.length ? Buffer.alloc(0) : rx.subarray(off);
  }

  private onPacket(type: number, p: Buffer): void {
    const run = this.run;
    const pk = decodeServerPacket(type, p);
    switch (pk.type) {
      case ChatPacket.LoginOk:
        if (this.st !== St.LoggingIn)
          return run.violate(this, 'protocol', 0, 'LoginOk out of turn');
        this.st = St.Entering;
        this.socket!.write(enterPacket(this.room));
        return;
      case ChatPacket.EnterOk:
        if (this.st !== St.Entering || pk.room !== this.room)
          return run.violate(this, 'protocol', 0, `EnterOk for room ${pk.room} out of turn`);
        this.st = St.Joined;
        this.expect = pk.nextSeq;
        run.onJoined(this);
        return;
      case ChatPacket.Broadcast:
        this.onBroadcast(pk.room, pk.seq, p);
        return;
      default:
        run.violate(this, 'protocol', 0, `unexpected packet type 0x${type.toString(16)}`);
    }
  }

  private onBroadcast(room: number, seq: number, p: Buffer): void {
    const run = this.run;
    if (this.st !== St.Joined && this.st !== St.Closing)
      return run.violate(this, 'protocol', seq, 'a broadcast before EnterOk');
    if (room !== this.room)
      return run.violate(
        this,
        'corrupt',
        seq,
        `a broadcast of room ${room} (seq ${seq}) arrived in room ${this.room}: its bytes were another broadcast's`,
      );
    if (seq !== this.expect) {
      const kind: ChatViolationKind = seq < this.expect ? 'duplicate' : 'out-of-order';
      run.violate(
        this,
        kind,
        seq,
        `got seq ${seq}, expected ${this.expect}` +
          (seq < this.expect
            ? ' (already received, or sent out of order)'
            : ' (skipped or out of order)'),
      );
      // Resynchronise so one fault is not reported for every later broadcast.
      if (seq > this.expect) this.expect = seq + 1;
      return;
    }
    this.expect = seq + 1;
    // Rebuild the expected broadcast from the text's prefix, byte for byte.
    const nameLen = p[2]!;
    const textAt = BROADCAST_FIXED_BYTES + nameLen;
    if (p.length < textAt + TEXT_PREFIX)
      return run.violate(this, 'corrupt', seq, `a ${p.length}-byte broadcast is too short`);
    const sender = p.readUInt32LE(textAt);
    const sInc = p.readUInt32LE(textAt + 4);
    const msg = p.readUInt32LE(textAt + 8);
    const textLen = p.length - textAt;
    const okName =
      p.subarray(BROADCAST_FIXED_BYTES, textAt).toString('latin1') === nameOf(sender, sInc);
    const want =
      sender < run.clients.length ? chatText(run.o.seed, sender, sInc, msg, textLen) : null;
    if (
      !okName ||
      want === null ||
      textLen !== run.o.textBytes ||
      !want.equals(p.subarray(textAt))
    ) {
      return run.violate(
        this,
        'corrupt',
        seq,
        `seq ${seq} does not hold the chat it names (c${sender}.${sInc} #${msg}, ${textLen} text bytes)`,
      );
    }
    if (!run.agree(room, seq, sender, sInc, msg)) {
      return run.violate(
        this,
        'inconsistent',
        seq,
        `seq ${seq} carries c${sender}.${sInc} #${msg} here but another chat for another member`,
      );
    }
    run.delivered(sender, sInc, msg);
    if (sender === this.index && sInc === this.inc) {
      if (msg !== this.ownBack)
        run.violate(
          this,
          'own-order',
          seq,
          `own chat #${msg} came back, expected #${this.ownBack}`,
        );
      this.ownBack = Math.max(this.ownBack, msg + 1);
    }
  }

  /** Send chats that are due (rate) or allowed (closed loop). */
  pump(nowMs: number): void {
    const run = this.run;
    if (this.st !== St.Joined || !run.sending) return;
    const o = run.o;
    while (this.outstanding < o.inFlight && (o.messages === 0 || this.sent < o.messages)) {
      if (o.rate > 0) {
        if (nowMs < this.nextDueMs) return;
        this.nextDueMs = Math.max(this.nextDueMs, nowMs - 1000) + 1000 / o.rate;
      }
      const msg = this.sent++;
      this.sentAt[msg % SENT_RING] = performance.now();
      this.socket!.write(chatPacket(chatText(o.seed, this.index, this.inc, msg, o.textBytes)));
      run.chatsSent++;
    }
  }

  reset(): void {
    const sock = this.socket;
    if (sock === null) return;
    this.run.lostToResets += this.outstanding;
    this.socket = null;
    this.st = St.Idle;
    sock.resetAndDestroy();
    this.connect();
  }
}

class ChatRun {
  readonly clients: Client[] = [];
  readonly latency = new Histogram();
  readonly violations: ChatViolation[] = [];
  violationCount = 0;
  readonly violationKinds: Partial<Record<ChatViolationKind, number>> = {};
  chatsSent = 0;
  deliveries = 0;
  broadcasts = 0;
  lostToResets = 0;
  resets = 0;
  failed = 0;
  joined = 0;
  lateJoined = 0;
  sending = true;
  measureStart = 0;
  /** Per room: seq -> (sender, incarnation, msg) packed, for the consistency check. */
  private readonly seqs: Map<number, number>[];
  private readonly random: Random;
  private lastDeliveries = 0;
  private lastProgressMs = 0;

  constructor(readonly o: ResolvedChatLoadOptions) {
    this.random = createRandom(o.seed ^ 0x5eed);
    this.seqs = Array.from({ length: o.rooms }, () => new Map());
    const late = Math.round(o.clients * o.lateJoin);
    for (let i = 0; i < o.clients; i++) {
      // The last `late` clients join late, spread over the rooms like the others.
      this.clients.push(new Client(this, i, i % o.rooms, i >= o.clients - late && o.clients > 1));
    }
  }

  violate(c: Client, kind: ChatViolationKind, seq: number, detail: string): void {
    this.violationCount++;
    this.violationKinds[kind] = (this.violationKinds[kind] ?? 0) + 1;
    if (this.violations.length < MAX_SAMPLES)
      this.violations.push({
        kind,
        client: c.index,
        incarnation: c.inc,
        room: c.room,
        seq,
        detail,
      });
  }

  fail(c: Client, kind: ChatViolationKind, detail: string): void {
    this.failed++;
    this.violate(c, kind, c.expect, detail);
  }

  onJoined(c: Client): void {
    this.joined++;
    if (c.late || c.inc > 0) this.lateJoined++;
  }

  agree(room: number, seq: number, sender: number, inc: number, msg: number): boolean {
    const key = sender * 2 ** 32 + (inc & 0xff) * 2 ** 24 + (msg & 0xffffff);
    const m = this.seqs[room]!;
    const had = m.get(seq);
    if (had === undefined) {
      m.set(seq, key);
      this.broadcasts++;
      if (m.size > SEQ_WINDOW) m.delete(m.keys().next().value!);
      return true;
    }
    return had === key;
  }

  delivered(sender: number, inc: number, msg: number): void {
    this.deliveries++;
    const s = this.clients[sender];
    if (s === undefined || s.inc !== inc || msg >= s.sent || s.sent - msg > SENT_RING) return;
    if (this.measureStart === 0) return;
    this.latency.record((performance.now() - s.sentAt[msg % SENT_RING]!) * 1e6);
  }

  progress(
    elapsedMs: number,
    fraction: number,
    phase: ChatLoadProgress['phase'],
  ): ChatLoadProgress {
    const dt = Math.max(1, elapsedMs - this.lastProgressMs);
    const rate = ((this.deliveries - this.lastDeliveries) * 1000) / dt;
    this.lastDeliveries = this.deliveries;
    this.lastProgressMs = elapsedMs;
    return {
      elapsedMs,
      fraction,
      phase,
      joined: this.clients.filter((c) => c.st === St.Joined).length,
      clients: this.clients.length,
      chatsSent: this.chatsSent,
      deliveries: this.deliveries,
      deliveriesPerSec: rate,
      latencyP50Us: this.latency.count > 0 ? this.latency.valueAtQuantile(0.5) / 1000 : 0,
      latencyP99Us: this.latency.count > 0 ? this.latency.valueAtQuantile(0.99) / 1000 : 0,
      violations: this.violationCount,
    };
  }

  resetOne(): void {
    const live = this.clients.filter((c) => c.st === St.Joined);
    if (live.length === 0) return;
    this.resets++;
    live[this.random.int(live.length)]!.reset();
  }

  /** Every joined member caught up with its room's last broadcast, and got its own chats back. */
  caughtUp(): boolean {
    const last = this.lastSeqs();
    for (const c of this.clients) {
      if (c.st !== St.Joined) continue;
      if (c.ownBack < c.sent) return false;
      if (c.expect < (last[c.room] ?? 0)) return false;
    }
    return true;
  }

  /** Per room, one past the largest sequence number any member received. */
  lastSeqs(): number[] {
    const last = new Array<number>(this.o.rooms).fill(0);
    for (const c of this.clients) {
      if (c.st === St.Joined || c.st === St.Closing)
        last[c.room] = Math.max(last[c.room]!, c.expect);
    }
    return last;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runChatLoad(
  options: ChatLoadOptions,
  hooks: ChatLoadHooks = {},
): Promise<ChatLoadReport> {
  const o = validateChatLoadOptions(options);
  const run = new ChatRun(o);
  const t0 = performance.now();
  const elapsed = (): number => performance.now() - t0;
  let aborted = false;
  const onAbort = (): void => {
    aborted = true;
  };
  hooks.signal?.addEventListener('abort', onAbort);
  if (hooks.signal?.aborted) aborted = true;

  const early = run.clients.filter((c) => !c.late);
  const late = run.clients.filter((c) => c.late);
  const lateAtMs = o.durationMs > 0 ? o.durationMs / 3 : 500;
  let opened = 0;
  let lateOpened = false;
  let resetCarry = 0;
  let lastTick = elapsed();
  let lastProgress = 0;
  const fraction = (): number => {
    if (o.durationMs > 0) return Math.min(1, elapsed() / o.durationMs);
    const want = o.messages * o.clients;
    return want > 0 ? Math.min(1, run.chatsSent / want) : 0;
  };
  // Keep listeners alive against the idle timeout when they send rarely.
  const pingEvery = 10_000;
  let lastPing = 0;

  for (;;) {
    const now = elapsed();
    // Open the early clients over the ramp, the late ones a third in.
    const due = o.rampMs > 0 ? Math.ceil((early.length * now) / o.rampMs) : early.length;
    while (opened < Math.min(due, early.length)) early[opened++]!.connect();
    if (!lateOpened && now >= lateAtMs) {
      lateOpened = true;
      for (const c of late) c.connect();
    }
    if (run.measureStart === 0 && run.clients.some((c) => c.st === St.Joined))
      run.measureStart = performance.now();
    for (const c of run.clients) c.pump(now);
    if (o.resetsPerSec > 0 && run.sending) {
      resetCarry += ((now - lastTick) * o.resetsPerSec) / 1000;
      while (resetCarry >= 1) {
        resetCarry -= 1;
        run.resetOne();
      }
    }
    if (now - lastPing > pingEvery) {
      lastPing = now;
      for (const c of run.clients) if (c.st === St.Joined) c.socket?.write(pingPacket());
    }
    lastTick = now;
    if (hooks.onProgress && now - lastProgress >= o.progressIntervalMs) {
      lastProgress = now;
      hooks.onProgress(run.progress(now, fraction(), 'running'));
    }
    const done =
      aborted ||
      (o.durationMs > 0
        ? now >= o.durationMs
        : lateOpened &&
          run.clients.every(
            (c) => c.st === St.Done || (c.st === St.Joined && c.sent >= o.messages),
          ));
    if (done) break;
    await sleep(TICK_MS);
  }
  const sendStopped = performance.now();
  run.sending = false;
  // Drain: wait until every member caught up with its room and got its own chats back.
  const drainEnd = elapsed() + o.drainTimeoutMs;
  let settled = false;
  while (elapsed() < drainEnd) {
    if (run.caughtUp()) {
      // One more beat: a broadcast in flight to a member another member already has.
      await sleep(50);
      if (run.caughtUp()) {
        settled = true;
        break;
      }
    }
    if (hooks.onProgress && elapsed() - lastProgress >= o.progressIntervalMs) {
      lastProgress = elapsed();
      hooks.onProgress(run.progress(lastProgress, 1, 'draining'));
    }
    await sleep(TICK_MS);
  }
  // Whoever is behind its room now missed broadcasts (or never got its own chats back).
  const last = run.lastSeqs();
  for (const c of run.clients) {
    if (c.st !== St.Joined) continue;
    if (c.expect < last[c.room]!)
      run.violate(
        c,
        'missing',
        c.expect,
        `still at seq ${c.expect}; room ${c.room} reached ${last[c.room]! - 1}`,
      );
    if (c.ownBack < c.sent)
      run.violate(c, 'missing', c.expect, `${c.sent - c.ownBack} of its own chats never came back`);
  }
  void settled;
  // Close everyone and wait for the closes.
  hooks.onProgress?.(run.progress(elapsed(), 1, 'closing'));
  await Promise.all(
    run.clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          const s = c.socket;
          if (s === null) return resolve();
          c.st = St.Closing;
          const timer = setTimeout(() => {
            s.destroy();
            resolve();
          }, 2000);
          s.once('close', () => {
            clearTimeout(timer);
            c.st = St.Done;
            resolve();
          });
          s.end();
        }),
    ),
  );
  hooks.signal?.removeEventListener('abort', onAbort);
  const measuredMs = Math.max(1, sendStopped - (run.measureStart || sendStopped));
  const lat = run.latency;
  const q = (x: number): number => (lat.count > 0 ? lat.valueAtQuantile(x) / 1000 : 0);
  return {
    ok: run.violationCount === 0,
    aborted,
    options: o,
    elapsedMs: elapsed(),
    measuredMs,
    chatsSent: run.chatsSent,
    broadcasts: run.broadcasts,
    deliveries: run.deliveries,
    chatsPerSec: (run.chatsSent * 1000) / measuredMs,
    deliveriesPerSec: (run.deliveries * 1000) / measuredMs,
    latencyUs: {
      count: lat.count,
      p50: q(0.5),
      p99: q(0.99),
      max: lat.count > 0 ? lat.max / 1000 : 0,
    },
    clients: {
      joined: run.joined,
      lateJoined: run.lateJoined,
      resets: run.resets,
      failed: run.failed,
    },
    lostToResets: run.lostToResets,
    violations: {
      count: run.violationCount,
      byKind: { ...run.violationKinds },
      samples: run.violations,
    },
  };
}

// ---------------------------------------------------------------------------
// text

const fmt = (n: number): string =>
  n >= 1e6
    ? `${(n / 1e6).toFixed(2)}M`
    : n >= 1e4
      ? `${(n / 1e3).toFixed(1)}k`
      : `${Math.round(n)}`;
const us = (v: number): string =>
  v >= 1e6
    ? `${(v / 1e6).toFixed(2)} s`
    : v >= 1e3
      ? `${(v / 1e3).toFixed(2)} ms`
      : `${Math.round(v)} us`;

export function formatChatReport(r: ChatLoadReport): string {
  const o = r.options;
  const lines = [
    `target      ${o.host}:${o.port}  ${o.clients} clients in ${o.rooms} rooms, ` +
      `${o.rate > 0 ? `${o.rate} chats/s each` : 'as fast as they can'}, ${o.inFlight} in flight, ${o.textBytes} B` +
      `  (${o.messages > 0 ? `${o.messages} chats each` : `${o.durationMs / 1000} s`}` +
      `${o.lateJoin ? `, ${Math.round(o.lateJoin * 100)}% join late` : ''}` +
      `${o.resetsPerSec ? `, ${o.resetsPerSec} resets/s` : ''}, seed ${o.seed})`,
    `chats       ${r.chatsSent} sent, ${r.broadcasts} broadcast, ${fmt(r.chatsPerSec)}/s`,
    `fan-out     ${r.deliveries} broadcasts delivered and verified, ${fmt(r.deliveriesPerSec)}/s`,
    `latency     p50 ${us(r.latencyUs.p50)}  p99 ${us(r.latencyUs.p99)}  max ${us(r.latencyUs.max)}  (send to each member's receipt)`,
    `clients     ${r.clients.joined} joins (${r.clients.lateJoined} late), ${r.clients.resets} resets ` +
      `(${r.lostToResets} own chats in flight lost), ${r.clients.failed} failed`,
  ];
  const tail = r.aborted ? ' (aborted)' : '';
  lines.push(
    r.ok ? `result      OK${tail}` : `result      FAILED: ${r.violations.count} violations${tail}`,
  );
  for (const v of r.violations.samples) {
    lines.push(`  ${v.kind.padEnd(13)} c${v.client}.${v.incarnation} room ${v.room}: ${v.detail}`);
  }
  if (r.violations.count > r.violations.samples.length)
    lines.push(`  ... ${r.violations.count - r.violations.samples.length} more`);
  return lines.join('\n');
}

function counters(p: ChatLoadProgress): string {
  return (
    `${p.joined}/${p.clients} joined  ${fmt(p.chatsSent)} chats  ${fmt(p.deliveries)} delivered  ` +
    `${fmt(p.deliveriesPerSec)}/s  p50 ${us(p.latencyP50Us)} p99 ${us(p.latencyP99Us)}  violations ${p.violations}`
  );
}

export function formatChatProgressLine(p: ChatLoadProgress): string {
  const pct = `${Math.floor(p.fraction * 100)}%`.padStart(4);
  const phase = p.phase === 'running' ? '' : `  (${p.phase})`;
  return `[${(p.elapsedMs / 1000).toFixed(1).padStart(6)}s] ${pct}  ${counters(p)}${phase}`;
}

export function formatChatProgressBar(p: ChatLoadProgress, columns: number): string {
  const text = ` ${`${Math.floor(p.fraction * 100)}%`.padStart(4)}  ${counters(p)}`;
  const width = Math.max(10, Math.min(30, columns - text.length - 3));
  const filled = Math.round(p.fraction * width);
  const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]${text}`;
  return line.length > columns - 1 ? line.slice(0, Math.max(0, columns - 1)) : line;
}

export { HEADER_BYTES };

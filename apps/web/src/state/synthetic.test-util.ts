// A small deterministic simulation of the reference echo server, producing the
// records an instrumented run would: accept thread, kernel, N workers on one
// completion port (LIFO wake-ups, FIFO queue), sessions that echo `rounds`
// messages and then close. Used by the store tests, the screenshots and the
// e2e fixture writer. Not product code: it lives beside the tests.
//
// Optional faults reproduce classic bugs on chosen sessions so the anomaly
// views have something to show:
// - 'double-decrement': one recv completion decrements IOCount twice.
// - 'no-release': the last decrement is skipped (a zombie session).

import {
  EventKind,
  GapSource,
  INFINITE,
  IoCountCause,
  NO_THREAD,
  Op,
  RECORD_WORDS,
  ThreadRole,
  ThreadStateValue,
  WinError,
  DisconnectReason,
  encodeChunk,
  encodeEvent,
  encodeFileHeader,
  type TraceEvent,
} from '@iocpscope/protocol';

export interface SyntheticOptions {
  sessions: number;
  workers: number;
  concurrency?: number;
  rounds?: number;
  seed?: number;
  /** Session ordinals (0-based) that double-decrement once. */
  doubleDecrement?: number[];
  /** Session ordinals that never drop their last IOCount. */
  noRelease?: number[];
  /** Insert a Gap record after this many events. */
  gapAfter?: number;
  /** Accepts per simulated millisecond. */
  acceptRate?: number;
}

export interface SyntheticTrace {
  records: Uint32Array;
  strings: Array<[number, string]>;
  count: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Action {
  t: number;
  seq: number;
  run(t: number): void;
}

/** Binary min-heap on (t, seq). */
class Heap {
  private a: Action[] = [];
  get size(): number {
    return this.a.length;
  }
  push(x: Action): void {
    const a = this.a;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(a[p]!, a[i]!)) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): Action {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}
const less = (x: Action, y: Action): boolean => x.t < y.t || (x.t === y.t && x.seq < y.seq);

interface Sess {
  id: bigint;
  ord: number;
  count: number;
  roundsLeft: number;
  closing: boolean;
  released: boolean;
  /** One send at a time (the reference server's send flag); echoes wait behind it. */
  sendInFlight: boolean;
  sendPending: boolean;
  /** Handling of this session's completions is serialized (the sim's stand-in for its lock). */
  busyUntil: number;
}

interface Packet {
  s: Sess;
  op: Op;
  bytes: number;
  io: number;
  status: number;
}

export function syntheticEchoTrace(o: SyntheticOptions): SyntheticTrace {
  const rnd = rng(o.seed ?? 1);
  const rounds = o.rounds ?? 3;
  const conc = o.concurrency ?? Math.max(1, Math.floor(o.workers / 2));
  const dd = new Set(o.doubleDecrement ?? []);
  const nr = new Set(o.noRelease ?? []);
  const events: TraceEvent[] = [];
  const strings: Array<[number, string]> = [];
  const str = (s: string): number => {
    strings.push([strings.length + 1, s]);
    return strings.length;
  };
  const ACCEPT = 0;
  const KERNEL = 1;
  const W0 = 2;
  const emit = (e: TraceEvent): void => {
    events.push(e);
  };

  emit({
    kind: EventKind.ThreadStart,
    tsNs: 0,
    tid: ACCEPT,
    role: ThreadRole.Accept,
    nameStr: str('accept'),
    osThreadId: 1000,
  });
  emit({
    kind: EventKind.ThreadStart,
    tsNs: 0,
    tid: KERNEL,
    role: ThreadRole.Kernel,
    nameStr: str('kernel'),
    osThreadId: 0,
  });
  emit({
    kind: EventKind.PortCreated,
    tsNs: 100,
    tid: ACCEPT,
    backend: 0,
    concurrency: conc,
    workerCount: o.workers,
  });
  const heap = new Heap();
  let seq = 0;
  const at = (t: number, run: (t: number) => void): void => heap.push({ t, seq: seq++, run });
  let ioSeq = 1;

  const queue: Packet[] = [];
  const waiting: number[] = [];
  let running = 0;

  const dec = (tid: number, t: number, s: Sess, io: number): number => {
    s.count--;
    emit({
      kind: EventKind.IoCount,
      tsNs: t,
      tid,
      cause: IoCountCause.Completion,
      session: s.id,
      value: s.count,
      delta: -1,
      ioId: io,
    });
    return t + 40;
  };
  const maybeRelease = (tid: number, t: number, s: Sess): number => {
    if (s.count !== 0 || !s.closing || s.released) return t;
    s.released = true;
    emit({ kind: EventKind.SessionReleased, tsNs: t, tid, session: s.id, ioCount: 0 });
    emit({ kind: EventKind.SocketClosed, tsNs: t + 30, tid, session: s.id, socket: 100 + s.ord });
    return t + 60;
  };
  const postRecv = (tid: number, t: number, s: Sess): number => {
    const io = ioSeq++;
    s.count++;
    emit({
      kind: EventKind.IoCount,
      tsNs: t,
      tid,
      cause: IoCountCause.RecvPost,
      session: s.id,
      value: s.count,
      delta: 1,
      ioId: io,
    });
    emit({
      kind: EventKind.IoPosted,
      tsNs: t + 50,
      tid,
      op: Op.Recv,
      bufCount: rnd() < 0.1 ? 2 : 1,
      requestedBytes: 4096,
      session: s.id,
      result: WinError.IoPending,
      ioId: io,
    });
    const last = s.roundsLeft <= 0;
    at(t + 20_000 + rnd() * 180_000, (tq) =>
      complete(tq, { s, op: Op.Recv, bytes: last ? 0 : 64, io, status: 0 }),
    );
    return t + 120;
  };
  const postSend = (tid: number, t: number, s: Sess): number => {
    const io = ioSeq++;
    s.sendInFlight = true;
    s.count++;
    emit({
      kind: EventKind.IoCount,
      tsNs: t,
      tid,
      cause: IoCountCause.SendPost,
      session: s.id,
      value: s.count,
      delta: 1,
      ioId: io,
    });
    emit({
      kind: EventKind.IoPosted,
      tsNs: t + 50,
      tid,
      op: Op.Send,
      bufCount: 1,
      requestedBytes: 64,
      session: s.id,
      result: WinError.IoPending,
      ioId: io,
    });
    at(t + 5_000 + rnd() * 20_000, (tq) =>
      complete(tq, { s, op: Op.Send, bytes: 64, io, status: 0 }),
    );
    return t + 120;
  };
  const complete = (t: number, p: Packet): void => {
    emit({
      kind: EventKind.PacketQueued,
      tsNs: t,
      tid: KERNEL,
      op: p.op,
      bytes: p.bytes,
      key: p.s.id,
      status: p.status,
      ioId: p.io,
    });
    queue.push(p);
    dispatch(t);
  };
  const dispatch = (t: number): void => {
    while (queue.length > 0 && waiting.length > 0 && running < conc) {
      const w = waiting.pop()!;
      handle(w, queue.shift()!, t + 200, true);
    }
  };
  const handle = (w: number, p: Packet, t: number, woke: boolean): void => {
    if (woke) {
      running++;
      emit({
        kind: EventKind.ThreadState,
        tsNs: t,
        tid: w,
        state: ThreadStateValue.Running,
        reason: 0,
        detail: 0,
      });
    }
    const ok = p.status === 0;
    emit({
      kind: EventKind.GqcsReturn,
      tsNs: t + 10,
      tid: w,
      ok,
      hasOverlapped: true,
      op: p.op,
      bytes: p.bytes,
      key: p.s.id,
      error: p.status,
      ioId: p.io,
    });
    const s = p.s;
    // Never overlap two handlers of one session: their events would interleave
    // out of causal order once sorted by time.
    let tt = Math.max(t + 300, s.busyUntil) + rnd() * 3_000;
    if (p.op === Op.Recv) {
      if (p.bytes === 0) {
        s.closing = true;
        emit({
          kind: EventKind.Disconnect,
          tsNs: tt,
          tid: w,
          session: s.id,
          reason: DisconnectReason.PeerClosed,
          error: 0,
        });
        tt += 50;
        if (!nr.has(s.ord)) tt = dec(w, tt, s, p.io);
        tt = maybeRelease(w, tt, s);
      } else {
        s.roundsLeft--;
        if (s.sendInFlight) s.sendPending = true;
        else tt = postSend(w, tt, s);
        tt = postRecv(w, tt, s);
        tt = dec(w, tt, s, p.io);
        if (dd.has(s.ord)) {
          dd.delete(s.ord);
          tt = dec(w, tt, s, p.io);
        }
      }
    } else {
      s.sendInFlight = false;
      if (s.sendPending && !s.closing) {
        s.sendPending = false;
        tt = postSend(w, tt, s);
      }
      tt = dec(w, tt, s, p.io);
      tt = maybeRelease(w, tt, s);
    }
    s.busyUntil = tt;
    at(tt + 200, (tf) => free(w, tf));
  };
  const free = (w: number, t: number): void => {
    emit({ kind: EventKind.GqcsEnter, tsNs: t, tid: w, timeoutMs: INFINITE, maxEntries: 1 });
    if (queue.length > 0 && running <= conc) {
      handle(w, queue.shift()!, t + 50, false);
      return;
    }
    running--;
    emit({
      kind: EventKind.ThreadState,
      tsNs: t + 20,
      tid: w,
      state: ThreadStateValue.Waiting,
      reason: 0,
      detail: 0,
    });
    waiting.push(w);
    dispatch(t + 20);
  };

  for (let k = 0; k < o.workers; k++) {
    const tid = W0 + k;
    emit({
      kind: EventKind.ThreadStart,
      tsNs: 200 + k * 10,
      tid,
      role: ThreadRole.Worker,
      nameStr: str(`worker ${k}`),
      osThreadId: 2000 + k,
    });
    running++;
    at(1_000 + k * 100, (t) => free(tid, t));
  }
  const perMs = o.acceptRate ?? 20;
  for (let k = 0; k < o.sessions; k++) {
    const t0 = 10_000 + (k * 1_000_000) / perMs + rnd() * 5_000;
    at(t0, (t) => {
      const s: Sess = {
        id: (1n << 32n) | BigInt(k + 1),
        ord: k,
        count: 0,
        roundsLeft: rounds,
        closing: false,
        released: false,
        sendInFlight: false,
        sendPending: false,
        busyUntil: 0,
      };
      const peer = str(`10.0.${(k >> 8) & 255}.${k & 255}:${40000 + (k % 20000)}`);
      emit({
        kind: EventKind.ThreadState,
        tsNs: t,
        tid: ACCEPT,
        state: ThreadStateValue.Running,
        reason: 0,
        detail: 0,
      });
      emit({
        kind: EventKind.Accept,
        tsNs: t + 10,
        tid: ACCEPT,
        session: s.id,
        peerStr: peer,
        socket: 100 + k,
      });
      emit({
        kind: EventKind.SessionCreated,
        tsNs: t + 20,
        tid: ACCEPT,
        session: s.id,
        peerStr: peer,
        socket: 100 + k,
        slot: k + 1,
      });
      s.count++;
      emit({
        kind: EventKind.IoCount,
        tsNs: t + 30,
        tid: ACCEPT,
        cause: IoCountCause.AcceptHold,
        session: s.id,
        value: s.count,
        delta: 1,
        ioId: 0,
      });
      const tt = postRecv(ACCEPT, t + 40, s);
      s.count--;
      emit({
        kind: EventKind.IoCount,
        tsNs: tt,
        tid: ACCEPT,
        cause: IoCountCause.AcceptRelease,
        session: s.id,
        value: s.count,
        delta: -1,
        ioId: 0,
      });
      emit({
        kind: EventKind.ThreadState,
        tsNs: tt + 20,
        tid: ACCEPT,
        state: ThreadStateValue.Blocked,
        reason: 5,
        detail: 0,
      });
    });
  }
  let guard = 0;
  while (heap.size > 0 && guard++ < 50_000_000) {
    const a = heap.pop();
    a.run(a.t);
  }
  // Stable sort by time: per-thread sequences are already in order.
  const order = events.map((_, i) => i);
  order.sort((a, b) => events[a]!.tsNs - events[b]!.tsNs || a - b);
  const n = events.length + (o.gapAfter !== undefined ? 1 : 0);
  const records = new Uint32Array(n * RECORD_WORDS);
  let j = 0;
  for (let k = 0; k < order.length; k++) {
    const e = events[order[k]!]!;
    e.tsNs = Math.round(e.tsNs);
    if (o.gapAfter !== undefined && k === o.gapAfter) {
      encodeEvent(records, j++, {
        kind: EventKind.Gap,
        tsNs: e.tsNs,
        tid: NO_THREAD,
        source: GapSource.RingOverflow,
        lost: 1234,
      });
    }
    encodeEvent(records, j++, e);
  }
  return { records, strings, count: n };
}

/** The same trace as .iocptrace bytes, in chunks of `perChunk` events. */
export function syntheticTraceFile(o: SyntheticOptions, perChunk = 4096): Uint8Array {
  const t = syntheticEchoTrace(o);
  return traceFileOf(
    t.records,
    t.strings,
    { workers: o.workers, concurrency: o.concurrency ?? Math.max(1, Math.floor(o.workers / 2)) },
    perChunk,
  );
}

/** Records (and their strings) as .iocptrace bytes, in chunks of `perChunk` events. */
export function traceFileOf(
  records: Uint32Array,
  strings: SyntheticTrace['strings'],
  portConfig: { workers: number; concurrency: number },
  perChunk = 4096,
): Uint8Array {
  const count = records.length / RECORD_WORDS;
  const parts: Uint8Array[] = [
    encodeFileHeader({
      clock: 'monotonic-ns',
      host: 'synthetic',
      backend: 'emulated',
      portConfig,
      startWallMs: 1_700_000_000_000,
      name: 'synthetic echo run',
    }),
  ];
  for (let first = 0; first < count; first += perChunk) {
    const end = Math.min(count, first + perChunk);
    parts.push(
      encodeChunk(
        records.subarray(first * RECORD_WORDS, end * RECORD_WORDS),
        first === 0 ? strings : [],
      ),
    );
  }
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

// The state of a traced IOCP server, folded from its event stream, and written
// out as a v2 Snapshot bracket (FORMAT.md §3.2) on request: what a recording
// started mid-run, a dashboard that joins late, or a client resyncing after a
// gap needs before the live events make sense.
//
// Source-agnostic and pure: it sees only records and strings (the drainer
// thread feeds it every merged batch; a foreign trace's ingest can feed it the
// same way) and imports nothing but the protocol, so it runs in any thread.
//
// What it keeps (and the bracket lists, in this order):
//   - CallSite definitions, the latest PortCreated;
//   - every live thread: its ThreadStart, its state (ThreadState, with `z` = 1
//     for a port thread), and a GqcsEnter for each thread waiting in GQCS, in
//     the order they started waiting (the one released next comes last);
//   - every live session: SessionCreated (its peer), SessionRings, Accept,
//     Disconnect, SocketClosed (as far as they happened), IoCount with cause
//     Snapshot (`x` = the count: the sum of every delta since its creation),
//     and each outstanding operation (posted with result 0 or 997, completion
//     not dequeued yet) as its IoPosted, IoDetail and IoRing;
//   - a session already released whose acceptor has not written its Accept
//     yet (the acceptor is still using it: a server that writes Accept
//     records): SessionCreated then SessionReleased, so that late Accept is
//     judged against the release (the last RELEASED_AWAITING_ACCEPT of them);
//   - the port's queue, in FIFO order (PacketQueued; Pqcs for posted packets);
//   - held locks (LockAcquire).
// Every record of a bracket carries the time of the last record folded in.
//
// Gaps: state a gap may have changed is not given as if it were known. The
// sessions that existed before a gap are left out until released (the bracket
// is then marked partial: Snapshot begin `y` bit 0), a thread whose events were
// lost gets no ThreadState until its next record, and the queue is dropped and
// marked unknown until a port thread goes to sleep in GQCS with spare
// concurrency (which it only does when nothing is queued). A recorder's
// overflow (a Gap on its tid) lasts until that thread's next record, where the
// same happens again.

import {
  EventKind,
  GapSource,
  IoCountCause,
  NO_THREAD,
  Op,
  RECORD_WORDS,
  SnapshotPhase,
  ThreadStateValue,
  type SnapshotReason,
} from '@iocpscope/protocol';

const TWO_32 = 4294967296;
const TS_HI_MASK = 0x1fffff;
const GAP_RING_OVERFLOW: number = GapSource.RingOverflow;
/** Snapshot begin `y` bit 0: events were lost before it; what it omits may exist. */
export const SNAPSHOT_PARTIAL = 1;
/** ThreadState `z` bit 0 inside a bracket: one of the port's threads. */
export const SNAPSHOT_PORT_THREAD = 1;
const MAX_STRINGS = 1 << 20;
/** Released sessions kept (and listed) while their acceptor has not finished with them. */
const RELEASED_AWAITING_ACCEPT = 256;
/** How far from the head of the queue a dequeue is looked for. */
const QUEUE_SCAN = 256;

type Key = number | string;
const keyOf = (lo: number, hi: number): Key => (hi < 0x200000 ? hi * TWO_32 + lo : `${hi}:${lo}`);

/** Records dst[d, d+8) = src[s, s+8) (no subarray: a view per record costs more than the copy). */
function copy8(dst: Uint32Array, d: number, src: Uint32Array, s: number): void {
  for (let k = 0; k < RECORD_WORDS; k++) dst[d + k] = src[s + k]!;
}

/** Free 8-word records and operation entries kept for reuse, at most this many each. */
const POOL_MAX = 4096;

interface ThreadEntry {
  start: Uint32Array;
  state: number;
  reason: number;
  detail: number;
  portThread: boolean;
  /** Its state is known (false after a gap until its next record). */
  known: boolean;
  /** Its GqcsEnter while it is in GQCS, else null. */
  gqcs: Uint32Array | null;
  /** The thread's one GqcsEnter record buffer (gqcs points at it while the thread waits). */
  gqcsBuf: Uint32Array;
  waitSeq: number;
  /**
   * Its recorder overflowed (a Gap on its tid) and it has written nothing
   * since: the loss may go on after the Gap (the drainer places it where the
   * loss began), so the Gap's effects hold again at its next record.
   */
  lossOpen?: boolean;
}

/** An outstanding operation: its IoPosted, IoDetail and IoRing records, as far as written. */
interface OpEntry {
  words: Uint32Array;
  hasDetail: boolean;
  hasRing: boolean;
}

interface SessionEntry {
  /** SessionCreated, or the Accept that made it known. */
  created: Uint32Array;
  createdByAccept: boolean;
  rings: Uint32Array | null;
  accept: Uint32Array | null;
  disconnect: Uint32Array | null;
  closed: Uint32Array | null;
  ioCount: number;
  ops: Map<number, OpEntry>;
  /** Completions dequeued before their IoPosted was written (that record then adds nothing). */
  early: Set<number> | null;
  /** It existed before a gap: its state is not certain. */
  uncertain: boolean;
  /** Its SessionReleased (kept only while its Accept has not come). */
  released: Uint32Array | null;
}

export interface SnapshotBracket {
  /** Snapshot begin, the state records, Snapshot end. */
  records: Uint32Array;
  /** Every string known, for the records that follow too. */
  strings: Array<[number, string]>;
}

export class StateTracker {
  readonly #threads = new Map<number, ThreadEntry>();
  readonly #sessions = new Map<Key, SessionEntry>();
  readonly #queue: Uint32Array[] = [];
  #queueHead = 0;
  #queueUnknown = false;
  readonly #locks = new Map<number, Uint32Array>();
  readonly #sites = new Map<number, Uint32Array>();
  readonly #strings = new Map<number, string>();
  /** Per thread: the session and ioId of its last IoPosted (IoDetail/IoRing follow it). */
  readonly #lastPost = new Map<number, { s: SessionEntry; ioId: number }>();
  #port: Uint32Array | null = null;
  #concurrency = 0;
  #waitSeq = 0;
  #lastTs = 0;
  #uncertainSessions = 0;
  #records = 0;
  /** The server writes Accept records (an acceptor handing sessions over). */
  #acceptsSeen = false;
  /** Keys of released sessions kept for their late Accept, oldest first. */
  readonly #awaitingAccept: Key[] = [];
  /**
   * Reuse (the fold allocates nothing per record once warm): queued packets and
   * held locks leave their 8 words here, completed operations their entry. The
   * snapshot copies what it emits, so nothing outside holds these.
   */
  readonly #freeRecs: Uint32Array[] = [];
  readonly #freeOps: OpEntry[] = [];

  #rec(w: Uint32Array, o: number): Uint32Array {
    const r = this.#freeRecs.pop() ?? new Uint32Array(RECORD_WORDS);
    copy8(r, 0, w, o);
    return r;
  }

  #free(r: Uint32Array): void {
    if (this.#freeRecs.length < POOL_MAX) this.#freeRecs.push(r);
  }

  /** Records folded in so far. */
  get records(): number {
    return this.#records;
  }

  /** Live sessions known (certain or not). */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Packets queued in the port as far as known. */
  get queued(): number {
    return this.#queue.length - this.#queueHead;
  }

  /** A bracket made now would be partial (a gap left something unknown). */
  get partial(): boolean {
    if (this.#uncertainSessions > 0 || this.#queueUnknown) return true;
    for (const t of this.#threads.values()) if (!t.known) return true;
    return false;
  }

  observeStrings(strings: ReadonlyArray<readonly [number, string]>): void {
    for (const [id, s] of strings) {
      if (!this.#strings.has(id) && this.#strings.size >= MAX_STRINGS) {
        this.#strings.delete(this.#strings.keys().next().value as number);
      }
      this.#strings.set(id, s);
    }
  }

  /** Fold whole 8-word records, in stream order. */
  observe(w: Uint32Array): void {
    const n = w.length / RECORD_WORDS;
    for (let i = 0; i < n; i++) this.#one(w, i * RECORD_WORDS);
    this.#records += n;
  }

  #one(w: Uint32Array, o: number): void {
    const w0 = w[o]!;
    const kind = w0 & 0xff;
    const a = (w0 >>> 8) & 0xff;
    const tid = w0 >>> 16;
    this.#lastTs = w[o + 2]! + (w[o + 3]! & TS_HI_MASK) * TWO_32;
    let t: ThreadEntry | undefined;
    if (tid !== NO_THREAD && kind !== EventKind.ThreadStart) {
      t = this.#threads.get(tid);
      if (t?.lossOpen === true && kind !== EventKind.Gap) {
        // Whatever the thread did since its Gap is lost too.
        t.lossOpen = false;
        this.#gap(tid);
      }
      if (t !== undefined && !t.known && kind !== EventKind.Gap) {
        // Writing a record means running again.
        t.known = true;
        t.state = ThreadStateValue.Running;
        t.reason = 0;
        t.detail = 0;
      }
    }
    switch (kind) {
      case EventKind.ThreadStart:
        this.#threads.set(tid, {
          start: w.slice(o, o + RECORD_WORDS),
          state: ThreadStateValue.Running,
          reason: 0,
          detail: 0,
          portThread: false,
          known: true,
          gqcs: null,
          gqcsBuf: new Uint32Array(RECORD_WORDS),
          waitSeq: 0,
        });
        return;
      case EventKind.ThreadExit:
        this.#threads.delete(tid);
        this.#lastPost.delete(tid);
        return;
      case EventKind.ThreadState:
        if (t === undefined) return;
        if (a === ThreadStateValue.Exited) {
          this.#threads.delete(tid);
          return;
        }
        t.state = a;
        t.reason = a === ThreadStateValue.Blocked ? w[o + 1]! : 0;
        t.detail = w[o + 6]!;
        if (a === ThreadStateValue.Waiting && t.gqcs !== null && this.#queueUnknown) {
          this.#maybeQueueKnown();
        }
        return;
      case EventKind.PortCreated:
        this.#port = w.slice(o, o + RECORD_WORDS);
        this.#concurrency = w[o + 1]!;
        return;
      case EventKind.GqcsEnter:
        if (t === undefined) return;
        t.portThread = true;
        copy8(t.gqcsBuf, 0, w, o);
        t.gqcs = t.gqcsBuf;
        t.waitSeq = ++this.#waitSeq;
        t.state = ThreadStateValue.Waiting;
        t.reason = 0;
        t.detail = 0;
        return;
      case EventKind.GqcsReturn:
        if (t !== undefined) {
          t.portThread = true;
          t.gqcs = null;
          t.state = ThreadStateValue.Running;
          t.reason = 0;
        }
        if ((a & 0x30) === 0) return; // FALSE with a NULL overlapped: nothing dequeued
        this.#dequeued(w, o, a);
        return;
      case EventKind.PacketQueued:
        if ((a & 0x0f) === Op.Post) return; // the Pqcs record stands for it
        if (!this.#queueUnknown) this.#queue.push(this.#rec(w, o));
        return;
      case EventKind.Pqcs:
        if (!this.#queueUnknown) this.#queue.push(this.#rec(w, o));
        return;
      case EventKind.IoPosted: {
        const s = this.#sessions.get(keyOf(w[o + 4]!, w[o + 5]!));
        if (s === undefined) return;
        const ioId = w[o + 7]!;
        if (tid !== NO_THREAD) {
          const lp = this.#lastPost.get(tid);
          if (lp !== undefined) {
            lp.s = s;
            lp.ioId = ioId;
          } else this.#lastPost.set(tid, { s, ioId });
        }
        const result = w[o + 6]!;
        if (result !== 0 && result !== 997) return; // failed: no packet will come
        if (s.early !== null && s.early.delete(ioId)) return;
        const op = this.#freeOps.pop() ?? {
          words: new Uint32Array(3 * RECORD_WORDS),
          hasDetail: false,
          hasRing: false,
        };
        copy8(op.words, 0, w, o);
        op.hasDetail = false;
        op.hasRing = false;
        s.ops.set(ioId, op);
        return;
      }
      case EventKind.IoDetail:
      case EventKind.IoRing: {
        const lp = this.#lastPost.get(tid);
        if (lp === undefined || lp.ioId !== w[o + 7]!) return;
        const op = lp.s.ops.get(lp.ioId);
        if (op === undefined) return;
        if (kind === EventKind.IoDetail) {
          copy8(op.words, RECORD_WORDS, w, o);
          op.hasDetail = true;
        } else {
          copy8(op.words, 2 * RECORD_WORDS, w, o);
          op.hasRing = true;
        }
        return;
      }
      case EventKind.IoCount: {
        const s = this.#sessions.get(keyOf(w[o + 4]!, w[o + 5]!));
        if (s === undefined) return;
        if (a === IoCountCause.Snapshot) s.ioCount = w[o + 1]! | 0;
        else s.ioCount += w[o + 6]! | 0;
        return;
      }
      case EventKind.SessionCreated:
      case EventKind.Accept: {
        const k = keyOf(w[o + 4]!, w[o + 5]!);
        const known = this.#sessions.get(k);
        if (kind === EventKind.Accept) this.#acceptsSeen = true;
        if (kind === EventKind.Accept && known !== undefined) {
          if (known.released !== null) {
            // The late Accept of a released session: done with it now.
            this.#sessions.delete(k);
            return;
          }
          known.accept = w.slice(o, o + RECORD_WORDS);
          return;
        }
        if (known?.uncertain) this.#uncertainSessions--;
        const rec = w.slice(o, o + RECORD_WORDS);
        this.#sessions.set(k, {
          created: rec,
          createdByAccept: kind === EventKind.Accept,
          rings: null,
          accept: kind === EventKind.Accept ? rec : null,
          disconnect: null,
          closed: null,
          ioCount: 0,
          ops: new Map(),
          early: null,
          uncertain: false,
          released: null,
        });
        return;
      }
      case EventKind.SessionRings:
      case EventKind.Disconnect:
      case EventKind.SocketClosed: {
        const s = this.#sessions.get(keyOf(w[o + 4]!, w[o + 5]!));
        if (s === undefined) return;
        const rec = w.slice(o, o + RECORD_WORDS);
        if (kind === EventKind.SessionRings) s.rings = rec;
        else if (kind === EventKind.Disconnect) s.disconnect ??= rec;
        else s.closed ??= rec;
        return;
      }
      case EventKind.SessionReleased: {
        const k = keyOf(w[o + 4]!, w[o + 5]!);
        const s = this.#sessions.get(k);
        if (s === undefined || s.released !== null) return;
        if (s.uncertain) {
          this.#uncertainSessions--;
          this.#sessions.delete(k);
          return;
        }
        if (this.#acceptsSeen && s.accept === null) {
          // Its acceptor is not done with it: keep it, released, for that Accept.
          s.released = w.slice(o, o + RECORD_WORDS);
          s.ops.clear();
          this.#awaitingAccept.push(k);
          while (this.#awaitingAccept.length > RELEASED_AWAITING_ACCEPT) {
            const old = this.#awaitingAccept.shift()!;
            if (this.#sessions.get(old)?.released) this.#sessions.delete(old);
          }
          return;
        }
        this.#sessions.delete(k);
        return;
      }
      case EventKind.LockWait:
        if (t === undefined) return;
        t.state = ThreadStateValue.Blocked;
        t.reason = 1; // BlockReason.Lock
        t.detail = w[o + 1]!;
        return;
      case EventKind.LockAcquire:
        if (t !== undefined && t.state === ThreadStateValue.Blocked && t.reason === 1) {
          t.state = ThreadStateValue.Running;
          t.reason = 0;
          t.detail = 0;
        }
        {
          const held = this.#locks.get(w[o + 1]!);
          if (held !== undefined) copy8(held, 0, w, o);
          else this.#locks.set(w[o + 1]!, this.#rec(w, o));
        }
        return;
      case EventKind.LockRelease: {
        const held = this.#locks.get(w[o + 1]!);
        if (held !== undefined && held[0]! >>> 16 === tid) {
          this.#locks.delete(w[o + 1]!);
          this.#free(held);
        }
        return;
      }
      case EventKind.CallSite:
        if (!this.#sites.has(w[o + 4]!)) this.#sites.set(w[o + 4]!, w.slice(o, o + RECORD_WORDS));
        return;
      case EventKind.Gap:
        this.#gap(tid);
        if (t !== undefined && a === GAP_RING_OVERFLOW) t.lossOpen = true;
        return;
      default:
        return;
    }
  }

  /** A GqcsReturn that dequeued a packet: off the queue, and its operation is no longer outstanding. */
  #dequeued(w: Uint32Array, o: number, a: number): void {
    const lo = w[o + 4]!;
    const hi = w[o + 5]!;
    const ioId = w[o + 7]!;
    const q = this.#queue;
    const end = Math.min(q.length, this.#queueHead + QUEUE_SCAN);
    for (let k = this.#queueHead; k < end; k++) {
      const p = q[k]!;
      if (p[7] === ioId && p[4] === lo && p[5] === hi) {
        // Entries before the head are never read again: its words can go back.
        this.#free(p);
        if (k === this.#queueHead) {
          this.#queueHead++;
          if (this.#queueHead > 1024 && this.#queueHead * 2 > q.length) {
            q.splice(0, this.#queueHead);
            this.#queueHead = 0;
          }
        } else {
          q.splice(k, 1);
        }
        break;
      }
    }
    if ((a & 0x20) === 0) return; // a PQCS packet with a NULL overlapped
    const op = a & 0x0f;
    if (op !== Op.Recv && op !== Op.Send && op < Op.Accept) return;
    const s = this.#sessions.get(keyOf(lo, hi));
    if (s === undefined) return;
    const entry = s.ops.get(ioId);
    if (entry === undefined) (s.early ??= new Set()).add(ioId);
    else {
      s.ops.delete(ioId);
      if (this.#freeOps.length < POOL_MAX) this.#freeOps.push(entry);
    }
  }

  #gap(tid: number): void {
    for (const [k, s] of this.#sessions) {
      if (s.released !== null) {
        this.#sessions.delete(k);
        continue;
      }
      if (!s.uncertain) {
        s.uncertain = true;
        this.#uncertainSessions++;
      }
    }
    this.#queue.length = 0;
    this.#queueHead = 0;
    this.#queueUnknown = true;
    this.#locks.clear();
    for (const [k, t] of this.#threads) {
      if (tid !== NO_THREAD && k !== tid) continue;
      t.known = false;
      t.gqcs = null;
    }
  }

  /** A port thread went to sleep in GQCS: if none is unknown and concurrency was spare, nothing was queued. */
  #maybeQueueKnown(): void {
    if (this.#concurrency <= 0) return;
    let running = 0;
    for (const t of this.#threads.values()) {
      if (!t.known) return;
      if (t.portThread && t.state === ThreadStateValue.Running) running++;
    }
    if (running >= this.#concurrency) return;
    this.#queue.length = 0;
    this.#queueHead = 0;
    this.#queueUnknown = false;
  }

  /** The state now, as a bracket with `reason` (SnapshotReason). */
  snapshot(reason: SnapshotReason): SnapshotBracket {
    const out: Uint32Array[] = [];
    const ts = this.#lastTs;
    const add = (rec: Uint32Array, at = 0): void => {
      const c = rec.slice(at, at + RECORD_WORDS);
      c[2] = ts % TWO_32;
      c[3] = (Math.floor(ts / TWO_32) & TS_HI_MASK) | (c[3]! & ~TS_HI_MASK);
      out.push(c);
    };
    const make = (
      kind: number,
      a: number,
      tid: number,
      x: number,
      lo: number,
      hi: number,
      y: number,
      z: number,
    ): Uint32Array =>
      Uint32Array.of(
        (kind & 0xff) | ((a & 0xff) << 8) | ((tid & 0xffff) << 16),
        x >>> 0,
        0,
        0,
        lo >>> 0,
        hi >>> 0,
        y >>> 0,
        z >>> 0,
      );

    for (const site of this.#sites.values()) add(site);
    if (this.#port !== null) add(this.#port);
    const threads = [...this.#threads.entries()].sort((x, y) => x[0] - y[0]);
    for (const [tid, t] of threads) {
      add(t.start);
      if (!t.known) continue;
      add(
        make(
          EventKind.ThreadState,
          t.state,
          tid,
          t.state === ThreadStateValue.Blocked ? t.reason : 0,
          0,
          0,
          t.detail,
          t.portThread ? SNAPSHOT_PORT_THREAD : 0,
        ),
      );
    }
    const waiting = threads
      .filter(([, t]) => t.known && t.gqcs !== null)
      .sort((x, y) => x[1].waitSeq - y[1].waitSeq);
    for (const [, t] of waiting) add(t.gqcs!);
    for (const s of this.#sessions.values()) {
      if (s.uncertain) continue;
      // SessionCreated, or the Accept it is known by (a server that writes Accept first).
      const c = s.created;
      add(c);
      if (s.released !== null) {
        add(s.released);
        continue;
      }
      if (s.rings !== null) add(s.rings);
      if (s.accept !== null && !s.createdByAccept) add(s.accept);
      if (s.disconnect !== null) add(s.disconnect);
      if (s.closed !== null) add(s.closed);
      add(make(EventKind.IoCount, IoCountCause.Snapshot, NO_THREAD, s.ioCount, c[4]!, c[5]!, 0, 0));
      const ops = [...s.ops.entries()].sort((x, y) => x[0] - y[0]);
      for (const [, op] of ops) {
        add(op.words, 0);
        if (op.hasDetail) add(op.words, RECORD_WORDS);
        if (op.hasRing) add(op.words, 2 * RECORD_WORDS);
      }
    }
    for (let k = this.#queueHead; k < this.#queue.length; k++) add(this.#queue[k]!);
    for (const l of this.#locks.values()) add(l);

    const n = out.length;
    const words = new Uint32Array((n + 2) * RECORD_WORDS);
    const flags = this.partial ? SNAPSHOT_PARTIAL : 0;
    const begin = make(EventKind.Snapshot, SnapshotPhase.Begin, NO_THREAD, reason, 0, 0, flags, 0);
    const endRec = make(EventKind.Snapshot, SnapshotPhase.End, NO_THREAD, reason, 0, 0, n, 0);
    for (const r of [begin, endRec]) {
      r[2] = ts % TWO_32;
      r[3] = Math.floor(ts / TWO_32) & TS_HI_MASK;
    }
    words.set(begin, 0);
    for (let k = 0; k < n; k++) words.set(out[k]!, (k + 1) * RECORD_WORDS);
    words.set(endRec, (n + 1) * RECORD_WORDS);
    return { records: words, strings: [...this.#strings.entries()] };
  }
}

/** Rewrite the reason of a bracket made by StateTracker.snapshot (both its ends), in place. */
export function setSnapshotReason(records: Uint32Array, reason: SnapshotReason): void {
  const n = records.length / RECORD_WORDS;
  if (n < 2) return;
  records[1] = reason;
  records[(n - 1) * RECORD_WORDS + 1] = reason;
}

/**
 * Wrap structural records (a feed's older snapshot(): threads and the port) in
 * a bracket marked partial, for a request that comes after the stream ended.
 */
export function partialBracket(records: Uint32Array, reason: SnapshotReason): Uint32Array {
  const n = records.length / RECORD_WORDS;
  const ts =
    n > 0
      ? records[(n - 1) * RECORD_WORDS + 2]! +
        (records[(n - 1) * RECORD_WORDS + 3]! & TS_HI_MASK) * TWO_32
      : 0;
  const out = new Uint32Array((n + 2) * RECORD_WORDS);
  const lo = ts % TWO_32;
  const hi = Math.floor(ts / TWO_32) & TS_HI_MASK;
  out.set([EventKind.Snapshot | (NO_THREAD << 16), reason, lo, hi, 0, 0, SNAPSHOT_PARTIAL, 0], 0);
  out.set(records, RECORD_WORDS);
  out.set(
    [EventKind.Snapshot | (SnapshotPhase.End << 8) | (NO_THREAD << 16), reason, lo, hi, 0, 0, n, 0],
    (n + 1) * RECORD_WORDS,
  );
  for (let k = 1; k <= n; k++) {
    out[k * RECORD_WORDS + 2] = lo;
    out[k * RECORD_WORDS + 3] = (out[k * RECORD_WORDS + 3]! & ~TS_HI_MASK) | hi;
  }
  return out;
}

// Folds a live event stream into per-session and per-thread facts, and lists
// every violation of the lifetime invariants the integration tests demand
// (iocp-model.md §3, bugs 1, 2, 10): one SessionCreated and exactly one
// SessionReleased per SessionID, IOCount never below 0 and back at 0 when
// released, the IoCount records chaining from 0 (below), no event for a session
// after its release, every worker and the accept thread exited.
//
// IoCount chain: each IoCount record is one atomic add, the transition
// (value - delta) -> value. The echo core records after its add, so two
// workers changing one session at nearly the same time may record their
// transitions in the other order; the true order is still a chain from 0.
// The checker links transitions as they chain and allows some to wait for
// their predecessor (MAX_UNCHAINED); one that never chains is an error. A
// thread preempted between its add and its record (a loaded 2-core CI box:
// seen with 5 waiting) lets the others go on changing the count meanwhile, so
// the bound is generous; the end-of-run balance (closedLoops) still catches a
// change that is wrong.

import {
  EventKind,
  Op,
  RECORD_WORDS,
  ThreadRole,
  aAt,
  kindAt,
  sessionAt,
  tidAt,
  tsAt,
  xAt,
  yAt,
} from '@iocpscope/protocol';

/** Transitions that may wait for their predecessor (records of racing threads). */
const MAX_UNCHAINED = 64;

export interface SessionFacts {
  /** Sends posted and not yet dequeued, now and at most. */
  sendsOutstanding: number;
  maxSendsOutstanding: number;
  recvPosts: number;
  /** Recv completions dequeued with 0 bytes (graceful close). */
  zeroByteRecvs: number;
  /** Index (in records seen) of the Accept and SessionReleased events, -1 if none. */
  acceptAt: number;
  releasedAt: number;
  created: number;
  released: number;
  ioCount: number;
  minIoCount: number;
  /** End of the IoCount chain so far, and transitions waiting for their predecessor. */
  chainAt: number;
  /** Every value the chain has passed through. */
  visited: Set<number>;
  unchained: Array<readonly [from: number, to: number]>;
  eventsAfterRelease: number;
  disconnects: number;
  disconnectReasons: number[];
}

export class TraceChecker {
  readonly sessions = new Map<bigint, SessionFacts>();
  readonly threads = new Map<
    number,
    { role: number; name: number; exited: boolean; exitCode: number }
  >();
  records = 0;
  gaps = 0;
  lockWaits = 0;
  lockAcquires = 0;
  /** Sends posted while the posting thread held a lock. */
  sendsUnderLock = 0;
  /**
   * Holds of a lock during which its holder posted a WSASend while another
   * thread waited for that lock (LockWait during the hold, the waiter blocked
   * until the release): the cost of bug 16, not just its shape.
   */
  sendingHoldsWaitedFor = 0;
  /** LockWait records whose thread then recorded ThreadState Blocked (Lock) before its LockAcquire. */
  blockedWaits = 0;
  private readonly locksHeld = new Map<number, number>();
  /** lockId -> the current hold: holder, whether it sent, who waited meanwhile. */
  private readonly holds = new Map<
    number,
    { tid: number; sent: boolean; waiters: Set<number>; counted: boolean }
  >();
  /** Threads that recorded LockWait and have not acquired yet. */
  private readonly waiting = new Map<number, boolean>();
  lastTs = 0;
  outOfOrder = 0;
  readonly ledgerErrors: string[] = [];

  readonly onBatch = (w: Uint32Array): void => {
    const n = w.length / RECORD_WORDS;
    for (let i = 0; i < n; i++) this.add(w, i);
  };

  private session(id: bigint): SessionFacts {
    let s = this.sessions.get(id);
    if (!s) {
      s = {
        sendsOutstanding: 0,
        maxSendsOutstanding: 0,
        recvPosts: 0,
        zeroByteRecvs: 0,
        acceptAt: -1,
        releasedAt: -1,
        created: 0,
        released: 0,
        ioCount: 0,
        chainAt: 0,
        visited: new Set([0]),
        unchained: [],
        minIoCount: 0,
        eventsAfterRelease: 0,
        disconnects: 0,
        disconnectReasons: [],
      };
      this.sessions.set(id, s);
    }
    return s;
  }

  private add(w: Uint32Array, i: number): void {
    this.records++;
    const ts = tsAt(w, i);
    if (ts < this.lastTs) this.outOfOrder++;
    this.lastTs = ts;
    const k = kindAt(w, i);
    switch (k) {
      case EventKind.ThreadStart:
        this.threads.set(tidAt(w, i), {
          role: aAt(w, i),
          name: xAt(w, i),
          exited: false,
          exitCode: -1,
        });
        return;
      case EventKind.ThreadExit: {
        const t = this.threads.get(tidAt(w, i));
        if (t) {
          t.exited = true;
          t.exitCode = xAt(w, i);
        }
        return;
      }
      case EventKind.Gap:
        this.gaps += xAt(w, i) + yAt(w, i) * 2 ** 32;
        return;
      case EventKind.SessionCreated:
        this.session(sessionAt(w, i)).created++;
        return;
      case EventKind.LockWait: {
        this.lockWaits++;
        const h = this.holds.get(xAt(w, i));
        if (h !== undefined && h.tid !== tidAt(w, i)) {
          h.waiters.add(tidAt(w, i));
          this.countHold(h);
        }
        this.waiting.set(tidAt(w, i), false);
        return;
      }
      case EventKind.ThreadState:
        if (aAt(w, i) === 2 && xAt(w, i) === 1 && this.waiting.has(tidAt(w, i))) {
          this.waiting.set(tidAt(w, i), true);
        }
        return;
      case EventKind.LockAcquire:
        this.lockAcquires++;
        this.locksHeld.set(tidAt(w, i), (this.locksHeld.get(tidAt(w, i)) ?? 0) + 1);
        if (this.waiting.get(tidAt(w, i)) === true) this.blockedWaits++;
        this.waiting.delete(tidAt(w, i));
        this.holds.set(xAt(w, i), {
          tid: tidAt(w, i),
          sent: false,
          waiters: new Set(),
          counted: false,
        });
        return;
      case EventKind.LockRelease:
        this.locksHeld.set(tidAt(w, i), (this.locksHeld.get(tidAt(w, i)) ?? 1) - 1);
        this.holds.delete(xAt(w, i));
        return;
      case EventKind.GqcsReturn: {
        if ((aAt(w, i) & 0x20) === 0) return; // no overlapped
        const s = this.session(sessionAt(w, i));
        const op = aAt(w, i) & 0x0f;
        if (op === Op.Send) s.sendsOutstanding--;
        else if (op === Op.Recv && (aAt(w, i) & 0x10) !== 0 && xAt(w, i) === 0) s.zeroByteRecvs++;
        return;
      }
      case EventKind.IoCount:
      case EventKind.Disconnect:
      case EventKind.SocketClosed:
      case EventKind.SessionReleased:
      case EventKind.Accept:
      case EventKind.IoPosted:
        break;
      default:
        return;
    }
    const id = sessionAt(w, i);
    const s = this.session(id);
    if (s.released > 0 && k !== EventKind.SessionReleased) s.eventsAfterRelease++;
    if (k === EventKind.IoPosted) {
      const op = aAt(w, i) & 0x0f;
      const result = yAt(w, i);
      const issued = result === 0 || result === 997;
      if (op === Op.Recv) s.recvPosts++;
      if (op === Op.Send && issued) {
        s.sendsOutstanding++;
        s.maxSendsOutstanding = Math.max(s.maxSendsOutstanding, s.sendsOutstanding);
        if ((this.locksHeld.get(tidAt(w, i)) ?? 0) > 0) this.sendsUnderLock++;
        for (const h of this.holds.values()) {
          if (h.tid !== tidAt(w, i)) continue;
          h.sent = true;
          this.countHold(h);
        }
      }
    } else if (k === EventKind.Accept) {
      s.acceptAt = this.records;
    } else if (k === EventKind.IoCount) {
      const value = xAt(w, i) | 0;
      const delta = yAt(w, i) | 0;
      s.ioCount += delta;
      s.unchained.push([value - delta, value]);
      for (let linked = true; linked;) {
        linked = false;
        const at = s.unchained.findIndex(([from]) => from === s.chainAt);
        if (at >= 0) {
          s.chainAt = s.unchained[at]![1];
          s.visited.add(s.chainAt);
          s.unchained.splice(at, 1);
          linked = true;
        }
      }
      if (s.unchained.length > MAX_UNCHAINED && this.ledgerErrors.length < 20) {
        this.ledgerErrors.push(
          `session ${id.toString(16)}: IoCount says ${value} (delta ${delta}), but the chain of ` +
            `its changes is at ${s.chainAt}: ${s.unchained.length} changes do not follow from it`,
        );
        s.unchained.length = 0;
        s.chainAt = value;
      }
      s.minIoCount = Math.min(s.minIoCount, value);
    } else if (k === EventKind.SessionReleased) {
      s.released++;
      if (s.releasedAt < 0) s.releasedAt = this.records;
      if ((xAt(w, i) | 0) !== 0 && this.ledgerErrors.length < 20) {
        this.ledgerErrors.push(`session ${id.toString(16)} released with IOCount ${xAt(w, i) | 0}`);
      }
    } else if (k === EventKind.Disconnect) {
      s.disconnects++;
      s.disconnectReasons.push(aAt(w, i));
    }
  }

  private countHold(h: { sent: boolean; waiters: Set<number>; counted: boolean }): void {
    if (h.counted || !h.sent || h.waiters.size === 0) return;
    h.counted = true;
    this.sendingHoldsWaitedFor++;
  }

  /** Every violation of the clean-run invariants, in words. */
  violations(): string[] {
    const out: string[] = [...this.ledgerErrors];
    if (this.gaps > 0)
      out.push(`${this.gaps} records lost (ring overflow): the ledger cannot be checked`);
    if (this.outOfOrder > 0) out.push(`${this.outOfOrder} records out of timestamp order`);
    for (const [id, s] of this.sessions) {
      const name = id.toString(16);
      if (s.created !== 1) out.push(`session ${name} created ${s.created} times`);
      if (s.released !== 1) out.push(`session ${name} released ${s.released} times`);
      if (s.ioCount !== 0) out.push(`session ${name} ends with IOCount ${s.ioCount}`);
      if (s.unchained.length > 0 && !closedLoops(s.unchained, s.visited))
        out.push(
          `session ${name}: IoCount changes ${s.unchained.map(([f, t]) => `${f}->${t}`).join(', ')} ` +
            `never follow from the chain (at ${s.chainAt})`,
        );
      if (s.minIoCount < 0) out.push(`session ${name} IOCount went to ${s.minIoCount}`);
      if (s.eventsAfterRelease > 0)
        out.push(`session ${name} has ${s.eventsAfterRelease} events after its release`);
      if (s.disconnects > 1) out.push(`session ${name} disconnected ${s.disconnects} times`);
    }
    for (const [tid, t] of this.threads) {
      if (!t.exited) out.push(`thread ${tid} (role ${t.role}) never exited`);
      else if (t.role === ThreadRole.Worker && t.exitCode !== 0)
        out.push(`worker ${tid} exited with ${t.exitCode}`);
    }
    return out.slice(0, 50);
  }

  /** Sessions matching a predicate. */
  where(pred: (s: SessionFacts) => boolean): number {
    let n = 0;
    for (const s of this.sessions.values()) if (pred(s)) n++;
    return n;
  }

  count(role: number): number {
    return [...this.threads.values()].filter((t) => t.role === role).length;
  }
}

/**
 * Changes the greedy chain left over are still a consistent history when they
 * form closed loops (every value left as often as entered) each touching a
 * value the chain passed through: 3->4, 4->3 taken first leaves 4->5, 5->4,
 * which happened while the count was 4 (two records stamped in the other order
 * than their CAS succeeded, as the tracer test bounds).
 */
function closedLoops(
  edges: ReadonlyArray<readonly [number, number]>,
  visited: ReadonlySet<number>,
): boolean {
  const degree = new Map<number, number>();
  const parent = new Map<number, number>();
  const find = (v: number): number => {
    let r = v;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    parent.set(v, r);
    return r;
  };
  for (const [f, t] of edges) {
    degree.set(f, (degree.get(f) ?? 0) + 1);
    degree.set(t, (degree.get(t) ?? 0) - 1);
    if (!parent.has(f)) parent.set(f, f);
    if (!parent.has(t)) parent.set(t, t);
    parent.set(find(f), find(t));
  }
  for (const d of degree.values()) if (d !== 0) return false;
  const anchored = new Set<number>();
  for (const v of parent.keys()) if (visited.has(v)) anchored.add(find(v));
  for (const v of parent.keys()) if (!anchored.has(find(v))) return false;
  return true;
}

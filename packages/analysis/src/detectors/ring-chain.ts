// The ring-buffer pointer chain shared by rules 7 and 15: from each post's
// IoRing (v2: where its WSABUF[0] starts in RecvQ or SendQ) and the bytes its
// completion reported, where the next post of the same ring must start. A
// recv's WSABUF[0] starts at RecvQ's rear, which only recv completions move
// (by the bytes received); a send's starts at SendQ's front, which only send
// completions move (by the bytes sent). So for two posts in a row on one
// ring, next.off0 = (prev.off0 + prev.bytes) mod capacity. A session starts
// with both pointers at 0.
//
// Records may come late: a post's IoRing is written when its call returns, so
// the completion (and the next post, made by whoever handled it) can be in
// the trace before it. A check whose previous post has no IoRing yet waits for
// it. A previous post still in flight (two at once: rule 4's and 6's bug) or
// failed (the session is going away) ends the chain there: nothing is judged.

import * as proto from '../proto.ts';
import type { SessionId } from '../ids.ts';
import type { SessionState } from '../state.ts';
import type { Ctx } from './common.ts';

const { EventKind, IoCountCause, Op } = proto;

interface Post {
  ioId: number;
  /** WSABUF[0]'s offset in the ring, -1 until its IoRing. */
  off0: number;
  /** Bytes the completion reported, -1 until dequeued. */
  bytes: number;
  status: number;
  failed: boolean;
  /** Event index of its IoRing (where a finding about it is marked). */
  ringIndex: number;
  /** Posts whose check waits for this one's IoRing. */
  waiters: Post[];
}

/** A mismatch: `post` started at `off0`, but the ring's pointer was at `expected`. */
export interface ChainBreak {
  session: SessionId;
  op: number;
  cap: number;
  ioId: number;
  off0: number;
  expected: number;
  /** The previous post of the ring and its completion. */
  prevIoId: number;
  prevOff0: number;
  prevBytes: number;
  /** Event index of the IoRing that shows the break, and of the previous post's IoRing. */
  index: number;
  prevIndex: number;
}

const KEEP = 6;

export class RingChains {
  private readonly rings = new Map<SessionId, { recv: Post[]; send: Post[] }>();

  constructor(private readonly onBreak: (ctx: Ctx, b: ChainBreak) => void) {}

  clear(): void {
    this.rings.clear();
  }

  /** After a snapshot: the listed posts still in flight, with their IoRing. */
  seed(ctx: Ctx): void {
    this.rings.clear();
    for (const s of ctx.state.sessions.values()) {
      if (!s.complete) continue;
      this.rings.set(s.id, { recv: [], send: [] });
      for (const o of s.ops) {
        if (o.ringOff0 < 0 || (o.op !== Op.Recv && o.op !== Op.Send)) continue;
        this.list(s.id, o.op).push(newPost(o.ioId, o.ringOff0, o.postIndex));
      }
    }
  }

  /** Feed every event; the chain looks at the kinds it needs. */
  onEvent(ctx: Ctx, i: number): void {
    const step = ctx.step;
    const s = step.session;
    switch (step.kind) {
      case EventKind.SessionCreated:
        if (s !== null && s.complete && !s.fromSnapshot) {
          // A new session's rings start empty: both pointers at 0.
          const start = (): Post => ({ ...newPost(0, 0, i), bytes: 0, status: 0 });
          this.rings.set(s.id, { recv: [start()], send: [start()] });
        }
        return;
      case EventKind.SessionReleased:
        if (s !== null) this.rings.delete(s.id);
        return;
      case EventKind.IoCount: {
        const op = step.op;
        if (s === null || op === null || op.incIndex !== i) return;
        const cause = (ctx.words[ctx.o]! >>> 8) & 0xff;
        if (cause !== IoCountCause.RecvPost && cause !== IoCountCause.SendPost) return;
        this.post(s.id, op.op, op.ioId);
        return;
      }
      case EventKind.IoPosted: {
        const op = step.op;
        if (s === null || op === null || op.postIndex !== i) return;
        const p = this.post(s.id, op.op, op.ioId);
        if (p !== null && op.postResult !== 0 && op.postResult !== 997) p.failed = true;
        return;
      }
      case EventKind.IoRing: {
        const op = step.op;
        if (s === null || op === null || op.ringOff0 < 0 || !s.complete) return;
        const list = this.rings.get(s.id)?.[op.op === Op.Send ? 'send' : 'recv'];
        const p = list?.find((x) => x.ioId === op.ioId);
        if (list === undefined || p === undefined || p.off0 >= 0) return;
        p.off0 = op.ringOff0;
        p.ringIndex = i;
        this.check(ctx, s, op.op, list, p);
        for (const w of p.waiters.splice(0)) this.check(ctx, s, op.op, list, w);
        return;
      }
      case EventKind.GqcsReturn: {
        const h = step.handled;
        if (s === null || h === null || !h.hasOverlapped) return;
        const p = this.rings.get(s.id)?.[h.op === Op.Send ? 'send' : 'recv'];
        const x = p?.find((y) => y.ioId === h.ioId);
        if (x === undefined) return;
        x.bytes = h.bytes;
        x.status = h.ok ? 0 : h.error;
        return;
      }
      default:
        return;
    }
  }

  private list(id: SessionId, op: number): Post[] {
    let r = this.rings.get(id);
    if (r === undefined) this.rings.set(id, (r = { recv: [], send: [] }));
    return op === Op.Send ? r.send : r.recv;
  }

  /** The post of this ioId on the session's ring, added if new (only rings being followed). */
  private post(id: SessionId, op: number, ioId: number): Post | null {
    if (op !== Op.Recv && op !== Op.Send) return null;
    const r = this.rings.get(id);
    if (r === undefined) return null;
    const list = op === Op.Send ? r.send : r.recv;
    let p = list.find((x) => x.ioId === ioId);
    if (p === undefined) {
      p = newPost(ioId, -1, -1);
      // Keep ioId order (ioIds are handed out in the order the posts were made).
      let k = list.length;
      while (k > 0 && list[k - 1]!.ioId > ioId) k--;
      list.splice(k, 0, p);
      if (list.length > KEEP) list.splice(0, list.length - KEEP);
    }
    return p;
  }

  private check(ctx: Ctx, s: SessionState, op: number, list: Post[], p: Post): void {
    const cap = op === Op.Send ? s.sendCap : s.recvCap;
    if (cap <= 0 || p.off0 < 0) return;
    const k = list.indexOf(p);
    if (k <= 0) return;
    const prev = list[k - 1]!;
    if (prev.failed) return;
    if (prev.off0 < 0) {
      if (!prev.waiters.includes(p)) prev.waiters.push(p);
      return;
    }
    // Still in flight (two at once), or it failed: the chain ends here.
    if (prev.bytes < 0 || prev.status !== 0) return;
    const expected = (prev.off0 + prev.bytes) % cap;
    if (p.off0 === expected) return;
    this.onBreak(ctx, {
      session: s.id,
      op,
      cap,
      ioId: p.ioId,
      off0: p.off0,
      expected,
      prevIoId: prev.ioId,
      prevOff0: prev.off0,
      prevBytes: prev.bytes,
      index: p.ringIndex,
      prevIndex: prev.ringIndex,
    });
  }
}

function newPost(ioId: number, off0: number, ringIndex: number): Post {
  return { ioId, off0, bytes: -1, status: -1, failed: false, ringIndex, waiters: [] };
}

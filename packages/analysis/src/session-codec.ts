// A compact, exact encoding of SessionState into an append-only Int32 arena, for
// checkpoints: about a third of the memory of the objects. Every field round-
// trips exactly: event indices and small numbers as int32 (a trace is limited to
// 2^31 events), u32 values as their bit patterns, "-1 = not seen" sentinels of
// u32 fields through a flag word, byte totals up to 2^53 as two words.

import { AnalysisError } from './errors.ts';
import type { Op } from './proto.ts';
import type { HoldEntry, OpState, SessionLifecycle, SessionState } from './state.ts';

const LIFECYCLES: SessionLifecycle[] = ['live', 'disconnecting', 'released'];
const TWO_32 = 4294967296;

// Session header layout (words).
const H_LEN = 0;
const H_ID_LO = 1;
const H_ID_HI = 2;
const H_FLAGS = 3; // bit0 slot known, bit1 socket known, bit2 peer known, bit3 complete, bit4 from a snapshot
const H_SLOT = 4;
const H_SOCKET = 5;
const H_PEER = 6;
const H_LIFECYCLE = 7;
const H_IOCOUNT = 8;
const H_REPORTED = 9;
const H_CREATED = 10;
const H_ACCEPT = 11;
const H_CREATOR = 12;
const H_DISC = 13;
const H_DISC_REASON = 14;
const H_DISC_ERROR = 15;
const H_CLOSED = 16;
const H_RELEASED = 17;
const H_RELEASE_COUNT = 18;
const H_ORPHANS = 19;
const H_COMPLETIONS = 20;
const H_RECV_LO = 21;
const H_RECV_HI = 22;
const H_SENT_LO = 23;
const H_SENT_HI = 24;
const H_LAST = 25;
const H_NOPS = 26;
const H_NHOLDS = 27;
const H_NRECENT = 28;
const H_RECV_CAP = 29;
const H_SEND_CAP = 30;
const HEADER = 31;
const OP_WORDS = 22;
const HOLD_WORDS = 3;

/**
 * Append-only Int32 storage in chunks of CHUNK_WORDS words. An offset is
 * chunk * CHUNK_WORDS + position; a record never spans two chunks (one too big
 * for a chunk gets a chunk of its own). The last chunk starts small and doubles
 * (a copy: offsets do not move) up to CHUNK_WORDS, so a small index (a few
 * sessions, or checkpoints far apart) does not pay for a whole 16 MiB chunk;
 * the spare room is at most the last chunk's used size, and trim() drops it.
 */
export const CHUNK_WORDS = 1 << 22;
const FIRST_CHUNK_WORDS = 1 << 12;
const MAX_CHUNKS = 511;

export class Int32Arena {
  private readonly chunks: Int32Array[] = [];
  /** Words used in the last chunk. */
  private pos = CHUNK_WORDS;
  /** Words written (records only, without chunk tails). */
  words = 0;

  /** Room for an n-word record: returns its offset and the chunk to write it into. */
  alloc(n: number): { chunk: Int32Array; at: number; offset: number } {
    const last = this.chunks.length - 1;
    if (last < 0 || this.pos + n > CHUNK_WORDS) {
      if (this.chunks.length >= MAX_CHUNKS) {
        throw new AnalysisError(
          'ANALYSIS_BAD_OPTION',
          'checkpoint arena full (8 GiB): use a larger interval',
        );
      }
      this.chunks.push(new Int32Array(Math.max(FIRST_CHUNK_WORDS, n)));
      this.pos = 0;
    } else if (this.pos + n > this.chunks[last]!.length) {
      // Grow the last chunk in place of itself: positions inside it stay valid.
      const old = this.chunks[last]!;
      let size = Math.max(FIRST_CHUNK_WORDS, old.length * 2);
      while (size < this.pos + n) size *= 2;
      const next = new Int32Array(Math.min(CHUNK_WORDS, size));
      next.set(old.subarray(0, this.pos));
      this.chunks[last] = next;
    }
    const at = this.pos;
    this.pos += n;
    this.words += n;
    return {
      chunk: this.chunks[this.chunks.length - 1]!,
      at,
      offset: (this.chunks.length - 1) * CHUNK_WORDS + at,
    };
  }

  /** Drop the last chunk's spare room (a later alloc grows it again). */
  trim(): void {
    const last = this.chunks.length - 1;
    if (last >= 0 && this.chunks[last]!.length > this.pos) {
      this.chunks[last] = this.chunks[last]!.slice(0, this.pos);
    }
  }

  /** The chunk holding `offset`, and the position inside it. */
  chunkOf(offset: number): Int32Array {
    return this.chunks[Math.floor(offset / CHUNK_WORDS)]!;
  }

  /** Bytes allocated (what the arena costs). */
  get bytes(): number {
    let n = 0;
    for (const c of this.chunks) n += c.byteLength;
    return n;
  }
}

function putOp(d: Int32Array, o: number, op: OpState): void {
  d[o] = op.ioId | 0;
  d[o + 1] = op.op;
  d[o + 2] = op.incIndex;
  d[o + 3] = op.incTid;
  d[o + 4] = op.postIndex;
  d[o + 5] = op.postTid;
  d[o + 6] = op.postResult | 0;
  d[o + 7] = op.requestedBytes | 0;
  d[o + 8] = op.bufCount;
  d[o + 9] = op.queuedIndex;
  d[o + 10] = op.dequeueIndex;
  d[o + 11] = op.dequeueTid;
  d[o + 12] = op.status | 0;
  d[o + 13] = op.bytes | 0;
  d[o + 14] = op.decIndex;
  // Which u32 fields hold "not seen" (-1) rather than a value.
  d[o + 15] =
    (op.postResult === -1 ? 1 : 0) |
    (op.status === -1 ? 2 : 0) |
    (op.bytes === -1 ? 4 : 0) |
    (op.overlapped === -1 ? 8 : 0) |
    (op.ringOff0 === -1 ? 16 : 0);
  const ov = op.overlapped === -1 ? 0 : op.overlapped;
  d[o + 16] = (ov % TWO_32) | 0;
  d[o + 17] = Math.floor(ov / TWO_32) | 0;
  d[o + 18] = op.ringOff0 | 0;
  d[o + 19] = op.ringLen0 | 0;
  d[o + 20] = op.ringOff1 | 0;
  d[o + 21] = op.ringAvail | 0;
}

function getOp(d: Int32Array, o: number): OpState {
  const f = d[o + 15]!;
  return {
    ioId: d[o]! >>> 0,
    op: d[o + 1]! as Op,
    incIndex: d[o + 2]!,
    incTid: d[o + 3]!,
    postIndex: d[o + 4]!,
    postTid: d[o + 5]!,
    postResult: f & 1 ? -1 : d[o + 6]! >>> 0,
    requestedBytes: d[o + 7]! >>> 0,
    bufCount: d[o + 8]!,
    queuedIndex: d[o + 9]!,
    dequeueIndex: d[o + 10]!,
    dequeueTid: d[o + 11]!,
    status: f & 2 ? -1 : d[o + 12]! >>> 0,
    bytes: f & 4 ? -1 : d[o + 13]! >>> 0,
    decIndex: d[o + 14]!,
    overlapped: f & 8 ? -1 : (d[o + 16]! >>> 0) + (d[o + 17]! >>> 0) * TWO_32,
    ringOff0: f & 16 ? -1 : d[o + 18]! >>> 0,
    ringLen0: f & 16 ? -1 : d[o + 19]! >>> 0,
    ringOff1: f & 16 ? -1 : d[o + 20]! >>> 0,
    ringAvail: f & 16 ? -1 : d[o + 21]! >>> 0,
  };
}

/** Append `s`; returns its offset. */
export function encodeSession(a: Int32Arena, s: SessionState): number {
  const n = HEADER + OP_WORDS * (s.ops.length + s.recentOps.length) + HOLD_WORDS * s.holds.length;
  const { chunk: d, at: o, offset } = a.alloc(n);
  d[o + H_LEN] = n;
  d[o + H_ID_LO] = Number(s.id & 0xffffffffn) | 0;
  d[o + H_ID_HI] = Number((s.id >> 32n) & 0xffffffffn) | 0;
  d[o + H_FLAGS] =
    (s.slot === -1 ? 0 : 1) |
    (s.socket === -1 ? 0 : 2) |
    (s.peerStr === -1 ? 0 : 4) |
    (s.complete ? 8 : 0) |
    (s.fromSnapshot ? 16 : 0);
  d[o + H_RECV_CAP] = s.recvCap | 0;
  d[o + H_SEND_CAP] = s.sendCap | 0;
  d[o + H_SLOT] = s.slot | 0;
  d[o + H_SOCKET] = s.socket | 0;
  d[o + H_PEER] = s.peerStr | 0;
  d[o + H_LIFECYCLE] = LIFECYCLES.indexOf(s.lifecycle);
  d[o + H_IOCOUNT] = s.ioCount;
  d[o + H_REPORTED] = s.reportedIoCount;
  d[o + H_CREATED] = s.createdIndex;
  d[o + H_ACCEPT] = s.acceptIndex;
  d[o + H_CREATOR] = s.creatorTid;
  d[o + H_DISC] = s.disconnectIndex;
  d[o + H_DISC_REASON] = s.disconnectReason;
  d[o + H_DISC_ERROR] = s.disconnectError | 0;
  d[o + H_CLOSED] = s.socketClosedIndex;
  d[o + H_RELEASED] = s.releasedIndex;
  d[o + H_RELEASE_COUNT] = s.releaseCount;
  d[o + H_ORPHANS] = s.orphanDecrements;
  d[o + H_COMPLETIONS] = s.completions;
  d[o + H_RECV_LO] = (s.recvBytes % TWO_32) | 0;
  d[o + H_RECV_HI] = Math.floor(s.recvBytes / TWO_32);
  d[o + H_SENT_LO] = (s.sentBytes % TWO_32) | 0;
  d[o + H_SENT_HI] = Math.floor(s.sentBytes / TWO_32);
  d[o + H_LAST] = s.lastIndex;
  d[o + H_NOPS] = s.ops.length;
  d[o + H_NHOLDS] = s.holds.length;
  d[o + H_NRECENT] = s.recentOps.length;
  let p = o + HEADER;
  for (const op of s.ops) {
    putOp(d, p, op);
    p += OP_WORDS;
  }
  for (const op of s.recentOps) {
    putOp(d, p, op);
    p += OP_WORDS;
  }
  for (const h of s.holds) {
    d[p] = h.index;
    d[p + 1] = h.cause;
    d[p + 2] = h.tid;
    p += HOLD_WORDS;
  }
  return offset;
}

/** A fresh SessionState from the record at `offset` (copy-on-write mark `rev`). */
export function decodeSession(a: Int32Arena, offset: number, rev: number): SessionState {
  const d = a.chunkOf(offset);
  const o = offset % CHUNK_WORDS;
  const flags = d[o + H_FLAGS]!;
  const nOps = d[o + H_NOPS]!;
  const nHolds = d[o + H_NHOLDS]!;
  const nRecent = d[o + H_NRECENT]!;
  let p = o + HEADER;
  const ops = new Array<OpState>(nOps);
  for (let k = 0; k < nOps; k++, p += OP_WORDS) ops[k] = getOp(d, p);
  const recentOps = new Array<OpState>(nRecent);
  for (let k = 0; k < nRecent; k++, p += OP_WORDS) recentOps[k] = getOp(d, p);
  const holds = new Array<HoldEntry>(nHolds);
  for (let k = 0; k < nHolds; k++, p += HOLD_WORDS)
    holds[k] = { index: d[p]!, cause: d[p + 1]!, tid: d[p + 2]! };
  return {
    id: (BigInt(d[o + H_ID_HI]! >>> 0) << 32n) | BigInt(d[o + H_ID_LO]! >>> 0),
    slot: flags & 1 ? d[o + H_SLOT]! >>> 0 : -1,
    socket: flags & 2 ? d[o + H_SOCKET]! >>> 0 : -1,
    peerStr: flags & 4 ? d[o + H_PEER]! >>> 0 : -1,
    lifecycle: LIFECYCLES[d[o + H_LIFECYCLE]!]!,
    ioCount: d[o + H_IOCOUNT]!,
    reportedIoCount: d[o + H_REPORTED]!,
    createdIndex: d[o + H_CREATED]!,
    acceptIndex: d[o + H_ACCEPT]!,
    creatorTid: d[o + H_CREATOR]!,
    disconnectIndex: d[o + H_DISC]!,
    disconnectReason: d[o + H_DISC_REASON]!,
    disconnectError: d[o + H_DISC_ERROR]! >>> 0,
    socketClosedIndex: d[o + H_CLOSED]!,
    releasedIndex: d[o + H_RELEASED]!,
    releaseCount: d[o + H_RELEASE_COUNT]!,
    ops,
    holds,
    orphanDecrements: d[o + H_ORPHANS]!,
    recentOps,
    completions: d[o + H_COMPLETIONS]!,
    recvBytes: (d[o + H_RECV_LO]! >>> 0) + d[o + H_RECV_HI]! * TWO_32,
    sentBytes: (d[o + H_SENT_LO]! >>> 0) + d[o + H_SENT_HI]! * TWO_32,
    lastIndex: d[o + H_LAST]!,
    complete: (flags & 8) !== 0,
    fromSnapshot: (flags & 16) !== 0,
    recvCap: d[o + H_RECV_CAP]! >>> 0,
    sendCap: d[o + H_SEND_CAP]! >>> 0,
    rev,
  };
}

/** The id halves of the record at `offset`, without decoding it. */
export function idLoAt(a: Int32Arena, offset: number): number {
  return a.chunkOf(offset)[(offset % CHUNK_WORDS) + H_ID_LO]! >>> 0;
}

export function idHiAt(a: Int32Arena, offset: number): number {
  return a.chunkOf(offset)[(offset % CHUNK_WORDS) + H_ID_HI]! >>> 0;
}

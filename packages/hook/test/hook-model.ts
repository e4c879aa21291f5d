// A naive model of what a hook trace must hold, written without
// packages/analysis so the two can disagree. From the decoded records alone:
// - each post (IoPosted) is followed by its IoDetail on the same thread, and by
//   the derived IOCount: a +1 carrying its ioId before it; a -1 after its
//   dequeue, or at once when the call failed (post-failed) or succeeded on a
//   skip-on-success socket (no packet: completion);
// - every accepted post is dequeued exactly once by a GqcsReturn with the same
//   (session, ioId), a failed or at-once-completed one never, and every matched
//   dequeue has its post;
// - an ioId names one post or one PQCS packet in the whole trace (never 0);
// - a session's IoCount records chain (new - delta = the previous value), the
//   count never goes below 0, and its release comes once, at 0, after its
//   socket was closed (SocketClosed) or disconnected (DisconnectEx dequeued);
// - session ids are the socket plus a serial: id & 0xFFFFFFFF is the socket's
//   low 32 bits, id >> 32 the SessionCreated slot, every serial used once;
// - the file ends with a TraceEnd that counts the records before it (ServerExit,
//   or Detached for an attach that detached) and no record was lost.
// An attach that detached (`detached`) may end with posts still pending and
// sessions still open, and may have met completions it could not see (Gap
// records of source Unseen): its posts are dequeued at most once, not exactly.
// It counts what a server's own counters and the load can be compared with.

import { EventKind, Op } from '../../protocol/src/index.ts';
import type { DecodedTrace, Rec } from '../../tracer/test/trace-model.ts';

const ERROR_OPERATION_ABORTED = 995;
/**
 * Errors of an accept/WSAAccept whose listening socket was closed under or before the call
 * (the server stopping), not a client's connection: WSAEINTR (Windows: a blocking call
 * cancelled by closesocket), 995 (Wine 8 for the same), WSAENOTSOCK (called after the close).
 */
const ACCEPT_STOPPED = new Set([10004, ERROR_OPERATION_ABORTED, 10038]);
const ACCEPT_FAILED = /^(?:accept|WSAAccept) failed \((-?\d+)\)$/;
const key = (session: bigint, io: number): string => `${session.toString(16)}:${io}`;

export interface OpCounts {
  recv: number;
  send: number;
  accept: number;
  connect: number;
  disconnect: number;
}

const zero = (): OpCounts => ({ recv: 0, send: 0, accept: 0, connect: 0, disconnect: 0 });
const opKey = (op: number): keyof OpCounts | null =>
  op === Op.Recv
    ? 'recv'
    : op === Op.Send
      ? 'send'
      : op === Op.Accept
        ? 'accept'
        : op === Op.Connect
          ? 'connect'
          : op === Op.Disconnect
            ? 'disconnect'
            : null;

export interface HookTraceSummary {
  posts: OpCounts;
  failedPosts: number;
  /** Posts that completed in the call on a skip-on-success socket (no packet). */
  immediate: OpCounts;
  completions: OpCounts;
  failedCompletions: number;
  /**
   * Dequeued AcceptEx that failed with an error other than 995 (the listening socket
   * closed under it): a client that connected and reset before its accept completed,
   * a connection that never became the server's, so it has no session.
   */
  failedAccepts: number;
  /**
   * accept/WSAAccept calls that failed (the hook's Marker "accept failed (N)") with an
   * error that is not the listening socket's close: a client that reset while its
   * connection waited in the backlog, a connection that never became the server's.
   */
  failedAcceptCalls: number;
  /** Every failed accept/WSAAccept call by its error, the listening socket's close too. */
  acceptCallErrors: Map<number, number>;
  /** Dequeues whose OVERLAPPED the hook never saw posted (op None). */
  unmatched: number;
  recvBytes: number;
  sendBytes: number;
  /** Sessions with a peer address: one per connection. */
  connections: number;
  peers: Set<string>;
  /** Sessions named "listening ..." (a listening socket with AcceptEx posted on it). */
  listeners: number;
  sessions: number;
  released: number;
  /** Socket handles that carried more than one session. */
  reusedHandles: number;
  completionModes: number;
  lost: number;
  /** Completions dequeued out of the hook's sight (Gap source Unseen: attached late). */
  unseen: number;
  endReason: number;
  problems: string[];
}

interface Post {
  i: number;
  tid: number;
  op: number;
  result: number;
  accepted: boolean;
  skip: boolean;
  dequeued: number;
  incIndex: number;
  decIndex: number;
  decCause: number;
  dequeueIndex: number;
}

/** The naive model over a whole hook trace. */
export function checkHookTrace(
  t: DecodedTrace,
  opts: { endReason?: number; detached?: boolean } = {},
): HookTraceSummary {
  const detached = opts.detached === true;
  const p: string[] = [];
  const problem = (s: string): void => {
    if (p.length < 40) p.push(s);
    else if (p.length === 40) p.push('… more problems');
  };
  const sum: HookTraceSummary = {
    posts: zero(),
    failedPosts: 0,
    immediate: zero(),
    completions: zero(),
    failedCompletions: 0,
    failedAccepts: 0,
    failedAcceptCalls: 0,
    acceptCallErrors: new Map(),
    unmatched: 0,
    recvBytes: 0,
    sendBytes: 0,
    connections: 0,
    peers: new Set(),
    listeners: 0,
    sessions: 0,
    released: 0,
    reusedHandles: 0,
    completionModes: 0,
    lost: 0,
    unseen: 0,
    endReason: -1,
    problems: p,
  };
  if (t.error) problem(`the file is damaged: ${t.error}`);
  if (t.header?.tracer !== 'hook' || t.header?.ioCount !== 'derived')
    problem(`the header says tracer ${t.header?.tracer}, ioCount ${t.header?.ioCount}`);
  const recs = t.records;
  const posts = new Map<string, Post>();
  const earlyDeq = new Map<string, number[]>(); // dequeued before its IoPosted (another thread)
  const incs = new Map<string, number>();
  const decs = new Map<string, { i: number; cause: number }[]>();
  const sessions = new Map<
    bigint,
    { created: number; serial: number; count: number; released: number; ended: boolean }
  >();
  const serials = new Set<number>();
  const handles = new Map<number, number>();
  const ioIds = new Map<number, number>(); // ioId -> the IoPosted or Pqcs that took it
  const takeIo = (r: Rec): void => {
    const was = ioIds.get(r.z);
    if (r.z === 0) problem(`event ${r.i}: an I/O with ioId 0`);
    else if (was !== undefined) problem(`event ${r.i}: io #${r.z} was handed out at event ${was}`);
    else ioIds.set(r.z, r.i);
  };

  for (let n = 0; n < recs.length; n++) {
    const r: Rec = recs[n]!;
    switch (r.kind) {
      case EventKind.IoPosted: {
        const op = r.a & 0x0f;
        const name = opKey(op);
        if (!name) {
          problem(`event ${r.i}: IoPosted of op ${op}`);
          break;
        }
        const k = key(r.session, r.z);
        if (posts.has(k))
          problem(`event ${r.i}: io #${r.z} of ${r.session.toString(16)} posted twice`);
        else takeIo(r);
        const detail = recs
          .slice(n + 1, n + 8)
          .find((q) => q.tid === r.tid && q.z === r.z && q.kind === EventKind.IoDetail);
        if (!detail) problem(`event ${r.i}: io #${r.z} has no IoDetail after it`);
        const skip = detail !== undefined && (detail.a & 0x10) !== 0;
        const accepted = r.y === 0 || r.y === 997;
        sum.posts[name]++;
        if (!accepted) sum.failedPosts++;
        if (skip && r.y === 0) sum.immediate[name]++;
        const post: Post = {
          i: r.i,
          tid: r.tid,
          op,
          result: r.y,
          accepted,
          skip: skip && r.y === 0,
          dequeued: 0,
          incIndex: incs.get(k) ?? -1,
          decIndex: -1,
          decCause: -1,
          dequeueIndex: -1,
        };
        for (const d of earlyDeq.get(k) ?? []) {
          post.dequeued++;
          post.dequeueIndex = d;
        }
        earlyDeq.delete(k);
        posts.set(k, post);
        if (post.incIndex < 0) problem(`event ${r.i}: io #${r.z} posted without a +1 before it`);
        break;
      }
      case EventKind.Pqcs:
        if ((r.a & 0x20) !== 0) takeIo(r); // with an OVERLAPPED: the packet has an ioId
        break;
      case EventKind.GqcsReturn: {
        const op = r.a & 0x0f;
        const hasOv = (r.a & 0x20) !== 0;
        if (!hasOv || op === Op.Post) break;
        if (op === Op.None) {
          sum.unmatched++;
          break;
        }
        const name = opKey(op);
        if (!name) break;
        sum.completions[name]++;
        const ok = (r.a & 0x10) !== 0;
        if (!ok) {
          sum.failedCompletions++;
          if (op === Op.Accept && r.y !== ERROR_OPERATION_ABORTED) sum.failedAccepts++;
        } else if (op === Op.Recv) sum.recvBytes += r.x;
        else if (op === Op.Send) sum.sendBytes += r.x;
        const k = key(r.session, r.z);
        const post = posts.get(k);
        if (post) {
          post.dequeued++;
          post.dequeueIndex = r.i;
          if (post.op !== op)
            problem(`event ${r.i}: io #${r.z} dequeued as op ${op}, posted as ${post.op}`);
        } else {
          const list = earlyDeq.get(k) ?? [];
          list.push(r.i);
          earlyDeq.set(k, list);
        }
        const prev = recs[n - 1];
        if (!prev || prev.kind !== EventKind.PacketQueued || prev.z !== r.z)
          problem(`event ${r.i}: dequeue of io #${r.z} without its PacketQueued before it`);
        break;
      }
      case EventKind.IoCount: {
        const s = sessions.get(r.session);
        const delta = r.y | 0;
        const value = r.x | 0;
        if (!s) {
          problem(`event ${r.i}: IoCount of ${r.session.toString(16)}, a session never created`);
          break;
        }
        if (value - delta !== s.count)
          problem(
            `event ${r.i}: ${r.session.toString(16)} goes ${s.count} -> ${value} by ${delta}`,
          );
        s.count = value;
        if (value < 0) problem(`event ${r.i}: ${r.session.toString(16)} IOCount ${value}`);
        const k = key(r.session, r.z);
        if (delta > 0) incs.set(k, r.i);
        else {
          const list = decs.get(k) ?? [];
          list.push({ i: r.i, cause: r.a });
          decs.set(k, list);
        }
        break;
      }
      case EventKind.SessionCreated: {
        if (sessions.has(r.session))
          problem(`event ${r.i}: session ${r.session.toString(16)} created twice`);
        const serial = Number(r.session >> 32n);
        if (serial !== r.z)
          problem(`event ${r.i}: session ${r.session.toString(16)} has slot ${r.z}`);
        if (Number(r.session & 0xffffffffn) !== r.y)
          problem(`event ${r.i}: session ${r.session.toString(16)} is not socket ${r.y}'s`);
        if (serials.has(serial)) problem(`event ${r.i}: serial ${serial} used twice`);
        serials.add(serial);
        handles.set(r.y, (handles.get(r.y) ?? 0) + 1);
        sessions.set(r.session, { created: r.i, serial, count: 0, released: 0, ended: false });
        sum.sessions++;
        const peer = t.strings.get(r.x) ?? '';
        if (peer.startsWith('listening')) sum.listeners++;
        else if (/^(\[[0-9a-f:]+\]|\d+\.\d+\.\d+\.\d+):\d+$/.test(peer)) {
          sum.connections++;
          sum.peers.add(peer);
        }
        break;
      }
      case EventKind.SocketClosed: {
        const s = sessions.get(r.session);
        if (s) s.ended = true;
        break;
      }
      case EventKind.SessionReleased: {
        const s = sessions.get(r.session);
        if (!s) {
          problem(`event ${r.i}: release of unknown session ${r.session.toString(16)}`);
          break;
        }
        s.released++;
        sum.released++;
        if (s.released > 1) problem(`event ${r.i}: ${r.session.toString(16)} released twice`);
        if ((r.x | 0) !== 0 || s.count !== 0)
          problem(`event ${r.i}: ${r.session.toString(16)} released at IOCount ${s.count}`);
        break;
      }
      case EventKind.CompletionModes:
        if (r.a === 1) sum.completionModes++;
        break;
      case EventKind.Marker: {
        const m = ACCEPT_FAILED.exec(t.strings.get(r.x) ?? '');
        if (!m) break;
        const error = Number(m[1]);
        sum.acceptCallErrors.set(error, (sum.acceptCallErrors.get(error) ?? 0) + 1);
        if (!ACCEPT_STOPPED.has(error)) sum.failedAcceptCalls++;
        break;
      }
      case EventKind.Gap:
        if (r.a === 3) sum.unseen += r.x + r.y * 2 ** 32;
        else sum.lost += r.x + r.y * 2 ** 32;
        break;
      default:
        break;
    }
  }
  for (const [k, list] of earlyDeq)
    problem(`io ${k} dequeued ${list.length} time(s), never posted`);
  for (const [k, post] of posts) {
    const want = post.accepted && !post.skip ? 1 : 0;
    const d = decs.get(k) ?? [];
    if (detached && (post.dequeued < want || d.length === 0)) {
      // still pending when the hooks left, or completed out of sight (counted down after an Unseen Gap)
      if (post.dequeued > want)
        problem(`io ${k} (event ${post.i}) dequeued ${post.dequeued} times`);
      continue;
    }
    if (post.dequeued !== want)
      problem(
        `io ${k} (event ${post.i}, result ${post.result}${post.skip ? ', skip-on-success' : ''}) dequeued ${post.dequeued} times`,
      );
    if (d.length !== 1) {
      problem(`io ${k} (event ${post.i}): ${d.length} IOCount -1 records (want 1)`);
      continue;
    }
    const dec = d[0]!;
    const cause = post.accepted ? 6 : 5;
    if (dec.cause !== cause) problem(`io ${k}: its -1 has cause ${dec.cause}, want ${cause}`);
    if (want === 1 && dec.i < post.dequeueIndex)
      problem(
        `io ${k}: its -1 (event ${dec.i}) comes before its dequeue (event ${post.dequeueIndex})`,
      );
  }
  for (const [id, s] of sessions) {
    if (s.released !== 1 && !(detached && s.released === 0))
      problem(`session ${id.toString(16)} (event ${s.created}) released ${s.released} times`);
  }
  for (const n of handles.values()) if (n > 1) sum.reusedHandles++;
  const last = recs.at(-1);
  if (!last || last.kind !== EventKind.TraceEnd) problem('the trace does not end with TraceEnd');
  else {
    sum.endReason = last.a;
    if (last.x + last.y * 2 ** 32 !== recs.length - 1)
      problem(
        `TraceEnd counts ${last.x + last.y * 2 ** 32} records, the file has ${recs.length - 1}`,
      );
    if (opts.endReason !== undefined && last.a !== opts.endReason)
      problem(`TraceEnd reason ${last.a}, want ${opts.endReason}`);
  }
  if (sum.lost > 0) problem(`${sum.lost} records were lost`);
  return sum;
}

// A deliberately naive model of what a traced echo server's recording must
// hold, written without packages/analysis so the two can disagree: it decodes
// the file with packages/protocol's readTraceFile and checks, record by record,
// the bookkeeping the tracer promises (FORMAT.md §3.2):
// - every accepted post (IoPosted result 0 or 997) is dequeued exactly once by
//   a GqcsReturn with the same (session, ioId), and every I/O dequeue has its
//   post; a failed post is never dequeued;
// - each post is followed by its IoDetail (same thread, OVERLAPPED address) and,
//   for this server, its IoRing; the +1 before a post and the -1 after a
//   completion carry the post's ioId;
// - every session is created once and released exactly once, at IOCount 0, and
//   the IoCount deltas of a session sum to the value it records;
// - Gap records account for lost records; the file ends with a TraceEnd that
//   counts the records before it.

import { EventKind, Op, readTraceFile, type TraceFileHeader } from '../../protocol/src/index.ts';

export interface Rec {
  i: number;
  kind: number;
  a: number;
  tid: number;
  x: number;
  tsNs: number;
  site: number;
  session: bigint;
  y: number;
  z: number;
}

export interface DecodedTrace {
  header: TraceFileHeader | undefined;
  records: Rec[];
  strings: Map<number, string>;
  error: string | undefined;
}

export function decodeWords(w: Uint32Array): Rec[] {
  const out: Rec[] = [];
  for (let i = 0; i * 8 < w.length; i++) {
    const o = i * 8;
    out.push({
      i,
      kind: w[o]! & 0xff,
      a: (w[o]! >>> 8) & 0xff,
      tid: w[o]! >>> 16,
      x: w[o + 1]!,
      tsNs: w[o + 2]! + (w[o + 3]! & 0x1fffff) * 2 ** 32,
      site: w[o + 3]! >>> 21,
      session: (BigInt(w[o + 5]!) << 32n) | BigInt(w[o + 4]!),
      y: w[o + 6]!,
      z: w[o + 7]!,
    });
  }
  return out;
}

export function decodeFile(bytes: Uint8Array): DecodedTrace {
  const r = readTraceFile(bytes);
  const strings = new Map<number, string>();
  for (let id = 1; id <= 1 << 20; id++) {
    const s = r.strings.get(id);
    if (s === undefined) {
      if (id > r.strings.size + 16) break;
      continue;
    }
    strings.set(id, s);
  }
  return {
    header: r.header,
    records: decodeWords(r.records),
    strings,
    error: r.error ? `${r.error.code} at ${r.error.offset ?? '?'}: ${r.error.message}` : undefined,
  };
}

const isIo = (op: number): boolean => op === Op.Recv || op === Op.Send;
const key = (session: bigint, ioId: number): string => `${session.toString(16)}:${ioId}`;

export interface EchoTraceSummary {
  recvPosts: number;
  sendPosts: number;
  failedPosts: number;
  completions: number;
  failedCompletions: number;
  /** Failed completions by their error (64 a reset under a pending I/O, 995/676 our own close). */
  failedByError: Map<number, number>;
  recvBytes: number;
  sendBytes: number;
  sessionsCreated: number;
  sessionsReleased: number;
  lost: number;
  gaps: number;
  /** Everything that broke a rule, one line each (empty = the trace is right). */
  problems: string[];
}

/** The naive model over a whole recording of the example echo server. */
export function checkEchoTrace(t: DecodedTrace): EchoTraceSummary {
  const p: string[] = [];
  const problem = (s: string): void => {
    if (p.length < 40) p.push(s);
    else if (p.length === 40) p.push('… more problems');
  };
  const sum: EchoTraceSummary = {
    recvPosts: 0,
    sendPosts: 0,
    failedPosts: 0,
    completions: 0,
    failedCompletions: 0,
    failedByError: new Map(),
    recvBytes: 0,
    sendBytes: 0,
    sessionsCreated: 0,
    sessionsReleased: 0,
    lost: 0,
    gaps: 0,
    problems: p,
  };
  if (t.error) problem(`the file is damaged: ${t.error}`);
  const posts = new Map<string, { i: number; op: number; accepted: boolean; dequeued: number }>();
  const dequeuedEarly = new Map<string, number>(); // dequeued before its IoPosted (legal race)
  const plusOnes = new Set<string>();
  const minusOnes = new Map<string, number>();
  const sessions = new Map<
    bigint,
    { created: number; released: number; sum: number; last: number }
  >();
  const recs = t.records;

  for (let n = 0; n < recs.length; n++) {
    const r = recs[n]!;
    switch (r.kind) {
      case EventKind.IoPosted: {
        const op = r.a & 0x0f;
        if (!isIo(op)) break;
        const k = key(r.session, r.z);
        if (posts.has(k))
          problem(`event ${r.i}: io #${r.z} of ${r.session.toString(16)} posted twice`);
        const accepted = r.y === 0 || r.y === 997;
        if (op === Op.Recv) sum.recvPosts++;
        else sum.sendPosts++;
        if (!accepted) sum.failedPosts++;
        const early = dequeuedEarly.get(k) ?? 0;
        dequeuedEarly.delete(k);
        if (!accepted && early > 0) problem(`event ${r.i}: failed post io #${r.z} was dequeued`);
        posts.set(k, { i: r.i, op, accepted, dequeued: early });
        if (!plusOnes.has(k))
          problem(`event ${r.i}: io #${r.z} posted without a +1 carrying its ioId before it`);
        // its IoDetail and IoRing follow on the same thread
        const detail = recs
          .slice(n + 1, n + 40)
          .find((q) => q.tid === r.tid && q.z === r.z && q.kind === EventKind.IoDetail);
        if (!detail) problem(`event ${r.i}: io #${r.z} has no IoDetail`);
        else if (detail.x === 0 && detail.y === 0)
          problem(`event ${detail.i}: IoDetail without an OVERLAPPED`);
        const ring = recs
          .slice(n + 1, n + 40)
          .find((q) => q.tid === r.tid && q.z === r.z && q.kind === EventKind.IoRing);
        if (!ring) problem(`event ${r.i}: io #${r.z} has no IoRing`);
        break;
      }
      case EventKind.GqcsReturn: {
        const op = r.a & 0x0f;
        const hasOv = (r.a & 0x20) !== 0;
        const ok = (r.a & 0x10) !== 0;
        if (!hasOv || !isIo(op)) break;
        sum.completions++;
        if (!ok) {
          sum.failedCompletions++;
          sum.failedByError.set(r.y, (sum.failedByError.get(r.y) ?? 0) + 1);
        } else if (op === Op.Recv) sum.recvBytes += r.x;
        else sum.sendBytes += r.x;
        const k = key(r.session, r.z);
        const post = posts.get(k);
        if (post === undefined) dequeuedEarly.set(k, (dequeuedEarly.get(k) ?? 0) + 1);
        else {
          post.dequeued++;
          if (post.op !== op) problem(`event ${r.i}: io #${r.z} dequeued as another op`);
        }
        // the kernel's queueing, recorded by the dequeuing thread just before
        const prev = recs[n - 1];
        if (!prev || prev.kind !== EventKind.PacketQueued || prev.z !== r.z)
          problem(`event ${r.i}: dequeue of io #${r.z} without its PacketQueued before it`);
        break;
      }
      case EventKind.IoCount: {
        const delta = r.y | 0;
        const s = sessions.get(r.session);
        if (s) {
          s.sum += delta;
          s.last = r.x | 0;
          if (s.sum !== (r.x | 0))
            problem(
              `event ${r.i}: ${r.session.toString(16)} IOCount deltas sum to ${s.sum}, record says ${r.x | 0}`,
            );
        }
        if (r.z !== 0 && delta > 0) plusOnes.add(key(r.session, r.z));
        if (r.z !== 0 && delta < 0 && r.a === 6)
          minusOnes.set(key(r.session, r.z), (minusOnes.get(key(r.session, r.z)) ?? 0) + 1);
        break;
      }
      case EventKind.SessionCreated: {
        if (sessions.has(r.session))
          problem(`event ${r.i}: session ${r.session.toString(16)} created twice`);
        sessions.set(r.session, { created: r.i, released: 0, sum: 0, last: 0 });
        sum.sessionsCreated++;
        break;
      }
      case EventKind.SessionReleased: {
        const s = sessions.get(r.session);
        if (!s) {
          problem(`event ${r.i}: release of unknown session ${r.session.toString(16)}`);
          break;
        }
        s.released++;
        sum.sessionsReleased++;
        if (s.released > 1)
          problem(`event ${r.i}: session ${r.session.toString(16)} released ${s.released} times`);
        if ((r.x | 0) !== 0 || s.sum !== 0)
          problem(
            `event ${r.i}: session ${r.session.toString(16)} released at IOCount ${r.x | 0} (deltas sum to ${s.sum})`,
          );
        break;
      }
      case EventKind.Gap:
        sum.gaps++;
        sum.lost += r.x + r.y * 2 ** 32;
        break;
      default:
        break;
    }
  }
  for (const [k, n] of dequeuedEarly) problem(`io ${k} dequeued ${n} time(s) but never posted`);
  for (const [k, post] of posts) {
    const want = post.accepted ? 1 : 0;
    if (post.dequeued !== want)
      problem(
        `io ${k} (event ${post.i}, ${post.accepted ? 'accepted' : 'failed'}) dequeued ${post.dequeued} times`,
      );
    if (post.accepted && (minusOnes.get(k) ?? 0) !== 1)
      problem(`io ${k}: ${minusOnes.get(k) ?? 0} completion -1 records carry its ioId (want 1)`);
  }
  for (const [id, s] of sessions)
    if (s.released !== 1)
      problem(`session ${id.toString(16)} (event ${s.created}) released ${s.released} times`);
  const last = recs.at(-1);
  if (!last || last.kind !== EventKind.TraceEnd) problem('the trace does not end with TraceEnd');
  else if (last.x + last.y * 2 ** 32 !== recs.length - 1)
    problem(
      `TraceEnd counts ${last.x + last.y * 2 ** 32} records, the file holds ${recs.length - 1} before it`,
    );
  return sum;
}

export interface GapCheck {
  perThread: Map<number, { kept: number; lostInGaps: number; exitLost: boolean }>;
  problems: string[];
}

/**
 * The overflow program's trace: per thread, numbered IoCount records (x = n)
 * with Gap records where the ring was full. Each Gap must count exactly the
 * numbers missing between the records around it.
 */
export function checkGaps(t: DecodedTrace, perThread: number): GapCheck {
  const problems: string[] = [];
  const threads = new Map<number, Rec[]>();
  for (const r of t.records) {
    if (r.kind !== EventKind.IoCount && r.kind !== EventKind.Gap && r.kind !== EventKind.ThreadExit)
      continue;
    if (r.tid === 0xffff) continue;
    let list = threads.get(r.tid);
    if (!list) threads.set(r.tid, (list = []));
    list.push(r);
  }
  const perThreadOut = new Map<number, { kept: number; lostInGaps: number; exitLost: boolean }>();
  for (const [tid, list] of threads) {
    let next = 0; // the number the next IoCount should carry if nothing was lost
    let pendingGap = 0;
    let kept = 0;
    let lostInGaps = 0;
    let sawExit = false;
    for (const r of list) {
      if (r.kind === EventKind.Gap) {
        const n = r.x + r.y * 2 ** 32;
        pendingGap += n;
        lostInGaps += n;
      } else if (r.kind === EventKind.IoCount) {
        const missing = r.x - next;
        if (missing !== pendingGap)
          problems.push(
            `thread ${tid}: before #${r.x} (event ${r.i}) ${missing} records are missing, Gap records say ${pendingGap}`,
          );
        pendingGap = 0;
        next = r.x + 1;
        kept++;
      } else {
        sawExit = true;
      }
    }
    // after the last numbered record: the rest of the numbers (and the ThreadExit if it is missing)
    const tail = perThread - next + (sawExit ? 0 : 1);
    if (tail !== pendingGap)
      problems.push(
        `thread ${tid}: after #${next - 1} ${tail} records are missing, Gap records say ${pendingGap}`,
      );
    perThreadOut.set(tid, { kept, lostInGaps, exitLost: !sawExit });
  }
  return { perThread: perThreadOut, problems };
}

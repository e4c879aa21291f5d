// Export a trace to Chrome Trace Event JSON (the "JSON object format"), which
// Perfetto and chrome://tracing open. What is emitted:
//  - M  process_name, thread_name and thread_sort_index for every thread seen;
//  - X  slices per thread: "GQCS wait" (GqcsEnter -> GqcsReturn), the handler
//       run (GqcsReturn that dequeued a packet -> the thread's next GqcsEnter),
//       lock wait/hold slices inside it, and zero-length WSARecv/WSASend/PQCS
//       slices where I/O is posted;
//  - flows (v2: bind_id + flow_out/flow_in on X events, numeric ids) from each
//       post slice to the handler slice that dequeued its packet, matched by
//       (key/session, ioId), first posted first matched; also when the
//       dequeue was recorded before the post (a completion can be dequeued
//       before WSARecv returns), as long as the handler slice is still open;
//  - C  counters "IOCount session <id>" and "port queue depth";
//  - i  instants for disconnects, failed completions, failed posts, gaps,
//       session releases and markers.
// Invariants: slices on one thread are strictly nested: every boundary is
// clamped to be >= the previous boundary on that thread, a slice closed while
// children are open closes them at the same time (args.truncated), and a
// thread's slices are written parent-first once its stack empties (at most
// MAX_BUFFERED_SLICES are held; past that the stack is closed early).
// Output goes to `write` in pieces of about CHUNK_CHARS, never one string.
// Timestamps are microseconds (the format's unit) written as exact decimals of
// the nanosecond values.

import {
  DisconnectReason,
  EventKind,
  GapSource,
  NO_THREAD,
  RECORD_WORDS,
  ThreadRole,
} from './events.ts';
import { aAt, kindAt, sessionAt, tidAt, tsAt, xAt, yAt, zAt } from './record.ts';
import type { EventStore } from './store.ts';
import type { StringTable } from './strings.ts';

const CHUNK_CHARS = 64 * 1024;
const MAX_BUFFERED_SLICES = 4096;
const PID = 1;

export interface ChromeExportOptions {
  /** process_name of the single process; default "iocpscope". */
  processName?: string;
}

const OP_LABEL = ['none', 'recv', 'send', 'post'];
const POST_NAME = ['I/O', 'WSARecv', 'WSASend', 'PQCS'];
const ROLE_NAME: Record<number, string> = {
  [ThreadRole.Main]: 'main',
  [ThreadRole.Worker]: 'worker',
  [ThreadRole.Accept]: 'accept',
  [ThreadRole.Kernel]: 'kernel',
  [ThreadRole.Other]: 'thread',
};
const DISCONNECT_NAME: Record<number, string> = Object.fromEntries(
  Object.entries(DisconnectReason).map(([k, v]) => [v, k]),
);
const GAP_SOURCE_NAME: Record<number, string> = Object.fromEntries(
  Object.entries(GapSource).map(([k, v]) => [v, k]),
);

const enum SliceKind {
  Wait,
  Handler,
  LockWait,
  LockHold,
  Post,
}

interface Slice {
  kind: SliceKind;
  name: string;
  cat: string;
  startNs: number;
  endNs: number;
  /** JSON object text for args, without the closing brace. */
  args: string;
  lockId: number;
  bindId: number;
  flowIn: boolean;
  truncated: boolean;
  /** Set on a handler whose packet's post has not been seen yet (key in `early`). */
  earlyKey: string;
}

interface ThreadSlices {
  stack: Slice[];
  /** Slices opened since the stack was last empty, in open order. */
  buffered: Slice[];
  /** Latest boundary written on this thread. */
  floorNs: number;
}

/** Exact microseconds text of a nanosecond count. */
function us(ns: number): string {
  const whole = Math.floor(ns / 1000);
  const frac = ns - whole * 1000;
  if (frac === 0) return String(whole);
  return `${whole}.${String(frac).padStart(3, '0').replace(/0+$/, '')}`;
}

const chromeTid = (tid: number): number => tid + 1;

class ChunkedWriter {
  #parts: string[] = [];
  #size = 0;
  #first = true;
  constructor(private readonly write: (chunk: string) => void) {}

  raw(s: string): void {
    this.#parts.push(s);
    this.#size += s.length;
    if (this.#size >= CHUNK_CHARS) this.flush();
  }

  event(json: string): void {
    this.raw(this.#first ? json : ',\n' + json);
    this.#first = false;
  }

  flush(): void {
    if (this.#size === 0) return;
    this.write(this.#parts.join(''));
    this.#parts = [];
    this.#size = 0;
  }
}

/**
 * Stream `store` as Chrome Trace Event JSON to `write`. Records are taken in
 * store order (which is time order for a well-formed trace).
 */
export function exportChromeTrace(
  store: EventStore | Uint32Array,
  strings: StringTable,
  write: (chunk: string) => void,
  options: ChromeExportOptions = {},
): void {
  const w = store instanceof Uint32Array ? store : store.words;
  const n = Math.floor(w.length / RECORD_WORDS);
  const out = new ChunkedWriter(write);
  const threads = new Map<number, ThreadSlices>();
  const named = new Set<number>();
  /** (key, ioId) -> bind ids of posts whose packet has not been dequeued, oldest first. */
  const pending = new Map<string, number[]>();
  /**
   * (key, ioId) -> handler slices, still unwritten, that dequeued a packet
   * before its post was recorded: a completion can be dequeued on another
   * thread before WSARecv returns and records IoPosted.
   */
  const early = new Map<string, Slice>();
  let nextBind = 1;
  let queueDepth = 0;

  out.raw('{"displayTimeUnit":"ns","traceEvents":[\n');
  out.event(
    `{"name":"process_name","ph":"M","pid":${PID},"tid":0,"args":{"name":${JSON.stringify(
      options.processName ?? 'iocpscope',
    )}}}`,
  );

  const threadOf = (tid: number): ThreadSlices => {
    let t = threads.get(tid);
    if (t === undefined) {
      t = { stack: [], buffered: [], floorNs: 0 };
      threads.set(tid, t);
    }
    return t;
  };

  const nameThread = (tid: number, name: string): void => {
    named.add(tid);
    const ct = chromeTid(tid);
    out.event(
      `{"name":"thread_name","ph":"M","pid":${PID},"tid":${ct},"args":{"name":${JSON.stringify(name)}}}`,
    );
    out.event(
      `{"name":"thread_sort_index","ph":"M","pid":${PID},"tid":${ct},"args":{"sort_index":${ct}}}`,
    );
  };

  const clamp = (t: ThreadSlices, ns: number): number => {
    if (ns > t.floorNs) t.floorNs = ns;
    return t.floorNs;
  };

  const emitSlice = (tid: number, s: Slice): void => {
    let json =
      `{"name":${JSON.stringify(s.name)},"cat":"${s.cat}","ph":"X","pid":${PID},` +
      `"tid":${chromeTid(tid)},"ts":${us(s.startNs)},"dur":${us(s.endNs - s.startNs)}`;
    if (s.bindId !== 0) {
      json += `,"bind_id":${s.bindId},${s.flowIn ? '"flow_in"' : '"flow_out"'}:true`;
    }
    json += `,"args":{${s.args}${s.truncated ? (s.args ? ',' : '') + '"truncated":true' : ''}}}`;
    out.event(json);
  };

  const flushThread = (tid: number, t: ThreadSlices): void => {
    for (const s of t.buffered) {
      if (s.earlyKey !== '' && early.get(s.earlyKey) === s) early.delete(s.earlyKey);
      emitSlice(tid, s);
    }
    t.buffered = [];
  };

  /** Close slices until the stack has `depth` entries; those above the target are truncated. */
  const closeTo = (tid: number, t: ThreadSlices, depth: number, ns: number): void => {
    if (t.stack.length <= depth) return;
    const end = clamp(t, ns);
    while (t.stack.length > depth) {
      const s = t.stack.pop()!;
      s.endNs = end;
      if (t.stack.length > depth) s.truncated = true;
    }
    if (t.stack.length === 0) flushThread(tid, t);
  };

  const open = (
    tid: number,
    t: ThreadSlices,
    ns: number,
    kind: SliceKind,
    name: string,
    cat: string,
    args: string,
  ): Slice => {
    if (t.buffered.length >= MAX_BUFFERED_SLICES) {
      for (const s of t.stack) s.truncated = true;
      closeTo(tid, t, 0, ns);
    }
    const s: Slice = {
      kind,
      name,
      cat,
      startNs: clamp(t, ns),
      endNs: -1,
      args,
      lockId: 0,
      bindId: 0,
      flowIn: false,
      truncated: false,
      earlyKey: '',
    };
    t.stack.push(s);
    t.buffered.push(s);
    return s;
  };

  const findOpen = (t: ThreadSlices, kind: SliceKind, lockId: number): number => {
    for (let d = t.stack.length - 1; d >= 0; d--) {
      const s = t.stack[d]!;
      if (s.kind === kind && (lockId < 0 || s.lockId === lockId)) return d;
    }
    return -1;
  };

  const instant = (tid: number, ns: number, name: string, cat: string, args: string): void => {
    const scope = tid === NO_THREAD ? 'g' : 't';
    out.event(
      `{"name":${JSON.stringify(name)},"cat":"${cat}","ph":"i","s":"${scope}","pid":${PID},` +
        `"tid":${chromeTid(tid)},"ts":${us(ns)},"args":{${args}}}`,
    );
  };

  const counter = (ns: number, name: string, value: number): void => {
    out.event(
      `{"name":${JSON.stringify(name)},"ph":"C","pid":${PID},"ts":${us(ns)},"args":{"value":${value}}}`,
    );
  };

  const setQueueDepth = (ns: number, depth: number): void => {
    queueDepth = Math.max(0, depth);
    counter(ns, 'port queue depth', queueDepth);
  };

  for (let i = 0; i < n; i++) {
    const kind = kindAt(w, i);
    const tid = tidAt(w, i);
    const ns = tsAt(w, i);
    const a = aAt(w, i);
    const x = xAt(w, i);
    const y = yAt(w, i);
    const z = zAt(w, i);
    const t = threadOf(tid);
    if (!named.has(tid) && kind !== EventKind.ThreadStart) {
      nameThread(tid, tid === NO_THREAD ? '(no thread)' : `thread ${tid}`);
    }
    switch (kind) {
      case EventKind.ThreadStart: {
        const name = strings.text(x) || `${ROLE_NAME[a] ?? 'thread'} ${tid}`;
        nameThread(tid, `${name} [${ROLE_NAME[a] ?? 'thread'}]`);
        break;
      }
      case EventKind.ThreadExit:
        closeTo(tid, t, 0, ns);
        break;
      case EventKind.GqcsEnter:
        closeTo(tid, t, 0, ns);
        open(tid, t, ns, SliceKind.Wait, 'GQCS wait', 'wait', `"timeoutMs":${x}`);
        break;
      case EventKind.GqcsReturn: {
        const op = a & 0x0f;
        const ok = (a & 0x10) !== 0;
        const hasOverlapped = (a & 0x20) !== 0;
        const session = sessionAt(w, i).toString();
        const wait = findOpen(t, SliceKind.Wait, -1);
        if (wait >= 0) {
          t.stack[wait]!.args += `,"ok":${ok},"error":${y}`;
          closeTo(tid, t, wait, ns);
        }
        if (!ok && !hasOverlapped) break; // nothing dequeued (timeout, port closed)
        setQueueDepth(ns, queueDepth - 1);
        const label = OP_LABEL[op] ?? 'none';
        const name = hasOverlapped
          ? `${ok ? '' : 'failed '}${label} completion`
          : session === '0' && x === 0
            ? 'exit packet'
            : 'posted packet';
        const args = `"key":"${session}","bytes":${x},"ok":${ok},"error":${y},"ioId":${z}`;
        closeTo(tid, t, 0, ns);
        const s = open(tid, t, ns, SliceKind.Handler, name, 'handler', args);
        const k = `${session}:${z}`;
        const q = pending.get(k);
        if (q !== undefined && q.length > 0) {
          s.bindId = q.shift()!;
          s.flowIn = true;
          if (q.length === 0) pending.delete(k);
        } else if (z !== 0) {
          s.earlyKey = k;
          early.set(k, s);
        }
        if (!ok) instant(tid, ns, `failed ${label} completion`, 'error', args);
        break;
      }
      case EventKind.PacketQueued:
        setQueueDepth(ns, queueDepth + 1);
        break;
      case EventKind.Pqcs:
      case EventKind.IoPosted: {
        const op = a & 0x0f;
        const session = sessionAt(w, i).toString();
        const args =
          kind === EventKind.Pqcs
            ? `"key":"${session}","bytes":${x},"ioId":${z}`
            : `"session":"${session}","bytes":${x},"buffers":${a >>> 4},"result":${y},"ioId":${z}`;
        const name = kind === EventKind.Pqcs ? 'PQCS' : (POST_NAME[op] ?? 'I/O');
        const s = open(tid, t, ns, SliceKind.Post, name, 'io', args);
        const queued = kind === EventKind.Pqcs || y === 0 || y === 997;
        if (queued) {
          s.bindId = nextBind++;
          const k = `${session}:${z}`;
          const handler = early.get(k);
          if (handler !== undefined) {
            early.delete(k);
            handler.bindId = s.bindId;
            handler.flowIn = true;
          } else {
            const q = pending.get(k);
            if (q === undefined) pending.set(k, [s.bindId]);
            else q.push(s.bindId);
          }
        }
        closeTo(tid, t, t.stack.length - 1, ns);
        if (!queued) instant(tid, ns, `${name} failed`, 'error', args);
        if (kind === EventKind.Pqcs) setQueueDepth(ns, queueDepth + 1);
        break;
      }
      case EventKind.IoCount:
        counter(ns, `IOCount session ${sessionAt(w, i)}`, x | 0);
        break;
      case EventKind.SessionReleased:
        instant(
          tid,
          ns,
          'session released',
          'session',
          `"session":"${sessionAt(w, i)}","ioCount":${x | 0}`,
        );
        break;
      case EventKind.Disconnect:
        instant(
          tid,
          ns,
          `disconnect (${DISCONNECT_NAME[a] ?? a})`,
          'session',
          `"session":"${sessionAt(w, i)}","reason":${a},"error":${y}`,
        );
        break;
      case EventKind.LockWait:
      case EventKind.LockAcquire:
      case EventKind.LockRelease: {
        const lockName = strings.text(y) || `lock ${x}`;
        if (kind === EventKind.LockWait) {
          open(tid, t, ns, SliceKind.LockWait, `wait ${lockName}`, 'lock', `"lockId":${x}`).lockId =
            x;
        } else if (kind === EventKind.LockAcquire) {
          const d = findOpen(t, SliceKind.LockWait, x);
          if (d >= 0) closeTo(tid, t, d, ns);
          open(tid, t, ns, SliceKind.LockHold, `hold ${lockName}`, 'lock', `"lockId":${x}`).lockId =
            x;
        } else {
          const d = findOpen(t, SliceKind.LockHold, x);
          if (d >= 0) closeTo(tid, t, d, ns);
        }
        break;
      }
      case EventKind.Marker:
        instant(tid, ns, strings.text(x) || 'marker', 'marker', `"session":"${sessionAt(w, i)}"`);
        break;
      case EventKind.Gap: {
        const lost = x + y * 4294967296;
        instant(
          NO_THREAD,
          ns,
          `${lost} events lost`,
          'error',
          `"lost":${lost},"source":"${GAP_SOURCE_NAME[a] ?? a}"`,
        );
        break;
      }
      default:
        break; // ThreadState, PortCreated, SessionCreated, Accept, SocketClosed: no Chrome shape
    }
  }
  // Close what is still open at the end of the trace.
  const endNs = n > 0 ? tsAt(w, n - 1) : 0;
  for (const [tid, t] of threads) {
    for (const s of t.stack) s.truncated = true;
    closeTo(tid, t, 0, endNs);
  }
  out.raw('\n]}\n');
  out.flush();
}

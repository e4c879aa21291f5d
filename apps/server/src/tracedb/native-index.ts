// The index pass in native code (apps/server/native-index/index_pass.c), when
// it is built: the same per-event loop as TraceIndexBuilder (builder.ts), which
// stays the specification and the fallback. A file opened from disk is indexed
// by whichever `indexBuilder()` returns; a live trace keeps the JS builder.
//
// The addon knows nothing of the protocol's numbers: it gets a table of what
// each event kind does and the constants it needs from here, built from
// @iocpscope/protocol and @iocpscope/analysis.
//
// IOCPSCOPE_INDEX_PASS=js forces the JS pass; =native requires the addon (an
// error with code INDEX_NATIVE_MISSING when it is not built). Unset: native
// when built, else JS.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventKind, NO_THREAD, Op, ThreadStateValue, WinError } from '@iocpscope/protocol';
import { MarkFlag } from '@iocpscope/analysis';
import { pyramid, DEFAULT_BASE_SHIFT, type SummaryLevel } from './summary.ts';
import { SessionList } from './session-list.ts';
import {
  SESSION_KINDS,
  TraceIndexBuilder,
  type BuilderOptions,
  type LaneInfo,
  type TraceIndex,
} from './builder.ts';

/** What the addon's finish() returns: the index in columns. */
interface NativeColumns {
  events: number;
  startNs: number;
  endNs: number;
  originNs: number;
  buckets: number;
  traceEnd: number;
  clamped: number;
  cOffset: Float64Array;
  cBytes: Float64Array;
  cFirst: Float64Array;
  cEvents: Uint32Array;
  cFirstNs: Float64Array;
  cLastNs: Float64Array;
  cKindsLo: Uint32Array;
  cKindsHi: Uint32Array;
  cLanes: Uint32Array;
  lTid: Uint32Array;
  lRole: Uint32Array;
  lName: Uint32Array;
  lOs: Uint32Array;
  lFirst: Float64Array;
  lLast: Float64Array;
  lExit: Float64Array;
  laneFrac: Uint8Array[];
  laneFlags: Uint8Array[];
  queueMin: Int32Array;
  queueMax: Int32Array;
  runMin: Int32Array;
  runMax: Int32Array;
  sLo: Uint32Array;
  sHi: Uint32Array;
  sNums: Float64Array;
  sPeer: Uint32Array;
  sEvents: Uint32Array;
  sRunsAt: Uint32Array;
  sRuns: Uint32Array;
  gapEv: Float64Array;
  gapNs: Float64Array;
  gapLost: Float64Array;
  markEv: Float64Array;
  markNs: Float64Array;
  snapEv: Float64Array;
}

interface Addon {
  create(shift: number, actions: Uint8Array, consts: Int32Array): object;
  addChunk(b: object, fileOffset: number, chunkBytes: number, records: Uint32Array): void;
  finish(b: object): NativeColumns;
  /** CRC-32 of bytes[start, end) (IEEE, as the protocol's; PCLMULQDQ folding where the CPU has it). */
  crc32(bytes: Uint8Array, start: number, end: number): number;
  /** The first record in [from, to) with kind 0 or above kindMax, or a stamp's high word above tsHiMax; -1 if none. */
  findInvalid(
    records: Uint32Array,
    from: number,
    to: number,
    kindMax: number,
    tsHiMax: number,
  ): number;
}

/**
 * Where build.sh writes the addon. Found relative to this file in the source
 * tree; a thread runs this module from a bundle elsewhere (port/threads.ts), so
 * the first thread to load it here leaves the path in the environment, which
 * threads it starts inherit.
 */
export const NATIVE_INDEX_PATH = ((): string => {
  const here = join(
    dirname(fileURLToPath(import.meta.url)),
    '../../native-index/build/iocpscope_index.node',
  );
  const inherited = process.env.IOCPSCOPE_NATIVE_INDEX_PATH;
  if (existsSync(here)) {
    process.env.IOCPSCOPE_NATIVE_INDEX_PATH ??= here;
    return here;
  }
  return inherited ?? here;
})();

let addon: Addon | null | undefined;
let loadError = '';

/** The addon, or null when it is not built (or does not load: loadError says why). */
export function nativeIndexAddon(): Addon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (!existsSync(NATIVE_INDEX_PATH)) {
    loadError = `not built (${NATIVE_INDEX_PATH}; bash apps/server/native-index/build.sh)`;
    return null;
  }
  try {
    addon = createRequire(import.meta.url)(NATIVE_INDEX_PATH) as Addon;
  } catch (e) {
    loadError = (e as Error).message;
  }
  return addon;
}

// Action codes: the enums at the top of index_pass.c.
const A = {
  GqcsEnter: 1,
  GqcsReturn: 2,
  ThreadStart: 3,
  ThreadExit: 4,
  ThreadState: 5,
  LockWait: 6,
  LockAcquire: 7,
  PacketQueued: 8,
  Pqcs: 9,
  IoPosted: 10,
  Gap: 11,
  Marker: 12,
  Snapshot: 13,
  TraceEnd: 14,
} as const;
const S = { Plain: 1, Created: 2, Accept: 3, Released: 4, Disconnect: 5 } as const;

const ACTIONS: Uint8Array = (() => {
  const t = new Uint8Array(512);
  for (const [name, code] of Object.entries(A)) t[EventKind[name as keyof typeof A]] = code;
  for (let k = 0; k < 256; k++) if (SESSION_KINDS[k] === 1) t[256 + k] = S.Plain;
  t[256 + EventKind.SessionCreated] = S.Created;
  t[256 + EventKind.Accept] = S.Accept;
  t[256 + EventKind.SessionReleased] = S.Released;
  t[256 + EventKind.Disconnect] = S.Disconnect;
  return t;
})();

// The order of index_pass.c's C_* constants.
const CONSTS = Int32Array.from([
  NO_THREAD,
  ThreadStateValue.Waiting,
  ThreadStateValue.Running,
  ThreadStateValue.Blocked,
  ThreadStateValue.Exited,
  Op.Post,
  WinError.IoPending,
  MarkFlag.Recv,
  MarkFlag.Send,
  MarkFlag.Post,
  MarkFlag.Fail,
  MarkFlag.Empty,
]);

/** TraceIndexBuilder's surface, over the addon. */
export class NativeTraceIndexBuilder {
  readonly shift: number;
  events = 0;
  private chunks = 0;
  private readonly b: object;
  private readonly addon: Addon;

  constructor(addon: Addon, options: BuilderOptions = {}) {
    this.shift = options.baseShift ?? DEFAULT_BASE_SHIFT;
    this.addon = addon;
    this.b = addon.create(this.shift, ACTIONS, CONSTS);
  }

  get chunkCount(): number {
    return this.chunks;
  }

  addChunk(fileOffset: number, chunkBytes: number, w: Uint32Array): void {
    this.addon.addChunk(this.b, fileOffset, chunkBytes, w);
    this.events += w.length >>> 3;
    this.chunks++;
  }

  finish(): TraceIndex {
    const c = this.addon.finish(this.b);
    const lanes: LaneInfo[] = [];
    for (let k = 0; k < c.lTid.length; k++) {
      lanes.push({
        tid: c.lTid[k]!,
        role: c.lRole[k]!,
        nameStr: c.lName[k]!,
        osThreadId: c.lOs[k]!,
        firstEvent: c.lFirst[k]!,
        lastEvent: c.lLast[k]!,
        exitEvent: c.lExit[k]!,
      });
    }
    const base: SummaryLevel = {
      shift: this.shift,
      origin: c.originNs / 2 ** this.shift,
      count: c.buckets,
      lanes: c.laneFrac.map((frac, k) => ({ frac, flags: c.laneFlags[k]! })),
      queueMin: c.queueMin,
      queueMax: c.queueMax,
      runMin: c.runMin,
      runMax: c.runMax,
    };
    return {
      events: c.events,
      startNs: Math.max(0, c.startNs),
      endNs: c.endNs,
      chunks: {
        count: c.cOffset.length,
        offset: c.cOffset,
        bytes: c.cBytes,
        firstEvent: c.cFirst,
        events: c.cEvents,
        firstNs: c.cFirstNs,
        lastNs: c.cLastNs,
        kindsLo: c.cKindsLo,
        kindsHi: c.cKindsHi,
        lanes: c.cLanes,
      },
      lanes,
      levels: pyramid(base),
      sessions: new SessionList(c.sLo, c.sHi, c.sNums, c.sPeer, c.sEvents, c.sRunsAt, c.sRuns),
      gaps: { events: c.gapEv, ns: c.gapNs, lost: c.gapLost },
      markers: { events: c.markEv, ns: c.markNs },
      snapshots: { events: c.snapEv },
      traceEnd: c.traceEnd,
      clamped: c.clamped,
    };
  }
}

export type IndexPass = 'native' | 'js';

/** Which pass indexes a file: IOCPSCOPE_INDEX_PASS, else native when built. */
export function indexPass(): IndexPass {
  const want = process.env.IOCPSCOPE_INDEX_PASS;
  if (want === 'js') return 'js';
  if (nativeIndexAddon() !== null) return 'native';
  if (want === 'native') {
    const e = new Error(`IOCPSCOPE_INDEX_PASS=native, but the native index pass ${loadError}`);
    (e as Error & { code: string }).code = 'INDEX_NATIVE_MISSING';
    throw e;
  }
  return 'js';
}

/** A builder for a file's index pass (see indexPass). */
export function indexBuilder(
  options: BuilderOptions = {},
  pass: IndexPass = indexPass(),
): TraceIndexBuilder | NativeTraceIndexBuilder {
  const a = pass === 'native' ? nativeIndexAddon() : null;
  return a !== null ? new NativeTraceIndexBuilder(a, options) : new TraceIndexBuilder(options);
}

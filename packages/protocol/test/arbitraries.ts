// fast-check arbitraries for every event kind, over each field's full encodable
// range (the round trip must be exact over all of it, not just typical values).

import fc from 'fast-check';
import { EVENT_KIND_MAX, EventKind, type TraceEvent } from '../src/index.ts';

const u8 = fc.integer({ min: 0, max: 0xff });
const u4 = fc.integer({ min: 0, max: 0x0f });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
const tsNs = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const base = { tsNs, tid: u16 };

/** One arbitrary per kind, keyed by kind, so a test can cover each by name. */
export const eventArbitraries: {
  [K in EventKind]: fc.Arbitrary<Extract<TraceEvent, { kind: K }>>;
} = {
  [EventKind.ThreadStart]: fc.record({
    kind: fc.constant(EventKind.ThreadStart),
    ...base,
    role: u8 as fc.Arbitrary<never>,
    nameStr: u32,
    osThreadId: u32,
  }),
  [EventKind.ThreadExit]: fc.record({
    kind: fc.constant(EventKind.ThreadExit),
    ...base,
    exitCode: u32,
  }),
  [EventKind.ThreadState]: fc.record({
    kind: fc.constant(EventKind.ThreadState),
    ...base,
    state: u8 as fc.Arbitrary<never>,
    reason: u32 as fc.Arbitrary<never>,
    detail: u32,
  }),
  [EventKind.PortCreated]: fc.record({
    kind: fc.constant(EventKind.PortCreated),
    ...base,
    backend: u8 as fc.Arbitrary<never>,
    concurrency: u32,
    workerCount: u32,
  }),
  [EventKind.GqcsEnter]: fc.record({
    kind: fc.constant(EventKind.GqcsEnter),
    ...base,
    timeoutMs: u32,
    maxEntries: u32,
  }),
  [EventKind.GqcsReturn]: fc.record({
    kind: fc.constant(EventKind.GqcsReturn),
    ...base,
    ok: fc.boolean(),
    hasOverlapped: fc.boolean(),
    op: u4 as fc.Arbitrary<never>,
    bytes: u32,
    key: u64,
    error: u32,
    ioId: u32,
  }),
  [EventKind.PacketQueued]: fc.record({
    kind: fc.constant(EventKind.PacketQueued),
    ...base,
    op: u4 as fc.Arbitrary<never>,
    bytes: u32,
    key: u64,
    status: u32,
    ioId: u32,
  }),
  [EventKind.Pqcs]: fc.record({
    kind: fc.constant(EventKind.Pqcs),
    ...base,
    hasOverlapped: fc.boolean(),
    op: u4 as fc.Arbitrary<never>,
    bytes: u32,
    key: u64,
    ioId: u32,
  }),
  [EventKind.IoPosted]: fc.record({
    kind: fc.constant(EventKind.IoPosted),
    ...base,
    op: u4 as fc.Arbitrary<never>,
    bufCount: u4,
    requestedBytes: u32,
    session: u64,
    result: u32,
    ioId: u32,
  }),
  [EventKind.IoCount]: fc.record({
    kind: fc.constant(EventKind.IoCount),
    ...base,
    cause: u8 as fc.Arbitrary<never>,
    session: u64,
    value: i32,
    delta: i32,
    ioId: u32,
  }),
  [EventKind.SessionCreated]: fc.record({
    kind: fc.constant(EventKind.SessionCreated),
    ...base,
    session: u64,
    peerStr: u32,
    socket: u32,
    slot: u32,
  }),
  [EventKind.SessionReleased]: fc.record({
    kind: fc.constant(EventKind.SessionReleased),
    ...base,
    session: u64,
    ioCount: i32,
  }),
  [EventKind.Accept]: fc.record({
    kind: fc.constant(EventKind.Accept),
    ...base,
    session: u64,
    peerStr: u32,
    socket: u32,
  }),
  [EventKind.Disconnect]: fc.record({
    kind: fc.constant(EventKind.Disconnect),
    ...base,
    session: u64,
    reason: u8 as fc.Arbitrary<never>,
    error: u32,
  }),
  [EventKind.SocketClosed]: fc.record({
    kind: fc.constant(EventKind.SocketClosed),
    ...base,
    session: u64,
    socket: u32,
  }),
  [EventKind.LockWait]: fc.record(
    {
      kind: fc.constant(EventKind.LockWait),
      ...base,
      lockId: u32,
      nameStr: u32,
      session: u64,
      mode: fc.integer({ min: 1, max: 0xff }) as fc.Arbitrary<never>,
    },
    { requiredKeys: ['kind', 'tsNs', 'tid', 'lockId', 'nameStr', 'session'] },
  ),
  [EventKind.LockAcquire]: fc.record(
    {
      kind: fc.constant(EventKind.LockAcquire),
      ...base,
      lockId: u32,
      nameStr: u32,
      session: u64,
      mode: fc.integer({ min: 1, max: 0xff }) as fc.Arbitrary<never>,
    },
    { requiredKeys: ['kind', 'tsNs', 'tid', 'lockId', 'nameStr', 'session'] },
  ),
  [EventKind.LockRelease]: fc.record(
    {
      kind: fc.constant(EventKind.LockRelease),
      ...base,
      lockId: u32,
      nameStr: u32,
      session: u64,
      mode: fc.integer({ min: 1, max: 0xff }) as fc.Arbitrary<never>,
    },
    { requiredKeys: ['kind', 'tsNs', 'tid', 'lockId', 'nameStr', 'session'] },
  ),
  [EventKind.Marker]: fc.record({
    kind: fc.constant(EventKind.Marker),
    ...base,
    labelStr: u32,
    session: u64,
  }),
  [EventKind.Gap]: fc.record({
    kind: fc.constant(EventKind.Gap),
    ...base,
    source: u8 as fc.Arbitrary<never>,
    lost: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  }),
  // ---- v2 ----
  [EventKind.IoDetail]: fc.record({
    kind: fc.constant(EventKind.IoDetail),
    ...base,
    op: u4 as fc.Arbitrary<never>,
    skipOnSuccess: fc.boolean(),
    session: u64,
    overlapped: u64,
    ioId: u32,
  }),
  [EventKind.IoRing]: fc.record({
    kind: fc.constant(EventKind.IoRing),
    ...base,
    op: u4 as fc.Arbitrary<never>,
    off0: u32,
    len0: u32,
    off1: u32,
    avail: u32,
    ioId: u32,
  }),
  [EventKind.SessionRings]: fc.record({
    kind: fc.constant(EventKind.SessionRings),
    ...base,
    session: u64,
    recvCap: u32,
    sendCap: u32,
  }),
  [EventKind.Snapshot]: fc.record({
    kind: fc.constant(EventKind.Snapshot),
    ...base,
    phase: u8 as fc.Arbitrary<never>,
    reason: u32 as fc.Arbitrary<never>,
    count: u32,
  }),
  [EventKind.TraceEnd]: fc.record({
    kind: fc.constant(EventKind.TraceEnd),
    ...base,
    reason: u8 as fc.Arbitrary<never>,
    records: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  }),
  [EventKind.CallSite]: fc.record({
    kind: fc.constant(EventKind.CallSite),
    ...base,
    siteId: u32,
    fileStr: u32,
    line: u32,
    funcStr: u32,
  }),
  [EventKind.JobPush]: fc.record({
    kind: fc.constant(EventKind.JobPush),
    ...base,
    jobKind: u8 as fc.Arbitrary<never>,
    queueId: u32,
    session: u64,
    length: u32,
    jobId: u32,
  }),
  [EventKind.JobFlush]: fc.record({
    kind: fc.constant(EventKind.JobFlush),
    ...base,
    phase: u8 as fc.Arbitrary<never>,
    queueId: u32,
    jobs: u32,
    flushId: u32,
  }),
  [EventKind.TimerJob]: fc.record({
    kind: fc.constant(EventKind.TimerJob),
    ...base,
    phase: u8 as fc.Arbitrary<never>,
    queueId: u32,
    delayMs: u32,
    timerId: u32,
  }),
  [EventKind.SendBuffer]: fc.record({
    kind: fc.constant(EventKind.SendBuffer),
    ...base,
    op: u8 as fc.Arbitrary<never>,
    bufferId: u32,
    session: u64,
    refCount: u32,
    ioId: u32,
  }),
  [EventKind.Broadcast]: fc.record({
    kind: fc.constant(EventKind.Broadcast),
    ...base,
    queueId: u32,
    recipients: u32,
    bufferId: u32,
  }),
  [EventKind.HandleAssociated]: fc.record({
    kind: fc.constant(EventKind.HandleAssociated),
    ...base,
    key: u64,
    handle: u64,
    portId: u32,
  }),
  [EventKind.CompletionModes]: fc.record({
    kind: fc.constant(EventKind.CompletionModes),
    ...base,
    session: u64,
    handle: u32,
    flags: u32,
    ok: fc.boolean(),
  }),
};

/** Any event with a call-site id (v2). */
export const siteArb = fc.integer({ min: 1, max: 0x7ff });

export const ALL_KINDS = Array.from({ length: EVENT_KIND_MAX }, (_, i) => (i + 1) as EventKind);

export const anyEvent: fc.Arbitrary<TraceEvent> = fc.oneof(
  ...ALL_KINDS.map((k) => eventArbitraries[k] as fc.Arbitrary<TraceEvent>),
);

/** Strings as a writer would intern them: distinct ids from 1, bounded UTF-8. */
export const stringEntries: fc.Arbitrary<Array<[number, string]>> = fc
  .uniqueArray(fc.string({ unit: 'grapheme', maxLength: 40 }), { maxLength: 8 })
  .map((ss) => ss.filter((s) => s !== '').map((s, i): [number, string] => [i + 1, s]));

// Turns one record into words for the event details panel and the inspector:
// a short title, a sentence a course student can read, and labelled fields.
// Names of threads and strings come from a small context so this stays pure.

import {
  BlockReason,
  DisconnectReason,
  EVENT_KIND_NAMES,
  EventKind,
  GapSource,
  INFINITE,
  IoCountCause,
  JobKind,
  OP_NAMES,
  SendBufferOp,
  SnapshotReason,
  TraceEndReason,
  ThreadRole,
  ThreadStateValue,
  WinError,
  decodeEvent,
  type Op,
  type TraceEvent,
} from '@iocpscope/protocol';
import {
  formatCallSite,
  formatCount,
  formatSessionId,
  formatTimeNs,
  formatWinError,
} from './format.ts';

export interface DescribeContext {
  threadName(tid: number): string;
  text(strId: number): string;
  /** Where event i was recorded in the traced server's code (v2 call sites), if known. */
  callSite?(i: number): { file: string; line: number; func: string } | null;
  /** Event i's number in the whole trace (a window's events are part of a larger trace). */
  eventNumber?(i: number): number;
}

export interface EventDescription {
  kind: string;
  title: string;
  sentence: string;
  fields: Array<[label: string, value: string]>;
  /** 'ok' | 'warn' | 'bad' colouring hint for the title. */
  tone: 'ok' | 'warn' | 'bad' | 'neutral';
}

const ROLE_NAMES: Record<number, string> = {
  [ThreadRole.Main]: 'main thread',
  [ThreadRole.Worker]: 'worker thread',
  [ThreadRole.Accept]: 'accept thread',
  [ThreadRole.Kernel]: 'kernel',
  [ThreadRole.Other]: 'thread',
  [ThreadRole.Unknown]: 'thread of unknown role',
};

const STATE_NAMES: Record<number, string> = {
  [ThreadStateValue.Waiting]: 'waiting in GQCS',
  [ThreadStateValue.Running]: 'running',
  [ThreadStateValue.Blocked]: 'blocked',
  [ThreadStateValue.Exited]: 'exited',
};

export const BLOCK_REASON_NAMES: Record<number, string> = {
  [BlockReason.None]: '',
  [BlockReason.Lock]: 'on a lock',
  [BlockReason.Sleep]: 'in Sleep',
  [BlockReason.SyncIo]: 'in synchronous I/O',
  [BlockReason.Join]: 'waiting for a thread to end',
  [BlockReason.Accept]: 'in accept()',
  [BlockReason.Other]: 'outside GQCS',
};

export const CAUSE_NAMES: Record<number, string> = {
  [IoCountCause.Other]: 'other',
  [IoCountCause.AcceptHold]: 'accept hold',
  [IoCountCause.AcceptRelease]: 'accept hold dropped',
  [IoCountCause.RecvPost]: 'recv posted',
  [IoCountCause.SendPost]: 'send posted',
  [IoCountCause.PostFailed]: 'post failed at once',
  [IoCountCause.Completion]: 'completion handled',
  [IoCountCause.HoldAcquire]: 'hold taken',
  [IoCountCause.HoldRelease]: 'hold dropped',
  [IoCountCause.Snapshot]: 'count as of the snapshot',
};

const DISCONNECT_NAMES: Record<number, string> = {
  [DisconnectReason.Unknown]: 'unknown reason',
  [DisconnectReason.PeerClosed]: 'the peer closed the connection',
  [DisconnectReason.IoError]: 'an I/O error',
  [DisconnectReason.BadLength]: 'a packet with a bad length',
  [DisconnectReason.BadType]: 'a packet with a bad type',
  [DisconnectReason.SendOverflow]: 'the send queue overflowed',
  [DisconnectReason.Shutdown]: 'server shutdown',
  [DisconnectReason.Kicked]: 'the server kicked it',
  [DisconnectReason.IdleTimeout]: 'no bytes arrived for the idle timeout',
  [DisconnectReason.PartialTimeout]: 'a packet stayed incomplete past its timeout',
};

const SNAPSHOT_REASONS: Record<number, string> = {
  [SnapshotReason.RecordingStart]: 'the recording started while the server was running',
  [SnapshotReason.LateJoin]: 'this view joined a running server',
  [SnapshotReason.Resync]: 'the stream resynchronised after lost events',
};

const TRACE_END_REASONS: Record<number, string> = {
  [TraceEndReason.Stopped]: 'the recording was stopped',
  [TraceEndReason.SizeCap]: 'the recording reached its size cap',
  [TraceEndReason.ServerExit]: 'the server shut down',
  [TraceEndReason.Detached]: 'the tracer detached from its process',
};

const SEND_BUFFER_OPS: Record<number, string> = {
  [SendBufferOp.Acquire]: 'taken from the pool',
  [SendBufferOp.AddRef]: 'shared with one more send',
  [SendBufferOp.Release]: 'released by one user',
  [SendBufferOp.Returned]: 'returned to the pool',
  [SendBufferOp.PoolEmpty]: 'not available: the pool is empty',
};

const JOB_KINDS: Record<number, string> = {
  [JobKind.Other]: 'job',
  [JobKind.Enter]: 'enter job',
  [JobKind.Leave]: 'leave job',
  [JobKind.Chat]: 'chat job',
  [JobKind.Tick]: 'tick job',
  [JobKind.Login]: 'login job',
};

const GAP_NAMES: Record<number, string> = {
  [GapSource.RingOverflow]: "the server's trace ring overflowed",
  [GapSource.ClientQueue]: 'this dashboard fell behind the live stream',
  [GapSource.File]: 'the recording has a hole',
};

const opName = (op: Op): string => OP_NAMES[op] ?? `op ${op}`;
const sid = (s: bigint): string => formatSessionId(s);

export function describeEvent(w: Uint32Array, i: number, ctx: DescribeContext): EventDescription {
  const e = decodeEvent(w, i);
  if (!e) {
    return {
      kind: 'unknown',
      title: 'Unknown event',
      sentence: `Record ${i} has an unknown kind.`,
      fields: [],
      tone: 'bad',
    };
  }
  const who = e.tid === 0xffff ? 'no thread' : ctx.threadName(e.tid);
  const base: Array<[string, string]> = [
    ['event', `#${formatCount(ctx.eventNumber ? ctx.eventNumber(i) : i)}`],
    ['time', formatTimeNs(e.tsNs)],
    ['thread', who],
  ];
  const d = describeKind(e, i, who, ctx);
  const site = ctx.callSite?.(i);
  if (site) base.push(['call site', formatCallSite(site)]);
  return { kind: EVENT_KIND_NAMES[e.kind], ...d, fields: [...base, ...d.fields] };
}

function describeKind(
  e: TraceEvent,
  i: number,
  who: string,
  ctx: DescribeContext,
): Omit<EventDescription, 'kind'> {
  switch (e.kind) {
    case EventKind.ThreadStart:
      return {
        title: 'Thread started',
        sentence: `${ctx.text(e.nameStr) || who} started as a ${ROLE_NAMES[e.role] ?? 'thread'}.`,
        fields: [
          ['role', ROLE_NAMES[e.role] ?? String(e.role)],
          ['OS thread id', String(e.osThreadId)],
        ],
        tone: 'neutral',
      };
    case EventKind.ThreadExit:
      return {
        title: 'Thread exited',
        sentence: `${who} exited with code ${e.exitCode}.`,
        fields: [['exit code', String(e.exitCode)]],
        tone: 'neutral',
      };
    case EventKind.ThreadState: {
      if (e.state === ThreadStateValue.Blocked && e.reason === BlockReason.Accept) {
        // The accept thread idle in accept() waits for work, as a worker in GQCS does:
        // the timeline draws it as waiting, and every panel says so (issue 19 §10).
        return {
          title: 'Thread waiting in accept',
          sentence: `${who} is now waiting in accept() for the next connection (blocked in accept).`,
          fields: [
            ['state', 'waiting in accept'],
            ['reason', 'blocked in accept()'],
          ],
          tone: 'neutral',
        };
      }
      const st = STATE_NAMES[e.state] ?? `state ${e.state}`;
      const why = e.state === ThreadStateValue.Blocked ? BLOCK_REASON_NAMES[e.reason] : '';
      return {
        title: `Thread ${st}`,
        sentence: `${who} is now ${st}${why ? ` ${why}` : ''}.`,
        fields: [['state', st], ...(why ? ([['reason', why]] as Array<[string, string]>) : [])],
        tone: e.state === ThreadStateValue.Blocked ? 'warn' : 'neutral',
      };
    }
    case EventKind.PortCreated:
      return {
        title: 'Completion port created',
        sentence: `The port was created with concurrency ${e.concurrency} for ${e.workerCount} workers (${e.backend === 1 ? 'native' : 'emulated'} backend).`,
        fields: [
          ['concurrency', String(e.concurrency)],
          ['workers', String(e.workerCount)],
          ['backend', e.backend === 1 ? 'native' : 'emulated'],
        ],
        tone: 'neutral',
      };
    case EventKind.GqcsEnter:
      return {
        title: 'GQCS called',
        sentence: `${who} called GetQueuedCompletionStatus and waits ${e.timeoutMs === INFINITE ? 'without a timeout' : `up to ${e.timeoutMs} ms`} for a packet.`,
        fields: [
          ['timeout', e.timeoutMs === INFINITE ? 'INFINITE' : `${e.timeoutMs} ms`],
          ['max entries', String(e.maxEntries)],
        ],
        tone: 'neutral',
      };
    case EventKind.GqcsReturn: {
      const fields: Array<[string, string]> = [
        ['returned', e.ok ? 'TRUE' : 'FALSE'],
        ['overlapped', e.hasOverlapped ? `${opName(e.op)} (io ${e.ioId})` : 'NULL'],
        ['bytes', formatCount(e.bytes)],
        ['key', sid(e.key)],
        ['error', formatWinError(e.error)],
      ];
      let sentence: string;
      let tone: EventDescription['tone'] = 'ok';
      if (e.ok && e.hasOverlapped) {
        sentence =
          e.op === 1 && e.bytes === 0
            ? `${who} dequeued a recv completion of 0 bytes for session ${sid(e.key)}: the peer closed the connection.`
            : `${who} dequeued a successful ${opName(e.op)} completion of ${formatCount(e.bytes)} bytes for session ${sid(e.key)}.`;
      } else if (!e.ok && e.hasOverlapped) {
        tone = 'warn';
        sentence = `${who} dequeued a failed ${opName(e.op)} completion for session ${sid(e.key)} (error ${formatWinError(e.error)}); the session must still drop its IOCount.`;
      } else if (!e.ok) {
        tone = e.error === WinError.WaitTimeout ? 'neutral' : 'warn';
        sentence =
          e.error === WinError.WaitTimeout
            ? `GQCS timed out on ${who}: nothing was dequeued.`
            : `GQCS returned FALSE with no packet on ${who} (error ${formatWinError(e.error)}).`;
      } else {
        tone = 'neutral';
        sentence = `${who} dequeued a packet with a NULL overlapped (key ${sid(e.key)}): by convention an exit request.`;
      }
      return { title: 'GQCS returned', sentence, fields, tone };
    }
    case EventKind.PacketQueued:
      return {
        title: 'Completion packet queued',
        sentence: `The kernel queued a ${opName(e.op)} completion for session ${sid(e.key)}: ${formatCount(e.bytes)} bytes, status ${formatWinError(e.status)}.`,
        fields: [
          ['op', `${opName(e.op)} (io ${e.ioId})`],
          ['bytes', formatCount(e.bytes)],
          ['status', formatWinError(e.status)],
          ['key', sid(e.key)],
        ],
        tone: e.status === 0 ? 'neutral' : 'warn',
      };
    case EventKind.Pqcs:
      return {
        title: 'PostQueuedCompletionStatus',
        sentence: `${who} posted a packet to the port (key ${sid(e.key)}, ${formatCount(e.bytes)} bytes, ${e.hasOverlapped ? 'with' : 'NULL'} overlapped).`,
        fields: [
          ['key', sid(e.key)],
          ['bytes', formatCount(e.bytes)],
          ['overlapped', e.hasOverlapped ? `${opName(e.op)} (io ${e.ioId})` : 'NULL'],
        ],
        tone: 'neutral',
      };
    case EventKind.IoPosted: {
      const res =
        e.result === WinError.IoPending
          ? 'pending: a packet will come'
          : e.result === 0
            ? 'finished at once: a packet will still come'
            : `failed with ${formatWinError(e.result)}: no packet will ever come`;
      return {
        title: `${e.op === 2 ? 'WSASend' : e.op === 1 ? 'WSARecv' : 'I/O'} posted`,
        sentence: `${who} posted a ${opName(e.op)} of ${formatCount(e.requestedBytes)} bytes in ${e.bufCount} buffer${e.bufCount === 1 ? '' : 's'} for session ${sid(e.session)}; it is ${res}.`,
        fields: [
          ['op', `${opName(e.op)} (io ${e.ioId})`],
          ['session', sid(e.session)],
          ['bytes', formatCount(e.requestedBytes)],
          ['WSABUFs', String(e.bufCount)],
          ['result', formatWinError(e.result)],
        ],
        tone: e.result === 0 || e.result === WinError.IoPending ? 'neutral' : 'warn',
      };
    }
    case EventKind.IoCount: {
      const delta = e.delta > 0 ? `+${e.delta}` : String(e.delta);
      return {
        title: `IOCount ${delta}`,
        sentence: `Session ${sid(e.session)}'s IOCount went ${e.delta >= 0 ? 'up' : 'down'} by ${Math.abs(e.delta)} to ${e.value} (${CAUSE_NAMES[e.cause] ?? 'other'}).`,
        fields: [
          ['session', sid(e.session)],
          ['change', delta],
          ['IOCount now', String(e.value)],
          ['cause', CAUSE_NAMES[e.cause] ?? String(e.cause)],
          ...(e.ioId ? ([['io', String(e.ioId)]] as Array<[string, string]>) : []),
        ],
        tone: e.value < 0 ? 'bad' : 'neutral',
      };
    }
    case EventKind.SessionCreated:
      return {
        title: 'Session created',
        sentence: `Session ${sid(e.session)} was created for ${ctx.text(e.peerStr) || 'an unknown peer'} in slot ${e.slot}.`,
        fields: [
          ['session', sid(e.session)],
          ['peer', ctx.text(e.peerStr) || '—'],
          ['socket', String(e.socket)],
          ['slot', String(e.slot)],
        ],
        tone: 'ok',
      };
    case EventKind.SessionReleased:
      return {
        title: 'Session released',
        sentence: `Session ${sid(e.session)} was released with IOCount ${e.ioCount}${e.ioCount !== 0 ? ', which should have been 0' : ''}.`,
        fields: [
          ['session', sid(e.session)],
          ['IOCount', String(e.ioCount)],
        ],
        tone: e.ioCount === 0 ? 'neutral' : 'bad',
      };
    case EventKind.Accept:
      return {
        title: 'Connection accepted',
        sentence: `${who} accepted a connection from ${ctx.text(e.peerStr) || 'an unknown peer'} as session ${sid(e.session)}.`,
        fields: [
          ['session', sid(e.session)],
          ['peer', ctx.text(e.peerStr) || '—'],
          ['socket', String(e.socket)],
        ],
        tone: 'ok',
      };
    case EventKind.Disconnect:
      return {
        title: 'Disconnect',
        sentence: `Session ${sid(e.session)} is disconnecting because of ${DISCONNECT_NAMES[e.reason] ?? 'an unknown reason'}${e.error ? ` (error ${formatWinError(e.error)})` : ''}.`,
        fields: [
          ['session', sid(e.session)],
          ['reason', DISCONNECT_NAMES[e.reason] ?? String(e.reason)],
          ['error', formatWinError(e.error)],
        ],
        tone: 'warn',
      };
    case EventKind.SocketClosed:
      return {
        title: 'Socket closed',
        sentence: `The socket of session ${sid(e.session)} was closed; pending I/O will complete with 995.`,
        fields: [
          ['session', sid(e.session)],
          ['socket', String(e.socket)],
        ],
        tone: 'neutral',
      };
    case EventKind.LockWait:
    case EventKind.LockAcquire:
    case EventKind.LockRelease: {
      const name = ctx.text(e.nameStr) || `lock ${e.lockId}`;
      const verb =
        e.kind === EventKind.LockWait
          ? 'waits for'
          : e.kind === EventKind.LockAcquire
            ? 'acquired'
            : 'released';
      return {
        title: `Lock ${e.kind === EventKind.LockWait ? 'wait' : e.kind === EventKind.LockAcquire ? 'acquired' : 'released'}`,
        sentence: `${who} ${verb} ${name}${e.session ? ` (session ${sid(e.session)})` : ''}.`,
        fields: [
          ['lock', name],
          ...(e.session ? ([['session', sid(e.session)]] as Array<[string, string]>) : []),
        ],
        tone: e.kind === EventKind.LockWait ? 'warn' : 'neutral',
      };
    }
    case EventKind.Marker:
      return {
        title: 'Marker',
        sentence: ctx.text(e.labelStr) || 'A marker.',
        fields: [['label', ctx.text(e.labelStr) || '—']],
        tone: 'neutral',
      };
    case EventKind.Gap:
      return {
        title: 'Gap',
        sentence:
          i === 0 && e.lost === 0
            ? 'The live view starts here: events from before this dashboard connected were not received.'
            : e.lost === 0
              ? 'Events may be missing here: the live connection dropped or frames were lost, so how many is unknown.'
              : `${formatCount(e.lost)} events are missing here: ${GAP_NAMES[e.source] ?? 'unknown source'}.`,
        fields: [
          ['lost events', e.lost === 0 ? 'unknown' : formatCount(e.lost)],
          ['source', GAP_NAMES[e.source] ?? String(e.source)],
        ],
        tone: 'bad',
      };
    case EventKind.IoDetail:
      return {
        title: `${opName(e.op)} OVERLAPPED`,
        sentence: `The ${opName(e.op)} of I/O #${e.ioId} uses OVERLAPPED ${hex64(e.overlapped)}${e.skipOnSuccess ? '; the socket skips the port on success, so an immediate success queues no packet' : ''}.`,
        fields: [
          ['OVERLAPPED', hex64(e.overlapped)],
          ['io id', String(e.ioId)],
          ['session', sid(e.session)],
          ...(e.skipOnSuccess
            ? ([['completion mode', 'skip the port on success']] as Array<[string, string]>)
            : []),
        ],
        tone: 'neutral',
      };
    case EventKind.IoRing:
      return {
        title: `${opName(e.op)} ring buffers`,
        sentence: `I/O #${e.ioId} posted WSABUF[0] at ring offset ${e.off0} (${formatCount(e.len0)} bytes)${e.off1 !== 0 ? ` and WSABUF[1] at offset ${e.off1}` : ''}, with ${formatCount(e.avail)} bytes ${e.op === 1 ? 'free' : 'queued'}.`,
        fields: [
          ['WSABUF[0]', `offset ${e.off0}, ${formatCount(e.len0)} bytes`],
          ['WSABUF[1] offset', String(e.off1)],
          [e.op === 1 ? 'free in RecvQ' : 'used in SendQ', formatCount(e.avail)],
          ['io id', String(e.ioId)],
        ],
        tone: 'neutral',
      };
    case EventKind.SessionRings:
      return {
        title: 'Session buffers',
        sentence: `Session ${sid(e.session)} has a ${formatCount(e.recvCap)}-byte RecvQ and a ${formatCount(e.sendCap)}-byte SendQ.`,
        fields: [
          ['session', sid(e.session)],
          ['RecvQ', `${formatCount(e.recvCap)} bytes`],
          ['SendQ', `${formatCount(e.sendCap)} bytes`],
        ],
        tone: 'neutral',
      };
    case EventKind.Snapshot:
      return {
        title: e.phase === 0 ? 'Snapshot begins' : 'Snapshot ends',
        sentence:
          e.phase === 0
            ? `The state below is given as it was at this moment (${SNAPSHOT_REASONS[e.reason] ?? 'snapshot'}), not as events.`
            : `End of the snapshot (${formatCount(e.count)} records of state). Events follow.`,
        fields: [['reason', SNAPSHOT_REASONS[e.reason] ?? String(e.reason)]],
        tone: 'neutral',
      };
    case EventKind.TraceEnd:
      return {
        title: 'Trace ends',
        sentence: `The trace ended cleanly: ${TRACE_END_REASONS[e.reason] ?? `reason ${e.reason}`}.`,
        fields: [
          ['reason', TRACE_END_REASONS[e.reason] ?? String(e.reason)],
          ['records', formatCount(e.records)],
        ],
        tone: 'neutral',
      };
    case EventKind.CallSite:
      return {
        title: 'Call site',
        sentence: `Call site ${e.siteId} is ${ctx.text(e.funcStr) || '?'} at ${ctx.text(e.fileStr) || '?'}:${e.line}.`,
        fields: [
          ['site', String(e.siteId)],
          ['function', ctx.text(e.funcStr) || '—'],
          ['file', `${ctx.text(e.fileStr) || '—'}:${e.line}`],
        ],
        tone: 'neutral',
      };
    case EventKind.JobPush:
      return {
        title: 'Job pushed',
        sentence: `${who} pushed a ${JOB_KINDS[e.jobKind] ?? 'job'} onto queue ${e.queueId}, which now holds ${formatCount(e.length)}.`,
        fields: [
          ['queue', String(e.queueId)],
          ['job', JOB_KINDS[e.jobKind] ?? String(e.jobKind)],
          ['queue length', formatCount(e.length)],
          ...(e.session ? ([['session', sid(e.session)]] as Array<[string, string]>) : []),
        ],
        tone: 'neutral',
      };
    case EventKind.JobFlush:
      return {
        title: e.phase === 0 ? 'Queue flush begins' : 'Queue flush ends',
        sentence:
          e.phase === 0
            ? `${who} starts flushing queue ${e.queueId} (${formatCount(e.jobs)} jobs queued).`
            : `${who} finished flushing queue ${e.queueId} after ${formatCount(e.jobs)} jobs.`,
        fields: [
          ['queue', String(e.queueId)],
          [e.phase === 0 ? 'jobs queued' : 'jobs run', formatCount(e.jobs)],
        ],
        tone: 'neutral',
      };
    case EventKind.TimerJob:
      return {
        title: ['Timer scheduled', 'Timer fired', 'Timer cancelled'][e.phase] ?? 'Timer',
        sentence: `Timer ${e.timerId} for queue ${e.queueId} (${formatCount(e.delayMs)} ms) ${['was scheduled', 'fired', 'was cancelled'][e.phase] ?? 'changed'}.`,
        fields: [
          ['queue', String(e.queueId)],
          ['delay', `${formatCount(e.delayMs)} ms`],
        ],
        tone: 'neutral',
      };
    case EventKind.SendBuffer:
      return {
        title: 'SendBuffer',
        sentence: `SendBuffer ${e.bufferId} ${SEND_BUFFER_OPS[e.op] ?? `op ${e.op}`}; ${formatCount(e.refCount)} references left.`,
        fields: [
          ['buffer', String(e.bufferId)],
          ['references', formatCount(e.refCount)],
          ...(e.session ? ([['session', sid(e.session)]] as Array<[string, string]>) : []),
        ],
        tone: e.op === SendBufferOp.PoolEmpty ? 'warn' : 'neutral',
      };
    case EventKind.Broadcast:
      return {
        title: 'Broadcast',
        sentence: `${who} broadcast buffer ${e.bufferId} to ${formatCount(e.recipients)} members of room ${e.queueId}.`,
        fields: [
          ['room', String(e.queueId)],
          ['recipients', formatCount(e.recipients)],
          ['buffer', String(e.bufferId)],
        ],
        tone: 'neutral',
      };
    case EventKind.HandleAssociated:
      return {
        title: 'Handle associated',
        sentence: `Handle ${hex64(e.handle)} was associated with port ${e.portId}, key ${hex64(e.key)}.`,
        fields: [
          ['handle', hex64(e.handle)],
          ['key', hex64(e.key)],
        ],
        tone: 'neutral',
      };
    case EventKind.CompletionModes:
      return {
        title: 'Completion modes',
        sentence: `Session ${sid(e.session)}: SetFileCompletionNotificationModes(${e.flags}) ${e.ok ? 'succeeded' : 'failed'}${e.flags & 1 ? '; immediate successes queue no packet' : ''}.`,
        fields: [
          ['flags', String(e.flags)],
          ['session', sid(e.session)],
        ],
        tone: 'neutral',
      };
  }
}

const hex64 = (v: bigint): string => `0x${v.toString(16)}`;

// Fault switches (issue 7 §3, issue 18 §4): each turns on one classic bug of
// iocp-model.md §3 in the real code path of a reference server. They live in
// the session table's shared memory, so they can be flipped at runtime from
// the main thread (control channel) and every worker sees the change on its
// next completion. The session layer's switches (recv side, release,
// accept, shutdown) work in both servers; the echo server's send path and the
// chat server's JobQueue, SendBuffer pool and locks have their own.

import {
  APP_FAULT_NAMES,
  CHAT_FAULT_NAMES,
  ECHO_FAULT_NAMES,
  FAULT_NAMES,
  type FaultName,
} from '@iocpscope/protocol';
import type { FaultWords } from './fault-words.ts';
import { T_FAULTS, type SessionTable } from './session-table.ts';

export { CHAT_FAULT_NAMES, ECHO_FAULT_NAMES, FAULT_NAMES, type FaultName };

/** The reference servers `serve --app` runs. */
export type AppName = 'echo' | 'chat';
export const APP_NAMES: readonly AppName[] = ['echo', 'chat'];

/** The switches each server implements. */
export const APP_FAULTS: Record<AppName, readonly FaultName[]> = APP_FAULT_NAMES;

/** One line each for `serve --help` and the dashboard. */
export const FAULT_DESCRIPTIONS: Record<FaultName, string> = {
  'iocount-double-decrement':
    'a recv completion decrements IOCount twice: the session is released while I/O is pending, then IOCount goes below 0 (bug 1)',
  'release-with-io-pending':
    'a disconnect releases the session at once instead of waiting for IOCount 0: completions then arrive for a released session (bug 2)',
  'recv-not-reposted':
    "after a recv completion with data the worker forgets RecvPost: with no recv left, the session's IOCount reaches 0 once its last I/O completes and it is released, hanging up on a client that was still talking (bug 5)",
  'two-sends-in-flight':
    'SendPost ignores the send-in-flight flag: two WSASends overlap on one session and echo bytes twice (bug 4)',
  'no-decrement-on-failure':
    'a failed completion (FALSE with an overlapped) skips IOCount-1: the session never reaches 0 and is never released (zombie, bug 8)',
  'too-few-exit-packets':
    'shutdown posts one PQCS(0,0,NULL) fewer than there are workers: one worker never exits (bug 10)',
  'no-accept-hold':
    "the accept thread takes no IOCount hold across the first RecvPost and OnClientJoin (1 ms of join work), then marks the session joined through its slot: a client that leaves at once is released by a worker meanwhile, and the acceptor writes to the freed slot (use after release; with slot reuse, another session's) (bug 11)",
  'zero-byte-recv-reposted':
    'a 0-byte recv (peer closed) is treated as data and the recv is posted again: it completes at once, forever (bug 9)',
  'lock-across-send':
    'SendPost takes a global lock and holds it across WSASend: other workers block on it (bug 16)',
  'release-without-atomic-flag':
    'release checks a plain IOCount == 0 and a plain flag, works, then sets the flag, instead of one CAS: a recv and a send failing together on two workers (a reset) release the session twice (bug 13)',
  'ring-wrap-off-by-one':
    "RecvPost splits RecvQ's free space one byte early when it wraps: WSABUF[0] stops one byte before the physical end and WSABUF[1] starts at the base, so a byte is skipped and the stream shifts (bug 7)",
  'short-send-ignored':
    "SendPost posts one byte less than it counts as sent (an off-by-one in the WSABUF length), and the send completion moves SendQ's front by the count instead of the bytes the completion reports: one byte of every echo is never sent (bug 15)",
  'send-overflow-ignored':
    'an echo that does not fit in SendQ (a client that sends faster than it reads) is copied in anyway, over bytes not yet sent, instead of disconnecting the session (bug 15)',
  'job-queue-two-flushers':
    "a room's JobQueue push reads its job count, logs, then writes count+1 (not one atomic add): two pushers both see 0 and both flush the room at once, so broadcasts leave out of order (chat, bug 17)",
  'send-buffer-early-release':
    "a send completion drops its SendBuffer reference twice: the buffer goes back to the pool while other members' WSASends still read it, and the next broadcast overwrites it (chat, bug 18)",
  'broadcast-under-room-lock':
    "a chat is broadcast under the room's lock instead of through its JobQueue: the lock is held across every member's WSASend and other workers block on it (chat, bug 16)",
  'lock-order-inversion':
    'the Enter job takes the room directory lock, then the user directory lock, while Login takes them the other way round: a lock-order cycle that deadlocks once two workers meet there (chat, bug 19)',
};

export const FAULT_INDEX: Record<FaultName, number> = Object.fromEntries(
  FAULT_NAMES.map((n, i) => [n, i]),
) as Record<FaultName, number>;

export const F_IOCOUNT_DOUBLE_DECREMENT = T_FAULTS + FAULT_INDEX['iocount-double-decrement'];
export const F_RELEASE_WITH_IO_PENDING = T_FAULTS + FAULT_INDEX['release-with-io-pending'];
export const F_RECV_NOT_REPOSTED = T_FAULTS + FAULT_INDEX['recv-not-reposted'];
export const F_TWO_SENDS_IN_FLIGHT = T_FAULTS + FAULT_INDEX['two-sends-in-flight'];
export const F_NO_DECREMENT_ON_FAILURE = T_FAULTS + FAULT_INDEX['no-decrement-on-failure'];
export const F_TOO_FEW_EXIT_PACKETS = T_FAULTS + FAULT_INDEX['too-few-exit-packets'];
export const F_NO_ACCEPT_HOLD = T_FAULTS + FAULT_INDEX['no-accept-hold'];
export const F_ZERO_BYTE_RECV_REPOSTED = T_FAULTS + FAULT_INDEX['zero-byte-recv-reposted'];
export const F_LOCK_ACROSS_SEND = T_FAULTS + FAULT_INDEX['lock-across-send'];
export const F_RELEASE_WITHOUT_ATOMIC_FLAG = T_FAULTS + FAULT_INDEX['release-without-atomic-flag'];
export const F_RING_WRAP_OFF_BY_ONE = T_FAULTS + FAULT_INDEX['ring-wrap-off-by-one'];
export const F_SHORT_SEND_IGNORED = T_FAULTS + FAULT_INDEX['short-send-ignored'];
export const F_SEND_OVERFLOW_IGNORED = T_FAULTS + FAULT_INDEX['send-overflow-ignored'];
export const F_JOB_QUEUE_TWO_FLUSHERS = T_FAULTS + FAULT_INDEX['job-queue-two-flushers'];
export const F_SEND_BUFFER_EARLY_RELEASE = T_FAULTS + FAULT_INDEX['send-buffer-early-release'];
export const F_BROADCAST_UNDER_ROOM_LOCK = T_FAULTS + FAULT_INDEX['broadcast-under-room-lock'];
export const F_LOCK_ORDER_INVERSION = T_FAULTS + FAULT_INDEX['lock-order-inversion'];

/** Every fault's word, for EchoCore (main thread here; threads get a copy in their input). */
export const FAULT_WORDS: FaultWords = {
  iocountDoubleDecrement: F_IOCOUNT_DOUBLE_DECREMENT,
  releaseWithIoPending: F_RELEASE_WITH_IO_PENDING,
  recvNotReposted: F_RECV_NOT_REPOSTED,
  twoSendsInFlight: F_TWO_SENDS_IN_FLIGHT,
  noDecrementOnFailure: F_NO_DECREMENT_ON_FAILURE,
  tooFewExitPackets: F_TOO_FEW_EXIT_PACKETS,
  noAcceptHold: F_NO_ACCEPT_HOLD,
  zeroByteRecvReposted: F_ZERO_BYTE_RECV_REPOSTED,
  lockAcrossSend: F_LOCK_ACROSS_SEND,
  releaseWithoutAtomicFlag: F_RELEASE_WITHOUT_ATOMIC_FLAG,
  ringWrapOffByOne: F_RING_WRAP_OFF_BY_ONE,
  shortSendIgnored: F_SHORT_SEND_IGNORED,
  sendOverflowIgnored: F_SEND_OVERFLOW_IGNORED,
  jobQueueTwoFlushers: F_JOB_QUEUE_TWO_FLUSHERS,
  sendBufferEarlyRelease: F_SEND_BUFFER_EARLY_RELEASE,
  broadcastUnderRoomLock: F_BROADCAST_UNDER_ROOM_LOCK,
  lockOrderInversion: F_LOCK_ORDER_INVERSION,
};

export class FaultError extends Error {
  constructor(
    message: string,
    readonly code: 'ERR_UNKNOWN_FAULT' | 'ERR_FAULT_NOT_IN_APP' = 'ERR_UNKNOWN_FAULT',
  ) {
    super(message);
  }
}

export function isFaultName(s: string): s is FaultName {
  return (FAULT_NAMES as readonly string[]).includes(s);
}

export function parseFaultName(s: string): FaultName {
  if (!isFaultName(s)) {
    throw new FaultError(`unknown fault '${s}' (known: ${FAULT_NAMES.join(', ')})`);
  }
  return s;
}

/** Throws FaultError (ERR_FAULT_NOT_IN_APP) for a switch the app does not implement. */
export function checkAppFault(app: AppName, name: FaultName): void {
  if (!APP_FAULTS[app].includes(name)) {
    throw new FaultError(
      `fault '${name}' is not a switch of the ${app} server (its switches: ${APP_FAULTS[app].join(', ')})`,
      'ERR_FAULT_NOT_IN_APP',
    );
  }
}

/** Runtime view of the switches (any thread). */
export class FaultSwitches {
  constructor(
    private readonly table: SessionTable,
    /** The server whose switches these are: the others are refused. */
    readonly app: AppName = 'echo',
  ) {}

  /** Replace the whole set (the control message `set-faults` semantics); nothing changes on a refusal. */
  set(faults: readonly FaultName[]): void {
    const on = new Set(faults.map(parseFaultName));
    for (const n of on) checkAppFault(this.app, n);
    for (const n of FAULT_NAMES)
      Atomics.store(this.table.i32, T_FAULTS + FAULT_INDEX[n], on.has(n) ? 1 : 0);
  }

  enable(name: FaultName, on = true): void {
    checkAppFault(this.app, parseFaultName(name));
    Atomics.store(this.table.i32, T_FAULTS + FAULT_INDEX[name], on ? 1 : 0);
  }

  isOn(name: FaultName): boolean {
    return Atomics.load(this.table.i32, T_FAULTS + FAULT_INDEX[name]) !== 0;
  }

  active(): FaultName[] {
    return FAULT_NAMES.filter((n) => this.isOn(n));
  }
}

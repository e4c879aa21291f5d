// Findings and the catalogue of classic bugs (../../../shared/docs/iocp-model.md §3).
// A finding names the rule it breaks, what it is about (a session, a thread, a
// lock or the port), the event indices that prove it, and says it in plain words.
// Event indices are 0-based positions in the trace, as everywhere in this package.

import type { SessionId } from './ids.ts';

export type RuleId =
  | 'iocount-balance'
  | 'use-after-release'
  | 'session-identity'
  | 'one-send-in-flight'
  | 'recv-reposted'
  | 'buffer-in-use'
  | 'ring-buffer'
  | 'gqcs-false'
  | 'zero-byte'
  | 'shutdown'
  | 'accept-hold'
  | 'disconnect-race'
  | 'release-once'
  | 'port-starvation'
  | 'send-lost-bytes'
  | 'lock-across-send'
  | 'job-queue-flushers'
  | 'send-buffer-reuse'
  | 'lock-order';

export interface RuleInfo {
  id: RuleId;
  /** Number of the bug in iocp-model.md §3. */
  number: number;
  title: string;
  /** What the trace shows of it, and what it cannot show (and why). */
  coverage: string;
}

export type FindingSubject =
  | { kind: 'session'; session: SessionId }
  | { kind: 'thread'; tid: number }
  | { kind: 'lock'; lockId: number; tid: number }
  | { kind: 'port' };

export interface Finding {
  rule: RuleId;
  /** Number of the bug in iocp-model.md §3 (1–16), or of the chat server's (17–19, SEMANTICS.md). */
  ruleNumber: number;
  /** Which check of the rule fired, e.g. 'double-decrement'. Stable, for filters and tests. */
  check: string;
  title: string;
  severity: 'error' | 'warning';
  subject: FindingSubject;
  /** The event at which the finding became certain: where the timeline marks it. */
  index: number;
  tsNs: number;
  /** Event indices that prove it, ascending; includes `index`. */
  evidence: number[];
  message: string;
}

export const RULES: readonly RuleInfo[] = [
  {
    id: 'iocount-balance',
    number: 1,
    title: 'IOCount decremented twice or in the wrong place',
    coverage:
      'IOCount below 0; two -1 for one completion; a -1 for a post that did not fail, or before its completion was dequeued; a completion without its -1; a completion dequeued before its +1 (incremented after WSARecv).',
  },
  {
    id: 'use-after-release',
    number: 2,
    title: 'Release while I/O is pending / completion for a released session',
    coverage:
      'A release while an operation is still pending, or at an IOCount other than 0; a post, dequeue or IOCount change for a SessionID after its release (a lookup that takes and drops a hold is allowed).',
  },
  {
    id: 'session-identity',
    number: 3,
    title: 'SessionID or socket reuse confusion',
    coverage:
      'A SessionID given to a second session; a slot handed out while its previous session is alive; a completion whose key matches no session, or a session that never posted it. Socket reuse alone is legal (sessions are keyed by id).',
  },
  {
    id: 'one-send-in-flight',
    number: 4,
    title: 'Two sends in flight on one session',
    coverage:
      'A second WSASend while one is outstanding. The lost wake-up (SendQ not empty, nothing scheduled) is not visible: events do not carry the SendQ level.',
  },
  {
    id: 'recv-reposted',
    number: 5,
    title: 'Recv not re-posted',
    coverage:
      'After a recv completion with bytes > 0, the handling thread reached its next GQCS without posting a recv or disconnecting.',
  },
  {
    id: 'buffer-in-use',
    number: 6,
    title: 'Buffers or OVERLAPPED reused while I/O uses them',
    coverage:
      'A post whose OVERLAPPED (IoDetail, v2) another post still in flight uses, in any session; two recvs outstanding on one session (both own RecvQ’s free space); one ioId posted again while in flight (traces without IoDetail). Writes into a posted byte range are not in the events.',
  },
  {
    id: 'ring-buffer',
    number: 7,
    title: 'Ring-buffer wrap mistakes',
    coverage:
      'From IoRing and SessionRings (v2): two WSABUFs whose first does not run to the physical end, or whose second does not start at the base; WSABUF[0] past the end; more bytes posted than the free/used space; RecvQ free space above capacity; a post that does not start where the previous completion left the pointer (a send behind the front). Also a recv or send of 0 bytes, and a completion larger than its post. The WSABUF count is not checked: a port computes it from the lengths.',
  },
  {
    id: 'gqcs-false',
    number: 8,
    title: 'GQCS FALSE mishandled',
    coverage:
      'A failed completion without IOCount-1 (zombie session); a worker exiting on a GQCS timeout while sessions are live; a FALSE/NULL return treated as a completion.',
  },
  {
    id: 'zero-byte',
    number: 9,
    title: '0-byte completions',
    coverage:
      'A recv posted after a 0-byte recv completion (it spins); an exit packet (0,0,NULL) not followed by the thread exiting, or treated as a completion.',
  },
  {
    id: 'shutdown',
    number: 10,
    title: 'Shutdown: exit packets and threads',
    coverage:
      'A worker that never got an exit packet: woken only by the port closing (735), alive when the main thread exits, or still waiting at the end of a trace that covers the server’s exit. Workers are the roster (worker roles, from ThreadStart or a snapshot, and threads seen in GQCS), exit packets are counted where consumed. Also exit packets posted while sessions are alive, and threads alive when the main thread exits. Waiting on a wrong handle count (WAIT_FAILED) is not visible: WaitForMultipleObjects is not instrumented.',
  },
  {
    id: 'accept-hold',
    number: 11,
    title: 'Accept without a hold',
    coverage:
      'The accepting thread posted the first recv of a session without holding an IOCount across it; the acceptor finishing with a session (its Accept record) after the session was released, or naming another session than the one it created (the freed slot was reused).',
  },
  {
    id: 'disconnect-race',
    number: 12,
    title: 'Disconnect racing with new posts',
    coverage:
      'A post issued after the socket was closed that the kernel accepted; a post issued after a disconnect started that was never cancelled (still pending a while later, or at the end).',
  },
  {
    id: 'release-once',
    number: 13,
    title: 'A broken release (no atomic flag or CAS)',
    coverage:
      'A session released twice (two threads both saw IOCount reach 0); a thread that releases a session it never decremented, which took the slot of the session it did decrement last (its release decision was about that one).',
  },
  {
    id: 'port-starvation',
    number: 14,
    title: 'Workers blocked outside GQCS while packets wait; sustained overcommit',
    coverage:
      'Packets queued for longer than a threshold while no thread waits in GQCS, fewer than the concurrency value run and workers are blocked by the server: in Sleep or a synchronous call, or on a lock whose holder posted I/O, slept or blocked under it (a deadlock included); more threads running than the concurrency value for longer than a threshold. A lock whose running holder did nothing recorded under it is contention (or a holder the OS did not schedule) and is only a warning, after 10× the threshold. A LIFO hot thread and a short overcommit after a wake-up are normal and not reported.',
  },
  {
    id: 'send-lost-bytes',
    number: 15,
    title: 'Send flood and lost bytes',
    coverage:
      'From IoRing and SessionRings (v2): a send posted while SendQ held more than its capacity (an overflow not handled by a disconnect), and a send that starts past the bytes the previous send reported sent (the front moved by more than was sent). Also a send that completed short without an error and was not treated as a disconnect. A disconnect with reason send-overflow is the correct outcome.',
  },
  {
    id: 'lock-across-send',
    number: 16,
    title: 'A lock held across WSASend while other workers wait for it',
    coverage:
      'A thread called WSASend while holding a lock another thread was waiting for (error); a lock held across WSASend that other threads also take, though no wait overlapped such a hold in the trace (warning). A lock only one thread ever takes is not reported.',
  },
  {
    id: 'job-queue-flushers',
    number: 17,
    title: 'Two threads flush one JobQueue at once',
    coverage:
      'From JobPush and JobFlush (v2): a thread that flushes a queue right after its push found the count above 0 (its add was not the 0→1 one); a flush of a queue that begins on one thread while another thread’s flush of the same queue has begun and not ended, unless both began from a 0→1 push (then the first one’s end record is only late: its last decrement came before the second push).',
  },
  {
    id: 'send-buffer-reuse',
    number: 18,
    title: 'A pooled SendBuffer returned and reused while a send still reads it',
    coverage:
      'From SendBuffer (v2), per buffer life (Acquire to Returned): a Release by a session that holds no reference (a reference dropped twice), and an Acquire while the previous life still has a member reference no Release dropped (its WSASend may still read the bytes). Writes into the buffer are not in the events; the references are.',
  },
  {
    id: 'lock-order',
    number: 19,
    title: 'Locks taken in opposite orders on two paths',
    coverage:
      'The lock-order graph of the trace: an edge A -> B each time a thread acquires B while holding A (two shared acquisitions are no edge); a cycle is reported even when no deadlock happened in the run. Locks the server does not record (LockAcquire) are not in the graph.',
  },
];

export const RULE_BY_ID: ReadonlyMap<RuleId, RuleInfo> = new Map(RULES.map((r) => [r.id, r]));

/** Which rule must catch each fault switch of the reference server. */
export const FAULT_RULES = {
  'iocount-double-decrement': 'iocount-balance',
  'release-with-io-pending': 'use-after-release',
  'recv-not-reposted': 'recv-reposted',
  'two-sends-in-flight': 'one-send-in-flight',
  'no-decrement-on-failure': 'gqcs-false',
  'too-few-exit-packets': 'shutdown',
  'no-accept-hold': 'accept-hold',
  'zero-byte-recv-reposted': 'zero-byte',
  'lock-across-send': 'lock-across-send',
  'release-without-atomic-flag': 'release-once',
  'ring-wrap-off-by-one': 'ring-buffer',
  'short-send-ignored': 'send-lost-bytes',
  'send-overflow-ignored': 'send-lost-bytes',
  'job-queue-two-flushers': 'job-queue-flushers',
  'send-buffer-early-release': 'send-buffer-reuse',
  'broadcast-under-room-lock': 'lock-across-send',
  'lock-order-inversion': 'lock-order',
} as const satisfies Record<string, RuleId>;

/**
 * Other rules a fault switch's recordings may rightly show, with the reason:
 * the consequences of the same bug, seen by the rule that watches them. A
 * rule not listed here (nor the fault's own) firing on a fault run is a false
 * positive. `always` marks the ones every run that reaches the bug shows.
 */
export const FAULT_CO_FINDINGS: Record<
  keyof typeof FAULT_RULES,
  ReadonlyArray<{ rule: RuleId; always?: boolean; why: string }>
> = {
  'iocount-double-decrement': [
    {
      rule: 'accept-hold',
      why: 'the extra -1 can come while the acceptor is still in OnClientJoin: the session is released before the acceptor is done with it (join after leave)',
    },
    {
      rule: 'use-after-release',
      why: 'the extra -1 takes IOCount to 0 while the next recv is pending: the session is released with I/O pending, and that recv completes for a released session',
    },
    {
      rule: 'buffer-in-use',
      why: "the released session's slot is reused while its recv is still pending: the new session's recv uses the same OVERLAPPED",
    },
    {
      rule: 'session-identity',
      why: 'the late completion lands on a session that never posted it',
    },
    {
      rule: 'gqcs-false',
      why: "the released session's pending recv later fails (995): its handler finds nothing to decrement",
    },
    {
      rule: 'recv-reposted',
      why: "a completion dequeued after the extra -1 released its session is handled on the slot's next session: the released session's recv with data is followed by no new recv of its own",
    },
    {
      rule: 'ring-buffer',
      why: "that late completion moves the ring pointers of the slot's next session: its next post no longer starts where its own last one ended",
    },
    {
      rule: 'send-lost-bytes',
      why: "a late send completion moves the next session's SendQ front past bytes it never sent",
    },
    {
      rule: 'one-send-in-flight',
      why: 'the extra -1 releases the session while its send is in flight, and a handler still running on it posts another send: two sends in flight on the released session',
    },
    {
      rule: 'shutdown',
      why: 'a count taken below 0 never reaches 0 again: the session is never released and is still alive when shutdown posts the exit packets',
    },
  ],
  'release-with-io-pending': [
    {
      rule: 'accept-hold',
      why: 'a reset that arrives while the acceptor is still in OnClientJoin releases the session under the acceptor (join after leave)',
    },
    {
      rule: 'buffer-in-use',
      why: "the freed slot's next session posts its recv on the OVERLAPPED the released session's pending recv still uses",
    },
    {
      rule: 'iocount-balance',
      why: 'the completions that still arrive for the released session decrement a count that was already given up',
    },
    {
      rule: 'gqcs-false',
      why: "the released session's pending recv fails (64) and its completion is handled on the slot's next session: the failed recv gets no -1 of its own",
    },
    {
      rule: 'release-once',
      why: "that late completion's -1 lands on the slot's next session, which then reaches 0 twice and is released twice",
    },
  ],
  'recv-not-reposted': [],
  'two-sends-in-flight': [
    {
      rule: 'buffer-in-use',
      always: true,
      why: 'both sends use the session’s one send OVERLAPPED: the second is posted on an OVERLAPPED still in flight',
    },
    {
      rule: 'send-lost-bytes',
      why: 'both completions move SendQ’s front past the same bytes: the next send starts past bytes that were never sent once',
    },
    {
      rule: 'ring-buffer',
      why: 'after both completions moved it, SendQ’s front is past its write end: the next send’s geometry no longer fits the used space',
    },
  ],
  'no-decrement-on-failure': [
    {
      rule: 'shutdown',
      why: 'shutdown gives up waiting for the zombies and posts the exit packets while they are still alive',
    },
  ],
  'too-few-exit-packets': [],
  'no-accept-hold': [],
  'zero-byte-recv-reposted': [],
  'lock-across-send': [
    {
      rule: 'port-starvation',
      why: 'workers blocked on the lock while completions wait in the port',
    },
  ],
  'release-without-atomic-flag': [
    {
      rule: 'use-after-release',
      why: 'the second release (or a hold taken from outside) acts on a session that is already released',
    },
    {
      rule: 'iocount-balance',
      why: 'the racing threads decrement a session that the other already released',
    },
    {
      rule: 'accept-hold',
      why: 'the second release frees the slot again, often after a new session took it: that session is released under its acceptor (join after leave)',
    },
    {
      rule: 'port-starvation',
      why: 'the buggy release’s slow work (a blocking log write on each racing thread) keeps the workers out of GQCS while completions wait',
    },
    {
      rule: 'session-identity',
      why: 'the second release frees a slot a new session already took, and the acceptor hands it out again: two live sessions share one slot, and completions reach a session that never posted them',
    },
    {
      rule: 'buffer-in-use',
      why: 'two live sessions sharing one slot post on its one recv (or send) OVERLAPPED at once',
    },
    {
      rule: 'recv-reposted',
      why: 'a session sharing its slot reads the other session’s disconnect flag: after a recv with data it neither re-posts nor disconnects',
    },
    {
      rule: 'shutdown',
      why: 'the late release sets its flag on the slot’s next session, which is then never released: it is still alive when shutdown posts the exit packets',
    },
    {
      rule: 'gqcs-false',
      why: 'a failed completion of the session the race released is handled on the slot’s next session: the released session’s failed recv gets no -1 of its own',
    },
    {
      rule: 'zero-byte',
      why: 'a session sharing its slot handles its peer’s close (a 0-byte recv) with the other session’s RecvQ and flags, sees data, and posts its recv again',
    },
    {
      rule: 'ring-buffer',
      why: 'that recv is posted where the other session’s data left RecvQ’s rear, not where its own last completion (0 bytes) left it',
    },
  ],
  'ring-wrap-off-by-one': [],
  'short-send-ignored': [],
  'send-overflow-ignored': [
    {
      rule: 'ring-buffer',
      why: 'SendQ’s used space is above its capacity: the send that drains it cannot cover it',
    },
  ],
  'job-queue-two-flushers': [
    {
      rule: 'port-starvation',
      why: 'the buggy push blocks in its log write (1 ms) before it flushes: with both workers there, completions wait in the port',
    },
  ],
  'send-buffer-early-release': [],
  'broadcast-under-room-lock': [
    {
      rule: 'port-starvation',
      why: 'workers blocked on the room lock while completions wait in the port',
    },
  ],
  'lock-order-inversion': [
    {
      rule: 'shutdown',
      why: 'when two workers do meet on the two paths they deadlock: neither leaves for its exit packet and shutdown closes the port under them',
    },
    {
      rule: 'port-starvation',
      why: 'the deadlocked workers are blocked on the locks while completions wait in the port',
    },
  ],
};

export interface FindingSummary {
  total: number;
  byRule: { rule: RuleId; number: number; title: string; count: number }[];
}

export function summarize(findings: readonly Finding[]): FindingSummary {
  const counts = new Map<RuleId, number>();
  for (const f of findings) counts.set(f.rule, (counts.get(f.rule) ?? 0) + 1);
  const byRule = RULES.filter((r) => counts.has(r.id)).map((r) => ({
    rule: r.id,
    number: r.number,
    title: r.title,
    count: counts.get(r.id)!,
  }));
  return { total: findings.length, byRule };
}

/** One line for a terminal: `[1 iocount-balance/double-decrement] event 1234: message`. */
export function formatFinding(f: Finding): string {
  return `[${f.ruleNumber} ${f.rule}/${f.check}] event ${f.index}: ${f.message}`;
}

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
  | 'lock-across-send';

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
  /** Number of the bug in iocp-model.md §3 (1–16). */
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
      'Two recvs outstanding on one session (both own RecvQ’s free space); one OVERLAPPED (ioId) posted again while in flight. Byte ranges are not in the events, so other overlaps are not visible.',
  },
  {
    id: 'ring-buffer',
    number: 7,
    title: 'Ring-buffer wrap mistakes',
    coverage:
      'A post with a WSABUF count other than 1 or 2; a recv or send of 0 bytes (no free or used space posted); a completion larger than what was posted. Buffer offsets are not in the events, so whether the second WSABUF starts at the base is not visible.',
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
      'Fewer exit packets than workers (a worker never leaves GQCS); exit packets posted while sessions are alive; threads alive when the main thread exits. Waiting on a wrong handle count (WAIT_FAILED) is not visible: WaitForMultipleObjects is not instrumented.',
  },
  {
    id: 'accept-hold',
    number: 11,
    title: 'Accept without a hold',
    coverage:
      'The accepting thread posted the first recv of a session without holding an IOCount across it; the acceptor finishing (Accept record) after the session was released.',
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
    coverage: 'A session released twice (two threads both saw IOCount reach 0).',
  },
  {
    id: 'port-starvation',
    number: 14,
    title: 'Workers blocked outside GQCS while packets wait; sustained overcommit',
    coverage:
      'Packets queued for longer than a threshold while no thread waits in GQCS, fewer than the concurrency value run and workers are blocked; more threads running than the concurrency value for longer than a threshold. A LIFO hot thread and a short overcommit after a wake-up are normal and not reported.',
  },
  {
    id: 'send-lost-bytes',
    number: 15,
    title: 'Send flood and lost bytes',
    coverage:
      'A send that completed short without an error and was not treated as a disconnect (bytes lost). SendQ growth over capacity is not visible: events do not carry the SendQ level; a disconnect with reason send-overflow is the correct outcome.',
  },
  {
    id: 'lock-across-send',
    number: 16,
    title: 'A lock held across WSASend while other workers wait for it',
    coverage: 'A thread called WSASend while holding a lock another thread was waiting for.',
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
} as const satisfies Record<string, RuleId>;

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

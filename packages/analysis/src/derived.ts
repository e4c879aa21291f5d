// Which rules judge a trace whose IOCount is derived (file header `ioCount`
// "derived": the hook DLL traced an unmodified server). Such a trace knows the
// server's calls, not its intentions: its IoCount records count each socket's
// outstanding overlapped operations (the hook's own ledger, balanced by
// construction), its sessions end when the socket does, and it sees no locks,
// no ring buffers and no disconnect decisions. A rule runs on it only where
// every check is sound for any correct Win32 server; the others say why they
// do not apply. A correct server reported as buggy is the worst outcome here,
// so a rule that could misfire on a legal design stays off.

import type { RuleId } from './findings.ts';

/** How an IoCount ledger was made: the server's own count, or the hook's outstanding I/O. */
export type IoCountSource = 'application' | 'derived';

/**
 * The rules that run on a derived trace: every check of theirs is sound for any
 * correct Win32 server as the hook sees it (rule 6 skips its one-RecvQ check,
 * ctx.derived). Any other rule, a new one too, does not run there until it is
 * added here with the reason it is sound.
 */
export const APPLICABLE_ON_DERIVED: ReadonlySet<RuleId> = new Set<RuleId>([
  // the hook makes the ids (never reused) and matches completions by OVERLAPPED
  'session-identity',
  // an OVERLAPPED in use by two posts at once is wrong whatever the design
  'buffer-in-use',
  // a post accepted on a closed socket, or left pending after DisconnectEx
  'disconnect-race',
]);

const WHY_NOT: Partial<Record<RuleId, string>> = {
  'iocount-balance':
    "the hook counts each socket's outstanding I/O itself (balanced by construction); the server's own IOCount is not seen",
  'use-after-release':
    "a hook trace's release is the socket's end (closed, nothing outstanding), not the server freeing its session",
  'one-send-in-flight':
    'several WSASends outstanding on one socket are legal Win32 (they complete in order); only a one-send-at-a-time design forbids them',
  'recv-reposted':
    'the hook sees no disconnect decision, and a server may re-post its recv from another thread, later',
  'ring-buffer':
    'the hook sees no ring buffers (IoRing), and a 0-byte WSARecv is a legal readiness probe',
  'gqcs-false':
    "its checks judge the server's IOCount-1 after a completion; a worker leaving on a GQCS timeout is a legal design (a shrinking pool)",
  'zero-byte':
    'a 0-byte completion of a 0-byte WSARecv is a readiness signal, and (0, 0, NULL) as an exit packet is a convention',
  shutdown:
    'exit packets are a convention: closing the port (735) is another legal way to stop the workers',
  'accept-hold': "the hold is the server's own IOCount",
  'release-once': 'the release is the hook’s own, once by construction',
  'port-starvation':
    'the hook does not see what blocks a worker outside GQCS (locks, Sleep, synchronous calls)',
  'send-lost-bytes':
    'the hook sees no SendQ (IoRing), and re-posting the rest of a short send is correct handling',
  'lock-across-send': 'the hook sees no locks',
};

/** Why `rule` does not run on a derived trace, or undefined when it does. */
export function whyNotOnDerived(rule: RuleId): string | undefined {
  if (APPLICABLE_ON_DERIVED.has(rule)) return undefined;
  return WHY_NOT[rule] ?? 'it judges what the hook does not record (the server’s own structures)';
}

/** The rules of `rules` that run on a trace with this IoCount source. */
export function applicableRules(
  rules: readonly RuleId[],
  ioCount: IoCountSource | undefined,
): RuleId[] {
  if (ioCount !== 'derived') return [...rules];
  return rules.filter((r) => APPLICABLE_ON_DERIVED.has(r));
}

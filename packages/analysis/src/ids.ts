// 64-bit SessionIDs stay exact: they are bigints in every public structure and
// are only ever built from the two u32 halves of a record, never via a double.

import { AnalysisError } from './errors.ts';

export type SessionId = bigint;

const MAX_U64 = (1n << 64n) - 1n;

export function sessionIdOf(lo: number, hi: number): SessionId {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

export const sessionLo = (id: SessionId): number => Number(id & 0xffffffffn);
export const sessionHi = (id: SessionId): number => Number((id >> 32n) & 0xffffffffn);

/** `0x` + lowercase hex, the form every message and panel uses. */
export function formatSessionId(id: SessionId): string {
  return '0x' + id.toString(16);
}

/** Accepts `0x…` hex or decimal; throws ANALYSIS_BAD_SESSION_ID otherwise. */
export function parseSessionId(text: string): SessionId {
  const t = text.trim();
  if (!/^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/.test(t)) {
    throw new AnalysisError('ANALYSIS_BAD_SESSION_ID', `not a session id: ${JSON.stringify(text)}`);
  }
  const v = BigInt(t);
  if (v > MAX_U64) {
    throw new AnalysisError('ANALYSIS_BAD_SESSION_ID', `session id does not fit in 64 bits: ${t}`);
  }
  return v;
}

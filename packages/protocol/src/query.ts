// The trace query API (FORMAT.md §12): how the browser asks the server for
// the parts of a trace it needs (it does not hold whole large traces). Most
// answers are JSON; records travel as a stream frame (§5); summaries as the
// binary layout below, decoded here so both sides agree byte for byte.
//
// Summary slice (little-endian, every part 4-byte aligned):
//   u32 magic "IOCS" (0x53434F49)   u16 version 1   u16 lanes L
//   i32 shift (bucket width 2^shift ns)   u32 from (first bucket)   u32 count N
//   L times: u32 tid, then N*3 bytes of state shares (waiting, running,
//            blocked; x/255), padded to 4, then N bytes of mark flags, padded
//   then queueMin, queueMax, runMin, runMax: N i32 each

import { ProtocolError } from './errors.ts';

export const SUMMARY_MAGIC = 0x53434f49;
/** Records one request may ask for (8 MiB of records). */
export const MAX_QUERY_RECORDS = 1 << 18;
/** Buckets one summary request may ask for. */
export const MAX_SUMMARY_BUCKETS = 1 << 16;
/** Events of a session one request may list. */
export const MAX_SESSION_EVENTS = 1 << 16;

export interface SummarySlice {
  shift: number;
  from: number;
  count: number;
  lanes: Array<{ tid: number; frac: Uint8Array; flags: Uint8Array }>;
  queueMin: Int32Array;
  queueMax: Int32Array;
  runMin: Int32Array;
  runMax: Int32Array;
}

const pad4 = (n: number): number => (n + 3) & ~3;

export function encodeSummary(s: SummarySlice): Uint8Array {
  const n = s.count;
  const laneBytes = 4 + pad4(n * 3) + pad4(n);
  const total = 20 + s.lanes.length * laneBytes + 16 * n;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, SUMMARY_MAGIC, true);
  v.setUint16(4, 1, true);
  v.setUint16(6, s.lanes.length, true);
  v.setInt32(8, s.shift, true);
  v.setUint32(12, s.from, true);
  v.setUint32(16, n, true);
  let o = 20;
  for (const l of s.lanes) {
    v.setUint32(o, l.tid, true);
    out.set(l.frac.subarray(0, n * 3), o + 4);
    out.set(l.flags.subarray(0, n), o + 4 + pad4(n * 3));
    o += laneBytes;
  }
  for (const a of [s.queueMin, s.queueMax, s.runMin, s.runMax]) {
    for (let k = 0; k < n; k++) v.setInt32(o + k * 4, a[k]!, true);
    o += n * 4;
  }
  return out;
}

export function decodeSummary(bytes: Uint8Array): SummarySlice {
  const bad = (why: string): never => {
    throw new ProtocolError('BAD_FRAME', `summary: ${why}`);
  };
  if (bytes.length < 20) bad('too short');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== SUMMARY_MAGIC) bad('bad magic');
  if (v.getUint16(4, true) !== 1) bad(`version ${v.getUint16(4, true)}`);
  const lanes = v.getUint16(6, true);
  const shift = v.getInt32(8, true);
  const from = v.getUint32(12, true);
  const n = v.getUint32(16, true);
  if (n > MAX_SUMMARY_BUCKETS) bad(`${n} buckets`);
  const laneBytes = 4 + pad4(n * 3) + pad4(n);
  if (bytes.length !== 20 + lanes * laneBytes + 16 * n) bad('length does not match its counts');
  let o = 20;
  const out: SummarySlice = {
    shift,
    from,
    count: n,
    lanes: [],
    queueMin: new Int32Array(n),
    queueMax: new Int32Array(n),
    runMin: new Int32Array(n),
    runMax: new Int32Array(n),
  };
  for (let k = 0; k < lanes; k++) {
    out.lanes.push({
      tid: v.getUint32(o, true),
      frac: bytes.slice(o + 4, o + 4 + n * 3),
      flags: bytes.slice(o + 4 + pad4(n * 3), o + 4 + pad4(n * 3) + n),
    });
    o += laneBytes;
  }
  for (const a of [out.queueMin, out.queueMax, out.runMin, out.runMax]) {
    for (let k = 0; k < n; k++) a[k] = v.getInt32(o + k * 4, true);
    o += n * 4;
  }
  return out;
}

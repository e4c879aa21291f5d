// Display formatting shared by the panels: times, durations, session ids,
// counts and Win32 error names. Pure and locale-independent, so tests and
// screenshots are stable.

import { WinError } from '@iocpscope/protocol';

/** A nanosecond offset as a trace time: "12.345 678 ms" style, fixed units per magnitude. */
export function formatTimeNs(ns: number): string {
  if (!Number.isFinite(ns)) return '—';
  const sign = ns < 0 ? '-' : '';
  const a = Math.abs(ns);
  if (a < 1_000) return `${sign}${a.toFixed(0)} ns`;
  if (a < 1_000_000) return `${sign}${(a / 1_000).toFixed(3)} µs`;
  if (a < 1_000_000_000) return `${sign}${(a / 1_000_000).toFixed(3)} ms`;
  return `${sign}${(a / 1_000_000_000).toFixed(3)} s`;
}

/** A duration with 3 significant digits: "842 ns", "1.25 µs", "31.4 ms". */
export function formatDurationNs(ns: number): string {
  if (!Number.isFinite(ns)) return '—';
  const a = Math.abs(ns);
  const [v, unit] =
    a < 1_000
      ? [a, 'ns']
      : a < 1_000_000
        ? [a / 1_000, 'µs']
        : a < 1_000_000_000
          ? [a / 1_000_000, 'ms']
          : [a / 1_000_000_000, 's'];
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${ns < 0 ? '-' : ''}${v.toFixed(unit === 'ns' ? 0 : digits)} ${unit}`;
}

/**
 * A 64-bit SessionID as `0x` + lowercase hex, exactly: the same form the
 * analysis package uses in its findings, so a student can match them by eye.
 */
export function formatSessionId(id: bigint): string {
  return `0x${id.toString(16)}`;
}

/** Short form for lists: the reuse counter (high 32 bits) and slot (low 32 bits). */
export function formatSessionShort(id: bigint): string {
  const hi = Number(id >> 32n);
  const lo = Number(id & 0xffffffffn);
  return `${hi.toString(16)}:${lo.toString(16).padStart(4, '0')}`;
}

/** 1234567 -> "1,234,567" without depending on the browser locale. */
export function formatCount(n: number): string {
  const s = Math.trunc(n).toString();
  const neg = s.startsWith('-');
  const d = neg ? s.slice(1) : s;
  let out = '';
  for (let i = 0; i < d.length; i++) {
    if (i > 0 && (d.length - i) % 3 === 0) out += ',';
    out += d[i];
  }
  return neg ? `-${out}` : out;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

const WIN_ERROR_NAMES = new Map<number, string>([
  [WinError.Success, 'SUCCESS'],
  [WinError.NetnameDeleted, 'ERROR_NETNAME_DELETED'],
  [WinError.WaitTimeout, 'WAIT_TIMEOUT'],
  [WinError.OperationAborted, 'ERROR_OPERATION_ABORTED'],
  [WinError.IoPending, 'WSA_IO_PENDING'],
  [WinError.AbandonedWait0, 'ERROR_ABANDONED_WAIT_0'],
  [WinError.ConnectionReset, 'WSAECONNRESET'],
  [WinError.ConnectionAborted, 'WSAECONNABORTED'],
  [WinError.NotSocket, 'WSAENOTSOCK'],
  [WinError.InvalidHandle, 'ERROR_INVALID_HANDLE'],
]);

/** "995 ERROR_OPERATION_ABORTED", or just the number when unknown. */
export function formatWinError(code: number): string {
  const name = WIN_ERROR_NAMES.get(code);
  return name ? `${code} ${name}` : String(code);
}

/** A call site of the traced server's code, as "OnRecv (server.cpp:212)". */
export function formatCallSite(site: { file: string; line: number; func: string }): string {
  const base = site.file.replace(/^.*[\\/]/, '');
  const where = base ? `${base}:${site.line}` : `line ${site.line}`;
  return site.func ? `${site.func} (${where})` : where;
}

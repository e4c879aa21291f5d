// The dashboard's one formatter for each kind of number, used by the timeline
// (axis base, cursor flag, tooltips), the panels and the app alike, so a time
// or a session id reads the same wherever it appears. Pure and
// locale-independent, so tests and screenshots are stable.
//
// - Trace times (ns since the trace start): the unit follows the magnitude
//   (ns, µs, ms, s), with at least three decimals and as many more groups of
//   three as it takes to be exact to the nanosecond: "460.577 ms",
//   "677.880 001 ms", "3891.000 363 s".
// - Durations: about three significant digits in the best unit: "363 µs".
// - Session ids (exact 64-bit): "0x" + lowercase hex, no padding: "0x10001".

const UNITS = [
  { ns: 1e9, name: 's', digits: 9 },
  { ns: 1e6, name: 'ms', digits: 6 },
  { ns: 1e3, name: 'µs', digits: 3 },
] as const;

/** A trace time (ns since the trace start), exact to the ns: "677.880 001 ms". */
export function formatTimeNs(ns: number): string {
  if (!Number.isFinite(ns)) return '—';
  const sign = ns < 0 ? '-' : '';
  const a = Math.round(Math.abs(ns));
  if (a < 1000) return `${sign}${a} ns`;
  for (const u of UNITS) {
    if (a < u.ns) continue;
    const whole = Math.floor(a / u.ns);
    const frac = String(a - whole * u.ns).padStart(u.digits, '0');
    // Groups of three after the point: the first always, the rest while not all zero.
    let groups = frac.slice(0, 3);
    let rest = frac.slice(3);
    while (rest.length > 0 && /[1-9]/.test(rest)) {
      groups += ` ${rest.slice(0, 3)}`;
      rest = rest.slice(3);
    }
    return `${sign}${whole}.${groups} ${u.name}`;
  }
  return `${sign}${a} ns`;
}

/** A duration with about three significant digits: "842 ns", "1.25 µs", "31.4 ms". */
export function formatDurationNs(ns: number): string {
  if (!Number.isFinite(ns)) return '—';
  const a = Math.abs(ns);
  if (a === 0) return '0 ns';
  const sign = ns < 0 ? '-' : '';
  if (a < 1000) return `${sign}${Math.round(a)} ns`;
  for (const u of UNITS) {
    if (a < u.ns) continue;
    const v = a / u.ns;
    const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
    return `${sign}${v.toFixed(digits)} ${u.name}`;
  }
  return `${sign}${Math.round(a)} ns`;
}

/**
 * A 64-bit SessionID as `0x` + lowercase hex, exactly: the same form the
 * analysis package uses in its findings, so a student can match them by eye.
 */
export function formatSessionId(id: bigint): string {
  return `0x${id.toString(16)}`;
}

/** The same id from its two 32-bit halves (record words 4 and 5). */
export function formatSessionHalves(lo: number, hi: number): string {
  return formatSessionId((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
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

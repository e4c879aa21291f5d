// Human-readable text for load runs: the final report, a one-line progress
// summary (for logs and non-TTY output) and a progress bar (for terminals).
// Pure functions of a LoadReport/LoadProgress, shared by the CLI and the bench.

import type { LoadProgress, LoadReport } from './run.ts';

/** 1234 -> "1.23k", 1_234_567 -> "1.23M". */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return `${Math.round(n)}`;
}

/** Microseconds as "850 us", "12.4 ms" or "1.20 s". */
export function formatMicros(us: number): string {
  if (us >= 1e6) return `${(us / 1e6).toFixed(2)} s`;
  if (us >= 1e4) return `${(us / 1e3).toFixed(1)} ms`;
  if (us >= 1e3) return `${(us / 1e3).toFixed(2)} ms`;
  return `${Math.round(us)} us`;
}

function formatBytesPerSec(b: number): string {
  if (b >= 1e9) return `${(b / 1e9).toFixed(2)} GB/s`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(1)} MB/s`;
  return `${(b / 1e3).toFixed(1)} kB/s`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function formatReport(r: LoadReport): string {
  const o = r.options;
  const end =
    o.mode === 'duration'
      ? `${o.durationMs / 1000} s`
      : o.mode === 'until-stopped'
        ? 'until stopped'
        : o.messages > 0
          ? `${o.messages} messages/connection`
          : `${o.totalMessages} messages in all`;
  const lines = [
    `target    ${o.host}:${o.port}  ${o.connections} conn x ${o.inFlight} in flight x ${o.messageSize} B` +
      `  (${end}${o.rampMs ? `, ramp ${o.rampMs / 1000} s` : ''}` +
      `${o.resetsPerSec ? `, ${o.resetsPerSec} resets/s` : ''}, seed ${o.seed})`,
    `messages  ${r.messages} verified, ${r.measuredMessages} in the ${(r.measuredMs / 1000).toFixed(2)} s measured`,
    `rate      ${formatCount(r.messagesPerSec)} msg/s  (${formatBytesPerSec(r.bytesPerSec)} echoed)`,
    `latency   p50 ${formatMicros(r.latencyUs.p50)}  p90 ${formatMicros(r.latencyUs.p90)}` +
      `  p99 ${formatMicros(r.latencyUs.p99)}  max ${formatMicros(r.latencyUs.max)}`,
    `conns     ${r.connections.opened} opened, peak ${r.connections.peakOpen} open, ` +
      `${plural(r.connections.resets, 'reset')} (${r.lostToResets} in flight lost), ` +
      `${r.connections.failed} failed`,
  ];
  const problems: string[] = [];
  if (r.mismatches.count) problems.push(plural(r.mismatches.count, 'mismatch', 'mismatches'));
  if (r.failures.count) problems.push(plural(r.failures.count, 'connection failure'));
  if (r.stalled) problems.push('stalled');
  const tail = r.aborted ? ' (aborted)' : '';
  lines.push(r.ok ? `result    OK${tail}` : `result    FAILED: ${problems.join(', ')}${tail}`);
  for (const m of r.mismatches.samples) {
    lines.push(`  ${m.kind.padEnd(12)} conn ${m.connection}.${m.incarnation}: ${m.detail}`);
  }
  if (r.mismatches.count > r.mismatches.samples.length) {
    lines.push(`  ... ${r.mismatches.count - r.mismatches.samples.length} more mismatches`);
  }
  for (const f of r.failures.samples) {
    lines.push(
      `  ${f.code.padEnd(12)} conn ${f.connection}.${f.incarnation} (${f.phase}): ${f.detail}`,
    );
  }
  if (r.failures.count > r.failures.samples.length) {
    lines.push(`  ... ${r.failures.count - r.failures.samples.length} more failures`);
  }
  return lines.join('\n');
}

function counters(p: LoadProgress): string {
  return (
    `${p.connectionsOpen}/${p.connections} conns  ${formatCount(p.messages)} msgs  ` +
    `${formatCount(p.messagesPerSec)} msg/s  mismatches ${p.mismatches}  failures ${p.failures}` +
    (p.resets ? `  resets ${p.resets}` : '')
  );
}

/** A log line: "[   2.0s]  40%  100/100 conns  ..." */
export function formatProgressLine(p: LoadProgress): string {
  const pct = `${Math.floor(p.fraction * 100)}%`.padStart(4);
  const phase = p.phase === 'running' ? '' : `  (${p.phase})`;
  return `[${(p.elapsedMs / 1000).toFixed(1).padStart(6)}s] ${pct}  ${counters(p)}${phase}`;
}

/** A terminal bar fitted to `columns`: "[#####-----]  40%  100/100 conns ...". */
export function formatProgressBar(p: LoadProgress, columns: number): string {
  const text = ` ${`${Math.floor(p.fraction * 100)}%`.padStart(4)}  ${counters(p)}`;
  const barWidth = Math.max(10, Math.min(40, columns - text.length - 3));
  const filled = Math.round(p.fraction * barWidth);
  const line = `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]${text}`;
  return line.length > columns - 1 ? line.slice(0, Math.max(0, columns - 1)) : line;
}

// The load generator behind the dashboard's control channel: maps the
// protocol's start-load options (packages/protocol control.ts) to LoadOptions
// and LoadProgress/LoadReport to the protocol's LoadStats, with the call shape
// of transport/control.ts's LoadRunner. Differences it bridges: the
// protocol's messageSize includes the 4-byte header, `messages` is a total
// over all connections, `resetRate` is resets/s, and no duration and no count
// means "until stop-load".
//
// Bad options throw LoadOptionError synchronously (the channel answers an
// error and starts nothing). A run that finds mismatches or connection
// failures rejects with LoadFailedError, so the channel reports the outcome
// 'failed'; a run stopped by the signal resolves.

import type { LoadOptions as ControlLoadOptions, LoadStats } from '@iocpscope/protocol';
import { LoadOptionError } from './errors.ts';
import { validateLoadOptions } from './options.ts';
import type { LoadOptions, LoadTarget } from './options.ts';
import { runLoad } from './run.ts';
import type { LoadProgress, LoadReport } from './run.ts';
import { HEADER_BYTES, MAX_PAYLOAD_BYTES } from './stream.ts';

export class LoadFailedError extends Error {
  override readonly name = 'LoadFailedError';
  readonly code = 'LOAD_FAILED';
  constructor(readonly report: LoadReport) {
    const first =
      report.mismatches.samples[0]?.detail ??
      report.failures.samples[0]?.detail ??
      (report.stalled ? 'no echo arrived for the stall timeout' : '');
    super(
      `load failed: ${report.mismatches.count} mismatches, ${report.failures.count} connection ` +
        `failures${report.stalled ? ', stalled' : ''}${first ? `; first: ${first}` : ''}`,
    );
  }
}

export function fromControlOptions(target: LoadTarget, o: ControlLoadOptions): LoadOptions {
  if (o.messageSize < HEADER_BYTES || o.messageSize > HEADER_BYTES + MAX_PAYLOAD_BYTES) {
    throw new LoadOptionError(
      'OUT_OF_RANGE',
      'messageSize',
      `${o.messageSize} bytes (header included) is not in ${HEADER_BYTES}..${HEADER_BYTES + MAX_PAYLOAD_BYTES}`,
    );
  }
  const options: LoadOptions = {
    target,
    connections: o.connections,
    messageSize: o.messageSize - HEADER_BYTES,
    inFlight: o.inFlight,
    rampMs: o.rampMs,
    resetsPerSec: o.resetRate,
  };
  if (o.durationMs !== undefined) options.durationMs = o.durationMs;
  if (o.messages !== undefined) options.totalMessages = o.messages;
  if (o.durationMs === undefined && o.messages === undefined) options.untilStopped = true;
  return options;
}

const latency = (count: number, p50: number, p99: number) =>
  count > 0 ? { latencyP50Us: p50, latencyP99Us: p99 } : {};

export function statsFromProgress(p: LoadProgress): LoadStats {
  return {
    elapsedMs: Math.round(p.elapsedMs),
    connected: p.connectionsOpen,
    sent: p.sentMessages,
    received: p.messages,
    bytesSent: p.sentBytes,
    bytesReceived: p.receivedBytes,
    errors: p.mismatches + p.failures,
    resets: p.resets,
    ...latency(p.latencyCount, p.latencyP50Us, p.latencyP99Us),
  };
}

export function statsFromReport(r: LoadReport): LoadStats {
  return {
    elapsedMs: Math.round(r.elapsedMs),
    connected: 0,
    sent: r.sentMessages,
    received: r.messages,
    bytesSent: r.sentBytes,
    bytesReceived: r.receivedBytes,
    errors: r.mismatches.count + r.failures.count,
    resets: r.connections.resets,
    ...latency(r.latencyUs.count, r.latencyUs.p50, r.latencyUs.p99),
  };
}

export type ControlLoadRunner = (
  options: ControlLoadOptions,
  hooks: { onProgress: (stats: LoadStats) => void; signal: AbortSignal },
) => Promise<LoadStats>;

/** A LoadRunner for transport/control.ts that loads the echo server at `target`. */
export function controlLoadRunner(target: LoadTarget): ControlLoadRunner {
  return (options, { onProgress, signal }) => {
    const mine = fromControlOptions(target, options);
    validateLoadOptions(mine);
    return runLoad(mine, { signal, onProgress: (p) => onProgress(statsFromProgress(p)) }).then(
      (report) => {
        if (!report.ok) throw new LoadFailedError(report);
        return statsFromReport(report);
      },
    );
  };
}

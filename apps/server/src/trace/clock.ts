// The trace clock: nanoseconds since trace start, one monotonic clock for every
// thread of the process.
//
// Model: the creating thread stores its `performance.timeOrigin` and the
// `performance.now()` reading at trace start in shared memory. Any thread maps
// its own performance.now() onto that base by the difference of time origins
// (0 on Node 20, where workers share the process origin, so the mapping is
// exact; otherwise accurate to the float precision of epoch milliseconds,
// about 0.25 µs). performance.now() is monotonic per thread and all threads
// read the same underlying clock (uv_hrtime), so timestamps from different
// threads are comparable. Invariant: nowNs() is an integer >= 0 and never
// decreases on one thread.

/**
 * `performance` is an accessor on Node's global object: reading it costs a
 * getter call (~25 ns) on every timestamp, so the hot path keeps it here.
 */
const perf = performance;

/** Float64 slots of the clock base inside the trace control block. */
export interface ClockBase {
  /** performance.timeOrigin of the thread that created the trace (epoch ms). */
  readonly creatorTimeOriginMs: number;
  /** That thread's performance.now() at trace start (ms). */
  readonly startPerfMs: number;
}

export interface TraceClock {
  /** Nanoseconds since trace start (integer, monotonic per thread). */
  nowNs(): number;
}

export function captureClockBase(): ClockBase {
  return { creatorTimeOriginMs: performance.timeOrigin, startPerfMs: performance.now() };
}

/** The clock as seen from the calling thread. */
export class PerfClock implements TraceClock {
  /** This thread's performance.now() value (ms) that corresponds to trace start. */
  private readonly baseMs: number;

  constructor(base: ClockBase) {
    this.baseMs = base.startPerfMs + (base.creatorTimeOriginMs - performance.timeOrigin);
  }

  nowNs(): number {
    const ns = Math.floor((perf.now() - this.baseMs) * 1e6);
    return ns > 0 ? ns : 0;
  }
}

/** A hand-driven clock for tests and replays. */
export class ManualClock implements TraceClock {
  constructor(public ns = 0) {}
  nowNs(): number {
    return this.ns;
  }
  advance(ns: number): void {
    this.ns += ns;
  }
}

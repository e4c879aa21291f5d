// How the long-running commands (serve, serve --ingest, open) wait: until the
// signal aborts (SIGINT/SIGTERM in the CLI) or --duration passes. The timer is
// cleared either way, so a stopped server leaves nothing keeping the process up.

/** Resolve when `signal` aborts or `durationMs` passes (null: only the signal; neither: at once). */
export function waitForStop(durationMs: number | null, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted || (durationMs === null && !signal)) {
      resolve();
      return;
    }
    const timer = durationMs === null ? null : setTimeout(done, durationMs);
    function done(): void {
      if (timer !== null) clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

// The source slice: what is loaded (nothing, a file, a server recording, the
// live stream), the WebTrace, its file header, its analysis, load progress
// and the last load failure. Opening a source resets everything that belonged
// to the previous one (resetSource); the live stream itself is the live slice's.
//
// Invariant: `traceVersion` changes whenever the trace grew (live) or was
// replaced, so selectors that read the mutable WebTrace can depend on it.

import type { RecordingInfo, TraceFileHeader } from '@iocpscope/protocol';
import { WebTrace } from '../../trace/index.ts';
import {
  blobSource,
  bytesSource,
  fetchSource,
  loadTrace,
  recordingUrl,
  type ByteSource,
  type FileLoadResult,
} from '../../connection/fileLoad.ts';
import { LoadError } from '../../connection/errors.ts';
import { createTraceAnalysis, type TraceAnalysis } from '../analysis.ts';
import type { LinkFocus } from '../deepLink.ts';
import { wholeView } from './view.ts';
import { fitsBudget, formatBytes, LOAD_FACTOR } from '../remote.ts';
import { initialConnection } from './live.ts';
import { noFindings } from './findings.ts';
import type { Slice, SliceContext } from './context.ts';

/** A file name as one shell word (for the command a message names). */
function shellQuote(name: string): string {
  return /^[\w./-]+$/.test(name) ? name : `'${name.replace(/'/g, `'\\''`)}'`;
}

export type Source =
  | { kind: 'none' }
  | { kind: 'live'; url: string }
  | { kind: 'file'; name: string; bytes: number }
  | { kind: 'recording'; id: string; name: string; bytes: number };

export interface LoadingState {
  name: string;
  loadedBytes: number;
  totalBytes: number;
  events: number;
}

/** Why the last load did not fully succeed (shown on the start screen and as a toast). */
export interface LoadFailure {
  name: string;
  /** ProtocolError code (BAD_MAGIC, CHECKSUM_MISMATCH, TRUNCATED, ...) or LoadError code. */
  code: string;
  message: string;
  /** Events recovered from the valid prefix (the trace is open with them when > 0). */
  recoveredEvents: number;
  /** Whole chunks read before the damage (their events are the ones recovered). */
  chunksRead: number;
  validBytes: number;
  totalBytes: number;
}

export interface SourceState {
  source: Source;
  trace: WebTrace | null;
  traceVersion: number;
  header: TraceFileHeader | null;
  analysis: TraceAnalysis | null;
  loading: LoadingState | null;
  loadFailure: LoadFailure | null;
}

export interface SourceActions {
  /** Open a trace from bytes (the test hook and drag & drop of in-memory data use this). */
  loadBytes(bytes: Uint8Array, name?: string): Promise<void>;
  openFile(file: File): Promise<void>;
  /** Open a server recording; `focus` (a deep link's) is restored once it is open. */
  openRecording(rec: RecordingInfo, opts?: { focus?: LinkFocus }): Promise<void>;
  cancelLoad(): void;
  /** Close whatever is open and go back to the start screen. */
  closeSource(): void;
  dismissLoadFailure(): void;
}

export interface SourceInternal {
  /** Reset everything that belongs to the loaded source (and stop its timers, socket, load). */
  resetSource(): void;
  /** Abort a load in progress. */
  abortLoad(): void;
}

export function createSourceSlice(
  ctx: SliceContext,
): Slice<SourceState, SourceActions, SourceInternal> {
  const { set, get, env, internal, life } = ctx;
  let loadAbort: AbortController | null = null;

  const abortLoad = (): void => {
    loadAbort?.abort();
  };

  const resetSource = (): void => {
    internal.closeRemote();
    internal.resetSearch();
    internal.stopPlay();
    internal.closeLive();
    get().analysis?.dispose();
    loadAbort?.abort();
    loadAbort = null;
    set({
      source: { kind: 'none' },
      trace: null,
      traceVersion: get().traceVersion + 1,
      header: null,
      analysis: null,
      loading: null,
      cursor: -1,
      hoverIndex: -1,
      playing: false,
      paused: false,
      eventsSincePause: 0,
      selectedSession: null,
      connection: initialConnection(),
      overview: null,
      ...noFindings(),
      framed: null,
      evidence: null,
      pinnedSessions: [],
      range: null,
      bottomTab: 'anomalies',
      viewStartNs: 0,
      viewEndNs: 1_000_000,
      // Messages about the previous source no longer apply.
      toasts: [],
    });
  };

  /** Open a load result that holds events (the previous source was reset). */
  const openResult = (r: FileLoadResult, source: Source): void => {
    // The reader is not used again: the trace takes its records without a copy.
    const trace = WebTrace.fromOwned(r.store.buffer, r.store.length, r.strings);
    const analysis = createTraceAnalysis(trace, {
      runTask: env.runTask,
      start: env.startAnalysis,
      ...(r.header?.ioCount ? { ioCount: r.header.ioCount } : {}),
      onChange: () => internal.onAnalysisProgress(analysis),
    });
    const v = wholeView(trace);
    const failure: LoadFailure | null = r.error
      ? {
          name: r.name,
          code: r.error.code,
          message: r.error.message,
          recoveredEvents: trace.count,
          chunksRead: r.chunks,
          validBytes: r.validBytes,
          totalBytes: r.totalBytes,
        }
      : null;
    set({
      source,
      trace,
      traceVersion: get().traceVersion + 1,
      header: r.header ?? null,
      analysis,
      loading: null,
      loadFailure: failure,
      viewStartNs: v.startNs,
      viewEndNs: v.endNs,
      cursor: 0,
      hoverIndex: -1,
      selectedSession: null,
      analysisProgress: analysis.progress(),
      ...internal.findingState(analysis),
    });
    // The timeline paints first; the detectors walk the trace in the background.
    // End-of-trace checks (a session never released...) only hold for a whole recording.
    analysis.runInBackground(!r.error);
    if (failure) {
      internal.toast({
        tone: 'error',
        title: `${r.name}: ${failure.code}`,
        detail: `${failure.message}. Recovered ${trace.count.toLocaleString('en-US')} events from the valid prefix.`,
      });
    }
  };

  /**
   * Load a trace, keeping whatever is open until the new one has events: a
   * file that is not a trace (or a recording that is gone) must not destroy
   * open work. On success the old source is reset and the new one opened; on
   * failure with nothing recovered, the open trace (or live stream) stays and
   * the error is a toast with its code; with nothing open, the start screen
   * shows it (loadFailure).
   */
  const runLoad = async (
    what: string,
    makeSource: (signal: AbortSignal) => Promise<ByteSource>,
    source: (s: ByteSource) => Source,
    opened?: () => void,
    /** Over the budget: hand the trace to the server instead (a recording); else refused. */
    overBudget?: (size: number) => Promise<void>,
  ): Promise<void> => {
    loadAbort?.abort();
    const ctl = new AbortController();
    loadAbort = ctl;
    const hadSource = get().source.kind !== 'none';
    set({
      ...(hadSource ? {} : { loadFailure: null }),
      loading: { name: what, loadedBytes: 0, totalBytes: 0, events: 0 },
    });
    let name = what;
    const refuse = (code: string, message: string, r?: FileLoadResult): void => {
      set({ loading: null });
      if (get().source.kind !== 'none') {
        internal.toast({
          tone: 'error',
          title: `Could not open ${name}: ${code}`,
          detail: `${message}. What was open stays open.`,
        });
        return;
      }
      set({
        loadFailure: {
          name,
          code,
          message,
          recoveredEvents: 0,
          chunksRead: r?.chunks ?? 0,
          validBytes: r?.validBytes ?? 0,
          totalBytes: r?.totalBytes ?? 0,
        },
      });
      internal.toast({ tone: 'error', title: `Could not open: ${code}`, detail: message });
    };
    try {
      const src = await makeSource(ctl.signal);
      if (ctl.signal.aborted) return;
      name = src.name;
      const budget = get().budgetBytes;
      if (src.size > 0 && !fitsBudget(src.size, budget)) {
        // Held whole it would pass the budget: the server windows it instead.
        if (overBudget) {
          ctl.abort();
          if (loadAbort === ctl) loadAbort = null;
          set({ loading: null });
          await overBudget(src.size);
          return;
        }
        refuse(
          'OVER_BUDGET',
          `${src.name} is ${formatBytes(src.size)}: held whole in the browser it would take about ` +
            `${formatBytes(src.size * LOAD_FACTOR)}, over the memory budget of ${formatBytes(budget)}. ` +
            `Serve it and browse it through a window: iocpscope open ${shellQuote(src.name)}`,
        );
        return;
      }
      set({ loading: { name: src.name, loadedBytes: 0, totalBytes: src.size, events: 0 } });
      const r = await loadTrace(src, {
        signal: ctl.signal,
        onProgress: (p) => {
          if (!ctl.signal.aborted) set({ loading: { name: src.name, ...p } });
        },
      });
      if (ctl.signal.aborted || life.disposed) return;
      if (r.store.length === 0) {
        // Nothing usable: keep what is open.
        if (r.error) refuse(r.error.code, r.error.message, r);
        else refuse('EMPTY', 'the recording holds no events', r);
        return;
      }
      loadAbort = null;
      resetSource();
      openResult(r, source(src));
      opened?.();
    } catch (e) {
      if (ctl.signal.aborted && !(e instanceof LoadError && e.code !== 'ABORTED')) {
        if (loadAbort === ctl) set({ loading: null });
        return;
      }
      const code = e instanceof LoadError ? e.code : 'READ';
      const message = e instanceof Error ? e.message : String(e);
      refuse(code, message);
    } finally {
      if (loadAbort === ctl) loadAbort = null;
    }
  };

  return {
    state: {
      source: { kind: 'none' },
      trace: null,
      traceVersion: 0,
      header: null,
      analysis: null,
      loading: null,
      loadFailure: null,
    },
    actions: {
      loadBytes: (bytes, name = 'trace.iocptrace') =>
        runLoad(
          name,
          async () => bytesSource(bytes, name),
          (src) => ({ kind: 'file', name: src.name, bytes: src.size }),
        ),
      openFile: (file) =>
        runLoad(
          file.name,
          async () => blobSource(file, file.name),
          (src) => ({ kind: 'file', name: src.name, bytes: src.size }),
        ),
      openRecording: (rec, opts) =>
        // Too big to hold whole: the server indexes it and the browser holds a window.
        !fitsBudget(rec.bytes, get().budgetBytes)
          ? internal.openRemote(rec, opts?.focus)
          : runLoad(
              rec.name,
              (signal) =>
                fetchSource(recordingUrl(rec.id, env.loc.search), rec.name, signal, env.fetch),
              (src) => ({ kind: 'recording', id: rec.id, name: rec.name, bytes: src.size }),
              opts?.focus ? () => internal.applyFocus(opts.focus!) : undefined,
              (size) => internal.openRemote({ ...rec, bytes: size }, opts?.focus),
            ),
      cancelLoad: () => {
        loadAbort?.abort();
        set({ loading: null });
      },
      closeSource: () => {
        resetSource();
        set({ loadFailure: null });
      },
      dismissLoadFailure: () => set({ loadFailure: null }),
    },
    internal: { resetSource, abortLoad },
  };
}

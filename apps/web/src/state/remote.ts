// A trace the server holds and the browser views through a window (issue 15).
// The browser never holds more than its memory budget of it:
//
//   window     the records around the cursor, [from, from + windowEvents), with
//              the state before `from` as a Snapshot bracket first (the server
//              folds it from its checkpoints). It is an ordinary WebTrace: the
//              timeline, the inspector and stepping read it as they read a
//              whole trace. Its local event i is the trace's event
//              from + i - bracket (the bracket's records are state, not events).
//   cache      raw windows already fetched (neighbours are prefetched when the
//              cursor nears an edge), least recently used first out, within a
//              quarter of the budget.
//   summaries  the server's zoomed-out buckets for what the timeline shows
//              outside the window (any zoom), a few recent slices.
//   findings   the server's detector pass over the whole trace, polled until
//              it is done.
//
// A live spool followed at its head (the live view's overview, issue 19 §11)
// grows: refreshMeta takes its newer meta and drops the summary slices that
// held a level's last bucket (it was still filling), and headWindow fetches
// the window of its newest event past the cache.
//
// Windows start on multiples of half a window, so consecutive windows share
// half their records and a cached window serves both of its halves. Events
// are addressed by their index in the whole trace ("global"); the store keeps
// the cursor local to the window and converts at the edges (toGlobal/toLocal).

import { MAX_SUMMARY_BUCKETS, type SummarySlice } from '@iocpscope/protocol';
import { WebTrace } from '../trace/index.ts';
import type { RemoteFinding, RemoteMeta, RemoteWindow, TraceApi } from '../connection/traceApi.ts';
import { LoadError } from '../connection/errors.ts';

export const DEFAULT_BUDGET_BYTES = 512 * 1024 * 1024;
export const MIN_BUDGET_BYTES = 8 * 1024 * 1024;
/** Bytes of browser memory a fully loaded trace costs per byte of its file (records + indexes + analysis). */
export const LOAD_FACTOR = 1.5;
const RECORD_BYTES = 32;
/**
 * Raw windows kept for going back to them: a quarter of the budget, at most
 * RAW_CACHE_MAX (~50 windows of 8 K events, 400 K events around the places
 * visited). More hardly serves a revisit, and costs seeks their tail: a
 * cache of 128 MB (the default budget's quarter) refilled by random seeks
 * kept the renderer in full GCs (bench:big, 100 M events, 300 seeks: 28
 * Mark-Compacts and p99 112-141 ms; at 16 MiB: 15 and p99 91-101 ms).
 */
export const RAW_CACHE_MAX = 16 * 2 ** 20;
export const rawCacheBytes = (budget: number): number => Math.min(budget / 4, RAW_CACHE_MAX);
/** Summary slices kept (the view's, at a few zoom levels). */
const SUMMARY_SLICES = 6;

/** "512M", "2G", "64MiB", "1048576": bytes, or null when it is not a size. */
export function parseBytes(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return null;
  const mult: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
  const v = Math.round(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
  return Number.isFinite(v) && v > 0 ? v : null;
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(n % 2 ** 30 === 0 ? 0 : 1)} GB`;
  if (n >= 2 ** 20) return `${Math.round(n / 2 ** 20)} MB`;
  return `${Math.round(n / 1024)} KB`;
}

/** Whether a whole trace file of `bytes` fits the budget once loaded. */
export function fitsBudget(fileBytes: number, budget: number): boolean {
  return fileBytes * LOAD_FACTOR <= budget;
}

/**
 * Events per window for a budget: 8 K (256 KiB of records, ~640 KiB with its
 * indexes and replay), less under a budget too small to hold a few of them.
 * Small on purpose: a seek anywhere fetches, indexes and paints one window.
 * bench:big at 10 M events (budget 128M): 32 K windows seek in 83 ms median,
 * 202 ms p99; 8 K in 50 / 143 ms; 4 K no faster (48 / 149 ms: the round trip,
 * the install and the frames are what is left). The budget beyond the window
 * goes to the raw cache of neighbours.
 */
export function windowEventsFor(budget: number): number {
  let w = 8192;
  while (w > 4096 && w * 64 * 8 > budget) w /= 2;
  return w;
}

/** A window built for viewing. */
export interface BuiltWindow {
  /** Global index of the window's first event (its local index is `bracket`). */
  from: number;
  /** Local records before `from`: the state bracket. */
  bracket: number;
  trace: WebTrace;
}

/** Where `g` falls: the first global event of the window that serves it. */
export function windowStartFor(g: number, w: number): number {
  const half = w / 2;
  return Math.max(0, Math.floor((g - w / 4) / half) * half);
}

export class RemoteTrace {
  /** Bumps when summaries, findings or the meta change (the timeline redraws). */
  version = 0;
  readonly windowEvents: number;
  private readonly cache = new Map<number, RemoteWindow>();
  private cacheBytes = 0;
  private readonly inflight = new Map<number, Promise<RemoteWindow>>();
  private readonly strings = new Map<number, string>();
  private readonly slices: Array<{ level: number; s: SummarySlice }> = [];
  /** Summary requests on their way (one per key). */
  private readonly summaryWanted = new Set<string>();
  /** Bumps with every refreshMeta: a summary asked for under an older meta may hold a bucket that was still filling. */
  private metaGen = 0;
  private disposed = false;
  private readonly abort = new AbortController();
  /** The server's findings so far (global event indices), and its pass' state. */
  findings: RemoteFinding[] = [];
  findingsState: 'running' | 'done' | 'failed' | 'unavailable' = 'running';
  findingsWalked = 0;
  private findingsTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly api: TraceApi,
    public meta: RemoteMeta,
    readonly budget: number,
    private readonly onChange: () => void,
  ) {
    this.windowEvents = windowEventsFor(budget);
  }

  get events(): number {
    return this.meta.events;
  }

  /** Oldest event still available (the live spool drops old parts), else 0. */
  get firstAvailable(): number {
    return this.meta.available?.firstEvent ?? 0;
  }

  /** Raw window records, string table and summaries held now (bytes). */
  get heldBytes(): number {
    let b = this.cacheBytes;
    for (const x of this.slices) b += summaryBytes(x.s);
    return b;
  }

  /**
   * The trace grew (a live spool followed at its head): take its meta. A
   * summary slice that held a level's last bucket under the old meta is
   * dropped (that bucket was still filling); the timeline asks again.
   */
  refreshMeta(meta: RemoteMeta): void {
    const old = this.meta;
    this.meta = meta;
    this.metaGen++;
    for (let k = this.slices.length - 1; k >= 0; k--) {
      const x = this.slices[k]!;
      const lv = old.levels[x.level];
      if (!lv || x.s.from + x.s.count >= lv.origin + lv.count) this.slices.splice(k, 1);
    }
    this.version++;
  }

  /**
   * The window of the newest event, fetched again (a live spool's head moves
   * on). Following the head, the windows fetched before are not visited again:
   * the cache is emptied, so it does not fill a quarter of the budget with them.
   */
  async headWindow(): Promise<BuiltWindow> {
    this.cache.clear();
    this.cacheBytes = 0;
    return this.window(this.events - 1);
  }

  dispose(): void {
    this.disposed = true;
    this.abort.abort();
    if (this.findingsTimer !== null) clearTimeout(this.findingsTimer);
    this.cache.clear();
    this.slices.length = 0;
  }

  // ---- windows -------------------------------------------------------------------

  /** The raw window starting at `from` (an aligned start), from the cache or the server. */
  private raw(from: number): Promise<RemoteWindow> {
    const hit = this.cache.get(from);
    if (hit) {
      // Most recently used last.
      this.cache.delete(from);
      this.cache.set(from, hit);
      return Promise.resolve(hit);
    }
    const going = this.inflight.get(from);
    if (going) return going;
    const p = this.api
      .window(from, this.windowEvents, this.abort.signal)
      .then((w) => {
        this.inflight.delete(from);
        if (this.disposed) throw new LoadError('ABORTED', 'closed');
        for (const [id, s] of w.strings) this.strings.set(id, s);
        this.cache.set(from, w);
        this.cacheBytes += w.records.byteLength;
        // Raw windows kept for going back (rawCacheBytes); the one just fetched always stays.
        const limit = Math.max(rawCacheBytes(this.budget), w.records.byteLength);
        for (const [k, v] of this.cache) {
          if (this.cacheBytes <= limit || k === from) break;
          this.cache.delete(k);
          this.cacheBytes -= v.records.byteLength;
        }
        return w;
      })
      .catch((e: unknown) => {
        this.inflight.delete(from);
        throw e;
      });
    this.inflight.set(from, p);
    return p;
  }

  /** The window holding global event `g`, built into a WebTrace. */
  async window(g: number): Promise<BuiltWindow> {
    const w = this.windowEvents;
    // A live spool no longer holds what came before firstAvailable (its
    // windows start there, not on the half-window grid below it).
    const first = this.firstAvailable;
    const target = Math.max(first, Math.min(g, this.events - 1));
    let raw = await this.raw(Math.max(first, windowStartFor(target, w)));
    // The server moves a start that falls inside a Snapshot bracket back to
    // its beginning; a window that no longer reaches the target is asked for
    // at the target itself.
    const n = raw.records.length / 8 - raw.bracket;
    if (target < raw.from || target >= raw.from + Math.max(n, 1)) {
      raw = await this.raw(Math.max(first, target - w / 4));
    }
    return this.build(raw);
  }

  /** Fetch the window that would serve `g` into the cache, if it is not there. */
  prefetch(g: number): void {
    if (g < this.firstAvailable || g >= this.events) return;
    const from = Math.max(this.firstAvailable, windowStartFor(g, this.windowEvents));
    if (!this.cache.has(from)) void this.raw(from).catch(() => undefined);
  }

  private build(raw: RemoteWindow): BuiltWindow {
    const strings = this.strings;
    const trace = WebTrace.from(raw.records, { get: (id: number) => strings.get(id) });
    return { from: raw.from, bracket: raw.bracket, trace };
  }

  // ---- summaries -----------------------------------------------------------------

  /** The coarsest level whose buckets are at most `nsPerCol` wide (the finest if none is). */
  levelFor(nsPerCol: number): number {
    const L = this.meta.levels;
    let k = 0;
    while (k + 1 < L.length && 2 ** L[k + 1]!.shift <= nsPerCol) k++;
    return k;
  }

  /**
   * Summary buckets covering [t0, t1) at the level for `nsPerCol`, or null
   * until they arrive (they are asked for here, with a view's width of margin
   * each side, and onChange fires when they come).
   */
  summaryFor(nsPerCol: number, t0: number, t1: number): SummarySlice | null {
    const L = this.meta.levels;
    if (L.length === 0) return null;
    const level = this.levelFor(nsPerCol);
    const lv = L[level]!;
    const w = 2 ** lv.shift;
    const lo = Math.max(lv.origin, Math.floor(t0 / w));
    const hi = Math.min(lv.origin + lv.count, Math.ceil(t1 / w));
    if (hi <= lo) return null;
    for (let k = this.slices.length - 1; k >= 0; k--) {
      const x = this.slices[k]!;
      if (x.level === level && x.s.from <= lo && x.s.from + x.s.count >= hi) return x.s;
    }
    const span = hi - lo;
    const from = Math.max(lv.origin, lo - span);
    const to = Math.min(lv.origin + lv.count, hi + span, from + MAX_SUMMARY_BUCKETS);
    const key = `${level}:${from}:${to}`;
    if (this.summaryWanted.has(key)) return this.bestEffort(level, lo, hi);
    // A few at most: a fast pan asks again for where it stops.
    if (this.summaryWanted.size >= 4) return this.bestEffort(level, lo, hi);
    this.summaryWanted.add(key);
    const gen = this.metaGen;
    const lastBucket = lv.origin + lv.count - 1;
    this.api
      .summary(level, from, to, this.abort.signal)
      .then((s) => {
        if (this.disposed) return;
        // Asked under an older meta, with that meta's last (filling) bucket: stale.
        const stale = gen !== this.metaGen && s.from + s.count > lastBucket;
        if (!stale) this.slices.push({ level, s });
        if (this.slices.length > SUMMARY_SLICES) this.slices.shift();
        this.summaryWanted.delete(key);
        this.version++;
        this.onChange();
      })
      .catch(() => {
        this.summaryWanted.delete(key);
      });
    return this.bestEffort(level, lo, hi);
  }

  /** While a slice is on its way: any held slice of that level that overlaps. */
  private bestEffort(level: number, lo: number, hi: number): SummarySlice | null {
    for (let k = this.slices.length - 1; k >= 0; k--) {
      const x = this.slices[k]!;
      if (x.level === level && x.s.from < hi && x.s.from + x.s.count > lo) return x.s;
    }
    return null;
  }

  // ---- findings ------------------------------------------------------------------

  /** Poll the server's detector pass until it is done. */
  startFindings(): void {
    const poll = async (): Promise<void> => {
      this.findingsTimer = null;
      if (this.disposed) return;
      try {
        const r = await this.api.findings(this.findings.length, this.abort.signal);
        if (this.disposed) return;
        if (r.findings.length > 0) this.findings = [...this.findings, ...r.findings];
        this.findingsState = r.state;
        this.findingsWalked = r.walked;
        this.version++;
        this.onChange();
        if (r.state === 'running') this.findingsTimer = setTimeout(() => void poll(), 500);
      } catch (e) {
        if (this.disposed) return;
        this.findingsState =
          e instanceof LoadError && e.code === 'HTTP' && /^404/.test(e.message)
            ? 'unavailable'
            : 'failed';
        this.version++;
        this.onChange();
      }
    };
    void poll();
  }
}

function summaryBytes(s: SummarySlice): number {
  return s.count * (s.lanes.length * 4 + 16);
}

/** Records' bytes of a window of `events`. */
export const windowRecordBytes = (events: number): number => events * RECORD_BYTES;

// Runs the reducer and every detector over a trace, incrementally: feed() any
// number of new events (a live stream, or a whole file at once), get the new
// findings back, and call finish() when the trace ends for the end-of-trace
// checks. Findings are deduplicated per rule and subject and capped per rule
// (the rest are counted in `suppressed`), so memory stays bounded.
//
// A caller that cannot hold the whole trace (the server walking a file chunk
// by chunk) feeds windows instead: feedWindow(words, base, upto), where
// `words` holds records [base, ...). Event indices stay global; every read of
// the current record goes through ctx.o, its word offset in ctx.words, so no
// detector ever indexes the records by the global index. Findings are the
// same whatever the windows (runner.test.ts checks it on every example).

import * as proto from './proto.ts';
import { AnalysisError } from './errors.ts';
import { RULE_BY_ID, RULES, type Finding, type RuleId, type RuleInfo } from './findings.ts';
import { formatSessionId as formatSessionId_, type SessionId } from './ids.ts';
import { Checkpoints } from './checkpoints.ts';
import { Replayer } from './replay.ts';
import { checkSource as checkSource_, type TraceRecords } from './source.ts';
import {
  evidenceList as evidenceList_,
  subjectKey as subjectKey_,
  type Ctx,
  type Detector,
  type DetectorOptions,
  type Report,
  type ResolvedOptions,
} from './detectors/common.ts';
import { createDetectors as createDetectors_ } from './detectors/index.ts';
import { applicableRules, type IoCountSource } from './derived.ts';

// Imported functions as module constants (see proto.ts: imported bindings are slow under tsx).
const formatSessionId = formatSessionId_;
const checkSource = checkSource_;
const evidenceList = evidenceList_;
const subjectKey = subjectKey_;
const createDetectors = createDetectors_;

// Module constants, not imported bindings: under tsx and vitest every access to an
// imported binding goes through a getter, which costs more than the work here.
const { DisconnectReason, EventKind, IoCountCause, RECORD_WORDS, tsAt } = proto;
/** TraceEndReason.ServerExit. */
const TRACE_END_SERVER_EXIT = 2;

export type { DetectorOptions } from './detectors/common.ts';

export interface RunnerOptions extends DetectorOptions {
  /** Run only these rules (default: all). */
  rules?: readonly RuleId[];
  /**
   * Also index the trace for seeks in the same pass: `runner.checkpoints` takes
   * a checkpoint every this many events (see Checkpoints). Default: none.
   */
  checkpointInterval?: number;
  /**
   * Entries of the replayer's session cache (a power of two; default 65,536).
   * Each costs about 20 bytes; a smaller cache only makes lookups of sessions
   * that collide in it slower, never wrong.
   */
  sessionCacheSize?: number;
  /**
   * The first event's index (default 0): a runner that starts where a trace
   * picks up again (a part of a live spool after the older ones were deleted;
   * such a part opens with a Snapshot bracket).
   */
  startAt?: number;
  /**
   * The timestamp of an earlier event that is no longer in the window being
   * fed, for a finding marked there (feedWindow). Without it such a finding
   * gets the current event's time.
   */
  timeOf?: (index: number) => number | undefined;
  /**
   * Where the trace's IoCount records come from (its file header's `ioCount`).
   * 'derived' (the hook DLL: outstanding I/O per socket) runs only the rules that
   * are sound without the server's own count (derived.ts). Default 'application'.
   */
  ioCount?: IoCountSource;
}

/** How many SessionIDs the runner remembers for "was this id created/released before". */
const ID_MEMORY = 1 << 18;

class IdMemory {
  private readonly map = new Map<SessionId, number>();
  get(id: SessionId): number {
    return this.map.get(id) ?? -1;
  }
  set(id: SessionId, index: number): void {
    this.map.delete(id);
    this.map.set(id, index);
    if (this.map.size > ID_MEMORY) this.map.delete(this.map.keys().next().value!);
  }
}

function resolve(o: DetectorOptions): ResolvedOptions {
  const num = (name: string, v: number | undefined, dflt: number): number => {
    if (v === undefined) return dflt;
    if (!Number.isFinite(v) || v < 0) {
      throw new AnalysisError(
        'ANALYSIS_BAD_OPTION',
        `${name} must be a finite number >= 0, got ${v}`,
      );
    }
    return v;
  };
  return {
    strings: o.strings ?? (() => undefined),
    starvationNs: num('starvationNs', o.starvationNs, 10e6),
    overcommitNs: num('overcommitNs', o.overcommitNs, 50e6),
    uncancelledNs: num('uncancelledNs', o.uncancelledNs, 1e9),
    raceGraceNs: num('raceGraceNs', o.raceGraceNs, 50e6),
    maxFindingsPerRule: Math.floor(num('maxFindingsPerRule', o.maxFindingsPerRule, 200)),
  };
}

export class DetectorRunner {
  readonly replayer: Replayer;
  /** Seek index built in the same pass, when `checkpointInterval` was given. */
  readonly checkpoints: Checkpoints | null;
  /** Every finding so far, in the order found. */
  readonly findings: Finding[] = [];
  /** Findings over the per-rule cap, counted but not kept. */
  readonly suppressed = new Map<RuleId, number>();
  private readonly detectors: Detector[];
  private readonly byKind: Detector[][] = [];
  private readonly all: Detector[] = [];
  private readonly seen = new Set<string>();
  private readonly perRule = new Map<RuleId, number>();
  private readonly released = new IdMemory();
  private readonly created = new IdMemory();
  private readonly ctx: Ctx & {
    words: Uint32Array;
    o: number;
    base: number;
    taggedLedger: boolean;
    fromStart: boolean;
    shutdownIndex: number;
  };
  private fresh: Finding[] = [];
  private finished = false;
  private sessionSeen = false;
  private readonly timeOf: ((index: number) => number | undefined) | undefined;

  constructor(opts: RunnerOptions = {}) {
    const options = resolve(opts);
    const cacheSize = opts.sessionCacheSize ?? 65536;
    if (!Number.isInteger(cacheSize) || cacheSize < 1 || (cacheSize & (cacheSize - 1)) !== 0) {
      throw new AnalysisError(
        'ANALYSIS_BAD_OPTION',
        `sessionCacheSize must be a power of two, got ${cacheSize}`,
      );
    }
    this.replayer = new Replayer(undefined, { cacheSize });
    const startAt = opts.startAt ?? 0;
    if (!Number.isSafeInteger(startAt) || startAt < 0) {
      throw new AnalysisError(
        'ANALYSIS_BAD_OPTION',
        `startAt must be an index >= 0, got ${startAt}`,
      );
    }
    this.replayer.state.count = startAt;
    this.timeOf = opts.timeOf;
    const only = opts.rules === undefined ? null : new Set(opts.rules);
    if (only !== null) {
      for (const r of only) {
        if (!RULE_BY_ID.has(r))
          throw new AnalysisError('ANALYSIS_BAD_OPTION', `unknown rule ${JSON.stringify(r)}`);
      }
    }
    this.checkpoints =
      opts.checkpointInterval === undefined
        ? null
        : new Checkpoints({ interval: opts.checkpointInterval }, this.replayer);
    const derived = opts.ioCount === 'derived';
    const runs = new Set(
      applicableRules(
        RULES.map((r) => r.id),
        opts.ioCount,
      ),
    );
    this.detectors = createDetectors().filter(
      (d) => runs.has(d.rule.id) && (only === null || only.has(d.rule.id)),
    );
    for (const d of this.detectors) {
      if (d.kinds.length === 0) this.all.push(d);
      for (const k of d.kinds) (this.byKind[k] ??= []).push(d);
    }
    const r = this.replayer;
    const strings = options.strings;
    this.ctx = {
      // The runner's replayer keeps one state object for its whole life.
      state: r.state,
      step: r.step,
      words: new Uint32Array(0),
      o: 0,
      base: 0,
      options,
      derived,
      taggedLedger: false,
      fromStart: false,
      shutdownIndex: -1,
      releasedAt: (id) => this.released.get(id),
      createdAt: (id) => this.created.get(id),
      report: (rule, rep) => this.report(rule, rep),
      sessionName: (id) => {
        const s = r.state.sessions.get(id) ?? r.state.recentReleased.find((x) => x.id === id);
        const slot = s !== undefined && s.slot >= 0 ? ` (slot ${s.slot})` : '';
        return `Session ${formatSessionId(id)}${slot}`;
      },
      threadName: (tid) => {
        const t = r.state.threads.get(tid);
        const name = t !== undefined && t.nameStr >= 0 ? strings(t.nameStr) : undefined;
        return name === undefined ? `thread ${tid}` : `${name} (thread ${tid})`;
      },
      lockName: (lockId, nameStr) => {
        const name = nameStr >= 0 ? strings(nameStr) : undefined;
        return name === undefined ? `lock #${lockId}` : `lock '${name}' (#${lockId})`;
      },
    };
  }

  /** Number of events processed. */
  get count(): number {
    return this.replayer.state.count;
  }

  /** Process events [count, upto) of `src`; returns the findings they produced. */
  feed(src: TraceRecords, upto: number = src.length): Finding[] {
    checkSource(src);
    if (!Number.isInteger(upto) || upto > src.length) {
      throw new AnalysisError(
        'ANALYSIS_BAD_INDEX',
        `cannot feed up to ${upto}: ${this.count} processed, ${src.length} available`,
      );
    }
    return this.feedWindow(src.words, 0, upto);
  }

  /**
   * Process events [count, upto), given a window of the trace: `words` holds
   * records [base, base + words.length / 8), and must hold every event from
   * `count` (base <= count) to upto. Returns the findings they produced.
   */
  feedWindow(words: Uint32Array, base: number, upto: number): Finding[] {
    if (this.finished) throw new AnalysisError('ANALYSIS_BAD_INDEX', 'feed() after finish()');
    const held = Math.floor(words.length / RECORD_WORDS);
    if (
      !Number.isInteger(base) ||
      !Number.isInteger(upto) ||
      base < 0 ||
      base > this.count ||
      upto < this.count ||
      upto > base + held
    ) {
      throw new AnalysisError(
        'ANALYSIS_BAD_INDEX',
        `cannot feed up to ${upto} from a window of events [${base}, ${base + held}): ${this.count} processed`,
      );
    }
    this.fresh = [];
    const w = words;
    const ctx = this.ctx;
    ctx.words = w;
    ctx.base = base;
    const r = this.replayer;
    const step = r.step;
    const st = r.state;
    for (let i = this.count; i < upto; i++) {
      const inBracket = st.inSnapshot;
      const o = (i - base) * RECORD_WORDS;
      ctx.o = o;
      r.apply(w, i, base);
      const kind = step.kind;
      if (this.checkpoints !== null) this.checkpoints.noteApplied();
      if (inBracket || st.inSnapshot) {
        // A Snapshot bracket is state, not evidence: detectors do not judge it,
        // they only learn it once it is complete.
        if (!st.inSnapshot) {
          ctx.fromStart = !st.snapshotPartial;
          for (const d of this.detectors) d.onSnapshot?.(ctx);
        }
        continue;
      }
      this.facts(w, o, i, kind);
      if (kind === EventKind.Gap || step.gapEnded) {
        ctx.fromStart = false;
        for (const d of this.detectors) d.onGap?.(ctx);
      }
      const list = this.byKind[kind];
      if (list !== undefined) for (let k = 0; k < list.length; k++) list[k]!.onEvent(ctx, i);
      for (let k = 0; k < this.all.length; k++) this.all[k]!.onEvent(ctx, i);
      if (kind === EventKind.SessionReleased && step.session !== null) {
        if (this.released.get(step.session.id) < 0 || step.lifecycleBefore !== 'released') {
          this.released.set(step.session.id, i);
        }
      } else if (kind === EventKind.SessionCreated && step.session !== null) {
        this.created.set(step.session.id, i);
      }
    }
    return this.fresh;
  }

  /**
   * The trace is over. With `endOfRun` (default true), the end-of-trace checks
   * run too (threads that never exited, posts never cancelled, ...): they
   * conclude that something never happened, which only holds when the trace
   * covers the end of the server's run (a TraceEnd with reason ServerExit). A
   * recording stopped while the server kept running, or cut short, must pass
   * false.
   */
  finish(opts: { endOfRun?: boolean } = {}): Finding[] {
    if (this.finished) return [];
    this.finished = true;
    this.fresh = [];
    if (opts.endOfRun ?? true) for (const d of this.detectors) d.finish?.(this.ctx);
    return this.fresh;
  }

  /** The trace ended with the server's exit (TraceEnd, reason ServerExit). */
  get endOfRun(): boolean {
    return this.replayer.state.endReason === TRACE_END_SERVER_EXIT;
  }

  private facts(w: Uint32Array, o: number, i: number, kind: number): void {
    const ctx = this.ctx;
    switch (kind) {
      case EventKind.PortCreated:
        if (!this.sessionSeen && this.replayer.state.gaps === 0) ctx.fromStart = true;
        return;
      case EventKind.IoCount: {
        this.sessionSeen = true;
        const cause = (w[o]! >>> 8) & 0xff;
        if (
          (cause === IoCountCause.RecvPost || cause === IoCountCause.SendPost) &&
          (w[o + 6]! | 0) > 0 &&
          w[o + 7]! !== 0
        ) {
          ctx.taggedLedger = true;
        }
        return;
      }
      case EventKind.Pqcs:
        if (ctx.shutdownIndex < 0 && this.replayer.state.port.exitPacketsPosted > 0)
          ctx.shutdownIndex = i;
        return;
      case EventKind.Disconnect:
        this.sessionSeen = true;
        if (ctx.shutdownIndex < 0 && ((w[o]! >>> 8) & 0xff) === DisconnectReason.Shutdown)
          ctx.shutdownIndex = i;
        return;
      case EventKind.SessionCreated:
      case EventKind.Accept:
      case EventKind.IoPosted:
        this.sessionSeen = true;
        return;
      default:
        return;
    }
  }

  /** The timestamp of event `index` (the window's record, or timeOf for an older one). */
  private timeAt(index: number): number {
    const ctx = this.ctx;
    const k = index - ctx.base;
    if (index < this.count && k >= 0 && (k + 1) * RECORD_WORDS <= ctx.words.length) {
      return tsAt(ctx.words, k);
    }
    if (index < this.count) {
      const t = this.timeOf?.(index);
      if (t !== undefined) return t;
    }
    return this.replayer.state.tsNs;
  }

  private report(rule: RuleInfo, rep: Report): void {
    const dedupe = rep.dedupe === undefined ? subjectKey(rep.subject) : rep.dedupe;
    if (dedupe !== null) {
      const key = rule.id + '|' + dedupe;
      if (this.seen.has(key)) return;
      this.seen.add(key);
    }
    const n = this.perRule.get(rule.id) ?? 0;
    if (n >= this.ctx.options.maxFindingsPerRule) {
      this.suppressed.set(rule.id, (this.suppressed.get(rule.id) ?? 0) + 1);
      return;
    }
    this.perRule.set(rule.id, n + 1);
    const step = this.replayer.step;
    const index = rep.at ?? (this.finished ? Math.max(0, this.count - 1) : step.index);
    const f: Finding = {
      rule: rule.id,
      ruleNumber: rule.number,
      check: rep.check,
      title: rule.title,
      severity: rep.severity ?? 'error',
      subject: rep.subject,
      index,
      tsNs: this.timeAt(index),
      evidence: evidenceList([...rep.evidence, index]),
      message: rep.message,
    };
    this.findings.push(f);
    this.fresh.push(f);
  }
}

export interface CheckResult {
  findings: Finding[];
  /** Findings over the per-rule cap, by rule. */
  suppressed: Map<RuleId, number>;
  events: number;
}

/**
 * Run every detector over a whole trace. `endOfRun` (default true) says
 * whether the end-of-trace checks apply (see DetectorRunner.finish).
 */
export function checkTrace(
  src: TraceRecords,
  opts: RunnerOptions & { endOfRun?: boolean } = {},
): CheckResult {
  const r = new DetectorRunner(opts);
  r.feed(src);
  r.finish(opts.endOfRun === undefined ? {} : { endOfRun: opts.endOfRun });
  return { findings: r.findings, suppressed: r.suppressed, events: src.length };
}

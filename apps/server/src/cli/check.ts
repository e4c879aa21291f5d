// `iocpscope check FILE`: run every classic-bug detector of @iocpscope/analysis
// over a recording and print the findings for a course student: the rule
// (its number in iocp-model.md §3 and its name), the session in hex, the thread
// by name, the event indices that prove it, and the detector's explanation;
// then one summary line. --json prints the same as one JSON document.
//
// The file is analysed while it is read (trace-file.ts): the detector runner
// is fed each new batch of events, so a big file is checked in one pass with
// progress on stderr.
//
// Exit codes (CHECK_EXIT):
//   0  clean: the whole recording was read, it ended as planned (its last
//      record is a TraceEnd, v2), and no detector fired;
//   1  findings (also when the file is damaged or incomplete: what was found
//      is real, and a warning says how much of the run the file covers);
//   2  the file cannot be trusted to be clean: it cannot be opened, it is not
//      an .iocptrace file, or it is damaged (a checksum fails, it ends inside a
//      chunk, ...) and the part before the damage has no findings. The reader's
//      error code is printed: `error TRUNCATED: ...`. Bad options also exit 2.
//   3  incomplete: every chunk reads, but the recording has no TraceEnd (a
//      crash or a kill cut it on a chunk boundary, or it is a version 1 file,
//      which never has one), and it has no findings. The report says what it
//      covers (events, time span, sessions still open where it stops).
// A damaged or incomplete file is therefore never reported as clean.
//
// The end-of-trace checks (a worker still waiting, a post never cancelled)
// conclude that something never happened; they run only when the recording
// covers the server's exit (TraceEnd reason ServerExit), not for a recording
// stopped while the server ran on, nor for a cut or damaged one.

import { Option, type Command } from 'commander';
import {
  DetectorRunner,
  RULES,
  whyNotOnDerived,
  summarize,
  type Finding,
  type FindingSummary,
  type RuleId,
} from '@iocpscope/analysis';
import {
  EventKind,
  NO_THREAD,
  RECORD_WORDS,
  ThreadRole,
  TraceEndReason,
  tsAt,
  type EventStore,
  type StringTable,
  type TraceFileHeader,
} from '@iocpscope/protocol';
import {
  Progress,
  readTraceInput,
  readingLine,
  TraceInputError,
  type ProgressStream,
  type TraceDamage,
  formatCount,
} from './trace-file.ts';

export const CHECK_EXIT = { clean: 0, findings: 1, unreadable: 2, incomplete: 3 } as const;

export class CheckOptionError extends Error {
  readonly code = 'ERR_CHECK_OPTIONS';
}

export interface ThreadInfo {
  tid: number;
  name: string;
  role: string;
}

export interface CheckOutcome {
  file: string;
  fileBytes: number;
  header: TraceFileHeader | null;
  events: number;
  chunks: number;
  validBytes: number;
  /** Nanoseconds from the first event to the last. */
  durationNs: number;
  threads: Map<number, ThreadInfo>;
  sessions: number;
  /** Events the recorder lost (Gap records), summed. */
  lostEvents: number;
  damage: TraceDamage | null;
  /** How the recording ended (its TraceEnd record), null when it has none. */
  end: { reason: number; index: number } | null;
  /** The recording starts with a snapshot (it began mid-run). */
  startsMidRun: boolean;
  /** A readable recording without a TraceEnd: what it covers. Null when it ended as planned (or is damaged). */
  incomplete: { firstTsNs: number; lastTsNs: number; openSessions: number } | null;
  /** Rules that were run (all unless --rule, less those that do not apply). */
  rules: RuleId[];
  /** Rules asked for that do not apply to this trace (a derived IOCount: whyNotOnDerived). */
  notApplicable: RuleId[];
  /** Sorted by rule number, then event index; each with the thread it concerns. */
  findings: CheckedFinding[];
  /** Findings over the per-rule cap: counted, not kept. */
  suppressed: Map<RuleId, number>;
  summary: FindingSummary;
  exitCode: number;
}

export interface CheckFileOptions {
  rules?: readonly RuleId[];
  onProgress?: (bytesRead: number, fileBytes: number) => void;
  /** Read piece size (tests). */
  pieceBytes?: number;
}

const ROLE_NAMES: Record<number, string> = {
  [ThreadRole.Main]: 'main',
  [ThreadRole.Worker]: 'worker',
  [ThreadRole.Accept]: 'accept',
  [ThreadRole.Kernel]: 'kernel',
  [ThreadRole.Other]: 'other',
};

/** Collects what the summary needs from the events as they stream by. */
class TraceFacts {
  readonly threads = new Map<number, ThreadInfo>();
  sessions = 0;
  lostEvents = 0;
  end: { reason: number; index: number } | null = null;
  startsMidRun = false;
  constructor(private readonly strings: StringTable) {}

  scan(w: Uint32Array, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const o = i * RECORD_WORDS;
      const kind = w[o]! & 0xff;
      if (kind === EventKind.ThreadStart) {
        const tid = w[o]! >>> 16;
        const role = ROLE_NAMES[(w[o]! >>> 8) & 0xff] ?? 'other';
        const name = this.strings.text(w[o + 1]!) || `${role} ${tid}`;
        this.threads.set(tid, { tid, name, role });
      } else if (kind === EventKind.SessionCreated) {
        this.sessions++;
      } else if (kind === EventKind.Gap) {
        this.lostEvents += w[o + 1]! + w[o + 6]! * 2 ** 32;
      } else if (kind === EventKind.TraceEnd) {
        this.end = { reason: (w[o]! >>> 8) & 0xff, index: i };
      } else if (kind === EventKind.Snapshot && i === 0) {
        this.startsMidRun = true;
      }
      // Records after a TraceEnd (a file appended to): it no longer ends there.
      if (kind !== EventKind.TraceEnd && this.end !== null && i > this.end.index) this.end = null;
    }
  }
}

export function parseRuleFilter(values: readonly string[]): RuleId[] {
  const out: RuleId[] = [];
  for (const v of values) {
    for (const part of v.split(',')) {
      const t = part.trim();
      if (t === '') continue;
      const rule = /^\d+$/.test(t)
        ? RULES.find((r) => r.number === Number(t))
        : RULES.find((r) => r.id === t);
      if (rule === undefined) {
        throw new CheckOptionError(
          `--rule: unknown rule ${JSON.stringify(t)} (a number 1-${RULES.length} or one of: ${RULES.map((r) => r.id).join(', ')})`,
        );
      }
      if (!out.includes(rule.id)) out.push(rule.id);
    }
  }
  return RULES.filter((r) => out.includes(r.id)).map((r) => r.id);
}

export function checkExitCode(
  o: Pick<CheckOutcome, 'findings' | 'suppressed' | 'damage' | 'incomplete'>,
): number {
  if (o.findings.length > 0 || o.suppressed.size > 0) return CHECK_EXIT.findings;
  if (o.damage !== null) return CHECK_EXIT.unreadable;
  if (o.incomplete !== null) return CHECK_EXIT.incomplete;
  return CHECK_EXIT.clean;
}

/**
 * Read `path` and run the detectors over it in one streaming pass. Throws
 * TraceInputError when the file cannot be read at all; damage is in the outcome.
 */
export async function checkFile(
  path: string,
  options: CheckFileOptions = {},
): Promise<CheckOutcome> {
  const rules =
    options.rules && options.rules.length > 0 ? [...options.rules] : RULES.map((r) => r.id);
  let table: StringTable | null = null;
  let facts: TraceFacts | null = null;
  // Made once the header is read: a trace with a derived IOCount (the hook DLL)
  // runs only the rules that apply to it.
  let runner: DetectorRunner | null = null;
  const makeRunner = (header: TraceFileHeader | null | undefined): DetectorRunner =>
    new DetectorRunner({
      rules,
      strings: (i) => table?.text(i) || undefined,
      ...(header?.ioCount ? { ioCount: header.ioCount } : {}),
    });
  const input = await readTraceInput(path, {
    ...(options.pieceBytes !== undefined ? { pieceBytes: options.pieceBytes } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    onEvents: (store, from, to, strings, header) => {
      table = strings;
      facts ??= new TraceFacts(strings);
      facts.scan(store.words, from, to);
      runner ??= makeRunner(header);
      runner.feed(store, to);
    },
  });
  runner ??= makeRunner(input.header);
  const notApplicable =
    input.header?.ioCount === 'derived'
      ? rules.filter((r) => whyNotOnDerived(r) !== undefined)
      : [];
  // The end-of-trace checks conclude that something "never happened before the
  // end": only a recording that covers the server's exit reaches that end.
  const f = facts as TraceFacts | null;
  const end = f?.end ?? null;
  runner.finish({ endOfRun: input.damage === null && end?.reason === TraceEndReason.ServerExit });
  const kept = [...runner.findings];
  kept.sort((a, b) => a.ruleNumber - b.ruleNumber || a.index - b.index);
  const n = input.store.length;
  const findings = kept.map((x) => ({ ...x, tid: findingThread(x, input.store) }));
  let open = 0;
  for (const s of runner.replayer.state.sessions.values()) if (s.lifecycle !== 'released') open++;
  const outcome: CheckOutcome = {
    file: path,
    fileBytes: input.fileBytes,
    header: input.header,
    events: n,
    chunks: input.chunks,
    validBytes: input.validBytes,
    durationNs: n > 0 ? tsAt(input.store.words, n - 1) - tsAt(input.store.words, 0) : 0,
    threads: f?.threads ?? new Map(),
    sessions: f?.sessions ?? 0,
    lostEvents: f?.lostEvents ?? 0,
    damage: input.damage,
    end,
    startsMidRun: f?.startsMidRun ?? false,
    incomplete:
      input.damage === null && end === null
        ? {
            firstTsNs: n > 0 ? tsAt(input.store.words, 0) : 0,
            lastTsNs: n > 0 ? tsAt(input.store.words, n - 1) : 0,
            openSessions: open,
          }
        : null,
    rules: rules.filter((r) => !notApplicable.includes(r)),
    notApplicable,
    findings,
    suppressed: new Map(runner.suppressed),
    summary: summarize(findings),
    exitCode: 0,
  };
  outcome.exitCode = checkExitCode(outcome);
  return outcome;
}

// ---- printing -----------------------------------------------------------------

const num = formatCount;
const plural = (n: number, one: string, many = `${one}s`): string =>
  `${num(n)} ${n === 1 ? one : many}`;

/** Word-wrap `text` to `width` columns, every line indented by `indent`. */
export function wrap(text: string, width: number, indent: string): string {
  const room = Math.max(20, width - indent.length);
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (word === '') continue;
    if (line !== '' && line.length + 1 + word.length > room) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(indent + line);
  return lines.join('\n');
}

function threadLabel(o: CheckOutcome, tid: number): string {
  const t = o.threads.get(tid);
  return t === undefined ? `thread ${tid}` : `${t.name} (thread ${tid})`;
}

/** The thread a finding is about: its subject's, or the one that did the marked event. */
export function findingThread(f: Finding, store: EventStore): number | null {
  if (f.subject.kind === 'thread' || f.subject.kind === 'lock') return f.subject.tid;
  if (f.index >= store.length) return null;
  const t = store.words[f.index * RECORD_WORDS]! >>> 16;
  return t === NO_THREAD ? null : t;
}

function evidenceText(ev: readonly number[]): string {
  if (ev.length <= 10) return `${ev.length === 1 ? 'event' : 'events'} ${ev.join(', ')}`;
  return `events ${ev.slice(0, 6).join(', ')}, ... ${ev.slice(-3).join(', ')} (${ev.length} in all)`;
}

function subjectText(o: CheckOutcome, f: CheckedFinding): string {
  const parts: string[] = [];
  const s = f.subject;
  if (s.kind === 'session') parts.push(`session 0x${s.session.toString(16)}`);
  else if (s.kind === 'lock') parts.push(`lock #${s.lockId}`);
  else if (s.kind === 'port') parts.push('the completion port');
  if (f.tid !== null) parts.push(`thread ${threadLabel(o, f.tid).replace(/^thread /, '')}`);
  parts.push(evidenceText(f.evidence));
  return parts.join(' · ');
}

export interface FormatCheckOptions {
  /** Findings printed per rule; the rest are counted. Default 5; Infinity with --all. */
  perRule?: number;
  /** Columns for wrapping the explanations. Default 100. */
  width?: number;
}

/** A finding as printed: with the thread it concerns resolved. */
export type CheckedFinding = Finding & { tid: number | null };

/** 2.35 s, 120 ms, 85 µs. */
export function formatDuration(ns: number): string {
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(2)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(1)} ms`;
  return `${Math.round(ns / 1e3)} µs`;
}

function describeRun(o: CheckOutcome): string {
  const h = o.header;
  const what = [
    plural(o.events, 'event'),
    formatDuration(o.durationNs),
    plural(o.threads.size, 'thread'),
    plural(o.sessions, 'session'),
  ].join(', ');
  const port = h
    ? ` (${h.backend} port, ${plural(h.portConfig.workers, 'worker')}, concurrency ${h.portConfig.concurrency || 'CPUs'})`
    : '';
  return `${o.file}: ${what}${port}`;
}

/** The one-line verdict printed last. */
export function summaryLine(o: CheckOutcome, findings: readonly Finding[]): string {
  const suppressed = [...o.suppressed.values()].reduce((a, b) => a + b, 0);
  const total = findings.length + suppressed;
  if (total === 0) {
    if (o.damage !== null) {
      return `not clean: the file is damaged (${o.damage.code}); no findings in the ${plural(o.events, 'event')} before the damage.`;
    }
    if (o.incomplete !== null) {
      return (
        `incomplete: the recording has no end record; no findings in the ${plural(o.events, 'event')} ` +
        `it holds (${coverage(o)}), but a recording cut short is never called clean.`
      );
    }
    return `clean: no findings in ${plural(o.events, 'event')} (${plural(o.rules.length, 'rule')} checked).`;
  }
  const byRule = new Map<RuleId, number>();
  for (const f of findings) byRule.set(f.rule, (byRule.get(f.rule) ?? 0) + 1);
  for (const [r, n] of o.suppressed) byRule.set(r, (byRule.get(r) ?? 0) + n);
  const errors = findings.filter((f) => f.severity === 'error').length;
  const warnings = findings.length - errors;
  const kinds = [
    errors > 0 ? plural(errors, 'error') : '',
    warnings > 0 ? plural(warnings, 'warning') : '',
  ].filter(Boolean);
  const rules = RULES.filter((r) => byRule.has(r.id)).map(
    (r) => `${r.number} ${r.id} x${byRule.get(r.id)}`,
  );
  return (
    `${plural(total, 'finding')}${kinds.length > 0 && suppressed === 0 ? ` (${kinds.join(', ')})` : ''} ` +
    `breaking ${plural(rules.length, 'rule')}: ${rules.join(', ')}` +
    (o.damage !== null ? ` (in the readable part of a damaged file)` : '') +
    (o.incomplete !== null ? ` (in an incomplete recording: ${coverage(o)})` : '') +
    '.'
  );
}

const END_NAMES: Record<number, string> = {
  [TraceEndReason.Stopped]: 'recording stopped while the server ran on',
  [TraceEndReason.SizeCap]: 'file closed at its size cap (the next part continues it)',
  [TraceEndReason.ServerExit]: 'the server exited',
  [TraceEndReason.Detached]: 'the tracer detached from its process',
};

/** What an incomplete recording covers: its time span, and what was still open where it stops. */
function coverage(o: CheckOutcome): string {
  const inc = o.incomplete!;
  return (
    `${formatDuration(inc.lastTsNs - inc.firstTsNs)} from ` +
    `${formatDuration(inc.firstTsNs)} to ${formatDuration(inc.lastTsNs)} of the run` +
    (o.startsMidRun ? ', begun mid-run' : '') +
    `, ${plural(inc.openSessions, 'session')} still open where it stops`
  );
}

/** The report for a terminal: the run, the findings grouped by rule, the summary line. */
export function formatCheckReport(o: CheckOutcome, options: FormatCheckOptions = {}): string {
  const findings = o.findings;
  const perRule = options.perRule ?? 5;
  const width = options.width ?? 100;
  const out: string[] = [describeRun(o)];
  if (o.end !== null) out.push(`ended: ${END_NAMES[o.end.reason] ?? `reason ${o.end.reason}`}`);
  if (o.startsMidRun) {
    out.push('begins mid-run: its first records are a snapshot of the state (given, not judged)');
  }
  if (o.incomplete !== null) {
    out.push(
      wrap(
        `warning: no end record: the recording stops without warning (a crash, a kill, a file ` +
          `copied while it was written, or a version 1 file). It covers ${coverage(o)}; sessions ` +
          `still open there look unreleased only because the recording stops.`,
        width,
        '',
      ),
    );
  }
  if (o.notApplicable.length > 0) {
    const numbers = (ids: readonly RuleId[]): string =>
      ids.map((r) => RULES.find((x) => x.id === r)!.number).join(', ');
    out.push(
      wrap(
        `IOCount derived (outstanding I/O per socket, traced by ${o.header?.tracer ?? 'a hook'}): ` +
          `rules ${numbers(o.rules)} checked; ${numbers(o.notApplicable)} do not apply` +
          (perRule === Infinity ? ':' : ' (--all says why).'),
        width,
        '',
      ),
    );
    if (perRule === Infinity) {
      for (const r of o.notApplicable) {
        const n = RULES.find((x) => x.id === r)!.number;
        out.push(wrap(`${n} ${r}: ${whyNotOnDerived(r)}`, width, '  '));
      }
    }
  } else if (o.rules.length < RULES.length) out.push(`rules checked: ${o.rules.join(', ')}`);
  if (o.lostEvents > 0) {
    out.push(
      wrap(
        `note: ${plural(o.lostEvents, 'event was', 'events were')} lost while recording (the recorder's ` +
          `buffer overflowed); checks that need every event start over after each gap, so a bug ` +
          `that spans a gap can be missed.`,
        width,
        '',
      ),
    );
  }
  for (const rule of RULES) {
    const list = findings.filter((f) => f.rule === rule.id);
    const more = o.suppressed.get(rule.id) ?? 0;
    if (list.length === 0 && more === 0) continue;
    out.push('');
    out.push(
      `rule ${rule.number} ${rule.id}: ${rule.title} (${plural(list.length + more, 'finding')})`,
    );
    list.slice(0, perRule).forEach((f, k) => {
      out.push(`  ${k + 1}. ${f.severity} at event ${num(f.index)} (${f.check})`);
      out.push(`     ${subjectText(o, f)}`);
      out.push(wrap(f.message, width, '     '));
    });
    const hidden = Math.max(0, list.length - perRule);
    if (hidden > 0) out.push(`  ... and ${plural(hidden, 'more finding')} (--all lists them)`);
    if (more > 0) {
      out.push(`  ... and ${plural(more, 'more finding')} over the analysis cap (not kept)`);
    }
  }
  out.push('');
  out.push(summaryLine(o, findings));
  return out.join('\n') + '\n';
}

/** Bigints as 0x hex strings, Maps as objects: the --json document. */
export function checkReportJson(o: CheckOutcome): unknown {
  const findings = o.findings;
  return {
    file: o.file,
    fileBytes: o.fileBytes,
    exitCode: o.exitCode,
    verdict:
      o.exitCode === CHECK_EXIT.clean
        ? 'clean'
        : o.exitCode === CHECK_EXIT.findings
          ? 'findings'
          : o.exitCode === CHECK_EXIT.incomplete
            ? 'incomplete'
            : 'damaged',
    header: o.header,
    events: o.events,
    chunks: o.chunks,
    validBytes: o.validBytes,
    durationNs: o.durationNs,
    sessions: o.sessions,
    lostEvents: o.lostEvents,
    threads: [...o.threads.values()],
    damage: o.damage,
    end: o.end === null ? null : { reason: o.end.reason, event: o.end.index },
    startsMidRun: o.startsMidRun,
    incomplete: o.incomplete,
    rules: o.rules,
    notApplicable: o.notApplicable.map((r) => ({ rule: r, why: whyNotOnDerived(r) })),
    summary: {
      ...o.summary,
      suppressed: Object.fromEntries(o.suppressed),
      line: summaryLine(o, findings),
    },
    findings: findings.map((f) => ({
      rule: f.rule,
      ruleNumber: f.ruleNumber,
      check: f.check,
      title: f.title,
      severity: f.severity,
      subject:
        f.subject.kind === 'session'
          ? { kind: 'session', session: `0x${f.subject.session.toString(16)}` }
          : f.subject,
      thread:
        f.tid === null
          ? null
          : { tid: f.tid, name: o.threads.get(f.tid)?.name ?? `thread ${f.tid}` },
      index: f.index,
      tsNs: f.tsNs,
      evidence: f.evidence,
      message: f.message,
    })),
  };
}

// ---- the command ----------------------------------------------------------------

export interface CheckCliFlags {
  json?: boolean;
  rule?: string[];
  all?: boolean;
  progress?: boolean;
}

export interface CheckCliIo {
  stdout: { write(text: string): unknown; columns?: number; isTTY?: boolean };
  stderr: ProgressStream;
  /** Receives the exit code when the command registered with this io finishes. */
  setExitCode?: (code: number) => void;
  /** Read piece size (tests). */
  pieceBytes?: number;
}

/** Runs `check` on one file; resolves the exit code. */
export async function runCheckCli(
  file: string,
  flags: CheckCliFlags,
  io: CheckCliIo,
): Promise<number> {
  let rules: RuleId[];
  try {
    rules = parseRuleFilter(flags.rule ?? []);
  } catch (e) {
    if (!(e instanceof CheckOptionError)) throw e;
    io.stderr.write(`iocpscope check: ${e.message}\n`);
    return CHECK_EXIT.unreadable;
  }
  const progress = flags.progress === false ? null : new Progress(io.stderr);
  let outcome: CheckOutcome;
  try {
    outcome = await checkFile(file, {
      rules,
      ...(io.pieceBytes !== undefined ? { pieceBytes: io.pieceBytes } : {}),
      ...(progress
        ? { onProgress: (done, total) => progress.update(readingLine(file, done, total)) }
        : {}),
    });
  } catch (e) {
    if (!(e instanceof TraceInputError)) throw e;
    io.stderr.write(`iocpscope check: error ${e.code}: ${e.message}\n`);
    return CHECK_EXIT.unreadable;
  } finally {
    progress?.end();
  }
  const d = outcome.damage;
  if (d !== null) {
    const pct =
      outcome.fileBytes > 0 ? Math.floor((outcome.validBytes / outcome.fileBytes) * 100) : 0;
    const recovered =
      outcome.events === 0
        ? `nothing in ${file} could be read`
        : `only the first ${plural(outcome.events, 'event')} (${plural(outcome.chunks, 'chunk')}, ` +
          `${num(outcome.validBytes)} of ${num(outcome.fileBytes)} bytes, ${pct}%) could be checked, ` +
          `and the end-of-trace checks were skipped`;
    const verdict =
      outcome.exitCode === CHECK_EXIT.findings
        ? 'the findings below are real, but there may be more after the damage'
        : 'no findings there, but a damaged file is not a clean run';
    io.stderr.write(
      `iocpscope check: ${outcome.exitCode === CHECK_EXIT.findings ? 'warning' : 'error'} ${d.message}\n` +
        wrap(`${file} is damaged: ${recovered}; ${verdict}.`, 100, '  ') +
        '\n',
    );
  }
  if (flags.json) {
    io.stdout.write(`${JSON.stringify(checkReportJson(outcome), null, 2)}\n`);
  } else if (!(d !== null && outcome.events === 0)) {
    io.stdout.write(
      formatCheckReport(outcome, {
        perRule: flags.all ? Infinity : 5,
        width: Math.min(100, io.stdout.isTTY && io.stdout.columns ? io.stdout.columns : 100),
      }),
    );
  }
  return outcome.exitCode;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/**
 * Adds `check` to the iocpscope program. `io` is for tests; the CLI uses the
 * process's streams. Usage errors exit 2 (commander's default would be 1,
 * which means "findings" here).
 */
export function registerCheckCommand(program: Command, io?: CheckCliIo): void {
  const ruleList = RULES.map(
    (r) => `  ${String(r.number).padStart(2)} ${r.id.padEnd(20)} ${r.title}`,
  ).join('\n');
  program
    .command('check')
    .description('check a recording for the classic IOCP session-lifetime bugs')
    .argument('<file>', 'an .iocptrace recording')
    .option('--json', 'print the report as one JSON document')
    .addOption(
      new Option(
        '--rule <rule>',
        'check only this rule: its number or name (repeatable, or comma-separated)',
      ).argParser(collect),
    )
    .option('--all', 'list every finding (default: the first 5 per rule)')
    .option('--no-progress', 'no progress on stderr while reading a big file')
    .addHelpText(
      'after',
      `\nRules (iocp-model.md §3):\n${ruleList}\n\n` +
        'Exit codes: 0 clean (the recording ended as planned and nothing fired); 1 findings;\n' +
        '2 the file cannot be read, or it is damaged and the part before the damage has no findings,\n' +
        'or bad options; 3 incomplete: it reads, but has no end record (cut short by a crash or a\n' +
        'kill, or a version 1 file) and no findings. A damaged or incomplete file is never reported\n' +
        'clean; with findings it exits 1 with a warning saying what the file covers.',
    )
    .exitOverride((err) => {
      const code = err.exitCode === 0 ? 0 : CHECK_EXIT.unreadable;
      if (!io) process.exit(code);
      io.setExitCode?.(code);
      throw err;
    })
    .action(async (file: string, flags: CheckCliFlags) => {
      const code = await runCheckCli(
        file,
        flags,
        io ?? { stdout: process.stdout, stderr: process.stderr },
      );
      if (io) io.setExitCode?.(code);
      else process.exitCode = code;
    });
}

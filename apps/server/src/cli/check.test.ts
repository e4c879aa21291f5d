import { afterAll, describe, expect, it } from 'vitest';
import { CommanderError } from 'commander';
import { RULES, Rng, openSession, peerResets, server } from '@iocpscope/analysis';
import { RECORD_WORDS, TraceEndReason } from '@iocpscope/protocol';
import { buildProgram } from './main.ts';
import {
  CHECK_EXIT,
  checkFile,
  formatDuration,
  parseRuleFilter,
  registerCheckCommand,
  runCheckCli,
  wrap,
  type CheckCliFlags,
} from './check.ts';
import {
  buggyTrace,
  cleanTrace,
  concatBytes,
  tempDir,
  traceFileBytes,
  traceFileParts,
  withGap,
  type BuiltTrace,
} from './trace-file.test-util.ts';
import { Command } from 'commander';

const tmp = tempDir();
afterAll(() => tmp.remove());

function sink(isTTY = false): { write(t: string): boolean; text: string; isTTY: boolean } {
  return {
    text: '',
    isTTY,
    write(t: string) {
      this.text += t;
      return true;
    },
  };
}

async function run(
  file: string,
  flags: CheckCliFlags = {},
): Promise<{ code: number; out: string; err: string }> {
  const stdout = sink();
  const stderr = sink();
  const code = await runCheckCli(file, flags, { stdout, stderr });
  return { code, out: stdout.text, err: stderr.text };
}

/** Worker 1 posts two sends on one session before the first completes. */
const twoSends = (): BuiltTrace =>
  buggyTrace((sv) => {
    const { s, recv } = openSession(sv, 2);
    const w = sv.w[1]!;
    sv.b.complete(recv, { bytes: 32 });
    w.dequeue(recv);
    const a = w.send(s, { bytes: 32 });
    const b = w.send(s, { bytes: 32 });
    const next = w.recv(s);
    w.completed(recv);
    w.gqcs();
    for (const io of [a, b]) {
      sv.b.complete(io);
      w.dequeue(io);
      w.completed(io);
      w.gqcs();
    }
    peerResets(sv, w, s, next);
  });

/** Shutdown posts one exit packet for two workers; the trace ends with worker 1 still in GQCS. */
function tooFewExitPackets(): BuiltTrace {
  const sv = server();
  const { s, recv } = openSession(sv, 1);
  peerResets(sv, sv.w[0]!, s, recv);
  sv.acc.exit();
  sv.main.pqcsExit();
  sv.w[0]!.dequeueExit();
  sv.w[0]!.exit();
  sv.b.traceEnd(TraceEndReason.ServerExit);
  return sv.b.build();
}

describe('iocpscope check', () => {
  it('reports a correct run as clean with exit 0 and a one-line verdict', async () => {
    const file = tmp.file('clean.iocptrace', traceFileBytes(cleanTrace()));
    const r = await run(file);
    expect(r.code).toBe(CHECK_EXIT.clean);
    expect(r.err).toBe('');
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /clean\.iocptrace: 200 events, \d+ µs, 5 threads, 3 sessions \(emulated port, 2 workers, concurrency 2\)$/,
    );
    expect(lines[1]).toBe('ended: the server exited');
    expect(lines.at(-1)).toBe('clean: no findings in 200 events (19 rules checked).');
  });

  it('prints each finding with its rule, the session in hex, the thread by name, the event indices and the explanation, then exits 1', async () => {
    const file = tmp.file('two-sends.iocptrace', traceFileBytes(twoSends()));
    const r = await run(file);
    expect(r.code).toBe(CHECK_EXIT.findings);
    expect(r.out).toContain(
      'rule 4 one-send-in-flight: Two sends in flight on one session (1 finding)',
    );
    expect(r.out).toMatch(/ {2}1\. error at event 36 \(two-in-flight\)\n/);
    expect(r.out).toContain(
      '     session 0x5eed000100000002 · thread worker-1 (thread 4) · events 34, 36\n',
    );
    // The explanation is the detector's, wrapped under the finding.
    expect(r.out).toMatch(
      / {5}Session 0x5eed000100000002 \(slot 2\): a second WSASend \(io #\d+\) was issued at event 36/,
    );
    expect(r.out.replace(/\s+/g, ' ')).toContain(
      'allow one send at a time with a send flag set by an atomic exchange.',
    );
    expect(r.out.trimEnd().split('\n').at(-1)).toBe(
      '1 finding (1 error) breaking 1 rule: 4 one-send-in-flight x1.',
    );
  });

  it('prints the same as JSON with --json: verdict, session as a hex string, thread name, evidence', async () => {
    const file = tmp.file('two-sends-json.iocptrace', traceFileBytes(twoSends()));
    const r = await run(file, { json: true });
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({
      verdict: 'findings',
      exitCode: 1,
      events: 73,
      end: { reason: TraceEndReason.ServerExit, event: 72 },
      incomplete: null,
      sessions: 2,
      damage: null,
      summary: { total: 1, line: '1 finding (1 error) breaking 1 rule: 4 one-send-in-flight x1.' },
    });
    expect(j.findings).toEqual([
      expect.objectContaining({
        rule: 'one-send-in-flight',
        ruleNumber: 4,
        check: 'two-in-flight',
        subject: { kind: 'session', session: '0x5eed000100000002' },
        thread: { tid: 4, name: 'worker-1' },
        index: 36,
        evidence: [34, 36],
      }),
    ]);
    expect(j.threads.map((t: { name: string }) => t.name)).toEqual([
      'kernel',
      'main',
      'accept',
      'worker-0',
      'worker-1',
    ]);
  });

  it('checks only the rules named by --rule (number or name) and rejects unknown ones with exit 2', async () => {
    const file = tmp.file('two-sends-rule.iocptrace', traceFileBytes(twoSends()));
    expect((await run(file, { rule: ['4'] })).code).toBe(1);
    const other = await run(file, { rule: ['release-once,1'] });
    expect(other.code).toBe(0);
    expect(other.out).toContain('rules checked: iocount-balance, release-once');
    expect(other.out).toContain('(2 rules checked)');
    const bad = await run(file, { rule: ['20'] });
    expect(bad.code).toBe(CHECK_EXIT.unreadable);
    expect(bad.err).toMatch(
      /--rule: unknown rule "20" \(a number 1-19 or one of: iocount-balance, /,
    );
    expect(parseRuleFilter(['4', 'one-send-in-flight', ' 13 '])).toEqual([
      'one-send-in-flight',
      'release-once',
    ]);
  });

  it('shows the first 5 findings of a rule and counts the rest, all of them with --all', async () => {
    // Six sessions, each with two sends in flight.
    const sv = server();
    for (let k = 1; k <= 6; k++) {
      const { s, recv } = openSession(sv, k);
      const w = sv.w[0]!;
      sv.b.complete(recv, { bytes: 8 });
      w.dequeue(recv);
      w.send(s, { bytes: 8 });
      w.send(s, { bytes: 8 });
      w.completed(recv);
      w.gqcs();
    }
    const file = tmp.file('six.iocptrace', traceFileBytes(sv.b.build()));
    const some = await run(file, { rule: ['4'] });
    expect(some.out).toContain('(6 findings)');
    expect(some.out).toContain('  5. error');
    expect(some.out).not.toContain('  6. error');
    expect(some.out).toContain('  ... and 1 more finding (--all lists them)');
    const all = await run(file, { rule: ['4'], all: true });
    expect(all.out).toContain('  6. error');
    expect(all.out).not.toContain('--all lists them');
  });

  it('exits 2 with the reader’s code when a crash cut the file inside a chunk and the part before has no findings', async () => {
    const parts = traceFileParts(cleanTrace(), { perChunk: 50 });
    const whole = concatBytes(parts);
    const cut = whole.subarray(0, whole.length - 100); // inside the last chunk
    const file = tmp.file('cut.iocptrace', cut);
    const r = await run(file);
    expect(r.code).toBe(CHECK_EXIT.unreadable);
    expect(r.err).toMatch(
      /^iocpscope check: error TRUNCATED at byte \d+: file ends \d+ bytes into chunk \d+, .*\n/,
    );
    expect(r.err.replace(/\s+/g, ' ')).toMatch(
      /is damaged: only the first 150 events \(3 chunks, [\d,]+ of [\d,]+ bytes, \d+%\) could be checked, and the end-of-trace checks were skipped; no findings there, but a damaged file is not a clean run\./,
    );
    expect(r.out.trimEnd().split('\n').at(-1)).toBe(
      'not clean: the file is damaged (TRUNCATED); no findings in the 150 events before the damage.',
    );
    const j = JSON.parse((await run(file, { json: true })).out);
    expect(j).toMatchObject({ verdict: 'damaged', exitCode: 2, damage: { code: 'TRUNCATED' } });
  });

  it('still reports findings before the damage, with exit 1 and a warning naming the damage', async () => {
    const parts = traceFileParts(twoSends(), { perChunk: 40 });
    // Flip one byte in the last chunk's body: its checksum no longer matches.
    const last = parts.at(-1)!.slice();
    last[20] = last[20]! ^ 0xff;
    const file = tmp.file('flipped.iocptrace', concatBytes([...parts.slice(0, -1), last]));
    const r = await run(file);
    expect(r.code).toBe(CHECK_EXIT.findings);
    expect(r.err).toMatch(
      /^iocpscope check: warning CHECKSUM_MISMATCH at byte \d+: chunk \d+ .*CRC32.*\n/,
    );
    expect(r.err.replace(/\s+/g, ' ')).toContain(
      'the findings below are real, but there may be more after the damage.',
    );
    expect(r.out).toContain('(in the readable part of a damaged file).');
  });

  it('skips the end-of-trace checks on a damaged file: "never happened before the end" cannot be known', async () => {
    const complete = traceFileParts(tooFewExitPackets());
    const whole = await run(tmp.file('too-few.iocptrace', concatBytes(complete)));
    expect(whole.code).toBe(1);
    expect(whole.out).toContain('rule 10 shutdown');
    expect(whole.out).toContain('was still waiting in GQCS when the trace ended');
    // The same events, followed by a chunk cut short: the run did not end there.
    const extra = traceFileParts(cleanTrace(1, 1)).at(-1)!;
    const cut = concatBytes([...complete, extra.subarray(0, extra.length - 3)]);
    const r = await run(tmp.file('too-few-cut.iocptrace', cut));
    expect(r.err).toContain('error TRUNCATED');
    expect(r.out).not.toContain('rule 10 shutdown');
    expect(r.code).toBe(CHECK_EXIT.unreadable);
  });

  it('calls a recording cut on a chunk boundary incomplete, never clean: exit 3, with what it covers', async () => {
    // The run's records, but the end record never made it to disk: sessions still open where it stops.
    const t = cleanTrace();
    const words = t.words.slice(0, (t.length - 1) * RECORD_WORDS);
    const midRun = { words, length: t.length - 1, strings: t.strings };
    const r = await run(tmp.file('cut.iocptrace', traceFileBytes(midRun)));
    expect(r.code).toBe(CHECK_EXIT.incomplete);
    expect(r.out).toMatch(/warning: no end record: the recording stops without warning/);
    expect(r.out.trimEnd().split('\n').at(-1)).toMatch(
      /^incomplete: the recording has no end record; no findings in the 199 events it holds \(\d+ µs from \d+ µs to \d+ µs of the run, 0 sessions still open where it stops\), but a recording cut short is never called clean\.$/,
    );
    const j = JSON.parse(
      (await run(tmp.file('cut2.iocptrace', traceFileBytes(midRun)), { json: true })).out,
    );
    expect(j).toMatchObject({ verdict: 'incomplete', exitCode: 3, end: null });
    expect(j.incomplete.openSessions).toBe(0);
  });

  it('calls a header-only file incomplete, not "clean: no findings in 0 events"', async () => {
    const empty = { words: new Uint32Array(0), length: 0, strings: [] };
    const r = await run(tmp.file('header-only.iocptrace', traceFileBytes(empty)));
    expect(r.code).toBe(CHECK_EXIT.incomplete);
    expect(r.out).toContain(
      'incomplete: the recording has no end record; no findings in the 0 events',
    );
    expect(r.out).not.toContain('clean:');
  });

  it('runs the end-of-trace checks only on a recording that covers the server’s exit', async () => {
    const t = tooFewExitPackets();
    // The same events, but the recording was stopped while the server ran on.
    const stopped = t.words.slice();
    stopped[(t.length - 1) * RECORD_WORDS] =
      (stopped[(t.length - 1) * RECORD_WORDS]! & ~0xff00) | (TraceEndReason.Stopped << 8);
    const r = await run(tmp.file('stopped.iocptrace', traceFileBytes({ ...t, words: stopped })));
    expect(r.out).toContain('ended: recording stopped while the server ran on');
    expect(r.out).not.toContain('rule 10 shutdown');
    expect(r.code).toBe(CHECK_EXIT.clean);
  });

  it('exits 2 with the code for a file that is not a trace, a missing file and a directory', async () => {
    const notTrace = await run(tmp.file('notes.iocptrace', 'just some text, not a recording\n'));
    expect(notTrace.code).toBe(2);
    expect(notTrace.err).toMatch(
      /^iocpscope check: error BAD_MAGIC at byte 0: not an .iocptrace file\n/,
    );
    expect(notTrace.err).toContain('nothing in');
    expect(notTrace.out).toBe('');
    const empty = await run(tmp.file('empty.iocptrace', new Uint8Array(0)));
    expect(empty.code).toBe(2);
    expect(empty.err).toMatch(/error TRUNCATED at byte 0: file ends 0 bytes into a file header/);
    const missing = await run(tmp.file('missing.iocptrace'));
    expect(missing).toMatchObject({ code: 2, out: '' });
    expect(missing.err).toMatch(
      /^iocpscope check: error ENOENT: cannot read .*missing\.iocptrace: no such file\n$/,
    );
    const dir = await run(tmp.dir);
    expect(dir.code).toBe(2);
    expect(dir.err).toContain('error EISDIR');
  });

  it('finds the same findings whatever the read piece size (the file is analysed while it streams)', async () => {
    const bytes = traceFileBytes(twoSends(), { perChunk: 7 });
    const file = tmp.file('pieces.iocptrace', bytes);
    const whole = await checkFile(file);
    const rng = new Rng(11);
    for (let k = 0; k < 5; k++) {
      const piece = rng.int(1, 300);
      const o = await checkFile(file, { pieceBytes: piece });
      expect(o.findings).toEqual(whole.findings);
      expect(o.events).toBe(whole.events);
    }
  });

  it('notes events lost while recording, without changing the verdict', async () => {
    const file = tmp.file('gap.iocptrace', traceFileBytes(withGap(cleanTrace(), 1234)));
    const r = await run(file);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^note: 1,234 events were lost while recording/m);
  });

  it('stays quiet on stderr for a quick check, even with progress on', async () => {
    const file = tmp.file('quick.iocptrace', traceFileBytes(cleanTrace()));
    const stderr = sink(true);
    await runCheckCli(file, {}, { stdout: sink(), stderr });
    expect(stderr.text).toBe('');
  });

  it('is registered on the program: --help lists the rules and the exit codes, bad usage exits 2', async () => {
    const check = buildProgram().commands.find((c) => c.name() === 'check')!;
    let help = '';
    check.configureOutput({ writeOut: (s) => (help += s) });
    check.outputHelp();
    for (const r of RULES) expect(help).toMatch(new RegExp(`^ +${r.number} ${r.id} +\\S`, 'm'));
    expect(help).toContain(
      'Exit codes: 0 clean (the recording ended as planned and nothing fired)',
    );
    expect(help).toContain('3 incomplete: it reads, but has no end record');

    const program = new Command().name('iocpscope');
    let code = -1;
    let errText = '';
    registerCheckCommand(program, {
      stdout: sink(),
      stderr: sink(),
      setExitCode: (c) => (code = c),
    });
    program.commands[0]!.configureOutput({ writeErr: (s) => (errText += s) });
    await expect(program.parseAsync(['node', 'iocpscope', 'check'])).rejects.toBeInstanceOf(
      CommanderError,
    );
    expect(code).toBe(2);
    expect(errText).toContain("missing required argument 'file'");

    const file = tmp.file('via-program.iocptrace', traceFileBytes(twoSends()));
    code = -1;
    await program.parseAsync(['node', 'iocpscope', 'check', file, '--rule', '4']);
    expect(code).toBe(1);
  });

  it('wraps explanations at the width, indenting every line', () => {
    expect(wrap('one two three four five six', 24, '  ')).toBe('  one two three four\n  five six');
    expect(wrap('a  b\n c', 80, '> ')).toBe('> a b c');
    expect(formatDuration(2_345_000_000)).toBe('2.35 s');
    expect(formatDuration(12_340_000)).toBe('12.3 ms');
    expect(formatDuration(85_400)).toBe('85 µs');
  });
});

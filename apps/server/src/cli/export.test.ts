import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CommanderError, Command } from 'commander';
import {
  EXPORT_EXIT,
  FdSink,
  registerExportCommand,
  runExportCli,
  type ExportCliFlags,
} from './export.ts';
import {
  cleanTrace,
  concatBytes,
  tempDir,
  traceFileBytes,
  traceFileParts,
} from './trace-file.test-util.ts';

const tmp = tempDir('iocpscope-export-');
afterAll(() => tmp.remove());

function sink(): { write(t: string): boolean; text: string } {
  return {
    text: '',
    write(t: string) {
      this.text += t;
      return true;
    },
  };
}

async function run(
  file: string,
  flags: ExportCliFlags,
  stdoutFd?: number,
): Promise<{ code: number; out: string; err: string }> {
  const stdout = sink();
  const stderr = sink();
  const code = await runExportCli(file, flags, {
    stdout,
    stderr,
    ...(stdoutFd !== undefined ? { stdoutFd } : {}),
  });
  return { code, out: stdout.text, err: stderr.text };
}

interface ChromeEvent {
  name: string;
  ph: string;
  tid?: number;
  args?: Record<string, unknown>;
  bind_id?: number;
  flow_in?: boolean;
  flow_out?: boolean;
}

function parseChrome(text: string): ChromeEvent[] {
  const doc = JSON.parse(text) as { traceEvents: ChromeEvent[] };
  expect(Array.isArray(doc.traceEvents)).toBe(true);
  return doc.traceEvents;
}

/** No temporary output left behind in `dir`. */
const leftovers = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.part'));

describe('iocpscope export', () => {
  it('writes Chrome trace JSON with thread names, X slices, flows from posts to handlers, and counters', async () => {
    const input = tmp.file('run.iocptrace', traceFileBytes(cleanTrace()));
    const out = tmp.file('run.json');
    const r = await run(input, { format: 'chrome', output: out });
    expect(r.code).toBe(EXPORT_EXIT.ok);
    expect(r.err).toBe('');
    expect(r.out).toMatch(
      /^wrote .*run\.json: 200 events as 0\.\d MiB of Chrome trace JSON \(open it in https:\/\/ui\.perfetto\.dev or chrome:\/\/tracing\)\n$/,
    );
    const events = parseChrome(readFileSync(out, 'utf8'));
    const names = events
      .filter((e) => e.ph === 'M' && e.name === 'thread_name')
      .map((e) => e.args!.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'kernel [kernel]',
        'main [main]',
        'accept [accept]',
        'worker-0 [worker]',
        'worker-1 [worker]',
      ]),
    );
    const x = events.filter((e) => e.ph === 'X');
    expect(x.map((e) => e.name)).toEqual(
      expect.arrayContaining([
        'GQCS wait',
        'WSARecv',
        'WSASend',
        'recv completion',
        'send completion',
      ]),
    );
    // Every flow that starts at a post ends at a handler.
    const outs = new Set(x.filter((e) => e.flow_out).map((e) => e.bind_id));
    const ins = x.filter((e) => e.flow_in).map((e) => e.bind_id);
    expect(ins.length).toBeGreaterThan(10);
    for (const id of ins) expect(outs.has(id)).toBe(true);
    const counters = new Set(events.filter((e) => e.ph === 'C').map((e) => e.name));
    expect(counters).toContain('port queue depth');
    expect([...counters].some((n) => n.startsWith('IOCount session '))).toBe(true);
    expect(events.find((e) => e.name === 'process_name')!.args!.name).toBe('hand-built trace');
    expect(leftovers(tmp.dir)).toEqual([]);
  });

  it('hands the output to the file in pieces, never as one big string', async () => {
    const input = tmp.file('big.iocptrace', traceFileBytes(cleanTrace(60, 20), { perChunk: 1000 }));
    const out = tmp.file('big.json');
    const pieces: number[] = [];
    const real = FdSink.prototype.write;
    FdSink.prototype.write = function (this: FdSink, text: string) {
      pieces.push(text.length);
      real.call(this, text);
    };
    try {
      expect((await run(input, { output: out, progress: false })).code).toBe(0);
    } finally {
      FdSink.prototype.write = real;
    }
    const total = readFileSync(out).length;
    expect(total).toBeGreaterThan(1_000_000);
    expect(pieces.length).toBeGreaterThan(10);
    expect(Math.max(...pieces)).toBeLessThan(128 * 1024);
    expect(pieces.reduce((a, b) => a + b, 0)).toBe(total);
    parseChrome(readFileSync(out, 'utf8'));
  });

  it('writes to stdout with -o -', async () => {
    const input = tmp.file('stdout.iocptrace', traceFileBytes(cleanTrace()));
    const target = tmp.file('stdout.json');
    const fd = openSync(target, 'w');
    let r;
    try {
      r = await run(input, { output: '-' }, fd);
    } finally {
      closeSync(fd);
    }
    expect(r).toEqual({ code: 0, out: '', err: '' });
    expect(parseChrome(readFileSync(target, 'utf8')).length).toBeGreaterThan(100);
  });

  it('rejects an unknown format and a missing -o with exit 2, before touching any file', async () => {
    const input = tmp.file('opts.iocptrace', traceFileBytes(cleanTrace()));
    const bad = await run(input, { format: 'perfetto', output: tmp.file('never.json') });
    expect(bad).toEqual({
      code: EXPORT_EXIT.badInput,
      out: '',
      err: 'iocpscope export: --format: unknown format "perfetto" (supported: chrome)\n',
    });
    expect(existsSync(tmp.file('never.json'))).toBe(false);
    const noOut = await run(input, {});
    expect(noOut.code).toBe(2);
    expect(noOut.err).toContain('-o/--output: name the output file (or - for stdout)');
  });

  it('fails with exit 1 and the system code when the output cannot be written, leaving nothing behind', async () => {
    const input = tmp.file('unwritable.iocptrace', traceFileBytes(cleanTrace()));
    const noDir = await run(input, { output: path.join(tmp.dir, 'no-such-dir', 'x.json') });
    expect(noDir).toMatchObject({ code: EXPORT_EXIT.outputFailed, out: '' });
    expect(noDir.err).toMatch(
      /^iocpscope export: error ENOENT: cannot write .*no-such-dir\/x\.json: no such directory\n$/,
    );
    const dir = path.join(tmp.dir, 'a-directory');
    mkdirSync(dir);
    const isDir = await run(input, { output: dir });
    expect(isDir.code).toBe(1);
    expect(isDir.err).toContain('error EISDIR: cannot write');
    // A device that is always full: the write itself fails (ENOSPC).
    const full = openSync('/dev/full', 'w');
    let r;
    try {
      r = await run(input, { output: '-' }, full);
    } finally {
      closeSync(full);
    }
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      'iocpscope export: error ENOSPC: cannot write stdout: no space left on the device\n',
    );
    expect(leftovers(tmp.dir)).toEqual([]);
  });

  it('exits 2 with the reader’s code for an unreadable input, and writes no output', async () => {
    const out = tmp.file('bad-input.json');
    const notTrace = await run(tmp.file('text.iocptrace', 'hello'), { output: out });
    expect(notTrace.code).toBe(EXPORT_EXIT.badInput);
    expect(notTrace.err).toMatch(
      /^iocpscope export: error BAD_MAGIC at byte 0: not an .iocptrace file\n/,
    );
    const missing = await run(tmp.file('missing.iocptrace'), { output: out });
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/error ENOENT: cannot read .*missing\.iocptrace: no such file/);
    expect(existsSync(out)).toBe(false);
    expect(leftovers(tmp.dir)).toEqual([]);
  });

  it('exports the part of a damaged file before the damage, and still exits 2 with the code', async () => {
    const whole = concatBytes(traceFileParts(cleanTrace(), { perChunk: 50 }));
    const input = tmp.file('cut.iocptrace', whole.subarray(0, whole.length - 10));
    const out = tmp.file('cut.json');
    const r = await run(input, { output: out });
    expect(r.code).toBe(EXPORT_EXIT.badInput);
    expect(r.err).toMatch(
      /^iocpscope export: error TRUNCATED at byte \d+: file ends \d+ bytes into chunk \d+, .*\n/,
    );
    expect(r.err).toMatch(
      /cut\.iocptrace is damaged: exported only the 150 events before the damage/,
    );
    expect(parseChrome(readFileSync(out, 'utf8')).length).toBeGreaterThan(100);
  });

  it('is registered with its exit codes in --help, and bad usage exits 2', async () => {
    const program = new Command().name('iocpscope');
    let code = -1;
    let help = '';
    registerExportCommand(program, {
      stdout: sink(),
      stderr: sink(),
      setExitCode: (c) => (code = c),
    });
    const cmd = program.commands[0]!;
    cmd.configureOutput({ writeOut: (s) => (help += s), writeErr: () => undefined });
    cmd.outputHelp();
    expect(help).toContain(
      'Exit codes: 0 written; 1 the output could not be written; 2 bad options',
    );
    await expect(program.parseAsync(['node', 'iocpscope', 'export'])).rejects.toBeInstanceOf(
      CommanderError,
    );
    expect(code).toBe(2);
    const input = tmp.file('via-program.iocptrace', traceFileBytes(cleanTrace()));
    await program.parseAsync(['node', 'iocpscope', 'export', input, '-o', tmp.file('via.json')]);
    expect(code).toBe(0);
  });
});

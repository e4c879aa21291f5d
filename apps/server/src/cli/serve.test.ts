import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RECORD_WORDS, readTraceFile } from '@iocpscope/protocol';
import { buildProgram } from './main.ts';
import { parseServeFlags, runServeCli, ServeOptionError } from './serve.ts';

function sink(): { write(t: string): void; text: string } {
  return {
    text: '',
    write(t: string) {
      this.text += t;
    },
  };
}

describe('iocpscope serve', () => {
  it('turns flags into server options with the documented defaults', () => {
    const c = parseServeFlags({});
    expect(c.dashboard).toEqual({ host: '127.0.0.1', port: 7700 });
    expect(c.server).toMatchObject({ host: '127.0.0.1', echoPort: 7701, trace: true, faults: [] });
    expect(c.durationMs).toBeNull();
    const d = parseServeFlags({
      workers: '4',
      concurrency: '1',
      fault: ['recv-not-reposted', 'lock-across-send'],
      duration: '1.5s',
      trace: true,
      record: 'x.iocptrace',
    });
    expect(d.server).toMatchObject({ workers: 4, concurrency: 1, recordFile: 'x.iocptrace' });
    expect(d.server.faults).toEqual(['recv-not-reposted', 'lock-across-send']);
    expect(d.durationMs).toBe(1500);
  });

  it('rejects bad flags with a coded error naming the flag', () => {
    const bad: Array<[Parameters<typeof parseServeFlags>[0], string]> = [
      [{ workers: '0' }, 'workers'],
      [{ workers: 'two' }, 'workers'],
      [{ port: '70000' }, 'port'],
      [{ echoPort: '7700' }, 'echo-port'],
      [{ fault: ['nope'] }, 'fault'],
      [{ record: 'a.iocptrace', trace: false }, 'record'],
      [{ duration: 'soon' }, 'duration'],
      [{ backend: 'wine' }, 'backend'],
    ];
    for (const [flags, option] of bad) {
      let err: unknown;
      try {
        parseServeFlags(flags);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ServeOptionError);
      expect(err).toMatchObject({ code: 'ERR_SERVE_OPTIONS', option });
    }
  });

  it('lists every fault switch with one line in --help', () => {
    const serve = buildProgram().commands.find((c) => c.name() === 'serve')!;
    let help = '';
    serve.configureOutput({ writeOut: (s) => (help += s) });
    serve.outputHelp();
    for (const f of [
      'iocount-double-decrement',
      'release-with-io-pending',
      'recv-not-reposted',
      'two-sends-in-flight',
      'no-decrement-on-failure',
      'too-few-exit-packets',
      'no-accept-hold',
      'zero-byte-recv-reposted',
      'lock-across-send',
      'release-without-atomic-flag',
    ]) {
      expect(help).toMatch(new RegExp(`^  ${f} +\\S`, 'm'));
    }
  });

  it('exits 2 on bad options without starting anything', async () => {
    const out = sink();
    const err = sink();
    expect(await runServeCli({ workers: '-1' }, { stdout: out, stderr: err })).toBe(2);
    expect(err.text).toContain('--workers');
  });

  it('runs for --duration, records a readable .iocptrace file and shuts down cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iocpscope-serve-'));
    try {
      const file = join(dir, 'run.iocptrace');
      const out = sink();
      const err = sink();
      const code = await runServeCli(
        { echoPort: '0', duration: '300ms', record: file, workers: '1' },
        { stdout: out, stderr: err },
      );
      expect(err.text).toBe('');
      expect(code).toBe(0);
      expect(out.text).toMatch(/workers: 1 joined after their exit packet \(1 posted\)/);
      const r = readTraceFile(new Uint8Array(readFileSync(file)));
      expect(r.error).toBeUndefined();
      expect(r.header?.portConfig.workers).toBe(1);
      expect(r.records.length / RECORD_WORDS).toBeGreaterThan(5);
      expect([...r.strings.entries()].map((e) => e[1])).toContain('worker-0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('with --demo drives load at the echo port for the whole run and stops it before shutting down', async () => {
    const out = sink();
    const err = sink();
    const code = await runServeCli(
      { echoPort: '0', duration: '2500ms', demo: true, workers: '1' },
      { stdout: out, stderr: err },
    );
    expect(err.text).toBe('');
    expect(code).toBe(0);
    expect(out.text).toMatch(/^demo load: 32 connections/m);
    const m = /^sessions: (\d+) accepted, (\d+) released, 0 never released$/m.exec(out.text);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(m![2]).toBe(m![1]);
  }, 60_000);
});

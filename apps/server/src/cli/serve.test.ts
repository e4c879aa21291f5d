import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  EventKind,
  RECORD_WORDS,
  ThreadRole,
  aAt,
  kindAt,
  readTraceFile,
} from '@iocpscope/protocol';
import { buildProgram } from './main.ts';
import { dashboardAttach } from '../transport/attach.ts';
import { parseServeFlags, runServeCli, ServeOptionError, withEnvToken } from './serve.ts';

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
    expect(c.dashboard).toEqual({
      host: '127.0.0.1',
      port: 7700,
      spool: { limitBytes: 2 * 2 ** 30 },
    });
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
    expect(d.server).toMatchObject({ workers: 4, concurrency: 1 });
    expect(d.recordFile).toBe('x.iocptrace');
    expect(d.server.faults).toEqual(['recv-not-reposted', 'lock-across-send']);
    expect(d.durationMs).toBe(1500);
  });

  it('takes a recording size limit with its unit', () => {
    expect(parseServeFlags({ recordLimit: '2G' }).dashboard.recordLimit).toBe(2 * 2 ** 30);
    expect(parseServeFlags({ recordLimit: '512MiB' }).dashboard.recordLimit).toBe(512 * 2 ** 20);
    expect(parseServeFlags({}).dashboard.recordLimit).toBeUndefined();
    for (const bad of ['5', 'lots', '10K']) {
      expect(() => parseServeFlags({ recordLimit: bad }), bad).toThrow(/record-limit/);
    }
  });

  it('keeps a 2G live spool by default; takes its budget, part size and directory; 0 turns it off', () => {
    expect(parseServeFlags({}).dashboard.spool).toEqual({ limitBytes: 2 * 2 ** 30 });
    expect(
      parseServeFlags({ spoolBytes: '4M', spoolPartBytes: '1M', spoolDir: 'sp' }).dashboard.spool,
    ).toEqual({ limitBytes: 4 * 2 ** 20, partBytes: 2 ** 20, dir: resolve('sp') });
    expect(parseServeFlags({ spoolBytes: '0' }).dashboard.spool).toEqual({ limitBytes: 0 });
    for (const [flags, option] of [
      [{ spoolBytes: 'lots' }, 'spool-bytes'],
      [{ spoolBytes: '10K' }, 'spool-bytes'],
      [{ spoolBytes: '4M', spoolPartBytes: '8M' }, 'spool-part-bytes'],
      [{ spoolDir: ' ' }, 'spool-dir'],
    ] as const) {
      expect(() => parseServeFlags(flags), option).toThrow(new RegExp(`--${option}`));
    }
  });

  it('sets the idle and partial-packet timeouts (0 turns one off), and the chat server with its options', () => {
    expect(parseServeFlags({ idleTimeout: '30s', partialTimeout: '0' }).server).toMatchObject({
      idleTimeoutMs: 30_000,
      partialTimeoutMs: 0,
    });
    const chat = parseServeFlags({
      app: 'chat',
      rooms: '4',
      tick: '50ms',
      sendBuffers: '64',
      fault: ['job-queue-two-flushers', 'recv-not-reposted'],
    });
    expect(chat.server).toMatchObject({
      app: 'chat',
      chat: { rooms: 4, tickMs: 50, sendBuffers: 64 },
      faults: ['job-queue-two-flushers', 'recv-not-reposted'],
    });
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
      [{ duration: '60' }, 'duration'],
      [{ backend: 'wine' }, 'backend'],
      [{ host: '0.0.0.0' }, 'token'],
      [{ host: '192.0.2.1', token: 'short' }, 'token'],
      [{ token: 'sixteen chars but spaces' }, 'token'],
      [{ recordingsDir: ' ' }, 'recordings-dir'],
      [{ idleTimeout: 'soon' }, 'idle-timeout'],
      [{ partialTimeout: '-1s' }, 'partial-timeout'],
      [{ app: 'irc' }, 'app'],
      [{ fault: ['job-queue-two-flushers'] }, 'fault'],
      [{ app: 'chat', fault: ['two-sends-in-flight'] }, 'fault'],
      [{ rooms: '4' }, 'rooms'],
      [{ app: 'chat', rooms: '0' }, 'rooms'],
      [{ app: 'chat', sendBuffers: '8' }, 'send-buffers'],
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

  it('takes the token from --token, else from IOCPSCOPE_TOKEN, and needs one off loopback', () => {
    const secret = 'a-long-enough-secret';
    expect(withEnvToken({ host: '0.0.0.0' }, { IOCPSCOPE_TOKEN: secret }).token).toBe(secret);
    expect(withEnvToken({ token: 'from-the-flag-0000' }, { IOCPSCOPE_TOKEN: secret }).token).toBe(
      'from-the-flag-0000',
    );
    expect(withEnvToken({}, { IOCPSCOPE_TOKEN: '' }).token).toBeUndefined();
    const c = parseServeFlags(
      withEnvToken({ host: '0.0.0.0', port: '0' }, { IOCPSCOPE_TOKEN: secret }),
    );
    expect(c.dashboard).toMatchObject({ host: '0.0.0.0', port: 0, token: secret });
    // The echo port has no authentication: it stays on loopback unless asked for.
    expect(c.server.host).toBe('127.0.0.1');
    expect(
      parseServeFlags({ host: '0.0.0.0', token: secret, echoHost: '0.0.0.0' }).server.host,
    ).toBe('0.0.0.0');
    expect(parseServeFlags({ host: '::1', recordingsDir: 'recs' }).dashboard).toMatchObject({
      host: '::1',
      port: 7700,
      recordingsDir: 'recs',
    });
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
      // The lanes are named for people: kernel, accept, worker 1.
      expect([...r.strings.entries()].map((e) => e[1])).toEqual(
        expect.arrayContaining(['kernel', 'accept', 'worker 1']),
      );
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

  it('records --record through the dashboard: its status shows the recording, it needs the token, and the file holds the shutdown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iocpscope-serve-'));
    try {
      const file = join(dir, 'cli-run.iocptrace');
      const token = 'a-token-for-this-test';
      const out = sink();
      const err = sink();
      const stop = new AbortController();
      const serving = runServeCli(
        { echoPort: '0', port: '0', workers: '1', record: file, recordingsDir: dir, token },
        {
          stdout: out,
          stderr: err,
          signal: stop.signal,
          attachDashboard: dashboardAttach({ examplesDir: join(dir, 'none') }),
        },
      );
      let url = '';
      for (let i = 0; i < 600 && url === ''; i++) {
        url = /iocpscope dashboard: (\S+)/.exec(out.text)?.[1] ?? '';
        if (url === '') await new Promise((r) => setTimeout(r, 50));
      }
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(out.text).toContain(`recording to ${file}`);
      expect((await fetch(`${url}api/status`)).status).toBe(401);
      const res = await fetch(`${url}api/status`, { headers: { 'x-iocpscope-token': token } });
      expect(res.status).toBe(200);
      const status = (await res.json()) as { recording: { active: boolean; name?: string } };
      expect(status.recording).toMatchObject({ active: true, name: 'cli-run' });
      stop.abort();
      expect(await serving).toBe(0);
      expect(err.text).toBe('');
      expect(out.text).toMatch(/^recording: \d+ events, \d+ bytes in .*cli-run\.iocptrace$/m);

      const r = readTraceFile(new Uint8Array(readFileSync(file)));
      expect(r.error).toBeUndefined();
      const kinds: number[] = [];
      const workerStarts: number[] = [];
      for (let i = 0; i < r.records.length / RECORD_WORDS; i++) {
        kinds.push(kindAt(r.records, i));
        if (
          kindAt(r.records, i) === EventKind.ThreadStart &&
          aAt(r.records, i) === ThreadRole.Worker
        )
          workerStarts.push(i);
      }
      // The snapshot named the worker; the shutdown (exit packets, thread exits) is in the file.
      expect(workerStarts.length).toBeGreaterThan(0);
      const labels = [...r.strings.entries()].map((e) => e[1]);
      expect(labels).toContain('shutdown: post exit packets');
      expect(kinds.filter((k) => k === EventKind.ThreadExit).length).toBeGreaterThanOrEqual(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

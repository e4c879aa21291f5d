import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_EXAMPLES_DIR } from '../record/catalogue.ts';
import { OPEN_EXIT, runOpenCli, type OpenCliIo } from './open.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iocpscope-open-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function io(): OpenCliIo & { out: () => string; stop: () => void; launched: string[] } {
  let text = '';
  const ctl = new AbortController();
  const launched: string[] = [];
  return {
    stdout: { write: (t: string) => (text += t) },
    stderr: { write: (t: string) => (text += t) },
    signal: ctl.signal,
    launch: async (url) => {
      launched.push(url);
    },
    out: () => text,
    stop: () => ctl.abort(),
    launched,
  };
}

async function until(pred: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('iocpscope open', () => {
  it('serves the dashboard with the file listed, and prints a URL that opens it', async () => {
    const file = path.join(dir, 'my run.iocptrace');
    await writeFile(
      file,
      await import('node:fs/promises').then((f) =>
        f.readFile(path.join(DEFAULT_EXAMPLES_DIR, 'clean.iocptrace')),
      ),
    );
    const o = io();
    const done = runOpenCli(file, { browser: true }, o);
    await until(() => /iocpscope: http/.test(o.out()));
    const url = /iocpscope: (\S+)/.exec(o.out())![1]!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?recording=open\.my_run$/);
    expect(o.launched).toEqual([url]);
    const base = url.slice(0, url.indexOf('?'));
    const res = await fetch(`${base}api/recordings/open.my_run`);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    // Nothing else from that directory is served.
    const list = (await (await fetch(`${base}api/recordings`)).json()) as {
      recordings: Array<{ id: string }>;
    };
    expect(list.recordings.filter((r) => !r.id.startsWith('example.')).map((r) => r.id)).toEqual([
      'open.my_run',
    ]);
    o.stop();
    expect(await done).toBe(OPEN_EXIT.ok);
  });

  it('refuses a file that is not a recording, with a code and exit 2', async () => {
    const file = path.join(dir, 'notes.txt');
    await writeFile(file, 'hello there, not a trace');
    const o = io();
    expect(await runOpenCli(file, {}, o)).toBe(OPEN_EXIT.badInput);
    expect(o.out()).toMatch(/BAD_MAGIC: .*notes\.txt is not an \.iocptrace recording/);
    expect(await runOpenCli(path.join(dir, 'nope.iocptrace'), {}, o)).toBe(OPEN_EXIT.badInput);
    expect(o.out()).toMatch(/NOT_FOUND/);
    expect(await runOpenCli(dir, {}, o)).toBe(OPEN_EXIT.badInput);
    expect(o.out()).toMatch(/NOT_A_FILE/);
  });

  it('opens a damaged recording (its intact prefix is the app’s business)', async () => {
    const { readFile } = await import('node:fs/promises');
    const whole = await readFile(path.join(DEFAULT_EXAMPLES_DIR, 'clean.iocptrace'));
    const file = path.join(dir, 'cut.iocptrace');
    await writeFile(file, whole.subarray(0, Math.floor(whole.length / 2)));
    const o = io();
    const done = runOpenCli(file, {}, o);
    await until(() => /iocpscope: http/.test(o.out()));
    o.stop();
    expect(await done).toBe(OPEN_EXIT.ok);
  });

  it('opens an example by name and tells its story', async () => {
    const o = io();
    const done = runOpenCli(undefined, { example: 'two-sends-in-flight' }, o);
    await until(() => /iocpscope: http/.test(o.out()));
    expect(o.out()).toMatch(/two-sends-in-flight\.iocptrace: A second WSASend/);
    expect(o.out()).toMatch(/\?recording=example\.two-sends-in-flight/);
    o.stop();
    await done;
    const bad = io();
    expect(await runOpenCli(undefined, { example: 'no-such' }, bad)).toBe(OPEN_EXIT.badInput);
    expect(bad.out()).toMatch(/the examples are: .*clean/);
  });

  it('needs a token to serve beyond loopback', async () => {
    const o = io();
    const code = await runOpenCli(
      path.join(DEFAULT_EXAMPLES_DIR, 'clean.iocptrace'),
      { host: '0.0.0.0' },
      o,
    );
    expect(code).toBe(OPEN_EXIT.badInput);
    expect(o.out()).toMatch(/--token/);
  });
});

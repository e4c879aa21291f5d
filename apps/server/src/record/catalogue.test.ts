import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RecordingCatalogue, slugOf } from './catalogue.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'iocpscope-cat-'));
  await mkdir(path.join(root, 'recordings'));
  await mkdir(path.join(root, 'examples'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const cat = (isActive?: (f: string) => boolean): RecordingCatalogue =>
  new RecordingCatalogue({
    dir: path.join(root, 'recordings'),
    examplesDir: path.join(root, 'examples'),
    ...(isActive ? { isActive } : {}),
  });

describe('RecordingCatalogue', () => {
  it('lists recordings and examples by id, marking examples and the file being written', async () => {
    await writeFile(path.join(root, 'recordings', 'run one.iocptrace'), 'xx');
    await writeFile(path.join(root, 'recordings', 'notes.txt'), 'no');
    await writeFile(path.join(root, 'recordings', '.hidden.iocptrace'), 'no');
    await mkdir(path.join(root, 'recordings', 'dir.iocptrace'));
    await writeFile(path.join(root, 'examples', 'double-release.iocptrace'), 'xyz');
    const active = path.join(root, 'recordings', 'run one.iocptrace');
    const list = await cat((f) => f === active).list();
    expect(list.map((e) => [e.id, e.name, e.bytes, e.example, e.active])).toEqual([
      ['run_one', 'run one', 2, false, true],
      ['example.double-release', 'double-release', 3, true, false],
    ]);
  });

  it('opens a file only through an id from the listing', async () => {
    await writeFile(path.join(root, 'recordings', 'a.iocptrace'), 'a');
    await writeFile(path.join(root, 'secret.iocptrace'), 's');
    const c = cat();
    expect((await c.resolve('a')).file).toBe(path.join(root, 'recordings', 'a.iocptrace'));
    for (const id of [
      '../secret',
      '..%2Fsecret',
      '/etc/passwd',
      'a.iocptrace',
      '',
      'secret',
      'x'.repeat(300),
    ]) {
      await expect(c.resolve(id)).rejects.toMatchObject({ code: 'UNKNOWN_RECORDING' });
    }
  });

  it('gives clashing names distinct, stable ids', async () => {
    await writeFile(path.join(root, 'recordings', 'a b.iocptrace'), '1');
    await writeFile(path.join(root, 'recordings', 'a_b.iocptrace'), '2');
    const c = cat();
    const ids = (await c.list()).map((e) => [e.name, e.id]).sort();
    expect(ids).toEqual([
      ['a b', 'a_b'],
      ['a_b', 'a_b.2'],
    ]);
    expect(await c.idOf(path.join(root, 'recordings', 'a_b.iocptrace'))).toBe('a_b.2');
    expect(slugOf('..evil/x')).toBe('_evil_x');
  });

  it('lists nothing when the directories do not exist yet', async () => {
    const c = new RecordingCatalogue({
      dir: path.join(root, 'none'),
      examplesDir: path.join(root, 'none2'),
    });
    expect(await c.list()).toEqual([]);
  });

  it('never lists a symbolic link, even one pointing at a trace inside the directory', async () => {
    await writeFile(path.join(root, 'secret.iocptrace'), 'secret');
    await writeFile(path.join(root, 'recordings', 'real.iocptrace'), 'r');
    await symlink(
      path.join(root, 'secret.iocptrace'),
      path.join(root, 'recordings', 'out.iocptrace'),
    );
    await symlink(
      path.join(root, 'recordings', 'real.iocptrace'),
      path.join(root, 'recordings', 'in.iocptrace'),
    );
    await symlink('/etc/passwd', path.join(root, 'examples', 'passwd.iocptrace'));
    const c = cat();
    expect((await c.list()).map((e) => e.id)).toEqual(['real']);
    await expect(c.resolve('out')).rejects.toMatchObject({ code: 'UNKNOWN_RECORDING' });
    await expect(c.resolve('example.passwd')).rejects.toMatchObject({ code: 'UNKNOWN_RECORDING' });
  });

  it('serves nothing from a recordings directory that is itself a link elsewhere', async () => {
    await mkdir(path.join(root, 'elsewhere'));
    await writeFile(path.join(root, 'elsewhere', 'x.iocptrace'), 'x');
    await symlink(path.join(root, 'elsewhere'), path.join(root, 'linked'));
    // The directory the user named is a link: its files are its real directory's files,
    // and they are regular files there, so they are listed (the user chose that directory).
    const c = new RecordingCatalogue({
      dir: path.join(root, 'linked'),
      examplesDir: path.join(root, 'examples'),
    });
    expect((await c.list()).map((e) => e.id)).toEqual(['x']);
  });

  it('gives each example its story from stories.json, and ignores a malformed one', async () => {
    await writeFile(path.join(root, 'examples', 'double-release.iocptrace'), 'x');
    await writeFile(path.join(root, 'examples', 'quiet.iocptrace'), 'x');
    await writeFile(
      path.join(root, 'examples', 'stories.json'),
      JSON.stringify({ 'double-release': 'two threads release one session', quiet: 7 }),
    );
    const list = await cat().list();
    expect(list.map((e) => [e.id, e.story])).toEqual([
      ['example.double-release', 'two threads release one session'],
      ['example.quiet', undefined],
    ]);
    await writeFile(path.join(root, 'examples', 'stories.json'), '{not json');
    expect((await cat().list()).every((e) => e.story === undefined)).toBe(true);
  });

  it('lists files opened by name first, as open.<name>, wherever they are', async () => {
    const f = path.join(root, 'my run.iocptrace');
    await writeFile(f, 'abc');
    const c = new RecordingCatalogue({
      dir: path.join(root, 'recordings'),
      examplesDir: path.join(root, 'examples'),
      files: [f, path.join(root, 'missing.iocptrace')],
    });
    expect((await c.list()).map((e) => e.id)).toEqual(['open.my_run']);
    expect((await c.resolve('open.my_run')).file).toBe(f);
  });
});

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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
});

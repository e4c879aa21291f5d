// The recordings catalogue: what GET /api/recordings and the control
// channel's list-recordings show, and the only way a client names a file.
//
// Files are found by listing two directories (the recordings directory and
// the repository's examples/), never by joining a client string to a path:
// a client sends an id, the id is looked up in a fresh listing, and only a
// path from that listing is opened. Ids are the file name without
// ".iocptrace", reduced to [A-Za-z0-9_.-] ("example." in front for examples);
// clashes get ".2", ".3", ... in name order, so ids are stable while the
// directory does not change.
//
// Only regular files are listed: a symbolic link (or a file whose real path
// leaves its directory) is never served. Files named on the command line
// (`iocpscope open FILE`) are listed first with ids "open.<name>". Examples
// carry the one-line story from examples/stories.json, the one place the CLI
// and the app both read them from.

import { lstat, readFile, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { FILE_EXTENSION, type RecordingInfo } from '@iocpscope/protocol';
import { assetPath } from '../assets.ts';
import { StreamError } from '../hub/errors.ts';

export interface RecordingEntry extends RecordingInfo {
  /** A committed example trace (examples/ at the repository root), not a user recording. */
  example: boolean;
  /** Being written right now (its last chunk may be incomplete). */
  active: boolean;
}

/** examples/stories.json: example name -> one line saying what its trace shows. */
export const STORIES_FILE = 'stories.json';

export interface CatalogueOptions {
  /** The recordings directory (created by the recorder, may not exist yet). */
  dir: string;
  /** Example traces. Default: examples/ at the repository root. */
  examplesDir?: string;
  /** Whether a file is being recorded now. */
  isActive?: (file: string) => boolean;
  /** Files opened by name (`iocpscope open FILE`), listed first as "open.<name>". */
  files?: string[];
  /** Most files listed per directory. Default 10000. */
  maxEntries?: number;
}

/** examples/ at the repository root, or in the installed package. */
export const DEFAULT_EXAMPLES_DIR = assetPath('examples', 'examples');

const NAME_OK = /^[^.\0/\\][^\0/\\]{0,199}$/;

export function slugOf(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[.]+/, '_');
  return s.slice(0, 100) || '_';
}

interface Listed {
  entry: RecordingEntry;
  file: string;
}

export class RecordingCatalogue {
  readonly dir: string;
  readonly examplesDir: string;
  readonly #isActive: (file: string) => boolean;
  readonly #maxEntries: number;
  readonly #files: string[];

  constructor(options: CatalogueOptions) {
    this.dir = path.resolve(options.dir);
    this.examplesDir = path.resolve(options.examplesDir ?? DEFAULT_EXAMPLES_DIR);
    this.#isActive = options.isActive ?? (() => false);
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#files = (options.files ?? []).map((f) => path.resolve(f));
  }

  /** Recordings first (newest first), then examples (by name). */
  async list(): Promise<RecordingEntry[]> {
    return (await this.#listAll()).map((l) => l.entry);
  }

  /** The file behind an id from list(); UNKNOWN_RECORDING otherwise. */
  async resolve(id: string): Promise<{ file: string; entry: RecordingEntry }> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 128) {
      throw new StreamError('UNKNOWN_RECORDING', 'no recording has this id');
    }
    const hit = (await this.#listAll()).find((l) => l.entry.id === id);
    if (hit === undefined) {
      throw new StreamError('UNKNOWN_RECORDING', `no recording has id ${JSON.stringify(id)}`);
    }
    return { file: hit.file, entry: hit.entry };
  }

  /** The id a file of the recordings directory has now, if it is listed. */
  async idOf(file: string): Promise<string | undefined> {
    const abs = path.resolve(file);
    return (await this.#listAll()).find((l) => l.file === abs)?.entry.id;
  }

  async #listAll(): Promise<Listed[]> {
    const opened: Listed[] = [];
    for (const file of this.#files) {
      const l = await this.#entry(file, false);
      if (l !== undefined) opened.push(l);
    }
    const recs = await this.#listDir(this.dir, false);
    recs.sort((a, b) => b.entry.createdAt - a.entry.createdAt || cmp(a.entry.name, b.entry.name));
    const examples =
      this.examplesDir === this.dir ? [] : await this.#listDir(this.examplesDir, true);
    examples.sort((a, b) => cmp(a.entry.name, b.entry.name));
    if (examples.length > 0) {
      const stories = await readStories(this.examplesDir);
      for (const l of examples) {
        const story = stories.get(l.entry.name);
        if (story !== undefined) l.entry.story = story;
      }
    }
    // Ids: deterministic in name order within each kind, whatever the display order.
    const used = new Set<string>();
    const prefixes: Array<[Listed[], string]> = [
      [opened, 'open.'],
      [recs, ''],
      [examples, 'example.'],
    ];
    for (const [group, prefix] of prefixes) {
      const byName = [...group].sort((a, b) => cmp(a.entry.name, b.entry.name));
      for (const l of byName) {
        const base = prefix + slugOf(l.entry.name);
        let id = base;
        for (let n = 2; used.has(id); n++) id = `${base}.${n}`;
        used.add(id);
        l.entry.id = id;
      }
    }
    return [...opened, ...recs, ...examples];
  }

  /** A regular file's entry (never a link); undefined when it is not one. */
  async #entry(file: string, example: boolean): Promise<Listed | undefined> {
    const st = await lstat(file).catch(() => undefined);
    if (st === undefined || !st.isFile()) return undefined;
    const base = path.basename(file);
    const name = base.toLowerCase().endsWith(FILE_EXTENSION)
      ? base.slice(0, -FILE_EXTENSION.length)
      : base;
    return {
      file,
      entry: {
        id: '',
        name: name.slice(0, 256),
        bytes: st.size,
        createdAt: Math.round(st.birthtimeMs > 0 ? st.birthtimeMs : st.mtimeMs),
        example,
        active: this.#isActive(file),
      },
    };
  }

  async #listDir(dir: string, example: boolean): Promise<Listed[]> {
    let names: string[];
    let real: string;
    try {
      names = await readdir(dir);
      real = await realpath(dir);
    } catch {
      return []; // no directory yet: no recordings
    }
    const out: Listed[] = [];
    for (const fileName of names) {
      if (out.length >= this.#maxEntries) break;
      if (!fileName.toLowerCase().endsWith(FILE_EXTENSION) || !NAME_OK.test(fileName)) continue;
      const file = path.join(dir, fileName);
      const l = await this.#entry(file, example);
      if (l === undefined) continue;
      // lstat refused links; the real path must still be inside the directory.
      const fileReal = await realpath(file).catch(() => '');
      if (path.dirname(fileReal) !== real) continue;
      out.push(l);
    }
    return out;
  }
}

/** examples/stories.json, or nothing when it is missing or malformed. */
async function readStories(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path.join(dir, STORIES_FILE), 'utf8'));
  } catch {
    return out;
  }
  if (typeof json !== 'object' || json === null) return out;
  for (const [k, v] of Object.entries(json)) {
    if (typeof v === 'string' && v.length > 0) out.set(k, v.slice(0, 300));
  }
  return out;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

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

import { readdir, stat } from 'node:fs/promises';
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

export interface CatalogueOptions {
  /** The recordings directory (created by the recorder, may not exist yet). */
  dir: string;
  /** Example traces. Default: examples/ at the repository root. */
  examplesDir?: string;
  /** Whether a file is being recorded now. */
  isActive?: (file: string) => boolean;
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

  constructor(options: CatalogueOptions) {
    this.dir = path.resolve(options.dir);
    this.examplesDir = path.resolve(options.examplesDir ?? DEFAULT_EXAMPLES_DIR);
    this.#isActive = options.isActive ?? (() => false);
    this.#maxEntries = options.maxEntries ?? 10_000;
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
    const recs = await this.#listDir(this.dir, false);
    recs.sort((a, b) => b.entry.createdAt - a.entry.createdAt || cmp(a.entry.name, b.entry.name));
    const examples =
      this.examplesDir === this.dir ? [] : await this.#listDir(this.examplesDir, true);
    examples.sort((a, b) => cmp(a.entry.name, b.entry.name));
    // Ids: deterministic in name order within each kind, whatever the display order.
    const used = new Set<string>();
    for (const group of [recs, examples]) {
      const byName = [...group].sort((a, b) => cmp(a.entry.name, b.entry.name));
      for (const l of byName) {
        const base = (l.entry.example ? 'example.' : '') + slugOf(l.entry.name);
        let id = base;
        for (let n = 2; used.has(id); n++) id = `${base}.${n}`;
        used.add(id);
        l.entry.id = id;
      }
    }
    return [...recs, ...examples];
  }

  async #listDir(dir: string, example: boolean): Promise<Listed[]> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return []; // no directory yet: no recordings
    }
    const out: Listed[] = [];
    for (const fileName of names) {
      if (out.length >= this.#maxEntries) break;
      if (!fileName.toLowerCase().endsWith(FILE_EXTENSION) || !NAME_OK.test(fileName)) continue;
      const file = path.join(dir, fileName);
      const st = await stat(file).catch(() => undefined);
      if (st === undefined || !st.isFile()) continue;
      const name = fileName.slice(0, -FILE_EXTENSION.length);
      out.push({
        file,
        entry: {
          id: '',
          name,
          bytes: st.size,
          createdAt: Math.round(st.birthtimeMs > 0 ? st.birthtimeMs : st.mtimeMs),
          example,
          active: this.#isActive(file),
        },
      });
    }
    return out;
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

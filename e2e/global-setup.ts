// Before the run: empty e2e/.recordings, where the server under test saves
// the recordings the specs start from the dashboard (playwright.config.ts
// passes --recordings-dir), so the list does not grow from run to run. The
// server lists the directory afresh on every request, so this is safe whether
// or not it has started yet.

import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export default function globalSetup(): void {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '.recordings');
  rmSync(dir, { recursive: true, force: true });
}

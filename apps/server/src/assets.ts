// Where the server's files are at run time: the repository when it runs from
// source (tsx), or the installed `iocpscope` package when it runs from the
// bundles `pnpm pack:cli` builds. The pack build defines
// __IOCPSCOPE_PACKAGED__ and puts every bundle directly in the package's dist/,
// so one level up is the package root; from source, this file is
// apps/server/src/assets.ts, three levels below the repository root.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

declare const __IOCPSCOPE_PACKAGED__: boolean | undefined;

/** True inside the installed package's bundles. */
export const PACKAGED = typeof __IOCPSCOPE_PACKAGED__ !== 'undefined' && __IOCPSCOPE_PACKAGED__;

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, PACKAGED ? '..' : '../../..');

/** A file or directory: `repoPath` from the repository root, `packagePath` in the package. */
export function assetPath(repoPath: string, packagePath: string): string {
  return path.join(ROOT, PACKAGED ? packagePath : repoPath);
}

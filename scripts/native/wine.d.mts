// Types of wine.mjs, for the TypeScript that imports it (the tracer's tests and
// benchmark, the e2e live journey of a traced C++ server).

export declare const WINE: string;
export declare const WINESERVER: string;
export declare const PREFIX: string;

export interface WineExit {
  status: number | null;
  timedOut: boolean;
  ms: number;
  error?: string;
}

export interface WineOptions {
  env?: Record<string, string>;
  logFile: string;
  /** The working directory (Linux path; the program sees its Z: path). */
  cwd?: string;
}

export declare function wineEnv(extra?: Record<string, string>): NodeJS.ProcessEnv;
export declare function winPath(p: string): string;
export declare function ensurePrefix(): boolean;
export declare function startWineserver(): void;
export declare function stopWineserver(): void;
export declare function runNodeExe(
  nodeExe: string,
  args: string[],
  opts: WineOptions & { timeoutMs: number },
): Promise<WineExit>;
export declare function runWine(
  program: string,
  args: string[],
  opts: WineOptions & { timeoutMs: number },
): Promise<WineExit>;
export declare function spawnWine(
  program: string,
  args: string[],
  opts: WineOptions,
): { pid: number | undefined; kill(signal?: NodeJS.Signals): void; exited: Promise<WineExit> };

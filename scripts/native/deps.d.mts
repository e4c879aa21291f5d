// Types of deps.mjs, for the TypeScript that imports it (the packed CLI's stage).

export declare const ROOT: string;
export declare const BUILD_DIR: string;
export declare const DEPS_DIR: string;
export declare const PACKAGES: {
  nodeWin: { name: string; version: string };
  headers: { name: string; version: string };
};
export declare function ensureDeps(): { nodeExe: string; headersDir: string };

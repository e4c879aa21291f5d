// Display formatting for the panels. Times, durations, session ids, counts and
// sizes come from lib/format.ts (one formatter each for the whole dashboard);
// this module adds the Win32 error and call-site forms.

import { winErrorName } from '../trace/winErrors.ts';

export {
  formatBytes,
  formatCount,
  formatDurationNs,
  formatSessionId,
  formatTimeNs,
} from '../lib/format.ts';

/** "995 ERROR_OPERATION_ABORTED", or just the number when unknown. */
export function formatWinError(code: number): string {
  const name = winErrorName(code);
  return name ? `${code} ${name}` : String(code);
}

/** A call site of the traced server's code, as "OnRecv (server.cpp:212)". */
export function formatCallSite(site: { file: string; line: number; func: string }): string {
  const base = site.file.replace(/^.*[\\/]/, '');
  // line 0: a site with no source line (the hook DLL names its caller as module+offset)
  const where = base ? (site.line ? `${base}:${site.line}` : base) : `line ${site.line}`;
  return site.func ? `${site.func} (${where})` : where;
}

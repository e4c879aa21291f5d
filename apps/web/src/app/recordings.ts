// Splitting the server's recordings list into the example recordings it ships
// (ids starting with "example", see issue 7 §5) and the user's own recordings,
// newest first.

import type { RecordingInfo } from '@iocpscope/protocol';

export function isExample(r: RecordingInfo): boolean {
  return /^examples?[-_/.]/i.test(r.id) || /^examples?[-_/.]/i.test(r.name);
}

export function splitRecordings(list: readonly RecordingInfo[] | null): {
  examples: RecordingInfo[];
  recordings: RecordingInfo[];
} {
  const examples: RecordingInfo[] = [];
  const recordings: RecordingInfo[] = [];
  for (const r of list ?? []) (isExample(r) ? examples : recordings).push(r);
  examples.sort((a, b) => a.name.localeCompare(b.name));
  recordings.sort((a, b) => b.createdAt - a.createdAt);
  return { examples, recordings };
}

/** "clean-run" from "examples/clean-run.iocptrace". */
export function displayName(r: RecordingInfo): string {
  return r.name.replace(/^examples?[-_/.]/i, '').replace(/\.iocptrace$/i, '');
}

export function formatWhen(ms: number): string {
  if (!ms) return '';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

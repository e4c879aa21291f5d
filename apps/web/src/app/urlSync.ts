// The page URL follows the view (issue 19 §5, "the focus is a query
// parameter"): while a server recording or the live stream is open, the
// address bar holds its link (state/deepLink.ts), replaced (not pushed: no
// history entry per step) once the view has been still for SYNC_MS, and at
// least every MAX_WAIT_MS while it keeps moving; a local file drops the
// recording's parameters, so a reload does not open something else.
//
// A replaceState costs the page's main thread 4-8 ms in Chromium (the
// browser process is told of every URL): written every 250 ms while seeking,
// stepping or playing, it fell on every fourth seek (bench:big).

import type { AppStore } from '../state/store.ts';

export const SYNC_MS = 250;
export const MAX_WAIT_MS = 2000;

export function syncUrl(store: AppStore, win: Window = window): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  /** When the first change not yet written came (ms), or null. */
  let since: number | null = null;
  const write = (): void => {
    timer = null;
    since = null;
    const s = store.getState();
    const url = s.actions.linkUrl();
    let search: string | null = null;
    if (url !== null) search = new URL(url).search;
    else if (s.source.kind === 'file') {
      const token = new URLSearchParams(win.location.search).get('token');
      search = `?live=0${token !== null ? `&token=${encodeURIComponent(token)}` : ''}`;
    }
    if (search !== null && search !== win.location.search) {
      win.history.replaceState(win.history.state, '', `${win.location.pathname}${search}`);
    }
  };
  const unsubscribe = store.subscribe((s, prev) => {
    if (
      s.source === prev.source &&
      s.cursor === prev.cursor &&
      s.viewStartNs === prev.viewStartNs &&
      s.viewEndNs === prev.viewEndNs &&
      s.selectedSession === prev.selectedSession
    ) {
      return;
    }
    const now = Date.now();
    since ??= now;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(write, Math.max(0, Math.min(SYNC_MS, since + MAX_WAIT_MS - now)));
  });
  return () => {
    unsubscribe();
    if (timer !== null) clearTimeout(timer);
  };
}

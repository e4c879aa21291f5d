// The page URL follows the view (issue 19 §5, "the focus is a query
// parameter"): while a server recording or the live stream is open, the
// address bar holds its link (state/deepLink.ts), replaced (not pushed: no
// history entry per step) at most every SYNC_MS; a local file drops the
// recording's parameters, so a reload does not open something else.

import type { AppStore } from '../state/store.ts';

const SYNC_MS = 250;

export function syncUrl(store: AppStore, win: Window = window): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const write = (): void => {
    timer = null;
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
    if (timer === null) timer = setTimeout(write, SYNC_MS);
  });
  return () => {
    unsubscribe();
    if (timer !== null) clearTimeout(timer);
  };
}

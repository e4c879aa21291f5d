// The search slice (issue 19 §4): the query typed in the search box, how it
// was read (or why not), and its matches in the loaded trace, kept current as
// a live trace grows (SearchIndex scans only what arrived). Enter / Shift+Enter
// move the cursor to the next / previous match, wrapping around.

import { parseSearch, SearchIndex } from '../../trace/index.ts';
import { nextAfter, prevBefore } from '../stepping.ts';
import type { Slice, SliceContext } from './context.ts';

export interface SearchState {
  searchText: string;
  /** How the query was read ("io 7 · op recv"), or '' when empty or unreadable. */
  searchDescription: string;
  /** Why the query could not be read, or null. */
  searchError: string | null;
  /** Matching event indices, ascending, or null without a query. */
  searchMatches: Uint32Array | null;
}

export interface SearchActions {
  setSearch(text: string): void;
  /** Move the cursor to the next (1) or previous (-1) match, wrapping around. */
  searchStep(dir: 1 | -1): void;
}

export interface SearchInternal {
  /** Scan what the trace gained since the last update (live publishes call it). */
  updateSearch(): void;
  /** Forget the query (another trace was opened). */
  resetSearch(): void;
}

export const noSearch = (): SearchState => ({
  searchText: '',
  searchDescription: '',
  searchError: null,
  searchMatches: null,
});

export function createSearchSlice(
  ctx: SliceContext,
): Slice<SearchState, SearchActions, SearchInternal> {
  const { set, get } = ctx;
  let index: SearchIndex | null = null;

  const publish = (): void => {
    const trace = get().trace;
    if (!index || !trace) return;
    index.update(trace);
    set({ searchMatches: index.matches() });
  };

  const actions: SearchActions = {
    setSearch: (text) => {
      const trace = get().trace;
      if (text.trim() === '') {
        index = null;
        set({ ...noSearch(), searchText: text });
        return;
      }
      const p = parseSearch(text, trace);
      if (!p.ok) {
        index = null;
        set({ searchText: text, searchDescription: '', searchError: p.error, searchMatches: null });
        return;
      }
      index = new SearchIndex(p.query);
      set({ searchText: text, searchDescription: p.query.description, searchError: null });
      if (trace) publish();
      else set({ searchMatches: new Uint32Array(0) });
    },
    searchStep: (dir) => {
      publish();
      const s = get();
      const m = s.searchMatches;
      if (!m || m.length === 0 || !s.trace) return;
      const l = { list: m, length: m.length };
      let to =
        dir > 0 ? nextAfter(l, s.cursor) : prevBefore(l, s.cursor < 0 ? s.trace.count : s.cursor);
      if (to < 0) to = dir > 0 ? m[0]! : m[m.length - 1]!;
      s.actions.setCursor(to);
    },
  };

  return {
    state: noSearch(),
    actions,
    internal: {
      updateSearch: () => {
        if (index) publish();
      },
      resetSearch: () => {
        index = null;
        set(noSearch());
      },
    },
  };
}

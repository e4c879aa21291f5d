// The search box (issue 19 §4, `/` focuses it): events by io id, session
// (hex or decimal), op, thread, error code or name, kind; trace/search.ts has
// the query language. Enter goes to the next match, Shift+Enter to the
// previous one, Esc leaves the box. The count says which match the cursor is
// on; the tooltip says how the query was read, or why it could not be.

import { useEffect, useState } from 'react';
import { useActions, useAppStore } from '../state/hooks.tsx';
import {
  selectCursor,
  selectSearchDescription,
  selectSearchError,
  selectSearchMatches,
  selectSearchText,
} from '../state/selectors.ts';
import { lowerBound } from '../state/stepping.ts';
import { formatCount } from './format.ts';
import { Icon } from './icons.tsx';

const HELP =
  'Search events: io:7 (or just 7), 0x10001 or s:65537, recv, worker 1, 995 or ERROR_NETNAME_DELETED, gqcs-return. Terms combine.';

export function SearchBox() {
  const text = useAppStore(selectSearchText);
  const description = useAppStore(selectSearchDescription);
  const error = useAppStore(selectSearchError);
  const matches = useAppStore(selectSearchMatches);
  const cursor = useAppStore(selectCursor);
  const { setSearch, searchStep } = useActions();
  const [draft, setDraft] = useState(text);
  // The store's text changes under us when another trace opens (the search is cleared).
  useEffect(() => setDraft(text), [text]);
  // Typing searches after a short pause; Enter searches at once.
  useEffect(() => {
    if (draft === text) return;
    const t = setTimeout(() => setSearch(draft), 200);
    return () => clearTimeout(t);
  }, [draft, text, setSearch]);

  const n = matches?.length ?? 0;
  let count = '';
  if (error) count = '?';
  else if (matches) {
    const k = lowerBound({ list: matches, length: n }, cursor);
    count =
      k < n && matches[k] === cursor ? `${formatCount(k + 1)}/${formatCount(n)}` : formatCount(n);
  }

  return (
    <div className={`search${error ? ' bad' : ''}`} title={error ?? (description || HELP)}>
      <input
        className="input"
        type="search"
        placeholder="Search  /"
        value={draft}
        spellCheck={false}
        aria-label="Search events"
        data-testid="search-input"
        onChange={(e) => setDraft(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter') {
            e.preventDefault();
            if (draft !== text) setSearch(draft);
            searchStep(e.shiftKey ? -1 : 1);
          } else if (e.key === 'Escape') {
            e.preventDefault();
            (e.target as HTMLInputElement).blur();
          }
        }}
      />
      <span
        className="search-count mono"
        data-testid="search-count"
        data-count={error ? undefined : n}
        aria-live="polite"
      >
        {count}
      </span>
      <button
        className="icon-btn"
        onClick={() => searchStep(-1)}
        disabled={n === 0}
        title="Previous match (Shift+Enter)"
        aria-label="Previous match"
        data-testid="search-prev"
      >
        <Icon name="prev" />
      </button>
      <button
        className="icon-btn"
        onClick={() => searchStep(1)}
        disabled={n === 0}
        title="Next match (Enter)"
        aria-label="Next match"
        data-testid="search-next"
      >
        <Icon name="next" />
      </button>
    </div>
  );
}

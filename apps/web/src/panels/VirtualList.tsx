// A fixed-row-height virtual list: only the rows in view (plus overscan) are in
// the DOM, so 10,000 sessions cost the same as 30. The scroll container keeps
// the full content height through a spacer; rows are absolutely positioned by
// one transform on their wrapper. Windowing math lives in virtualList.ts.

import { useCallback, useEffect, useLayoutEffect, useRef, useState, type ReactNode } from 'react';
import { rowWindow, scrollToRow } from './virtualList.ts';

export interface VirtualListProps {
  count: number;
  rowPx: number;
  renderRow(index: number): ReactNode;
  /** Row to keep in view (e.g. the selected one); scrolls minimally when it changes. */
  revealIndex?: number;
  overscan?: number;
  className?: string;
  'data-testid'?: string;
  onKeyDown?: (e: React.KeyboardEvent<HTMLDivElement>) => void;
  ariaLabel?: string;
}

export function VirtualList(props: VirtualListProps) {
  const { count, rowPx, renderRow, revealIndex, overscan = 6 } = props;
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewportPx, setViewportPx] = useState(0);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setViewportPx(el.clientHeight);
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => setViewportPx(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    const el = ref.current;
    if (!el || revealIndex === undefined || revealIndex < 0 || revealIndex >= count) return;
    const next = scrollToRow(revealIndex, rowPx, el.scrollTop, el.clientHeight);
    if (next !== el.scrollTop) {
      el.scrollTop = next;
      setScrollTop(next);
    }
  }, [revealIndex, rowPx, count]);

  const onScroll = useCallback(() => {
    const el = ref.current;
    if (el) setScrollTop(el.scrollTop);
  }, []);

  const w = rowWindow(count, rowPx, scrollTop, viewportPx, overscan);
  const rows: ReactNode[] = [];
  for (let i = w.first; i < w.end; i++) rows.push(renderRow(i));

  return (
    <div
      ref={ref}
      className={`vlist ${props.className ?? ''}`}
      onScroll={onScroll}
      data-testid={props['data-testid']}
      tabIndex={0}
      role="listbox"
      aria-label={props.ariaLabel}
      onKeyDown={props.onKeyDown}
    >
      <div className="vlist-spacer" style={{ height: w.totalPx }}>
        <div className="vlist-rows" style={{ transform: `translateY(${w.offsetPx}px)` }}>
          {rows}
        </div>
      </div>
    </div>
  );
}

// A button that opens a popover; closes on outside click and on Escape.

import { useEffect, useRef, useState, type ReactNode } from 'react';

export interface MenuButtonProps {
  label: ReactNode;
  title?: string;
  className?: string;
  align?: 'left' | 'right';
  disabled?: boolean;
  'data-testid'?: string;
  onOpen?: () => void;
  children: (close: () => void) => ReactNode;
}

export function MenuButton(props: MenuButtonProps) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        setOpen(false);
      }
    };
    document.addEventListener('mousedown', onDown);
    document.addEventListener('keydown', onKey, true);
    return () => {
      document.removeEventListener('mousedown', onDown);
      document.removeEventListener('keydown', onKey, true);
    };
  }, [open]);
  const close = () => setOpen(false);
  return (
    <div className="menu-wrap" ref={ref}>
      <button
        className={`btn ${props.className ?? ''}${open ? ' active' : ''}`}
        title={props.title}
        disabled={props.disabled}
        aria-expanded={open}
        data-testid={props['data-testid']}
        onClick={() => {
          if (!open) props.onOpen?.();
          setOpen(!open);
        }}
      >
        {props.label}
        <span style={{ fontSize: 9, opacity: 0.7 }}>▼</span>
      </button>
      {open ? (
        <div className={`menu${props.align === 'right' ? ' right' : ''}`} role="menu">
          {props.children(close)}
        </div>
      ) : null}
    </div>
  );
}

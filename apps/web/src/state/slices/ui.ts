// The ui slice: the help and legend overlays, the toasts (transient messages; errors
// stay 12 s, the rest 5 s; at most TOAST_MAX at once), and the lock the lock view
// highlights on the timeline (issue 18 §3).

import type { Slice, SliceContext } from './context.ts';

export interface Toast {
  id: number;
  tone: 'error' | 'info';
  title: string;
  detail?: string;
}

export interface UiState {
  helpOpen: boolean;
  /** The legend of the timeline's marks (issue 19 §10). */
  legendOpen: boolean;
  toasts: readonly Toast[];
  /** The lock hovered in the lock view: the timeline draws its holds and waits on every lane. */
  highlightLock: number | null;
}

export interface UiActions {
  setHelpOpen(open: boolean): void;
  setLegendOpen(open: boolean): void;
  toast(t: Omit<Toast, 'id'>): void;
  dismissToast(id: number): void;
  setHighlightLock(lockId: number | null): void;
}

export interface UiInternal {
  toast(t: Omit<Toast, 'id'>): void;
}

const TOAST_MAX = 4;

export function createUiSlice(ctx: SliceContext): Slice<UiState, UiActions, UiInternal> {
  const { set, get, env } = ctx;
  let toastSeq = 0;
  const toast = (t: Omit<Toast, 'id'>): void => {
    const id = ++toastSeq;
    set((s) => ({ toasts: [...s.toasts, { ...t, id }].slice(-TOAST_MAX) }));
    env.timers.setTimeout(
      () => get().actions.dismissToast(id),
      t.tone === 'error' ? 12_000 : 5_000,
    );
  };
  return {
    state: { helpOpen: false, legendOpen: false, toasts: [], highlightLock: null },
    actions: {
      setHelpOpen: (open) => set({ helpOpen: open, ...(open ? { legendOpen: false } : {}) }),
      setLegendOpen: (open) => set({ legendOpen: open, ...(open ? { helpOpen: false } : {}) }),
      toast,
      dismissToast: (id) => set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) })),
      setHighlightLock: (lockId) => {
        if (get().highlightLock !== lockId) set({ highlightLock: lockId });
      },
    },
    internal: { toast },
  };
}

// The layout slice (issue 19 §7): the sizes of the resizable panels, in CSS
// px, or null for "sized to the window" (app/layout.ts computes those), and
// which tab the bottom-right panel shows. Sizes the user set are remembered
// (env.storage, localStorage by default) and restored on the next visit.

import type { Slice, SliceContext } from './context.ts';

export interface PanelSizes {
  /** Height of the bottom row (sessions, inspector, anomalies). */
  bottomH: number | null;
  /** Width of the side column (event details, port state). */
  sideW: number | null;
  /** Width of the sessions panel and of the inspector, in the bottom row. */
  sessionsW: number | null;
  inspectorW: number | null;
  /** Height of the event details panel, in the side column. */
  detailsH: number | null;
}

export type BottomTab = 'anomalies' | 'range' | 'locks';

export interface LayoutState {
  layout: PanelSizes;
  bottomTab: BottomTab;
}

export interface LayoutActions {
  setLayout(patch: Partial<PanelSizes>): void;
  /** Forget every size set by hand. */
  resetLayout(): void;
  setBottomTab(tab: BottomTab): void;
}

export const LAYOUT_KEY = 'iocpscope.layout.v1';
const KEYS: (keyof PanelSizes)[] = ['bottomH', 'sideW', 'sessionsW', 'inspectorW', 'detailsH'];

export const autoLayout = (): PanelSizes => ({
  bottomH: null,
  sideW: null,
  sessionsW: null,
  inspectorW: null,
  detailsH: null,
});

/** Sizes read back from storage: numbers in a sane range, anything else is "auto". */
export function parseLayout(text: string | null): PanelSizes {
  const out = autoLayout();
  if (!text) return out;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return out;
  }
  if (typeof v !== 'object' || v === null) return out;
  for (const k of KEYS) {
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'number' && Number.isFinite(x) && x >= 40 && x <= 10_000)
      out[k] = Math.round(x);
  }
  return out;
}

function defaultStorage(): Pick<Storage, 'getItem' | 'setItem'> | null {
  try {
    return typeof localStorage !== 'undefined' ? localStorage : null;
  } catch {
    // Storage can be denied (privacy settings): the layout is then not remembered.
    return null;
  }
}

export function createLayoutSlice(ctx: SliceContext): Slice<LayoutState, LayoutActions> {
  const { set, get, env } = ctx;
  const storage = env.options.storage === undefined ? defaultStorage() : env.options.storage;
  const read = (): string | null => {
    try {
      return storage?.getItem(LAYOUT_KEY) ?? null;
    } catch {
      return null;
    }
  };
  const save = (l: PanelSizes): void => {
    try {
      storage?.setItem(LAYOUT_KEY, JSON.stringify(l));
    } catch {
      // Quota or denied: the layout still applies to this page.
    }
  };
  return {
    state: { layout: parseLayout(read()), bottomTab: 'anomalies' },
    actions: {
      setLayout: (patch) => {
        const next = { ...get().layout };
        for (const k of KEYS) {
          if (!(k in patch)) continue;
          const x = patch[k];
          next[k] = x === null || x === undefined ? null : Math.round(x);
        }
        set({ layout: next });
        save(next);
      },
      resetLayout: () => {
        set({ layout: autoLayout() });
        save(autoLayout());
      },
      setBottomTab: (tab) => set({ bottomTab: tab }),
    },
    internal: {},
  };
}

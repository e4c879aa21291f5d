// Keyboard shortcuts: one table drives both the key handler and the help
// overlay, so they cannot disagree. Keys are matched on KeyboardEvent.key
// plus modifiers; shortcuts are ignored while typing in an input.

import type { AppActions, AppState } from '../state/store.ts';
import { SPEEDS, sessionOfEvent } from '../state/store.ts';
import { extentOf } from '../state/slices/remote.ts';
import { viewBounds } from '../lib/view.ts';

export interface Shortcut {
  /** Key captions for the help overlay, e.g. ['Shift', '→']. Alternatives are separate entries. */
  keys: string[][];
  label: string;
  group: 'Step' | 'Play' | 'View' | 'Live' | 'General';
  match(e: KeyboardLike): boolean;
  run(a: AppActions, s: AppState, ui: ShortcutUi, e: KeyboardLike): void;
}

export interface KeyboardLike {
  key: string;
  shiftKey: boolean;
  altKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
}

/** What the shortcuts need from the shell beyond the store. */
export interface ShortcutUi {
  openFileDialog(): void;
  /** Put the keyboard in the search box. */
  focusSearch(): void;
}

const plain = (e: KeyboardLike): boolean => !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey;
const only = (e: KeyboardLike, mod: 'shiftKey' | 'altKey'): boolean =>
  e[mod] && !e.ctrlKey && !e.metaKey && (mod === 'shiftKey' ? !e.altKey : !e.shiftKey);

export const SHORTCUTS: Shortcut[] = [
  {
    keys: [['→']],
    label: 'Next event',
    group: 'Step',
    match: (e) => e.key === 'ArrowRight' && plain(e),
    run: (a) => a.step('event', 1),
  },
  {
    keys: [['←']],
    label: 'Previous event',
    group: 'Step',
    match: (e) => e.key === 'ArrowLeft' && plain(e),
    run: (a) => a.step('event', -1),
  },
  {
    keys: [['Shift', '→']],
    label: 'Next event on this thread',
    group: 'Step',
    match: (e) => e.key === 'ArrowRight' && only(e, 'shiftKey'),
    run: (a) => a.step('thread', 1),
  },
  {
    keys: [['Shift', '←']],
    label: 'Previous event on this thread',
    group: 'Step',
    match: (e) => e.key === 'ArrowLeft' && only(e, 'shiftKey'),
    run: (a) => a.step('thread', -1),
  },
  {
    keys: [['Alt', '→'], ['.']],
    label: 'Next event for this session',
    group: 'Step',
    match: (e) => (e.key === 'ArrowRight' && only(e, 'altKey')) || (e.key === '.' && plain(e)),
    run: (a) => a.step('session', 1),
  },
  {
    keys: [['Alt', '←'], [',']],
    label: 'Previous event for this session',
    group: 'Step',
    match: (e) => (e.key === 'ArrowLeft' && only(e, 'altKey')) || (e.key === ',' && plain(e)),
    run: (a) => a.step('session', -1),
  },
  {
    keys: [[']']],
    label: 'Next anomaly',
    group: 'Step',
    match: (e) => e.key === ']' && !e.ctrlKey && !e.metaKey,
    run: (a) => a.step('anomaly', 1),
  },
  {
    keys: [['[']],
    label: 'Previous anomaly',
    group: 'Step',
    match: (e) => e.key === '[' && !e.ctrlKey && !e.metaKey,
    run: (a) => a.step('anomaly', -1),
  },
  {
    keys: [['PgDn'], ['PgUp']],
    label: '100 events forward / back',
    group: 'Step',
    match: (e) => (e.key === 'PageDown' || e.key === 'PageUp') && plain(e),
    run: (a, _s, _ui, e) => a.stepBy(e.key === 'PageDown' ? 100 : -100),
  },
  {
    keys: [['Home'], ['End']],
    label: 'First / last event',
    group: 'Step',
    match: (e) => (e.key === 'Home' || e.key === 'End') && plain(e),
    run: (a, _s, _ui, e) => (e.key === 'Home' ? a.jumpToStart() : a.jumpToEnd()),
  },
  {
    keys: [['P']],
    label: 'Play / pause playback',
    group: 'Play',
    match: (e) => (e.key === 'p' || e.key === 'P') && !e.ctrlKey && !e.metaKey && !e.altKey,
    run: (a) => a.togglePlay(),
  },
  {
    keys: [['+'], ['-']],
    label: 'Faster / slower playback',
    group: 'Play',
    match: (e) => (e.key === '+' || e.key === '=' || e.key === '-') && !e.ctrlKey && !e.metaKey,
    run: (a, s, _ui, e) => a.setSpeed(nextSpeed(s.speed, e.key === '-' ? -1 : 1)),
  },
  {
    keys: [['Space']],
    label: 'Pause / follow live (play / pause in a recording)',
    group: 'Live',
    match: (e) => e.key === ' ' && plain(e),
    run: (a, s) => (s.source.kind === 'live' ? a.togglePause() : a.togglePlay()),
  },
  {
    keys: [['L']],
    label: 'Follow the newest events',
    group: 'Live',
    match: (e) => (e.key === 'l' || e.key === 'L') && !e.ctrlKey && !e.metaKey && !e.altKey,
    run: (a) => a.setPaused(false),
  },
  {
    keys: [['F']],
    label: 'Zoom to the whole trace',
    group: 'View',
    match: (e) => (e.key === 'f' || e.key === 'F') && !e.ctrlKey && !e.metaKey && !e.altKey,
    run: (a, s) => {
      const ext = extentOf(s);
      if (ext === null) return;
      const v = viewBounds(ext.startNs, ext.endNs);
      a.setView(v.startNs, v.endNs);
    },
  },
  {
    keys: [['C']],
    label: 'Center the view on the cursor',
    group: 'View',
    match: (e) => (e.key === 'c' || e.key === 'C') && !e.ctrlKey && !e.metaKey && !e.altKey,
    run: (a, s) => {
      if (!s.trace || s.cursor < 0) return;
      const t = s.trace.timeAt(s.cursor);
      const w = s.viewEndNs - s.viewStartNs;
      a.setView(t - w / 2, t + w / 2);
    },
  },
  {
    keys: [['Z']],
    label: 'Frame the finding at the cursor: its evidence, again its context',
    group: 'View',
    match: (e) => (e.key === 'z' || e.key === 'Z') && !e.ctrlKey && !e.metaKey && !e.altKey,
    run: (a) => a.toggleFindingFrame(),
  },
  {
    keys: [['Shift', 'drag'], ['R']],
    label: 'Select a time range (R: plain drags select until pressed again)',
    group: 'View',
    match: (e) => (e.key === 'r' || e.key === 'R') && !e.ctrlKey && !e.metaKey && !e.altKey,
    run: (a, s) => a.setRangeMode(!s.rangeMode),
  },
  {
    keys: [['T']],
    label: "Pin the selected session's IOCount track (again: unpin)",
    group: 'View',
    match: (e) => (e.key === 't' || e.key === 'T') && !e.ctrlKey && !e.metaKey && !e.altKey,
    run: (a, s) => {
      if (s.selectedSession !== null) a.togglePin(s.selectedSession);
    },
  },
  {
    keys: [['/']],
    label: 'Search events (Enter next, Shift+Enter previous)',
    group: 'General',
    match: (e) => e.key === '/' && !e.ctrlKey && !e.metaKey && !e.altKey,
    run: (_a, _s, ui) => ui.focusSearch(),
  },
  {
    keys: [['S']],
    label: "Select the cursor event's session",
    group: 'View',
    match: (e) => (e.key === 's' || e.key === 'S') && !e.ctrlKey && !e.metaKey && !e.altKey,
    run: (a, s) => {
      if (!s.trace) return;
      const id = sessionOfEvent(s.trace, s.cursor);
      if (id !== null) a.selectSession(id);
    },
  },
  {
    keys: [['Esc']],
    label: 'Close this help or the legend; else clear the range, then the selection',
    group: 'General',
    match: (e) => e.key === 'Escape',
    run: (a, s) => {
      if (s.helpOpen) a.setHelpOpen(false);
      else if (s.legendOpen) a.setLegendOpen(false);
      else if (s.rangeMode) a.setRangeMode(false);
      else if (s.range) a.setRange(null);
      else a.selectSession(null);
    },
  },
  {
    keys: [['Ctrl', 'O']],
    label: 'Open a recording file',
    group: 'General',
    match: (e) => (e.key === 'o' || e.key === 'O') && (e.ctrlKey || e.metaKey) && !e.altKey,
    run: (_a, _s, ui) => ui.openFileDialog(),
  },
  {
    keys: [['?']],
    label: 'Show / hide this help',
    group: 'General',
    match: (e) => e.key === '?',
    run: (a, s) => a.setHelpOpen(!s.helpOpen),
  },
];

export function nextSpeed(current: number, dir: 1 | -1): number {
  const i = SPEEDS.findIndex((s) => s >= current);
  const at = i < 0 ? SPEEDS.length - 1 : i;
  const j = Math.max(0, Math.min(SPEEDS.length - 1, at + dir));
  return SPEEDS[j]!;
}

/**
 * Run the shortcut for `e`, if any. Returns true when one ran (the caller then
 * prevents the browser's default).
 */
export function handleShortcut(e: KeyboardLike, s: AppState, ui: ShortcutUi): boolean {
  for (const sc of SHORTCUTS) {
    if (!sc.match(e)) continue;
    sc.run(s.actions, s, ui, e);
    return true;
  }
  return false;
}

/** True when the key press belongs to a text field, not to the app. */
export function isTypingTarget(t: EventTarget | null): boolean {
  if (!t || typeof (t as HTMLElement).tagName !== 'string') return false;
  const el = t as HTMLElement;
  const tag = el.tagName;
  if (tag === 'TEXTAREA' || el.isContentEditable) return true;
  if (tag === 'SELECT') return true;
  if (tag === 'INPUT') {
    const type = (el as HTMLInputElement).type;
    return type !== 'range' && type !== 'checkbox' && type !== 'button';
  }
  return false;
}

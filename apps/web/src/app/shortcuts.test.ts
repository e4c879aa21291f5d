import { describe, expect, it } from 'vitest';
import {
  handleShortcut,
  isTypingTarget,
  nextSpeed,
  SHORTCUTS,
  type KeyboardLike,
} from './shortcuts.ts';
import type { AppActions, AppState } from '../state/store.ts';

function fakeState(over: Partial<AppState> = {}) {
  const calls: string[] = [];
  const actions = new Proxy({} as AppActions, {
    get:
      (_t, name: string) =>
      (...args: unknown[]) => {
        calls.push(
          `${name}(${args.map((x) => (typeof x === 'bigint' ? `${x}n` : JSON.stringify(x))).join(',')})`,
        );
      },
  });
  const s = {
    actions,
    speed: 10,
    helpOpen: false,
    source: { kind: 'file' },
    trace: null,
    cursor: 0,
    ...over,
  } as unknown as AppState;
  return { s, calls };
}

const UI = { openFileDialog: () => undefined, focusSearch: () => undefined };

const key = (k: string, mods: Partial<KeyboardLike> = {}): KeyboardLike => ({
  key: k,
  shiftKey: false,
  altKey: false,
  ctrlKey: false,
  metaKey: false,
  ...mods,
});

describe('keyboard shortcuts', () => {
  it('map every stepping key to its step', () => {
    const cases: Array<[KeyboardLike, string]> = [
      [key('ArrowRight'), 'step("event",1)'],
      [key('ArrowLeft'), 'step("event",-1)'],
      [key('ArrowRight', { shiftKey: true }), 'step("thread",1)'],
      [key('ArrowLeft', { shiftKey: true }), 'step("thread",-1)'],
      [key('ArrowRight', { altKey: true }), 'step("session",1)'],
      [key('.'), 'step("session",1)'],
      [key(','), 'step("session",-1)'],
      [key(']'), 'step("anomaly",1)'],
      [key('['), 'step("anomaly",-1)'],
      [key('PageDown'), 'stepBy(100)'],
      [key('PageUp'), 'stepBy(-100)'],
      [key('Home'), 'jumpToStart()'],
      [key('End'), 'jumpToEnd()'],
      [key('p'), 'togglePlay()'],
      [key('+'), 'setSpeed(25)'],
      [key('-'), 'setSpeed(5)'],
      [key('?'), 'setHelpOpen(true)'],
      [key('z'), 'toggleFindingFrame()'],
      [key('r'), 'setRangeMode(true)'],
    ];
    for (const [e, want] of cases) {
      const { s, calls } = fakeState();
      expect(handleShortcut(e, s, { ...UI, openFileDialog: () => calls.push('dialog') })).toBe(
        true,
      );
      expect(calls).toEqual([want]);
    }
  });

  it('make Space pause the live view but play a recording', () => {
    const live = fakeState({ source: { kind: 'live', url: 'ws://x' } });
    handleShortcut(key(' '), live.s, UI);
    expect(live.calls).toEqual(['togglePause()']);
    const file = fakeState();
    handleShortcut(key(' '), file.s, UI);
    expect(file.calls).toEqual(['togglePlay()']);
  });

  it('leave unknown keys and modified browser keys alone', () => {
    const { s, calls } = fakeState();
    expect(handleShortcut(key('q'), s, UI)).toBe(false);
    expect(handleShortcut(key('ArrowRight', { ctrlKey: true }), s, UI)).toBe(false);
    expect(calls).toEqual([]);
  });

  it('open the file dialog on Ctrl+O', () => {
    const { s, calls } = fakeState();
    handleShortcut(key('o', { ctrlKey: true }), s, {
      ...UI,
      openFileDialog: () => calls.push('dialog'),
    });
    expect(calls).toEqual(['dialog']);
  });

  it('focus the search box on /, and pin the selected session with T', () => {
    const { s, calls } = fakeState({ selectedSession: 0x10001n });
    handleShortcut(key('/'), s, { ...UI, focusSearch: () => calls.push('search') });
    handleShortcut(key('t'), s, UI);
    expect(calls).toEqual(['search', 'togglePin(65537n)']);
  });

  it('make Esc close an overlay first, then clear range mode, the range, then the session', () => {
    const order: Array<[Partial<AppState>, string]> = [
      [{ helpOpen: true }, 'setHelpOpen(false)'],
      [{ legendOpen: true }, 'setLegendOpen(false)'],
      [{ rangeMode: true }, 'setRangeMode(false)'],
      [{ range: { startNs: 0, endNs: 1, tids: null } }, 'setRange(null)'],
      [{}, 'selectSession(null)'],
    ];
    for (const [over, want] of order) {
      const { s, calls } = fakeState(over);
      handleShortcut(key('Escape'), s, UI);
      expect(calls).toEqual([want]);
    }
  });

  it('have a caption and a label for every entry of the help overlay', () => {
    for (const sc of SHORTCUTS) {
      expect(sc.keys.length).toBeGreaterThan(0);
      expect(sc.label.length).toBeGreaterThan(3);
    }
  });

  it('step the playback speed through the presets and clamp at both ends', () => {
    expect(nextSpeed(10, 1)).toBe(25);
    expect(nextSpeed(1, -1)).toBe(1);
    expect(nextSpeed(1000, 1)).toBe(1000);
    expect(nextSpeed(7, 1)).toBe(25);
  });

  it('treat text inputs as typing targets but not sliders', () => {
    const text = document.createElement('input');
    const range = document.createElement('input');
    range.type = 'range';
    expect(isTypingTarget(text)).toBe(true);
    expect(isTypingTarget(range)).toBe(false);
    expect(isTypingTarget(document.body)).toBe(false);
  });
});

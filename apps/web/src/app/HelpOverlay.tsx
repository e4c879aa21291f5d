// The '?' overlay: every keyboard shortcut, from the same table the key
// handler uses.

import { useActions, useAppStore } from '../state/hooks.tsx';
import { selectHelpOpen } from '../state/selectors.ts';
import { SHORTCUTS, type Shortcut } from './shortcuts.ts';

const GROUPS: Shortcut['group'][] = ['Step', 'Play', 'Live', 'View', 'General'];

export function HelpOverlay() {
  const open = useAppStore(selectHelpOpen);
  const { setHelpOpen, setLegendOpen } = useActions();
  if (!open) return null;
  return (
    <div className="overlay" onClick={() => setHelpOpen(false)} data-testid="help-overlay">
      <div
        className="dialog"
        role="dialog"
        aria-label="Keyboard shortcuts"
        onClick={(e) => e.stopPropagation()}
      >
        <div style={{ display: 'flex', alignItems: 'center', marginBottom: 8 }}>
          <h2 style={{ margin: 0 }}>Keyboard shortcuts</h2>
          <div style={{ flex: 1 }} />
          <button className="icon-btn" onClick={() => setHelpOpen(false)} aria-label="Close">
            ✕
          </button>
        </div>
        <div className="shortcut-cols">
          {GROUPS.map((g) => (
            <div key={g}>
              <div className="subhead">{g}</div>
              {SHORTCUTS.filter((s) => s.group === g).map((s) => (
                <div className="shortcut" key={s.label}>
                  <span>{s.label}</span>
                  <span className="keys">
                    {s.keys.map((combo, k) => (
                      <span
                        key={k}
                        style={{ display: 'inline-flex', gap: 3, alignItems: 'center' }}
                      >
                        {k > 0 ? (
                          <span style={{ color: 'var(--text-faint)', margin: '0 2px' }}>or</span>
                        ) : null}
                        {combo.map((key) => (
                          <kbd key={key}>{key}</kbd>
                        ))}
                      </span>
                    ))}
                  </span>
                </div>
              ))}
            </div>
          ))}
        </div>
        <p style={{ color: 'var(--text-muted)', marginTop: 14, marginBottom: 0 }}>
          On the timeline: wheel to zoom (around the pointer), drag to pan (live: that pauses),
          click an event to put the cursor on it (empty space leaves it be), Shift+drag to select a
          time range and get its numbers. Click the overview strip to jump. Drag the bars between
          panels to resize them; double-click one for its automatic size.{' '}
          <button className="link-chip" onClick={() => setLegendOpen(true)}>
            What do the marks mean?
          </button>
        </p>
      </div>
    </div>
  );
}

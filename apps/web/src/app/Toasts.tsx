import { useActions, useAppStore } from '../state/hooks.tsx';
import { selectToasts } from '../state/selectors.ts';

export function Toasts() {
  const toasts = useAppStore(selectToasts);
  const { dismissToast } = useActions();
  if (toasts.length === 0) return null;
  return (
    <div className="toasts" aria-live="polite">
      {toasts.map((t) => (
        <div
          key={t.id}
          className={`toast ${t.tone}`}
          role={t.tone === 'error' ? 'alert' : 'status'}
          data-testid="toast"
        >
          <span className="t">{t.title}</span>
          <button
            className="icon-btn"
            style={{ width: 20, height: 20 }}
            onClick={() => dismissToast(t.id)}
            aria-label="Dismiss"
          >
            ✕
          </button>
          {t.detail ? <span className="d">{t.detail}</span> : null}
        </div>
      ))}
    </div>
  );
}

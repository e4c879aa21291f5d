// Never a blank page: a render error anywhere below shows what happened and a
// way back (reset the part that failed, or reload), instead of unmounting the
// whole app.

import { Component, type ErrorInfo, type ReactNode } from 'react';

interface Props {
  children: ReactNode;
  /** Short name of the area, shown in the message ("the timeline"). */
  area: string;
  /** Render a compact in-place message instead of the full-page one. */
  compact?: boolean;
  onReset?: () => void;
}

interface State {
  error: Error | null;
}

export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    // Keep the stack in the console for bug reports; the UI shows the message.
    console.error(`iocpscope: ${this.props.area} failed`, error, info.componentStack);
  }

  private reset = (): void => {
    this.props.onReset?.();
    this.setState({ error: null });
  };

  override render(): ReactNode {
    const e = this.state.error;
    if (!e) return this.props.children;
    const body = (
      <div className="dialog" role="alert" data-testid="error-boundary">
        <h2>Something went wrong in {this.props.area}</h2>
        <p style={{ color: 'var(--text-muted)' }}>
          The rest of the app still works. You can try again, or reload the page.
        </p>
        <pre>{`${e.name}: ${e.message}`}</pre>
        <div style={{ display: 'flex', gap: 8 }}>
          <button className="btn primary" onClick={this.reset}>
            Try again
          </button>
          <button className="btn" onClick={() => location.reload()}>
            Reload
          </button>
        </div>
      </div>
    );
    return this.props.compact ? (
      <div className="fatal" style={{ height: '100%' }}>
        {body}
      </div>
    ) : (
      <div className="fatal">{body}</div>
    );
  }
}

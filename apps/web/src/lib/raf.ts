// One requestAnimationFrame scheduler per canvas host (Perfetto's RafScheduler):
// any number of redraw requests between two frames coalesce into one frame, and
// every registered callback runs once in it, in registration order. The frame
// source is injectable so tests drive frames by hand.

export interface FrameSource {
  request(cb: (nowMs: number) => void): number;
  cancel(handle: number): void;
}

export type FrameCallback = (nowMs: number) => void;

export const browserFrameSource = (): FrameSource => ({
  request: (cb) => requestAnimationFrame(cb),
  cancel: (h) => cancelAnimationFrame(h),
});

export class RafScheduler {
  private readonly callbacks: FrameCallback[] = [];
  private handle = 0;
  private pending = false;
  private disposed = false;
  private readonly source: FrameSource;
  private readonly runFrame = (nowMs: number): void => {
    this.pending = false;
    // Copy so a callback that unregisters itself does not skip its neighbour.
    const cbs = this.callbacks.slice();
    for (let i = 0; i < cbs.length; i++) cbs[i]!(nowMs);
  };

  constructor(source: FrameSource = browserFrameSource()) {
    this.source = source;
  }

  /** Run `cb` in every frame this scheduler produces; returns the unregister function. */
  add(cb: FrameCallback): () => void {
    this.callbacks.push(cb);
    return () => {
      const i = this.callbacks.indexOf(cb);
      if (i >= 0) this.callbacks.splice(i, 1);
    };
  }

  /** Ask for a frame. Cheap to call many times per frame; only one is requested. */
  schedule(): void {
    if (this.pending || this.disposed) return;
    this.pending = true;
    this.handle = this.source.request(this.runFrame);
  }

  get isScheduled(): boolean {
    return this.pending;
  }

  dispose(): void {
    this.disposed = true;
    if (this.pending) this.source.cancel(this.handle);
    this.pending = false;
    this.callbacks.length = 0;
  }
}

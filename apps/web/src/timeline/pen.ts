// A 2D context wrapper that sets canvas state only when it changes (uPlot):
// assigning fillStyle or font re-parses the value even when it is the same,
// which adds up over thousands of calls per frame. Call `invalidate()` after
// anything that resets state behind its back (restore(), resizing the canvas).

export class Pen {
  readonly ctx: CanvasRenderingContext2D;
  private fill = '';
  private stroke = '';
  private lw = -1;
  private fnt = '';
  private align = '';
  private baseline = '';
  private alpha = -1;
  private dash = '';

  constructor(ctx: CanvasRenderingContext2D) {
    this.ctx = ctx;
  }

  invalidate(): void {
    this.fill = '';
    this.stroke = '';
    this.lw = -1;
    this.fnt = '';
    this.align = '';
    this.baseline = '';
    this.alpha = -1;
    this.dash = '';
  }

  fillStyle(c: string): void {
    if (c !== this.fill) {
      this.ctx.fillStyle = c;
      this.fill = c;
    }
  }

  strokeStyle(c: string): void {
    if (c !== this.stroke) {
      this.ctx.strokeStyle = c;
      this.stroke = c;
    }
  }

  lineWidth(w: number): void {
    if (w !== this.lw) {
      this.ctx.lineWidth = w;
      this.lw = w;
    }
  }

  font(f: string): void {
    if (f !== this.fnt) {
      this.ctx.font = f;
      this.fnt = f;
    }
  }

  textAlign(a: CanvasTextAlign): void {
    if (a !== this.align) {
      this.ctx.textAlign = a;
      this.align = a;
    }
  }

  textBaseline(b: CanvasTextBaseline): void {
    if (b !== this.baseline) {
      this.ctx.textBaseline = b;
      this.baseline = b;
    }
  }

  globalAlpha(a: number): void {
    if (a !== this.alpha) {
      this.ctx.globalAlpha = a;
      this.alpha = a;
    }
  }

  /** Dash pattern as a key: '' (solid) or e.g. '4,3'. */
  lineDash(key: string): void {
    if (key !== this.dash) {
      this.ctx.setLineDash(key === '' ? [] : key.split(',').map(Number));
      this.dash = key;
    }
  }
}

// The raster layer: the dense parts of the timeline (state bars, mark ticks,
// counter areas) are written straight into a Uint32Array over an ImageData
// at device resolution and put on the canvas in one call. Thousands of
// per-column spans then cost array stores instead of fillRect calls, which is
// what keeps a zoomed-out 1 M-event view inside a frame in software rendering.
//
// Bands: the timeline does not hold a bitmap of its whole plot area (1-2 MB
// at 1600 px). It draws one horizontal band at a time (a counter track, a
// lane) into a buffer as tall as the tallest band, and puts each band on the
// canvas when done. Coordinates stay those of the whole raster: `band(y0, y1)`
// selects rows [y0, y1), writes outside them are clipped, and the hatch
// pattern depends on the absolute row, so the pixels are the same as with
// one full-height bitmap.

export class Raster {
  width = 0;
  /** Rows of the current band (of the whole bitmap after resize). */
  height = 0;
  /** Absolute row of the band's first row. */
  originY = 0;
  pix: Uint32Array = new Uint32Array(0);
  /** Rows the buffer holds (>= height). */
  private capRows = 0;
  private bytes: Uint8ClampedArray<ArrayBuffer> = new Uint8ClampedArray(0);
  private image: ImageData | null = null;

  private ensure(w: number, rows: number): void {
    if (w === this.width && rows <= this.capRows) return;
    this.width = w;
    this.capRows = rows;
    const buf = new ArrayBuffer(w * rows * 4);
    this.bytes = new Uint8ClampedArray(buf);
    this.pix = new Uint32Array(buf);
    this.image = null;
  }

  /** Resize to one band of exactly width x height (device px) at row 0; contents undefined. */
  resize(width: number, height: number): void {
    const w = Math.max(1, Math.floor(width));
    const h = Math.max(1, Math.floor(height));
    if (w !== this.width || h !== this.capRows) {
      this.width = 0;
      this.ensure(w, h);
    }
    this.height = h;
    this.originY = 0;
  }

  /**
   * Start a band over absolute rows [y0, y1) of a bitmap `width` px wide,
   * filled with `color`. The buffer only grows (to the tallest band seen).
   */
  band(width: number, y0: number, y1: number, color: number): void {
    const w = Math.max(1, Math.floor(width));
    const rows = Math.max(1, Math.floor(y1) - Math.floor(y0));
    this.ensure(w, rows);
    this.height = rows;
    this.originY = Math.floor(y0);
    this.pix.fill(color, 0, w * rows);
  }

  clear(color: number): void {
    this.pix.fill(color, 0, this.width * this.height);
  }

  /** Fill [x0, x1) x [y0, y1), clipped to the band. */
  fillRect(x0: number, y0: number, x1: number, y1: number, color: number): void {
    const w = this.width;
    y0 -= this.originY;
    y1 -= this.originY;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > w) x1 = w;
    if (y1 > this.height) y1 = this.height;
    for (let y = y0; y < y1; y++) this.pix.fill(color, y * w + x0, y * w + x1);
  }

  /** Fill one column x over [y0, y1), clipped to the band. */
  fillColumn(x: number, y0: number, y1: number, color: number): void {
    if (x < 0 || x >= this.width) return;
    y0 -= this.originY;
    y1 -= this.originY;
    if (y0 < 0) y0 = 0;
    if (y1 > this.height) y1 = this.height;
    const w = this.width;
    const p = this.pix;
    for (let i = y0 * w + x, end = y1 * w + x; i < end; i += w) p[i] = color;
  }

  /** Column x over [y0, y1) in diagonal stripes of a and b (the "blocked" hatch). */
  hatchColumn(x: number, y0: number, y1: number, a: number, b: number): void {
    if (x < 0 || x >= this.width) return;
    const oy = this.originY;
    y0 -= oy;
    y1 -= oy;
    if (y0 < 0) y0 = 0;
    if (y1 > this.height) y1 = this.height;
    const w = this.width;
    const p = this.pix;
    for (let y = y0; y < y1; y++) p[y * w + x] = ((x + y + oy) & 7) < 3 ? b : a;
  }

  /** The buffer as ImageData (shares the buffer; created once per size; may be taller than the band). */
  imageData(): ImageData {
    if (!this.image) this.image = new ImageData(this.bytes, this.width, this.capRows);
    return this.image;
  }

  /** Put the current band on the canvas, the whole bitmap's top-left corner at (x, y) device px. */
  put(ctx: CanvasRenderingContext2D, x: number, y: number): void {
    ctx.putImageData(this.imageData(), x, y + this.originY, 0, 0, this.width, this.height);
  }
}

// The raster layer: the dense parts of the timeline (state bars, mark ticks,
// counter areas) are written straight into a Uint32Array over an ImageData
// at device resolution and put on the canvas in one call. Thousands of
// per-column spans then cost array stores instead of fillRect calls, which is
// what keeps a zoomed-out 1 M-event view inside a frame in software rendering.

export class Raster {
  width = 0;
  height = 0;
  pix: Uint32Array = new Uint32Array(0);
  private bytes: Uint8ClampedArray<ArrayBuffer> = new Uint8ClampedArray(0);
  private image: ImageData | null = null;

  /** Resize (device px); contents are undefined afterwards. */
  resize(width: number, height: number): void {
    const w = Math.max(1, Math.floor(width));
    const h = Math.max(1, Math.floor(height));
    if (w === this.width && h === this.height) return;
    this.width = w;
    this.height = h;
    const buf = new ArrayBuffer(w * h * 4);
    this.bytes = new Uint8ClampedArray(buf);
    this.pix = new Uint32Array(buf);
    this.image = null;
  }

  clear(color: number): void {
    this.pix.fill(color);
  }

  /** Fill [x0, x1) x [y0, y1), clipped. */
  fillRect(x0: number, y0: number, x1: number, y1: number, color: number): void {
    const w = this.width;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > w) x1 = w;
    if (y1 > this.height) y1 = this.height;
    for (let y = y0; y < y1; y++) this.pix.fill(color, y * w + x0, y * w + x1);
  }

  /** Fill one column x over [y0, y1), clipped. */
  fillColumn(x: number, y0: number, y1: number, color: number): void {
    if (x < 0 || x >= this.width) return;
    if (y0 < 0) y0 = 0;
    if (y1 > this.height) y1 = this.height;
    const w = this.width;
    const p = this.pix;
    for (let i = y0 * w + x, end = y1 * w + x; i < end; i += w) p[i] = color;
  }

  /** Column x over [y0, y1) in diagonal stripes of a and b (the "blocked" hatch). */
  hatchColumn(x: number, y0: number, y1: number, a: number, b: number): void {
    if (x < 0 || x >= this.width) return;
    if (y0 < 0) y0 = 0;
    if (y1 > this.height) y1 = this.height;
    const w = this.width;
    const p = this.pix;
    for (let y = y0; y < y1; y++) p[y * w + x] = ((x + y) & 7) < 3 ? b : a;
  }

  /** The pixels as ImageData (shares the buffer; created once per size). */
  imageData(): ImageData {
    if (!this.image) this.image = new ImageData(this.bytes, this.width, this.height);
    return this.image;
  }
}

import { describe, expect, it } from 'vitest';
import { MIN, resolveLayout, SPLIT_PX } from './layout.ts';

const AUTO = { bottomH: null, sideW: null, sessionsW: null, inspectorW: null, detailsH: null };

describe('panel layout', () => {
  it('gives the inspector and the event details room at 1280×720', () => {
    const l = resolveLayout(1280, 720, AUTO, { lanes: 4, tracks: 1 });
    expect(l.inspectorW).toBeGreaterThanOrEqual(340);
    expect(l.sideW).toBeGreaterThanOrEqual(280);
    expect(l.inspectorW).toBeGreaterThanOrEqual(440);
    expect(l.detailsH).toBeGreaterThanOrEqual(280);
    // The three bottom panels and the side column fill the width exactly.
    const lastW = 1280 - l.sideW - SPLIT_PX - l.sessionsW - l.inspectorW - 2 * SPLIT_PX;
    expect(lastW).toBeGreaterThanOrEqual(MIN.lastW);
    expect(720 - 84 - SPLIT_PX - l.bottomH).toBeGreaterThanOrEqual(MIN.timelineH);
  });

  it("gives a short trace's spare timeline height to the bottom row at 1600×1000", () => {
    const l = resolveLayout(1600, 1000, AUTO, { lanes: 4, tracks: 1 });
    // 4 lanes and a track need ~350 px: the ledger gets the rest, not 9 rows.
    expect(l.bottomH).toBeGreaterThan(480);
    const many = resolveLayout(1600, 1000, AUTO, { lanes: 16, tracks: 2 });
    expect(many.bottomH).toBe(300);
  });

  it('keeps what the user set, within what leaves every panel usable', () => {
    const l = resolveLayout(
      1600,
      1000,
      { ...AUTO, bottomH: 400, sideW: 500, inspectorW: 520 },
      {
        lanes: 4,
        tracks: 0,
      },
    );
    expect(l).toMatchObject({ bottomH: 400, sideW: 500, inspectorW: 520 });
    const squeezed = resolveLayout(
      1280,
      720,
      { ...AUTO, bottomH: 5000, sessionsW: 5000 },
      {
        lanes: 4,
        tracks: 0,
      },
    );
    expect(720 - 84 - SPLIT_PX - squeezed.bottomH).toBe(MIN.timelineH);
    expect(squeezed.inspectorW).toBeGreaterThanOrEqual(MIN.inspectorW);
  });
});

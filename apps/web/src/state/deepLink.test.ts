import { describe, expect, it } from 'vitest';
import { linkSearch, parseLink } from './deepLink.ts';

describe('deep links', () => {
  it('carries a recording, the cursor, the view and the session, and reads them back', () => {
    const q = linkSearch({
      source: { kind: 'recording', id: 'example.iocount-double-decrement' },
      cursor: 48,
      viewStartNs: 676_000_000.4,
      viewEndNs: 677_900_000.6,
      selectedSession: 0x10001n,
    });
    expect(q).toBe(
      '?recording=example.iocount-double-decrement&cursor=48&from=676000000&to=677900001&session=0x10001',
    );
    expect(parseLink(q!)).toEqual({
      recording: 'example.iocount-double-decrement',
      live: false,
      cursor: 48,
      view: { startNs: 676_000_000, endNs: 677_900_001 },
      session: 0x10001n,
    });
  });

  it('carries only the session for the live stream, and nothing for a local file', () => {
    const base = {
      cursor: 5,
      viewStartNs: -10,
      viewEndNs: 10,
      selectedSession: 0xffff_ffff_ffff_ffffn,
    };
    expect(linkSearch({ ...base, source: { kind: 'live' } })).toBe(
      '?live=1&session=0xffffffffffffffff',
    );
    expect(parseLink('?live=1&session=0xffffffffffffffff')).toMatchObject({
      live: true,
      recording: null,
      session: 0xffff_ffff_ffff_ffffn,
    });
    expect(linkSearch({ ...base, source: { kind: 'file' } })).toBeNull();
    expect(linkSearch({ ...base, source: { kind: 'none' } })).toBeNull();
  });

  it('keeps the page token and a negative view start', () => {
    const q = linkSearch(
      {
        source: { kind: 'recording', id: 'r1' },
        cursor: -1,
        viewStartNs: -2_728_477.9,
        viewEndNs: 280_870_514.6,
        selectedSession: null,
      },
      '?recording=old&token=s3cret',
    );
    expect(q).toBe('?recording=r1&from=-2728478&to=280870515&token=s3cret');
    expect(parseLink(q!).view).toEqual({ startNs: -2_728_478, endNs: 280_870_515 });
    expect(parseLink(q!).cursor).toBeNull();
  });

  it('leaves out whatever is malformed instead of failing', () => {
    expect(parseLink('?recording=../etc&cursor=-3&from=9&to=2&session=0xzz&live=0')).toEqual({
      recording: null,
      live: false,
      cursor: null,
      view: null,
      session: null,
    });
    expect(parseLink('?live=no').live).toBe(false);
    expect(parseLink('').live).toBe(false);
    expect(parseLink('?session=0x0').session).toBeNull();
  });
});

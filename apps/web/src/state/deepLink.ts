// Deep links (issue 19 §5; Pernosco's "the focus is a query parameter"): the
// page URL carries what is open and where the user looks, so a link restores
// that view.
//
//   ?recording=ID&cursor=I&from=NS&to=NS&session=0xHEX   a server recording
//   ?live=1&session=0xHEX                                 the live stream
//
// A live link carries the selected session only: the live stream's events are
// numbered from when a dashboard joined, so a cursor or a window would point
// elsewhere for whoever opens it. A local file has no link (it is not on the
// server). `token` (the server's access token) is kept from the page URL.

/** What a link asks to open and focus. */
export interface LinkFocus {
  recording: string | null;
  live: boolean;
  cursor: number | null;
  view: { startNs: number; endNs: number } | null;
  session: bigint | null;
}

const ID = /^[A-Za-z0-9_.-]{1,128}$/;
const INT = /^-?\d{1,16}$/;
const HEX = /^0x[0-9a-fA-F]{1,16}$/;
const OFF = new Set(['0', 'off', 'false', 'no']);

/** Read a page's query string; anything malformed is left out (never thrown). */
export function parseLink(search: string): LinkFocus {
  const p = new URLSearchParams(search);
  const rec = p.get('recording');
  const recording = rec !== null && ID.test(rec) ? rec : null;
  const liveParam = p.get('live');
  const live = recording === null && liveParam !== null && !OFF.has(liveParam.trim().toLowerCase());
  const c = p.get('cursor');
  const cursor = c !== null && /^\d{1,10}$/.test(c) ? Number(c) : null;
  const from = p.get('from');
  const to = p.get('to');
  const view =
    from !== null && to !== null && INT.test(from) && INT.test(to) && Number(to) > Number(from)
      ? { startNs: Number(from), endNs: Number(to) }
      : null;
  const s = p.get('session');
  const session = s !== null && HEX.test(s) && BigInt(s) !== 0n ? BigInt(s) : null;
  return { recording, live, cursor, view, session };
}

/** What the store knows that a link can carry. */
export interface LinkState {
  source: { kind: 'none' | 'live' | 'file' | 'recording'; id?: string };
  cursor: number;
  viewStartNs: number;
  viewEndNs: number;
  selectedSession: bigint | null;
}

/**
 * The query string (with its `?`) that reopens this view, or null when the
 * source cannot be linked (a local file, nothing open). `pageSearch` is the
 * current page's query, whose `token` is kept.
 */
export function linkSearch(s: LinkState, pageSearch = ''): string | null {
  const p = new URLSearchParams();
  if (s.source.kind === 'recording' && s.source.id !== undefined) {
    p.set('recording', s.source.id);
    if (s.cursor >= 0) p.set('cursor', String(s.cursor));
    p.set('from', String(Math.floor(s.viewStartNs)));
    p.set('to', String(Math.ceil(s.viewEndNs)));
  } else if (s.source.kind === 'live') {
    p.set('live', '1');
  } else {
    return null;
  }
  if (s.selectedSession !== null) p.set('session', `0x${s.selectedSession.toString(16)}`);
  const token = new URLSearchParams(pageSearch).get('token');
  if (token !== null) p.set('token', token);
  return `?${p.toString()}`;
}
